//! One instance of the oral-messages algorithm OM(m), seen by one lieutenant.
//!
//! A message carries the path it travelled: `[commander, l1, ..., sender]`. The value at
//! path `p` is what the last general of `p` claims to have heard along `p` without it.
//! With `depth = m + 1` rounds, paths have 1..=depth generals; a lieutenant relays every
//! value of a path shorter than `depth` at once to every general not on the path, and at
//! the end of round `r` takes RETREAT for each path of length `r` it has not heard
//! (and relays that). Its decision is Lamport's recursive majority over the tree.

use std::collections::HashMap;

use crate::choice::majority;
use crate::messages::{GeneralId, Plan};

/// A value this lieutenant must pass on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Relay {
    pub to: GeneralId,
    pub path: Vec<GeneralId>,
    pub value: Plan,
}

/// The values one lieutenant heard in one OM instance.
pub struct OmInstance {
    me: GeneralId,
    n: u32,
    commander: GeneralId,
    depth: usize,
    heard: HashMap<Vec<GeneralId>, Plan>,
    closed_rounds: usize,
}

impl OmInstance {
    /// An instance for lieutenant `me` of `n` generals, running `depth` rounds (m + 1 for OM(m)).
    pub fn new(me: GeneralId, n: u32, commander: GeneralId, depth: usize) -> OmInstance {
        OmInstance {
            me,
            n,
            commander,
            depth,
            heard: HashMap::new(),
            closed_rounds: 0,
        }
    }

    /// Records `value` heard from `from` along `path` and returns what to relay, or why the
    /// message is refused. The first value heard for a path is kept.
    pub fn receive(
        &mut self,
        from: GeneralId,
        path: Vec<GeneralId>,
        value: Plan,
    ) -> Result<Vec<Relay>, String> {
        self.check_path(from, &path)?;
        if path.len() <= self.closed_rounds {
            return Err(format!("round {} is over for path {path:?}", path.len()));
        }
        if self.heard.contains_key(&path) {
            return Err(format!("path {path:?} was already heard"));
        }
        Ok(self.record(path, value))
    }

    fn check_path(&self, from: GeneralId, path: &[GeneralId]) -> Result<(), String> {
        if path.first() != Some(&self.commander) {
            return Err(format!("path {path:?} does not start at the commander"));
        }
        if path.last() != Some(&from) {
            return Err(format!("path {path:?} does not end at its sender {from}"));
        }
        if path.len() > self.depth {
            return Err(format!(
                "path {path:?} is longer than {} rounds",
                self.depth
            ));
        }
        if path.iter().any(|&g| g >= self.n || g == self.me) {
            return Err(format!(
                "path {path:?} names an unknown general or the receiver"
            ));
        }
        let mut sorted = path.to_vec();
        sorted.sort_unstable();
        sorted.dedup();
        if sorted.len() != path.len() {
            return Err(format!("path {path:?} repeats a general"));
        }
        Ok(())
    }

    fn record(&mut self, path: Vec<GeneralId>, value: Plan) -> Vec<Relay> {
        let relays = if path.len() < self.depth {
            let mut onward = path.clone();
            onward.push(self.me);
            (0..self.n)
                .filter(|g| !onward.contains(g))
                .map(|to| Relay {
                    to,
                    path: onward.clone(),
                    value,
                })
                .collect()
        } else {
            Vec::new()
        };
        self.heard.insert(path, value);
        relays
    }

    /// Ends every round up to `round`: each path of that length not heard counts as RETREAT
    /// (and is relayed as such). Returns the relays.
    pub fn close_rounds_through(&mut self, round: usize) -> Vec<Relay> {
        let mut relays = Vec::new();
        while self.closed_rounds < round.min(self.depth) {
            self.closed_rounds += 1;
            for path in self.paths_of_len(self.closed_rounds) {
                if !self.heard.contains_key(&path) {
                    relays.extend(self.record(path, Plan::DEFAULT));
                }
            }
        }
        relays
    }

    /// Every path of `len` generals this lieutenant can be sent.
    fn paths_of_len(&self, len: usize) -> Vec<Vec<GeneralId>> {
        let mut paths = vec![vec![self.commander]];
        for _ in 1..len {
            let mut longer_paths = Vec::new();
            for path in &paths {
                for g in (0..self.n).filter(|g| *g != self.me && !path.contains(g)) {
                    let mut longer = path.clone();
                    longer.push(g);
                    longer_paths.push(longer);
                }
            }
            paths = longer_paths;
        }
        paths
    }

