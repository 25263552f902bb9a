//! `replay`: a Byzantine node re-sends messages seen earlier on the wire (its own or
//! relayed from others, signatures intact), later, possibly to other peers. With
//! `as_own`, it passes them off as its own: `from` set to itself and re-signed (a backup
//! sending a primary's proposal as if it were the primary's peer, say).

use super::note;
use crate::canonical::{resign, to_payload};
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
    pub as_own: bool,
    earlier: VecDeque<Envelope>,
}

impl Replay {
    pub fn new(probability: f64, as_own: bool) -> Self {
        Self {
            probability,
            as_own,
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
            let payload = match (self.as_own, old.json()) {
                (true, Some(mut message)) => {
                    message.insert("from".into(), json!(msg.from));
                    resign(&mut message, msg.from, run);
                    to_payload(&message)
                }
                _ => old.payload.clone(),
            };
            out.inject.push(Injection {
                from: msg.from,
                to,
                payload,
            });
            out.notes.push(note(
                self.name(),
                msg,
                "replay",
                json!({"replayed_to": to, "as_own": self.as_own, "originally": {"from": old.from, "to": old.to, "time": old.time}}),
            ));
        }
        self.earlier.push_back(msg.clone());
        if self.earlier.len() > KEPT {
            self.earlier.pop_front();
        }
    }
}
