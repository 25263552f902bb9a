//! Agreement, validity and termination over run folders written by the test.

use serde_json::{json, Value};
use std::path::Path;
use traitor_checkers::run_folder::RunFolder;
use traitor_checkers::{agreement, termination, validity, Budget, CheckResult, Validity};

/// A run folder on disk: manifest, history and commits as JSON lines.
struct Run {
    dir: tempfile::TempDir,
}

impl Run {
    fn new(manifest: Value, history: &[Value], commits: &[Value]) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let lines = |items: &[Value]| {
            items
                .iter()
                .map(|v| v.to_string() + "\n")
                .collect::<String>()
        };
        std::fs::write(dir.path().join("manifest.json"), manifest.to_string()).unwrap();
        std::fs::write(dir.path().join("history.jsonl"), lines(history)).unwrap();
        std::fs::write(dir.path().join("commits.jsonl"), lines(commits)).unwrap();
        Self { dir }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    fn load(&self) -> RunFolder {
        RunFolder::load(self.path()).unwrap()
    }
}

fn manifest(byzantine: &[u32]) -> Value {
    json!({"run_id": "t", "target": "pbft", "model": "kv", "n": 4, "f": 1, "byzantine": byzantine,
           "healed_at": 1000, "termination_bound_ns": 5000})
}

/// A write of `value` to k1 by client `c` (process p) sent to `node` at `time`, completed ok.
fn write(p: u64, req: u64, node: u32, value: i64, time: u64) -> [Value; 2] {
    let op = json!({"process": p, "type": "invoke", "f": "write", "key": "k1", "value": value,
                    "node": node, "time": time, "client": format!("c{p}"), "req": req});
    let mut done = op.clone();
    done["type"] = json!("ok");
    done["time"] = json!(time + 10);
    [op, done]
}

fn entry(seq: u64, p: u64, req: u64, value: i64) -> Value {
    json!({"seq": seq, "view": 0, "digest": format!("d{p}-{req}-{value}"), "client": format!("c{p}"), "req": req,
           "op": {"f": "write", "key": "k1", "value": value}})
}

fn read(node: u32, committed: u64, entries: Vec<Value>) -> Value {
    json!({"node": node, "time": 2000, "final": true, "from": 1, "committed": committed, "entries": entries})
}

fn healthy_history() -> Vec<Value> {
    [write(0, 1, 0, 5, 100), write(1, 1, 1, 6, 1200)].concat()
}

fn healthy_commits() -> Vec<Value> {
    (0..4)
        .map(|n| read(n, 2, vec![entry(1, 0, 1, 5), entry(2, 1, 1, 6)]))
        .collect()
}

fn verdicts(run: &Run) -> Vec<CheckResult> {
    run.load().check(None, &Budget::default())
}

#[test]
fn a_healthy_run_holds_on_every_property() {
    let run = Run::new(manifest(&[]), &healthy_history(), &healthy_commits());
    for r in verdicts(&run) {
        assert_eq!(r.valid, Validity::Holds, "{r:?}");
    }
}

#[test]
fn disagreement_between_correct_nodes_is_a_violation() {
    let mut commits = healthy_commits();
    commits[2] = read(2, 2, vec![entry(1, 0, 1, 5), entry(2, 1, 1, 7)]);
    let r = agreement::check(&Run::new(manifest(&[]), &healthy_history(), &commits).load());
    assert_eq!(r.valid, Validity::Violated);
    assert!(
        r.summary.contains("different entries at seq 2"),
        "{}",
        r.summary
    );
    // The same divergence on a Byzantine node is not a violation of correct nodes.
    let r = agreement::check(&Run::new(manifest(&[2]), &healthy_history(), &commits).load());
    assert_eq!(r.valid, Validity::Holds, "{r:?}");
}

