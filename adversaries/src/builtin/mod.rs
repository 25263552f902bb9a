//! The built-in adversaries and what they share.

mod corrupt;
mod equivocate;
mod impersonate;
mod mutate;
mod omit;
mod replay;
mod twins;

pub use corrupt::Corrupt;
pub use equivocate::EquivocateSign;
pub use impersonate::Impersonate;
pub use mutate::Mutate;
pub use omit::Omit;
pub use replay::Replay;
pub use twins::{EquivocateTwins, Split};

use crate::RunInfo;
use rand::rngs::StdRng;
use rand::RngExt;
use serde_json::{json, Map, Value};
use std::collections::{BTreeMap, VecDeque};
use traitor_model::wire::{Actions, Envelope, Fate};

/// The message as a JSON object, when a Byzantine node sent it and it is one.
fn byzantine_json(msg: &Envelope, run: &RunInfo) -> Option<Map<String, Value>> {
    if run.is_byzantine(msg.from) {
        msg.json()
    } else {
        None
    }
}

/// A note for `faults.jsonl`: which adversary did what to which message.
fn note(adversary: &str, msg: &Envelope, action: &str, detail: Value) -> Value {
    let kind = msg
        .json()
        .and_then(|m| m.get("type").cloned())
        .unwrap_or(Value::Null);
    json!({"adversary": adversary, "action": action, "from": msg.from, "to": msg.to, "type": kind, "detail": detail})
}

/// Sends `message` instead of the original, re-signed with the sender's (Byzantine) key,
/// and notes it: the shared last step of the adversaries that lie with valid signatures.
fn replace_signed(
    adversary: &str,
    msg: &Envelope,
    run: &RunInfo,
    mut message: Map<String, Value>,
    action: &str,
    mut detail: Value,
    out: &mut Actions,
) {
    detail["resigned"] = json!(crate::canonical::resign(&mut message, msg.from, run));
    out.decide(Fate::Replace {
        payload: crate::canonical::to_payload(&message),
    });
    out.notes.push(note(adversary, msg, action, detail));
}

/// A value changed by one small, type-aware step: numbers move by one, hex strings get one
/// digit changed, other strings get a character appended, booleans flip.
fn perturb(value: &Value, rng: &mut StdRng) -> Value {
    match value {
        Value::Number(n) => match n.as_i64() {
            Some(i) => json!(if rng.random_bool(0.5) { i + 1 } else { i - 1 }),
            None => json!(n.as_f64().unwrap_or(0.0) + 1.0),
        },
        Value::String(s) if !s.is_empty() && s.chars().all(|c| c.is_ascii_hexdigit()) => {
            let at = rng.random_range(0..s.len());
            let mut chars: Vec<char> = s.chars().collect();
            chars[at] = if chars[at] == '0' { '1' } else { '0' };
            Value::String(chars.into_iter().collect())
        }
        Value::String(s) => Value::String(format!("{s}~")),
        Value::Bool(b) => Value::Bool(!b),
        Value::Null => json!(0),
        Value::Array(items) if !items.is_empty() => {
            let mut items = items.clone();
            let at = rng.random_range(0..items.len());
            items[at] = perturb(&items[at], rng);
            Value::Array(items)
        }
        other => other.clone(),
    }
}

/// Values seen on the wire per field name, for mutations that replay an earlier value.
#[derive(Default)]
struct Seen {
    values: BTreeMap<String, VecDeque<Value>>,
}

/// Values remembered per field name.
const SEEN_PER_FIELD: usize = 32;

impl Seen {
    /// Remembers the scalar top-level fields of a message (not its signature).
    fn learn(&mut self, message: &Map<String, Value>) {
        for (field, value) in message {
            if field == "sig" || value.is_object() {
                continue;
            }
            let values = self.values.entry(field.clone()).or_default();
            if !values.contains(value) {
                values.push_back(value.clone());
                if values.len() > SEEN_PER_FIELD {
                    values.pop_front();
                }
            }
        }
    }

    /// An earlier value of `field` different from `now`, if one was seen.
    fn other_than(&self, field: &str, now: &Value, rng: &mut StdRng) -> Option<Value> {
        let candidates: Vec<&Value> = self
            .values
            .get(field)?
            .iter()
            .filter(|v| *v != now)
            .collect();
        (!candidates.is_empty()).then(|| candidates[rng.random_range(0..candidates.len())].clone())
    }
}
