//! Helpers shared by the end-to-end tests.

#![allow(dead_code)] // each test binary uses part of this module

use assert_cmd::Command;
use std::path::PathBuf;
use std::process::Stdio;

pub fn workspace() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

pub fn traitor() -> Command {
    let mut cmd = Command::cargo_bin("traitor").unwrap();
    cmd.current_dir(workspace());
    cmd
}

/// Containers and networks still carrying a traitor run label.
pub fn labelled_leftovers() -> (usize, usize) {
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

pub fn require_docker() {
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

/// The result of checker `name` in a JSON verdict (`traitor run --json`).
pub fn check<'a>(verdict: &'a serde_json::Value, name: &str) -> &'a serde_json::Value {
    verdict["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["checker"] == name)
        .unwrap_or_else(|| panic!("{name} missing: {verdict:#}"))
}
