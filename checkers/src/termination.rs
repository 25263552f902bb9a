//! Termination: once correct nodes have had the recorded bound to recover from the heal,
//! every op sent to a correct node completed (ok or fail, not unknown), and correct nodes
//! ended at the same committed height.

use crate::run_folder::RunFolder;
use crate::verdict::CheckResult;
use serde_json::json;
use std::collections::{BTreeMap, HashMap};
use traitor_model::{EventKind, NodeId};

pub const NAME: &str = "termination";

pub fn check(run: &RunFolder) -> CheckResult {
    let Some(manifest) = &run.manifest else {
        return CheckResult::unknown(
            NAME,
            "no manifest.json: the heal time and correct nodes are unknown",
        );
    };
    let Some(healed_at) = manifest.healed_at else {
        return CheckResult::unknown(
            NAME,
            "the run recorded no heal time (the harness may have stopped before healing)",
        );
    };
    let Some(events) = &run.events else {
        return CheckResult::unknown(NAME, "history.jsonl is missing");
    };
    let judged_from = healed_at + manifest.termination_bound_ns.unwrap_or(0);
    let mut problems = Vec::new();
    // Ops invoked on correct nodes after the heal, and how each ended.
    let mut open: HashMap<u64, &traitor_model::Event> = HashMap::new();
    let mut after_heal = 0usize;
    for e in events {
        match e.kind {
            EventKind::Invoke => {
                let Some(time) = e.time else {
                    return CheckResult::unknown(
                        NAME,
                        "history events carry no time to compare with the heal",
                    );
                };
                if time >= judged_from && e.node.is_some_and(|n| manifest.is_correct(n)) {
                    open.insert(e.process, e);
                    after_heal += 1;
                }
            }
            EventKind::Ok | EventKind::Fail => {
                open.remove(&e.process);
            }
            EventKind::Info => {
                if let Some(invoke) = open.remove(&e.process) {
                    problems.push(json!({
                        "kind": "op unknown after heal", "process": e.process, "node": invoke.node, "f": invoke.f,
                        "invoked_at": invoke.time,
                        "text": format!("process {} got no answer from correct node {} after the heal", e.process, invoke.node.unwrap_or_default()),
                    }));
                }
            }
        }
    }
    for invoke in open.values() {
        problems.push(json!({
            "kind": "op never completed", "process": invoke.process, "node": invoke.node, "f": invoke.f,
            "invoked_at": invoke.time,
            "text": format!("an op sent to correct node {} after the heal never completed", invoke.node.unwrap_or_default()),
        }));
    }
    // Final heights of correct nodes.
    let correct: Vec<NodeId> = (0..manifest.n)
        .filter(|n| manifest.is_correct(*n))
        .collect();
    let mut heights: BTreeMap<NodeId, u64> = BTreeMap::new();
    for read in run
        .commits
        .iter()
        .filter(|r| r.r#final && manifest.is_correct(r.node))
    {
        heights.insert(read.node, read.committed);
    }
    let unread: Vec<NodeId> = correct
        .iter()
        .copied()
        .filter(|n| !heights.contains_key(n))
        .collect();
    if !unread.is_empty() && problems.is_empty() {
        return CheckResult::unknown(
            NAME,
            format!("no final committed height was read from correct node(s) {unread:?}, so equal heights cannot be judged"),
        );
    }
    let (low, high) = (
        heights.values().min().copied(),
        heights.values().max().copied(),
    );
    if low != high {
        problems.push(json!({
            "kind": "heights differ", "heights": heights,
            "text": format!("correct nodes ended at different committed heights: {heights:?}"),
        }));
    }
    if problems.is_empty() {
        return CheckResult::holds(
            NAME,
            format!(
                "{after_heal} op(s) sent to correct nodes after the heal (and the recovery bound) all completed; {} correct node(s) ended at height {}",
                heights.len(),
                high.unwrap_or_default()
            ),
        );
    }
    let mut result = CheckResult::from_findings(NAME, problems);
    result.evidence["healed_at"] = json!(healed_at);
    result
}
