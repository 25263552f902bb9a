//! The lines of `metrics.jsonl` as readers (reports, fault detectors) see them. The
//! harness writes them from the cluster backend's samples and the proxy's counters; every
//! field is optional here, so an older or cut-short file still loads.

use crate::history::NodeId;
use serde::{Deserialize, Serialize};

/// One line of `metrics.jsonl`: a node sample, a final per-link count, or a sampling error.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MetricLine {
    #[serde(default)]
    pub kind: String,
    #[serde(default)]
    pub time: Option<u64>,
    #[serde(default)]
    pub sample: Option<NodeSample>,
    #[serde(default)]
    pub link: Option<LinkCount>,
    #[serde(default)]
    pub error: Option<String>,
}

/// A node's resource use at one instant (`kind: "node"`); counters are totals so far.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct NodeSample {
    pub node: NodeId,
    #[serde(default = "yes")]
    pub running: bool,
    /// CPU time used so far, nanoseconds.
    #[serde(default)]
    pub cpu_ns: u64,
    #[serde(default)]
    pub memory_bytes: u64,
    #[serde(default)]
    pub rx_bytes: u64,
    #[serde(default)]
    pub tx_bytes: u64,
}

fn yes() -> bool {
    true
}

/// Final message counts on one directed link (`kind: "link"`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LinkCount {
    pub from: NodeId,
    pub to: NodeId,
    #[serde(default)]
    pub messages: u64,
    #[serde(default)]
    pub bytes: u64,
    #[serde(default)]
    pub dropped: u64,
    #[serde(default)]
    pub duplicated: u64,
    #[serde(default)]
    pub delayed: u64,
    #[serde(default)]
    pub held: u64,
}
