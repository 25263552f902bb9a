//! Linearizability checker benchmark: speed and peak memory on the cases that matter.
//!
//! 1. Three histories written to JSONL files and checked end to end (read, parse, pair,
//!    search, explain) each in a child process, whose peak resident memory (VmHWM) is
//!    reported:
//!    - `kv-partition-failing`: the shape of a failing published history: 50 processes,
//!      10 string keys, ~1,000 ops, mostly appends, a partition over the middle fifth
//!      (timeouts), and 3 keys serving a stale read during it;
//!    - `append-storm`: 40 appends to one key at once, then a get in the order the search
//!      tries last, checked with a 256 MiB memory limit (the answer is `unknown`);
//!    - `kv-1m`: a 1,000,000-op `kv` history (64 keys, 16 processes, 5% unknown outcomes).
//! 2. Single `cas-register` histories of about 100 ops from 20 processes with about 20
//!    unknown outcomes: the hard case for the search, over 20 seeds.
//!
//! Run: `cargo bench -p traitor-checkers --bench linearizability`. To measure the
//! `traitor check` binary itself on the same files (with `/usr/bin/time -v`), write them
//! with `cargo bench -p traitor-checkers --bench linearizability -- --write DIR`.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};
use traitor_checkers::input::load_history;
use traitor_checkers::linearizability::check;
use traitor_checkers::synth::{
    concurrent_appends, generate, generate_with_faults, Faults, SynthConfig,
};
use traitor_checkers::{Budget, Model};
use traitor_model::Event;

/// A history file to check, with the memory limit (MiB) it is checked under.
struct Case {
    file: &'static str,
    title: &'static str,
    memory_mib: usize,
    events: fn() -> Vec<Event>,
}

const CASES: [Case; 3] = [
    Case {
        file: "kv-partition-failing.jsonl",
        title: "kv, ~1,000 ops, 50 processes, 10 string keys, mostly appends, a partition, 3 keys with a stale read",
        memory_mib: 1024,
        events: failing_kv,
    },
    Case {
        file: "append-storm.jsonl",
        title: "40 concurrent appends to one key, then a get in the order tried last, --memory-limit 256",
        memory_mib: 256,
        events: append_storm,
    },
    Case {
        file: "kv-1m.jsonl",
        title: "kv, 1,000,000 ops, 64 keys, 16 processes, 5% info",
        memory_mib: 1024,
        events: big_kv,
    },
];

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if let Some(at) = args.iter().position(|a| a == "--check-file") {
        check_file(
            &args[at + 1],
            args[at + 2].parse().expect("model name"),
            args[at + 3].parse().expect("memory limit in MiB"),
        );
        return;
    }
    if let Some(at) = args.iter().position(|a| a == "--write") {
        let dir = PathBuf::from(&args[at + 1]);
        std::fs::create_dir_all(&dir).expect("create the output folder");
        for case in &CASES {
            write(&dir.join(case.file), &(case.events)());
            println!("wrote {}", dir.join(case.file).display());
        }
        return;
    }
    let dir = std::env::temp_dir().join(format!("traitor-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("create the bench folder");
    for case in &CASES {
        measure(&dir, case);
    }
    let _ = std::fs::remove_dir_all(dir);
    hard_cas();
}

/// Child mode: check one file and report time and peak memory of this process.
fn check_file(path: &str, model: Model, memory_mib: usize) {
    let start = Instant::now();
    let text = std::fs::read_to_string(path).expect("bench file");
    let loaded = load_history(&text, model).expect("bench history parses");
    drop(text);
    let parsed = start.elapsed();
    let budget = Budget::new(Duration::from_secs(60), memory_mib << 20);
    let result = check(&loaded.operations, model, &budget);
    let total = start.elapsed();
    let peak = std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM"))
                .map(str::to_string)
        })
        .unwrap_or_else(|| "VmHWM unavailable".into());
    println!(
        "  ops {} keys {} | read+parse {:.3} s | check {:.3} s | total {:.3} s | {} | verdict {}: {}",
        loaded.operations.invokes,
        loaded.operations.by_key.len(),
        parsed.as_secs_f64(),
        (total - parsed).as_secs_f64(),
        total.as_secs_f64(),
        peak.split_whitespace().collect::<Vec<_>>().join(" "),
        result.valid.word(),
        result.summary.chars().take(160).collect::<String>()
    );
}

