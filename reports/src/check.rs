//! The outcome of `traitor check` on one input (a history file or a run folder), as a table
//! row for people and a JSON line for machines.

use serde::Serialize;
use serde_json::Value;
use std::time::Duration;
use tabled::settings::{object::Columns, Modify, Style, Width};
use tabled::{Table, Tabled};
use traitor_checkers::{CheckResult, Validity};

/// What checking one input found.
#[derive(Clone, Debug, Serialize)]
pub struct InputVerdict {
    pub file: String,
    /// `jsonl`, `edn` or `run`.
    pub format: String,
    /// All checks merged: any violation is a violation, else any unknown is unknown.
    pub valid: Validity,
    pub ops: usize,
    pub processes: usize,
    #[serde(serialize_with = "millis")]
    pub elapsed: Duration,
    pub checks: Vec<CheckResult>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
}

fn millis<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_u128(d.as_millis())
}

impl InputVerdict {
    /// Merges the checks' answers into the input's verdict.
    pub fn new(
        file: String,
        format: String,
        ops: usize,
        processes: usize,
        elapsed: Duration,
        checks: Vec<CheckResult>,
        warnings: Vec<String>,
    ) -> Self {
        let valid = checks
            .iter()
            .fold(Validity::Holds, |acc, c| acc.merge(c.valid));
        Self {
            file,
            format,
            valid,
            ops,
            processes,
            elapsed,
            checks,
            warnings,
        }
    }

    /// One JSON object: `file`, `valid`, the counts, each check with its evidence, and for a
    /// single-check input the failing check's evidence at the top level too.
    pub fn to_json_line(&self) -> String {
        let mut value = serde_json::to_value(self).unwrap_or(Value::Null);
        if let Some(failing) = self.checks.iter().find(|c| c.valid == Validity::Violated) {
            value["evidence"] = failing.evidence.clone();
        }
        value.to_string()
    }
}

#[derive(Tabled)]
struct Row<'a> {
    input: &'a str,
    verdict: &'static str,
    ops: usize,
    processes: usize,
    time: String,
    checks: String,
}

/// The table `traitor check` prints: one row per input.
pub fn table(verdicts: &[InputVerdict]) -> String {
    let rows = verdicts.iter().map(|v| Row {
        input: &v.file,
        verdict: v.valid.word(),
        ops: v.ops,
        processes: v.processes,
        time: format_duration(v.elapsed),
        checks: v
            .checks
            .iter()
            .map(|c| format!("{}: {}", c.checker, c.valid.word()))
            .collect::<Vec<_>>()
            .join("\n"),
    });
    Table::new(rows)
        .with(Style::sharp())
        .with(Modify::new(Columns::first()).with(Width::wrap(60)))
        .to_string()
}

/// The findings under the table: each violated or undecided check with its summary.
pub fn details(verdicts: &[InputVerdict]) -> String {
    let mut out = String::new();
    for v in verdicts {
        for c in v.checks.iter().filter(|c| c.valid != Validity::Holds) {
            out.push_str(&format!(
                "{} [{} {}]: {}\n",
                v.file,
                c.checker,
                c.valid.word(),
                c.summary
            ));
            if let Some(window) = c.evidence["violations"][0]["window"].as_array() {
                out.push_str("  ops concurrent with it:\n");
                for op in window.iter().filter_map(Value::as_str) {
                    out.push_str(&format!("    {op}\n"));
                }
            }
            if let Some(tail) =
                c.evidence["violations"][0]["longest_linearizable_prefix"]["tail"].as_array()
            {
                out.push_str("  end of the longest linearizable prefix:\n");
                for op in tail.iter().filter_map(Value::as_str) {
                    out.push_str(&format!("    {op}\n"));
                }
            }
        }
    }
    out
}

fn format_duration(d: Duration) -> String {
    if d.as_secs() >= 1 {
        format!("{:.2} s", d.as_secs_f64())
    } else {
        format!("{} ms", d.as_millis())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn json_line_carries_file_valid_and_evidence() {
        let v = InputVerdict::new(
            "h.jsonl".into(),
            "jsonl".into(),
            4,
            2,
            Duration::from_millis(3),
            vec![CheckResult::violated(
                "linearizability",
                "stale read",
                json!({"key": "k"}),
            )],
            vec![],
        );
        let line: Value = serde_json::from_str(&v.to_json_line()).unwrap();
        assert_eq!(line["file"], "h.jsonl");
        assert_eq!(line["valid"], false);
        assert_eq!(line["evidence"]["key"], "k");
        assert!(table(std::slice::from_ref(&v)).contains("VIOLATED"));
        assert!(details(&[v]).contains("stale read"));
    }

    #[test]
    fn unknown_beats_holds_in_the_merge() {
        let v = InputVerdict::new(
            "r".into(),
            "run".into(),
            0,
            0,
            Duration::ZERO,
            vec![
                CheckResult::holds("agreement", "ok"),
                CheckResult::unknown("termination", "no heal"),
            ],
            vec![],
        );
        assert_eq!(v.valid, Validity::Unknown);
        assert_eq!(
            serde_json::from_str::<Value>(&v.to_json_line()).unwrap()["valid"],
            "unknown"
        );
    }
}
