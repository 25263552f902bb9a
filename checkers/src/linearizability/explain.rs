//! Turning "not linearizable" into something a person can follow, from what the failing
//! search found on its way (no second search).
//!
//! The search stops at the return of some op before that op is linearized, in every order
//! it explores; the latest such return is where the history cannot go on. That op is the
//! one shown as blocked, with one order that comes closest (the longest linearizable
//! prefix) and the state it leaves, and the ops concurrent with the blocked op: the
//! smallest window in which the contradiction lives.

use super::search::Blocked;
use crate::ops::Op;
use serde_json::{json, Value};

/// Ops listed at most in a window or a prefix tail, to keep evidence readable.
const SHOWN: usize = 12;

/// Evidence for a key whose ops were found not linearizable.
pub fn explain(key: &str, ops: &[Op], blocked: &Blocked) -> Value {
    let stuck = &ops[blocked.op];
    let end = stuck.returned.unwrap_or(u64::MAX);
    let window: Vec<&Op> = ops
        .iter()
        .filter(|op| op.call < end && op.returned.is_none_or(|r| r > stuck.call))
        .collect();
    let tail: Vec<String> = blocked
        .order
        .iter()
        .rev()
        .take(SHOWN)
        .rev()
        .map(|&i| match ops[i].returned {
            Some(at) if at < end => ops[i].describe(),
            // Still running when the blocked op returned: its outcome was not yet known there.
            _ => format!("{} -> (pending at this point)", ops[i].describe_call()),
        })
        .collect();
    let key_words = if key.is_empty() {
        String::new()
    } else {
        format!(" on key {key}")
    };
    json!({
        "key": key,
        "op": stuck.describe(),
        "op_index": stuck.index,
        "explanation": format!(
            "{}{key_words} cannot be linearized: the ops that completed before it returned are \
             linearizable (one order of them and of ops still running, {} ops in all, ends in state {}), but no order of them and of the \
             {} ops concurrent with it lets it return what it did",
            stuck.describe(), blocked.order.len(), blocked.state, window.len().saturating_sub(1)
        ),
        "longest_linearizable_prefix": {"ops": blocked.order.len(), "tail": tail, "state": blocked.state.to_json()},
        "window": window.iter().take(SHOWN).map(|op| op.describe()).collect::<Vec<_>>(),
        "window_indices": window.iter().map(|op| op.index).collect::<Vec<_>>(),
        "window_size": window.len(),
    })
}
