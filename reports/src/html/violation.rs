//! A linearizability violation shown where it happened: the checker's explanation beside
//! a close-up of the lanes involved, with the window's ops and the op that cannot be
//! linearized highlighted (here and on the main timeline).

use super::actions::Lanes;
use super::escape::{html, value_text};
use super::faults::FaultInterval;
use super::load::Verdict;
use super::ops::Op;
use super::svg::Axis;
use super::timeline::{lanes, Highlight};
use serde_json::Value;
use std::collections::HashSet;
use std::fmt::Write;

/// Violations shown at most; the checker explains only the first few anyway.
const SHOWN: usize = 3;
/// Width of a close-up drawing: narrower than the full plots, so its text stays legible
/// beside the explanation.
const CLOSE_UP_WIDTH: f64 = 760.0;

/// One entry of the linearizability checker's `violations` evidence.
#[derive(Clone, Debug, Default)]
pub struct Violation {
    /// The key as the checker names it: the key's JSON text (`"k1"` with its quotes).
    pub key: String,
    pub op: String,
    pub op_index: Option<u64>,
    pub explanation: String,
    pub window: Vec<String>,
    pub window_indices: Vec<u64>,
    pub prefix_ops: Option<u64>,
    pub prefix_tail: Vec<String>,
    pub prefix_state: Option<Value>,
}

fn strings(value: &Value) -> Vec<String> {
    value
        .as_array()
        .map(|a| a.iter().map(value_text).collect())
        .unwrap_or_default()
}

/// The violations in the linearizability check's evidence, if it found any.
pub fn violations(verdict: Option<&Verdict>) -> Vec<Violation> {
    let Some(verdict) = verdict else {
        return Vec::new();
    };
    verdict
        .checks
        .iter()
        .filter(|c| c.checker == "linearizability")
        .flat_map(|c| {
            c.evidence["violations"]
                .as_array()
                .cloned()
                .unwrap_or_default()
        })
        .map(|v| Violation {
            key: v["key"]
                .as_str()
                .map(str::to_string)
                .unwrap_or_else(|| value_text(&v["key"])),
            op: v["op"].as_str().unwrap_or_default().to_string(),
            op_index: v["op_index"].as_u64(),
            explanation: v["explanation"].as_str().unwrap_or_default().to_string(),
            window: strings(&v["window"]),
            window_indices: v["window_indices"]
                .as_array()
                .map(|a| a.iter().filter_map(Value::as_u64).collect())
                .unwrap_or_default(),
            prefix_ops: v["longest_linearizable_prefix"]["ops"].as_u64(),
            prefix_tail: strings(&v["longest_linearizable_prefix"]["tail"]),
            prefix_state: v["longest_linearizable_prefix"].get("state").cloned(),
        })
        .collect()
}

impl Violation {
    /// The key for a person: a string key without its JSON quotes.
    fn key_label(&self) -> String {
        serde_json::from_str::<Value>(&self.key)
            .map(|k| value_text(&k))
            .unwrap_or_else(|_| self.key.clone())
    }

    /// Whether a history key is the violation's key (named as JSON text, or as plain text
    /// by checkers that write it so).
    fn is_key(&self, key: Option<&Value>) -> bool {
        let named = serde_json::from_str::<Value>(&self.key).ok();
        key.is_some_and(|k| named.as_ref() == Some(k) || value_text(k) == self.key)
    }

    fn highlight(&self) -> Highlight {
        Highlight {
            window: self.window_indices.iter().copied().collect(),
            blocked: self.op_index.into_iter().collect(),
            dim_except: None,
        }
    }
}

/// What the main timeline emphasises: every shown violation's window and blocked op.
pub fn highlight(violations: &[Violation]) -> Highlight {
    let mut all = Highlight::default();
    for v in violations.iter().take(SHOWN) {
        let one = v.highlight();
        all.window.extend(one.window);
        all.blocked.extend(one.blocked);
    }
    all
}

