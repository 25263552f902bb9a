//! Turning "not linearizable" into something a person can follow.
//!
//! Linearizability is prefix-closed: if a prefix of a history (ops still pending at the cut
//! taken as unknown) cannot be linearized, neither can the whole. So the shortest failing
//! prefix is found by bisection over return events; it ends with the return of the op that
//! first cannot be placed. The prefix just before it is linearizable, and one of its orders
//! (the longest linearizable prefix) and its end state are shown, with the ops concurrent
//! with the blocked op: the smallest window in which the contradiction lives.

use super::search::{search, Outcome};
use crate::budget::Budget;
use crate::models::Model;
use crate::ops::Op;
use serde_json::{json, Value};

/// Ops listed at most in a window or a prefix tail, to keep evidence readable.
const SHOWN: usize = 12;

/// Evidence for a key whose ops were found not linearizable.
pub fn explain(model: Model, key: &str, ops: &[Op], budget: &Budget) -> Value {
    let mut returns: Vec<(u64, usize)> = ops
        .iter()
        .enumerate()
        .filter_map(|(i, op)| op.returned.map(|at| (at, i)))
        .collect();
    returns.sort_unstable();
    let cut_after = |k: usize| if k == 0 { 0 } else { returns[k - 1].0 + 1 };

    // Smallest k such that the prefix ending with the k-th return fails.
    let (mut lo, mut hi) = (1, returns.len());
    while lo < hi {
        let mid = (lo + hi) / 2;
        match search(model, ops, cut_after(mid), budget) {
            Outcome::NotLinearizable => hi = mid,
            Outcome::Linearizable { .. } => lo = mid + 1,
            Outcome::OutOfBudget(e) => {
                return json!({
                    "key": key,
                    "explanation": format!("the ops of key {key} cannot be linearized; locating the smallest window stopped: {}", e.0),
                })
            }
        }
    }
    let blocked = &ops[returns[lo - 1].1];
    let cut = cut_after(lo - 1);
    let (order, state) = match search(model, ops, cut, budget) {
        Outcome::Linearizable { order, state } => (order, state),
        // Minimality says this prefix is linearizable; only a spent budget gets here.
        _ => (Vec::new(), Default::default()),
    };
    let end = blocked.returned.unwrap_or(u64::MAX);
    let window: Vec<&Op> = ops
        .iter()
        .filter(|op| op.call < end && op.returned.is_none_or(|r| r > blocked.call))
        .collect();
    let tail: Vec<String> = order
        .iter()
        .rev()
        .take(SHOWN)
        .rev()
        .map(|&i| match ops[i].returned {
            Some(at) if at < cut => ops[i].describe(),
            // Still running at the cut: its outcome was not yet known there.
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
        "op": blocked.describe(),
        "op_index": blocked.index,
        "explanation": format!(
            "{}{key_words} cannot be linearized: the ops that completed before it returned are \
             linearizable ({} of them; one order ends in state {state}), but no order of them and of the \
             {} ops concurrent with it lets it return what it did",
            blocked.describe(), order.len(), window.len().saturating_sub(1)
        ),
        "longest_linearizable_prefix": {"ops": order.len(), "tail": tail, "state": state.to_json()},
        "window": window.iter().take(SHOWN).map(|op| op.describe()).collect::<Vec<_>>(),
        "window_indices": window.iter().map(|op| op.index).collect::<Vec<_>>(),
        "window_size": window.len(),
    })
}
