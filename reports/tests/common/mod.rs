//! Generated run folders for the report tests: a linearizable kv history from the
//! checkers' synthesiser, a stale read planted on its own key (so the real checker finds a
//! real violation), faults, a proxy trace, samples, and node logs carrying attack strings.

#![allow(dead_code)] // each test binary uses part of this module

pub mod campaign;

use serde_json::{json, Value};
use std::fmt::Write as _;
use std::path::Path;
use traitor_checkers::run_folder::RunFolder;
use traitor_checkers::synth::{generate, SynthConfig};
use traitor_checkers::{Budget, Model};
use traitor_model::{Event, EventKind};

pub const SCRIPT_ATTACK: &str = "<script>alert(1)</script>";
pub const ATTR_ATTACK: &str = "\"><img src=x onerror=alert(1)>";
/// Attacks that would leave a trace in the DOM if they ran: an element with id `pwned`
/// (the id is assembled at run time so the literal never appears in the text).
pub const MARKER_SCRIPT: &str =
    "<script>document.body.appendChild(document.createElement('p')).id='pw'+'ned'</script>";
pub const MARKER_ATTR: &str =
    "\"><img src=x onerror=\"document.body.appendChild(document.createElement('p')).id='pw'+'ned'\">";

/// Nanoseconds of run time per synthesised op step (the synthesiser counts 1 µs steps).
const STRETCH: u64 = 2_000;

/// What to put in a generated folder.
pub struct Spec {
    pub ops: usize,
    pub violation: bool,
    pub logs: bool,
    pub trace: bool,
    /// Adversary actions of the Byzantine node 3 in `faults.jsonl`, beside the nemesis's
    /// partition and crash (as a run under `corrupt` records thousands).
    pub adversary_actions: usize,
}

impl Spec {
    pub fn full(ops: usize) -> Self {
        Self {
            ops,
            violation: true,
            logs: true,
            trace: true,
            adversary_actions: 0,
        }
    }
}

/// The nemesis faults of every generated run: a partition and a crash, each healed.
pub const NEMESIS_FAULTS: usize = 2;

/// `count` actions of node 3 spread over the middle of `0..end`, mostly corruptions, with
/// attack strings in their details, and one twins split.
fn adversary_actions(count: usize, end: u64) -> Vec<Value> {
    let mut out: Vec<Value> = (0..count)
        .map(|i| {
            let time = end / 20 + (end as f64 * 0.9 * i as f64 / count as f64) as u64;
            let to = i % 3;
            let (action, detail) = match i % 10 {
                0 => ("inject", json!({"payload": SCRIPT_ATTACK})),
                1 => ("equivocate", json!({"digest": ATTR_ATTACK})),
                _ => ("corrupt", json!({"field": "digest", "was": MARKER_ATTR})),
            };
            json!({"time": time, "kind": action, "nodes": [3, to],
                "detail": {"adversary": "corrupt", "action": action, "from": 3, "to": to,
                    "type": "prepare", "detail": detail}})
        })
        .collect();
    if count > 0 {
        out.push(
            json!({"time": end / 10, "kind": "equivocate-twins", "nodes": [3],
            "detail": {"split": {"twin0": [0], "twin1": [1, 2]}}}),
        );
    }
    out
}

fn op(process: u64, kind: EventKind, f: &str, key: &str, value: Value, time: u64) -> Event {
    let mut e = Event::new(process, kind, f, value);
    e.key = Some(json!(key));
    e.time = Some(time);
    e.node = Some((process % 4) as u32);
    e.client = Some(format!("c{process}"));
    e
}

