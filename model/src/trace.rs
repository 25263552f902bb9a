//! The lines of `trace.jsonl` as readers (reports, fault detectors) see them. The proxy
//! writes them; this side reads every field as optional, so an older or cut-short trace
//! still loads.

use crate::history::NodeId;
use serde::{Deserialize, Serialize};

/// One line of `trace.jsonl`: a message the proxy handled, or the marker written when the
/// trace reached its bound (`truncated: true`).
///
/// Beside the link and the size, `len32-json` traffic carries what an observer of the wire
/// reads in the message: `kind` (its `type`), `round` (its round coordinates, such as
/// `"seq=17 view=2"`), `claims` (the sender it names), `digest` (a hash of what it says,
/// equal for copies of one proposal) and `malformed` (a body that is not a JSON object).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct TraceLine {
    pub time: u64,
    /// The sender, known by its source address (never by what the message claims).
    pub from: Option<NodeId>,
    /// Which of the sender's addresses it came from when one identity runs as twins
    /// (absent for the first, 1 for the twin).
    pub instance: Option<u32>,
    pub to: Option<NodeId>,
    pub size: Option<u64>,
    pub kind: Option<String>,
    pub round: Option<String>,
    pub claims: Option<u64>,
    pub digest: Option<String>,
    pub malformed: bool,
    /// What the proxy did: `deliver`, `drop`, `delay`, `duplicate`, `reorder`, `hold`, or
    /// an adversary's `replace` and `inject`.
    pub action: Option<String>,
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

    /// Whether the sender's message left it for its receiver: everything but a drop (a
    /// held message waits in the network and arrives at the heal).
    pub fn sent(&self) -> bool {
        self.action.as_deref() != Some("drop")
    }
}