#[test]
fn a_node_changing_or_losing_what_it_showed_is_a_violation() {
    let mut commits = healthy_commits();
    commits.push(
        json!({"node": 0, "time": 3000, "final": true, "from": 1, "committed": 2,
                        "entries": [entry(1, 0, 1, 5)]}),
    );
    let r = agreement::check(&Run::new(manifest(&[]), &healthy_history(), &commits).load());
    assert_eq!(r.valid, Validity::Violated);
    assert!(r.summary.contains("no longer shows"), "{}", r.summary);
    // After a restart (a new incarnation) an empty log is not a loss.
    commits.pop();
    commits.push(json!({"node": 0, "time": 3000, "incarnation": 1, "final": true, "from": 1, "committed": 0, "entries": []}));
    let r = agreement::check(&Run::new(manifest(&[]), &healthy_history(), &commits).load());
    assert_eq!(r.valid, Validity::Holds, "{r:?}");
}

#[test]
fn an_incremental_read_with_nothing_new_is_fine() {
    let mut commits = healthy_commits();
    commits.push(
        json!({"node": 1, "time": 2500, "final": false, "from": 3, "committed": 2, "entries": []}),
    );
    let r = agreement::check(&Run::new(manifest(&[]), &healthy_history(), &commits).load());
    assert_eq!(r.valid, Validity::Holds, "{r:?}");
}

#[test]
fn validity_traces_entries_and_counts_executions() {
    let mut commits = healthy_commits();
    commits[1] = read(
        1,
        3,
        vec![entry(1, 0, 1, 5), entry(2, 1, 1, 6), entry(3, 1, 1, 6)],
    );
    let r = validity::check(&Run::new(manifest(&[]), &healthy_history(), &commits).load());
    assert_eq!(r.valid, Validity::Violated);
    assert!(r.summary.contains("twice"), "{}", r.summary);

    let mut commits = healthy_commits();
    commits[3] = read(3, 2, vec![entry(1, 0, 1, 5), entry(2, 9, 9, 6)]);
    let r = validity::check(&Run::new(manifest(&[]), &healthy_history(), &commits).load());
    assert_eq!(r.valid, Validity::Violated);
    assert!(
        r.summary.contains("which no client invoked"),
        "{}",
        r.summary
    );

    // The op sent to node 1 altered: a violation if node 1 is correct, excused if Byzantine.
    let mut commits = healthy_commits();
    for c in commits.iter_mut() {
        c["entries"][1]["op"]["value"] = json!(66);
    }
    let r = validity::check(&Run::new(manifest(&[]), &healthy_history(), &commits).load());
    assert_eq!(r.valid, Validity::Violated);
    assert!(
        r.summary.contains("the client asked for write 6"),
        "{}",
        r.summary
    );
    let r = validity::check(&Run::new(manifest(&[1]), &healthy_history(), &commits).load());
    assert_eq!(r.valid, Validity::Holds, "{r:?}");
    assert!(r.evidence["attributed_to_byzantine_nodes"]
        .as_array()
        .is_some_and(|a| !a.is_empty()));
}

#[test]
fn termination_after_the_heal() {
    // An op sent to a correct node after the heal (1000) and the recovery bound (5000)
    // that ends unknown.
    let mut history = healthy_history();
    history.push(
        json!({"process": 2, "type": "invoke", "f": "write", "key": "k1", "value": 8, "node": 2,
                        "time": 6500, "client": "c2", "req": 1}),
    );
    history.push(json!({"process": 2, "type": "info", "f": "write", "key": "k1", "value": 8, "node": 2, "time": 9000}));
    let r = termination::check(&Run::new(manifest(&[]), &history, &healthy_commits()).load());
    assert_eq!(r.valid, Validity::Violated);
    assert!(
        r.summary.contains("no answer from correct node 2"),
        "{}",
        r.summary
    );
    // The same op before the heal, or while nodes still recover from it, may be lost.
    for time in [500, 3000] {
        history[4]["time"] = json!(time);
        let r = termination::check(&Run::new(manifest(&[]), &history, &healthy_commits()).load());
        assert_eq!(r.valid, Validity::Holds, "invoked at {time}: {r:?}");
    }
    // Heights that differ.
    let mut commits = healthy_commits();
    commits[3] = read(3, 1, vec![entry(1, 0, 1, 5)]);
    let r = termination::check(&Run::new(manifest(&[]), &history, &commits).load());
    assert_eq!(r.valid, Validity::Violated);
    assert!(
        r.summary.contains("different committed heights"),
        "{}",
        r.summary
    );
    // Without a heal time, no verdict.
    let mut m = manifest(&[]);
    m["healed_at"] = Value::Null;
    let r = termination::check(&Run::new(m, &history, &healthy_commits()).load());
    assert_eq!(r.valid, Validity::Unknown);
}

