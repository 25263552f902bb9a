//! The executed history of a replica: every committed and executed sequence number, kept in
//! full (even after checkpoints truncate the protocol log) for `GET /log` and for catch-up.

use std::collections::BTreeSet;

use serde::Serialize;

use crate::crypto::sha256_hex;
use crate::messages::{Digest, ExecutedEntry, Op};

/// One entry of `GET /log`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct LogEntry {
    pub seq: u64,
    pub view: u64,
    pub digest: Digest,
    pub client: Option<String>,
    pub req: Option<u64>,
    pub op: Op,
}

/// Executed entries in sequence order plus a running digest of them (the checkpoint state).
#[derive(Clone, Debug, Default)]
pub struct History {
    entries: Vec<ExecutedEntry>,
    /// Sequence numbers whose request was a duplicate and did not take effect.
    skipped: BTreeSet<u64>,
    state: Digest,
}

impl History {
    /// Highest executed sequence number (0 before any).
    pub fn height(&self) -> u64 {
        self.entries.len() as u64
    }

    /// Digest chaining every executed (seq, digest); equal at equal heights on correct replicas.
    pub fn state_digest(&self) -> &Digest {
        &self.state
    }

    /// Appends the next executed entry; `took_effect` is false for a skipped duplicate.
    pub fn push(&mut self, entry: ExecutedEntry, took_effect: bool) {
        debug_assert_eq!(entry.seq, self.height() + 1);
        self.state =
            sha256_hex(format!("{}|{}|{}", self.state, entry.seq, entry.digest).as_bytes());
        if !took_effect {
            self.skipped.insert(entry.seq);
        }
        self.entries.push(entry);
    }

    /// The raw executed entries (what replicas exchange in catch-up).
    pub fn entries(&self) -> &[ExecutedEntry] {
        &self.entries
    }

    /// Up to `max` raw entries from `from_seq` on.
    pub fn entries_from(&self, from_seq: u64, max: usize) -> Vec<ExecutedEntry> {
        let start = from_seq.saturating_sub(1) as usize;
        self.entries.iter().skip(start).take(max).cloned().collect()
    }

    /// `GET /log` entries from `from_seq` on; skipped duplicates show as no-ops.
    pub fn log_from(&self, from_seq: u64) -> Vec<LogEntry> {
        let start = from_seq.saturating_sub(1) as usize;
        self.entries
            .iter()
            .skip(start)
            .map(|e| match (&e.request, self.skipped.contains(&e.seq)) {
                (Some(r), false) => LogEntry {
                    seq: e.seq,
                    view: e.view,
                    digest: e.digest.clone(),
                    client: Some(r.client.clone()),
                    req: Some(r.req),
                    op: r.op.clone(),
                },
                _ => LogEntry {
                    seq: e.seq,
                    view: e.view,
                    digest: e.digest.clone(),
                    client: None,
                    req: None,
                    op: Op::Noop,
                },
            })
            .collect()
    }
}
