//! The campaign report (`report.html` in the campaign folder), built from `summary.json`
//! alone: the gate's decision, the matrix of configurations x fault sets with each seed's
//! outcome against expectation, every checker's confusion matrix, the fault detectors'
//! scores, and the false positives and false negatives each with its evidence and a link to
//! its run's report.

use super::escape::{html, script_json};
use super::page;
use crate::campaign::percent;
use std::collections::BTreeMap;
use std::fmt::Write;
use std::path::{Path, PathBuf};
use traitor_checkers::accuracy::{Expect, Outcome};
use traitor_checkers::campaign::{RunRecord, Summary};
use traitor_checkers::files::{read_in, MAX_DOCUMENT_BYTES};
use traitor_checkers::Validity;

/// Why no campaign report could be made.
#[derive(Debug, thiserror::Error)]
pub enum CampaignReportError {
    #[error("{path}: {why}; pass a folder `traitor campaign` wrote")]
    Summary { path: PathBuf, why: String },
    #[error("writing the report {path}: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// Whether `dir` is a campaign folder (it has `summary.json`).
pub fn is_campaign(dir: &Path) -> bool {
    dir.join("summary.json").is_file()
}

/// Reads `dir/summary.json` and writes `dir/report.html`, returning its path.
pub fn write_campaign_report(dir: &Path) -> Result<PathBuf, CampaignReportError> {
    let path = dir.join("summary.json");
    let why = |why: String| CampaignReportError::Summary {
        path: path.clone(),
        why,
    };
    let text = read_in(dir, "summary.json", MAX_DOCUMENT_BYTES)
        .map_err(|e| why(format!("not read: it {e}")))?
        .ok_or_else(|| why("missing".into()))?;
    let summary: Summary = serde_json::from_slice(&text).map_err(|e| why(e.to_string()))?;
    let out = dir.join("report.html");
    super::write_in_place(&out, render_campaign_report(&summary).as_bytes()).map_err(|source| {
        CampaignReportError::Write {
            path: out.clone(),
            source,
        }
    })?;
    Ok(out)
}

/// The whole page.
pub fn render_campaign_report(summary: &Summary) -> String {
    let main = [
        header(summary),
        matrix(summary),
        listed(
            summary,
            "false-positives",
            "False positives",
            &[Outcome::FalsePositive, Outcome::Undecided],
            "No run reported a violation (or failed to decide) where the property had to hold.",
        ),
        listed(
            summary,
            "false-negatives",
            "False negatives",
            &[Outcome::FalseNegative],
            "Every run expected to catch a known bug caught it.",
        ),
        confusion(summary),
        detectors(summary),
        listed(
            summary,
            "errors",
            "Runs that could not finish",
            &[Outcome::Error],
            "Every run finished.",
        ),
        runs(summary),
    ]
    .concat();
    let nav = [
        ("header", "Campaign"),
        ("matrix", "Matrix"),
        ("false-positives", "False positives"),
        ("false-negatives", "False negatives"),
        ("confusion", "Checkers"),
        ("detectors", "Detectors"),
        ("runs", "Runs"),
    ];
    let data = serde_json::json!({"runs": summary.runs.len()});
    page(
        &format!("campaign {}", summary.campaign),
        &nav,
        &main,
        &script_json(&data),
        CAMPAIGN_JS,
    )
}

/// Marks the page ready (for the browser test) and filters the runs table by outcome.
const CAMPAIGN_JS: &str = include_str!("assets/campaign.js");

fn header(s: &Summary) -> String {
    let g = &s.gate;
    let (class, word) = if g.passed {
        ("holds", "GATE PASSED")
    } else {
        ("violated", "GATE FAILED")
    };
    let mut out = format!(
        "<header id=\"header\"><h1>traitor campaign <span class=\"run-id\">{}</span></h1>\
         <span class=\"badge {class}\">{word}</span>",
        html(&s.campaign)
    );
    let _ = write!(
        out,
        "<dl class=\"meta\"><dt>runs</dt><dd>{} of {} planned</dd><dt>wall time</dt><dd>{:.0} s (this invocation); runs took {:.0} s in all</dd>\
         <dt>started</dt><dd>{}</dd><dt>ended</dt><dd>{}</dd>\
         <dt>false positives</dt><dd>{}</dd><dt>false negatives</dt><dd>{}</dd>\
         <dt>undecided</dt><dd>{}</dd><dt>errors</dt><dd>{}</dd>\
         <dt>detection bar</dt><dd>{} of each cell's seeds</dd><dt>cells below it</dt><dd>{}</dd></dl>",
        s.runs.len(),
        s.planned,
        s.wall_time_s,
        s.run_time_s,
        html(&s.started_at),
        html(&s.ended_at),
        g.false_positives,
        g.false_negatives,
        g.undecided,
        g.errors,
        percent(Some(s.min_detection_rate)),
        g.cells_failed,
    );
    out.push_str(
        "<p class=\"hint\">A correct target within its fault budget must show no safety violation; \
         a known bug under a fault declared able to expose it must be caught. A false positive is a \
         violation where the property had to hold; a false negative is an exposed bug not caught.</p></header>",
    );
    out
}

/// The class and the short word of an outcome, for cells and rows.
fn outcome_class(outcome: Outcome) -> (&'static str, &'static str) {
    match outcome {
        Outcome::AsExpected => ("as-expected", "ok"),
        Outcome::FalsePositive => ("false-positive", "FP"),
        Outcome::FalseNegative => ("false-negative", "FN"),
        Outcome::Undecided => ("undecided", "?"),
        Outcome::Error => ("error", "ERR"),
    }
}

/// A link to a run's own report, relative to the campaign folder.
fn run_link(run: &RunRecord, text: &str) -> String {
    format!(
        "<a href=\"{}/report.html\">{}</a>",
        html(&run.id),
        html(text)
    )
}

/// Rows: target / variant / n; columns: fault sets; in each cell a mark per seed.
fn matrix(s: &Summary) -> String {
    let mut faults: Vec<&str> = Vec::new();
    let mut rows: Vec<(String, Option<&str>)> = Vec::new();
    let mut cells: BTreeMap<(String, &str), Vec<&RunRecord>> = BTreeMap::new();
    for run in &s.runs {
        if !faults.contains(&run.faults.as_str()) {
            faults.push(&run.faults);
        }
        let row = format!(
            "{} / {} / n={}",
            run.target,
            run.variant.as_deref().unwrap_or("correct"),
            run.n
        );
        if !rows.iter().any(|(r, _)| *r == row) {
            rows.push((row.clone(), run.variant.as_deref()));
        }
        cells.entry((row, &run.faults)).or_default().push(run);
    }
    let mut out = String::from(
        "<section id=\"matrix\"><h2>Matrix</h2><p class=\"hint\">Each mark is one seed, linked to its run's report: \
         <span class=\"mark as-expected\">ok</span> as expected, <span class=\"mark false-positive\">FP</span> false positive, \
         <span class=\"mark false-negative\">FN</span> false negative, <span class=\"mark undecided\">?</span> undecided, \
         <span class=\"mark error\">ERR</span> could not finish. Under the marks: caught / expected for exposed bugs.</p>\
         <div class=\"scroll\"><table class=\"data matrix\"><thead><tr><th>target / variant / n</th>",
    );
    for f in &faults {
        let _ = write!(out, "<th>{}</th>", html(f));
    }
    out.push_str("</tr></thead><tbody>");
    // The correct code first: it is what every bug row is read against.
    rows.sort_by_key(|(_, variant)| variant.is_some());
    let cell_info: BTreeMap<&str, _> = s.cells.iter().map(|c| (c.cell.as_str(), c)).collect();
    for (row, variant) in &rows {
        let kind = if variant.is_some() { "bug" } else { "correct" };
        let _ = write!(out, "<tr class=\"{kind}\"><th>{}</th>", html(row));
        for f in &faults {
            let Some(runs) = cells.get(&(row.clone(), *f)) else {
                out.push_str("<td class=\"empty\"></td>");
                continue;
            };
            let info = cell_info.get(runs[0].cell.as_str());
            let passed = info.is_none_or(|c| c.passed);
            let _ = write!(
                out,
                "<td class=\"cell {}\">",
                if passed { "pass" } else { "fail" }
            );
            for run in runs {
                let (class, word) = outcome_class(run.outcome);
                let _ = write!(
                    out,
                    "<a class=\"mark {class}\" href=\"{}/report.html\" title=\"seed {}: {}\">{word}</a>",
                    html(&run.id),
                    run.seed,
                    html(&format!("{}: {}", run.outcome.word(), run.evidence))
                );
            }
            if let Some(c) = info.filter(|c| c.expected > 0) {
                let _ = write!(
                    out,
                    "<div class=\"rate\">caught {} / {} ({})</div>",
                    c.caught,
                    c.expected,
                    percent(c.detection_rate)
                );
            }
            out.push_str("</td>");
        }
        out.push_str("</tr>");
    }
    out.push_str("</tbody></table></div></section>");
    out
}

/// A list of the runs with the given outcomes, each with its evidence and link.
fn listed(s: &Summary, id: &str, title: &str, outcomes: &[Outcome], none: &str) -> String {
    let runs: Vec<&RunRecord> = s
        .runs
        .iter()
        .filter(|r| outcomes.contains(&r.outcome))
        .collect();
    let mut out = format!("<section id=\"{id}\"><h2>{title} ({})</h2>", runs.len());
    if runs.is_empty() {
        let _ = write!(out, "<p>{none}</p></section>");
        return out;
    }
    out.push_str("<table class=\"data\"><thead><tr><th>run</th><th>configuration</th><th>seed</th><th>evidence</th><th>expected</th></tr></thead><tbody>");
    for run in runs {
        let _ = write!(
            out,
            "<tr class=\"{}\"><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            outcome_class(run.outcome).0,
            run_link(run, &run.id),
            html(&run.cell),
            run.seed,
            html(&run.evidence),
            html(&run.expectation.reason)
        );
    }
    out.push_str("</tbody></table></section>");
    out
}

fn confusion(s: &Summary) -> String {
    let mut out = String::from(
        "<section id=\"confusion\"><h2>Checkers against expectations</h2>\
         <p class=\"hint\">Per checker over every finished run. \"Free\" runs are those where theory promises nothing \
         (outside the fault budget, or a bug without an exposing fault).</p>\
         <table class=\"data\"><thead><tr><th>checker</th><th>expected, found</th><th>expected, missed</th>\
         <th>found, not expected</th><th>neither</th><th>undecided</th><th>free: found</th><th>free: quiet</th>\
         <th>recall</th><th>false-positive rate</th></tr></thead><tbody>",
    );
    for (checker, m) in &s.confusion {
        let _ = write!(
            out,
            "<tr><th>{}</th><td>{}</td><td{}>{}</td><td{}>{}</td><td>{}</td><td{}>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            html(checker),
            m.expected_found,
            bad_if(m.expected_missed),
            m.expected_missed,
            bad_if(m.unexpected_found),
            m.unexpected_found,
            m.neither,
            bad_if(m.undecided),
            m.undecided,
            m.free_found,
            m.free_quiet,
            percent(m.recall()),
            percent(m.false_positive_rate()),
        );
    }
    out.push_str("</tbody></table></section>");
    out
}

fn bad_if(count: u32) -> &'static str {
    if count > 0 {
        " class=\"bad\""
    } else {
        ""
    }
}

