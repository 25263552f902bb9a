//! etcd 3.4 (Debian's etcd-server, unmodified) in Docker: the foreign-system contract on a
//! real system. The Docker tests never skip: without an engine or etcd they fail and say so
//! (`scripts/test.sh` installs etcd-server).

mod common;

use common::{check, labelled_leftovers, require_docker, traitor};
use serde_json::Value;
use std::path::Path;
use std::sync::Mutex;
use std::time::Duration;

/// Held by each test: each checks that no labelled container is left behind.
static DOCKER: Mutex<()> = Mutex::new(());

fn require_etcd() {
    assert!(
        Path::new("/usr/bin/etcd").is_file(),
        "these tests run Debian's etcd: apt-get install etcd-server (scripts/test.sh does)"
    );
}

/// One etcd run in Docker with `nemesis` (`--nemesis LIST` or `--nemesis-file PATH`);
/// returns the JSON verdict and the exit code.
fn etcd_run(nemesis: &[&str], variant: Option<&str>, store: &Path) -> (Value, Option<i32>) {
    let mut cmd = traitor();
    cmd.args(["run", "--target", "targets/etcd", "--backend", "docker"])
        .args([
            "--time",
            "12s",
            "--recover",
            "6s",
            "--settle",
            "3s",
            "--seed",
            "1",
        ])
        .arg("--json")
        .args(nemesis)
        .arg("--store")
        .arg(store);
    if let Some(variant) = variant {
        cmd.args(["--variant", variant]);
    }
    let out = cmd.timeout(Duration::from_secs(600)).output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let verdict =
        serde_json::from_str(stdout.lines().last().unwrap_or_default()).unwrap_or_else(|e| {
            panic!(
                "no JSON verdict ({e}); stdout: {stdout}\nstderr: {}",
                String::from_utf8_lossy(&out.stderr)
            )
        });
    (verdict, out.status.code())
}

#[test]
fn etcd_stays_linearizable_with_partitions_and_a_crashed_leader() {
    require_docker();
    require_etcd();
    let _docker = DOCKER.lock().unwrap_or_else(|p| p.into_inner());
    let store = tempfile::tempdir().unwrap();
    let (verdict, code) = etcd_run(
        &[
            "--nemesis",
            "partition,crash-primary",
            "--nemesis-interval",
            "2s",
            "--nemesis-duration",
            "3s",
        ],
        None,
        store.path(),
    );
    for property in ["agreement", "validity", "linearizability"] {
        assert_eq!(check(&verdict, property)["valid"], true, "{verdict:#}");
    }
    assert!(matches!(code, Some(0 | 1)), "{verdict:#}");
    let run_dir = Path::new(verdict["run_dir"].as_str().unwrap());
    // The committed logs were read from each member's MVCC history, through the adapter.
    let commits = std::fs::read_to_string(run_dir.join("commits.jsonl")).unwrap();
    assert!(
        commits.contains("\"client\""),
        "no traced entry in commits.jsonl"
    );
    let faults = std::fs::read_to_string(run_dir.join("faults.jsonl")).unwrap();
    assert!(faults.contains("crash-primary"), "{faults}");
    assert_eq!(
        labelled_leftovers(),
        (0, 0),
        "the run left containers or networks behind"
    );
}

#[test]
fn serializable_reads_are_caught_serving_a_stale_value() {
    require_docker();
    require_etcd();
    let _docker = DOCKER.lock().unwrap_or_else(|p| p.into_inner());
    let store = tempfile::tempdir().unwrap();
    let timeline = ["--nemesis-file", "examples/nemesis/isolate-node-1.toml"];
    let (verdict, code) = etcd_run(&timeline, Some("serializable-reads"), store.path());
    let linearizability = check(&verdict, "linearizability");
    assert_eq!(linearizability["valid"], false, "{verdict:#}");
    assert_eq!(code, Some(1), "{verdict:#}");
    // The explanation names the read that saw an old value.
    assert!(
        linearizability.to_string().contains("read"),
        "{linearizability:#}"
    );
    assert_eq!(check(&verdict, "agreement")["valid"], true, "{verdict:#}");
    assert_eq!(
        labelled_leftovers(),
        (0, 0),
        "the run left containers or networks behind"
    );
}
