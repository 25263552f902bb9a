//! Fault detector findings (`detectors.json`), shown beside the truth of `faults.jsonl`,
//! with the detectors' score against it when there is one. The section exists only when
//! detectors wrote findings: there is nothing to show before.
//!
//! The shape is read leniently (older files, other writers): a list of findings, or an
//! object holding one under `findings`; each finding's `detector`, `nodes` (or
//! `suspects`), `time` and `summary` are shown, and anything else as JSON text. The score
//! (`score.detectors`: per detector its true and false positives, false negatives, excused
//! suspects and latencies) is shown as a table when present.

use super::actions::Lanes;
use super::escape::{html, value_text};
use super::faults::FaultInterval;
use super::format::seconds;
use serde_json::Value;
use std::fmt::Write;

/// The detectors section, or nothing when there is no `detectors.json`.
pub fn section(detectors: Option<&Value>, truth: &[FaultInterval], adversary: &Lanes) -> String {
    let Some(doc) = detectors else {
        return String::new();
    };
    let empty = Vec::new();
    let findings = doc
        .as_array()
        .or_else(|| doc["findings"].as_array())
        .unwrap_or(&empty);
    let mut out = String::from(
        "<section id=\"detectors\"><h2>Fault detectors</h2><div class=\"side-by-side\"><div><h3>Detected</h3>",
    );
    if findings.is_empty() {
        out.push_str("<p>No detector named a suspect.</p>");
    } else {
        out.push_str("<table class=\"data\"><thead><tr><th>detector</th><th>nodes</th><th>at</th><th>finding</th></tr></thead><tbody>");
        for f in findings {
            let nodes = f.get("nodes").or_else(|| f.get("suspects"));
            let mut rest = f.clone();
            if let Some(map) = rest.as_object_mut() {
                for known in ["detector", "nodes", "suspects", "time", "summary"] {
                    map.remove(known);
                }
            }
            let summary = f["summary"]
                .as_str()
                .map(str::to_string)
                .unwrap_or_default();
            let extra = match &rest {
                Value::Object(map) if map.is_empty() => String::new(),
                other => value_text(other),
            };
            let _ = write!(
                out,
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}{}</td></tr>",
                html(&value_text(&f["detector"])),
                html(&nodes.map(value_text).unwrap_or_default()),
                f["time"].as_u64().map(seconds).unwrap_or_default(),
                html(&summary),
                if extra.is_empty() {
                    String::new()
                } else {
                    format!(" <code>{}</code>", html(&extra))
                },
            );
        }
        out.push_str("</tbody></table>");
    }
    out.push_str("</div><div><h3>Injected (truth)</h3><ul>");
    for t in truth {
        let _ = write!(
            out,
            "<li>{} from {}</li>",
            html(&t.label()),
            seconds(t.start)
        );
    }
    for g in adversary.groups() {
        let _ = write!(
            out,
            "<li>{} by {} ({} times) from {}</li>",
            html(g.kind),
            g.actor
                .map_or_else(|| "the adversary".into(), |n| format!("n{n}")),
            g.count,
            seconds(g.first.time)
        );
    }
    if truth.is_empty() && adversary.is_empty() {
        out.push_str("<li>no fault</li>");
    }
    out.push_str("</ul></div></div>");
    out.push_str(&score_table(&doc["score"]));
    out.push_str("</section>");
    out
}

/// The detectors' score on this run: whom each named rightly, wrongly, or missed.
fn score_table(score: &Value) -> String {
    let Some(detectors) = score["detectors"].as_array() else {
        return String::new();
    };
    let nodes = |d: &Value, key: &str| match d[key].as_array() {
        Some(list) if !list.is_empty() => html(&value_text(&d[key])),
        _ => "-".to_string(),
    };
    let mut out = String::from(
        "<h3>Score against the injected faults</h3><table class=\"data\"><thead><tr><th>detector</th><th>found (true positives)</th><th>false alarms</th><th>missed</th><th>excused</th><th>latency</th></tr></thead><tbody>",
    );
    for d in detectors {
        let latency: Vec<String> = d["latencies"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|l| {
                Some(format!(
                    "node {}: {:.2} s",
                    l["node"],
                    l["ns"].as_f64()? / 1e9
                ))
            })
            .collect();
        let _ = write!(
            out,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            html(&value_text(&d["detector"])),
            nodes(d, "true_positives"),
            nodes(d, "false_positives"),
            nodes(d, "false_negatives"),
            nodes(d, "excused"),
            html(&latency.join(", ")),
        );
    }
    out.push_str("</tbody></table>");
    out
}
