//! From history events to operations: invokes paired with their completions, split by key,
//! with Jepsen's semantics.
//!
//! - `fail`: the op did not happen; it is dropped.
//! - `info`, or no completion by the end: it may have happened at any time after its invoke,
//!   or never; its argument comes from the invoke (an `info` value may be a marker such as
//!   `:timed-out`). A read with an unknown result constrains nothing and is dropped.
//! - `ok read nil` read the initial, never-written state.
//! - Keys come from the `key` field, or from Jepsen's independent tuples (`value [k v]`),
//!   recognised from the first invoke without a `key`.
//!
//! Real-time order is the order of events in the file: that is the order in which the
//! recorder saw them, and it never turns two overlapping ops into ordered ones.

use crate::models::{Func, Model};
use crate::value::Val;
use std::collections::{BTreeMap, HashMap, HashSet};
use traitor_model::{Event, EventKind};

/// One operation of one key, ready for the search.
#[derive(Clone, Debug)]
pub struct Op {
    pub process: u64,
    pub func: Func,
    pub arg: Val,
    /// The observed result; `None` when unknown (`info`).
    pub ret: Option<Val>,
    /// Position of the invoke among all events.
    pub call: u64,
    /// Position of the completion; `None` when the op may complete at any time (or never).
    pub returned: Option<u64>,
    /// The invoke's `index` field (or its position), to name the op to a person.
    pub index: u64,
}

impl Op {
    /// The op as a person reads it: `p3 cas [1 2] -> ok`.
    pub fn describe(&self) -> String {
        let outcome = match (&self.ret, self.func.is_read()) {
            (None, _) => "info (unknown outcome)".to_string(),
            (Some(v), true) => format!("ok {v}"),
            (Some(_), false) => "ok".to_string(),
        };
        format!("{} -> {outcome}", self.describe_call())
    }

    /// The op as invoked, without its outcome: `#12 p3 cas [1 2]`.
    pub fn describe_call(&self) -> String {
        let arg = if self.func.is_read() {
            String::new()
        } else {
            format!(" {}", self.arg)
        };
        format!(
            "#{} p{} {}{arg}",
            self.index,
            self.process,
            self.func.name()
        )
    }
}

/// Operations grouped by key, and what was seen on the way.
#[derive(Debug, Default)]
pub struct Operations {
    /// Key (canonical JSON text, `""` when the history has no keys) to its ops in call order.
    pub by_key: BTreeMap<String, Vec<Op>>,
    /// Invokes seen, whatever became of them.
    pub invokes: usize,
    pub processes: usize,
    pub warnings: Vec<String>,
}

/// Builds [`Operations`] from events fed in order, batch by batch.
pub struct OpsBuilder {
    model: Model,
    position: u64,
    /// Per process: (key, index into that key's ops) of the op awaiting completion.
    pending: HashMap<u64, (String, usize)>,
    processes: HashSet<u64>,
    /// Decided at the first keyless invoke: does this history use `[k v]` tuples?
    independent: Option<bool>,
    /// Per key, the ops whose completion said `fail`, removed at the end.
    failed: HashMap<String, HashSet<usize>>,
    out: Operations,
}

impl OpsBuilder {
    pub fn new(model: Model) -> Self {
        Self {
            model,
            position: 0,
            pending: HashMap::new(),
            processes: HashSet::new(),
            independent: None,
            failed: HashMap::new(),
            out: Operations::default(),
        }
    }

    /// Takes the next event. Errors name what is wrong with it (the caller adds where).
    pub fn push(&mut self, event: &Event) -> Result<(), String> {
        let position = self.position;
        self.position += 1;
        self.processes.insert(event.process);
        let (key, value) = self.split_key(event)?;
        match event.kind {
            EventKind::Invoke => self.invoke(event, position, key, value),
            _ => {
                self.complete(event, position, value);
                Ok(())
            }
        }
    }

    fn invoke(
        &mut self,
        event: &Event,
        position: u64,
        key: String,
        value: Val,
    ) -> Result<(), String> {
        let func = self.model.function(&event.f)?;
        match (func, self.model, &value) {
            (Func::Cas, _, v) if v.as_pair().is_none() => {
                return Err(format!("cas needs [expected new] as its value, found {v}"))
            }
            (Func::Add, Model::Counter, v) if !matches!(v, Val::Int(_)) => {
                return Err(format!("counter add needs an integer value, found {v}"))
            }
            _ => {}
        }
        if let Some((old_key, old)) = self.pending.remove(&event.process) {
            self.out.warnings.push(format!(
                "process {} invoked again before its op #{} completed; that op is taken as unknown (info)",
                event.process, self.out.by_key[&old_key][old].index
            ));
        }
        let ops = self.out.by_key.entry(key.clone()).or_default();
        ops.push(Op {
            process: event.process,
            func,
            arg: value,
            ret: None,
            call: position,
            returned: None,
            index: event.index.unwrap_or(position),
        });
        self.pending.insert(event.process, (key, ops.len() - 1));
        self.out.invokes += 1;
        Ok(())
    }

    fn complete(&mut self, event: &Event, position: u64, value: Val) {
        let Some((key, at)) = self.pending.remove(&event.process) else {
            self.out.warnings.push(format!(
                "a {:?} for process {} at event {position} has no invoke before it; ignored",
                event.kind, event.process
            ));
            return;
        };
        match event.kind {
            EventKind::Ok => {
                let op = &mut self
                    .out
                    .by_key
                    .get_mut(&key)
                    .expect("pending ops have a key")[at];
                op.ret = Some(self.model.normalise_result(op.func, value));
                op.returned = Some(position);
            }
            EventKind::Fail => {
                self.failed.entry(key).or_default().insert(at);
            }
            // Unknown: the op stays open to the end, with the invoke's argument.
            EventKind::Info | EventKind::Invoke => {}
        }
    }

