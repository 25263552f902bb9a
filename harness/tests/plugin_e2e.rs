//! `traitor run` with a plugin that hangs: the run ends as a harness failure (exit 3)
//! within a bounded time, torn down, with no plugin process left behind.

mod common;

use common::{traitor, workspace};
use std::time::{Duration, Instant};

/// Processes whose command line mentions `needle`.
fn processes_mentioning(needle: &str) -> Vec<String> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        if let Ok(cmdline) = std::fs::read(entry.path().join("cmdline")) {
            let cmdline = String::from_utf8_lossy(&cmdline).replace('\0', " ");
            if cmdline.contains(needle) {
                found.push(format!(
                    "{}: {cmdline}",
                    entry.file_name().to_string_lossy()
                ));
            }
        }
    }
    found
}

#[test]
fn a_hanging_plugin_ends_the_run_with_exit_3_and_leaves_nothing_behind() {
    let store = tempfile::tempdir().unwrap();
    // A copy under a unique path, so the process check cannot see another test's plugin.
    let plugins = tempfile::tempdir().unwrap();
    let hang = plugins.path().join("hang.py");
    std::fs::copy(workspace().join("examples/plugins/python/hang.py"), &hang).unwrap();
    let started = Instant::now();
    let out = traitor()
        .args(["run", "--target", "targets/pbft", "--backend", "process"])
        .args([
            "--time",
            "5s",
            "--recover",
            "4s",
            "--settle",
            "2s",
            "--nemesis",
            "none",
        ])
        .args(["--byzantine", "primary", "--seed", "3", "--adversary"])
        .arg(format!("plugin:{}", hang.display()))
        .arg("--store")
        .arg(store.path())
        .timeout(Duration::from_secs(120))
        .output()
        .unwrap();
    let took = started.elapsed();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "stderr: {stderr}");
    assert!(
        stderr.contains("hang.py did not answer within the limit of 1s"),
        "the error names the plugin and what it did: {stderr}"
    );
    // Building pbft-node on first use may take a while; the run itself is stopped about a
    // second after the plugin stops answering, long before --time 5s + --recover 4s.
    assert!(took < Duration::from_secs(90), "took {took:?}");
    let leftovers = processes_mentioning(&hang.display().to_string());
    assert!(leftovers.is_empty(), "plugin processes left: {leftovers:?}");
    let runs: Vec<_> = std::fs::read_dir(store.path().join("adhoc"))
        .map(|d| d.flatten().collect())
        .unwrap_or_default();
    let faults = runs
        .iter()
        .map(|run| std::fs::read_to_string(run.path().join("faults.jsonl")).unwrap_or_default())
        .collect::<String>();
    assert!(
        faults.contains("adversary-failed"),
        "faults.jsonl records the failure: {faults}"
    );
}
