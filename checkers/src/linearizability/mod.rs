//! Linearizability: is there an order of the ops, consistent with real time, that the model
//! accepts? Each key is checked on its own (P-compositionality), keys in parallel, each by
//! the memoised Wing-Gong-Lowe search, within a time and memory budget.

mod explain;
mod search;

use crate::budget::Budget;
use crate::models::Model;
use crate::ops::Operations;
use crate::verdict::{CheckResult, Validity};
use rayon::prelude::*;
use search::{search, Outcome};
use serde_json::json;

/// Violations explained at most, per check; each explanation re-runs searches.
const EXPLAINED: usize = 3;

/// The checker's name in results.
pub const NAME: &str = "linearizability";

/// Checks every key's ops against `model`.
pub fn check(ops: &Operations, model: Model, budget: &Budget) -> CheckResult {
    if ops.by_key.is_empty() {
        return CheckResult::unknown(
            NAME,
            "no operation with a known or possible effect in the history",
        );
    }
    let mut keys: Vec<(&String, &Vec<_>)> = ops.by_key.iter().collect();
    // Largest first, so the long searches start early and the small ones fill the gaps.
    keys.sort_by_key(|(_, ops)| std::cmp::Reverse(ops.len()));
    let outcomes: Vec<(&String, Outcome)> = keys
        .par_iter()
        .map(|&(key, key_ops)| (key, search(model, key_ops, u64::MAX, budget)))
        .collect();

    let mut violated = Vec::new();
    let mut unknown = Vec::new();
    for (key, outcome) in &outcomes {
        match outcome {
            Outcome::Linearizable { .. } => {}
            Outcome::NotLinearizable => violated.push(*key),
            Outcome::OutOfBudget(why) => unknown.push(json!({"key": key, "why": why.0})),
        }
    }
    violated.sort();
    let valid = if !violated.is_empty() {
        Validity::Violated
    } else if !unknown.is_empty() {
        Validity::Unknown
    } else {
        Validity::Holds
    };
    let explained: Vec<_> = violated
        .par_iter()
        .take(EXPLAINED)
        .map(|key| explain::explain(model, key, &ops.by_key[*key], budget))
        .collect();
    let summary = match valid {
        Validity::Holds => format!(
            "{} ops over {} key(s) linearizable as {model}",
            ops.invokes,
            keys.len()
        ),
        Validity::Unknown => format!(
            "{} of {} key(s) undecided: {}",
            unknown.len(),
            keys.len(),
            unknown[0]["why"].as_str().unwrap_or_default()
        ),
        Validity::Violated => explained[0]["explanation"]
            .as_str()
            .unwrap_or_default()
            .to_string(),
    };
    CheckResult {
        checker: NAME.into(),
        valid,
        summary,
        evidence: json!({
            "model": model.name(),
            "keys": keys.len(),
            "violated_keys": violated,
            "violations": explained,
            "unknown_keys": unknown,
        }),
    }
}
