//! Reading a history from text: format detection, per-line parsing (in parallel, in chunks,
//! so a million-op history never sits in memory twice), and tolerance of a truncated tail.

use crate::edn::event_from_edn;
use crate::history::Event;
use rayon::prelude::*;

use std::fmt;

/// The two history formats traitor reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HistoryFormat {
    /// traitor's own `history.jsonl`.
    Jsonl,
    /// Jepsen's `history.edn`, one map per line.
    Edn,
}

impl fmt::Display for HistoryFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Jsonl => "jsonl",
            Self::Edn => "edn",
        })
    }
}

/// A line that could not be read, named by its 1-based number.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {message}")]
pub struct ParseError {
    pub line: usize,
    pub message: String,
}

/// A whole history read from text, with what was skipped and why.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ParsedHistory {
    pub events: Vec<Event>,
    /// Lines that were not client events (Jepsen's nemesis), counted.
    pub skipped: usize,
    /// Things a person should know, such as a truncated last line that was dropped.
    pub warnings: Vec<String>,
}

/// Guesses the format from the first non-blank line: JSON objects open with `{"`, EDN maps
/// with `{:` or a tag `#`.
pub fn detect_format(text: &str) -> Option<HistoryFormat> {
    let line = text.lines().map(str::trim).find(|l| !l.is_empty())?;
    if line.starts_with('#') {
        return Some(HistoryFormat::Edn);
    }
    let rest = line.strip_prefix('{')?.trim_start();
    match rest.chars().next() {
        Some('"') | Some('}') => Some(HistoryFormat::Jsonl),
        Some(':') => Some(HistoryFormat::Edn),
        _ => None,
    }
}

/// The format of `text`, or an error saying what a history looks like.
pub fn require_format(text: &str) -> Result<HistoryFormat, ParseError> {
    detect_format(text).ok_or_else(|| ParseError {
        line: 1,
        message: "not a history: expected JSON lines ({\"type\":\"invoke\",...}) or Jepsen EDN maps ({:type :invoke ...})"
            .into(),
    })
}

/// History lines longer than this are refused: one event's value is small, and a parsed
/// line takes many times its length in memory (a one-line vector of 50 MB took 2.9 GB).
pub const MAX_LINE_BYTES: usize = 8 << 20;

/// Parses one line. `Ok(None)` for blank lines and non-client events.
pub fn parse_line(format: HistoryFormat, line: &str) -> Result<Option<Event>, String> {
    let line = line.trim();
    if line.is_empty() {
        return Ok(None);
    }
    if line.len() > MAX_LINE_BYTES {
        return Err(format!(
            "{} bytes on one line; a history event is at most {} MiB",
            line.len(),
            MAX_LINE_BYTES >> 20
        ));
    }
    match format {
        HistoryFormat::Jsonl => serde_json::from_str(line)
            .map(Some)
            .map_err(|e| e.to_string()),
        HistoryFormat::Edn => event_from_edn(line),
    }
}

/// Lines parsed per parallel batch: large enough to keep both cores busy, small enough that
/// the parsed events of one batch stay a few megabytes.
const CHUNK_LINES: usize = 65_536;

/// Parses `text` batch by batch, handing each batch of (line number, event) to `sink` in
/// order. Returns
/// the number of skipped lines and the warnings. A last line that fails to parse and has no
/// trailing newline is taken as a write cut short (a killed harness) and dropped with a
/// warning; any other bad line is an error naming its number.
pub fn parse_history_chunks<E: From<ParseError>>(
    text: &str,
    format: HistoryFormat,
    mut sink: impl FnMut(Vec<(usize, Event)>) -> Result<(), E>,
) -> Result<(usize, Vec<String>), E> {
    let lines: Vec<&str> = text.lines().collect();
    let unterminated_tail = !text.is_empty() && !text.ends_with('\n');
    let mut skipped = 0;
    let mut warnings = Vec::new();
    for (chunk_no, chunk) in lines.chunks(CHUNK_LINES).enumerate() {
        let first_line = chunk_no * CHUNK_LINES + 1;
        let parsed: Vec<Result<Option<Event>, String>> = chunk
            .par_iter()
            .map(|line| parse_line(format, line))
            .collect();
        let mut events = Vec::with_capacity(parsed.len());
        for (offset, result) in parsed.into_iter().enumerate() {
            let line = first_line + offset;
            match result {
                Ok(Some(event)) => events.push((line, event)),
                Ok(None) => skipped += usize::from(!chunk[offset].trim().is_empty()),
                Err(message) => warnings.push(tolerate_tail(
                    line,
                    lines.len(),
                    unterminated_tail,
                    message,
                )?),
            }
        }
        sink(events)?;
    }
    Ok((skipped, warnings))
}

