//! traitor's traitors.
//!
//! An [`Adversary`] sees every message on the wire (as the proxy cut it) and decides what
//! the Byzantine nodes do: drop, delay, duplicate or replace what they send, or send more.
//! Adversaries compose in a [`Chain`]: each sees each message; the first to decide a
//! message's fate wins, and all may add messages. They act only on messages sent by
//! Byzantine nodes, and sign only with Byzantine nodes' keys ([`RunInfo::keys`] holds no
//! other), so a correct node can never be framed with a valid signature. One adversary,
//! `equivocate-twins`, acts on the cluster instead ([`Adversary::twins`]): the harness runs
//! a second instance of each Byzantine node and the proxy routes peers to one of the two.

pub mod builtin;
pub mod canonical;
pub mod plugin;
pub mod spec;

use ed25519_dalek::SigningKey;
use rand::rngs::StdRng;
use std::collections::BTreeMap;
use std::time::Duration;
use traitor_model::wire::{Actions, Envelope};
use traitor_model::NodeId;

/// What an adversary knows of the run.
#[derive(Clone, Debug)]
pub struct RunInfo {
    pub n: u32,
    pub f: u32,
    pub byzantine: Vec<NodeId>,
    /// Secret keys of the Byzantine nodes, and of no other node.
    pub keys: BTreeMap<NodeId, SigningKey>,
}

impl RunInfo {
    pub fn is_byzantine(&self, node: NodeId) -> bool {
        self.byzantine.contains(&node)
    }

    /// Every node other than `node`.
    pub fn peers_of(&self, node: NodeId) -> Vec<NodeId> {
        (0..self.n).filter(|&p| p != node).collect()
    }

    /// Correct nodes.
    pub fn correct(&self) -> Vec<NodeId> {
        (0..self.n).filter(|&p| !self.is_byzantine(p)).collect()
    }
}

/// A Byzantine behaviour. Implementations are deterministic given the rng they are handed.
pub trait Adversary: Send {
    /// The name used on the command line and in `faults.jsonl`.
    fn name(&self) -> &str;

    /// Called once before any message, with the run's facts.
    fn start(&mut self, _run: &RunInfo, _rng: &mut StdRng) -> Result<(), String> {
        Ok(())
    }

    /// Sees one message; decides its fate (if not yet decided) and may add messages. Every
    /// action taken must leave a note in `out.notes`.
    fn on_message(&mut self, msg: &Envelope, run: &RunInfo, rng: &mut StdRng, out: &mut Actions);

    /// Called about every 100 ms with the time since the run started, so an adversary can
    /// speak when no message prompts it (only `out.inject` and notes make sense here). Most
    /// adversaries only react to messages: the default does nothing.
    fn on_tick(&mut self, _now: Duration, _run: &RunInfo, _rng: &mut StdRng, _out: &mut Actions) {}

    /// Whether a call may wait on something outside this process (a plugin's answer). The
    /// harness then lets its runtime move other work off the waiting thread; pure, fast
    /// adversaries say no, so the forwarding path stays cheap.
    fn may_block(&self) -> bool {
        false
    }

    /// The twins this adversary asks the harness to run, when it acts on the cluster
    /// rather than on messages (`equivocate-twins`); the harness then keeps it out of the
    /// message chain. Most adversaries act on messages only: the default says none.
    fn twins(&self) -> Option<&builtin::EquivocateTwins> {
        None
    }
}

/// Several adversaries acting together on one run.
pub struct Chain {
    adversaries: Vec<Box<dyn Adversary>>,
    run: RunInfo,
    rng: StdRng,
}

impl Chain {
    /// Starts every adversary; an error names the adversary that refused.
    pub fn start(
        mut adversaries: Vec<Box<dyn Adversary>>,
        run: RunInfo,
        mut rng: StdRng,
    ) -> Result<Self, String> {
        for a in adversaries.iter_mut() {
            a.start(&run, &mut rng)
                .map_err(|e| format!("adversary {}: {e}", a.name()))?;
        }
        Ok(Self {
            adversaries,
            run,
            rng,
        })
    }

    /// What the adversaries do with one message.
    pub fn on_message(&mut self, msg: &Envelope) -> Actions {
        let mut out = Actions::default();
        for a in self.adversaries.iter_mut() {
            a.on_message(msg, &self.run, &mut self.rng, &mut out);
        }
        out
    }

    /// What the adversaries do on a tick, `now` after the run started.
    pub fn on_tick(&mut self, now: Duration) -> Actions {
        let mut out = Actions::default();
        for a in self.adversaries.iter_mut() {
            a.on_tick(now, &self.run, &mut self.rng, &mut out);
        }
        out
    }

    pub fn run(&self) -> &RunInfo {
        &self.run
    }

    /// Whether any adversary may wait on something outside this process.
    pub fn may_block(&self) -> bool {
        self.adversaries.iter().any(|a| a.may_block())
    }

    /// Names of the adversaries, in order.
    pub fn names(&self) -> Vec<String> {
        self.adversaries
            .iter()
            .map(|a| a.name().to_string())
            .collect()
    }
}
