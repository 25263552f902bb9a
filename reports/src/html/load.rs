//! Reading a run folder for the report. Unlike the checkers, the report never refuses a
//! damaged folder: each file is read on its own, and a file that is missing, cut short or
//! unreadable becomes a note on the page while every other section still renders.

use super::records::{MetricLine, TraceLine};
use super::ReportError;
use serde::Deserialize;
use serde_json::Value;
use std::path::{Path, PathBuf};
use traitor_checkers::{CheckResult, Validity};
use traitor_model::read::{parse_history, parse_records, ParseError};
use traitor_model::{Event, FaultRecord, Manifest};

/// Lines of each node log kept in the report: the end of a log is where a run went wrong.
pub const LOG_TAIL_LINES: usize = 2000;
/// Bytes of each node log kept at most, so one chatty node cannot bloat the page.
pub const LOG_TAIL_BYTES: usize = 512 * 1024;

/// `verdict.json` as `traitor check` writes it.
#[derive(Clone, Debug, Deserialize)]
pub struct Verdict {
    pub valid: Validity,
    #[serde(default)]
    pub checks: Vec<CheckResult>,
}

/// The end of one node's log.
#[derive(Clone, Debug)]
pub struct NodeLog {
    /// The file name without `.log` (the node's id for traitor's own targets).
    pub name: String,
    pub total_lines: usize,
    /// The last lines, as text (lossily decoded).
    pub tail: String,
    /// Lines left out before `tail`.
    pub omitted_lines: usize,
}

/// Something a reader of the report should know about the folder itself.
#[derive(Clone, Debug, PartialEq)]
pub struct Note {
    pub file: String,
    pub message: String,
}

/// Everything the report shows, as read from one run folder.
#[derive(Debug, Default)]
pub struct RunData {
    pub dir: PathBuf,
    pub manifest: Option<Manifest>,
    pub events: Option<Vec<Event>>,
    pub faults: Option<Vec<FaultRecord>>,
    pub metrics: Option<Vec<MetricLine>>,
    pub trace: Option<Vec<TraceLine>>,
    pub verdict: Option<Verdict>,
    /// `detectors.json`, when fault detectors have written findings.
    pub detectors: Option<Value>,
    pub logs: Vec<NodeLog>,
    pub notes: Vec<Note>,
}

impl RunData {
    /// Reads `dir`. Fails only when `dir` is not a run folder at all (neither
    /// `manifest.json` nor `history.jsonl`) or cannot be listed.
    pub fn load(dir: &Path) -> Result<Self, ReportError> {
        if !dir.join("manifest.json").is_file() && !dir.join("history.jsonl").is_file() {
            return Err(ReportError::NotARun {
                path: dir.to_path_buf(),
            });
        }
        let mut run = RunData {
            dir: dir.to_path_buf(),
            ..Default::default()
        };
        run.manifest = run.json_file(
            "manifest.json",
            "target, nodes, seed and start/end are unknown",
        );
        run.events = run.file(
            "history.jsonl",
            "no timeline, latency or throughput",
            |text| {
                if text.trim().is_empty() {
                    return Ok((Vec::new(), Vec::new()));
                }
                parse_history(text).map(|h| (h.events, h.warnings))
            },
        );
        run.faults = run.records("faults.jsonl", "no fault intervals or fault table");
        run.metrics = run.records("metrics.jsonl", "no memory or CPU heat map");
        run.trace = run.records("trace.jsonl", "no message heat map");
        run.verdict = run.json_file(
            "verdict.json",
            "no checker verdicts (run `traitor check` on the folder)",
        );
        if dir.join("detectors.json").is_file() {
            run.detectors = run.json_file("detectors.json", "");
        }
        run.logs = run.node_logs()?;
        Ok(run)
    }

    fn note(&mut self, file: &str, message: impl Into<String>) {
        self.notes.push(Note {
            file: file.into(),
            message: message.into(),
        });
    }

