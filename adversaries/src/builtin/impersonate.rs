//! `impersonate`: a Byzantine node sends messages that claim to come from a correct node.
//! It has no correct node's key, so it signs with its own: a correct target must reject
//! them (one that does not check signatures is caught).

use super::{byzantine_json, note};
use crate::canonical::to_payload;
use crate::{Adversary, RunInfo};
use ed25519_dalek::Signer;
use rand::rngs::StdRng;
use rand::RngExt;
use serde_json::{json, Value};
use traitor_model::wire::{Actions, Envelope, Injection};

pub struct Impersonate {
    pub probability: f64,
}

impl Adversary for Impersonate {
    fn name(&self) -> &str {
        "impersonate"
    }

    fn on_message(&mut self, msg: &Envelope, run: &RunInfo, rng: &mut StdRng, out: &mut Actions) {
        let Some(mut message) = byzantine_json(msg, run) else {
            return;
        };
        let victims = run.correct();
        if !message.contains_key("from") || victims.is_empty() || !rng.random_bool(self.probability)
        {
            return;
        }
        let victim = victims[rng.random_range(0..victims.len())];
        message.insert("from".into(), json!(victim));
        if message.contains_key("sig") {
            // The best a traitor can do: its own key, which does not match the claimed sender.
            let own = &run.keys[&msg.from];
            let sig = own.sign(&crate::canonical::signed_bytes(&message));
            message.insert("sig".into(), Value::String(hex::encode(sig.to_bytes())));
        }
        out.inject.push(Injection {
            from: msg.from,
            to: msg.to,
            payload: to_payload(&message),
        });
        out.notes.push(note(
            self.name(),
            msg,
            "impersonate",
            json!({"claimed_from": victim}),
        ));
    }
}
