//! Client history events: one line of `history.jsonl`, in Jepsen's shape.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// A node of the cluster under test, numbered from 0.
pub type NodeId = u32;

/// What an event says about an operation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EventKind {
    /// The client sent the operation.
    Invoke,
    /// The operation completed and took effect.
    Ok,
    /// The operation definitely did not take effect.
    Fail,
    /// Unknown outcome (timeout, connection lost): it may take effect at any time after its
    /// invoke, or never.
    Info,
}

impl EventKind {
    /// Parses Jepsen's names (`invoke`, `ok`, `fail`, `info`), with or without the keyword colon.
    pub fn from_name(name: &str) -> Option<Self> {
        match name.trim_start_matches(':') {
            "invoke" => Some(Self::Invoke),
            "ok" => Some(Self::Ok),
            "fail" => Some(Self::Fail),
            "info" => Some(Self::Info),
            _ => None,
        }
    }
}

/// One history event: a client process invoking an operation, or learning how it ended.
///
/// `client` and `req` are the identifiers the client sent to the node (`POST /ops`); they
/// let validity trace a committed log entry back to the invoke that caused it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Event {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub index: Option<u64>,
    pub process: u64,
    #[serde(rename = "type")]
    pub kind: EventKind,
    pub f: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<Value>,
    #[serde(default)]
    pub value: Value,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node: Option<NodeId>,
    /// Monotonic nanoseconds since the run started.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub req: Option<u64>,
}

impl Event {
    /// A bare event with the given process, kind, function and value; other fields empty.
    pub fn new(process: u64, kind: EventKind, f: &str, value: Value) -> Self {
        Self {
            index: None,
            process,
            kind,
            f: f.to_string(),
            key: None,
            value,
            node: None,
            time: None,
            error: None,
            client: None,
            req: None,
        }
    }
}
