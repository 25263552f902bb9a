//! The lines of `metrics.jsonl` and `trace.jsonl` as the report reads them. The writers
//! (harness sampler, proxy trace) live in crates that depend on this one, so the shapes are
//! read here with every field optional: an older or cut-short file still loads.

use serde::Deserialize;
use traitor_model::NodeId;

/// One line of `metrics.jsonl`: a node sample, a final per-link count, or a sampling error.
#[derive(Clone, Debug, Deserialize)]
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

/// A node's resource use at one instant (`kind: "node"`).
#[derive(Clone, Debug, Deserialize)]
pub struct NodeSample {
    pub node: NodeId,
    #[serde(default = "yes")]
    pub running: bool,
    #[serde(default)]
    pub cpu_ns: u64,
    #[serde(default)]
    pub memory_bytes: u64,
}

fn yes() -> bool {
    true
}

/// Final message counts on one directed link (`kind: "link"`).
#[derive(Clone, Debug, Deserialize)]
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

/// One line of `trace.jsonl`: a message the proxy handled, or the marker written when the
/// trace reached its bound (`truncated: true`).
#[derive(Clone, Debug, Deserialize)]
pub struct TraceLine {
    #[serde(default)]
    pub time: u64,
    #[serde(default)]
    pub from: Option<NodeId>,
    #[serde(default)]
    pub to: Option<NodeId>,
    #[serde(default)]
    pub action: Option<String>,
    #[serde(default)]
    pub truncated: bool,
}

impl TraceLine {
    /// Whether the proxy passed the message on unchanged (anything else is a drop or a
    /// mutation of timing, count or order).
    pub fn delivered_as_is(&self) -> bool {
        self.action.as_deref().is_none_or(|a| a == "deliver")
    }

    /// Whether the message reached its receiver at all (a drop or a hold did not, yet).
    pub fn reached(&self) -> bool {
        !matches!(self.action.as_deref(), Some("drop") | Some("hold"))
    }
}
