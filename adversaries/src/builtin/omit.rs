//! `omit`: the selfish node of the BAR model: it saves work by not sending to some peers,
//! or not sending some kinds of message, while doing the rest correctly.

use super::note;
use crate::{Adversary, RunInfo};
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use serde_json::{json, Value};
use std::collections::BTreeSet;
use traitor_model::wire::{Actions, Envelope, Fate};
use traitor_model::NodeId;

pub struct Omit {
    /// Peers (per Byzantine node) it never sends to; chosen at start.
    pub peers: usize,
    /// Message types (the JSON `type` field) it never sends.
    pub types: BTreeSet<String>,
    skipped: BTreeSet<(NodeId, NodeId)>,
}

impl Omit {
    pub fn new(peers: usize, types: BTreeSet<String>) -> Self {
        Self {
            peers,
            types,
            skipped: BTreeSet::new(),
        }
    }
}

impl Adversary for Omit {
    fn name(&self) -> &str {
        "omit"
    }

    fn start(&mut self, run: &RunInfo, rng: &mut StdRng) -> Result<(), String> {
        for &b in &run.byzantine {
            let mut peers = run.peers_of(b);
            peers.shuffle(rng);
            self.skipped
                .extend(peers.into_iter().take(self.peers).map(|p| (b, p)));
        }
        Ok(())
    }

    fn on_message(&mut self, msg: &Envelope, run: &RunInfo, _rng: &mut StdRng, out: &mut Actions) {
        if !run.is_byzantine(msg.from) || out.fate.is_some() {
            return;
        }
        let kind = msg
            .json()
            .and_then(|m| m.get("type").and_then(Value::as_str).map(str::to_string));
        let why = if self.skipped.contains(&(msg.from, msg.to)) {
            "skipped peer"
        } else if kind.as_ref().is_some_and(|k| self.types.contains(k)) {
            "skipped type"
        } else {
            return;
        };
        out.decide(Fate::Drop);
        out.notes
            .push(note(self.name(), msg, "omit", json!({"why": why})));
    }
}
