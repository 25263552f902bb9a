//! Divergence (equivocation): a node tells different peers different things for one round.
//! Within one broadcast round (kind and round coordinates) a sender's copies to two peers
//! are in conflict when the two peers got no digest in common: a retransmission with new
//! content reaches everyone and so conflicts with nothing, while an equivocator's two
//! stories each reach only their own side. A sender is suspected from its
//! [`MIN_CONFLICTS`]-th round in conflict; kinds that diverge at more than `f` senders are
//! tailored to their recipients by design (PBFT's catch-up replies) and left out.
//!
//! Twins (two processes with one identity) show the same way, since each twin answers the
//! peers that reach it and their answers differ; and directly, as one identity sending
//! from two source addresses (the trace's `instance`).

use super::rounds::{rounds, Copies, Routes};
use super::{Detector, Finding, Observed};
use serde_json::json;
use std::collections::{BTreeMap, BTreeSet};
use traitor_model::NodeId;

/// Rounds in conflict before a sender is suspected: one could be a reply that happens to be
/// tailored to its recipient; an equivocator or a twin conflicts round after round.
pub const MIN_CONFLICTS: usize = 3;

/// One round in which one sender's copies conflict.
struct Conflict<'a> {
    known: u64,
    kind: &'a str,
    round: &'a str,
    told: [(NodeId, &'a Copies<'a>); 2],
}

pub fn detect(observed: &Observed) -> Vec<Finding> {
    let mut findings = conflicts(observed);
    findings.extend(twins(observed));
    findings
}

/// Nodes seen sending from two addresses: one identity, two processes.
fn twins(observed: &Observed) -> Vec<Finding> {
    let mut seen: BTreeMap<NodeId, BTreeMap<u32, (u64, usize)>> = BTreeMap::new();
    for s in &observed.sent {
        let at = seen
            .entry(s.from)
            .or_default()
            .entry(s.line.instance.unwrap_or(0))
            .or_insert((s.line.time, 0));
        at.1 += 1;
    }
    seen.into_iter()
        .filter(|(_, instances)| instances.len() > 1)
        .filter_map(|(node, instances)| {
            let time = instances.values().map(|(first, _)| *first).max()?;
            Some(Finding {
                detector: Detector::Equivocation,
                nodes: vec![node],
                time,
                summary: format!(
                    "node {node} sent from {} addresses: one identity, two processes (twins)",
                    instances.len()
                ),
                evidence: json!({
                    "instances": instances.iter().map(|(i, (first, count))| json!({"instance": i, "first": first, "messages": count})).collect::<Vec<_>>(),
                }),
            })
        })
        .collect()
}

