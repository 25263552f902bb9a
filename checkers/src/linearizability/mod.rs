//! Linearizability: is there an order of the ops, consistent with real time, that the model
//! accepts? Each key is checked on its own (P-compositionality), keys in parallel, each by
//! the memoised Wing-Gong-Lowe search, within a time and memory budget.
//!
//! A check stops once its verdict is known: the first key found violated cancels the
//! searches of the others (reported as not decided), unless the budget asks for every key.
//! Cheap keys go first, so that a violation is found early: keys are searched in rounds of
//! growing step allowances (`ROUNDS`), smallest key first within a round, each thread
//! taking the next key as it frees. A key that needs more than its round allows pauses,
//! holding its memory, and resumes in the next round where it stopped, so a long search
//! (many concurrent or unknown ops) never holds a core while a cheap key that would decide
//! the verdict waits, and no step is done twice.

mod explain;
mod search;

use crate::budget::Budget;
use crate::models::Model;
use crate::ops::{Op, Operations};
use crate::verdict::{CheckResult, Validity};
use search::{Blocked, Limits, Outcome, Search, Spare, Stop};
use serde_json::json;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Mutex;

/// Violations explained at most, per check, to keep the evidence readable.
const EXPLAINED: usize = 3;

/// Steps a key's search may take in each round; the last round has no limit.
const ROUNDS: [u64; 4] = [1 << 16, 1 << 20, 1 << 24, u64::MAX];

/// Why a cancelled key has no answer.
const NOT_DECIDED: &str = "not decided: the history is already not linearizable";

/// The checker's name in results.
pub const NAME: &str = "linearizability";

/// Checks every key's ops against `model`; stops at the first violated key unless the
/// budget asks for every key.
pub fn check(ops: &Operations, model: Model, budget: &Budget) -> CheckResult {
    if ops.by_key.is_empty() {
        return CheckResult::unknown(
            NAME,
            "no operation with a known or possible effect in the history",
        );
    }
    budget.measure_resident();
    let mut keys: Vec<(&String, &[Op])> = ops
        .by_key
        .iter()
        .map(|(key, ops)| (key, ops.as_slice()))
        .collect();
    keys.sort_by_key(|&(key, ops)| (ops.len(), key));
    let cancelled = AtomicBool::new(false);
    let mut waiting: Vec<Key> = keys
        .into_iter()
        .map(|(name, ops)| Key {
            name,
            ops,
            search: None,
        })
        .collect();
    let mut violated: Vec<(&String, &[Op], Blocked)> = Vec::new();
    let mut unknown = Vec::new();
    let mut not_decided: Vec<&String> = Vec::new();
    for steps in ROUNDS {
        let limits = Limits {
            budget,
            cancelled: &cancelled,
            steps,
        };
        let mut next = Vec::new();
        for (key, outcome) in round(model, waiting, &limits) {
            match outcome {
                Some(Outcome::Linearizable) => {}
                Some(Outcome::NotLinearizable(blocked)) => {
                    violated.push((key.name, key.ops, blocked))
                }
                Some(Outcome::Stopped(Stop::Allowance)) => next.push(key),
                Some(Outcome::Stopped(Stop::Exhausted(why))) => {
                    unknown.push(json!({"key": key.name, "why": why.0}))
                }
                Some(Outcome::Stopped(Stop::Cancelled)) | None => not_decided.push(key.name),
            }
        }
        waiting = next;
        if cancelled.load(Ordering::Relaxed) {
            not_decided.extend(waiting.drain(..).map(|key| key.name));
        }
        if waiting.is_empty() {
            break;
        }
    }
    violated.sort_by_key(|&(key, _, _)| key);
    not_decided.sort();
    verdict(ops, model, &violated, unknown, not_decided)
}

/// A key still to decide, with its search once started (paused between rounds).
struct Key<'a> {
    name: &'a String,
    ops: &'a [Op],
    search: Option<Search<'a>>,
}

