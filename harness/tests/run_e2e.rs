//! `traitor run` end to end: a real pbft cluster behind the proxy, faults injected,
//! everything recorded and checked, everything removed afterwards. The Docker tests never
//! skip: without an engine they fail and say so.

mod common;

use common::{labelled_leftovers, require_docker, traitor};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Duration;

/// Held by each Docker test: a test checks that no labelled container is left, which a
/// run of another test beside it would break.
static DOCKER: Mutex<()> = Mutex::new(());

/// Runs pbft with partitions and crash-primary and returns the JSON verdict.
fn pbft_run(backend: &str, store: &Path, seed: u64) -> Value {
    let out = traitor()
        .args([
            "run",
            "--target",
            "targets/pbft",
            "--time",
            "15s",
            "--recover",
            "8s",
            "--settle",
            "4s",
            "--nemesis-interval",
            "2s",
        ])
        .args([
            "--nemesis-duration",
            "3s",
            "--nemesis",
            "partition,crash-primary",
            "--json",
            "--backend",
            backend,
        ])
        .args(["--seed", &seed.to_string(), "--store"])
        .arg(store)
        .timeout(Duration::from_secs(600))
        .output()
        .unwrap();
    let verdict = verdict_of(&out);
    assert_eq!(
        out.status.code(),
        Some(0),
        "verdict: {verdict:#}\nstderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    verdict
}

/// The JSON verdict `traitor run --json` prints last, or a panic showing what it printed.
fn verdict_of(out: &std::process::Output) -> Value {
    let stdout = String::from_utf8_lossy(&out.stdout);
    serde_json::from_str(stdout.lines().last().unwrap_or_default()).unwrap_or_else(|e| {
        panic!(
            "no JSON verdict ({e}); stdout: {stdout}\nstderr: {}",
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

fn assert_every_check_holds(verdict: &Value) {
    assert_eq!(verdict["valid"], true, "{verdict:#}");
    let names: Vec<&str> = verdict["checks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["checker"].as_str().unwrap())
        .collect();
    for expected in ["agreement", "validity", "termination", "linearizability"] {
        assert!(
            names.contains(&expected),
            "{expected} missing from {names:?}"
        );
    }
    let run_dir = PathBuf::from(verdict["run_dir"].as_str().unwrap());
    for file in [
        "manifest.json",
        "history.jsonl",
        "faults.jsonl",
        "commits.jsonl",
        "metrics.jsonl",
        "trace.jsonl",
        "verdict.json",
        "detectors.json",
        "report.html",
    ] {
        assert!(
            run_dir.join(file).is_file(),
            "{file} missing in {}",
            run_dir.display()
        );
    }
    // The fault detectors' findings, scored against faults.jsonl (advisory: not asserted on).
    let detectors: Value =
        serde_json::from_str(&std::fs::read_to_string(run_dir.join("detectors.json")).unwrap())
            .unwrap();
    let scored = detectors["score"]["detectors"]
        .as_array()
        .map_or(0, Vec::len);
    assert!(
        detectors["findings"].is_array() && scored == 6,
        "{detectors:#}"
    );
    let faults = std::fs::read_to_string(run_dir.join("faults.jsonl")).unwrap();
    assert!(
        faults.lines().count() >= 2,
        "no fault was injected: {faults}"
    );
    for node in 0..4 {
        assert!(
            run_dir.join("logs").join(format!("{node}.log")).is_file(),
            "log of node {node} missing"
        );
    }
}

#[test]
fn pbft_in_docker_survives_partitions_and_a_crashed_primary() {
    require_docker();
    let _docker = DOCKER.lock().unwrap_or_else(|p| p.into_inner());
    let store = tempfile::tempdir().unwrap();
    let verdict = pbft_run("docker", store.path(), 1);
    assert_every_check_holds(&verdict);
    assert_eq!(
        labelled_leftovers(),
        (0, 0),
        "the run left containers or networks behind"
    );
}

#[test]
fn pbft_on_local_processes_survives_partitions_and_a_crashed_primary() {
    let store = tempfile::tempdir().unwrap();
    let verdict = pbft_run("process", store.path(), 2);
    assert_every_check_holds(&verdict);
}

/// A twinned primary (equivocate-twins, re-split every 3 s) against pbft: both instances
/// run, each peer hears one of them, and the correct nodes stay safe.
fn pbft_with_a_twinned_primary(backend: &str, store: &Path) {
    let out = traitor()
        .args(["run", "--target", "targets/pbft", "--backend", backend])
        .args(["--time", "8s", "--recover", "6s", "--settle", "3s"])
        .args(["--nemesis", "none", "--byzantine", "primary", "--seed", "4"])
        .args([
            "--adversary",
            "equivocate-twins:every=3s",
            "--json",
            "--store",
        ])
        .arg(store)
        .timeout(Duration::from_secs(600))
        .output()
        .unwrap();
    let verdict = verdict_of(&out);
    for safety in ["agreement", "validity", "linearizability"] {
        let check = verdict["checks"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["checker"] == safety)
            .unwrap_or_else(|| panic!("{safety} missing: {verdict:#}"));
        assert_eq!(check["valid"], true, "{check:#}");
    }
    let run_dir = PathBuf::from(verdict["run_dir"].as_str().unwrap());
    let faults = std::fs::read_to_string(run_dir.join("faults.jsonl")).unwrap();
    let splits = faults
        .lines()
        .filter(|l| l.contains(r#""kind":"equivocate-twins""#) && l.contains(r#""twin1":["#))
        .count();
    assert!(splits >= 2, "a first split and re-splits: {faults}");
    let twin_log = std::fs::read_to_string(run_dir.join("logs/0-twin.log")).unwrap();
    assert!(
        twin_log.contains("replica ready id=0"),
        "the twin ran: {twin_log}"
    );
    let trace = std::fs::read_to_string(run_dir.join("trace.jsonl")).unwrap();
    for action in ["deliver", "drop"] {
        let action = format!(r#""action":"{action}""#);
        assert!(
            trace
                .lines()
                .any(|l| l.contains(r#""from":0,"instance":1,"#) && l.contains(&action)),
            "the trace shows the twin's messages, some with {action}"
        );
    }
}

#[test]
fn pbft_on_local_processes_stays_safe_with_a_twinned_primary() {
    let store = tempfile::tempdir().unwrap();
    pbft_with_a_twinned_primary("process", store.path());
}

#[test]
fn pbft_in_docker_stays_safe_with_a_twinned_primary() {
    require_docker();
    let _docker = DOCKER.lock().unwrap_or_else(|p| p.into_inner());
    let store = tempfile::tempdir().unwrap();
    pbft_with_a_twinned_primary("docker", store.path());
    assert_eq!(
        labelled_leftovers(),
        (0, 0),
        "the twin's container or the network was left behind"
    );
}

/// Every built-in adversary at once, under partitions: the burst after a partition once
/// stalled the harness's runtime. The run must finish, and the correct target must stay
/// safe with one traitor (liveness is not asserted: a partition may outlast the recovery).
#[test]
fn every_builtin_adversary_under_partitions_finishes_and_stays_safe() {
    let store = tempfile::tempdir().unwrap();
    let out = traitor()
        .args([
            "run",
            "--target",
            "targets/pbft",
            "--backend",
            "process",
            "--time",
            "12s",
        ])
        .args([
            "--recover",
            "8s",
            "--settle",
            "4s",
            "--nemesis",
            "partition",
            "--nemesis-interval",
            "2s",
        ])
        .args([
            "--nemesis-duration",
            "3s",
            "--crash",
            "0",
            "--byzantine",
            "1",
            "--seed",
            "2",
            "--json",
        ])
        .args([
            "--adversary",
            "corrupt",
            "--adversary",
            "mutate",
            "--adversary",
            "replay:as_own=true",
        ])
        .args([
            "--adversary",
            "impersonate",
            "--adversary",
            "omit",
            "--adversary",
            "equivocate-sign",
        ])
        .arg("--store")
        .arg(store.path())
        .timeout(Duration::from_secs(600))
        .output()
        .unwrap();
    let verdict = verdict_of(&out);
    for check in verdict["checks"].as_array().unwrap() {
        if check["checker"] != "termination" {
            assert_eq!(check["valid"], true, "{check:#}");
        }
    }
    let faults = std::fs::read_to_string(
        PathBuf::from(verdict["run_dir"].as_str().unwrap()).join("faults.jsonl"),
    )
    .unwrap();
    assert!(
        faults.contains("\"kind\":\"equivocate\""),
        "the adversaries acted"
    );
    assert!(faults.contains("\"kind\":\"partition"), "the nemesis acted");
}
