//! The foreign-system contract end to end on the process backend: nodes configured by
//! templated arguments, environment and files; ops through an exec: adapter; `[observe]
//! = "none"` answered honestly; an adapter that misbehaves ends the run as a harness failure.

mod common;

use common::{traitor, workspace};
use serde_json::Value;
use std::time::Duration;

const TARGET: &str = "harness/tests/fixtures/foreign";

fn run(nemesis: &str, extra: &[&str], store: &std::path::Path) -> std::process::Output {
    traitor()
        .args([
            "run",
            "--target",
            TARGET,
            "--backend",
            "process",
            "--nemesis",
            nemesis,
        ])
        .args([
            "--time",
            "3s",
            "--recover",
            "2s",
            "--settle",
            "1s",
            "--seed",
            "7",
            "--json",
        ])
        .args(extra)
        .arg("--store")
        .arg(store)
        .timeout(Duration::from_secs(120))
        .output()
        .unwrap()
}

#[test]
fn an_adapter_drives_a_templated_cluster_and_unobserved_logs_are_unknown() {
    let store = tempfile::tempdir().unwrap();
    let out = run("none", &[], store.path());
    let stderr = String::from_utf8_lossy(&out.stderr);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let verdict: Value = serde_json::from_str(stdout.lines().last().unwrap_or_default())
        .unwrap_or_else(|e| panic!("no verdict ({e}): {stdout}\n{stderr}"));
    let check = |name: &str| common::check(&verdict, name).clone();
    // The nodes started (each checked its rendered env and file), and every op went through
    // the adapter, which is a linearizable register.
    assert_eq!(check("linearizability")["valid"], true, "{verdict:#}");
    let agreement = check("agreement");
    assert_eq!(agreement["valid"], "unknown", "{agreement:#}");
    assert!(
        agreement["summary"]
            .as_str()
            .unwrap()
            .contains("[observe] log = \"none\""),
        "{agreement:#}"
    );
    let run_dir = std::path::PathBuf::from(verdict["run_dir"].as_str().unwrap());
    let history = std::fs::read_to_string(run_dir.join("history.jsonl")).unwrap();
    assert!(history.lines().filter(|l| l.contains("\"ok\"")).count() > 10);
    assert!(run_dir.join("logs/adapter-client.log").is_file());
}

#[test]
fn faults_aimed_at_the_primary_are_refused_without_a_primary_lookup() {
    let store = tempfile::tempdir().unwrap();
    let out = run("crash-primary", &[], store.path());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("[observe] primary = \"none\""), "{stderr}");
}

#[test]
fn an_adapter_answering_garbage_ends_the_run_as_a_harness_failure() {
    let store = tempfile::tempdir().unwrap();
    let out = run("none", &["--variant", "garbage-adapter"], store.path());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{stderr}");
    assert!(
        stderr.contains("register.py") && stderr.contains("garbage"),
        "{stderr}"
    );
    assert!(
        !stderr.contains('\x1b'),
        "terminal escapes reached the terminal: {stderr}"
    );
    assert!(workspace().join(TARGET).is_dir());
}

#[test]
fn a_template_naming_an_unknown_value_is_a_usage_error() {
    let dir = tempfile::tempdir().unwrap();
    let source = workspace().join(TARGET);
    for file in ["target.toml", "node.py", "register.py", "node.conf.j2"] {
        std::fs::copy(source.join(file), dir.path().join(file)).unwrap();
    }
    std::fs::write(dir.path().join("node.conf.j2"), "member {{ idd }}\n").unwrap();
    let out = traitor()
        .args(["run", "--backend", "process", "--target"])
        .arg(dir.path())
        .timeout(Duration::from_secs(60))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("conf/node.conf") && stderr.contains("idd"),
        "{stderr}"
    );
}
