//! Scoring the detectors against the truth (`faults.jsonl`), per run and over many runs.
//!
//! Each injected fault makes its culprit faulty in some detector classes ([`TRUTH`]). Per
//! run and detector, a node is a true positive when suspected and expected (faulty in that
//! class), a false positive when suspected and not faulty at all in that class, a false
//! negative when expected and not suspected. A node suspected for a class its fault may
//! plausibly show as, without being expected to ([`Class::excused`]: a crashed node's
//! resources, a corrupter's conflicting copies), is `excused`: neither right nor wrong.
//! Latency is the detector's first finding on the node at or after its first fault of
//! that class, minus that fault's time (negative when the detector spoke only before).
//!
//! A campaign collects each run's [`RunScore`] (`detectors.json`'s `score`) and calls
//! [`aggregate`] for precision, recall, F1 and latency per detector.

use super::{Detector, Finding};
use crate::run_folder::RunFolder;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};
use traitor_model::{FaultRecord, NodeId};

/// Who a fault record makes faulty.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Culprit {
    /// Every node the record lists (the nemesis: the node it crashed or paused).
    Listed,
    /// The record's first node: the sender of the message an adversary acted on.
    Sender,
    /// Nobody: a network fault (every node stays correct) or a heal.
    Nobody,
}

/// What a kind of fault record means for the detectors.
#[derive(Clone, Copy, Debug)]
pub struct Class {
    pub kinds: &'static [&'static str],
    pub culprit: Culprit,
    /// Detectors that should name the culprit (recall counts these).
    pub expected: &'static [Detector],
    /// Detectors that may name it without a false positive, though they need not.
    pub excused: &'static [Detector],
}

use Detector::{
    Crash, Equivocation, IncorrectMessages, Muteness, QuorumParticipation, ResourceAnomaly,
};

/// The mapping from fault kinds to detector classes, in one table. A kind not listed is
/// an adversary's own action (a plugin's): its sender is faulty, no detector is expected
/// to see it and none is wrong to.
///
/// | fault kinds | culprit | expected | excused |
/// |---|---|---|---|
/// | crash, crash-primary, pause | listed | crash, muteness, resource | quorum |
/// | restart (kill and start at once: silent for less than a silence) | listed | crash | muteness, resource, quorum |
/// | omit | sender | muteness, quorum | resource, crash (its other links cut) |
/// | equivocate (-sign), equivocate-twins | sender | equivocation | quorum, resource, muteness, incorrect |
/// | corrupt, impersonate, mutate, replay | sender | incorrect | equivocation, quorum, resource |
/// | partitions, delay, drop, duplicate, reorder, heals, a plugin's note | nobody | | |
pub const TRUTH: [Class; 7] = [
    Class {
        kinds: &["crash", "crash-primary", "pause"],
        culprit: Culprit::Listed,
        expected: &[Crash, Muteness, ResourceAnomaly],
        excused: &[QuorumParticipation],
    },
    Class {
        kinds: &["restart"],
        culprit: Culprit::Listed,
        expected: &[Crash],
        excused: &[Muteness, ResourceAnomaly, QuorumParticipation],
    },
    Class {
        kinds: &["omit"],
        culprit: Culprit::Sender,
        expected: &[Muteness, QuorumParticipation],
        excused: &[ResourceAnomaly, Crash],
    },
    Class {
        kinds: &["equivocate", "equivocate-sign", "equivocate-twins", "twins"],
        culprit: Culprit::Sender,
        expected: &[Equivocation],
        excused: &[
            QuorumParticipation,
            ResourceAnomaly,
            Muteness,
            IncorrectMessages,
        ],
    },
    Class {
        kinds: &["corrupt", "impersonate", "mutate", "replay"],
        culprit: Culprit::Sender,
        expected: &[IncorrectMessages],
        excused: &[Equivocation, QuorumParticipation, ResourceAnomaly],
    },
    Class {
        kinds: &[
            "partition",
            "partition-isolate-one",
            "partition-mute-one",
            "partition-halves",
            "partition-isolate-primary",
            "partition-bridge",
            "partition-ring",
            "delay",
            "drop",
            "duplicate",
            "reorder",
        ],
        culprit: Culprit::Nobody,
        expected: &[],
        excused: &[],
    },
    Class {
        // A plugin's note says why it acted; its actions are records of their own.
        kinds: &["heal", "heal-all", "adversary-failed", "note"],
        culprit: Culprit::Nobody,
        expected: &[],
        excused: &[],
    },
];

/// A plugin's action: the sender is faulty, in no class in particular.
const UNKNOWN: Class = Class {
    kinds: &[],
    culprit: Culprit::Sender,
    expected: &[],
    excused: &Detector::ALL,
};

