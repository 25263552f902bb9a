//! `traitor run` end to end: a real pbft cluster behind the proxy, faults injected,
//! everything recorded and checked, everything removed afterwards. The Docker tests never
//! skip: without an engine they fail and say so.

use assert_cmd::Command;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

fn workspace() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn traitor() -> Command {
    let mut cmd = Command::cargo_bin("traitor").unwrap();
    cmd.current_dir(workspace());
    cmd
}

/// Containers and networks still carrying a traitor run label.
fn labelled_leftovers() -> (usize, usize) {
    let count = |args: &[&str]| {
        let out = std::process::Command::new("docker")
            .args(args)
            .output()
            .expect("the docker CLI runs");
        assert!(
            out.status.success(),
            "docker {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).lines().count()
    };
    (
        count(&["ps", "-aq", "--filter", "label=traitor.run"]),
        count(&["network", "ls", "-q", "--filter", "label=traitor.run"]),
    )
}

fn require_docker() {
    let ok = std::process::Command::new("docker")
        .arg("info")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
    assert!(
        ok.is_ok_and(|s| s.success()),
        "these tests need a running Docker engine (CI has one); none answers"
    );
}

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
    let stdout = String::from_utf8_lossy(&out.stdout);
    let verdict: Value = serde_json::from_str(stdout.lines().last().unwrap_or_default())
        .unwrap_or_else(|e| {
            panic!(
                "no JSON verdict ({e}); stdout: {stdout}\nstderr: {}",
                String::from_utf8_lossy(&out.stderr)
            )
        });
    assert_eq!(
        out.status.code(),
        Some(0),
        "verdict: {verdict:#}\nstderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    verdict
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
    ] {
        assert!(
            run_dir.join(file).is_file(),
            "{file} missing in {}",
            run_dir.display()
        );
    }
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

#[test]
fn a_run_killed_with_sigkill_is_swept_by_gc_and_still_checkable() {
    require_docker();
    let store = tempfile::tempdir().unwrap();
    let mut child = std::process::Command::new(assert_cmd::cargo::cargo_bin("traitor"))
        .current_dir(workspace())
        .args([
            "run",
            "--target",
            "targets/pbft",
            "--time",
            "60s",
            "--backend",
            "docker",
            "--seed",
            "3",
            "--store",
        ])
        .arg(store.path())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // Wait until clients have recorded some history, then kill the harness outright.
    let deadline = Instant::now() + Duration::from_secs(300);
    let history = loop {
        let found = walk(store.path())
            .into_iter()
            .find(|p| p.ends_with("history.jsonl"));
        if let Some(path) =
            found.filter(|p| std::fs::read_to_string(p).is_ok_and(|t| t.lines().count() > 20))
        {
            break path;
        }
        assert!(Instant::now() < deadline, "the run never recorded history");
        std::thread::sleep(Duration::from_millis(200));
    };
    child.kill().unwrap();
    child.wait().unwrap();
    let (containers, _) = labelled_leftovers();
    assert!(
        containers > 0,
        "a SIGKILLed harness cannot have cleaned up; nothing to sweep means the test is broken"
    );

    traitor().arg("gc").assert().code(0);
    assert_eq!(
        labelled_leftovers(),
        (0, 0),
        "gc left labelled containers or networks"
    );

    let run_dir = history.parent().unwrap();
    let out = traitor()
        .args(["check", "--json"])
        .arg(run_dir)
        .output()
        .unwrap();
    let code = out.status.code();
    assert!(
        code == Some(0) || code == Some(1),
        "check must answer on a half-written folder, got {code:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let line: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(
        line["checks"].as_array().is_some_and(|c| c.len() >= 3),
        "{line:#}"
    );
    // The heal never happened, so termination cannot be judged: unknown, not a guess.
    let termination = line["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["checker"] == "termination")
        .unwrap();
    assert_eq!(termination["valid"], "unknown", "{termination:#}");
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    if let Ok(entries) = std::fs::read_dir(dir) {
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                out.extend(walk(&path));
            } else {
                out.push(path);
            }
        }
    }
    out
}
