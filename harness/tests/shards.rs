//! A campaign run whole and the same campaign run as 3 shards, merged: the same runs, the
//! same cells, confusion matrices and gate decision, the same exit code. Overlapping shards
//! and shards of another campaign are refused.

mod common;

use common::{traitor, workspace};
use serde_json::Value;
use std::path::Path;
use std::time::Duration;

/// A small campaign over the foreign-system fixture (local processes, a few seconds a run).
fn campaign_file(dir: &Path) -> std::path::PathBuf {
    let target = workspace().join("harness/tests/fixtures/foreign");
    let text = format!(
        "name = \"small\"\nbackend = \"process\"\ntime = \"2s\"\nrecover = \"2s\"\nsettle = \"1s\"\n\
         seeds = 3\nparallel = 2\n\n[faults.quiet]\nnemesis = \"none\"\n\n[faults.pauses]\n\
         nemesis = \"pause\"\n\n[[group]]\ntarget = {:?}\n",
        target.display().to_string()
    );
    let path = dir.join("small.toml");
    std::fs::write(&path, text).unwrap();
    path
}

fn campaign(args: &[&str]) -> std::process::Output {
    traitor()
        .arg("campaign")
        .args(args)
        .timeout(Duration::from_secs(600))
        .output()
        .unwrap()
}

fn summary(dir: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(dir.join("summary.json")).unwrap()).unwrap()
}

/// What must not depend on how the campaign was spread: the runs and what they found, the
/// cells, the confusion matrices and the gate.
fn decision(summary: &Value) -> Value {
    let runs: Vec<Value> = summary["runs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| serde_json::json!([r["id"], r["outcome"], r["found"]]))
        .collect();
    serde_json::json!({
        "planned": summary["planned"], "runs": runs, "cells": summary["cells"],
        "confusion": summary["confusion"], "gate": summary["gate"],
    })
}

#[test]
fn three_shards_merged_decide_as_the_whole_campaign() {
    let dir = tempfile::tempdir().unwrap();
    let file = campaign_file(dir.path());
    let file = file.to_str().unwrap();
    let store = |name: &str| dir.path().join(name).to_str().unwrap().to_string();
    let whole = campaign(&[file, "--store", &store("whole")]);
    let mut shard_dirs = Vec::new();
    let mut planned = 0;
    for k in 1..=3 {
        let out = campaign(&[
            file,
            "--store",
            &store(&format!("shard{k}")),
            "--shard",
            &format!("{k}/3"),
        ]);
        let shard_dir = dir.path().join(format!("shard{k}/small"));
        planned += summary(&shard_dir)["planned"].as_u64().unwrap();
        assert!(
            matches!(out.status.code(), Some(0 | 1)),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        shard_dirs.push(shard_dir.to_str().unwrap().to_string());
    }
    assert_eq!(planned, 6, "the shards hold every run exactly once");
    let merged_dir = store("merged");
    let mut merge_args = vec!["merge", merged_dir.as_str()];
    merge_args.extend(shard_dirs.iter().map(String::as_str));
    let merged = campaign(&merge_args);
    let whole_summary = summary(&dir.path().join("whole/small"));
    let merged_summary = summary(Path::new(&merged_dir));
    assert_eq!(decision(&merged_summary), decision(&whole_summary));
    assert_eq!(
        merged.status.code(),
        whole.status.code(),
        "{}",
        String::from_utf8_lossy(&merged.stderr)
    );
    for file in ["junit.xml", "report.html"] {
        assert!(
            Path::new(&merged_dir).join(file).is_file(),
            "{file} missing"
        );
    }
    let first_run = merged_summary["runs"][0]["id"].as_str().unwrap();
    assert!(Path::new(&merged_dir)
        .join(first_run)
        .join("verdict.json")
        .is_file());

    // The same shard twice overlaps; a shard of another campaign does not belong.
    let twice = campaign(&["merge", &store("again"), &shard_dirs[0], &shard_dirs[0]]);
    let stderr = String::from_utf8_lossy(&twice.stderr);
    assert_eq!(twice.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("overlap"), "{stderr}");
    let other = Path::new(&shard_dirs[1]).join("campaign.toml");
    std::fs::write(
        &other,
        std::fs::read_to_string(&other).unwrap() + "\n# edited\n",
    )
    .unwrap();
    let foreign = campaign(&["merge", &store("again2"), &shard_dirs[0], &shard_dirs[1]]);
    let stderr = String::from_utf8_lossy(&foreign.stderr);
    assert_eq!(foreign.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains(&shard_dirs[1]) && stderr.contains("campaign.toml"),
        "{stderr}"
    );
}