/// The class of a fault kind.
pub fn class_of(kind: &str) -> &'static Class {
    TRUTH
        .iter()
        .find(|c| c.kinds.contains(&kind))
        .unwrap_or(&UNKNOWN)
}

/// One faulty node as `faults.jsonl` says.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Faulty {
    pub node: NodeId,
    /// Its fault kinds, each once.
    pub kinds: Vec<String>,
    /// Its first fault, nanoseconds since the run started.
    pub since: u64,
}

/// How long a detector took to name a faulty node after its fault began.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Latency {
    pub node: NodeId,
    pub ns: i64,
}

/// One detector on one run.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DetectorScore {
    pub detector: Detector,
    pub true_positives: Vec<NodeId>,
    pub false_positives: Vec<NodeId>,
    pub false_negatives: Vec<NodeId>,
    pub excused: Vec<NodeId>,
    /// One per true positive.
    pub latencies: Vec<Latency>,
}

/// Every detector on one run: `detectors.json`'s `score`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RunScore {
    pub run: String,
    pub nodes: u32,
    pub faulty: Vec<Faulty>,
    pub detectors: Vec<DetectorScore>,
}

/// Per node: the first fault time of each expected class, and the excused classes.
#[derive(Default)]
struct Truth {
    expected: BTreeMap<Detector, u64>,
    excused: BTreeSet<Detector>,
    kinds: BTreeSet<String>,
    since: Option<u64>,
}

fn truth(faults: &[FaultRecord]) -> BTreeMap<NodeId, Truth> {
    let mut out: BTreeMap<NodeId, Truth> = BTreeMap::new();
    for fault in faults {
        let class = class_of(&fault.kind);
        let culprits: &[NodeId] = match class.culprit {
            Culprit::Nobody => &[],
            Culprit::Listed => &fault.nodes,
            Culprit::Sender => fault.nodes.get(..1).unwrap_or_default(),
        };
        for &node in culprits {
            let t = out.entry(node).or_default();
            for &d in class.expected {
                let first = t.expected.entry(d).or_insert(fault.time);
                *first = (*first).min(fault.time);
            }
            t.excused.extend(class.excused.iter().copied());
            t.kinds.insert(fault.kind.clone());
            t.since = Some(t.since.map_or(fault.time, |s| s.min(fault.time)));
        }
    }
    out
}

/// Scores `findings` against `faults` for a run of `nodes` nodes.
pub fn score(run: &str, nodes: u32, findings: &[Finding], faults: &[FaultRecord]) -> RunScore {
    let truth = truth(faults);
    let all: BTreeSet<NodeId> = (0..nodes)
        .chain(truth.keys().copied())
        .chain(findings.iter().flat_map(|f| f.nodes.iter().copied()))
        .collect();
    let detectors = Detector::ALL
        .iter()
        .map(|&detector| {
            let mut s = DetectorScore {
                detector,
                true_positives: Vec::new(),
                false_positives: Vec::new(),
                false_negatives: Vec::new(),
                excused: Vec::new(),
                latencies: Vec::new(),
            };
            for &node in &all {
                let mut times: Vec<u64> = findings
                    .iter()
                    .filter(|f| f.detector == detector && f.nodes.contains(&node))
                    .map(|f| f.time)
                    .collect();
                times.sort_unstable();
                let t = truth.get(&node);
                let expected = t.and_then(|t| t.expected.get(&detector).copied());
                let excused = t.is_some_and(|t| t.excused.contains(&detector));
                match (times.first(), expected) {
                    (Some(&first), Some(since)) => {
                        s.true_positives.push(node);
                        let after = times.iter().find(|&&t| t >= since).unwrap_or(&first);
                        s.latencies.push(Latency {
                            node,
                            ns: *after as i64 - since as i64,
                        });
                    }
                    (None, Some(_)) => s.false_negatives.push(node),
                    (Some(_), None) if excused => s.excused.push(node),
                    (Some(_), None) => s.false_positives.push(node),
                    (None, None) => {}
                }
            }
            s
        })
        .collect();
    RunScore {
        run: run.to_string(),
        nodes,
        faulty: truth
            .into_iter()
            .map(|(node, t)| Faulty {
                node,
                kinds: t.kinds.into_iter().collect(),
                since: t.since.unwrap_or(0),
            })
            .collect(),
        detectors,
    }
}

/// Scores `findings` against a run folder's `faults.jsonl`, naming the run by its id.
pub fn score_run(run: &RunFolder, findings: &[Finding], nodes: u32) -> RunScore {
    let name = run
        .manifest
        .as_ref()
        .map(|m| m.run_id.clone())
        .filter(|id| !id.is_empty())
        .unwrap_or_else(|| run.dir.display().to_string());
    score(&name, nodes, findings, &run.faults)
}

