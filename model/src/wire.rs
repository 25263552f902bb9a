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

/// A message an adversary adds: sent on the link from the Byzantine node `from` to `to`.
#[derive(Clone, Debug, PartialEq)]
pub struct Injection {
    /// The sender, always a Byzantine node: a message seen from a Byzantine node is usually
    /// answered from that node, and a tick (which has no message) must name one.
    pub from: NodeId,
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
    /// Why the adversaries cannot go on (a plugin that hung, crashed or answered garbage):
    /// the run must end as a harness failure, since what the Byzantine nodes did is no
    /// longer what was asked for. The first adversary to fail is the one reported.
    pub fatal: Option<String>,
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

    /// Records why the adversaries cannot go on, unless an earlier one already failed.
    pub fn fail(&mut self, why: impl Into<String>) {
        if self.fatal.is_none() {
            self.fatal = Some(why.into());
        }
    }
}