/// Writes a case's history and checks it in a child process.
fn measure(dir: &Path, case: &Case) {
    let started = Instant::now();
    let events = (case.events)();
    let path = dir.join(case.file);
    write(&path, &events);
    println!(
        "{} ({} events, {:.1} MB, generated in {:.1} s):",
        case.title,
        events.len(),
        std::fs::metadata(&path)
            .map(|m| m.len() as f64 / 1e6)
            .unwrap_or(0.0),
        started.elapsed().as_secs_f64()
    );
    drop(events);
    let status = std::process::Command::new(std::env::current_exe().expect("own path"))
        .args([
            "--check-file",
            path.to_str().expect("utf-8 temp path"),
            "kv",
            &case.memory_mib.to_string(),
        ])
        .status()
        .expect("run the checking child");
    assert!(status.success(), "checking child failed");
}

fn write(path: &Path, events: &[Event]) {
    let mut text = String::with_capacity(events.len() * 120);
    for e in events {
        text.push_str(&serde_json::to_string(e).expect("events serialise"));
        text.push('\n');
    }
    std::fs::write(path, text).expect("write bench history");
}

fn failing_kv() -> Vec<Event> {
    let config = SynthConfig {
        model: Model::Kv,
        ops: 1_000,
        keys: 10,
        processes: 50,
        info_rate: 0.02,
        fail_rate: 0.02,
        seed: 1,
    };
    let faults = Faults {
        partition: Some(0.4..0.6),
        stale_keys: 3,
        append_heavy: true,
    };
    generate_with_faults(&config, &faults)
}

fn append_storm() -> Vec<Event> {
    concurrent_appends(40)
}

fn big_kv() -> Vec<Event> {
    generate(&SynthConfig {
        model: Model::Kv,
        ops: 1_000_000,
        keys: 64,
        processes: 16,
        info_rate: 0.05,
        fail_rate: 0.0,
        seed: 1,
    })
}

fn hard_cas() {
    let mut times = Vec::new();
    let mut infos = Vec::new();
    for seed in 0..20 {
        let config = SynthConfig {
            model: Model::CasRegister,
            ops: 100,
            keys: 1,
            processes: 20,
            info_rate: 0.2,
            fail_rate: 0.0,
            seed,
        };
        let events = generate(&config);
        infos.push(
            events
                .iter()
                .filter(|e| e.kind == traitor_model::EventKind::Invoke)
                .count()
                - events
                    .iter()
                    .filter(|e| {
                        e.kind != traitor_model::EventKind::Invoke
                            && e.kind != traitor_model::EventKind::Info
                    })
                    .count(),
        );
        let text: String = events
            .iter()
            .map(|e| serde_json::to_string(e).unwrap() + "\n")
            .collect();
        let start = Instant::now();
        let loaded = load_history(&text, Model::CasRegister).expect("parses");
        let result = check(&loaded.operations, Model::CasRegister, &Budget::default());
        times.push((start.elapsed().as_secs_f64() * 1e3, result.valid.word()));
    }
    times.sort_by(|a, b| a.0.total_cmp(&b.0));
    println!(
        "cas-register, 100 ops, 20 processes, ~20% info ({}-{} unknown outcomes), 20 seeds: median {:.2} ms, max {:.2} ms, verdicts {:?}",
        infos.iter().min().unwrap(),
        infos.iter().max().unwrap(),
        times[times.len() / 2].0,
        times[times.len() - 1].0,
        times.iter().map(|t| t.1).collect::<std::collections::BTreeSet<_>>()
    );
}
