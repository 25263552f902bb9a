//! `traitor campaign` end to end on the process backend: a campaign killed with SIGKILL
//! mid-way resumes without redoing finished runs, keeps the cut-off run's folder, and ends
//! with a summary, a JUnit file a JUnit parser reads, and a campaign report.

mod common;

use common::{traitor, workspace};
use serde_json::Value;
use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

/// Three short runs of the correct pbft, one at a time.
fn campaign_file(dir: &Path) -> std::path::PathBuf {
    let path = dir.join("resume.toml");
    let target = workspace().join("targets/pbft");
    std::fs::write(
        &path,
        format!(
            r#"
name = "resume"
backend = "process"
time = "3s"
recover = "5s"
settle = "3s"
seeds = 3
parallel = 1
run_args = ["--rate", "20"]

[faults.quiet]
nemesis = "none"

[[group]]
target = "{}"
"#,
            target.display()
        ),
    )
    .unwrap();
    path
}

fn records(dir: &Path) -> Vec<String> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut done: Vec<String> = entries
        .flatten()
        .filter(|e| e.path().join("campaign-run.json").is_file())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    done.sort();
    done
}

#[test]
fn a_campaign_killed_with_sigkill_resumes_without_redoing_finished_runs() {
    let tmp = tempfile::tempdir().unwrap();
    let file = campaign_file(tmp.path());
    let store = tmp.path().join("runs");
    let campaign_dir = store.join("resume");
    let mut child = std::process::Command::new(assert_cmd::cargo::cargo_bin("traitor"))
        .args(["campaign"])
        .arg(&file)
        .arg("--store")
        .arg(&store)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // Kill it outright once the first run is done and the second has started.
    let deadline = Instant::now() + Duration::from_secs(240);
    loop {
        let started_second = std::fs::read_dir(&campaign_dir).is_ok_and(|entries| {
            entries
                .flatten()
                .filter(|e| e.path().join("harness.log").is_file())
                .count()
                >= 2
        });
        if records(&campaign_dir).len() == 1 && started_second {
            break;
        }
        assert!(
            child.try_wait().unwrap().is_none(),
            "the campaign ended before it could be killed"
        );
        assert!(Instant::now() < deadline, "the first run never finished");
        std::thread::sleep(Duration::from_millis(100));
    }
    std::thread::sleep(Duration::from_millis(1500));
    child.kill().unwrap();
    child.wait().unwrap();
    let finished_before = records(&campaign_dir);
    assert_eq!(finished_before.len(), 1, "{finished_before:?}");
    let first_record = std::fs::read_to_string(
        campaign_dir
            .join(&finished_before[0])
            .join("campaign-run.json"),
    )
    .unwrap();
    // The orphaned run got SIGTERM from the kernel when its campaign died; give it time to
    // tear down before the resume reuses its name.
    std::thread::sleep(Duration::from_secs(5));

    let out = traitor()
        .args(["campaign", "--json"])
        .arg(&file)
        .arg("--store")
        .arg(&store)
        .timeout(Duration::from_secs(300))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "stderr: {stderr}");
    assert!(
        stderr.contains("1 already finished"),
        "the resume must say what it kept: {stderr}"
    );

    let summary: Value =
        serde_json::from_str(&std::fs::read_to_string(campaign_dir.join("summary.json")).unwrap())
            .unwrap();
    let runs = summary["runs"].as_array().unwrap();
    assert_eq!(runs.len(), 3);
    let resumed: Vec<&str> = runs
        .iter()
        .filter(|r| r["resumed"] == true)
        .map(|r| r["id"].as_str().unwrap())
        .collect();
    assert_eq!(
        resumed,
        [finished_before[0].as_str()],
        "only the finished run is kept"
    );
    assert_eq!(
        std::fs::read_to_string(
            campaign_dir
                .join(&finished_before[0])
                .join("campaign-run.json")
        )
        .unwrap(),
        first_record,
        "the finished run was not run again"
    );
    assert!(
        runs.iter().all(|r| r["outcome"] == "as-expected"),
        "{runs:#?}"
    );
    assert_eq!(summary["gate"]["passed"], true);
    // The run that was cut off is kept, not deleted.
    let kept: Vec<_> = std::fs::read_dir(campaign_dir.join("interrupted"))
        .expect("the cut-off run's folder is kept under interrupted/")
        .flatten()
        .collect();
    assert_eq!(kept.len(), 1);

    let junit = junit_parser::from_reader(std::io::BufReader::new(
        std::fs::File::open(campaign_dir.join("junit.xml")).unwrap(),
    ))
    .expect("junit.xml parses");
    assert_eq!(junit.tests, 3);
    assert_eq!(junit.failures + junit.errors, 0);
    let cases: Vec<&str> = junit.suites[0]
        .cases
        .iter()
        .map(|c| c.original_name.as_str())
        .collect();
    assert_eq!(cases.len(), 3);
    assert!(cases.contains(&finished_before[0].as_str()));

    let report = std::fs::read_to_string(campaign_dir.join("report.html")).unwrap();
    assert!(report.contains("GATE PASSED"));
    for run in runs {
        assert!(report.contains(&format!("{}/report.html", run["id"].as_str().unwrap())));
    }
}

