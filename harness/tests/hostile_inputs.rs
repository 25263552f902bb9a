//! Issue 20's hostile and careless inputs, each as a user meets it: the exit code and the
//! message. No case may crash, hang, read outside the run folder or pass silently.

use assert_cmd::Command;
use predicates::prelude::*;
use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};
use std::time::Duration;
use tempfile::TempDir;

fn traitor() -> Command {
    let mut command = Command::cargo_bin("traitor").unwrap();
    // Every case must end quickly: a hang fails the test instead of wedging it.
    command.timeout(Duration::from_secs(60));
    command
}

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// A copy of the example run folder, as `run` in a fresh temporary folder.
fn sample_run() -> (TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let run = dir.path().join("run");
    std::fs::create_dir(&run).unwrap();
    let sample = repo().join("examples/histories/pbft-sample-run");
    for entry in std::fs::read_dir(sample).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), run.join(entry.file_name())).unwrap();
    }
    (dir, run)
}

/// The sample run with `edit` applied to its manifest's JSON.
fn with_manifest(edit: impl FnOnce(&mut serde_json::Value)) -> (TempDir, PathBuf) {
    let (dir, run) = sample_run();
    let path = run.join("manifest.json");
    let mut manifest: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    edit(&mut manifest);
    std::fs::write(&path, manifest.to_string()).unwrap();
    (dir, run)
}

fn mkfifo(path: &Path) {
    let made = std::process::Command::new("mkfifo").arg(path).status();
    assert!(made.unwrap().success());
}

#[test]
fn a_manifest_model_traitor_does_not_know_is_unknown_not_a_pass() {
    let (_dir, run) = with_manifest(|m| m["model"] = "KV".into());
    // A read of 42, never written: a pass here would be a wrong verdict.
    let mut history = std::fs::read_to_string(run.join("history.jsonl")).unwrap();
    history.push_str(
        "{\"process\":9,\"type\":\"invoke\",\"f\":\"read\",\"key\":\"k1\",\"node\":0,\"time\":7000000000}\n\
         {\"process\":9,\"type\":\"ok\",\"f\":\"read\",\"key\":\"k1\",\"value\":42,\"node\":0,\"time\":7100000000}\n",
    );
    std::fs::write(run.join("history.jsonl"), history).unwrap();
    traitor()
        .arg("check")
        .arg(&run)
        .assert()
        .code(1)
        .stdout(predicate::str::contains("unknown model `KV`"));
    traitor()
        .args(["check", "--model", "kv"])
        .arg(&run)
        .assert()
        .code(1)
        .stdout(predicate::str::contains("VIOLATED"));
}

#[test]
fn the_report_never_quotes_a_file_a_log_links_to() {
    let (dir, run) = sample_run();
    let secret = dir.path().join("secret");
    std::fs::write(&secret, "root:s3cret-hash\n").unwrap();
    std::fs::create_dir(run.join("logs")).unwrap();
    symlink(&secret, run.join("logs/0.log")).unwrap();
    mkfifo(&run.join("logs/1.log"));
    symlink("/dev/zero", run.join("logs/2.log")).unwrap();
    // The report itself, linked out of the folder, is replaced rather than written through.
    let victim = dir.path().join("victim");
    std::fs::write(&victim, "keep me").unwrap();
    symlink(&victim, run.join("report.html")).unwrap();
    traitor().arg("report").arg(&run).assert().code(0);
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "keep me");
    let html = std::fs::read_to_string(run.join("report.html")).unwrap();
    assert!(!html.contains("s3cret"), "the linked file was quoted");
    assert!(html.contains("is a symbolic link"));
    assert!(html.contains("FIFO"));
}

