//! A campaign's summary for the terminal (tables) and for CI systems (JUnit XML: one test
//! case per run; a false positive, an undecided check or a miss is a failure carrying its
//! evidence and run folder; a run that could not finish is an error).

use quick_junit::{NonSuccessKind, Report, TestCase, TestCaseStatus, TestSuite};
use std::fmt::Write;
use std::path::Path;
use std::time::Duration;
use tabled::settings::Style;
use tabled::{Table, Tabled};
use traitor_checkers::accuracy::Outcome;
use traitor_checkers::campaign::Summary;

#[derive(Tabled)]
struct CellRow {
    #[tabled(rename = "target / variant / faults / n")]
    cell: String,
    runs: u32,
    #[tabled(rename = "caught / expected")]
    caught: String,
    #[tabled(rename = "detection")]
    rate: String,
    #[tabled(rename = "false pos.")]
    false_positives: u32,
    errors: u32,
    gate: &'static str,
}

#[derive(Tabled)]
struct ConfusionRow {
    checker: String,
    #[tabled(rename = "expected, found")]
    expected_found: u32,
    #[tabled(rename = "expected, missed")]
    expected_missed: u32,
    #[tabled(rename = "found, not expected")]
    unexpected_found: u32,
    neither: u32,
    undecided: u32,
    #[tabled(rename = "free: found / quiet")]
    free: String,
}

#[derive(Tabled)]
struct DetectorRow {
    detector: String,
    precision: String,
    recall: String,
    #[tabled(rename = "F1")]
    f1: String,
    #[tabled(rename = "median latency")]
    latency: String,
}

/// A percentage, or "-" when there was nothing to divide.
pub fn percent(rate: Option<f64>) -> String {
    rate.map_or_else(|| "-".into(), |r| format!("{:.0}%", r * 100.0))
}

/// The cells, the confusion matrices, every run against expectation and the gate, as text.
pub fn terminal(summary: &Summary) -> String {
    let cells = summary.cells.iter().map(|c| CellRow {
        cell: c.cell.clone(),
        runs: c.runs,
        caught: if c.expected == 0 {
            "-".into()
        } else {
            format!("{} / {}", c.caught, c.expected)
        },
        rate: percent(c.detection_rate),
        false_positives: c.false_positives,
        errors: c.errors,
        gate: if c.passed { "pass" } else { "FAIL" },
    });
    let confusion = summary.confusion.iter().map(|(checker, m)| ConfusionRow {
        checker: checker.clone(),
        expected_found: m.expected_found,
        expected_missed: m.expected_missed,
        unexpected_found: m.unexpected_found,
        neither: m.neither,
        undecided: m.undecided,
        free: format!("{} / {}", m.free_found, m.free_quiet),
    });
    let mut out = String::new();
    let _ = writeln!(out, "{}", Table::new(cells).with(Style::sharp()));
    let _ = writeln!(out, "{}", Table::new(confusion).with(Style::sharp()));
    if let Some(detectors) = summary
        .detectors
        .as_ref()
        .and_then(|d| d["detectors"].as_object())
    {
        let rows = detectors.iter().map(|(name, d)| DetectorRow {
            detector: name.clone(),
            precision: percent(d["precision"].as_f64()),
            recall: percent(d["recall"].as_f64()),
            f1: d["f1"].as_f64().map_or("-".into(), |f| format!("{f:.2}")),
            latency: d["latency_median_ms"]
                .as_f64()
                .map_or("-".into(), |ms| format!("{:.1} s", ms / 1000.0)),
        });
        let _ = writeln!(out, "{}", Table::new(rows).with(Style::sharp()));
    }
    for run in summary
        .runs
        .iter()
        .filter(|r| r.outcome != Outcome::AsExpected)
    {
        let _ = writeln!(
            out,
            "{}: {} ({}) {}",
            run.outcome.word(),
            run.id,
            run.cell,
            run.evidence
        );
    }
    let g = &summary.gate;
    let _ = writeln!(
        out,
        "gate {}: {} run(s) in {:.0}s; {} false positive(s), {} false negative(s), {} undecided, {} error(s), {} cell(s) below the bar of {}, {} not run",
        if g.passed { "PASSED" } else { "FAILED" },
        summary.runs.len(),
        summary.wall_time_s,
        g.false_positives,
        g.false_negatives,
        g.undecided,
        g.errors,
        g.cells_failed,
        percent(Some(summary.min_detection_rate)),
        g.not_run
    );
    out
}

/// The JUnit XML of a campaign: one suite per target, one case per run, named by run id
/// with the cell as class name.
pub fn junit(summary: &Summary, campaign_dir: &Path) -> Result<String, String> {
    let mut report = Report::new(format!("traitor campaign {}", summary.campaign));
    report.set_time(Duration::from_secs_f64(summary.wall_time_s.max(0.0)));
    let mut targets: Vec<&str> = summary.runs.iter().map(|r| r.target.as_str()).collect();
    targets.dedup();
    targets.sort_unstable();
    targets.dedup();
    for target in targets {
        let mut suite = TestSuite::new(target);
        for run in summary.runs.iter().filter(|r| r.target == target) {
            let folder = campaign_dir.join(&run.id);
            let status = match run.outcome {
                Outcome::AsExpected => TestCaseStatus::success(),
                outcome => {
                    let kind = if outcome == Outcome::Error {
                        NonSuccessKind::Error
                    } else {
                        NonSuccessKind::Failure
                    };
                    let mut status = TestCaseStatus::non_success(kind);
                    status
                        .set_message(format!("{}: {}", outcome.word(), run.evidence))
                        .set_type(outcome.word())
                        .set_description(format!(
                            "{}\nexpected: {}\nrun folder: {}\nreport: {}",
                            run.evidence,
                            run.expectation.reason,
                            folder.display(),
                            folder.join("report.html").display()
                        ));
                    status
                }
            };
            let mut case = TestCase::new(run.id.clone(), status);
            case.set_classname(run.cell.clone())
                .set_time(Duration::from_secs_f64(run.elapsed_s.max(0.0)));
            suite.add_test_case(case);
        }
        report.add_test_suite(suite);
    }
    report.to_string().map_err(|e| e.to_string())
}
