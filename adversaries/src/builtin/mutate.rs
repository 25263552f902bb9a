//! `mutate`: ByzzFuzz-style small-scope mutations in a few chosen rounds: a round-like
//! field (view, round, seq, instance, height) moved by one, or a field given a value seen
//! earlier on the wire; re-signed with the Byzantine node's key, so only the protocol's
//! logic (not its signature check) stands in the way.

use super::{byzantine_json, perturb, replace_signed, Seen};
use crate::{Adversary, RunInfo};
use rand::rngs::StdRng;
use rand::RngExt;
use serde_json::json;
use std::collections::BTreeSet;
use traitor_model::wire::{Actions, Envelope};

/// Fields that number a protocol's rounds, in the order a message's round is read from.
const ROUND_FIELDS: [&str; 5] = ["view", "round", "instance", "seq", "height"];

pub struct Mutate {
    pub probability: f64,
    /// How many rounds (among the first 20) see mutations.
    pub rounds: usize,
    chosen: BTreeSet<u64>,
    seen: Seen,
}

impl Mutate {
    pub fn new(probability: f64, rounds: usize) -> Self {
        Self {
            probability,
            rounds,
            chosen: BTreeSet::new(),
            seen: Seen::default(),
        }
    }
}

impl Adversary for Mutate {
    fn name(&self) -> &str {
        "mutate"
    }

    fn start(&mut self, _run: &RunInfo, rng: &mut StdRng) -> Result<(), String> {
        while self.chosen.len() < self.rounds.min(20) {
            self.chosen.insert(rng.random_range(0..20));
        }
        Ok(())
    }

    fn on_message(&mut self, msg: &Envelope, run: &RunInfo, rng: &mut StdRng, out: &mut Actions) {
        if let Some(message) = msg.json() {
            self.seen.learn(&message);
        }
        let Some(mut message) = byzantine_json(msg, run) else {
            return;
        };
        let round = ROUND_FIELDS
            .iter()
            .find_map(|f| message.get(*f).and_then(|v| v.as_u64()));
        if out.fate.is_some()
            || !round.is_some_and(|r| self.chosen.contains(&r))
            || !rng.random_bool(self.probability)
        {
            return;
        }
        let numbered: Vec<&str> = ROUND_FIELDS
            .iter()
            .copied()
            .filter(|f| message.get(*f).is_some_and(|v| v.is_u64()))
            .collect();
        let fields: Vec<String> = message
            .keys()
            .filter(|k| !["sig", "from", "type"].contains(&k.as_str()))
            .cloned()
            .collect();
        let (field, how) = if !numbered.is_empty() && rng.random_bool(0.5) {
            (
                numbered[rng.random_range(0..numbered.len())].to_string(),
                "moved by one",
            )
        } else if !fields.is_empty() {
            (
                fields[rng.random_range(0..fields.len())].clone(),
                "replayed value",
            )
        } else {
            return;
        };
        let before = message[&field].clone();
        let after = match how {
            "moved by one" => perturb(&before, rng),
            _ => match self.seen.other_than(&field, &before, rng) {
                Some(value) => value,
                None => return,
            },
        };
        message.insert(field.clone(), after.clone());
        let detail =
            json!({"field": field, "how": how, "before": before, "after": after, "round": round});
        replace_signed(self.name(), msg, run, message, "mutate", detail, out);
    }
}
