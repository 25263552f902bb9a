//! Validity: every committed entry traces to a client invoke with the same operation, and
//! no (client, req) is executed twice by one node. With a correct commander (or a correct
//! receiving node), correct nodes decide the order the client gave.
//!
//! An op handed to a Byzantine node may legitimately be altered or invented by it (clients
//! do not sign their requests), so entries whose invoke went to a Byzantine node, and
//! entries that trace to no invoke while some node is Byzantine, are listed but do not
//! count as violations.

use crate::run_folder::RunFolder;
use crate::verdict::CheckResult;
use serde_json::{json, Value};
use std::collections::{HashMap, HashSet};
use traitor_model::{EventKind, NodeId};

pub const NAME: &str = "validity";

/// The parts of an op that must survive ordering: the function, key and value.
fn same_op(entry: &Value, f: &str, key: &Option<Value>, value: &Value) -> bool {
    let entry_key = entry.get("key").filter(|k| !k.is_null());
    entry.get("f").and_then(Value::as_str) == Some(f)
        && (key.is_none() || entry_key.is_none() || entry_key == key.as_ref())
        && entry.get("value").unwrap_or(&Value::Null) == value
}

pub fn check(run: &RunFolder) -> CheckResult {
    let (manifest, reads) = match run.correct_reads() {
        Ok(found) => found,
        Err(why) => return CheckResult::unknown(NAME, why),
    };
    let Some(events) = &run.events else {
        return CheckResult::unknown(
            NAME,
            "history.jsonl is missing: entries cannot be traced to clients",
        );
    };
    let invokes: HashMap<(&str, u64), &traitor_model::Event> = events
        .iter()
        .filter(|e| e.kind == EventKind::Invoke)
        .filter_map(|e| Some(((e.client.as_deref()?, e.req?), e)))
        .collect();
    if invokes.is_empty() {
        return CheckResult::unknown(
            NAME,
            "the history's invokes carry no client/req ids to trace entries to",
        );
    }
    let someone_byzantine = !manifest.byzantine.is_empty();
    let mut violations = Vec::new();
    let mut excused = Vec::new();
    // Per (node, incarnation, client, req): the seq where it was executed.
    let mut executed: HashMap<(NodeId, u32, &str, u64), u64> = HashMap::new();
    let mut traced = 0usize;
    let mut seen: HashSet<(NodeId, u32, u64)> = HashSet::new();
    // A finding is excused when a Byzantine node may have caused it, else it is a violation.
    let mut file = |finding: Value, excusable: bool| {
        if excusable {
            excused.push(finding)
        } else {
            violations.push(finding)
        }
    };
    for read in &reads {
        for e in read.entries.iter().filter(|e| !e.is_noop()) {
            if !seen.insert((read.node, read.incarnation, e.seq)) {
                continue;
            }
            let here =
                |text: String| json!({"node": read.node, "seq": e.seq, "entry": e, "text": text});
            let (Some(client), Some(req)) = (e.client.as_deref(), e.req) else {
                let finding = here(format!(
                    "node {} committed an op with no client at seq {}",
                    read.node, e.seq
                ));
                file(finding, someone_byzantine);
                continue;
            };
            match invokes.get(&(client, req)) {
                None => {
                    let finding = here(format!(
                        "node {} committed ({client}, {req}) at seq {}, which no client invoked",
                        read.node, e.seq
                    ));
                    file(finding, someone_byzantine);
                }
                Some(invoke) if !same_op(&e.op, &invoke.f, &invoke.key, &invoke.value) => {
                    let finding = here(format!(
                        "node {} committed ({client}, {req}) at seq {} as {}, but the client asked for {} {}",
                        read.node, e.seq, e.op, invoke.f, invoke.value
                    ));
                    file(
                        finding,
                        invoke.node.is_some_and(|n| !manifest.is_correct(n)),
                    );
                }
                Some(_) => traced += 1,
            }
            if let Some(first) = executed.insert((read.node, read.incarnation, client, req), e.seq)
            {
                if first != e.seq {
                    let twice = format!(
                        "node {} executed ({client}, {req}) twice, at seq {first} and {}",
                        read.node, e.seq
                    );
                    file(here(twice), false);
                }
            }
        }
    }
    if violations.is_empty() {
        let mut result = CheckResult::holds(
            NAME,
            format!(
                "{traced} committed entries on correct nodes traced to their client invokes, none executed twice"
            ),
        );
        if !excused.is_empty() {
            excused.truncate(crate::verdict::SHOWN_FINDINGS);
            result.evidence = json!({"attributed_to_byzantine_nodes": excused});
        }
        return result;
    }
    CheckResult::from_findings(NAME, violations)
}
