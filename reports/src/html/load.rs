//! Reading a run folder for the report. Unlike the checkers, the report never refuses a
//! damaged folder: each file is read on its own, and a file that is missing, cut short or
//! unreadable becomes a note on the page while every other section still renders.

use super::records::{MetricLine, TraceLine};
use super::ReportError;
use serde::Deserialize;
use serde_json::Value;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use traitor_checkers::files::{list_in, open_in, read_in, MAX_DOCUMENT_BYTES, MAX_RECORDS_BYTES};
use traitor_checkers::run_folder::parse_manifest;
use traitor_checkers::{CheckResult, Validity};
use traitor_model::read::{parse_history, parse_records};
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
        run.manifest = run.file(
            "manifest.json",
            MAX_DOCUMENT_BYTES,
            "target, nodes, seed and start/end are unknown",
            |text| parse_manifest(text).map(|m| (m, Vec::new())),
        );
        run.events = run.file(
            "history.jsonl",
            MAX_RECORDS_BYTES,
            "no timeline, latency or throughput",
            |text| {
                if text.trim().is_empty() {
                    return Ok((Vec::new(), Vec::new()));
                }
                parse_history(text)
                    .map(|h| (h.events, h.warnings))
                    .map_err(|e| e.to_string())
            },
        );
        run.faults = run.records("faults.jsonl", "no fault intervals or fault table");
        run.metrics = run.records("metrics.jsonl", "no memory or CPU heat map");
        run.trace = run.records("trace.jsonl", "no message heat map");
        run.verdict = run.json_file(
            "verdict.json",
            "no checker verdicts (run `traitor check` on the folder)",
        );
        if dir.join("detectors.json").symlink_metadata().is_ok() {
            run.detectors = run.json_file("detectors.json", "");
        }
        run.logs = run.node_logs();
        Ok(run)
    }

    fn note(&mut self, file: &str, message: impl Into<String>) {
        self.notes.push(Note {
            file: file.into(),
            message: message.into(),
        });
    }

    /// Reads one file of at most `limit` bytes with `parse`, turning absence, refusals, I/O
    /// errors and parse errors into notes.
    fn file<T>(
        &mut self,
        name: &str,
        limit: u64,
        without: &str,
        parse: impl FnOnce(&str) -> Result<(T, Vec<String>), String>,
    ) -> Option<T> {
        let text = match read_in(&self.dir, name, limit) {
            Ok(Some(bytes)) => String::from_utf8_lossy(&bytes).into_owned(),
            Ok(None) => {
                self.note(name, format!("missing: {without}"));
                return None;
            }
            Err(e) => {
                self.note(name, format!("not read: it {e}: {without}"));
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
        self.file(name, MAX_RECORDS_BYTES, without, |text| {
            parse_records(text).map_err(|e| e.to_string())
        })
    }

    fn json_file<T: serde::de::DeserializeOwned>(
        &mut self,
        name: &str,
        without: &str,
    ) -> Option<T> {
        self.file(name, MAX_DOCUMENT_BYTES, without, |text| {
            serde_json::from_str(text)
                .map(|v| (v, Vec::new()))
                .map_err(|e| e.to_string())
        })
    }

    /// The tails of `logs/*.log`, ordered by node number where names are numbers. A log
    /// that is a link, a FIFO or a device becomes a note, never read.
    fn node_logs(&mut self) -> Vec<NodeLog> {
        let names = match list_in(&self.dir, "logs") {
            Ok(Some(names)) => names,
            Ok(None) => {
                self.note("logs/", "missing: no node logs");
                return Vec::new();
            }
            Err(e) => {
                self.note("logs/", format!("not read: it {e}"));
                return Vec::new();
            }
        };
        let mut logs = Vec::new();
        for file in names {
            let Some(name) = file.strip_suffix(".log") else {
                continue;
            };
            let rel = format!("logs/{file}");
            let read = open_in(&self.dir, &rel, u64::MAX)
                .map_err(|e| format!("it {e}"))
                .and_then(|opened| {
                    let (file, size) = opened.ok_or("it vanished while read")?;
                    read_log(name, file, size).map_err(|e| e.to_string())
                });
            match read {
                Ok(log) => logs.push(log),
                Err(e) => self.note(&rel, format!("not read: {e}")),
            }
        }
        logs.sort_by_key(|log| natural_key(&log.name));
        logs
    }
}

/// Reads one log's end: its lines are counted as it streams by, and only the last
/// [`LOG_TAIL_BYTES`] are held, so a log of any size costs the same memory.
fn read_log(name: &str, mut file: std::fs::File, size: u64) -> std::io::Result<NodeLog> {
    let mut newlines = 0usize;
    let mut last = None;
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let read = file.read(&mut buf)?;
        if read == 0 {
            break;
        }
        newlines += buf[..read].iter().filter(|&&b| b == b'\n').count();
        last = Some(buf[read - 1]);
    }
    let total_lines = newlines + usize::from(last.is_some_and(|b| b != b'\n'));
    let start = size.saturating_sub(LOG_TAIL_BYTES as u64);
    file.seek(SeekFrom::Start(start))?;
    let mut tail = Vec::new();
    file.take(LOG_TAIL_BYTES as u64).read_to_end(&mut tail)?;
    // A tail that starts mid-line drops that partial line.
    let whole = match (start > 0, tail.iter().position(|&b| b == b'\n')) {
        (true, Some(at)) => &tail[at + 1..],
        (true, None) => &[][..],
        (false, _) => &tail[..],
    };
    let mut log = log_tail(name, whole);
    let kept = log.total_lines - log.omitted_lines;
    log.omitted_lines = total_lines.saturating_sub(kept);
    log.total_lines = total_lines;
    Ok(log)
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
    fn logs_are_read_from_the_folder_alone_and_by_their_end() {
        let dir = tempfile::tempdir().unwrap();
        let outside = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("history.jsonl"), "").unwrap();
        let logs = dir.path().join("logs");
        std::fs::create_dir(&logs).unwrap();
        std::fs::write(outside.path().join("secret"), "root:s3cret\n").unwrap();
        std::os::unix::fs::symlink(outside.path().join("secret"), logs.join("0.log")).unwrap();
        let fifo = logs.join("1.log");
        assert!(std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap()
            .success());
        let long: String = (0..200_000).map(|i| format!("line {i}\n")).collect();
        std::fs::write(logs.join("2.log"), &long).unwrap();

        let run = RunData::load(dir.path()).unwrap();
        assert_eq!(run.logs.len(), 1, "only the regular log is read");
        let log = &run.logs[0];
        assert_eq!(log.total_lines, 200_000);
        assert_eq!(log.omitted_lines, 200_000 - LOG_TAIL_LINES);
        assert!(log.tail.ends_with("line 199999"));
        assert!(!format!("{:?}", run.logs).contains("s3cret"));
        let note = |file: &str| {
            run.notes
                .iter()
                .find(|n| n.file == file)
                .map(|n| n.message.clone())
                .unwrap_or_default()
        };
        assert!(
            note("logs/0.log").contains("symbolic link"),
            "{:?}",
            run.notes
        );
        assert!(note("logs/1.log").contains("FIFO"), "{:?}", run.notes);
    }

    #[test]
    fn node_names_sort_naturally() {
        let mut names = vec!["10", "2", "twin-1", "0"];
        names.sort_by_key(|n| natural_key(n));
        assert_eq!(names, ["0", "2", "10", "twin-1"]);
    }
}
