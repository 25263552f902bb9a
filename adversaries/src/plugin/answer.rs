//! A plugin's answer, checked and turned into [`Actions`] with a note for each action.
//!
//! Everything is checked before anything is applied, and anything the protocol does not
//! allow is an error naming the offending action: a plugin that answers garbage must end
//! the run rather than have part of its intent carried out.

use crate::RunInfo;
use base64::Engine as _;
use serde_json::{json, Map, Value};
use std::time::Duration;
use traitor_model::wire::{Actions, Envelope, Fate, Injection};
use traitor_model::NodeId;

/// The longest delay a plugin may ask for.
const MAX_DELAY_MS: u64 = 600_000;

/// The actions the protocol knows, for error messages.
const KNOWN: &str = "deliver, drop, delay, duplicate, replace, inject";

/// What the plugin was asked about.
#[derive(Clone, Copy)]
pub(crate) enum Asked<'a> {
    Message(&'a Envelope),
    Tick(Duration),
}

/// One checked answer.
struct Decision {
    /// The fate asked for, with its note's action name and detail.
    fate: Option<(Fate, &'static str, Value)>,
    inject: Vec<Injection>,
    note: Option<Value>,
}

/// Checks `answer` and adds what it asks for to `out`, noting every action under the name
/// `adversary`. An error says what is wrong with the answer.
pub(crate) fn apply(
    answer: &str,
    asked: Asked<'_>,
    run: &RunInfo,
    adversary: &str,
    out: &mut Actions,
) -> Result<(), String> {
    let decision = decide(answer, asked, run)?;
    let (from, to, kind) = match asked {
        Asked::Message(msg) => (json!(msg.from), json!(msg.to), type_of(&msg.payload)),
        Asked::Tick(_) => (Value::Null, Value::Null, Value::Null),
    };
    if let Some((fate, action, detail)) = decision.fate {
        let deliver = fate == Fate::Deliver;
        let applied = out.decide(fate);
        if !deliver {
            out.notes.push(json!({"adversary": adversary, "action": action, "from": from, "to": to, "type": kind, "applied": applied, "detail": detail}));
        }
    }
    for added in decision.inject {
        out.notes.push(json!({"adversary": adversary, "action": "inject", "from": added.from, "to": added.to, "type": type_of(&added.payload), "detail": {"payload": readable(&added.payload)}}));
        out.inject.push(added);
    }
    if let Some(note) = decision.note {
        out.notes.push(json!({"adversary": adversary, "action": "note", "from": from, "to": to, "type": kind, "detail": note}));
    }
    Ok(())
}

fn decide(answer: &str, asked: Asked<'_>, run: &RunInfo) -> Result<Decision, String> {
    let answer: Value = serde_json::from_str(answer.trim_end()).map_err(|e| {
        format!(
            "answered {:?}, which is not JSON ({e}); expected {{\"actions\":[...]}}",
            clip(answer)
        )
    })?;
    let Some(actions) = answer.get("actions").and_then(Value::as_array) else {
        return Err(format!(
            "answered {}, which has no \"actions\" list; expected {{\"actions\":[...]}} (an empty list delivers the message)",
            clip(&answer.to_string())
        ));
    };
    let mut decision = Decision {
        fate: None,
        inject: Vec::new(),
        note: answer.get("note").filter(|n| !n.is_null()).cloned(),
    };
    for action in actions {
        let name = action
            .get("action")
            .and_then(Value::as_str)
            .ok_or_else(|| {
                format!(
                    "answered the action {}, which has no \"action\" name (one of {KNOWN})",
                    clip(&action.to_string())
                )
            })?;
        let fate = match name {
            "inject" => {
                decision.inject.push(injection(action, asked, run)?);
                continue;
            }
            "deliver" => (Fate::Deliver, "deliver", json!({})),
            "drop" => (Fate::Drop, "drop", json!({})),
            "duplicate" => (Fate::Duplicate, "duplicate", json!({})),
            "delay" => {
                let ms = action
                    .get("ms")
                    .and_then(Value::as_u64)
                    .filter(|ms| *ms <= MAX_DELAY_MS)
                    .ok_or_else(|| {
                        format!(
                            "answered {}: delay needs \"ms\", a whole number of milliseconds from 0 to {MAX_DELAY_MS}",
                            clip(&action.to_string())
                        )
                    })?;
                let by = Duration::from_millis(ms);
                (Fate::Delay { by }, "delay", json!({"ms": ms}))
            }
            "replace" => {
                let payload = payload(action, name)?;
                let detail = json!({"payload": readable(&payload)});
                (Fate::Replace { payload }, "replace", detail)
            }
            other => {
                return Err(format!(
                    "answered the unknown action {other:?}; the actions are {KNOWN}"
                ))
            }
        };
        match asked {
            Asked::Tick(_) => {
                return Err(format!(
                    "answered a tick with {name}: a tick has no message to {name}, only inject acts on a tick"
                ))
            }
            Asked::Message(msg) if !run.is_byzantine(msg.from) && fate.0 != Fate::Deliver => {
                return Err(format!(
                    "answered {name} to a message from node {}, which is correct: adversaries act only for the Byzantine nodes {:?} (answer [] to let it through)",
                    msg.from, run.byzantine
                ))
            }
            Asked::Message(_) => {}
        }
        if let Some((_, first, _)) = &decision.fate {
            return Err(format!(
                "answered both {first} and {name} for one message; a message has one fate"
            ));
        }
        decision.fate = Some(fate);
    }
    Ok(decision)
}

/// An `inject` action: its receiver, its sender (a Byzantine node) and its payload.
fn injection(action: &Value, asked: Asked<'_>, run: &RunInfo) -> Result<Injection, String> {
    let node = |field: &str| -> Result<Option<NodeId>, String> {
        match action.get(field) {
            None | Some(Value::Null) => Ok(None),
            Some(v) => v
                .as_u64()
                .filter(|&id| id < u64::from(run.n))
                .map(|id| Some(id as NodeId))
                .ok_or_else(|| {
                    format!(
                        "answered inject with \"{field}\": {v}, which is not a node of this run (nodes are 0 to {})",
                        run.n.saturating_sub(1)
                    )
                }),
        }
    };
    let to = node("to")?.ok_or_else(|| {
        format!(
            "answered inject without \"to\": {}",
            clip(&action.to_string())
        )
    })?;
    let sole = (run.byzantine.len() == 1).then(|| run.byzantine[0]);
    let from = match (node("from")?, asked) {
        (Some(from), _) => from,
        (None, Asked::Message(msg)) if run.is_byzantine(msg.from) => msg.from,
        (None, _) => sole.ok_or_else(|| {
            format!(
                "answered inject without \"from\", which is needed here: the Byzantine nodes are {:?}",
                run.byzantine
            )
        })?,
    };
    if !run.is_byzantine(from) {
        return Err(format!(
            "answered inject from node {from}, which is correct: adversaries send only as the Byzantine nodes {:?}",
            run.byzantine
        ));
    }
    Ok(Injection {
        from,
        to,
        payload: payload(action, "inject")?,
    })
}

/// The payload of `replace` or `inject`: `payload` (text) or `payload_base64`.
fn payload(action: &Value, name: &str) -> Result<Vec<u8>, String> {
    match (action.get("payload"), action.get("payload_base64")) {
        (Some(Value::String(text)), None) => Ok(text.clone().into_bytes()),
        (None, Some(Value::String(encoded))) => base64::engine::general_purpose::STANDARD
            .decode(encoded)
            .map_err(|e| format!("answered {name} with a payload_base64 that is not base64 ({e})")),
        _ => Err(format!(
            "answered {}: {name} needs exactly one of \"payload\" (a string) or \"payload_base64\"",
            clip(&action.to_string())
        )),
    }
}

/// A payload for a note: its JSON when it is JSON, its text when it is text, else base64.
fn readable(payload: &[u8]) -> Value {
    if let Ok(value) = serde_json::from_slice::<Value>(payload) {
        return value;
    }
    match std::str::from_utf8(payload) {
        Ok(text) => json!(text),
        Err(_) => json!({"base64": base64::engine::general_purpose::STANDARD.encode(payload)}),
    }
}

/// The `type` field of a JSON payload, or null.
fn type_of(payload: &[u8]) -> Value {
    serde_json::from_slice::<Map<String, Value>>(payload)
        .ok()
        .and_then(|m| m.get("type").cloned())
        .unwrap_or(Value::Null)
}

/// The start of a long text, for error messages.
fn clip(text: &str) -> String {
    const SHOWN: usize = 200;
    let text = text.trim_end();
    match text.char_indices().nth(SHOWN) {
        Some((at, _)) => format!("{}...", &text[..at]),
        None => text.to_string(),
    }
}
