//! Incorrect messages: frames that are not well formed (a `len32-json` body that is not a
//! JSON object) and impersonation (a message whose claimed sender is not the node it came
//! from, known by its source address). Messages are relayed hop by hop in traitor's
//! targets, so a correct node always names itself.
//!
//! Not seen: bad signatures. The trace keeps a digest of each message, not its bytes, so
//! a validly framed message with a forged or damaged signature looks correct here.

use super::{Detector, Finding, Observed, SHOWN_EVIDENCE};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use traitor_model::NodeId;

#[derive(Default)]
struct Tally {
    first: Option<u64>,
    malformed: usize,
    impersonating: usize,
    examples: Vec<Value>,
}

pub fn detect(observed: &Observed) -> Vec<Finding> {
    let mut by_sender: BTreeMap<NodeId, Tally> = BTreeMap::new();
    for s in &observed.sent {
        let line = &s.line;
        let claims_other = line.claims.filter(|&c| c != u64::from(s.from));
        if !line.malformed && claims_other.is_none() {
            continue;
        }
        let tally = by_sender.entry(s.from).or_default();
        tally.first.get_or_insert(line.time);
        if line.malformed {
            tally.malformed += 1;
        }
        if claims_other.is_some() {
            tally.impersonating += 1;
        }
        if tally.examples.len() < SHOWN_EVIDENCE {
            tally.examples.push(json!({
                "time": line.time, "to": s.to, "kind": line.kind, "round": line.round,
                "claims": claims_other, "malformed": line.malformed,
            }));
        }
    }
    by_sender
        .into_iter()
        .filter_map(|(node, tally)| {
            let what = match (tally.malformed, tally.impersonating) {
                (0, i) => format!("{i} message(s) claiming another sender"),
                (m, 0) => format!("{m} malformed frame(s)"),
                (m, i) => {
                    format!("{m} malformed frame(s) and {i} message(s) claiming another sender")
                }
            };
            Some(Finding {
                detector: Detector::IncorrectMessages,
                nodes: vec![node],
                time: tally.first?,
                summary: format!("node {node} sent {what}"),
                evidence: json!({
                    "malformed": tally.malformed,
                    "impersonating": tally.impersonating,
                    "examples": tally.examples,
                }),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::super::testing::*;
    use super::*;

    #[test]
    fn malformed_frames_and_impersonation_name_their_link_sender() {
        let mut trace = chatter(4, 0, 2_000);
        let mut forged = line(ms(500), 3, 1, "prepare", 10, "aa");
        forged.claims = Some(2);
        let mut garbage = line(ms(700), 2, 0, "prepare", 14, "bb");
        garbage.malformed = true;
        garbage.kind = None;
        trace.extend([forged, garbage]);
        let found = detect(&observed(4, trace, vec![]));
        assert_eq!(nodes_of(&found), vec![2, 3], "{found:#?}");
        let three = found.iter().find(|f| f.nodes == [3]).unwrap();
        assert_eq!(
            (three.time, three.evidence["impersonating"].clone()),
            (ms(500), json!(1))
        );
    }

    #[test]
    fn a_correct_cluster_sends_nothing_incorrect() {
        assert!(detect(&observed(4, chatter(4, 0, 2_000), vec![])).is_empty());
    }
}