#[test]
fn a_bad_campaign_file_exits_2_naming_the_field() {
    let tmp = tempfile::tempdir().unwrap();
    let cases = [
        ("[[group]]\ntarget = \"nowhere\"\n", "nowhere"),
        ("seeds = 0\n[[group]]\ntarget = \"t\"\n", "seeds"),
        (
            &format!(
                "[[group]]\ntarget = \"{}\"\nvariants = [\"no-such-bug\"]\n",
                workspace().join("targets/pbft").display()
            ),
            "no-such-bug",
        ),
        (
            &format!(
                "[faults.x]\nadversaries = [\"bogus\"]\nbyzantine = \"1\"\n[[group]]\ntarget = \"{}\"\n",
                workspace().join("targets/pbft").display()
            ),
            "bogus",
        ),
    ];
    for (text, needle) in cases {
        let file = tmp.path().join("bad.toml");
        std::fs::write(&file, text).unwrap();
        let out = traitor()
            .arg("campaign")
            .arg(&file)
            .arg("--store")
            .arg(tmp.path().join("runs"))
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{text:?}: {stderr}");
        assert!(
            stderr.contains(needle),
            "{text:?} should name {needle:?}: {stderr}"
        );
        assert!(!stderr.contains("panicked"), "{stderr}");
    }
}

#[test]
fn a_campaign_edited_between_two_invocations_reruns_the_changed_run_and_says_so() {
    let tmp = tempfile::tempdir().unwrap();
    let store = tmp.path().join("runs");
    let file = tmp.path().join("edited.toml");
    let write = |time: &str| {
        let text = format!(
            "name = \"edited\"\nbackend = \"process\"\ntime = \"{time}\"\nrecover = \"5s\"\n\
             settle = \"3s\"\nrun_args = [\"--rate\", \"20\"]\n[faults.quiet]\nnemesis = \"none\"\n\
             [[group]]\ntarget = {:?}\n",
            workspace().join("targets/pbft")
        );
        std::fs::write(&file, text).unwrap();
    };
    let invoke = || {
        let out = traitor()
            .args(["campaign", "--json"])
            .arg(&file)
            .arg("--store")
            .arg(&store)
            .timeout(Duration::from_secs(300))
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        assert_eq!(out.status.code(), Some(0), "stderr: {stderr}");
        stderr
    };
    let resumed = || {
        let text = std::fs::read_to_string(store.join("edited/summary.json")).unwrap();
        let summary: Value = serde_json::from_str(&text).unwrap();
        summary["runs"][0]["resumed"] == true
    };
    write("2s");
    invoke();
    write("3s");
    let stderr = invoke();
    assert!(
        stderr.contains("finished earlier under another plan")
            && stderr.contains("0 already finished"),
        "{stderr}"
    );
    assert!(!resumed(), "the edited run ran again");
    let set_aside = std::fs::read_dir(store.join("edited/interrupted"))
        .unwrap()
        .count();
    assert_eq!(set_aside, 1, "the earlier run's folder is kept");
    // Unchanged since: kept.
    let stderr = invoke();
    assert!(stderr.contains("1 already finished"), "{stderr}");
    assert!(resumed());
}
