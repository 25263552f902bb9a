//! Messages between nodes as adversaries see them, and what an adversary may do to them.

use crate::history::NodeId;
use std::time::Duration;

/// One message on a link, cut by the proxy's framing.
#[derive(Clone, Debug, PartialEq)]
pub struct Envelope {
    /// The sender, known by its source address (never by what the message claims).
    pub from: NodeId,
    pub to: NodeId,
    /// Nanoseconds since the run started.
    pub time: u64,
    /// The message without its framing (no length prefix, no newline).
    pub payload: Vec<u8>,
}

impl Envelope {
    /// The payload as a JSON object, when it is one (`len32-json` targets).
    pub fn json(&self) -> Option<serde_json::Map<String, serde_json::Value>> {
        match serde_json::from_slice(&self.payload) {
            Ok(serde_json::Value::Object(map)) => Some(map),
            _ => None,
        }
    }
}

/// What happens to the message itself; `Deliver` unless an adversary says otherwise.
#[derive(Clone, Debug, Default, PartialEq)]
pub enum Fate {
    #[default]
    Deliver,
    Drop,
    Delay {
        by: Duration,
    },
    Duplicate,
    /// Delivered with this payload instead (the proxy frames it).
    Replace {
        payload: Vec<u8>,
    },
}

/// A message an adversary adds: sent on the link from the same Byzantine sender to `to`.
#[derive(Clone, Debug, PartialEq)]
pub struct Injection {
    pub to: NodeId,
    pub payload: Vec<u8>,
}

/// Everything the adversaries decided about one message (or one tick).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Actions {
    /// The first adversary to decide the message's fate wins; later ones see it decided.
    pub fate: Option<Fate>,
    pub inject: Vec<Injection>,
    /// What was done and why, for `faults.jsonl` (the ground truth of misbehaviour).
    pub notes: Vec<serde_json::Value>,
}

impl Actions {
    /// Decides the fate unless an earlier adversary did; says whether this one won.
    pub fn decide(&mut self, fate: Fate) -> bool {
        if self.fate.is_some() {
            return false;
        }
        self.fate = Some(fate);
        true
    }
}
