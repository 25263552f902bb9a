//! Sequential specifications: the models a history is checked against.
//!
//! A model is pure: an initial state (always `Val::Nil`, read as "never written") and a
//! step that says whether an operation with its observed result is legal in a state and
//! what state follows. Every model here is split by key (P-compositionality) by the caller.

use crate::value::Val;
use std::collections::BTreeSet;
use std::fmt;
use std::str::FromStr;
use std::sync::Arc;

/// The models `traitor check --model` accepts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Model {
    /// read / write.
    Register,
    /// read / write / cas `[expected new]`.
    CasRegister,
    /// Per key: read / write / cas, and get / put / append (strings, starting from "").
    Kv,
    /// add / read, starting from 0.
    Counter,
    /// add / read (the whole set), starting empty.
    Set,
}

/// Every model, for help texts and errors.
pub const ALL_MODELS: [Model; 5] = [
    Model::Register,
    Model::CasRegister,
    Model::Kv,
    Model::Counter,
    Model::Set,
];

impl Model {
    /// The name used on the command line and in manifests.
    pub fn name(self) -> &'static str {
        match self {
            Model::Register => "register",
            Model::CasRegister => "cas-register",
            Model::Kv => "kv",
            Model::Counter => "counter",
            Model::Set => "set",
        }
    }

    /// The operation names this model understands.
    pub fn functions(self) -> &'static [Func] {
        match self {
            Model::Register => &[Func::Read, Func::Write],
            Model::CasRegister => &[Func::Read, Func::Write, Func::Cas],
            Model::Kv => &[
                Func::Read,
                Func::Write,
                Func::Cas,
                Func::Get,
                Func::Put,
                Func::Append,
            ],
            Model::Counter | Model::Set => &[Func::Add, Func::Read],
        }
    }

    /// Resolves an op name for this model, or says which names would be right.
    pub fn function(self, name: &str) -> Result<Func, String> {
        self.functions()
            .iter()
            .copied()
            .find(|f| f.name() == name)
            .ok_or_else(|| {
                let known: Vec<&str> = self.functions().iter().map(|f| f.name()).collect();
                format!(
                    "op `{name}` is not part of the {} model (it knows: {})",
                    self.name(),
                    known.join(", ")
                )
            })
    }

    /// Normalises an observed result so that equal meanings compare equal: a set read is
    /// sorted and de-duplicated; a counter read of nil is 0.
    pub fn normalise_result(self, func: Func, ret: Val) -> Val {
        match (self, func, ret) {
            (Model::Set, Func::Read, Val::List(items)) => {
                let set: BTreeSet<Val> = items.iter().cloned().collect();
                Val::List(set.into_iter().collect())
            }
            (Model::Set, Func::Read, Val::Nil) => Val::List(Arc::from([])),
            (Model::Counter, Func::Read, Val::Nil) => Val::Int(0),
            (_, _, ret) => ret,
        }
    }

    /// Applies `op` to `state`. `None` when the op, with the result it returned, cannot
    /// happen in this state. An op with an unknown result (`ret` is `None`) is always legal:
    /// whatever it did is consistent with not having been observed.
    pub fn step(self, state: &Val, func: Func, arg: &Val, ret: Option<&Val>) -> Option<Val> {
        match func {
            Func::Read => match ret {
                None => Some(state.clone()),
                Some(seen) => (*seen == self.observe(state)).then(|| state.clone()),
            },
            Func::Write | Func::Put => Some(arg.clone()),
            Func::Cas => {
                let (expected, new) = arg.as_pair()?;
                match (state == expected, ret) {
                    (true, _) => Some(new.clone()),
                    // An unknown cas may have run and failed: no change.
                    (false, None) => Some(state.clone()),
                    (false, Some(_)) => None,
                }
            }
            Func::Get => match ret {
                None => Some(state.clone()),
                Some(seen) => (seen.as_text() == state.as_text()).then(|| state.clone()),
            },
            Func::Append => Some(Val::Str(
                format!("{}{}", state.as_text(), arg.as_text()).into(),
            )),
            Func::Add => match self {
                Model::Counter => {
                    // Arguments are checked to be integers when the history is read.
                    let Val::Int(delta) = arg else { return None };
                    let now = if let Val::Int(n) = state { *n } else { 0 };
                    Some(Val::Int(now.checked_add(*delta)?))
                }
                _ => {
                    let mut set: BTreeSet<Val> = match state {
                        Val::List(items) => items.iter().cloned().collect(),
                        _ => BTreeSet::new(),
                    };
                    set.insert(arg.clone());
                    Some(Val::List(set.into_iter().collect()))
                }
            },
        }
    }

    /// What a read returns in `state`.
    fn observe(self, state: &Val) -> Val {
        match (self, state) {
            (Model::Counter, Val::Nil) => Val::Int(0),
            (Model::Set, Val::Nil) => Val::List(Arc::from([])),
            (_, s) => s.clone(),
        }
    }
}