/// Nodes of one run, for the lists of misses.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RunNodes {
    pub run: String,
    pub nodes: Vec<NodeId>,
}

/// One detector over many runs.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DetectorSummary {
    pub detector: Detector,
    pub runs: usize,
    pub true_positives: usize,
    pub false_positives: usize,
    pub false_negatives: usize,
    pub excused: usize,
    /// tp / (tp + fp); `None` when the detector named nobody it could be judged on.
    pub precision: Option<f64>,
    /// tp / (tp + fn); `None` when no fault of this class was injected.
    pub recall: Option<f64>,
    pub f1: Option<f64>,
    pub latency_median_ns: Option<i64>,
    pub latency_max_ns: Option<i64>,
    /// The false positives and negatives run by run.
    pub false_positive_runs: Vec<RunNodes>,
    pub false_negative_runs: Vec<RunNodes>,
}

/// Precision, recall, F1 and latency per detector over `scores`.
pub fn aggregate<'a>(scores: impl IntoIterator<Item = &'a RunScore>) -> Vec<DetectorSummary> {
    let mut out: Vec<DetectorSummary> = Detector::ALL
        .iter()
        .map(|&detector| DetectorSummary {
            detector,
            runs: 0,
            true_positives: 0,
            false_positives: 0,
            false_negatives: 0,
            excused: 0,
            precision: None,
            recall: None,
            f1: None,
            latency_median_ns: None,
            latency_max_ns: None,
            false_positive_runs: Vec::new(),
            false_negative_runs: Vec::new(),
        })
        .collect();
    let mut latencies: Vec<Vec<i64>> = vec![Vec::new(); out.len()];
    for run in scores {
        for s in &run.detectors {
            let Some(i) = Detector::ALL.iter().position(|d| *d == s.detector) else {
                continue;
            };
            let sum = &mut out[i];
            sum.runs += 1;
            sum.true_positives += s.true_positives.len();
            sum.false_positives += s.false_positives.len();
            sum.false_negatives += s.false_negatives.len();
            sum.excused += s.excused.len();
            for (nodes, list) in [
                (&s.false_positives, &mut sum.false_positive_runs),
                (&s.false_negatives, &mut sum.false_negative_runs),
            ] {
                if !nodes.is_empty() {
                    list.push(RunNodes {
                        run: run.run.clone(),
                        nodes: nodes.clone(),
                    });
                }
            }
            latencies[i].extend(s.latencies.iter().map(|l| l.ns));
        }
    }
    for (sum, mut lat) in out.iter_mut().zip(latencies) {
        let (tp, fp, fn_) = (
            sum.true_positives as f64,
            sum.false_positives as f64,
            sum.false_negatives as f64,
        );
        sum.precision = (tp + fp > 0.0).then(|| tp / (tp + fp));
        sum.recall = (tp + fn_ > 0.0).then(|| tp / (tp + fn_));
        sum.f1 = match (sum.precision, sum.recall) {
            (Some(p), Some(r)) if p + r > 0.0 => Some(2.0 * p * r / (p + r)),
            (Some(_), Some(_)) => Some(0.0),
            _ => None,
        };
        lat.sort_unstable();
        sum.latency_max_ns = lat.last().copied();
        sum.latency_median_ns = match lat.len() {
            0 => None,
            n if n % 2 == 1 => Some(lat[n / 2]),
            n => Some((lat[n / 2 - 1] + lat[n / 2]) / 2),
        };
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{json, Value};

    fn fault(time: u64, kind: &str, nodes: &[NodeId]) -> FaultRecord {
        FaultRecord {
            time,
            kind: kind.into(),
            nodes: nodes.to_vec(),
            detail: Value::Null,
        }
    }

    fn finding(detector: Detector, node: NodeId, time: u64) -> Finding {
        Finding {
            detector,
            nodes: vec![node],
            time,
            summary: String::new(),
            evidence: Value::Null,
        }
    }

    fn of(score: &RunScore, d: Detector) -> &DetectorScore {
        score.detectors.iter().find(|s| s.detector == d).unwrap()
    }

    #[test]
    fn a_run_scores_hits_misses_false_alarms_and_excuses() {
        let faults = [
            fault(1_000, "partition-halves", &[0, 1, 2, 3]),
            fault(3_000, "crash", &[2]),
            fault(2_000, "omit", &[1, 3]),
            fault(2_500, "omit", &[1, 0]),
            fault(9_000, "heal-all", &[]),
        ];
        let findings = [
            finding(Crash, 2, 3_400),
            finding(Crash, 0, 1_500),
            finding(Muteness, 1, 2_300),
            finding(Muteness, 1, 1_800),
            finding(ResourceAnomaly, 1, 5_000),
            finding(QuorumParticipation, 2, 4_000),
        ];
        let s = score("r1", 4, &findings, &faults);
        assert_eq!(s.faulty.len(), 2);
        assert_eq!(s.faulty[0].node, 1);
        assert_eq!(s.faulty[0].since, 2_000);
        let crash = of(&s, Crash);
        assert_eq!(crash.true_positives, vec![2]);
        assert_eq!(
            crash.false_positives,
            vec![0],
            "a partition makes nobody faulty"
        );
        assert_eq!(crash.latencies, vec![Latency { node: 2, ns: 400 }]);
        let mute = of(&s, Muteness);
        assert_eq!(mute.true_positives, vec![1]);
        assert_eq!(mute.false_negatives, vec![2]);
        assert_eq!(
            mute.latencies,
            vec![Latency { node: 1, ns: 300 }],
            "the first finding after the fault"
        );
        assert_eq!(of(&s, ResourceAnomaly).excused, vec![1]);
        assert_eq!(of(&s, ResourceAnomaly).false_negatives, vec![2]);
        assert_eq!(of(&s, QuorumParticipation).excused, vec![2]);
        assert_eq!(of(&s, QuorumParticipation).false_negatives, vec![1]);
    }

    #[test]
    fn an_unknown_action_blames_its_sender_without_expecting_anything() {
        let s = score(
            "r",
            4,
            &[finding(Equivocation, 3, 10)],
            &[fault(5, "lie", &[3, 1])],
        );
        assert_eq!(of(&s, Equivocation).excused, vec![3]);
        assert!(s.detectors.iter().all(|d| d.false_negatives.is_empty()));
    }

    #[test]
    fn a_plugin_note_blames_nobody() {
        // A plugin's note about a correct node's message it saw, then its injection.
        let s = score(
            "r",
            4,
            &[finding(IncorrectMessages, 3, 10)],
            &[fault(5, "note", &[0, 1]), fault(5, "inject", &[3, 2])],
        );
        assert_eq!(s.faulty.len(), 1);
        assert_eq!(s.faulty[0].node, 3);
        assert_eq!(of(&s, IncorrectMessages).excused, vec![3]);
        assert!(of(&s, IncorrectMessages).false_positives.is_empty());
    }

    #[test]
    fn aggregation_computes_precision_recall_f1_and_latency() {
        let run =
            |name: &str, tp: &[NodeId], fp: &[NodeId], fn_: &[NodeId], lat: &[i64]| RunScore {
                run: name.into(),
                nodes: 4,
                faulty: vec![],
                detectors: vec![DetectorScore {
                    detector: Crash,
                    true_positives: tp.to_vec(),
                    false_positives: fp.to_vec(),
                    false_negatives: fn_.to_vec(),
                    excused: vec![],
                    latencies: tp
                        .iter()
                        .zip(lat)
                        .map(|(&node, &ns)| Latency { node, ns })
                        .collect(),
                }],
            };
        // tp 3, fp 1, fn 2: precision 3/4, recall 3/5, F1 2pr/(p+r) = 2/3.
        let runs = [
            run("a", &[1, 2], &[0], &[], &[100, 300]),
            run("b", &[3], &[], &[0, 1], &[1000]),
            run("c", &[], &[], &[], &[]),
        ];
        let sums = aggregate(&runs);
        let crash = &sums[0];
        assert_eq!(crash.detector, Crash);
        assert_eq!(crash.runs, 3);
        assert_eq!(
            (
                crash.true_positives,
                crash.false_positives,
                crash.false_negatives
            ),
            (3, 1, 2)
        );
        assert_eq!(crash.precision, Some(0.75));
        assert_eq!(crash.recall, Some(0.6));
        assert!((crash.f1.unwrap() - 2.0 / 3.0).abs() < 1e-12);
        assert_eq!(crash.latency_median_ns, Some(300));
        assert_eq!(crash.latency_max_ns, Some(1000));
        assert_eq!(
            crash.false_positive_runs,
            vec![RunNodes {
                run: "a".into(),
                nodes: vec![0]
            }]
        );
        assert_eq!(crash.false_negative_runs[0].run, "b");
        // A detector that never ran and never suspected: nothing defined.
        let idle = &sums[1];
        assert_eq!(
            (idle.runs, idle.precision, idle.recall, idle.f1),
            (0, None, None, None)
        );
        let shape = serde_json::to_value(crash).unwrap();
        assert_eq!(shape["detector"], json!("crash"));
        assert_eq!(shape["precision"], json!(0.75));
    }
}
