//! `replay`: a Byzantine node re-sends messages seen earlier on the wire (its own or
//! relayed from others, signatures intact), later, possibly to other peers.

use super::note;
use crate::{Adversary, RunInfo};
use rand::rngs::StdRng;
use rand::RngExt;
use serde_json::json;
use std::collections::VecDeque;
use traitor_model::wire::{Actions, Envelope, Injection};

/// Earlier messages kept for replay.
const KEPT: usize = 256;

pub struct Replay {
    pub probability: f64,
    earlier: VecDeque<Envelope>,
}

impl Replay {
    pub fn new(probability: f64) -> Self {
        Self {
            probability,
            earlier: VecDeque::new(),
        }
    }
}

impl Adversary for Replay {
    fn name(&self) -> &str {
        "replay"
    }

    fn on_message(&mut self, msg: &Envelope, run: &RunInfo, rng: &mut StdRng, out: &mut Actions) {
        if run.is_byzantine(msg.from)
            && !self.earlier.is_empty()
            && rng.random_bool(self.probability)
        {
            let old = &self.earlier[rng.random_range(0..self.earlier.len())];
            let peers = run.peers_of(msg.from);
            let to = peers[rng.random_range(0..peers.len())];
            out.inject.push(Injection {
                to,
                payload: old.payload.clone(),
            });
            out.notes.push(note(
                self.name(),
                msg,
                "replay",
                json!({"replayed_to": to, "originally": {"from": old.from, "to": old.to, "time": old.time}}),
            ));
        }
        self.earlier.push_back(msg.clone());
        if self.earlier.len() > KEPT {
            self.earlier.pop_front();
        }
    }
}