impl fmt::Display for Model {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Workloads whose histories have no sequential model (the generals' orders): a run of one is
/// judged by agreement, validity and termination alone. Any other name a manifest gives
/// that is not a [`Model`] leaves linearizability unknown, never skipped.
pub const WORKLOADS_WITHOUT_MODEL: &[&str] = &["generals"];

impl FromStr for Model {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        ALL_MODELS
            .iter()
            .copied()
            .find(|m| m.name() == s)
            .ok_or_else(|| {
                let names: Vec<&str> = ALL_MODELS.iter().map(|m| m.name()).collect();
                format!("unknown model `{s}`; expected one of: {}", names.join(", "))
            })
    }
}

/// An operation's function, resolved once so the search never compares strings.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Func {
    Read,
    Write,
    Cas,
    Get,
    Put,
    Append,
    Add,
}

impl Func {
    /// The history name of the function.
    pub fn name(self) -> &'static str {
        match self {
            Func::Read => "read",
            Func::Write => "write",
            Func::Cas => "cas",
            Func::Get => "get",
            Func::Put => "put",
            Func::Append => "append",
            Func::Add => "add",
        }
    }

    /// Reads observe state and change nothing; with an unknown result they constrain
    /// nothing and can be left out of the search.
    pub fn is_read(self) -> bool {
        matches!(self, Func::Read | Func::Get)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(x: &str) -> Val {
        Val::Str(x.into())
    }

    #[test]
    fn cas_register_steps() {
        let m = Model::CasRegister;
        let pair = Val::List(Arc::from([Val::Int(1), Val::Int(2)]));
        assert_eq!(
            m.step(&Val::Int(1), Func::Cas, &pair, Some(&Val::Nil)),
            Some(Val::Int(2))
        );
        assert_eq!(
            m.step(&Val::Int(3), Func::Cas, &pair, Some(&Val::Nil)),
            None
        );
        assert_eq!(
            m.step(&Val::Int(3), Func::Cas, &pair, None),
            Some(Val::Int(3))
        );
        assert_eq!(
            m.step(&Val::Nil, Func::Read, &Val::Nil, Some(&Val::Nil)),
            Some(Val::Nil)
        );
        assert_eq!(
            m.step(&Val::Int(1), Func::Read, &Val::Nil, Some(&Val::Int(2))),
            None
        );
    }

    #[test]
    fn kv_strings_append_from_empty() {
        let m = Model::Kv;
        let after = m.step(&Val::Nil, Func::Append, &s("ab"), None).unwrap();
        let after = m.step(&after, Func::Append, &s("c"), None).unwrap();
        assert_eq!(after, s("abc"));
        assert!(m
            .step(&Val::Nil, Func::Get, &Val::Nil, Some(&s("")))
            .is_some());
        assert!(m
            .step(&after, Func::Get, &Val::Nil, Some(&s("ab")))
            .is_none());
    }

    #[test]
    fn counter_and_set() {
        let c = Model::Counter;
        let one = c.step(&Val::Nil, Func::Add, &Val::Int(1), None).unwrap();
        assert!(c
            .step(&one, Func::Read, &Val::Nil, Some(&Val::Int(1)))
            .is_some());
        assert!(c
            .step(&Val::Nil, Func::Read, &Val::Nil, Some(&Val::Int(0)))
            .is_some());
        let set = Model::Set;
        let st = set.step(&Val::Nil, Func::Add, &Val::Int(5), None).unwrap();
        let st = set.step(&st, Func::Add, &Val::Int(3), None).unwrap();
        let seen =
            set.normalise_result(Func::Read, Val::List(Arc::from([Val::Int(5), Val::Int(3)])));
        assert!(set.step(&st, Func::Read, &Val::Nil, Some(&seen)).is_some());
    }

    #[test]
    fn unknown_names_say_what_is_right() {
        assert!(Model::Register
            .function("cas")
            .unwrap_err()
            .contains("read, write"));
        assert!("nope"
            .parse::<Model>()
            .unwrap_err()
            .contains("cas-register"));
    }
}
