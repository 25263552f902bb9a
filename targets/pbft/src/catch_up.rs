//! Catch-up for replicas that fell behind (missed messages, partitions, restarts): they ask
//! peers for executed entries and accept an entry once f+1 replicas report the same one, so
//! at least one correct replica executed it. The same f+1 rule tells a lagging replica which
//! view the others are working in.

use std::collections::{BTreeMap, BTreeSet};

use crate::messages::{Digest, ExecutedEntry, NodeId};

/// Heights and views peers claimed, and the entry votes collected so far.
#[derive(Clone, Debug, Default)]
pub struct CatchUp {
    heights: BTreeMap<NodeId, u64>,
    views: BTreeMap<NodeId, u64>,
    votes: BTreeMap<u64, BTreeMap<Digest, (BTreeSet<NodeId>, ExecutedEntry)>>,
    height_at_last_tick: u64,
}

/// The k-th largest value (1-based) of a map, 0 if there are fewer than k.
fn kth_largest(values: &BTreeMap<NodeId, u64>, k: usize) -> u64 {
    let mut all: Vec<u64> = values.values().copied().collect();
    all.sort_unstable_by(|a, b| b.cmp(a));
    all.get(k.saturating_sub(1)).copied().unwrap_or(0)
}

impl CatchUp {
    /// Notes that `from` has reached (or prepared) `seq`.
    pub fn saw_height(&mut self, from: NodeId, seq: u64) {
        let h = self.heights.entry(from).or_default();
        *h = (*h).max(seq);
    }

    /// Notes that `from` reported working normally in `view`.
    pub fn saw_view(&mut self, from: NodeId, view: u64) {
        self.views.insert(from, view);
    }

    /// Whether to ask for entries at this tick: some f+1 replicas are ahead of `height` and
    /// this replica made no progress since the previous tick.
    pub fn should_fetch(&mut self, height: u64, weak_quorum: usize) -> bool {
        let behind = kth_largest(&self.heights, weak_quorum) > height;
        let stalled = height == self.height_at_last_tick;
        self.height_at_last_tick = height;
        behind && stalled
    }

    /// Records `from`'s report of an executed entry; returns it once `weak_quorum` replicas
    /// reported the same digest for that sequence number.
    pub fn vote(
        &mut self,
        from: NodeId,
        entry: ExecutedEntry,
        weak_quorum: usize,
    ) -> Option<ExecutedEntry> {
        let (voters, first) = self
            .votes
            .entry(entry.seq)
            .or_default()
            .entry(entry.digest.clone())
            .or_insert_with(|| (BTreeSet::new(), entry));
        voters.insert(from);
        (voters.len() >= weak_quorum).then(|| first.clone())
    }

    /// Forgets votes at or below an executed height.
    pub fn prune(&mut self, height: u64) {
        self.votes.retain(|seq, _| *seq > height);
    }

    /// The highest view that at least `weak_quorum` replicas reported working in.
    pub fn agreed_view(&self, weak_quorum: usize) -> u64 {
        kth_largest(&self.views, weak_quorum)
    }
}
