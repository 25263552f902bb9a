//! A traitor adversary plugin in Rust: the selfish node of the BAR model, which saves work
//! by never sending `commit` messages (or the types named in `SKIP_TYPES`, comma
//! separated) while doing everything else correctly.
//!
//! It speaks the plugin protocol of docs/writing-an-adversary.md: one JSON object per line
//! on stdin, one answer per line on stdout. Run it with
//! `--adversary plugin:target/release/selfish-committer` after
//! `cargo build --release -p traitor-plugin-example`.

use serde_json::{json, Value};
use std::collections::BTreeSet;
use std::io::{BufRead, Write};

/// What the plugin knows after the hello.
struct Selfish {
    byzantine: BTreeSet<u64>,
    skipped: BTreeSet<String>,
}

impl Selfish {
    fn new(hello: &Value) -> Self {
        let byzantine = hello["byzantine"]
            .as_array()
            .map(|nodes| nodes.iter().filter_map(Value::as_u64).collect())
            .unwrap_or_default();
        let skipped = std::env::var("SKIP_TYPES")
            .unwrap_or_else(|_| "commit".into())
            .split(',')
            .map(str::to_string)
            .collect();
        Self { byzantine, skipped }
    }

    /// Drops the Byzantine nodes' messages of a skipped type; lets everything else through.
    fn on_message(&self, request: &Value) -> Value {
        let from = request["from"].as_u64().unwrap_or(u64::MAX);
        let kind = request["payload"]
            .as_str()
            .and_then(|p| serde_json::from_str::<Value>(p).ok())
            .and_then(|m| m["type"].as_str().map(str::to_string));
        match kind {
            Some(kind) if self.byzantine.contains(&from) && self.skipped.contains(&kind) => {
                json!({"actions": [{"action": "drop"}], "note": {"selfish": format!("saved sending a {kind}")}})
            }
            _ => json!({"actions": []}),
        }
    }
}

fn main() {
    let stdin = std::io::stdin();
    let mut stdout = std::io::stdout().lock();
    let mut node: Option<Selfish> = None;
    for line in stdin.lock().lines() {
        let Ok(line) = line else { return };
        let Ok(request) = serde_json::from_str::<Value>(&line) else {
            eprintln!("selfish-committer: the harness sent a line that is not JSON: {line}");
            return;
        };
        let answer = match (request["type"].as_str(), &node) {
            (Some("hello"), _) => {
                node = Some(Selfish::new(&request));
                json!({"ok": true})
            }
            (Some("message"), Some(selfish)) => selfish.on_message(&request),
            _ => json!({"actions": []}),
        };
        if writeln!(stdout, "{answer}")
            .and_then(|()| stdout.flush())
            .is_err()
        {
            return; // the harness is gone
        }
    }
}
