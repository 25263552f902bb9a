//! Deterministic in-process scenarios: the real replica core in a simulated network.

mod byzantine;
mod checks;
mod client_auth;
mod sim;
mod variants;

use pbft_node::messages::Op;
use serde_json::json;

/// A write of an integer.
pub fn write(key: &str, value: i64) -> Op {
    Op::Write {
        key: key.into(),
        value: json!(value),
    }
}

/// A read.
pub fn read(key: &str) -> Op {
    Op::Read { key: key.into() }
}
