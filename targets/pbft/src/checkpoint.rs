//! Checkpoints: 2f+1 matching checkpoint messages make a sequence number stable, which moves
//! the low watermark and lets the protocol log be truncated.

use std::collections::BTreeMap;

use crate::crypto::Keyring;
use crate::messages::{Envelope, Message, NodeId};

/// Checkpoint votes not yet stable, and the latest stable checkpoint with its proof.
#[derive(Clone, Debug, Default)]
pub struct Checkpoints {
    votes: BTreeMap<u64, BTreeMap<NodeId, Envelope>>,
    stable_seq: u64,
    stable_proof: Vec<Envelope>,
}

fn fields(env: &Envelope) -> Option<(u64, &String)> {
    match &env.msg {
        Message::Checkpoint { seq, state } => Some((*seq, state)),
        _ => None,
    }
}

impl Checkpoints {
    /// The low watermark: the latest stable checkpoint's sequence number.
    pub fn stable_seq(&self) -> u64 {
        self.stable_seq
    }

    /// The 2f+1 checkpoint messages proving the stable checkpoint (empty at 0).
    pub fn stable_proof(&self) -> &[Envelope] {
        &self.stable_proof
    }

    /// Records a (verified) checkpoint message; returns the new stable sequence number if this
    /// vote completed a quorum above the current one.
    pub fn record(&mut self, env: Envelope, quorum: usize) -> Option<u64> {
        let (seq, state) = fields(&env)?;
        if seq <= self.stable_seq {
            return None;
        }
        let state = state.clone();
        let votes = self.votes.entry(seq).or_default();
        votes.entry(env.from).or_insert(env);
        let matching: Vec<Envelope> = votes
            .values()
            .filter(|e| fields(e).is_some_and(|(_, s)| *s == state))
            .cloned()
            .collect();
        if matching.len() >= quorum {
            self.adopt(seq, matching);
            Some(seq)
        } else {
            None
        }
    }

    /// Makes `seq` stable with the given proof (from a quorum or a new-view message).
    pub fn adopt(&mut self, seq: u64, proof: Vec<Envelope>) {
        if seq > self.stable_seq {
            self.stable_seq = seq;
            self.stable_proof = proof;
            self.votes.retain(|s, _| *s > seq);
        }
    }
}

/// True if `proof` holds `quorum` validly signed checkpoints from distinct replicas for `seq`
/// with one state digest (an empty proof is valid for sequence number 0).
pub fn proof_is_valid(keys: &Keyring, seq: u64, proof: &[Envelope], quorum: usize) -> bool {
    if seq == 0 {
        return true;
    }
    let Some(state) = proof.first().and_then(fields).map(|(_, s)| s.clone()) else {
        return false;
    };
    let mut senders = std::collections::BTreeSet::new();
    for env in proof {
        match fields(env) {
            Some((s, st)) if s == seq && *st == state && keys.verify(env) => {
                senders.insert(env.from);
            }
            _ => return false,
        }
    }
    senders.len() >= quorum
}
