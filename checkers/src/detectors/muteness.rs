//! Muteness: a node sends a peer nothing for [`SILENCE_NS`] while most other nodes keep
//! getting messages through to that peer ("sends none of what its peers send"); messages
//! held by a partition do not count as getting through, and while the peer's messages to
//! the node are held the two are cut apart, not mute. A crashed node is
//! mute to every peer; a selfish one that skips a peer is mute to that peer only. A node
//! behind a partition, or lagging after one, is not mute: what it sends is seen leaving it
//! (held or not), and it keeps sending (view changes, catch-up requests). Nobody is mute
//! toward a peer that is itself silent (down): nothing reaches a dead process.

use super::activity::{by_sender, held, silences, Company, Counts, Span, SILENCE_NS};
use super::{Detector, Finding, Observed, SHOWN_EVIDENCE};
use serde_json::json;
use std::collections::BTreeMap;
use traitor_model::NodeId;

pub fn detect(observed: &Observed) -> Vec<Finding> {
    let Some(span) = Span::of(observed) else {
        return Vec::new();
    };
    // Per link, what left the sender (held or not), and what reached the receiver.
    let mut left: BTreeMap<(NodeId, NodeId), Vec<u64>> = BTreeMap::new();
    let mut reached: BTreeMap<(NodeId, NodeId), Vec<u64>> = BTreeMap::new();
    for s in &observed.sent {
        left.entry((s.from, s.to)).or_default().push(s.line.time);
        if s.line.reached() {
            reached.entry((s.from, s.to)).or_default().push(s.line.time);
        }
    }
    let none = Vec::new();
    let counts = |times: &BTreeMap<(NodeId, NodeId), Vec<u64>>, from: NodeId, to: NodeId| {
        let times = times.get(&(from, to)).unwrap_or(&none);
        Counts::new(times.iter().copied(), span.bins())
    };
    // What each node sent to anyone: a receiver that sends nothing is down, and owed nothing.
    let spoke = by_sender(observed, span);
    let held = held(observed);
    let mut findings = Vec::new();
    for &node in &observed.nodes {
        let mut mute_to = Vec::new();
        for &peer in observed.nodes.iter().filter(|&&p| p != node) {
            let others: Vec<Counts> = observed
                .nodes
                .iter()
                .filter(|&&o| o != node && o != peer)
                .map(|&o| counts(&reached, o, peer))
                .collect();
            let company = Company {
                talkers: &others,
                needed: others.len() / 2 + 1,
                alive: spoke.get(&peer),
                cut: Some(&counts(&held, peer, node)),
            };
            let found = silences(&counts(&left, node, peer), company, span);
            if let Some(first) = found.first() {
                mute_to.push((first.known, peer, found));
            }
        }
        mute_to.sort_by_key(|(known, peer, _)| (*known, *peer));
        let Some(&(time, _, _)) = mute_to.first() else {
            continue;
        };
        let peers: Vec<NodeId> = mute_to.iter().map(|(_, p, _)| *p).collect();
        let shown: Vec<_> = mute_to
            .iter()
            .take(SHOWN_EVIDENCE)
            .map(|(_, peer, found)| {
                json!({"to": peer, "stretches": found.len(), "first_from": found[0].from, "first_until": found[0].until})
            })
            .collect();
        findings.push(Finding {
            detector: Detector::Muteness,
            nodes: vec![node],
            time,
            summary: format!(
                "node {node} sent nothing to node(s) {peers:?} for {:.0} s or more while the others kept sending them messages",
                SILENCE_NS as f64 / 1e9
            ),
            evidence: json!({"mute_to": peers, "silence_ns": SILENCE_NS, "links": shown}),
        });
    }
    findings
}

#[cfg(test)]
mod tests {
    use super::super::testing::*;
    use super::*;
    use traitor_model::trace::TraceLine;

    #[test]
    fn a_node_that_skips_a_peer_is_mute_to_that_peer() {
        let mut trace = chatter(4, 0, 10_000);
        for l in trace.iter_mut() {
            if l.from == Some(3) && l.to == Some(1) && l.time > ms(1000) {
                l.action = Some("drop".into());
            }
        }
        let found = detect(&observed(4, trace, vec![]));
        assert_eq!(nodes_of(&found), vec![3], "{found:#?}");
        assert_eq!(found[0].evidence["mute_to"], json!([1]));
        assert_eq!(found[0].time, ms(3000));
    }

    #[test]
    fn a_crashed_node_is_mute_to_everyone() {
        let mut trace = chatter(4, 0, 10_000);
        trace.retain(|l| !(l.from == Some(1) && l.time > ms(4000)));
        let found = detect(&observed(4, trace, vec![]));
        assert_eq!(nodes_of(&found), vec![1]);
        assert_eq!(found[0].evidence["mute_to"], json!([0, 2, 3]));
    }

    #[test]
    fn nobody_is_mute_toward_a_crashed_node() {
        let mut trace = chatter(4, 0, 10_000);
        let down = |l: &TraceLine| l.time > ms(3000) && l.time < ms(7000);
        // Node 2 is down; nodes 0 and 1 stop sending to it, node 3 keeps writing to it.
        trace.retain(|l| {
            !(down(l) && (l.from == Some(2) || (l.to == Some(2) && l.from != Some(3))))
        });
        let found = detect(&observed(4, trace, vec![]));
        assert_eq!(nodes_of(&found), vec![2], "{found:#?}");
    }

    #[test]
    fn a_node_with_nothing_to_say_across_a_partition_is_not_mute() {
        // Halves {1, 3} and {0, 2} from 3 s to 7 s: what crosses is held, and node 1 has
        // nothing to say across (its queue to the other side is empty).
        let mut trace = chatter(4, 0, 10_000);
        let side = |n: Option<NodeId>| matches!(n, Some(1) | Some(3));
        let cut =
            |l: &TraceLine| l.time > ms(3000) && l.time < ms(7000) && side(l.from) != side(l.to);
        trace.retain(|l| !(cut(l) && l.from == Some(1)));
        for l in trace.iter_mut().filter(|l| cut(l)) {
            l.action = Some("hold".into());
        }
        let found = detect(&observed(4, trace, vec![]));
        assert!(found.is_empty(), "{found:#?}");
    }

    #[test]
    fn a_correct_cluster_and_a_partitioned_node_are_not_mute() {
        assert!(detect(&observed(4, chatter(4, 0, 10_000), vec![])).is_empty());
        let mut trace = chatter(4, 0, 10_000);
        for l in trace.iter_mut() {
            if l.from == Some(0) && l.time > ms(2000) {
                l.action = Some("hold".into());
            }
        }
        assert!(detect(&observed(4, trace, vec![])).is_empty());
    }
}
