//! A compact, hashable value for model states and op arguments.
//!
//! `serde_json::Value` is neither `Hash` nor cheap to clone; the search memoises
//! (linearized set, state) pairs millions of times, so histories are converted once.

use crate::budget::allocated;
use serde_json::Value;
use std::fmt;
use std::sync::Arc;

/// A value as the models see it. JSON objects and non-integer numbers are kept as their
/// canonical JSON text: equal JSON stays equal, which is all the models need of them.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub enum Val {
    #[default]
    Nil,
    Bool(bool),
    Int(i64),
    Str(Arc<str>),
    List(Arc<[Val]>),
}

impl Val {
    /// Text content for string models (`get`/`append`): nil is the empty string.
    pub fn as_text(&self) -> String {
        match self {
            Val::Nil => String::new(),
            Val::Str(s) => s.to_string(),
            other => other.to_string(),
        }
    }

    /// Heap memory this value holds (shared parts counted as if owned), so that a search
    /// can charge what the states on its stack really cost: an appended string grows.
    pub fn heap_bytes(&self) -> usize {
        // An `Arc` allocation holds two counters beside the data.
        const COUNTS: usize = 2 * std::mem::size_of::<usize>();
        match self {
            Val::Nil | Val::Bool(_) | Val::Int(_) => 0,
            Val::Str(s) => allocated(COUNTS + s.len()),
            Val::List(items) => {
                allocated(COUNTS + std::mem::size_of_val::<[Val]>(items))
                    + items.iter().map(Val::heap_bytes).sum::<usize>()
            }
        }
    }

    /// Appends a byte encoding of this value to `out`: two values encode the same exactly
    /// when they are equal, so a search can remember states as bytes in one buffer.
    pub fn encode(&self, out: &mut Vec<u8>) {
        match self {
            Val::Nil => out.push(0),
            Val::Bool(b) => out.extend([1, u8::from(*b)]),
            Val::Int(i) => {
                out.push(2);
                out.extend(i.to_le_bytes());
            }
            Val::Str(s) => {
                out.push(3);
                out.extend((s.len() as u64).to_le_bytes());
                out.extend(s.as_bytes());
            }
            Val::List(items) => {
                out.push(4);
                out.extend((items.len() as u64).to_le_bytes());
                for item in items.iter() {
                    item.encode(out);
                }
            }
        }
    }

    /// The two halves of a `[a b]` pair, as in `cas [expected new]` and `[key value]` tuples.
    pub fn as_pair(&self) -> Option<(&Val, &Val)> {
        match self {
            Val::List(items) if items.len() == 2 => Some((&items[0], &items[1])),
            _ => None,
        }
    }
}

impl From<&Value> for Val {
    fn from(value: &Value) -> Self {
        match value {
            Value::Null => Val::Nil,
            Value::Bool(b) => Val::Bool(*b),
            Value::Number(n) => n
                .as_i64()
                .map_or_else(|| Val::Str(n.to_string().into()), Val::Int),
            Value::String(s) => Val::Str(s.as_str().into()),
            Value::Array(items) => Val::List(items.iter().map(Val::from).collect()),
            Value::Object(_) => Val::Str(value.to_string().into()),
        }
    }
}

impl fmt::Display for Val {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Val::Nil => f.write_str("nil"),
            Val::Bool(b) => write!(f, "{b}"),
            Val::Int(i) => write!(f, "{i}"),
            Val::Str(s) => write!(f, "{s:?}"),
            Val::List(items) => {
                f.write_str("[")?;
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        f.write_str(" ")?;
                    }
                    write!(f, "{item}")?;
                }
                f.write_str("]")
            }
        }
    }
}

impl Val {
    /// Back to JSON, for evidence in reports.
    pub fn to_json(&self) -> Value {
        match self {
            Val::Nil => Value::Null,
            Val::Bool(b) => Value::Bool(*b),
            Val::Int(i) => Value::from(*i),
            Val::Str(s) => Value::String(s.to_string()),
            Val::List(items) => Value::Array(items.iter().map(Val::to_json).collect()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn encoded(v: &Val) -> Vec<u8> {
        let mut out = Vec::new();
        v.encode(&mut out);
        out
    }

    #[test]
    fn different_values_encode_differently() {
        let s = |x: &str| Val::Str(x.into());
        let values = [
            Val::Nil,
            s(""),
            s("1"),
            Val::Int(1),
            Val::Bool(true),
            s("ab"),
            Val::List([s("ab")].into()),
            Val::List([s("a"), s("b")].into()),
            Val::List([Val::List([s("a")].into()), s("b")].into()),
        ];
        for (i, a) in values.iter().enumerate() {
            for (j, b) in values.iter().enumerate() {
                assert_eq!(encoded(a) == encoded(b), i == j, "{a} vs {b}");
            }
        }
    }
}
