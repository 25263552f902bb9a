//! Fault detectors: name suspect nodes from what an observer of the run saw, each with its
//! evidence and the time it first knew, and score them against the injected faults.
//!
//! The detectors read only what a monitor outside the nodes could have: the proxy's trace
//! of messages that left their sender (kind, round, claimed sender, digest, size, time,
//! link; a `drop` never left the network, and the `action` otherwise says nothing to them)
//! and the resource samples, through [`Observed`]. Never `faults.jsonl`, the manifest's
//! Byzantine set or the adversaries' `replace`/`inject` marks: those are the truth they are
//! scored against ([`score`]). Findings are advisory: they never decide a run's verdict.
//!
//! Sensors after seed 003: crash, muteness, divergence (equivocation), incorrect
//! messages, quorum participation; and the resource anomaly of seed 000's heat maps.

mod activity;
mod crash;
mod equivocation;
mod incorrect;
mod muteness;
mod observed;
mod quorum;
mod resource;
mod rounds;
pub mod score;
#[cfg(test)]
mod testing;

pub use observed::Observed;

use crate::run_folder::RunFolder;
use score::RunScore;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::fmt;
use traitor_model::NodeId;

/// Evidence items kept per finding, so `detectors.json` stays readable.
pub const SHOWN_EVIDENCE: usize = 5;

/// The detectors, each a class of fault it names suspects for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Detector {
    /// Gone (not running when sampled) or silent to every peer while they talk.
    Crash,
    /// Sends a peer nothing while the other nodes keep sending it messages.
    Muteness,
    /// Conflicting messages for one round to different peers.
    Equivocation,
    /// Frames that are not JSON objects, messages naming another node as their sender.
    IncorrectMessages,
    /// Missing from a peer's quorums for rounds it spoke in to the other peers.
    QuorumParticipation,
    /// CPU, memory or traffic far from its peers' at the same time.
    ResourceAnomaly,
}

impl Detector {
    pub const ALL: [Detector; 6] = [
        Detector::Crash,
        Detector::Muteness,
        Detector::Equivocation,
        Detector::IncorrectMessages,
        Detector::QuorumParticipation,
        Detector::ResourceAnomaly,
    ];

    /// The name used in `detectors.json` and tables.
    pub fn name(self) -> &'static str {
        match self {
            Detector::Crash => "crash",
            Detector::Muteness => "muteness",
            Detector::Equivocation => "equivocation",
            Detector::IncorrectMessages => "incorrect-messages",
            Detector::QuorumParticipation => "quorum-participation",
            Detector::ResourceAnomaly => "resource-anomaly",
        }
    }

    fn run(self, observed: &Observed) -> Vec<Finding> {
        match self {
            Detector::Crash => crash::detect(observed),
            Detector::Muteness => muteness::detect(observed),
            Detector::Equivocation => equivocation::detect(observed),
            Detector::IncorrectMessages => incorrect::detect(observed),
            Detector::QuorumParticipation => quorum::detect(observed),
            Detector::ResourceAnomaly => resource::detect(observed),
        }
    }
}

impl fmt::Display for Detector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// One suspicion: which node(s), from when, why in a line, and the evidence behind it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Finding {
    pub detector: Detector,
    pub nodes: Vec<NodeId>,
    /// When the detector could first have known: nanoseconds since the run started.
    pub time: u64,
    pub summary: String,
    #[serde(default)]
    pub evidence: Value,
}

/// Every detector's findings on one run, with what limited them.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Findings {
    /// In detector order, then by time.
    pub findings: Vec<Finding>,
    /// What a reader should know: a truncated trace, no samples, signatures not checked.
    #[serde(default)]
    pub notes: Vec<String>,
}

/// `detectors.json`: the findings and, when `faults.jsonl` exists, their score against it.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Report {
    #[serde(flatten)]
    pub findings: Findings,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub score: Option<RunScore>,
}

/// Why the messages' signatures are not judged.
const SIGNATURES_NOT_SEEN: &str = "signatures are not checked: the trace keeps a digest of each message, not its bytes, so a bad signature is not seen (impersonation and malformed frames are)";

/// Runs every detector on what an observer saw. A detector that panics loses its own
/// findings (noted), never the others'.
pub fn detect(observed: &Observed) -> Findings {
    let mut out = Findings {
        findings: Vec::new(),
        notes: observed.notes.clone(),
    };
    out.notes.push(SIGNATURES_NOT_SEEN.into());
    for detector in Detector::ALL {
        let run = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| detector.run(observed)));
        match run {
            Ok(mut found) => {
                found.sort_by_key(|f| (f.time, f.nodes.clone()));
                out.findings.extend(found);
            }
            Err(panic) => out.notes.push(format!(
                "the {detector} detector failed (a traitor bug): {}",
                crate::verdict::panic_message(panic.as_ref())
            )),
        }
    }
    out
}

