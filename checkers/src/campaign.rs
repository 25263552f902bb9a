//! A campaign's results as data (`summary.json` in the campaign folder): every run judged
//! against its expectation, the detection rate of every cell, each checker's confusion
//! matrix and the gate's decision. The campaign report and the JUnit file are built from it.

use crate::accuracy::{Confusion, Expect, Expectation, Outcome};
use crate::verdict::Validity;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeMap;

/// One run as the campaign saw it (also kept as `campaign-run.json` in its folder, which is
/// how a resumed campaign knows the run is done).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct RunRecord {
    /// The run folder's name in the campaign folder.
    pub id: String,
    /// target / variant / faults / n: the same configuration under other seeds.
    pub cell: String,
    pub target: String,
    pub variant: Option<String>,
    pub faults: String,
    pub n: u32,
    pub seed: u64,
    pub expectation: Expectation,
    /// The planned run's fingerprint (arguments and the files they name): a resumed
    /// campaign keeps this record only if the run it plans now has the same one.
    #[serde(default)]
    pub fingerprint: String,
    /// Each checker's answer, from the run's `verdict.json`.
    pub found: BTreeMap<String, Validity>,
    pub outcome: Outcome,
    /// One line a person can act on: the violation, the miss or the failure.
    pub evidence: String,
    pub elapsed_s: f64,
    /// The run finished in an earlier, interrupted invocation and was not run again.
    #[serde(default)]
    pub resumed: bool,
    /// The fault detectors' score of this run (`detectors.json`), when they ran.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detectors: Option<Value>,
}

impl RunRecord {
    /// Whether a known bug the run was expected to expose was caught.
    pub fn caught(&self) -> bool {
        self.expectation.checks.iter().any(|(checker, e)| {
            *e == Expect::Violated && self.found.get(checker) == Some(&Validity::Violated)
        })
    }
}

/// A configuration over its seeds: how often an exposed known bug was caught.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Cell {
    pub cell: String,
    pub runs: u32,
    /// Runs expected to catch a known bug.
    pub expected: u32,
    pub caught: u32,
    /// caught / expected; `None` when nothing was expected to be caught.
    pub detection_rate: Option<f64>,
    pub false_positives: u32,
    pub errors: u32,
    /// The cell meets the campaign's bar (no false positive, no error, detection rate at
    /// least `min_detection_rate`).
    pub passed: bool,
}

/// The whole campaign.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Summary {
    pub campaign: String,
    pub started_at: String,
    pub ended_at: String,
    /// Wall time of the invocation that wrote this summary (a resume counts only itself).
    pub wall_time_s: f64,
    /// The runs' own durations added up, across every invocation.
    #[serde(default)]
    pub run_time_s: f64,
    pub min_detection_rate: f64,
    /// Runs planned; fewer are in `runs` when the campaign was interrupted.
    pub planned: u32,
    pub runs: Vec<RunRecord>,
    pub cells: Vec<Cell>,
    pub confusion: BTreeMap<String, Confusion>,
    /// Detector scores over every run that has them, from the detectors' own aggregation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detectors: Option<Value>,
    pub gate: Gate,
}

/// What the CI gate decides and why.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct Gate {
    pub passed: bool,
    pub false_positives: u32,
    pub false_negatives: u32,
    pub undecided: u32,
    pub errors: u32,
    /// Cells whose detection rate is under the bar.
    pub cells_failed: u32,
    /// Runs planned but not run (interrupted).
    pub not_run: u32,
}

