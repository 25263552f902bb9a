//! The self-contained HTML report of one run folder: header and verdicts, a Jepsen-style
//! timeline with nemesis faults shaded, adversary actions in lanes of their own and
//! violations highlighted, latency and throughput, heat maps, the injected faults, and the
//! node logs.
//!
//! One file with inline CSS, JS and SVG and no external URL, so it opens from `file://`,
//! from a CI artifact or a mail attachment alike. Everything recorded is untrusted and is
//! escaped on the way in ([`escape`]); the page's own scripts carry a per-render nonce and
//! a Content-Security-Policy forbids every other script and every network fetch, as a
//! second line of defence.

mod actions;
pub mod campaign;
mod detectors;
mod escape;
mod faults;
mod format;
mod header;
mod heatmap;
mod load;
mod logs;
mod ops;
mod plots;
mod records;
mod svg;
mod tally;
mod timeline;
mod violation;

pub use timeline::AGGREGATE_ABOVE;

use serde_json::json;
use std::hash::{BuildHasher, Hasher};
use std::path::{Path, PathBuf};

/// Why no report could be made: the path and what would be right.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    #[error("{path}: not a run folder (it has neither manifest.json nor history.jsonl); pass the folder `traitor run` wrote")]
    NotARun { path: PathBuf },
    #[error("writing the report {path}: {source} (the run folder must be writable)")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
}

const CSS: &str = include_str!("assets/report.css");
const JS: &str = include_str!("assets/report.js");
/// Installed before the main script so that any error it throws is shown on the page (and
/// found by the browser test) instead of failing silently.
const ERROR_HOOK: &str = include_str!("assets/errors.js");

/// Renders the report of the run folder `dir` as one HTML document. Missing or damaged
/// files are named on the page; only a folder that is not a run at all is an error.
pub fn render_run_report(dir: &Path) -> Result<String, ReportError> {
    let run = load::RunData::load(dir)?;
    Ok(render(&run))
}

/// Renders the report of `dir` and writes it to `dir/report.html`, returning that path.
pub fn write_run_report(dir: &Path) -> Result<PathBuf, ReportError> {
    let html = render_run_report(dir)?;
    let path = dir.join("report.html");
    write_in_place(&path, html.as_bytes()).map_err(|source| ReportError::Write {
        path: path.clone(),
        source,
    })?;
    Ok(path)
}

/// Writes `path` through a new file beside it, renamed over it: a `report.html` that is a
/// symbolic link (a run folder from elsewhere) is replaced, never written through.
pub(crate) fn write_in_place(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    // Readable by all, as a plain write under the usual umask leaves it: reports are shared.
    let mut file = tempfile::Builder::new()
        .permissions(std::os::unix::fs::PermissionsExt::from_mode(0o644))
        .tempfile_in(dir)?;
    std::io::Write::write_all(&mut file, bytes)?;
    file.persist(path).map_err(|e| e.error)?;
    Ok(())
}

/// A fresh unpredictable token for the page's script nonce: the target writes its logs
/// before the report exists, so it cannot guess the token an injected script would need.
fn nonce() -> String {
    let state = std::collections::hash_map::RandomState::new();
    (0..2)
        .map(|i| {
            let mut h = state.build_hasher();
            h.write_u8(i);
            format!("{:016x}", h.finish())
        })
        .collect()
}

/// The span of every time axis: from the first instant anything was recorded (to the whole
/// second below: the harness counts from before the cluster was built, which can take
/// minutes on first use) to the last.
fn run_span(run: &load::RunData, ops: &[ops::Op]) -> (u64, u64) {
    let history = ops.iter().flat_map(|op| [Some(op.start), op.end]).flatten();
    let faults = run.faults.iter().flatten().map(|f| f.time);
    let trace = run.trace.iter().flatten().map(|t| t.time);
    let metrics = run.metrics.iter().flatten().filter_map(|m| m.time);
    let healed = run.manifest.iter().filter_map(|m| m.healed_at);
    let times: Vec<u64> = history
        .chain(faults)
        .chain(trace)
        .chain(metrics)
        .chain(healed)
        .collect();
    let first = times.iter().min().copied().unwrap_or(0);
    let last = times.iter().max().copied().unwrap_or(0);
    (first / 1_000_000_000 * 1_000_000_000, last.max(1))
}

