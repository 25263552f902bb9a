//! Three answers, never two: holds, violated (with evidence), unknown (with why).

use serde::{Deserialize, Serialize, Serializer};
use serde_json::Value;

/// Findings kept at most in a result's evidence, to keep it readable.
pub const SHOWN_FINDINGS: usize = 10;

/// A checker's answer. Serialised as `true`, `false` or `"unknown"`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize)]
#[serde(from = "Value")]
pub enum Validity {
    Holds,
    Unknown,
    Violated,
}

impl Validity {
    /// Combines answers: a violation anywhere is a violation; otherwise any unknown is unknown.
    pub fn merge(self, other: Self) -> Self {
        self.max(other)
    }

    /// The word used in tables.
    pub fn word(self) -> &'static str {
        match self {
            Validity::Holds => "holds",
            Validity::Unknown => "unknown",
            Validity::Violated => "VIOLATED",
        }
    }
}

impl Serialize for Validity {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Validity::Holds => s.serialize_bool(true),
            Validity::Violated => s.serialize_bool(false),
            Validity::Unknown => s.serialize_str("unknown"),
        }
    }
}

impl From<Value> for Validity {
    fn from(v: Value) -> Self {
        match v {
            Value::Bool(true) => Validity::Holds,
            Value::Bool(false) => Validity::Violated,
            _ => Validity::Unknown,
        }
    }
}

/// One checker's result with the evidence behind it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CheckResult {
    pub checker: String,
    pub valid: Validity,
    /// One or two sentences a person can follow.
    pub summary: String,
    /// Machine-readable detail: offending entries, ops, nodes.
    #[serde(default, skip_serializing_if = "Value::is_null")]
    pub evidence: Value,
}

impl CheckResult {
    pub fn holds(checker: &str, summary: impl Into<String>) -> Self {
        Self {
            checker: checker.into(),
            valid: Validity::Holds,
            summary: summary.into(),
            evidence: Value::Null,
        }
    }

    pub fn violated(checker: &str, summary: impl Into<String>, evidence: Value) -> Self {
        Self {
            checker: checker.into(),
            valid: Validity::Violated,
            summary: summary.into(),
            evidence,
        }
    }

    /// A violation from findings that each carry a `text`: the first one's text (and the
    /// count) is the summary; the evidence keeps the first few and the total.
    pub fn from_findings(checker: &str, mut findings: Vec<Value>) -> Self {
        let total = findings.len();
        let first = findings
            .first()
            .and_then(|f| f["text"].as_str())
            .unwrap_or_default();
        let summary = format!("{first} ({total} problem(s) in all)");
        findings.truncate(SHOWN_FINDINGS);
        Self::violated(
            checker,
            summary,
            serde_json::json!({"violations": findings, "total": total}),
        )
    }

    pub fn unknown(checker: &str, why: impl Into<String>) -> Self {
        Self {
            checker: checker.into(),
            valid: Validity::Unknown,
            summary: why.into(),
            evidence: Value::Null,
        }
    }
}

/// The message of a caught panic, for results and errors that report one.
pub fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| payload.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merges_and_serialises() {
        assert_eq!(Validity::Holds.merge(Validity::Unknown), Validity::Unknown);
        assert_eq!(
            Validity::Unknown.merge(Validity::Violated),
            Validity::Violated
        );
        assert_eq!(serde_json::to_string(&Validity::Violated).unwrap(), "false");
        assert_eq!(
            serde_json::to_string(&Validity::Unknown).unwrap(),
            "\"unknown\""
        );
        let back: Validity = serde_json::from_str("true").unwrap();
        assert_eq!(back, Validity::Holds);
    }
}