impl Summary {
    /// Builds cells, confusion matrices and the gate from the runs.
    pub fn build(
        campaign: String,
        planned: u32,
        runs: Vec<RunRecord>,
        min_detection_rate: f64,
    ) -> Self {
        let mut cells: Vec<Cell> = Vec::new();
        for run in &runs {
            let index = match cells.iter().position(|c| c.cell == run.cell) {
                Some(i) => i,
                None => {
                    cells.push(Cell {
                        cell: run.cell.clone(),
                        runs: 0,
                        expected: 0,
                        caught: 0,
                        detection_rate: None,
                        false_positives: 0,
                        errors: 0,
                        passed: true,
                    });
                    cells.len() - 1
                }
            };
            let cell = &mut cells[index];
            cell.runs += 1;
            if run.outcome == Outcome::Error {
                cell.errors += 1;
                continue;
            }
            if run.expectation.caught_expected {
                cell.expected += 1;
                cell.caught += u32::from(run.caught());
            }
            if matches!(run.outcome, Outcome::FalsePositive | Outcome::Undecided) {
                cell.false_positives += 1;
            }
        }
        for cell in &mut cells {
            cell.detection_rate = crate::accuracy::ratio(cell.caught, cell.expected);
            cell.passed = cell.false_positives == 0
                && cell.errors == 0
                && cell
                    .detection_rate
                    .is_none_or(|r| r + 1e-9 >= min_detection_rate);
        }
        let judged = runs.iter().filter(|r| r.outcome != Outcome::Error);
        let confusion = crate::accuracy::confusion(judged.map(|r| (&r.expectation, &r.found)));
        let count = |o: Outcome| runs.iter().filter(|r| r.outcome == o).count() as u32;
        let mut gate = Gate {
            passed: false,
            false_positives: count(Outcome::FalsePositive),
            false_negatives: count(Outcome::FalseNegative),
            undecided: count(Outcome::Undecided),
            errors: count(Outcome::Error),
            cells_failed: cells.iter().filter(|c| !c.passed).count() as u32,
            not_run: planned.saturating_sub(runs.len() as u32),
        };
        gate.passed = gate.cells_failed == 0 && gate.not_run == 0;
        Self {
            campaign,
            started_at: String::new(),
            ended_at: String::new(),
            wall_time_s: 0.0,
            run_time_s: runs.iter().map(|r| r.elapsed_s).sum(),
            min_detection_rate,
            planned,
            runs,
            cells,
            confusion,
            detectors: None,
            gate,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::accuracy::RunFacts;

    const CHECKERS: [&str; 2] = ["agreement", "validity"];

    fn record(cell: &str, violates: Option<&[String]>, found_agreement: Validity) -> RunRecord {
        let expectation = Expectation::derive(&RunFacts {
            violates,
            fault_budget_exceeded: false,
            exposed: true,
            safety_expected: true,
            liveness_expected: true,
            liveness_gated: true,
            checkers: &CHECKERS,
        });
        let found: BTreeMap<String, Validity> = [
            ("agreement".to_string(), found_agreement),
            ("validity".to_string(), Validity::Holds),
        ]
        .into();
        let outcome = crate::accuracy::judge(&expectation, &found);
        RunRecord {
            id: format!("{cell}-{}", found_agreement.word()),
            cell: cell.into(),
            target: "t".into(),
            variant: None,
            faults: "f".into(),
            n: 4,
            seed: 1,
            expectation,
            fingerprint: String::new(),
            found,
            outcome,
            evidence: String::new(),
            elapsed_s: 1.0,
            resumed: false,
            detectors: None,
        }
    }

    #[test]
    fn cells_gate_on_the_detection_rate() {
        let bug = vec!["agreement".to_string()];
        let runs = vec![
            record("bug", Some(&bug), Validity::Violated),
            record("bug", Some(&bug), Validity::Holds),
            record("ok", None, Validity::Holds),
        ];
        let every = Summary::build("c".into(), 3, runs.clone(), 1.0);
        assert_eq!(every.cells[0].detection_rate, Some(0.5));
        assert!(!every.cells[0].passed);
        assert!(every.cells[1].passed);
        assert!(!every.gate.passed);
        assert_eq!(every.gate.false_negatives, 1);
        let once = Summary::build("c".into(), 3, runs, 0.01);
        assert!(once.gate.passed, "{:?}", once.gate);
        assert_eq!(once.gate.false_negatives, 1, "the miss is still listed");
    }

    #[test]
    fn a_false_positive_or_a_missing_run_fails_the_gate() {
        let runs = vec![record("ok", None, Validity::Violated)];
        let s = Summary::build("c".into(), 1, runs, 0.01);
        assert_eq!(s.gate.false_positives, 1);
        assert!(!s.gate.passed);
        let s = Summary::build(
            "c".into(),
            2,
            vec![record("ok", None, Validity::Holds)],
            1.0,
        );
        assert_eq!(s.gate.not_run, 1);
        assert!(!s.gate.passed);
    }
}
