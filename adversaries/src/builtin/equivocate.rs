//! `equivocate-sign`: a Byzantine node tells different peers different things, each
//! validly signed: to one half of its peers (a seeded split) the value-carrying fields of
//! its messages (digest, value, decision, order, request) are replaced by another value —
//! one seen earlier on the wire when there is one — and the message is re-signed.

use super::{byzantine_json, note, perturb, Seen};
use crate::canonical::{resign, to_payload};
use crate::{Adversary, RunInfo};
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use serde_json::json;
use std::collections::BTreeSet;
use traitor_model::wire::{Actions, Envelope, Fate};
use traitor_model::NodeId;

/// Fields that carry what a message proposes or votes for.
const VALUE_FIELDS: [&str; 5] = ["digest", "value", "decision", "order", "request"];

pub struct EquivocateSign {
    /// (Byzantine node, peer) pairs that hear the other story.
    other_side: BTreeSet<(NodeId, NodeId)>,
    seen: Seen,
}

impl EquivocateSign {
    pub fn new() -> Self {
        Self {
            other_side: BTreeSet::new(),
            seen: Seen::default(),
        }
    }
}

impl Default for EquivocateSign {
    fn default() -> Self {
        Self::new()
    }
}

impl Adversary for EquivocateSign {
    fn name(&self) -> &str {
        "equivocate-sign"
    }

    fn start(&mut self, run: &RunInfo, rng: &mut StdRng) -> Result<(), String> {
        for &b in &run.byzantine {
            let mut peers = run.peers_of(b);
            peers.shuffle(rng);
            let half = peers.len() / 2;
            self.other_side
                .extend(peers.into_iter().take(half.max(1)).map(|p| (b, p)));
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
        if out.fate.is_some() || !self.other_side.contains(&(msg.from, msg.to)) {
            return;
        }
        let mut changed = Vec::new();
        for field in VALUE_FIELDS {
            if let Some(now) = message.get(field).cloned() {
                let other = self
                    .seen
                    .other_than(field, &now, rng)
                    .unwrap_or_else(|| perturb(&now, rng));
                message.insert(field.to_string(), other.clone());
                changed.push(json!({"field": field, "told_others": now, "told_this_peer": other}));
            }
        }
        if changed.is_empty() {
            return;
        }
        let signed = resign(&mut message, msg.from, run);
        out.decide(Fate::Replace {
            payload: to_payload(&message),
        });
        out.notes.push(note(
            self.name(),
            msg,
            "equivocate",
            json!({"fields": changed, "resigned": signed}),
        ));
    }
}