/// Searches `keys` in their order, each thread of the pool taking the next key as it
/// frees, and gives each key back with its outcome (`None`: never started). A violation
/// cancels the rest unless every key is to be decided. A search that ends leaves its
/// buffers to its thread's next search (the last ones are freed with the round).
fn round<'a>(
    model: Model,
    keys: Vec<Key<'a>>,
    limits: &Limits<'a>,
) -> Vec<(Key<'a>, Option<Outcome>)> {
    let slots: Vec<Mutex<(Key, Option<Outcome>)>> = keys
        .into_iter()
        .map(|key| Mutex::new((key, None)))
        .collect();
    let next = AtomicUsize::new(0);
    let workers = rayon::current_num_threads().min(slots.len());
    rayon::scope(|scope| {
        for _ in 0..workers {
            scope.spawn(|_| {
                let mut spare = None;
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= slots.len() || limits.cancelled.load(Ordering::Relaxed) {
                        break;
                    }
                    let mut slot = slots[i].lock().expect("each slot is taken by one thread");
                    let (key, outcome) = &mut *slot;
                    let found = resume(model, key, limits, &mut spare);
                    if matches!(found, Outcome::NotLinearizable(_)) && !limits.budget.every_key() {
                        limits.cancelled.store(true, Ordering::Relaxed);
                    }
                    *outcome = Some(found);
                }
            });
        }
    });
    slots
        .into_iter()
        .map(|slot| {
            slot.into_inner()
                .expect("no search panics holding its slot")
        })
        .collect()
}

/// Runs a key's search on (starting it if new, in `spare`'s buffers); a search that ends
/// leaves its buffers in `spare` for the thread's next key.
fn resume<'a>(
    model: Model,
    key: &mut Key<'a>,
    limits: &Limits<'a>,
    spare: &mut Option<Spare<'a>>,
) -> Outcome {
    let search = match key.search.take() {
        Some(search) => Ok(search),
        None => Search::new(model, key.ops, limits.budget, spare.take()),
    };
    let mut search = match search {
        Ok(search) => search,
        Err(why) => return Outcome::Stopped(Stop::Exhausted(why)),
    };
    let outcome = search.resume(limits);
    match outcome {
        Outcome::Stopped(Stop::Allowance) => key.search = Some(search),
        // A search that ran out of memory gives it all back.
        Outcome::Stopped(Stop::Exhausted(_)) => {}
        _ => *spare = search.into_spare(),
    }
    outcome
}

/// The result: violated keys explained, undecided keys with why.
fn verdict(
    ops: &Operations,
    model: Model,
    violated: &[(&String, &[Op], Blocked)],
    unknown: Vec<serde_json::Value>,
    not_decided: Vec<&String>,
) -> CheckResult {
    let keys = ops.by_key.len();
    let explained: Vec<_> = violated
        .iter()
        .take(EXPLAINED)
        .map(|(key, key_ops, blocked)| explain::explain(key, key_ops, blocked))
        .collect();
    let (valid, summary) = if let Some(first) = explained.first() {
        let mut summary = first["explanation"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        if !not_decided.is_empty() {
            summary.push_str(&format!(
                " ({} other key(s) {NOT_DECIDED}; --all-keys decides them)",
                not_decided.len()
            ));
        }
        (Validity::Violated, summary)
    } else if let Some(first) = unknown.first() {
        let why = first["why"].as_str().unwrap_or_default();
        let summary = format!("{} of {keys} key(s) undecided: {why}", unknown.len());
        (Validity::Unknown, summary)
    } else {
        let summary = format!(
            "{} ops over {keys} key(s) linearizable as {model}",
            ops.invokes
        );
        (Validity::Holds, summary)
    };
    CheckResult {
        checker: NAME.into(),
        valid,
        summary,
        evidence: json!({
            "model": model.name(),
            "keys": keys,
            "violated_keys": violated.iter().map(|(key, _, _)| key).collect::<Vec<_>>(),
            "violations": explained,
            "unknown_keys": unknown,
            "not_decided_keys": {"keys": not_decided, "why": NOT_DECIDED},
        }),
    }
}