/// Senders whose copies of one round conflict.
fn conflicts(observed: &Observed) -> Vec<Finding> {
    let rounds = rounds(observed, Routes::Kept);
    let mut by_sender: BTreeMap<NodeId, Vec<Conflict<'_>>> = BTreeMap::new();
    for round in &rounds {
        for (&from, fanout) in &round.senders {
            let copies: Vec<(NodeId, &Copies<'_>)> = fanout
                .iter()
                .filter(|(_, c)| !c.digests.is_empty())
                .map(|(&to, c)| (to, c))
                .collect();
            let mut first: Option<Conflict<'_>> = None;
            for (i, a) in copies.iter().enumerate() {
                for b in &copies[i + 1..] {
                    if a.1.digests.is_disjoint(&b.1.digests) {
                        let known = a.1.first.max(b.1.first);
                        if first.as_ref().is_none_or(|c| known < c.known) {
                            first = Some(Conflict {
                                known,
                                kind: round.kind,
                                round: &round.round,
                                told: [*a, *b],
                            });
                        }
                    }
                }
            }
            if let Some(conflict) = first {
                by_sender.entry(from).or_default().push(conflict);
            }
        }
    }
    // A kind whose copies diverge at more senders than may be faulty is tailored to each
    // recipient by design (a catch-up reply), not lied with.
    let mut senders_of: BTreeMap<&str, usize> = BTreeMap::new();
    for conflicts in by_sender.values() {
        let kinds: BTreeSet<&str> = conflicts.iter().map(|c| c.kind).collect();
        for kind in kinds {
            *senders_of.entry(kind).or_default() += 1;
        }
    }
    let tailored: BTreeSet<&str> = senders_of
        .into_iter()
        .filter(|&(_, senders)| senders > observed.f as usize)
        .map(|(kind, _)| kind)
        .collect();
    by_sender
        .into_iter()
        .filter_map(|(node, mut conflicts)| {
            conflicts.retain(|c| !tailored.contains(c.kind));
            conflicts.sort_by_key(|c| c.known);
            let first = conflicts.first()?;
            let known = conflicts.get(MIN_CONFLICTS - 1)?.known;
            let told: serde_json::Map<String, serde_json::Value> = first
                .told
                .iter()
                .map(|(to, c)| (to.to_string(), json!(c.digests)))
                .collect();
            Some(Finding {
                detector: Detector::Equivocation,
                nodes: vec![node],
                time: known,
                summary: format!(
                    "node {node} sent conflicting messages for one round to different peers in {} round(s); first: {} {} to nodes {} and {}",
                    conflicts.len(),
                    first.kind,
                    first.round,
                    first.told[0].0,
                    first.told[1].0
                ),
                evidence: json!({
                    "rounds": conflicts.len(),
                    "kinds": conflicts.iter().map(|c| c.kind).collect::<BTreeSet<_>>(),
                    "first": {"kind": first.kind, "round": first.round, "digests_by_recipient": told},
                    "tailored_kinds_ignored": tailored,
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
    fn a_primary_telling_one_backup_another_story_is_found() {
        let mut trace = chatter(4, 0, 5_000);
        for l in trace.iter_mut() {
            let conflicting = l.kind.as_deref() == Some("pre-prepare") && l.to == Some(2);
            if conflicting && l.time > ms(1000) {
                l.digest = Some("ffffffffffffffff".into());
            }
        }
        let found = detect(&observed(4, trace, vec![]));
        assert_eq!(nodes_of(&found), vec![0], "{found:#?}");
        assert_eq!(found[0].evidence["first"]["kind"], "pre-prepare");
        assert_eq!(found[0].evidence["first"]["round"], "seq=21 view=0");
        assert_eq!(
            found[0].time,
            ms(1150),
            "known at the third conflicting round"
        );
    }

    #[test]
    fn a_node_sending_from_two_addresses_is_a_twin() {
        let mut trace = chatter(4, 0, 2_000);
        for l in trace
            .iter_mut()
            .filter(|l| l.from == Some(1) && l.to == Some(3))
        {
            l.instance = Some(1);
        }
        let found = detect(&observed(4, trace, vec![]));
        assert_eq!(nodes_of(&found), vec![1], "{found:#?}");
        assert_eq!(found[0].evidence["instances"][1]["instance"], 1);
    }

    #[test]
    fn replies_tailored_to_each_recipient_are_not_conflicts() {
        let mut trace = chatter(4, 0, 2_000);
        // Every node answers two peers' catch-up requests, each with what that peer lacks.
        for from in 0..4 {
            for (i, to) in (0..4).filter(|&to| to != from).take(2).enumerate() {
                for round in 0..4 {
                    trace.push(line(
                        ms(500 + round * 100),
                        from,
                        to,
                        "entries",
                        round,
                        &format!("{i}"),
                    ));
                }
            }
        }
        assert!(detect(&observed(4, trace, vec![])).is_empty());
    }

    #[test]
    fn agreeing_copies_and_retransmissions_with_new_content_are_not_conflicts() {
        let mut trace = chatter(4, 0, 5_000);
        // Node 1 sends every peer a second, different, view-change for the same view.
        for (i, digest) in ["aa", "bb"].iter().enumerate() {
            for to in [0, 2, 3] {
                trace.push(line(
                    ms(1000 + 500 * i as u64),
                    1,
                    to,
                    "view-change",
                    1,
                    digest,
                ));
            }
        }
        assert!(detect(&observed(4, trace, vec![])).is_empty());
    }
}
