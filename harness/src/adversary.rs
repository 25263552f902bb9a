//! The run's adversaries as the proxy's interceptor: every message goes through the chain,
//! and every action taken is written to `faults.jsonl`, the ground truth of what each
//! Byzantine node did wrong and when.

use crate::store::Jsonl;
use std::sync::Mutex;
use traitor_adversaries::Chain;
use traitor_model::wire::{Actions, Envelope};
use traitor_model::FaultRecord;
use traitor_proxy::Interceptor;

/// The chain behind a lock (the proxy calls it from every connection's task).
pub struct AdversaryHook {
    chain: Mutex<Chain>,
    faults: Jsonl,
}

impl AdversaryHook {
    pub fn new(chain: Chain, faults: Jsonl) -> Self {
        Self {
            chain: Mutex::new(chain),
            faults,
        }
    }
}

impl std::fmt::Debug for AdversaryHook {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let names = self.chain.lock().map(|c| c.names()).unwrap_or_default();
        f.debug_struct("AdversaryHook")
            .field("adversaries", &names)
            .finish()
    }
}

impl Interceptor for AdversaryHook {
    fn intercept(&self, envelope: &Envelope) -> Actions {
        let actions = self
            .chain
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .on_message(envelope);
        for note in &actions.notes {
            let kind = note["action"].as_str().unwrap_or("adversary").to_string();
            let record = FaultRecord {
                time: envelope.time,
                kind,
                nodes: vec![envelope.from, envelope.to],
                detail: note.clone(),
            };
            if let Err(e) = self.faults.append(&record) {
                tracing::warn!("recording an adversary action: {e}");
            }
        }
        actions
    }
}