#[test]
fn a_half_written_folder_is_still_checkable() {
    let run = Run::new(manifest(&[]), &healthy_history(), &healthy_commits());
    let cut = |name: &str, tail: &str| {
        let path = run.path().join(name);
        let mut text = std::fs::read_to_string(&path).unwrap();
        text.push_str(tail);
        std::fs::write(path, text).unwrap();
    };
    cut("history.jsonl", "{\"process\":3,\"type\":\"inv");
    cut("commits.jsonl", "{\"node\":0,\"comm");
    let folder = run.load();
    assert_eq!(folder.warnings.len(), 2, "{:?}", folder.warnings);
    assert!(
        folder.warnings[0].starts_with("history.jsonl: line 5: truncated"),
        "{:?}",
        folder.warnings
    );
    for r in folder.check(None, &Budget::default()) {
        assert_eq!(r.valid, Validity::Holds, "{r:?}");
    }
}

#[test]
fn the_manifest_model_drives_linearizability() {
    let mut history = healthy_history();
    history.push(json!({"process": 3, "type": "invoke", "f": "read", "key": "k1", "node": 0, "time": 1300, "client": "c3", "req": 1}));
    history.push(json!({"process": 3, "type": "ok", "f": "read", "key": "k1", "value": 5, "node": 0, "time": 1400}));
    let results = Run::new(manifest(&[]), &history, &healthy_commits())
        .load()
        .check(None, &Budget::default());
    let lin = results
        .iter()
        .find(|r| r.checker == "linearizability")
        .unwrap();
    assert_eq!(lin.valid, Validity::Violated, "{lin:?}");
}

#[test]
fn a_model_traitor_does_not_know_leaves_linearizability_unknown_never_skipped() {
    let mut history = healthy_history();
    history.push(json!({"process": 3, "type": "invoke", "f": "read", "key": "k1", "node": 0, "time": 1300, "client": "c3", "req": 1}));
    history.push(json!({"process": 3, "type": "ok", "f": "read", "key": "k1", "value": 42, "node": 0, "time": 1400}));
    let linearizability = |model: &str| {
        let mut m = manifest(&[]);
        m["model"] = json!(model);
        Run::new(m, &history, &healthy_commits())
            .load()
            .check(None, &Budget::default())
            .into_iter()
            .find(|r| r.checker == "linearizability")
    };
    let lin = linearizability("KV").expect("an unknown model is not skipped");
    assert_eq!(lin.valid, Validity::Unknown, "{lin:?}");
    assert!(lin.summary.contains("unknown model `KV`"), "{lin:?}");
    // The generals' orders have no sequential model: judged by the other checkers alone.
    assert!(linearizability("generals").is_none());
}

#[test]
fn a_manifest_with_impossible_sizes_is_refused_with_the_field() {
    for (field, value, needle) in [
        ("n", json!(1_000_000_000u32), "n = 1000000000"),
        ("n", json!(0), "n = 0"),
        ("f", json!(4), "f = 4"),
        ("byzantine", json!([9]), "node 9"),
    ] {
        let mut m = manifest(&[]);
        m[field] = value;
        let run = Run::new(m, &healthy_history(), &healthy_commits());
        let err = RunFolder::load(run.path()).unwrap_err().to_string();
        assert!(
            err.contains("manifest.json") && err.contains(needle),
            "{err}"
        );
    }
}
