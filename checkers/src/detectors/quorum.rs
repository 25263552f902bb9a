//! Quorum participation: whose messages a peer's quorums lack. For each broadcast round a
//! peer collects (it got the round's message from another node), a sender that spoke in
//! that round to other peers but never to this one is missing from its quorum. A node
//! is suspected for a peer when it is missing from at least [`MIN_LACKING`] of that peer's
//! quorums and from at least [`LACKING_SHARE`] of those it spoke in.
//!
//! Only rounds the sender spoke in count: a node that never heard of a round (cut off by
//! a partition, catching up after one) is not blamed for it, and neither is a role that
//! does not send a kind at all (PBFT's primary sends no prepare). The price: a node that
//! skips one kind everywhere (never commits) is not seen here either.

use super::rounds::{rounds, Routes};
use super::{Detector, Finding, Observed};
use serde_json::json;
use std::collections::BTreeMap;
use traitor_model::NodeId;

/// Quorums a node must be missing from before it is suspected for a peer: a few lost
/// messages (a lossy network) are not a pattern.
pub const MIN_LACKING: usize = 5;
/// The share of a peer's quorums (among rounds the node spoke in) it must be missing from.
pub const LACKING_SHARE: f64 = 0.5;
/// Rounds that started this close to the trace's truncation are left out: their other
/// copies may be past the bound.
const NEAR_TRUNCATION_NS: u64 = 1_000_000_000;

#[derive(Default)]
struct Link {
    rounds: usize,
    lacking: usize,
    first_kind: Option<String>,
    known: Option<u64>,
}

pub fn detect(observed: &Observed) -> Vec<Finding> {
    let cutoff = observed
        .truncated_at
        .map_or(u64::MAX, |t| t.saturating_sub(NEAR_TRUNCATION_NS));
    let mut links: BTreeMap<(NodeId, NodeId), Link> = BTreeMap::new();
    for round in rounds(observed, Routes::Ignored)
        .iter()
        .filter(|r| r.first < cutoff)
    {
        for (&from, fanout) in &round.senders {
            let spoke_at = fanout
                .values()
                .map(|c| c.first)
                .max()
                .unwrap_or(round.first);
            for &peer in &observed.nodes {
                if peer == from || !round.reached(peer, from) {
                    continue;
                }
                let link = links.entry((from, peer)).or_default();
                link.rounds += 1;
                if fanout.contains_key(&peer) {
                    continue;
                }
                link.lacking += 1;
                link.first_kind
                    .get_or_insert_with(|| round.kind.to_string());
                let suspected = link.lacking >= MIN_LACKING
                    && link.lacking as f64 >= LACKING_SHARE * link.rounds as f64;
                if suspected && link.known.is_none() {
                    link.known = Some(spoke_at);
                }
            }
        }
    }
    let mut by_node: BTreeMap<NodeId, Vec<(NodeId, &Link)>> = BTreeMap::new();
    for ((from, peer), link) in &links {
        let share = link.lacking as f64 / link.rounds.max(1) as f64;
        if link.lacking >= MIN_LACKING && share >= LACKING_SHARE {
            by_node.entry(*from).or_default().push((*peer, link));
        }
    }
    by_node
        .into_iter()
        .filter_map(|(node, peers)| {
            let time = peers.iter().filter_map(|(_, l)| l.known).min()?;
            let evidence: Vec<_> = peers
                .iter()
                .map(|(peer, l)| json!({"peer": peer, "lacking": l.lacking, "rounds": l.rounds, "first_kind": l.first_kind}))
                .collect();
            let names: Vec<NodeId> = peers.iter().map(|(p, _)| *p).collect();
            Some(Finding {
                detector: Detector::QuorumParticipation,
                nodes: vec![node],
                time,
                summary: format!(
                    "node {node} is missing from the quorums of node(s) {names:?} in rounds it spoke in to the others ({} of {} rounds for node {})",
                    peers[0].1.lacking, peers[0].1.rounds, peers[0].0
                ),
                evidence: json!({"peers": evidence}),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::super::testing::*;
    use super::*;

    #[test]
    fn a_node_that_skips_a_peer_is_missing_from_its_quorums() {
        let mut trace = chatter(4, 0, 3_000);
        trace.retain(|l| !(l.from == Some(2) && l.to == Some(3) && l.time > ms(1000)));
        let found = detect(&observed(4, trace, vec![]));
        assert_eq!(nodes_of(&found), vec![2], "{found:#?}");
        assert_eq!(found[0].evidence["peers"][0]["peer"], 3);
        assert!(found[0].time > ms(1000) && found[0].time < ms(2500));
    }

    #[test]
    fn the_primary_is_not_blamed_for_sending_no_prepares_nor_a_lossy_link() {
        let mut trace = chatter(4, 0, 3_000);
        let mut i = 0;
        trace.retain(|l| {
            i += 1;
            l.from != Some(1) || l.to != Some(0) || i % 5 != 0
        });
        assert!(detect(&observed(4, trace, vec![])).is_empty());
    }

    #[test]
    fn a_node_cut_off_from_rounds_is_not_blamed_for_them() {
        let trace: Vec<_> = chatter(4, 0, 3_000)
            .into_iter()
            .filter(|l| l.time < ms(1000) || (l.from != Some(3) && l.to != Some(3)))
            .collect();
        assert!(detect(&observed(4, trace, vec![])).is_empty());
    }
}