    /// Reads one file with `parse`, turning absence, I/O errors and parse errors into notes.
    fn file<T>(
        &mut self,
        name: &str,
        without: &str,
        parse: impl FnOnce(&str) -> Result<(T, Vec<String>), ParseError>,
    ) -> Option<T> {
        let path = self.dir.join(name);
        let text = match std::fs::read(&path) {
            Ok(bytes) => String::from_utf8_lossy(&bytes).into_owned(),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                self.note(name, format!("missing: {without}"));
                return None;
            }
            Err(e) => {
                self.note(name, format!("could not be read ({e}): {without}"));
                return None;
            }
        };
        match parse(&text) {
            Ok((value, warnings)) => {
                for w in warnings {
                    self.note(name, w);
                }
                Some(value)
            }
            Err(e) => {
                self.note(name, format!("unreadable at {e}: {without}"));
                None
            }
        }
    }

    fn records<T: serde::de::DeserializeOwned>(
        &mut self,
        name: &str,
        without: &str,
    ) -> Option<Vec<T>> {
        self.file(name, without, parse_records)
    }

    fn json_file<T: serde::de::DeserializeOwned>(
        &mut self,
        name: &str,
        without: &str,
    ) -> Option<T> {
        self.file(name, without, |text| {
            serde_json::from_str(text)
                .map(|v| (v, Vec::new()))
                .map_err(|e| ParseError {
                    line: e.line(),
                    message: e.to_string(),
                })
        })
    }

    /// The tails of `logs/*.log`, ordered by node number where names are numbers.
    fn node_logs(&mut self) -> Result<Vec<NodeLog>, ReportError> {
        let dir = self.dir.join("logs");
        let entries = match std::fs::read_dir(&dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                self.note("logs/", "missing: no node logs");
                return Ok(Vec::new());
            }
            Err(source) => return Err(ReportError::Io { path: dir, source }),
        };
        let mut logs = Vec::new();
        for entry in entries.flatten() {
            let path = entry.path();
            let Some(name) = path
                .file_name()
                .and_then(|n| n.to_str())
                .and_then(|n| n.strip_suffix(".log"))
            else {
                continue;
            };
            match std::fs::read(&path) {
                Ok(bytes) => logs.push(log_tail(name, &bytes)),
                Err(e) => self.note(
                    &format!("logs/{name}.log"),
                    format!("could not be read: {e}"),
                ),
            }
        }
        logs.sort_by_key(|log| natural_key(&log.name));
        Ok(logs)
    }
}

/// The last [`LOG_TAIL_LINES`] lines (and at most [`LOG_TAIL_BYTES`]) of a log.
fn log_tail(name: &str, bytes: &[u8]) -> NodeLog {
    let text = String::from_utf8_lossy(bytes);
    let lines: Vec<&str> = text.lines().collect();
    let mut start = lines.len().saturating_sub(LOG_TAIL_LINES);
    let mut size: usize = lines[start..].iter().map(|l| l.len() + 1).sum();
    while size > LOG_TAIL_BYTES && start < lines.len() {
        size -= lines[start].len() + 1;
        start += 1;
    }
    NodeLog {
        name: name.to_string(),
        total_lines: lines.len(),
        tail: lines[start..].join("\n"),
        omitted_lines: start,
    }
}

/// Sorts `2` before `10`, and names that are not numbers after numbers, alphabetically.
fn natural_key(name: &str) -> (u64, String) {
    (name.parse().unwrap_or(u64::MAX), name.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_long_log_keeps_its_end() {
        let text: String = (0..LOG_TAIL_LINES + 5)
            .map(|i| format!("line {i}\n"))
            .collect();
        let log = log_tail("0", text.as_bytes());
        assert_eq!(log.total_lines, LOG_TAIL_LINES + 5);
        assert_eq!(log.omitted_lines, 5);
        assert!(log.tail.starts_with("line 5\n"));
        assert!(log.tail.ends_with(&format!("line {}", LOG_TAIL_LINES + 4)));
    }

    #[test]
    fn a_log_of_huge_lines_is_cut_by_bytes() {
        let line = "x".repeat(LOG_TAIL_BYTES / 4);
        let text = format!("{line}\n{line}\n{line}\n{line}\n{line}\n{line}\n");
        let log = log_tail("1", text.as_bytes());
        assert!(log.tail.len() <= LOG_TAIL_BYTES);
        assert!(log.omitted_lines >= 2);
    }

    #[test]
    fn node_names_sort_naturally() {
        let mut names = vec!["10", "2", "twin-1", "0"];
        names.sort_by_key(|n| natural_key(n));
        assert_eq!(names, ["0", "2", "10", "twin-1"]);
    }
}