/// The history: synthesised ops stretched to a run of a few seconds, plus (with
/// `violation`) on key `kx`: write A, then write B, then a read returning A while a write
/// of C and a read of B run concurrently with it.
fn history(spec: &Spec) -> Vec<Event> {
    let mut events = generate(&SynthConfig {
        model: Model::Kv,
        ops: spec.ops.saturating_sub(3),
        keys: 4,
        processes: 8,
        info_rate: 0.01,
        fail_rate: 0.02,
        seed: 11,
    });
    for e in &mut events {
        e.time = e.time.map(|t| t * STRETCH + 1_000_000);
        e.node = Some((e.process % 4) as u32);
    }
    if let Some(last) = events.iter().filter_map(|e| e.time).max() {
        if spec.violation {
            let mid = last / 2;
            let ms = 1_000_000;
            let (a, b) = (json!(SCRIPT_ATTACK), json!(ATTR_ATTACK));
            events.extend([
                op(900, EventKind::Invoke, "write", "kx", a.clone(), mid),
                op(900, EventKind::Ok, "write", "kx", a.clone(), mid + 2 * ms),
                op(
                    901,
                    EventKind::Invoke,
                    "write",
                    "kx",
                    b.clone(),
                    mid + 3 * ms,
                ),
                op(901, EventKind::Ok, "write", "kx", b.clone(), mid + 5 * ms),
                op(
                    903,
                    EventKind::Invoke,
                    "write",
                    "kx",
                    json!("c"),
                    mid + 4 * ms,
                ),
                op(
                    902,
                    EventKind::Invoke,
                    "read",
                    "kx",
                    Value::Null,
                    mid + 6 * ms,
                ),
                op(
                    904,
                    EventKind::Invoke,
                    "read",
                    "kx",
                    Value::Null,
                    mid + 7 * ms,
                ),
                op(904, EventKind::Ok, "read", "kx", b, mid + 8 * ms),
                op(902, EventKind::Ok, "read", "kx", a, mid + 9 * ms),
                op(903, EventKind::Ok, "write", "kx", json!("c"), mid + 10 * ms),
            ]);
        }
    }
    let mut fail = op(905, EventKind::Invoke, "write", "k0", json!(5), 2_000_000);
    fail.req = Some(1);
    let mut failed = fail.clone();
    failed.kind = EventKind::Fail;
    failed.time = Some(3_000_000);
    failed.error = Some(json!(format!("rejected: {MARKER_SCRIPT}")));
    events.extend([fail, failed]);
    events.sort_by_key(|e| e.time);
    for (i, e) in events.iter_mut().enumerate() {
        e.index = Some(i as u64);
    }
    events
}

fn lines<T: serde::Serialize>(items: impl IntoIterator<Item = T>) -> String {
    items
        .into_iter()
        .map(|i| serde_json::to_string(&i).unwrap() + "\n")
        .collect()
}

