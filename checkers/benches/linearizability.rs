//! Linearizability checker benchmark: speed and peak memory on the two cases that matter.
//!
//! 1. A 1,000,000-op `kv` history (64 keys, 16 processes, 5% unknown outcomes), written to
//!    a JSONL file and checked end to end (read, parse, pair, search) in a child process,
//!    whose peak resident memory (VmHWM) is reported.
//! 2. Single `cas-register` histories of about 100 ops from 20 processes with about 20
//!    unknown outcomes: the hard case for the search, over 20 seeds.
//!
//! Run: `cargo bench -p traitor-checkers --bench linearizability`

use std::time::Instant;
use traitor_checkers::input::load_history;
use traitor_checkers::linearizability::check;
use traitor_checkers::synth::{generate, SynthConfig};
use traitor_checkers::{Budget, Model};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if let Some(at) = args.iter().position(|a| a == "--check-file") {
        check_file(&args[at + 1], args[at + 2].parse().expect("model name"));
        return;
    }
    big_kv();
    hard_cas();
}

/// Child mode: check one file and report time and peak memory of this process.
fn check_file(path: &str, model: Model) {
    let start = Instant::now();
    let text = std::fs::read_to_string(path).expect("bench file");
    let loaded = load_history(&text, model).expect("bench history parses");
    drop(text);
    let parsed = start.elapsed();
    let result = check(&loaded.operations, model, &Budget::default());
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
        "  ops {} keys {} | read+parse {:.2} s | search {:.2} s | total {:.2} s | {} | verdict {}",
        loaded.operations.invokes,
        loaded.operations.by_key.len(),
        parsed.as_secs_f64(),
        (total - parsed).as_secs_f64(),
        total.as_secs_f64(),
        peak.split_whitespace().collect::<Vec<_>>().join(" "),
        result.valid.word()
    );
}

fn big_kv() {
    let config = SynthConfig {
        model: Model::Kv,
        ops: 1_000_000,
        keys: 64,
        processes: 16,
        info_rate: 0.05,
        fail_rate: 0.0,
        seed: 1,
    };
    let started = Instant::now();
    let events = generate(&config);
    let path = std::env::temp_dir().join("traitor-bench-kv-1m.jsonl");
    let mut text = String::with_capacity(events.len() * 120);
    for e in &events {
        text.push_str(&serde_json::to_string(e).expect("events serialise"));
        text.push('\n');
    }
    std::fs::write(&path, text).expect("write bench history");
    println!(
        "kv, 1,000,000 ops, 64 keys, 16 processes, 5% info ({} events, {:.0} MB, generated in {:.1} s):",
        events.len(),
        std::fs::metadata(&path).map(|m| m.len() as f64 / 1e6).unwrap_or(0.0),
        started.elapsed().as_secs_f64()
    );
    drop(events);
    let status = std::process::Command::new(std::env::current_exe().expect("own path"))
        .args([
            "--check-file",
            path.to_str().expect("utf-8 temp path"),
            "kv",
        ])
        .status()
        .expect("run the checking child");
    assert!(status.success(), "checking child failed");
    let _ = std::fs::remove_file(path);
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