    /// The key of an event and its value with the key taken off.
    fn split_key(&mut self, event: &Event) -> Result<(String, Val), String> {
        let value = Val::from(&event.value);
        if let Some(key) = &event.key {
            return Ok((key.to_string(), value));
        }
        let independent = *self
            .independent
            .get_or_insert_with(|| event.kind == EventKind::Invoke && is_tuple(&event.f, &value));
        if !independent {
            return match self.model {
                Model::Kv => Err(
                    "the kv model needs a key: give a `key` field or a [key value] tuple".into(),
                ),
                _ => Ok((String::new(), value)),
            };
        }
        match value.as_pair() {
            Some((k, v)) => Ok((k.to_json().to_string(), v.clone())),
            // A completion whose value is a marker (an info's :timed-out) belongs to its invoke's key.
            None if event.kind != EventKind::Invoke => {
                let key = self.pending.get(&event.process).map(|(k, _)| k.clone()).unwrap_or_default();
                Ok((key, Val::Nil))
            }
            None => Err(format!(
                "value {value} is not a [key value] tuple, though earlier ops of this history used tuples"
            )),
        }
    }

    /// Ends the history: ops never completed become unknown; failed ops and unknown reads
    /// are dropped.
    pub fn finish(mut self) -> Operations {
        let failed = std::mem::take(&mut self.failed);
        let none = HashSet::new();
        for (key, ops) in self.out.by_key.iter_mut() {
            let failed_here = failed.get(key).unwrap_or(&none);
            let mut at = 0;
            ops.retain(|op| {
                let unknown_read = op.func.is_read() && op.ret.is_none();
                let keep = !(failed_here.contains(&at) || unknown_read);
                at += 1;
                keep
            });
        }
        self.out.by_key.retain(|_, ops| !ops.is_empty());
        self.out.processes = self.processes.len();
        self.out
    }
}

/// Jepsen's independent tuple `[k v]`: for cas the value itself is a pair, `[k [a b]]`.
fn is_tuple(f: &str, value: &Val) -> bool {
    match value.as_pair() {
        Some((_, inner)) if f == "cas" => inner.as_pair().is_some(),
        Some(_) => true,
        None => false,
    }
}

/// Builds operations from a whole in-memory history.
pub fn operations(events: &[Event], model: Model) -> Result<Operations, String> {
    let mut builder = OpsBuilder::new(model);
    for (i, event) in events.iter().enumerate() {
        builder
            .push(event)
            .map_err(|e| format!("event {}: {e}", i + 1))?;
    }
    Ok(builder.finish())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use traitor_model::parse_history;

    fn ops(text: &str, model: Model) -> Operations {
        operations(&parse_history(text).unwrap().events, model).unwrap()
    }

    #[test]
    fn pairs_and_applies_jepsen_semantics() {
        let h = "{:type :invoke, :f :write, :value 1, :process 0}\n\
                 {:type :invoke, :f :write, :value 2, :process 1}\n\
                 {:type :ok, :f :write, :value 1, :process 0}\n\
                 {:type :fail, :f :write, :value 2, :process 1}\n\
                 {:type :invoke, :f :cas, :value [1 3], :process 2}\n\
                 {:type :info, :f :cas, :value :timed-out, :process 2}\n\
                 {:type :invoke, :f :read, :value nil, :process 3}\n\
                 {:type :info, :f :read, :value nil, :process 3}\n\
                 {:type :invoke, :f :read, :value nil, :process 4}\n";
        let o = ops(h, Model::CasRegister);
        let all = &o.by_key[""];
        // write 1 ok, cas info kept with its invoke's argument; failed write and unknown reads dropped.
        assert_eq!(all.len(), 2);
        assert_eq!(all[0].ret, Some(Val::Int(1)));
        assert_eq!(all[1].func, Func::Cas);
        assert_eq!(all[1].arg.to_json(), json!([1, 3]));
        assert_eq!(all[1].returned, None);
        assert_eq!(o.invokes, 5);
        assert_eq!(o.processes, 5);
    }

    #[test]
    fn independent_tuples_split_keys() {
        let h = "{:type :invoke, :f :cas, :value [7 [1 2]], :process 0}\n\
                 {:type :ok, :f :cas, :value [7 [1 2]], :process 0}\n\
                 {:type :invoke, :f :read, :value [8 nil], :process 1}\n\
                 {:type :ok, :f :read, :value [8 5], :process 1}\n";
        let o = ops(h, Model::CasRegister);
        assert_eq!(o.by_key.keys().cloned().collect::<Vec<_>>(), vec!["7", "8"]);
        assert_eq!(o.by_key["8"][0].ret, Some(Val::Int(5)));
    }

    #[test]
    fn plain_cas_is_not_a_tuple() {
        let h = "{:type :invoke, :f :cas, :value [1 2], :process 0}\n";
        assert_eq!(ops(h, Model::CasRegister).by_key.keys().next().unwrap(), "");
    }

    #[test]
    fn errors_name_the_problem() {
        let h = parse_history("{\"process\":0,\"type\":\"invoke\",\"f\":\"frob\",\"value\":1}\n")
            .unwrap();
        let err = operations(&h.events, Model::Register).unwrap_err();
        assert!(err.contains("event 1") && err.contains("frob"), "{err}");
        let h = parse_history("{\"process\":0,\"type\":\"invoke\",\"f\":\"read\"}\n").unwrap();
        assert!(operations(&h.events, Model::Kv)
            .unwrap_err()
            .contains("needs a key"));
    }
}
