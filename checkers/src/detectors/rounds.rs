//! Messages grouped by round: for each message kind and round coordinates (as the proxy
//! read them, `"seq=17 view=2"`), who sent what to whom and when. The shared sensor of the
//! equivocation and quorum-participation detectors.
//!
//! Array coordinates (written `path=[0.2]`: the generals' relay path) name the route a
//! message took within its round; [`Routes::Ignored`] leaves them out, so that relays of
//! one instance by different nodes fall in one round.
//!
//! Only broadcast kinds are kept: kinds whose senders usually send one round's message to
//! two peers or more. A reply to one peer (PBFT's catch-up `entries`) is tailored to
//! whoever asked and may differ per recipient without anyone lying; a message with no
//! round coordinates (a client request) belongs to no round and cannot conflict.

use super::Observed;
use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet};
use traitor_model::NodeId;

/// What one recipient got from one sender for one round.
#[derive(Clone, Debug, Default)]
pub struct Copies<'a> {
    /// The first time a copy left the sender.
    pub first: u64,
    pub digests: BTreeSet<&'a str>,
}

/// One sender's messages for one round, by recipient.
pub type Fanout<'a> = BTreeMap<NodeId, Copies<'a>>;

/// One round of one kind.
#[derive(Clone, Debug, Default)]
pub struct Round<'a> {
    pub kind: &'a str,
    pub round: Cow<'a, str>,
    /// The first time any copy left any sender.
    pub first: u64,
    pub senders: BTreeMap<NodeId, Fanout<'a>>,
}

impl Round<'_> {
    /// Whether `to` got this round's message from any sender other than `except`.
    pub fn reached(&self, to: NodeId, except: NodeId) -> bool {
        self.senders
            .iter()
            .any(|(&from, fanout)| from != except && fanout.contains_key(&to))
    }
}

/// Whether array coordinates (routes) are part of a round.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Routes {
    Kept,
    Ignored,
}

/// A round without its array coordinates; `None` when nothing is left.
fn without_routes(round: &str) -> Option<Cow<'_, str>> {
    if !round.contains('[') {
        return Some(Cow::Borrowed(round));
    }
    let kept: Vec<&str> = round
        .split(' ')
        .filter(|c| !c.split_once('=').is_some_and(|(_, v)| v.starts_with('[')))
        .collect();
    (!kept.is_empty()).then(|| Cow::Owned(kept.join(" ")))
}

/// Every round of a broadcast kind, in the order they started.
pub fn rounds(observed: &Observed, routes: Routes) -> Vec<Round<'_>> {
    let mut by_key: BTreeMap<(&str, Cow<'_, str>), Round<'_>> = BTreeMap::new();
    for s in &observed.sent {
        let (Some(kind), Some(round)) = (s.line.kind.as_deref(), s.line.round.as_deref()) else {
            continue;
        };
        let round = match routes {
            Routes::Kept => Cow::Borrowed(round),
            Routes::Ignored => match without_routes(round) {
                Some(round) => round,
                None => continue,
            },
        };
        let time = s.line.time;
        let entry = by_key
            .entry((kind, round.clone()))
            .or_insert_with(|| Round {
                kind,
                round,
                first: time,
                senders: BTreeMap::new(),
            });
        entry.first = entry.first.min(time);
        let copies = entry
            .senders
            .entry(s.from)
            .or_default()
            .entry(s.to)
            .or_insert_with(|| Copies {
                first: time,
                digests: BTreeSet::new(),
            });
        copies.first = copies.first.min(time);
        if let Some(d) = s.line.digest.as_deref() {
            copies.digests.insert(d);
        }
    }
    let broadcast = broadcast_kinds(by_key.values());
    let mut out: Vec<Round<'_>> = by_key
        .into_values()
        .filter(|r| broadcast.contains(r.kind))
        .collect();
    out.sort_by_key(|r| r.first);
    out
}

/// Kinds whose (sender, round) groups reach two recipients or more, at the median.
fn broadcast_kinds<'a, 'b: 'a>(rounds: impl Iterator<Item = &'a Round<'b>>) -> BTreeSet<&'b str> {
    let mut fanouts: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
    for r in rounds {
        let list = fanouts.entry(r.kind).or_default();
        list.extend(r.senders.values().map(BTreeMap::len));
    }
    fanouts
        .into_iter()
        .filter_map(|(kind, mut list)| {
            list.sort_unstable();
            (list[list.len() / 2] >= 2).then_some(kind)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::super::testing::*;
    use super::*;

    #[test]
    fn replies_to_one_peer_are_not_rounds() {
        let mut trace = chatter(4, 0, 500);
        trace.push(line(ms(100), 1, 2, "entries", 3, "aa"));
        trace.push(line(ms(200), 1, 3, "entries", 5, "bb"));
        trace.push(line(ms(300), 2, 3, "entries", 4, "cc"));
        let obs = observed(4, trace, vec![]);
        let found = rounds(&obs, Routes::Kept);
        assert_eq!(found.len(), 30, "10 rounds of 3 kinds");
        assert!(found.iter().all(|r| r.kind != "entries"));
        let first = &found[0];
        assert_eq!((first.kind, &*first.round), ("pre-prepare", "seq=0 view=0"));
        assert_eq!(first.senders[&0].len(), 3);
        assert!(first.reached(1, 2));
        assert!(!first.reached(1, 0));
    }

    #[test]
    fn relays_of_one_instance_share_a_round_without_their_routes() {
        let mut trace = Vec::new();
        for (from, path) in [(0, "[0]"), (1, "[0.1]"), (2, "[0.2]")] {
            for to in (0..4).filter(|&to| to != from) {
                let mut l = line(ms(10), from, to, "om", 0, "aa");
                l.round = Some(format!("instance=7 path={path}"));
                trace.push(l);
            }
        }
        let obs = observed(4, trace, vec![]);
        assert_eq!(rounds(&obs, Routes::Kept).len(), 3);
        let one = rounds(&obs, Routes::Ignored);
        assert_eq!((one.len(), &*one[0].round), (1, "instance=7"));
        assert_eq!(one[0].senders.len(), 3);
        assert_eq!(without_routes("path=[0]"), None);
    }
}