/// Detector scores as the detectors aggregated them: one row per detector, one column per
/// figure they report.
fn detectors(s: &Summary) -> String {
    let mut out = String::from("<section id=\"detectors\"><h2>Fault detectors</h2>");
    let Some(table) = s.detectors.as_ref().and_then(|d| {
        d.get("detectors")
            .and_then(|x| x.as_object())
            .or_else(|| d.as_object())
    }) else {
        out.push_str("<p>No run of this campaign recorded detector scores.</p></section>");
        return out;
    };
    // Precision, recall and F1 first, as they are read; then whatever else was scored.
    let mut columns: Vec<&str> = vec!["precision", "recall", "f1"];
    for scores in table.values() {
        let figures = scores
            .as_object()
            .into_iter()
            .flatten()
            .filter(|(_, v)| !v.is_array() && !v.is_object());
        for (key, _) in figures {
            if !columns.contains(&key.as_str()) {
                columns.push(key);
            }
        }
    }
    out.push_str("<p class=\"hint\">Scored against faults.jsonl, the ground truth of what each node did wrong and when.</p><table class=\"data\"><thead><tr><th>detector</th>");
    for c in &columns {
        let _ = write!(out, "<th>{}</th>", html(c));
    }
    out.push_str("</tr></thead><tbody>");
    for (name, scores) in table {
        let _ = write!(out, "<tr><th>{}</th>", html(name));
        for c in &columns {
            let cell = match &scores[*c] {
                serde_json::Value::Number(n) => match n.as_f64() {
                    Some(x) if n.is_f64() => format!("{x:.3}"),
                    _ => n.to_string(),
                },
                serde_json::Value::Null => "-".into(),
                other => other.to_string(),
            };
            let _ = write!(out, "<td>{}</td>", html(&cell));
        }
        out.push_str("</tr>");
    }
    out.push_str("</tbody></table>");
    for (name, scores) in table {
        for (field, what) in [
            ("false_positive_runs", "named a node that had no such fault"),
            ("false_negative_runs", "missed a node that had such a fault"),
        ] {
            let Some(list) = scores[field].as_array().filter(|l| !l.is_empty()) else {
                continue;
            };
            let _ = write!(out, "<h4>{} {what} ({})</h4><ul>", html(name), list.len());
            for entry in list {
                let run = entry["run"].as_str().unwrap_or_default();
                let _ = write!(
                    out,
                    "<li><a href=\"{}/report.html\">{}</a>: node(s) {}</li>",
                    html(run),
                    html(run),
                    html(&entry["nodes"].to_string())
                );
            }
            out.push_str("</ul>");
        }
    }
    out.push_str("</section>");
    out
}