/// The rule for a line that does not parse: the last line of a file that does not end in a
/// newline was cut short by a killed writer, and is dropped with a warning; any other bad
/// line is an error.
fn tolerate_tail(
    line: usize,
    total: usize,
    unterminated: bool,
    message: String,
) -> Result<String, ParseError> {
    if unterminated && line == total {
        Ok(format!(
            "line {line}: truncated last line dropped (the writer was probably killed): {message}"
        ))
    } else {
        Err(ParseError { line, message })
    }
}

/// Parses a JSON-lines file of records (`commits.jsonl`, `faults.jsonl`), with the same
/// tolerance of a truncated last line as histories. Returns the records and warnings.
pub fn parse_records<T: serde::de::DeserializeOwned>(
    text: &str,
) -> Result<(Vec<T>, Vec<String>), ParseError> {
    let lines: Vec<&str> = text.lines().collect();
    let unterminated = !text.is_empty() && !text.ends_with('\n');
    let mut records = Vec::with_capacity(lines.len());
    let mut warnings = Vec::new();
    for (i, raw) in lines.iter().enumerate() {
        if raw.trim().is_empty() {
            continue;
        }
        match serde_json::from_str(raw) {
            Ok(record) => records.push(record),
            Err(e) => warnings.push(tolerate_tail(
                i + 1,
                lines.len(),
                unterminated,
                e.to_string(),
            )?),
        }
    }
    Ok((records, warnings))
}

