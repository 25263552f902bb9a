//! `plugin:PATH[,timeout=1s]`: an adversary written in any language, as an executable that
//! speaks JSON lines on stdin and stdout (the protocol is in docs/writing-an-adversary.md).
//!
//! The plugin is started once per run and greeted with the run's facts (the Byzantine
//! nodes' keys and no other); then it is shown every message and, about every 100 ms, a
//! tick, and answers each with the actions it takes. Each answer must come within the time
//! limit. A plugin that hangs, crashes, exits or answers garbage is stopped and the answer
//! carries a fatal error (see [`Actions::fatal`]): the run cannot go on with Byzantine nodes
//! that no longer behave as asked, and must not hang either. Every later call fails at
//! once with the same error, so the proxy is never held up twice.

mod answer;
mod child;

use crate::{Adversary, RunInfo};
use answer::Asked;
use base64::Engine as _;
use child::Child;
use rand::rngs::StdRng;
use serde_json::{json, Map, Value};
use std::path::PathBuf;
use std::time::Duration;
use traitor_model::wire::{Actions, Envelope};

/// The answer limit when `timeout=` is not given.
pub const DEFAULT_LIMIT: Duration = Duration::from_secs(1);
/// The greeting's answer limit at least: interpreters take a moment to start.
const HELLO_LIMIT: Duration = Duration::from_secs(5);
/// What the greeting says about signing, so a plugin need not guess.
const CANONICAL: &str = "sorted-keys compact JSON without sig; sig = hex ed25519";

/// An adversary run as a child process.
pub struct Plugin {
    /// `plugin:PATH`, as on the command line and in `faults.jsonl`.
    name: String,
    path: PathBuf,
    limit: Duration,
    child: Option<Child>,
    /// Why the plugin was stopped, repeated on every later call.
    failed: Option<String>,
}

impl Plugin {
    /// A plugin at `path` whose answers must each come within `limit`; nothing is started
    /// before [`Adversary::start`].
    pub fn new(path: impl Into<PathBuf>, limit: Duration) -> Self {
        let path = path.into();
        Self {
            name: format!("plugin:{}", path.display()),
            path,
            limit,
            child: None,
            failed: None,
        }
    }

    /// Asks the plugin one question; an error says what the plugin did wrong, and stops it.
    fn ask(&mut self, request: Value, what: &str, limit: Duration) -> Result<String, String> {
        if let Some(why) = &self.failed {
            return Err(why.clone());
        }
        let Some(child) = self.child.as_mut() else {
            return Err(self.stop(format!("was asked about {what} before it was started")));
        };
        child
            .ask(request.to_string(), limit)
            .map_err(|why| self.stop(format!("{why}, when asked about {what}")))
    }

    /// Stops the plugin for good; returns the error every later call repeats.
    fn stop(&mut self, why: String) -> String {
        let why = format!("adversary {} {why}", self.name);
        self.child = None;
        self.failed = Some(why.clone());
        why
    }

    /// Shows the plugin a message or a tick and adds its answer to `out`.
    fn consult(&mut self, request: Value, asked: Asked<'_>, run: &RunInfo, out: &mut Actions) {
        let what = match asked {
            Asked::Message(msg) => format!(
                "a message {}->{} at {:?}",
                msg.from,
                msg.to,
                Duration::from_nanos(msg.time)
            ),
            Asked::Tick(now) => format!("a tick at {now:?}"),
        };
        let result = self.ask(request, &what, self.limit).and_then(|answer| {
            answer::apply(&answer, asked, run, &self.name, out)
                .map_err(|why| self.stop(format!("{why}, when asked about {what}")))
        });
        if let Err(why) = result {
            out.fail(why);
        }
    }
}

impl Adversary for Plugin {
    fn name(&self) -> &str {
        &self.name
    }

    /// Every call waits for the plugin's answer, up to its time limit.
    fn may_block(&self) -> bool {
        true
    }

    fn start(&mut self, run: &RunInfo, _rng: &mut StdRng) -> Result<(), String> {
        let child = Child::spawn(&self.path).map_err(|why| self.stop(why))?;
        self.child = Some(child);
        let keys: Map<String, Value> = run
            .keys
            .iter()
            .map(|(node, key)| (node.to_string(), json!(hex::encode(key.to_bytes()))))
            .collect();
        let hello = json!({"type": "hello", "n": run.n, "f": run.f, "byzantine": run.byzantine, "keys": keys, "canonical": CANONICAL});
        let answer = self.ask(hello, "the hello", self.limit.max(HELLO_LIMIT))?;
        match serde_json::from_str::<Value>(answer.trim_end()) {
            Ok(reply) if reply.get("ok") == Some(&Value::Bool(true)) => Ok(()),
            _ => Err(self.stop(format!(
                "answered the hello with {:?}; expected {{\"ok\":true}}",
                answer.trim_end()
            ))),
        }
    }

    fn on_message(&mut self, msg: &Envelope, run: &RunInfo, _rng: &mut StdRng, out: &mut Actions) {
        let mut request =
            json!({"type": "message", "from": msg.from, "to": msg.to, "time": msg.time});
        match std::str::from_utf8(&msg.payload) {
            Ok(text) => request["payload"] = json!(text),
            Err(_) => {
                let encoded = base64::engine::general_purpose::STANDARD.encode(&msg.payload);
                request["payload_base64"] = json!(encoded);
            }
        }
        self.consult(request, Asked::Message(msg), run, out);
    }

    fn on_tick(&mut self, now: Duration, run: &RunInfo, _rng: &mut StdRng, out: &mut Actions) {
        let request = json!({"type": "tick", "time": now.as_nanos() as u64});
        self.consult(request, Asked::Tick(now), run, out);
    }
}