/// Every run, filterable by outcome.
fn runs(s: &Summary) -> String {
    let mut out = String::from(
        "<section id=\"runs\"><h2>Runs</h2><p><label>Show <select id=\"outcome-filter\">\
         <option value=\"\">every run</option><option value=\"as-expected\">as expected</option>\
         <option value=\"false-positive\">false positives</option><option value=\"false-negative\">false negatives</option>\
         <option value=\"undecided\">undecided</option><option value=\"error\">errors</option></select></label></p>\
         <table class=\"data\" id=\"run-table\"><thead><tr><th>run</th><th>seed</th><th>outcome</th><th>checks (expected \u{2192} found)</th>\
         <th>evidence</th><th>time</th></tr></thead><tbody>",
    );
    for run in &s.runs {
        let (class, _) = outcome_class(run.outcome);
        let checks: Vec<String> = if run.found.is_empty() {
            vec!["no verdict: the run did not finish".into()]
        } else {
            run.expectation
                .checks
                .iter()
                .map(|(checker, expect)| {
                    let found = run.found.get(checker).map_or("-", |v| match v {
                        Validity::Holds => "holds",
                        Validity::Violated => "violated",
                        Validity::Unknown => "unknown",
                    });
                    let expect = match expect {
                        Expect::Holds => "holds",
                        Expect::Violated => "breaks",
                        Expect::Either => "any",
                    };
                    format!("{checker}: {expect} \u{2192} {found}")
                })
                .collect()
        };
        let _ = write!(
            out,
            "<tr class=\"{class}\" data-outcome=\"{class}\"><td>{}{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{:.0} s</td></tr>",
            run_link(run, &run.id),
            if run.resumed { " <span class=\"hint\">(resumed)</span>" } else { "" },
            run.seed,
            run.outcome.word(),
            html(&checks.join("; ")),
            html(&run.evidence),
            run.elapsed_s,
        );
    }
    out.push_str("</tbody></table></section>");
    out
}