/// The violations section; empty when there is none.
pub fn section(
    violations: &[Violation],
    ops: &[Op],
    faults: &[FaultInterval],
    adversary: &Lanes,
) -> String {
    if violations.is_empty() {
        return String::new();
    }
    let mut out = String::from("<section id=\"violations\"><h2>Linearizability violation</h2>");
    for (n, v) in violations.iter().take(SHOWN).enumerate() {
        let _ = write!(
            out,
            "<div class=\"violation\" id=\"violation-{n}\"><div class=\"explanation\"><h3>Key {}: {}</h3><p>{}</p>",
            html(&v.key_label()),
            html(&v.op),
            html(&v.explanation)
        );
        list(&mut out, "Ops concurrent with it (the window)", &v.window);
        let prefix = match v.prefix_ops {
            Some(n) => format!("End of the longest linearizable prefix ({n} ops)"),
            None => "End of the longest linearizable prefix".into(),
        };
        list(&mut out, &prefix, &v.prefix_tail);
        if let Some(state) = &v.prefix_state {
            let _ = write!(
                out,
                "<p>State after it: <code>{}</code></p>",
                html(&value_text(state))
            );
        }
        out.push_str("</div>");
        out.push_str(&close_up(n, v, ops, faults, adversary));
        out.push_str("</div>");
    }
    if violations.len() > SHOWN {
        let _ = write!(
            out,
            "<p>{} more violation(s) in <code>verdict.json</code>.</p>",
            violations.len() - SHOWN
        );
    }
    out.push_str("</section>");
    out
}

fn list(out: &mut String, title: &str, items: &[String]) {
    if items.is_empty() {
        return;
    }
    let _ = write!(out, "<h4>{}</h4><ol class=\"ops\">", html(title));
    for item in items {
        let _ = write!(out, "<li><code>{}</code></li>", html(item));
    }
    out.push_str("</ol>");
}

/// Ops of the violation's key that completed before the blocked op was invoked, shown at
/// most in a close-up: the end of the history the blocked op contradicts.
const CONTEXT: usize = 4;

/// The lanes of the window's processes around the window's time span, with the last ops
/// of the same key before it; others dimmed.
fn close_up(
    n: usize,
    v: &Violation,
    ops: &[Op],
    faults: &[FaultInterval],
    adversary: &Lanes,
) -> String {
    let mut marked = v.highlight();
    let mut involved: Vec<&Op> = ops
        .iter()
        .filter(|op| marked.window.contains(&op.index) || marked.blocked.contains(&op.index))
        .collect();
    let Some(blocked_start) = involved
        .iter()
        .find(|op| marked.blocked.contains(&op.index))
        .or(involved.first())
        .map(|op| op.start)
    else {
        return "<p class=\"hint\">The window's ops are not in this history's timeline.</p>".into();
    };
    let same_key = |op: &&Op| v.is_key(op.invoke.key.as_ref());
    let mut before: Vec<&Op> = ops
        .iter()
        .filter(same_key)
        .filter(|op| op.end.is_some_and(|e| e < blocked_start))
        .collect();
    before.sort_by_key(|op| op.end);
    involved.extend(before.iter().rev().take(CONTEXT));
    marked.dim_except = Some(involved.iter().map(|op| op.index).collect());
    let start = involved
        .iter()
        .map(|op| op.start)
        .min()
        .unwrap_or(blocked_start);
    let end = involved
        .iter()
        .map(|op| op.end.unwrap_or(op.start))
        .max()
        .unwrap_or(start);
    let margin = (end - start) / 10 + 1_000_000;
    let axis = Axis::range(start.saturating_sub(margin), end + margin, CLOSE_UP_WIDTH);
    let processes: HashSet<u64> = involved.iter().map(|op| op.process()).collect();
    let shown: Vec<(usize, &Op)> = ops
        .iter()
        .enumerate()
        .filter(|(_, op)| {
            processes.contains(&op.process())
                && op.start <= axis.end
                && op.end.is_none_or(|e| e >= axis.start)
        })
        .collect();
    format!(
        "<div class=\"close-up\"><h4>Close-up: the window and the last ops of key {} before it ({} ops)</h4>{}</div>",
        html(&v.key_label()),
        shown.len(),
        lanes(
            &format!("violation-{n}-svg"),
            &shown,
            &axis,
            faults,
            adversary,
            &marked
        )
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn keys_named_as_json_text_match_the_history_and_read_plainly() {
        let v = Violation {
            key: "\"k1\"".into(),
            ..Default::default()
        };
        assert!(v.is_key(Some(&json!("k1"))));
        assert!(!v.is_key(Some(&json!("k2"))) && !v.is_key(None));
        assert_eq!(v.key_label(), "k1");
        let plain = Violation {
            key: "k1".into(),
            ..Default::default()
        };
        assert!(plain.is_key(Some(&json!("k1"))));
        assert_eq!(plain.key_label(), "k1");
    }
}
