//! Client operations as the report draws them: each invoke paired with the next completion
//! of the same process (Jepsen's rule), with its outcome and times.

use serde_json::{json, Value};
use std::collections::HashMap;
use traitor_model::{Event, EventKind};

/// How an operation ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Outcome {
    Ok,
    Fail,
    /// Unknown: an `info` completion, or no completion at all.
    Info,
}

impl Outcome {
    /// The CSS class and word used for the outcome.
    pub fn class(self) -> &'static str {
        match self {
            Outcome::Ok => "ok",
            Outcome::Fail => "fail",
            Outcome::Info => "info",
        }
    }
}

/// One operation: an invoke and how it ended.
#[derive(Clone, Debug)]
pub struct Op<'a> {
    pub invoke: &'a Event,
    pub completion: Option<&'a Event>,
    /// The invoke's `index` (or its position among events), as the checkers name ops.
    pub index: u64,
    pub outcome: Outcome,
    /// Invoke time, ns since run start.
    pub start: u64,
    /// Completion time; `None` for an op that never completed.
    pub end: Option<u64>,
}

impl Op<'_> {
    pub fn process(&self) -> u64 {
        self.invoke.process
    }

    /// Completion minus invoke, for ops that completed.
    pub fn latency(&self) -> Option<u64> {
        self.end.map(|end| end.saturating_sub(self.start))
    }

    /// The op in one line, for hover titles: `#12 p3 write k1 4 -> ok`.
    pub fn describe(&self) -> String {
        let key = self
            .invoke
            .key
            .as_ref()
            .map(|k| format!(" {}", super::escape::value_text(k)))
            .unwrap_or_default();
        let value = match self.completion {
            Some(c) if self.outcome == Outcome::Ok && !c.value.is_null() => &c.value,
            _ => &self.invoke.value,
        };
        let value = if value.is_null() {
            String::new()
        } else {
            format!(" {value}")
        };
        format!(
            "#{} p{} {}{key}{value} -> {}",
            self.index,
            self.process(),
            self.invoke.f,
            self.outcome.class()
        )
    }

    /// Everything the details panel shows, for the page's embedded data; absent fields
    /// are left out (the page reads a missing field as empty), which keeps a 10,000-op
    /// page small.
    pub fn to_json(&self) -> Value {
        let c = self.completion;
        let mut fields = json!({
            "i": self.index,
            "p": self.process(),
            "f": self.invoke.f,
            "k": self.invoke.key,
            "v": self.invoke.value,
            "r": c.map(|c| &c.value),
            "n": self.invoke.node.or(c.and_then(|c| c.node)),
            "t0": self.start,
            "t1": self.end,
            "o": self.outcome.class(),
            "e": c.and_then(|c| c.error.as_ref()),
            "c": self.invoke.client,
            "q": self.invoke.req,
            "ci": c.and_then(|c| c.index),
        });
        if let Some(map) = fields.as_object_mut() {
            map.retain(|_, v| !v.is_null());
        }
        fields
    }
}

/// The history's operations, in invoke order, and how many events could not be placed.
#[derive(Debug, Default)]
pub struct Ops<'a> {
    pub ops: Vec<Op<'a>>,
    /// Events without a time, or completions without an invoke: not drawn, but counted.
    pub skipped: usize,
}

/// Pairs invokes with completions. A completion with no open invoke of its process and an
/// event without a time are skipped (and counted); an invoke still open at the end, or
/// followed by another invoke of the same process, has an unknown outcome.
pub fn pair(events: &[Event]) -> Ops<'_> {
    let mut ops: Vec<Op> = Vec::new();
    let mut open: HashMap<u64, usize> = HashMap::new();
    let mut skipped = 0;
    for (position, event) in events.iter().enumerate() {
        let Some(time) = event.time else {
            skipped += 1;
            continue;
        };
        match event.kind {
            EventKind::Invoke => {
                open.insert(event.process, ops.len());
                ops.push(Op {
                    invoke: event,
                    completion: None,
                    index: event.index.unwrap_or(position as u64),
                    outcome: Outcome::Info,
                    start: time,
                    end: None,
                });
            }
            kind => match open.remove(&event.process) {
                Some(at) => {
                    let op = &mut ops[at];
                    op.completion = Some(event);
                    op.end = Some(time.max(op.start));
                    op.outcome = match kind {
                        EventKind::Ok => Outcome::Ok,
                        EventKind::Fail => Outcome::Fail,
                        _ => Outcome::Info,
                    };
                }
                None => skipped += 1,
            },
        }
    }
    Ops { ops, skipped }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(process: u64, kind: EventKind, time: u64) -> Event {
        let mut e = Event::new(process, kind, "write", json!(1));
        e.time = Some(time);
        e
    }

    #[test]
    fn pairs_by_process_and_keeps_open_invokes_unknown() {
        let events = vec![
            event(0, EventKind::Invoke, 10),
            event(1, EventKind::Invoke, 11),
            event(1, EventKind::Fail, 15),
            event(0, EventKind::Ok, 20),
            event(2, EventKind::Invoke, 30),
            event(3, EventKind::Ok, 31),
        ];
        let ops = pair(&events);
        assert_eq!(ops.ops.len(), 3);
        assert_eq!(ops.skipped, 1);
        assert_eq!(
            (ops.ops[0].outcome, ops.ops[0].latency()),
            (Outcome::Ok, Some(10))
        );
        assert_eq!(ops.ops[1].outcome, Outcome::Fail);
        assert_eq!((ops.ops[2].outcome, ops.ops[2].end), (Outcome::Info, None));
        assert_eq!(ops.ops[2].index, 4);
    }
}
