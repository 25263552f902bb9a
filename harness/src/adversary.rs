//! The run's adversaries as the proxy's interceptor: every message goes through the chain,
//! and every action taken is written to `faults.jsonl`, the ground truth of what each
//! Byzantine node did wrong and when. The same chain is ticked about every 100 ms
//! ([`tick_adversaries`]) so adversaries can speak unprompted.
//!
//! An adversary that fails (a plugin that hung, crashed or answered garbage) makes the
//! chain's answer carry a fatal error: it is recorded once in `faults.jsonl` and sent on a
//! watch channel, which `run_plan` selects on to end the run as a harness failure.

use crate::exit::Failure;
use crate::stop::stopped;
use crate::store::Jsonl;
use serde_json::Value;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::watch;
use traitor_adversaries::Chain;
use traitor_model::wire::{Actions, Envelope};
use traitor_model::{FaultRecord, NodeId};
use traitor_proxy::{Interceptor, LinkControl};

/// How often the adversaries are ticked.
const TICK: Duration = Duration::from_millis(100);

/// The chain behind one lock, shared by the proxy (every connection's task calls it) and
/// the tick task.
pub struct AdversaryHook {
    chain: Arc<Mutex<Chain>>,
    /// Whether a call may wait on a plugin: only then is the worker thread handed over.
    may_block: bool,
    faults: Jsonl,
    run_start: Instant,
    fatal: watch::Sender<Option<String>>,
}

impl AdversaryHook {
    /// The hook; the first fatal error of an adversary is sent on `fatal`.
    pub fn new(
        chain: Chain,
        faults: Jsonl,
        run_start: Instant,
        fatal: watch::Sender<Option<String>>,
    ) -> Self {
        Self {
            may_block: chain.may_block(),
            chain: Arc::new(Mutex::new(chain)),
            faults,
            run_start,
            fatal,
        }
    }

    /// What the chain does on a tick now, recorded like the answers to messages.
    pub fn tick(&self) -> Actions {
        let now = self.run_start.elapsed();
        let actions = self.call(|chain| chain.on_tick(now));
        self.record(now.as_nanos() as u64, None, &actions);
        actions
    }

    /// Runs `f` on the chain. A plugin may take up to its time limit to answer, so then, on
    /// a multi-threaded runtime, the worker thread hands its other tasks over while waiting.
    /// Built-in adversaries answer at once: handing over on every message would spawn a
    /// thread per message and can stall the whole runtime under a burst.
    fn call(&self, f: impl FnOnce(&mut Chain) -> Actions) -> Actions {
        let run = || f(&mut self.chain.lock().unwrap_or_else(|p| p.into_inner()));
        let flavor = tokio::runtime::Handle::try_current().map(|h| h.runtime_flavor());
        match flavor {
            Ok(tokio::runtime::RuntimeFlavor::MultiThread) if self.may_block => {
                tokio::task::block_in_place(run)
            }
            _ => run(),
        }
    }

    /// Writes every note to `faults.jsonl` and passes on the first fatal error.
    fn record(&self, time: u64, link: Option<(NodeId, NodeId)>, actions: &Actions) {
        for note in &actions.notes {
            let kind = note["action"].as_str().unwrap_or("adversary").to_string();
            // The nodes the note names: for an injection, the traitor that sent it and its
            // receiver, which need not be the link of the message that prompted it.
            let named: Vec<NodeId> = ["from", "to"]
                .iter()
                .filter_map(|k| note[*k].as_u64().map(|n| n as NodeId))
                .collect();
            let nodes = match link {
                Some((from, to)) if named.len() < 2 => vec![from, to],
                _ => named,
            };
            self.append(FaultRecord {
                time,
                kind,
                nodes,
                detail: note.clone(),
            });
        }
        if let Some(why) = &actions.fatal {
            let first = self.fatal.send_if_modified(|fatal| {
                let first = fatal.is_none();
                if first {
                    *fatal = Some(why.clone());
                }
                first
            });
            if first {
                self.append(FaultRecord {
                    time,
                    kind: "adversary-failed".into(),
                    nodes: Vec::new(),
                    detail: Value::String(why.clone()),
                });
            }
        }
    }

    fn append(&self, record: FaultRecord) {
        if let Err(e) = self.faults.append(&record) {
            tracing::warn!("recording an adversary action: {e}");
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
        let actions = self.call(|chain| chain.on_message(envelope));
        self.record(envelope.time, Some((envelope.from, envelope.to)), &actions);
        actions
    }
}

/// Ticks the adversaries every [`TICK`] until stopped, sending what they add on the proxy.
pub async fn tick_adversaries(
    hook: Arc<AdversaryHook>,
    links: LinkControl,
    mut stop: watch::Receiver<bool>,
) -> Result<(), Failure> {
    loop {
        tokio::select! {
            _ = tokio::time::sleep(TICK) => {}
            _ = stopped(&mut stop) => return Ok(()),
        }
        let ticked = Arc::clone(&hook);
        let actions = tokio::task::spawn_blocking(move || ticked.tick())
            .await
            .map_err(|e| Failure::harness(format!("ticking the adversaries: {e}")))?;
        for added in actions.inject {
            if !links.inject(added.from, added.to, &added.payload) {
                tracing::debug!(
                    "no open link {}->{} for a message an adversary added on a tick",
                    added.from,
                    added.to
                );
            }
        }
    }
}

/// Resolves with the first fatal error of an adversary; never, if none comes.
pub async fn failed(fatal: &mut watch::Receiver<Option<String>>) -> String {
    match fatal.wait_for(Option::is_some).await {
        Ok(why) => why.clone().unwrap_or_default(),
        Err(_) => std::future::pending().await,
    }
}
