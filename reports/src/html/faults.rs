//! Injected faults: the intervals during which each network or process fault of the
//! nemesis was in force (shaded on every time plot) and the table of them, from
//! `faults.jsonl`, the run's ground truth; beside them the adversaries' actions
//! ([`super::actions`]), which are not intervals.

use super::actions::Lanes;
use super::escape::{html, value_text};
use super::format::{duration, seconds};
use serde_json::Value;
use std::fmt::Write;
use traitor_model::{FaultRecord, NodeId};

/// A fault from its record to the `heal` that ended it.
#[derive(Clone, Debug, PartialEq)]
pub struct FaultInterval {
    pub kind: String,
    pub nodes: Vec<NodeId>,
    pub start: u64,
    /// `None` when no heal followed: the fault lasted to the end of the run.
    pub end: Option<u64>,
    pub detail: Value,
    /// The detail of the record that healed it.
    pub healed: Option<Value>,
}

impl FaultInterval {
    /// `crash-primary n0`: the kind and the nodes, as bands are labelled.
    pub fn label(&self) -> String {
        let nodes: Vec<String> = self.nodes.iter().map(|n| format!("n{n}")).collect();
        if nodes.is_empty() {
            self.kind.clone()
        } else {
            format!("{} {}", self.kind, nodes.join(","))
        }
    }
}

/// Whether a record ends faults rather than starting one.
fn is_heal(kind: &str) -> bool {
    kind == "heal" || kind == "heal-all"
}

/// Turns records into intervals: the harness injects one fault at a time, so a `heal`
/// (or `heal-all`) ends every fault still in force.
pub fn intervals(records: &[FaultRecord]) -> Vec<FaultInterval> {
    let mut sorted: Vec<&FaultRecord> = records.iter().collect();
    sorted.sort_by_key(|r| r.time);
    let mut out: Vec<FaultInterval> = Vec::new();
    for record in sorted {
        if is_heal(&record.kind) {
            for open in out.iter_mut().filter(|i| i.end.is_none()) {
                open.end = Some(record.time);
                open.healed = Some(record.detail.clone());
            }
        } else {
            out.push(FaultInterval {
                kind: record.kind.clone(),
                nodes: record.nodes.clone(),
                start: record.time,
                end: None,
                detail: record.detail.clone(),
                healed: None,
            });
        }
    }
    out
}

/// The faults section: the nemesis's `records` (`None` when `faults.jsonl` is missing) as
/// a table of intervals, then the adversary actions.
pub fn section(
    records: Option<&[FaultRecord]>,
    intervals: &[FaultInterval],
    adversary: &Lanes,
) -> String {
    let mut out = String::from(
        "<section id=\"faults\"><h2>Injected faults</h2>\
         <p class=\"hint\">The ground truth, from <code>faults.jsonl</code>: what the harness did and when.</p>",
    );
    match records {
        None => out.push_str("<p class=\"missing\">faults.jsonl is missing.</p>"),
        Some([]) if !adversary.is_empty() => {
            out.push_str("<p>No network or process fault was injected in this run.</p>")
        }
        Some([]) => out.push_str("<p>No fault was injected in this run.</p>"),
        Some(records) => {
            out.push_str(
                "<table class=\"data\"><thead><tr><th>#</th><th>fault</th><th>nodes</th>\
                 <th>from</th><th>to</th><th>lasted</th><th>detail</th><th>healed</th></tr></thead><tbody>",
            );
            for (i, f) in intervals.iter().enumerate() {
                let nodes: Vec<String> = f.nodes.iter().map(|n| n.to_string()).collect();
                let (to, lasted) = match f.end {
                    Some(end) => (seconds(end), duration(end.saturating_sub(f.start))),
                    None => ("not healed".into(), "to the end".into()),
                };
                let _ = write!(
                    out,
                    "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td><code>{}</code></td><td><code>{}</code></td></tr>",
                    i + 1,
                    html(&f.kind),
                    html(&nodes.join(", ")),
                    seconds(f.start),
                    to,
                    lasted,
                    html(&detail_text(&f.detail)),
                    html(&f.healed.as_ref().map(detail_text).unwrap_or_default()),
                );
            }
            out.push_str("</tbody></table>");
            if let Some(all) = records.iter().rev().find(|r| r.kind == "heal-all") {
                let _ = write!(
                    out,
                    "<p>Everything healed (<code>heal-all</code>) at {}.</p>",
                    seconds(all.time)
                );
            }
        }
    }
    out.push_str(&adversary.table());
    out.push_str("</section>");
    out
}

fn detail_text(detail: &Value) -> String {
    match detail {
        Value::Null => String::new(),
        Value::Object(map) if map.is_empty() => String::new(),
        Value::Object(map) => map
            .iter()
            .map(|(k, v)| format!("{k}={}", value_text(v)))
            .collect::<Vec<_>>()
            .join(" "),
        other => value_text(other),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn record(time: u64, kind: &str, nodes: &[NodeId]) -> FaultRecord {
        FaultRecord {
            time,
            kind: kind.into(),
            nodes: nodes.to_vec(),
            detail: json!({}),
        }
    }

    #[test]
    fn heals_close_faults_and_an_unhealed_one_runs_on() {
        let got = intervals(&[
            record(5, "crash-primary", &[0]),
            record(8, "heal", &[0]),
            record(12, "partition-halves", &[0, 1]),
            record(16, "heal-all", &[]),
            record(20, "delay", &[2]),
        ]);
        assert_eq!(got.len(), 3);
        assert_eq!((got[0].start, got[0].end), (5, Some(8)));
        assert_eq!(got[1].end, Some(16));
        assert_eq!(got[2].end, None);
        assert_eq!(got[1].label(), "partition-halves n0,n1");
    }
}
