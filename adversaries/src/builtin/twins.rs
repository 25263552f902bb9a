//! `equivocate-twins`: a second instance ("twin") of every Byzantine node, with the same
//! identity and key but its own address, each peer talking to one of the two by a seeded
//! split (Twins, Bano et al.). Each instance runs the node's own correct code, so the two
//! equivocate without any codec: the node says different things to different peers
//! because two honest copies of it saw different things.
//!
//! This adversary acts on the cluster, not on messages: the harness starts the twins and
//! the proxy routes by the split this adversary draws. `on_message` does nothing.

use crate::{Adversary, RunInfo};
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::RngExt;
use std::time::Duration;
use traitor_model::wire::{Actions, Envelope};
use traitor_model::NodeId;

/// See the module doc.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct EquivocateTwins {
    /// Re-draw the split this often (a split that changes over time); `None` keeps the
    /// first split for the whole run.
    pub every: Option<Duration>,
}

/// Which peers of one twinned node talk to which of its instances.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Split {
    /// Peers of instance 0 (the node as started), ascending.
    pub twin0: Vec<NodeId>,
    /// Peers of instance 1 (the twin), ascending.
    pub twin1: Vec<NodeId>,
}

impl EquivocateTwins {
    /// A split for the twins of Byzantine node `node`: its correct peers are shuffled and
    /// cut in two non-empty parts (when there are two or more), so each instance has
    /// correct peers to mislead; each other Byzantine peer goes to either instance.
    pub fn draw(run: &RunInfo, node: NodeId, rng: &mut StdRng) -> Split {
        let mut twin0 = run.correct();
        twin0.shuffle(rng);
        let cut = match twin0.len() {
            0 | 1 => rng.random_range(0..=twin0.len()),
            len => rng.random_range(1..len),
        };
        let mut twin1 = twin0.split_off(cut);
        for &peer in run.byzantine.iter().filter(|&&peer| peer != node) {
            if rng.random_bool(0.5) {
                twin1.push(peer);
            } else {
                twin0.push(peer);
            }
        }
        twin0.sort_unstable();
        twin1.sort_unstable();
        Split { twin0, twin1 }
    }
}

impl Adversary for EquivocateTwins {
    fn name(&self) -> &str {
        "equivocate-twins"
    }

    /// Nothing to do per message: the proxy routes each one by the split.
    fn on_message(&mut self, _: &Envelope, _: &RunInfo, _: &mut StdRng, _: &mut Actions) {}

    fn twins(&self) -> Option<&EquivocateTwins> {
        Some(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    fn run_info(n: u32, byzantine: Vec<NodeId>) -> RunInfo {
        RunInfo {
            n,
            f: (n - 1) / 3,
            byzantine,
            keys: Default::default(),
        }
    }

    #[test]
    fn every_peer_is_on_exactly_one_side_and_both_sides_get_correct_peers() {
        let run = run_info(7, vec![0, 4]);
        let mut rng = StdRng::seed_from_u64(3);
        for _ in 0..200 {
            let split = EquivocateTwins::draw(&run, 0, &mut rng);
            let mut all: Vec<NodeId> = split.twin0.iter().chain(&split.twin1).copied().collect();
            all.sort_unstable();
            assert_eq!(all, vec![1, 2, 3, 4, 5, 6], "{split:?}");
            for side in [&split.twin0, &split.twin1] {
                assert!(side.iter().any(|p| *p != 4), "no correct peer: {split:?}");
            }
        }
    }

    #[test]
    fn draws_repeat_with_the_seed_and_change_over_time() {
        let run = run_info(4, vec![0]);
        let draws = |seed| {
            let mut rng = StdRng::seed_from_u64(seed);
            (0..8)
                .map(|_| EquivocateTwins::draw(&run, 0, &mut rng))
                .collect::<Vec<_>>()
        };
        assert_eq!(draws(5), draws(5));
        let five = draws(5);
        assert!(
            five.iter().any(|s| *s != five[0]),
            "re-draws differ: {five:?}"
        );
        let lone = EquivocateTwins::draw(&run_info(2, vec![0]), 0, &mut StdRng::seed_from_u64(1));
        assert_eq!(lone.twin0.len() + lone.twin1.len(), 1, "{lone:?}");
    }
}