#[test]
fn check_refuses_links_fifos_and_devices_in_a_run_folder() {
    let (_dir, run) = sample_run();
    std::fs::remove_file(run.join("history.jsonl")).unwrap();
    symlink("/etc/passwd", run.join("history.jsonl")).unwrap();
    traitor()
        .arg("check")
        .arg(&run)
        .assert()
        .code(2)
        .stderr(predicate::str::contains(
            "history.jsonl: is a symbolic link",
        ));
    std::fs::remove_file(run.join("history.jsonl")).unwrap();
    mkfifo(&run.join("history.jsonl"));
    traitor()
        .arg("check")
        .arg(&run)
        .assert()
        .code(2)
        .stderr(predicate::str::contains(
            "history.jsonl: is a FIFO (named pipe), not a regular file",
        ));
    traitor()
        .args(["check", "--model", "kv", "/dev/zero"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("is a character device"));
}

#[test]
fn hostile_edn_is_refused_quickly_with_the_line() {
    let dir = tempfile::tempdir().unwrap();
    let event =
        |value: String| format!("{{:type :invoke, :f :write, :value {value}, :process 0}}\n");
    let cases = [
        (
            event(format!("{}1{}", "[".repeat(5000), "]".repeat(5000))),
            "nested more than 128",
        ),
        (
            event(format!("{}1{}", "{:a ".repeat(20_000), "}".repeat(20_000))),
            "nested more than 128",
        ),
        (event("#x ".repeat(20_000) + "1"), "nested more than 128"),
        (
            event(format!("{}N", "9".repeat(2_000_000))),
            "a number of 2000001 characters",
        ),
        (
            event(format!("1.{}M", "9".repeat(2_000_000))),
            "a number of 2000003 characters",
        ),
        (
            event(format!("[{}]", "1 ".repeat(5_000_000))),
            "a history event is at most 8 MiB",
        ),
    ];
    for (i, (text, needle)) in cases.into_iter().enumerate() {
        let path = dir.path().join(format!("h{i}.edn"));
        std::fs::write(&path, text).unwrap();
        traitor()
            .args(["check", "--model", "register"])
            .arg(&path)
            .timeout(Duration::from_secs(20))
            .assert()
            .code(2)
            .stderr(predicate::str::contains(format!("h{i}.edn: line 1: ")))
            .stderr(predicate::str::contains(needle));
    }
}

#[test]
fn impossible_manifest_sizes_are_refused_before_allocating() {
    let cases: [(&str, serde_json::Value, &str); 4] = [
        (
            "n",
            1_000_000_000.into(),
            "n = 1000000000: expected a cluster size from 1 to 1000",
        ),
        ("n", 0.into(), "n = 0"),
        (
            "f",
            9.into(),
            "f = 9: expected fewer tolerated faults than nodes",
        ),
        (
            "byzantine",
            serde_json::json!([7]),
            "byzantine names node 7",
        ),
    ];
    for (field, value, needle) in cases {
        let (_dir, run) = with_manifest(|m| m[field] = value);
        traitor().arg("check").arg(&run).assert().code(2).stderr(
            predicate::str::contains("manifest.json: ").and(predicate::str::contains(needle)),
        );
    }
}

#[test]
fn campaign_sizes_and_times_are_bounded_with_the_field_named() {
    let dir = tempfile::tempdir().unwrap();
    let target = repo().join("targets/pbft");
    let campaign = |name: &str, head: &str| {
        let path = dir.path().join(name);
        let text = format!("backend = \"process\"\n{head}\n[[group]]\ntarget = {target:?}\n");
        std::fs::write(&path, text).unwrap();
        path
    };
    let plain = campaign("plain.toml", "");
    let store = dir.path().join("store");
    for seeds in ["18446744073709551615", "1000000000"] {
        traitor()
            .arg("campaign")
            .arg(&plain)
            .args(["--seeds", seeds, "--store"])
            .arg(&store)
            .assert()
            .code(2)
            .stderr(predicate::str::contains(format!(
                "--seeds: {seeds} seeds; at most 10000 per group"
            )));
    }
    let cases = [
        (
            campaign("crash.toml", "[faults.a]\nnemesis = \"crash\"\ncrash = 100"),
            "crash = 100: the nemesis can crash at most the cluster's n = 4 nodes",
        ),
        (
            campaign("time.toml", "time = \"0s\""),
            "time = \"0s\": expected more than 0s",
        ),
    ];
    let huge = dir.path().join("nodes.toml");
    let text =
        format!("backend = \"process\"\n[[group]]\ntarget = {target:?}\nnodes = [1000000000]\n");
    std::fs::write(&huge, text).unwrap();
    let many = campaign("many.toml", "seeds = 10000\n[faults.a]\n[faults.b]");
    let cases = cases.into_iter().chain([
        (
            huge,
            "nodes lists 1000000000: expected cluster sizes from 1 to 1000",
        ),
        (many, "would plan 20000 runs by this group; at most 10000"),
    ]);
    for (file, needle) in cases {
        traitor()
            .arg("campaign")
            .arg(&file)
            .arg("--store")
            .arg(&store)
            .assert()
            .code(2)
            .stderr(predicate::str::contains(needle));
    }
    assert!(!store.exists(), "nothing ran, nothing was written");
}