    /// How many messages a lieutenant receives in a whole instance: the paths of 1..=depth
    /// generals that start at the commander and avoid the receiver.
    pub fn expected_messages(n: u32, depth: usize) -> usize {
        let lieutenants_besides_me = (n as usize).saturating_sub(2);
        (1..=depth)
            .map(|len| {
                (0..len - 1)
                    .map(|i| lieutenants_besides_me.saturating_sub(i))
                    .product::<usize>()
            })
            .sum()
    }

    /// Whether every path has a value (heard or defaulted), so the decision cannot change.
    pub fn is_complete(&self) -> bool {
        self.heard.len() == Self::expected_messages(self.n, self.depth)
    }

    /// Lamport's decision: the majority of the commander's value and, for each other
    /// lieutenant, the value that lieutenant's sub-instance OM(m-1) yields, recursively.
    pub fn decide(&self) -> Plan {
        self.value_along(&mut vec![self.commander])
    }

    fn value_along(&self, path: &mut Vec<GeneralId>) -> Plan {
        let heard = self
            .heard
            .get(path.as_slice())
            .copied()
            .unwrap_or(Plan::DEFAULT);
        if path.len() >= self.depth {
            return heard;
        }
        let mut votes = vec![heard];
        for g in 0..self.n {
            if g != self.me && !path.contains(&g) {
                path.push(g);
                votes.push(self.value_along(path));
                path.pop();
            }
        }
        majority(votes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use Plan::{Attack, Retreat};

    #[test]
    fn expected_messages_count_the_tree() {
        // n = 4, OM(1): one from the commander, two relays.
        assert_eq!(OmInstance::expected_messages(4, 2), 3);
        // n = 10, OM(3): 1 + 8 + 8*7 + 8*7*6.
        assert_eq!(OmInstance::expected_messages(10, 4), 1 + 8 + 56 + 336);
    }

    #[test]
    fn the_commanders_value_is_relayed_to_the_other_lieutenants() {
        let mut om = OmInstance::new(1, 4, 0, 2);
        let relays = om.receive(0, vec![0], Attack).unwrap();
        let targets: Vec<_> = relays.iter().map(|r| r.to).collect();
        assert_eq!(targets, vec![2, 3]);
        assert!(relays
            .iter()
            .all(|r| r.path == vec![0, 1] && r.value == Attack));
    }

    #[test]
    fn bad_paths_are_refused() {
        let mut om = OmInstance::new(1, 4, 0, 2);
        assert!(
            om.receive(2, vec![2], Attack).is_err(),
            "not from the commander"
        );
        assert!(
            om.receive(3, vec![0, 2], Attack).is_err(),
            "sender not last"
        );
        assert!(
            om.receive(2, vec![0, 1, 2], Attack).is_err(),
            "receiver on path"
        );
        assert!(om.receive(3, vec![0, 2, 3], Attack).is_err(), "too long");
        assert!(om.receive(0, vec![0, 0], Attack).is_err(), "repeats");
        om.receive(0, vec![0], Attack).unwrap();
        assert!(
            om.receive(0, vec![0], Retreat).is_err(),
            "second value for a path"
        );
    }

    #[test]
    fn a_lying_lieutenant_is_outvoted() {
        let mut om = OmInstance::new(1, 4, 0, 2);
        om.receive(0, vec![0], Attack).unwrap();
        om.receive(2, vec![0, 2], Attack).unwrap();
        om.receive(3, vec![0, 3], Retreat).unwrap();
        assert!(om.is_complete());
        assert_eq!(om.decide(), Attack);
    }

    #[test]
    fn silence_counts_as_retreat_when_the_round_ends() {
        let mut om = OmInstance::new(1, 4, 0, 2);
        om.receive(0, vec![0], Attack).unwrap();
        om.receive(2, vec![0, 2], Attack).unwrap();
        assert!(!om.is_complete());
        assert!(om.close_rounds_through(2).is_empty());
        assert!(om.is_complete());
        assert_eq!(om.decide(), Attack);
        assert!(om.receive(3, vec![0, 3], Attack).is_err(), "late");
    }

    #[test]
    fn a_silent_commander_is_replaced_by_retreat_and_relayed() {
        let mut om = OmInstance::new(1, 4, 0, 2);
        let relays = om.close_rounds_through(1);
        assert_eq!(relays.len(), 2);
        assert!(relays.iter().all(|r| r.value == Retreat));
    }
}
