//! Fault detector findings (`detectors.json`), shown beside the truth of `faults.jsonl`.
//! The section exists only when detectors wrote findings: there is nothing to show before.
//!
//! Detectors are still being built, so the shape is read leniently: a list of findings, or
//! an object holding one under `findings`; each finding's `detector`, `nodes` (or
//! `suspects`), `time` and `summary` are shown, and anything else as JSON text.

use super::escape::{html, value_text};
use super::faults::FaultInterval;
use super::format::seconds;
use serde_json::Value;
use std::fmt::Write;

/// The detectors section, or nothing when there is no `detectors.json`.
pub fn section(detectors: Option<&Value>, truth: &[FaultInterval]) -> String {
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
    if truth.is_empty() {
        out.push_str("<li>no fault</li>");
    }
    out.push_str("</ul></div></div></section>");
    out
}
