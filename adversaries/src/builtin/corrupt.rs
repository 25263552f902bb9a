//! `corrupt`: garbage from a Byzantine node: bit flips in the frame, or one JSON field
//! changed by type (numbers, strings, digests, signatures) without re-signing.

use super::{note, perturb};
use crate::{Adversary, RunInfo};
use rand::rngs::StdRng;
use rand::RngExt;
use serde_json::{json, Value};
use traitor_model::wire::{Actions, Envelope, Fate};

pub struct Corrupt {
    pub probability: f64,
    /// Flip bits instead of changing a field.
    pub bits: bool,
}

impl Adversary for Corrupt {
    fn name(&self) -> &str {
        "corrupt"
    }

    fn on_message(&mut self, msg: &Envelope, run: &RunInfo, rng: &mut StdRng, out: &mut Actions) {
        if !run.is_byzantine(msg.from) || out.fate.is_some() || !rng.random_bool(self.probability) {
            return;
        }
        let json = msg.json().filter(|m| !m.is_empty() && !self.bits);
        let (payload, detail) = match json {
            Some(mut message) => {
                let fields: Vec<String> = message.keys().cloned().collect();
                let field = fields[rng.random_range(0..fields.len())].clone();
                let changed = perturb(&message[&field], rng);
                message.insert(field.clone(), changed.clone());
                (
                    serde_json::to_vec(&Value::Object(message)).unwrap_or_default(),
                    json!({"field": field, "now": changed}),
                )
            }
            None if !msg.payload.is_empty() => {
                let mut payload = msg.payload.clone();
                let flips = rng.random_range(1..=3);
                for _ in 0..flips {
                    let at = rng.random_range(0..payload.len());
                    payload[at] ^= 1 << rng.random_range(0..8);
                }
                (payload, json!({"bits_flipped": flips}))
            }
            None => return,
        };
        out.decide(Fate::Replace { payload });
        out.notes.push(note(self.name(), msg, "corrupt", detail));
    }
}
