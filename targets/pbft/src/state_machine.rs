//! The replicated service: a key-value store with read, write and compare-and-set.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::messages::Op;

/// The result of one operation, shaped like the `POST /ops` answer.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "lowercase")]
pub enum OpResult {
    Ok { value: Value },
    Fail { error: String },
}

/// Deterministic key-value state; every correct replica holds the same one at a given height.
#[derive(Clone, Debug, Default)]
pub struct KvStore {
    data: BTreeMap<String, Value>,
}

impl KvStore {
    /// The current value of `key`, `null` if it was never written.
    pub fn read(&self, key: &str) -> Value {
        self.data.get(key).cloned().unwrap_or(Value::Null)
    }

    /// Applies an operation and returns its result.
    pub fn apply(&mut self, op: &Op) -> OpResult {
        match op {
            Op::Read { key } => OpResult::Ok {
                value: self.read(key),
            },
            Op::Write { key, value } => {
                self.data.insert(key.clone(), value.clone());
                OpResult::Ok {
                    value: value.clone(),
                }
            }
            Op::Cas {
                key,
                value: (expected, new),
            } => {
                let current = self.read(key);
                if &current == expected {
                    self.data.insert(key.clone(), new.clone());
                    OpResult::Ok { value: new.clone() }
                } else {
                    OpResult::Fail {
                        error: format!("cas expected {expected} but found {current}"),
                    }
                }
            }
            Op::Noop => OpResult::Ok { value: Value::Null },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn cas_fails_on_mismatch_and_succeeds_on_match() {
        let mut kv = KvStore::default();
        assert_eq!(kv.read("a"), Value::Null);
        let cas = |e, n| Op::Cas {
            key: "a".into(),
            value: (e, n),
        };
        assert!(matches!(
            kv.apply(&cas(json!(1), json!(2))),
            OpResult::Fail { .. }
        ));
        kv.apply(&Op::Write {
            key: "a".into(),
            value: json!(1),
        });
        assert_eq!(
            kv.apply(&cas(json!(1), json!(2))),
            OpResult::Ok { value: json!(2) }
        );
        assert_eq!(kv.read("a"), json!(2));
    }
}