fn render(run: &load::RunData) -> String {
    let empty = Vec::new();
    let paired = ops::pair(run.events.as_deref().unwrap_or(&empty));
    let byzantine = run.manifest.as_ref().map_or(&[][..], |m| &m.byzantine[..]);
    let (nemesis, adversary) =
        actions::Lanes::split(run.faults.as_deref().unwrap_or(&[]), byzantine);
    let intervals = faults::intervals(&nemesis);
    let (start, end) = run_span(run, &paired.ops);
    let axis = svg::Axis::run(start, end);
    let violations = violation::violations(run.verdict.as_ref());
    let highlight = violation::highlight(&violations);
    let title = run
        .manifest
        .as_ref()
        .map(|m| m.run_id.clone())
        .unwrap_or_else(|| run.dir.display().to_string());

    let history_sections = match &run.events {
        Some(_) => format!(
            "{}{}{}",
            violation::section(&violations, &paired.ops, &intervals, &adversary),
            timeline::section(
                &paired.ops,
                paired.skipped,
                &axis,
                &intervals,
                &adversary,
                &highlight
            ),
            plots::section(&paired.ops, &axis, &intervals, &adversary)
        ),
        None => "<section id=\"timeline\"><h2>Timeline</h2><p class=\"missing\">history.jsonl is missing: no timeline, latency or throughput.</p></section>".into(),
    };
    let data = json!({
        "ops": paired.ops.iter().map(ops::Op::to_json).collect::<Vec<_>>(),
        "blocked": violations.first().and_then(|v| v.op_index),
    });
    let detectors = detectors::section(run.detectors.as_ref(), &intervals, &adversary);
    let nav: Vec<(&str, &str)> = [
        ("header", "Run", true),
        ("violations", "Violation", !violations.is_empty()),
        ("timeline", "Timeline", true),
        ("plots", "Latency", run.events.is_some()),
        ("heatmaps", "Heat maps", true),
        ("faults", "Faults", true),
        ("detectors", "Detectors", !detectors.is_empty()),
        ("logs", "Logs", true),
    ]
    .into_iter()
    .filter(|(_, _, shown)| *shown)
    .map(|(id, name, _)| (id, name))
    .collect();
    let main = format!(
        "{}{history_sections}{}{}{detectors}{}",
        header::section(run),
        heatmap::section(
            run.trace.as_deref(),
            run.metrics.as_deref(),
            &axis,
            &intervals
        ),
        faults::section(
            run.faults.as_ref().map(|_| &nemesis[..]),
            &intervals,
            &adversary
        ),
        logs::section(&run.logs),
    );
    page(&title, &nav, &main, &escape::script_json(&data), JS)
}

/// The document around a report's sections, shared by run and campaign reports: a
/// Content-Security-Policy that allows only this render's scripts (by nonce) and no
/// network, inline CSS, the error hook, the navigation, the page's data and its script.
fn page(title: &str, nav: &[(&str, &str)], main: &str, data_json: &str, script: &str) -> String {
    let nonce = nonce();
    let nav: String = nav
        .iter()
        .map(|(id, name)| format!("<a href=\"#{id}\">{name}</a>"))
        .collect();
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'; script-src 'nonce-{nonce}'; img-src data:\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>traitor: {}</title><style>{CSS}</style><script nonce=\"{nonce}\">{ERROR_HOOK}</script></head>\
         <body><nav>{nav}</nav><ul id=\"js-errors\" hidden></ul><main>{main}</main>\
         <script type=\"application/json\" id=\"report-data\">{data_json}</script>\
         <script nonce=\"{nonce}\">{script}</script></body></html>\n",
        escape::html(title),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use traitor_model::FaultRecord;

    #[test]
    fn the_axis_starts_at_the_first_record_to_the_second() {
        let fault = |time| FaultRecord {
            time,
            kind: "crash".into(),
            nodes: vec![0],
            detail: serde_json::Value::Null,
        };
        let run = load::RunData {
            faults: Some(vec![fault(272_819_130_309), fault(288_175_324_310)]),
            ..Default::default()
        };
        assert_eq!(run_span(&run, &[]), (272_000_000_000, 288_175_324_310));
        assert_eq!(run_span(&load::RunData::default(), &[]), (0, 1));
    }
}
