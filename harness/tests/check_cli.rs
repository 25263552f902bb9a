//! `traitor check` as a user runs it: exit codes, table, JSON lines, errors that name the
//! file and line.

use assert_cmd::Command;
use predicates::prelude::*;
use serde_json::Value;
use std::path::PathBuf;

fn examples() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../examples/histories")
}

fn traitor() -> Command {
    Command::cargo_bin("traitor").unwrap()
}

#[test]
fn valid_histories_exit_zero() {
    traitor()
        .args(["check", "--model", "cas-register"])
        .arg(examples().join("cas-register-ok.jsonl"))
        .arg(examples().join("jepsen-independent-ok.edn"))
        .arg(examples().join("pbft-sample-run"))
        .assert()
        .code(0)
        .stdout(predicate::str::contains("holds").and(predicate::str::contains("VIOLATED").not()));
}

#[test]
fn a_violation_exits_one_and_explains() {
    traitor()
        .args(["check", "--model", "cas-register"])
        .arg(examples().join("stale-read.edn"))
        .assert()
        .code(1)
        .stdout(
            predicate::str::contains("VIOLATED").and(predicate::str::contains(
                "#4 p2 read -> ok 1 cannot be linearized",
            )),
        );
}

#[test]
fn json_gives_one_object_per_input() {
    let out = traitor()
        .args(["check", "--json", "--model", "cas-register"])
        .arg(examples().join("cas-register-ok.jsonl"))
        .arg(examples().join("stale-read.edn"))
        .assert()
        .code(1)
        .get_output()
        .stdout
        .clone();
    let lines: Vec<Value> = String::from_utf8(out)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 2);
    assert_eq!(lines[0]["valid"], true);
    assert!(lines[0]["file"]
        .as_str()
        .unwrap()
        .ends_with("cas-register-ok.jsonl"));
    assert_eq!(lines[1]["valid"], false);
    assert!(lines[1]["evidence"]["violations"][0]["window"].is_array());
}

#[test]
fn an_unknown_model_is_a_usage_error_naming_the_choices() {
    traitor()
        .args(["check", "--model", "queue"])
        .arg(examples().join("stale-read.edn"))
        .assert()
        .code(2)
        .stderr(
            predicate::str::contains("unknown model `queue`")
                .and(predicate::str::contains("cas-register")),
        );
}

#[test]
fn a_history_file_needs_a_model() {
    traitor()
        .arg("check")
        .arg(examples().join("stale-read.edn"))
        .assert()
        .code(2)
        .stderr(predicate::str::contains("needs --model"));
}

#[test]
fn a_bad_line_is_named_by_file_and_number() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("h.jsonl");
    std::fs::write(&path, "{\"process\":0,\"type\":\"invoke\",\"f\":\"read\"}\n{\"process\":0,\"type\":\"okay\"}\n{}\n").unwrap();
    traitor()
        .args(["check", "--model", "register"])
        .arg(&path)
        .assert()
        .code(2)
        .stderr(predicate::str::contains("h.jsonl: line 2:").and(predicate::str::contains("okay")));
}

#[test]
fn missing_and_garbage_files_are_input_errors_not_crashes() {
    let dir = tempfile::tempdir().unwrap();
    let garbage = dir.path().join("noise.bin");
    std::fs::write(&garbage, [0u8, 159, 146, 150, 255, 10, 123]).unwrap();
    let noise = dir.path().join("noise.txt");
    std::fs::write(&noise, "{:type :invoke :f\n").unwrap();
    for path in [dir.path().join("absent.jsonl"), garbage, noise] {
        traitor()
            .args(["check", "--model", "kv"])
            .arg(&path)
            .assert()
            .code(2)
            .stderr(predicate::str::contains("traitor: error:"));
    }
}

#[test]
fn an_undecided_check_is_not_a_pass() {
    traitor()
        .args(["check", "--model", "cas-register", "--memory-limit", "0"])
        .arg(examples().join("cas-register-ok.jsonl"))
        .assert()
        .code(1)
        .stdout(predicate::str::contains("unknown"))
        .stdout(predicate::str::contains("memory limit"));
}

/// Two keys, each with a stale read: the same violation twice.
fn two_stale_keys(dir: &std::path::Path) -> PathBuf {
    let path = dir.join("two-stale-keys.jsonl");
    let mut text = String::new();
    for key in ["x", "y"] {
        for (kind, f, value) in [
            ("invoke", "write", "1"),
            ("ok", "write", "1"),
            ("invoke", "write", "2"),
            ("ok", "write", "2"),
            ("invoke", "read", "null"),
            ("ok", "read", "1"),
        ] {
            text.push_str(&format!(
                "{{\"process\":0,\"type\":\"{kind}\",\"f\":\"{f}\",\"key\":\"{key}\",\"value\":{value}}}\n"
            ));
        }
    }
    std::fs::write(&path, text).unwrap();
    path
}

fn linearizability_evidence(args: &[&str], history: &std::path::Path) -> Value {
    let out = traitor()
        .args(["check", "--json", "--model", "kv"])
        .args(args)
        .arg(history)
        .assert()
        .code(1)
        .get_output()
        .stdout
        .clone();
    let line: Value = serde_json::from_slice(&out).unwrap();
    assert_eq!(line["valid"], false, "{line}");
    line["evidence"].clone()
}

#[test]
fn all_keys_decides_every_key_and_the_default_stops_at_a_violation() {
    let dir = tempfile::tempdir().unwrap();
    let history = two_stale_keys(dir.path());
    let every = linearizability_evidence(&["--all-keys"], &history);
    assert_eq!(
        every["violated_keys"],
        serde_json::json!(["\"x\"", "\"y\""])
    );
    assert_eq!(every["not_decided_keys"]["keys"], serde_json::json!([]));
    // By default a key is either found violated or reported as not decided (both may be
    // found when two threads finish together), never passed.
    let first = linearizability_evidence(&[], &history);
    let violated = first["violated_keys"].as_array().unwrap().len();
    let not_decided = first["not_decided_keys"]["keys"].as_array().unwrap().len();
    assert!(violated >= 1 && violated + not_decided == 2, "{first}");
}

#[test]
fn a_half_written_run_folder_is_checked_with_a_warning() {
    let dir = tempfile::tempdir().unwrap();
    let run = dir.path().join("run");
    std::fs::create_dir(&run).unwrap();
    for name in [
        "manifest.json",
        "history.jsonl",
        "commits.jsonl",
        "faults.jsonl",
    ] {
        std::fs::copy(
            examples().join("pbft-sample-run").join(name),
            run.join(name),
        )
        .unwrap();
    }
    let history = run.join("history.jsonl");
    let mut text = std::fs::read_to_string(&history).unwrap();
    text.push_str("{\"index\":14,\"process\":1,\"type\":\"inv");
    std::fs::write(&history, text).unwrap();
    traitor()
        .arg("check")
        .arg(&run)
        .assert()
        .code(0)
        .stderr(predicate::str::contains(
            "history.jsonl: line 15: truncated last line dropped",
        ));
}
