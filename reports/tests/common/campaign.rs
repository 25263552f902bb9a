//! A synthetic campaign summary with one run of every outcome, attack strings in the
//! places a target's output can reach (evidence, error text), for the campaign report tests.

use std::collections::BTreeMap;
use std::path::Path;
use traitor_checkers::accuracy::{judge, Expectation, Outcome, RunFacts};
use traitor_checkers::campaign::{RunRecord, Summary};
use traitor_checkers::Validity;

pub const ATTACK: &str = "<script>alert(1)</script>\"><img src=x onerror=alert(1)>";

const CHECKERS: [&str; 4] = ["agreement", "linearizability", "termination", "validity"];

fn run(variant: Option<&str>, faults: &str, seed: u64, agreement: Validity) -> RunRecord {
    let violates = vec!["agreement".to_string()];
    let expectation = Expectation::derive(&RunFacts {
        violates: variant.map(|_| violates.as_slice()),
        fault_budget_exceeded: false,
        exposed: faults == "crash-primary",
        safety_expected: true,
        liveness_expected: true,
        liveness_gated: true,
        checkers: &CHECKERS,
    });
    let mut found: BTreeMap<String, Validity> = CHECKERS
        .iter()
        .map(|c| (c.to_string(), Validity::Holds))
        .collect();
    found.insert("agreement".into(), agreement);
    let outcome = judge(&expectation, &found);
    let name = variant.unwrap_or("correct");
    RunRecord {
        id: format!("pbft-{name}-{faults}-n4-s{seed}"),
        cell: format!("pbft / {name} / {faults} / n=4"),
        target: "pbft".into(),
        variant: variant.map(str::to_string),
        faults: faults.into(),
        n: 4,
        seed,
        expectation,
        fingerprint: String::new(),
        found,
        outcome,
        evidence: match outcome {
            Outcome::AsExpected if agreement == Validity::Violated => {
                "agreement: correct nodes 0 and 1 committed different entries at seq 12".into()
            }
            Outcome::AsExpected => "every check held".into(),
            _ => format!("agreement: node log said {ATTACK}"),
        },
        elapsed_s: 14.0,
        resumed: seed == 1,
        detectors: None,
    }
}

/// Six runs: caught, missed (a false negative), a false positive, clean, and an error.
pub fn summary() -> Summary {
    let bug = Some("viewchange-drops-prepared");
    let mut error = run(None, "quiet", 3, Validity::Holds);
    error.outcome = Outcome::Error;
    error.found.clear();
    error.evidence = format!("`traitor run` exited with 3: {ATTACK}");
    let runs = vec![
        run(bug, "crash-primary", 1, Validity::Violated),
        run(bug, "crash-primary", 2, Validity::Holds),
        run(bug, "quiet", 1, Validity::Holds),
        run(None, "crash-primary", 1, Validity::Violated),
        run(None, "quiet", 1, Validity::Holds),
        error,
    ];
    let mut s = Summary::build("gate".into(), 7, runs, 1.0);
    s.started_at = "2026-11-21T10:00:00Z".into();
    s.ended_at = "2026-11-21T10:02:00Z".into();
    s.wall_time_s = 120.0;
    s.detectors = Some(serde_json::json!({"detectors": {
        "crash": {"precision": 1.0, "recall": 0.5, "f1": 0.667, "latency_median_ms": 820},
        "muteness": {"precision": null, "recall": 0.0, "f1": null, "latency_median_ms": null}
    }}));
    s
}

/// Writes the summary to `dir/summary.json`.
pub fn write_summary(dir: &Path) -> Summary {
    let s = summary();
    std::fs::write(
        dir.join("summary.json"),
        serde_json::to_string_pretty(&s).unwrap(),
    )
    .unwrap();
    s
}
