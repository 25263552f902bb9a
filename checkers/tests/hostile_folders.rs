//! Run folders with hostile contents (issue 20): whatever the manifest says and whatever the
//! JSON-lines files hold, loading and checking a folder answers or refuses with the file
//! named, never panics, and never allocates by an unchecked size.

use proptest::prelude::*;
use serde_json::{json, Value};
use traitor_checkers::run_folder::RunFolder;
use traitor_checkers::Budget;

/// JSON numbers of every size that matters: small, at the limits and far beyond.
fn number() -> impl Strategy<Value = Value> {
    prop_oneof![
        (0u64..8).prop_map(Value::from),
        Just(json!(1000)),
        Just(json!(1001)),
        Just(json!(u32::MAX)),
        Just(json!(u64::MAX)),
        Just(json!(-1)),
        Just(json!(1.5)),
        Just(json!("4")),
    ]
}

/// A history line: a sane event, a hostile one, or noise.
fn line() -> impl Strategy<Value = String> {
    let event = (0u64..4, prop::sample::select(vec!["invoke", "ok", "fail", "info"]), 0i64..3)
        .prop_map(|(p, t, v)| {
            json!({"process": p, "type": t, "f": "write", "key": "k1", "value": v, "node": 0, "time": p * 10})
                .to_string()
        });
    prop_oneof![
        4 => event,
        1 => (0usize..300).prop_map(|d| format!("{{\"process\":0,\"type\":\"ok\",\"f\":\"read\",\"value\":{}1{}}}", "[".repeat(d), "]".repeat(d))),
        1 => Just("{\"process\":18446744073709551615,\"type\":\"invoke\",\"f\":\"read\",\"node\":4294967295}".to_string()),
        1 => "[ -~]{0,40}",
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn any_manifest_and_history_is_checked_or_refused(
        n in number(),
        f in number(),
        byzantine in prop::collection::vec(number(), 0..4),
        model in prop::sample::select(vec!["kv", "KV", "register", "generals", "", "queue"]),
        lines in prop::collection::vec(line(), 0..20),
    ) {
        let dir = tempfile::tempdir().unwrap();
        let manifest = json!({"n": n, "f": f, "byzantine": byzantine, "model": model, "healed_at": 5});
        std::fs::write(dir.path().join("manifest.json"), manifest.to_string()).unwrap();
        std::fs::write(dir.path().join("history.jsonl"), lines.join("\n") + "\n").unwrap();
        std::fs::write(dir.path().join("commits.jsonl"), "{\"node\":0,\"committed\":0,\"final\":true}\n").unwrap();
        match RunFolder::load(dir.path()) {
            Ok(run) => {
                let manifest = run.manifest.as_ref().unwrap();
                prop_assert!((1..=1000).contains(&manifest.n) && manifest.f < manifest.n);
                let results = run.check(None, &Budget::default());
                // An unknown model is never a silent pass of linearizability.
                if model != "generals" {
                    prop_assert!(results.iter().any(|r| r.checker == "linearizability"));
                }
            }
            Err(e) => {
                let e = e.to_string();
                prop_assert!(e.contains("manifest.json") || e.contains("history.jsonl"), "{}", e);
            }
        }
    }
}