/// Writes a run folder to `dir` and checks it with the real checkers (`verdict.json`).
pub fn write_run(dir: &Path, spec: &Spec) {
    let events = history(spec);
    let end = events.iter().filter_map(|e| e.time).max().unwrap_or(1);
    let at = |fraction: f64| (end as f64 * fraction) as u64;
    std::fs::write(
        dir.join("manifest.json"),
        serde_json::to_string_pretty(&json!({
            "run_id": format!("synthetic-{}", spec.ops),
            "campaign": "tests",
            "seed": 11,
            "target": "pbft",
            "variant": "commit-with-f-plus-1",
            "model": "kv",
            "n": 4, "f": 1,
            "byzantine": [3],
            "adversaries": [{"name": "equivocate", "nodes": [3]}],
            "nemesis": [{"fault": "partition", "interval_ms": 3000}, {"fault": "crash-primary"}],
            "versions": {"traitor": "0.1.0"},
            "started_at": "2026-11-21T10:00:00Z",
            "ended_at": "2026-11-21T10:00:30Z",
            "healed_at": at(0.8),
            "termination_bound_ns": 3_000_000_000u64,
        }))
        .unwrap(),
    )
    .unwrap();
    std::fs::write(dir.join("history.jsonl"), lines(&events)).unwrap();
    let mut faults = vec![
        json!({"time": at(0.2), "kind": "partition-halves", "nodes": [0, 1], "detail": {"halves": [[0, 1], [2, 3]]}}),
        json!({"time": at(0.35), "kind": "heal", "nodes": [0, 1], "detail": {}}),
        json!({"time": at(0.6), "kind": "crash-primary", "nodes": [0], "detail": {"signal": "KILL"}}),
        json!({"time": at(0.7), "kind": "heal", "nodes": [0], "detail": {"healed": "restarted"}}),
        json!({"time": at(0.8), "kind": "heal-all", "nodes": [], "detail": {}}),
    ];
    faults.extend(adversary_actions(spec.adversary_actions, end));
    faults.sort_by_key(|f| f["time"].as_u64());
    std::fs::write(dir.join("faults.jsonl"), lines(faults)).unwrap();
    let mut metrics = Vec::new();
    for s in 0..40u64 {
        let time = at(s as f64 / 40.0);
        for node in 0..4u64 {
            let down = node == 0 && (at(0.6)..at(0.7)).contains(&time);
            metrics.push(json!({"kind": "node", "time": time, "sample": {
                "node": node, "running": !down,
                "cpu_ns": if down { 0 } else { s * 20_000_000 * (node + 1) },
                "memory_bytes": if down { 0 } else { 1_300_000 + node * 40_000 + s * (if node == 3 { 30_000 } else { 2_000 }) },
                "rx_bytes": s * 1000, "tx_bytes": s * 900}}));
        }
    }
    metrics
        .push(json!({"kind": "sample-error", "time": at(0.5), "error": "docker stats timed out"}));
    for (from, to) in [(0, 1), (1, 0), (2, 3), (3, 2), (0, 2)] {
        metrics.push(json!({"kind": "link", "time": end, "link": {"from": from, "to": to,
            "messages": 1200, "bytes": 300_000, "dropped": 40, "duplicated": 2, "delayed": 5, "held": 9}}));
    }
    std::fs::write(dir.join("metrics.jsonl"), lines(&metrics)).unwrap();
    if spec.trace {
        let mut trace = String::new();
        for i in 0..4000u64 {
            let time = at(i as f64 / 4000.0);
            let (from, to) = (i % 4, (i / 4 + 1 + i) % 4);
            if from == to {
                continue;
            }
            let cut = (at(0.2)..at(0.35)).contains(&time) && (from < 2) != (to < 2);
            let action = if cut {
                "hold"
            } else if i % 97 == 0 {
                "duplicate"
            } else {
                "deliver"
            };
            let _ = writeln!(
                trace,
                "{{\"time\":{time},\"from\":{from},\"to\":{to},\"size\":240,\"kind\":\"prepare\",\"action\":\"{action}\"}}"
            );
        }
        let _ = writeln!(
            trace,
            "{{\"truncated\":true,\"time\":{end},\"limit\":4000}}"
        );
        std::fs::write(dir.join("trace.jsonl"), trace).unwrap();
    }
    if spec.logs {
        std::fs::create_dir_all(dir.join("logs")).unwrap();
        for node in 0..4 {
            let mut log = String::new();
            let count = if node == 3 { 2500 } else { 30 };
            for i in 0..count {
                let _ = writeln!(
                    log,
                    "2026-11-21T10:00:{:02}Z INFO pbft_node: line {i} of node {node}",
                    i % 60
                );
            }
            let _ = writeln!(log, "peer said {SCRIPT_ATTACK} and {ATTR_ATTACK}");
            let _ = writeln!(log, "then {MARKER_SCRIPT} and {MARKER_ATTR}");
            std::fs::write(dir.join(format!("logs/{node}.log")), log).unwrap();
        }
    }
    let folder = RunFolder::load(dir).unwrap();
    let checks = folder.check(None, &Budget::default());
    let valid = checks
        .iter()
        .fold(traitor_checkers::Validity::Holds, |acc, c| {
            acc.merge(c.valid)
        });
    std::fs::write(
        dir.join("verdict.json"),
        serde_json::to_string_pretty(&json!({"run_dir": dir, "valid": valid, "checks": checks}))
            .unwrap(),
    )
    .unwrap();
}
