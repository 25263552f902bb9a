//! Property checks over a simulated run: agreement between correct replicas, at-most-once
//! execution, and linearizability of the clients' calls against the key-value model.

use std::collections::{BTreeMap, BTreeSet};

use pbft_node::messages::{NodeId, Op};
use pbft_node::state_machine::{KvStore, OpResult};
use serde_json::Value;

use crate::sim::{Call, Sim};

/// Agreement: the executed logs of the given replicas are prefixes of one another.
pub fn agreement(sim: &Sim, correct: &[NodeId]) -> Result<(), String> {
    for (i, a) in correct.iter().enumerate() {
        for b in &correct[i + 1..] {
            let (la, lb) = (sim.executed(*a), sim.executed(*b));
            for (ea, eb) in la.iter().zip(&lb) {
                if ea.digest != eb.digest {
                    return Err(format!(
                        "agreement violated: replicas {a} and {b} executed different requests at seq {}: {:?} vs {:?}",
                        ea.seq, ea.request, eb.request
                    ));
                }
            }
        }
    }
    Ok(())
}

/// Validity (at most once): no replica lets one (client, req) take effect twice.
pub fn at_most_once(sim: &Sim, correct: &[NodeId]) -> Result<(), String> {
    for node in correct {
        let mut seen = BTreeMap::new();
        for entry in sim.node(*node).log_from(1) {
            if let (Some(client), Some(req)) = (entry.client, entry.req) {
                if let Some(first) = seen.insert((client.clone(), req), entry.seq) {
                    return Err(format!(
                        "validity violated: replica {node} executed ({client}, {req}) twice, at seq {first} and {}",
                        entry.seq
                    ));
                }
            }
        }
    }
    Ok(())
}

/// Validity: every request a correct replica executed was submitted by a client, with the
/// operation the client asked for.
pub fn validity(sim: &Sim, correct: &[NodeId]) -> Result<(), String> {
    for node in correct {
        for entry in sim.node(*node).log_from(1) {
            let (Some(client), Some(req)) = (entry.client, entry.req) else {
                continue;
            };
            let submitted = sim.calls.iter().any(|c| {
                c.request.client == client && c.request.req == req && c.request.op == entry.op
            });
            if !submitted {
                return Err(format!(
                    "validity violated: replica {node} executed ({client}, {req}) {:?} at seq {}, which no client submitted",
                    entry.op, entry.seq
                ));
            }
        }
    }
    Ok(())
}

fn key_of(op: &Op) -> Option<&str> {
    match op {
        Op::Read { key } | Op::Write { key, .. } | Op::Cas { key, .. } => Some(key),
        Op::Noop => None,
    }
}

/// Searches for a linearization of one key's calls (Wing and Gong with memoisation):
/// completed calls must all appear with their observed results, calls without an answer may
/// take effect or not, and real-time order is respected.
fn linearizable_key(calls: &[&Call]) -> bool {
    let completed_mask: u64 = calls
        .iter()
        .enumerate()
        .filter(|(_, c)| c.completed.is_some())
        .fold(0, |m, (i, _)| m | 1 << i);
    let mut seen: BTreeSet<(u64, String)> = BTreeSet::new();
    fn search(
        calls: &[&Call],
        done: u64,
        value: Value,
        completed_mask: u64,
        seen: &mut BTreeSet<(u64, String)>,
    ) -> bool {
        if done & completed_mask == completed_mask {
            return true;
        }
        if !seen.insert((done, value.to_string())) {
            return false;
        }
        // A call may go next only if no remaining completed call finished before it started.
        let horizon = calls
            .iter()
            .enumerate()
            .filter(|(i, c)| done & (1 << i) == 0 && c.completed.is_some())
            .map(|(_, c)| c.completed.as_ref().unwrap().0)
            .min()
            .unwrap_or(u64::MAX);
        for (i, call) in calls.iter().enumerate() {
            if done & (1 << i) != 0 || call.invoked > horizon {
                continue;
            }
            let mut kv = KvStore::default();
            let key = key_of(&call.request.op).unwrap_or_default().to_string();
            if !value.is_null() {
                kv.apply(&Op::Write {
                    key: key.clone(),
                    value: value.clone(),
                });
            }
            let result = kv.apply(&call.request.op);
            if let Some((_, observed)) = &call.completed {
                if *observed != result {
                    continue;
                }
            }
            if search(calls, done | 1 << i, kv.read(&key), completed_mask, seen) {
                return true;
            }
        }
        false
    }
    search(calls, 0, Value::Null, completed_mask, &mut seen)
}

/// Linearizability of every call answered by one of `correct` (calls at other nodes are
/// taken as unanswered), key by key.
pub fn linearizability(sim: &Sim, correct: &[NodeId]) -> Result<(), String> {
    let mut by_key: BTreeMap<String, Vec<Call>> = BTreeMap::new();
    for call in &sim.calls {
        let Some(key) = key_of(&call.request.op) else {
            continue;
        };
        let mut call = call.clone();
        if !correct.contains(&call.node) {
            call.completed = None;
        }
        if matches!(call.completed, Some((_, OpResult::Fail { .. })))
            && !matches!(call.request.op, Op::Cas { .. })
        {
            return Err(format!("a {:?} failed", call.request));
        }
        by_key.entry(key.to_string()).or_default().push(call);
    }
    for (key, calls) in by_key {
        let refs: Vec<&Call> = calls.iter().collect();
        assert!(refs.len() < 63, "checker handles up to 62 calls per key");
        if !linearizable_key(&refs) {
            let shown: Vec<String> = calls
                .iter()
                .map(|c| {
                    format!(
                        "{}/{} {:?} [{}, {}] -> {:?}",
                        c.request.client,
                        c.request.req,
                        c.request.op,
                        c.invoked,
                        c.completed
                            .as_ref()
                            .map_or("?".into(), |(t, _)| t.to_string()),
                        c.completed.as_ref().map(|(_, r)| r)
                    )
                })
                .collect();
            return Err(format!(
                "linearizability violated on key {key}: {}",
                shown.join("; ")
            ));
        }
    }
    Ok(())
}

/// All four properties at once.
pub fn all_properties(sim: &Sim, correct: &[NodeId]) -> Result<(), String> {
    agreement(sim, correct)?;
    at_most_once(sim, correct)?;
    validity(sim, correct)?;
    linearizability(sim, correct)
}