/// Parses a whole history into memory; for small histories and tests.
pub fn parse_history(text: &str) -> Result<ParsedHistory, ParseError> {
    let format = require_format(text)?;
    let mut events = Vec::new();
    let (skipped, warnings) = parse_history_chunks(text, format, |batch| {
        events.extend(batch.into_iter().map(|(_, event)| event));
        Ok::<(), ParseError>(())
    })?;
    Ok(ParsedHistory {
        events,
        skipped,
        warnings,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::history::EventKind;
    use proptest::prelude::*;

    const JSONL: &str = "{\"process\":0,\"type\":\"invoke\",\"f\":\"write\",\"value\":1}\n\
                         {\"process\":0,\"type\":\"ok\",\"f\":\"write\",\"value\":1}\n";

    #[test]
    fn detects_formats() {
        assert_eq!(detect_format(JSONL), Some(HistoryFormat::Jsonl));
        assert_eq!(detect_format("\n{:type :invoke}"), Some(HistoryFormat::Edn));
        assert_eq!(detect_format("hello"), None);
    }

    #[test]
    fn reads_jsonl() {
        let h = parse_history(JSONL).unwrap();
        assert_eq!(h.events.len(), 2);
        assert_eq!(h.events[1].kind, EventKind::Ok);
        assert!(h.warnings.is_empty());
    }

    #[test]
    fn a_truncated_tail_is_a_warning() {
        let text = format!("{JSONL}{{\"process\":1,\"type\":\"inv");
        let h = parse_history(&text).unwrap();
        assert_eq!(h.events.len(), 2);
        assert_eq!(h.warnings.len(), 1);
        assert!(h.warnings[0].contains("line 3"), "{:?}", h.warnings);
    }

    #[test]
    fn a_bad_middle_line_is_an_error_with_its_number() {
        let text = format!("{JSONL}not json\n{JSONL}");
        let err = parse_history(&text).unwrap_err();
        assert_eq!(err.line, 3);
    }

    #[test]
    fn a_complete_bad_last_line_is_an_error() {
        let text = format!("{JSONL}{{\"process\":1}}\n");
        assert_eq!(parse_history(&text).unwrap_err().line, 3);
    }

    #[test]
    fn records_tolerate_a_cut_tail() {
        let text = "{\"time\":1,\"kind\":\"crash\",\"nodes\":[2]}\n{\"time\":2,\"ki";
        let (records, warnings): (Vec<crate::FaultRecord>, _) = parse_records(text).unwrap();
        assert_eq!(records.len(), 1);
        assert_eq!(warnings.len(), 1);
        assert!(parse_records::<crate::FaultRecord>("nope\n{}\n").is_err());
    }

    proptest! {
        #[test]
        fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
            let text = String::from_utf8_lossy(&bytes);
            let _ = parse_history(&text);
            let _ = parse_line(HistoryFormat::Edn, &text);
            let _ = parse_line(HistoryFormat::Jsonl, &text);
            let _ = parse_records::<crate::CommitRead>(&text);
            let _ = parse_records::<crate::Manifest>(&text);
        }

        #[test]
        fn edn_like_noise_never_panics(s in "[{}\\[\\]#:() a-z0-9\"\\\\.^-]{0,80}") {
            let _ = parse_line(HistoryFormat::Edn, &s);
            let _ = parse_history(&s);
        }

        /// Issue 20's shapes: every kind of nesting at any depth, and numbers of any length,
        /// are read or refused with a reason, never a crash; the limits are exact.
        #[test]
        fn hostile_edn_shapes_are_read_or_refused(
            opens in proptest::collection::vec(prop::sample::select(vec!["[", "(", "{:a ", "#{", "#t/x "]), 0..600),
            digits in 1usize..6000,
            suffix in prop::sample::select(vec!["", "N", "M", ".5M"]),
        ) {
            let closes: String = opens
                .iter()
                .rev()
                .map(|o| match *o { "[" => "]", "(" => ")", "#t/x " => "", _ => "}" })
                .collect();
            let value = format!("{}{}{suffix}{closes}", opens.concat(), "7".repeat(digits));
            let line = format!("{{:type :invoke, :f :write, :value {value}, :process 0}}");
            let result = parse_line(HistoryFormat::Edn, &line);
            // The map around the value is one level too.
            if opens.len() + 1 > crate::edn::MAX_DEPTH {
                prop_assert!(result.unwrap_err().contains("nested more than"));
            } else if digits + suffix.len() > crate::edn::MAX_NUMBER_CHARS {
                prop_assert!(result.unwrap_err().contains("a number of"));
            } else {
                // A plain integer past i64 is an error of its own; anything else reads.
                let overflows = suffix.is_empty() && digits > 18;
                prop_assert!(result.is_ok() || overflows, "{:?}", result);
            }
        }

        #[test]
        fn deep_json_is_refused_not_a_stack_overflow(depth in 0usize..20_000) {
            let line = format!(
                "{{\"process\":0,\"type\":\"invoke\",\"f\":\"write\",\"value\":{}1{}}}",
                "[".repeat(depth),
                "]".repeat(depth)
            );
            let result = parse_line(HistoryFormat::Jsonl, &line);
            prop_assert_eq!(result.is_ok(), depth < 127, "{:?}", result.err());
        }

        #[test]
        fn any_truncation_of_a_valid_file_is_read_or_named(cut in 0usize..200) {
            let text = format!("{JSONL}{JSONL}");
            let cut = cut.min(text.len());
            match parse_history(&text[..cut]) {
                Ok(h) => prop_assert!(h.events.len() <= 4),
                Err(e) => prop_assert!(e.line >= 1),
            }
        }
    }
}
