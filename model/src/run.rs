//! Records of a run folder other than the history: the manifest, each node's committed log
//! as read by the harness, and the faults it injected.

use crate::history::NodeId;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// `manifest.json`: what was run, with what, and when. Every field the checkers read is
/// optional so that a folder from an older or interrupted run still loads.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Manifest {
    pub run_id: String,
    pub campaign: Option<String>,
    pub seed: u64,
    pub target: String,
    pub variant: Option<String>,
    /// The workload model the history follows (`kv`, `register`, ...).
    pub model: Option<String>,
    pub n: u32,
    pub f: u32,
    /// Nodes the adversaries control; every other node is correct.
    pub byzantine: Vec<NodeId>,
    /// UpRight's budgets and what theory expects of them.
    pub budget: Option<FaultBudget>,
    pub adversaries: Vec<Value>,
    pub nemesis: Vec<Value>,
    pub versions: Value,
    /// Wall-clock start and end (RFC 3339), for people.
    pub started_at: Option<String>,
    pub ended_at: Option<String>,
    /// Run-relative nanoseconds at which every fault was healed.
    pub healed_at: Option<u64>,
    /// How long after the heal correct nodes get to recover: ops invoked later than
    /// `healed_at + termination_bound_ns` must all complete.
    pub termination_bound_ns: Option<u64>,
    /// Why the harness read no committed logs (a target with `[observe] log = "none"`), so
    /// that the checkers reading them say so instead of guessing.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub logs_unobserved: Option<String>,
    /// Where the run's wall time went, phase by phase (start-up, the run, final reads,
    /// teardown, checks, report): what a run costs beyond its own time.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub phases: Vec<PhaseTime>,
}

/// One phase of a run and how long it took.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PhaseTime {
    pub phase: String,
    pub seconds: f64,
}

/// Separate budgets for crashes (u) and commission faults (r), after UpRight: safety must
/// hold while r <= f, liveness while u + r <= f.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FaultBudget {
    /// Nodes the nemesis may crash, pause or restart (u).
    pub crash: u32,
    /// Byzantine nodes (r).
    pub byzantine: u32,
    pub f: u32,
    pub safety_expected: bool,
    pub liveness_expected: bool,
}

impl FaultBudget {
    pub fn new(crash: u32, byzantine: u32, f: u32) -> Self {
        Self {
            crash,
            byzantine,
            f,
            safety_expected: byzantine <= f,
            liveness_expected: crash + byzantine <= f,
        }
    }
}

/// The most nodes a manifest may name: far beyond any cluster traitor runs, and small
/// enough that per-node tables built from `n` stay small.
pub const MAX_NODES: u32 = 1000;

impl Manifest {
    /// Checks what the checkers size their work by (`n`, `f`, the Byzantine ids), so a
    /// damaged or hostile manifest is refused with the field named instead of sizing an
    /// allocation or skewing a verdict.
    pub fn validate(&self) -> Result<(), String> {
        let n = self.n;
        if n == 0 || n > MAX_NODES {
            return Err(format!(
                "n = {n}: expected a cluster size from 1 to {MAX_NODES}"
            ));
        }
        if self.f >= n {
            return Err(format!(
                "f = {}: expected fewer tolerated faults than nodes (n = {n})",
                self.f
            ));
        }
        if let Some(node) = self.byzantine.iter().find(|&&node| node >= n) {
            return Err(format!(
                "byzantine names node {node}: node ids run from 0 to {} (n = {n})",
                n - 1
            ));
        }
        Ok(())
    }

    /// Whether a node is outside the Byzantine set.
    pub fn is_correct(&self, node: NodeId) -> bool {
        !self.byzantine.contains(&node)
    }
}

/// One committed entry of a node's log, as served by `GET /log`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LogEntry {
    pub seq: u64,
    #[serde(default)]
    pub view: u64,
    #[serde(default)]
    pub digest: Option<String>,
    #[serde(default)]
    pub client: Option<String>,
    #[serde(default)]
    pub req: Option<u64>,
    #[serde(default)]
    pub op: Value,
}

impl LogEntry {
    /// Null requests (gaps filled by a view change) carry no client operation.
    pub fn is_noop(&self) -> bool {
        self.client.is_none() && self.op.get("f").and_then(Value::as_str) == Some("noop")
    }
}

/// A line of `commits.jsonl`: one read of one node's committed log.
///
/// `entries` holds every committed entry with `seq >= from`, up to `committed`. Reads are
/// taken during the run (checkpoints) and once at the end (`final`). `incarnation` counts
/// restarts: a node restarted without durable state starts a new incarnation, and "no node
/// changes an entry it already showed" is judged within one incarnation.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CommitRead {
    pub node: NodeId,
    #[serde(default)]
    pub time: u64,
    #[serde(default)]
    pub incarnation: u32,
    #[serde(default)]
    pub r#final: bool,
    #[serde(default)]
    pub from: u64,
    pub committed: u64,
    #[serde(default)]
    pub entries: Vec<LogEntry>,
}

/// A line of `faults.jsonl`: a fault injected or healed, the ground truth for detectors.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FaultRecord {
    pub time: u64,
    /// `partition`, `crash`, `heal`, `equivocate`, ...
    pub kind: String,
    #[serde(default)]
    pub nodes: Vec<NodeId>,
    #[serde(default)]
    pub detail: Value,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_manifest_names_its_bad_field() {
        let ok = Manifest {
            n: 4,
            f: 1,
            byzantine: vec![3],
            ..Default::default()
        };
        assert_eq!(ok.validate(), Ok(()));
        let cases = [
            (
                Manifest {
                    n: 1_000_000_000,
                    ..ok.clone()
                },
                "n = 1000000000",
            ),
            (Manifest { n: 0, ..ok.clone() }, "n = 0"),
            (Manifest { f: 9, ..ok.clone() }, "f = 9"),
            (
                Manifest {
                    byzantine: vec![4],
                    ..ok.clone()
                },
                "node 4",
            ),
        ];
        for (manifest, needle) in cases {
            let err = manifest.validate().unwrap_err();
            assert!(err.contains(needle), "{err} lacks {needle}");
        }
    }
}
