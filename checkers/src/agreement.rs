//! Agreement: no two correct nodes hold different entries at one sequence number, and no
//! node changes or loses an entry it already showed (within one incarnation: a node
//! restarted without durable state starts afresh, but must still agree with the others).

use crate::run_folder::RunFolder;
use crate::verdict::CheckResult;
use serde_json::{json, Value};
use std::collections::{BTreeMap, HashMap};
use traitor_model::{LogEntry, NodeId};

pub const NAME: &str = "agreement";

/// What makes two entries the same: the digest when both carry one, else the request.
fn same(a: &LogEntry, b: &LogEntry) -> bool {
    match (&a.digest, &b.digest) {
        (Some(x), Some(y)) if !x.is_empty() && !y.is_empty() => x == y,
        _ => (&a.client, a.req, &a.op) == (&b.client, b.req, &b.op),
    }
}

fn brief(e: &LogEntry) -> Value {
    json!({"view": e.view, "digest": e.digest, "client": e.client, "req": e.req, "op": e.op})
}

pub fn check(run: &RunFolder) -> CheckResult {
    let (_, reads) = match run.correct_reads() {
        Ok(found) => found,
        Err(why) => return CheckResult::unknown(NAME, why),
    };
    let mut violations = Vec::new();
    // Per (node, incarnation): what it showed at each seq, and its highest committed height.
    let mut shown: HashMap<(NodeId, u32), (BTreeMap<u64, LogEntry>, u64)> = HashMap::new();
    for read in &reads {
        let (log, height) = shown.entry((read.node, read.incarnation)).or_default();
        if read.committed < *height {
            violations.push(json!({
                "kind": "height went back", "node": read.node, "time": read.time,
                "text": format!("node {} reported committed height {} after {}", read.node, read.committed, height),
            }));
        }
        *height = (*height).max(read.committed);
        let here: BTreeMap<u64, &LogEntry> = read.entries.iter().map(|e| (e.seq, e)).collect();
        // A read shows every entry in from..=committed; an incremental read may show none.
        let shown_range = read.from..=read.committed.max(read.from);
        for (&seq, before) in log
            .range(shown_range)
            .filter(|(&seq, _)| seq <= read.committed)
        {
            match here.get(&seq) {
                Some(now) if !same(before, now) => violations.push(json!({
                    "kind": "entry changed", "node": read.node, "seq": seq, "time": read.time,
                    "before": brief(before), "after": brief(now),
                    "text": format!("node {} changed its committed entry at seq {seq}", read.node),
                })),
                Some(_) => {}
                None => violations.push(json!({
                    "kind": "entry lost", "node": read.node, "seq": seq, "time": read.time, "before": brief(before),
                    "text": format!("node {} no longer shows its committed entry at seq {seq}", read.node),
                })),
            }
        }
        for e in &read.entries {
            log.entry(e.seq).or_insert_with(|| e.clone());
        }
    }
    // Across correct nodes, every incarnation counts: a restarted node must agree too.
    let mut by_seq: BTreeMap<u64, Vec<(NodeId, &LogEntry)>> = BTreeMap::new();
    for ((node, _), (log, _)) in &shown {
        for (seq, e) in log {
            by_seq.entry(*seq).or_default().push((*node, e));
        }
    }
    for (seq, holders) in &by_seq {
        let (first_node, first) = holders[0];
        if let Some((other_node, _)) = holders.iter().find(|(_, e)| !same(first, e)) {
            let mut nodes: BTreeMap<String, Value> = BTreeMap::new();
            for (n, e) in holders {
                nodes.insert(n.to_string(), brief(e));
            }
            violations.push(json!({
                "kind": "disagreement", "seq": seq, "entries": nodes,
                "text": format!("correct nodes {first_node} and {other_node} committed different entries at seq {seq}"),
            }));
        }
    }
    let nodes: std::collections::BTreeSet<NodeId> = reads.iter().map(|r| r.node).collect();
    if violations.is_empty() {
        return CheckResult::holds(
            NAME,
            format!(
                "{} correct node(s) agree on {} committed sequence number(s)",
                nodes.len(),
                by_seq.len()
            ),
        );
    }
    CheckResult::from_findings(NAME, violations)
}