/// The detectors on a run folder, scored against its `faults.jsonl` when there is one:
/// what `traitor run` writes as `detectors.json`.
pub fn report(run: &RunFolder) -> Report {
    let observed = Observed::load(run);
    let findings = detect(&observed);
    let score = run
        .dir
        .join("faults.jsonl")
        .is_file()
        .then(|| score::score_run(run, &findings.findings, observed.nodes.len() as u32));
    Report { findings, score }
}

#[cfg(test)]
mod tests {
    use super::testing::*;
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;
    use traitor_model::metrics::MetricLine;
    use traitor_model::trace::TraceLine;

    /// A run folder on disk; its manifest names node 0 Byzantine whatever happened, to
    /// show the detectors never read it.
    fn folder(trace: &[TraceLine], metrics: &[MetricLine], faults: &[Value]) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        let lines = |items: Vec<String>| items.into_iter().map(|l| l + "\n").collect::<String>();
        let manifest = json!({"run_id": "t", "target": "pbft", "n": 4, "f": 1, "byzantine": [0]});
        std::fs::write(dir.path().join("manifest.json"), manifest.to_string()).unwrap();
        let write = |name: &str, text: String| std::fs::write(dir.path().join(name), text).unwrap();
        write(
            "trace.jsonl",
            lines(
                trace
                    .iter()
                    .map(|l| serde_json::to_string(l).unwrap())
                    .collect(),
            ),
        );
        write(
            "metrics.jsonl",
            lines(
                metrics
                    .iter()
                    .map(|l| serde_json::to_string(l).unwrap())
                    .collect(),
            ),
        );
        write(
            "faults.jsonl",
            lines(faults.iter().map(Value::to_string).collect()),
        );
        dir
    }

    fn run(dir: &tempfile::TempDir) -> Report {
        report(&RunFolder::load(dir.path()).unwrap())
    }

    fn suspects(report: &Report, detector: Detector) -> Vec<NodeId> {
        let found: Vec<Finding> = report
            .findings
            .findings
            .iter()
            .filter(|f| f.detector == detector)
            .cloned()
            .collect();
        nodes_of(&found)
    }

    fn score_of(report: &Report, detector: Detector) -> &score::DetectorScore {
        let score = report.score.as_ref().expect("faults.jsonl was written");
        score
            .detectors
            .iter()
            .find(|d| d.detector == detector)
            .unwrap()
    }

    fn steady(node: NodeId, _second: u64) -> (bool, u64, u64) {
        (true, 100_000_000 + u64::from(node) * 10_000_000, 40)
    }

    #[test]
    fn a_correct_cluster_yields_no_suspect() {
        let dir = folder(&chatter(4, 0, 10_000), &samples(4, 10, steady), &[]);
        let report = run(&dir);
        assert!(
            report.findings.findings.is_empty(),
            "{:#?}",
            report.findings
        );
        let score = report.score.unwrap();
        assert!(score.faulty.is_empty());
        assert!(score.detectors.iter().all(|d| d.false_positives.is_empty()));
    }

    #[test]
    fn a_crashed_node_is_found_and_scored() {
        let mut trace = chatter(4, 0, 10_000);
        trace.retain(|l| !(l.from == Some(2) && l.time > ms(3000) && l.time < ms(7000)));
        let metrics = samples(4, 10, |node, s| match node == 2 && (4..=7).contains(&s) {
            true => (false, 0, 0),
            false => steady(node, s),
        });
        let faults = [
            json!({"time": ms(3000), "kind": "crash", "nodes": [2], "detail": {"signal": "KILL"}}),
            json!({"time": ms(7000), "kind": "heal", "nodes": [2], "detail": {"healed": "restarted"}}),
        ];
        let report = run(&folder(&trace, &metrics, &faults));
        for detector in [
            Detector::Crash,
            Detector::Muteness,
            Detector::ResourceAnomaly,
        ] {
            assert_eq!(
                suspects(&report, detector),
                vec![2],
                "{detector}: {:#?}",
                report.findings
            );
            assert_eq!(score_of(&report, detector).true_positives, vec![2]);
        }
        let crash = score_of(&report, Detector::Crash);
        assert_eq!(
            crash.latencies[0].ns,
            (ms(4000) - ms(3000)) as i64,
            "the first sample saying it is down"
        );
        assert!(
            report.findings.findings.iter().all(|f| f.nodes == [2]),
            "{:#?}",
            report.findings
        );
    }

    #[test]
    fn a_muted_node_is_found_and_scored() {
        let mut trace = chatter(4, 0, 10_000);
        let mut faults = Vec::new();
        for l in trace.iter_mut() {
            if l.from == Some(3) && l.to == Some(1) && l.time > ms(1000) {
                l.action = Some("drop".into());
                faults.push(json!({"time": l.time, "kind": "omit", "nodes": [3, 1], "detail": {}}));
            }
        }
        let report = run(&folder(&trace, &samples(4, 10, steady), &faults));
        assert_eq!(
            suspects(&report, Detector::Muteness),
            vec![3],
            "{:#?}",
            report.findings
        );
        assert_eq!(suspects(&report, Detector::QuorumParticipation), vec![3]);
        assert_eq!(suspects(&report, Detector::Crash), Vec::<NodeId>::new());
        assert_eq!(
            score_of(&report, Detector::Muteness).true_positives,
            vec![3]
        );
        assert_eq!(
            score_of(&report, Detector::QuorumParticipation).true_positives,
            vec![3]
        );
    }

    #[test]
    fn an_equivocating_node_is_found_and_scored() {
        let mut trace = chatter(4, 0, 10_000);
        let mut faults = Vec::new();
        for l in trace.iter_mut() {
            if l.kind.as_deref() == Some("pre-prepare") && l.to == Some(3) && l.time > ms(2000) {
                l.digest = Some("0123456789abcdef".into());
                l.action = Some("replace".into());
                faults.push(
                    json!({"time": l.time, "kind": "equivocate", "nodes": [0, 3], "detail": {}}),
                );
            }
        }
        let report = run(&folder(&trace, &samples(4, 10, steady), &faults));
        assert_eq!(
            suspects(&report, Detector::Equivocation),
            vec![0],
            "{:#?}",
            report.findings
        );
        let score = score_of(&report, Detector::Equivocation);
        assert_eq!(score.true_positives, vec![0]);
        assert_eq!(
            score.latencies[0].ns,
            ms(100) as i64,
            "known at the third conflicting round"
        );
        assert!(
            report.findings.findings.iter().all(|f| f.nodes == [0]),
            "{:#?}",
            report.findings
        );
    }

    #[test]
    fn the_report_keeps_the_shape_the_run_report_reads() {
        let mut trace = chatter(4, 0, 3_000);
        trace[5].claims = Some(3);
        let report = run(&folder(&trace, &[], &[]));
        let doc = serde_json::to_value(&report).unwrap();
        let first = &doc["findings"][0];
        assert_eq!(first["detector"], "incorrect-messages");
        assert!(
            first["nodes"].is_array() && first["time"].is_u64() && first["summary"].is_string()
        );
        assert!(doc["notes"]
            .as_array()
            .unwrap()
            .iter()
            .any(|n| n.as_str().unwrap().contains("signatures")));
        assert_eq!(doc["score"]["detectors"][0]["detector"], "crash");
        let back: Report = serde_json::from_value(doc).unwrap();
        assert_eq!(back, report);
    }

    /// One trace line: sometimes valid, sometimes noise, in any field.
    fn any_line() -> impl Strategy<Value = String> {
        let kinds = prop_oneof![
            Just("prepare"),
            Just("commit"),
            Just("pre-prepare"),
            Just("x")
        ];
        let record = (0u64..20_000_000_000, 0u32..6, 0u32..6, kinds, 0u64..5, 0u64..4, any::<bool>(), 0usize..4)
            .prop_map(|(time, from, to, kind, seq, digest, malformed, action)| {
                let action = ["deliver", "drop", "hold", "replace"][action];
                json!({"time": time, "from": from, "to": to, "size": 100, "kind": kind,
                       "round": format!("seq={seq}"), "claims": from ^ (digest as u32 & 1), "digest": format!("{digest}"),
                       "malformed": malformed, "action": action}).to_string()
            });
        prop_oneof![
            4 => record,
            1 => "[ -~]{0,40}",
            1 => Just(r#"{"truncated":true,"time":5000000000,"limit":10}"#.to_string()),
            1 => Just(r#"{"kind":"node","time":3000000000,"sample":{"node":1,"running":false}}"#.to_string()),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]
        #[test]
        fn detectors_never_panic_on_random_or_truncated_lines(
            lines in proptest::collection::vec(any_line(), 0..200),
            cut in 0usize..4000,
        ) {
            let dir = tempfile::tempdir().unwrap();
            let text: String = lines.iter().map(|l| format!("{l}\n")).collect();
            let text = &text.as_bytes()[..cut.min(text.len())];
            std::fs::write(dir.path().join("manifest.json"), r#"{"n":4}"#).unwrap();
            std::fs::write(dir.path().join("trace.jsonl"), text).unwrap();
            std::fs::write(dir.path().join("metrics.jsonl"), text).unwrap();
            std::fs::write(dir.path().join("faults.jsonl"), "").unwrap();
            let report = run(&dir);
            prop_assert!(report.findings.notes.iter().all(|n| !n.contains("traitor bug")), "{:?}", report.findings.notes);
            let observed = Observed::new(4, lines.iter().filter_map(|l| serde_json::from_str(l).ok()).collect(), Vec::new());
            let findings = detect(&observed);
            prop_assert!(findings.notes.iter().all(|n| !n.contains("traitor bug")), "{:?}", findings.notes);
        }
    }
}
