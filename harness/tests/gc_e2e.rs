//! A harness killed with SIGKILL leaves its containers behind; `traitor gc` removes them and
//! `traitor check` still reads the half-written run folder. Its own test binary: gc sweeps
//! every traitor run, so nothing else may run beside it.

mod common;

use common::{labelled_leftovers, require_docker, traitor, workspace};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

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
