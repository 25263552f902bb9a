//! `equivocate-sign`: a Byzantine node tells different peers different things, each
//! validly signed: to one half of its peers (a seeded split) the value-carrying fields of
//! its messages (digest, value, decision, order, request) are replaced, together, by those
//! of an earlier message of the same type (so a digest still matches its request), or by a
//! small change when there is none; then the message is re-signed.

use super::{byzantine_json, perturb, replace_signed};
use crate::{Adversary, RunInfo};
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use serde_json::{json, Map, Value};
use std::collections::{BTreeMap, BTreeSet, VecDeque};
use traitor_model::wire::{Actions, Envelope};
use traitor_model::NodeId;

/// Fields that carry what a message proposes or votes for.
const VALUE_FIELDS: [&str; 5] = ["digest", "value", "decision", "order", "request"];

/// Earlier value sets kept per message type.
const KEPT: usize = 32;

pub struct EquivocateSign {
    /// (Byzantine node, peer) pairs that hear the other story.
    other_side: BTreeSet<(NodeId, NodeId)>,
    /// Per message type, the value fields of earlier messages.
    earlier: BTreeMap<String, VecDeque<Map<String, Value>>>,
}

impl EquivocateSign {
    pub fn new() -> Self {
        Self {
            other_side: BTreeSet::new(),
            earlier: BTreeMap::new(),
        }
    }

    fn values(message: &Map<String, Value>) -> Map<String, Value> {
        VALUE_FIELDS
            .iter()
            .filter_map(|f| message.get(*f).map(|v| (f.to_string(), v.clone())))
            .collect()
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
        let Some(message) = msg.json() else { return };
        let kind = message
            .get("type")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        let now = Self::values(&message);
        if now.is_empty() {
            return;
        }
        let earlier = self.earlier.entry(kind).or_default();
        let other = earlier.iter().rev().find(|v| **v != now).cloned();
        if !earlier.contains(&now) {
            earlier.push_back(now.clone());
            if earlier.len() > KEPT {
                earlier.pop_front();
            }
        }
        let Some(mut message) = byzantine_json(msg, run) else {
            return;
        };
        if out.fate.is_some() || !self.other_side.contains(&(msg.from, msg.to)) {
            return;
        }
        let told = other.unwrap_or_else(|| {
            now.iter()
                .map(|(f, v)| (f.clone(), perturb(v, rng)))
                .collect()
        });
        message.extend(told.clone());
        let detail = json!({"told_others": now, "told_this_peer": told});
        replace_signed(self.name(), msg, run, message, "equivocate", detail, out);
    }
}
