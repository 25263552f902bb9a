//! Running a campaign's runs: each one a child `traitor run` (its own network or loopback
//! range, so K run side by side), judged from its folder when it ends.
//!
//! Resumable: a run whose folder holds `campaign-run.json` finished earlier and is not run
//! again. A folder without it (a run cut off by kill -9 or Ctrl-C) is moved to
//! `interrupted/` (nothing recorded is deleted) and the run starts over. Children get
//! SIGTERM when the campaign dies (PR_SET_PDEATHSIG), so they tear their clusters down.

use super::plan::PlannedRun;
use crate::exit::warning;
use crate::store::write_json_atomically;
use serde_json::Value;
use std::collections::BTreeMap;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};
use traitor_checkers::accuracy::{judge, Outcome};
use traitor_checkers::campaign::RunRecord;
use traitor_checkers::files::{read_in, MAX_DOCUMENT_BYTES};
use traitor_checkers::{CheckResult, Validity};

/// The record a finished run leaves in its folder.
pub const RECORD: &str = "campaign-run.json";

/// What every run of one campaign shares.
pub struct Runner {
    /// The campaign folder: `<store>/<campaign>`.
    pub dir: PathBuf,
    pub store: PathBuf,
    pub campaign: String,
    /// A run is killed after this long (its time, recovery and a margin for start-up and
    /// checks): a hung run is an error, never a hung campaign.
    pub run_limit: Duration,
    /// Set on Ctrl-C or SIGTERM: no new run starts; running ones are told to stop.
    pub stopping: AtomicBool,
    /// A signal stopped the campaign (as opposed to running out of runs).
    pub interrupted: AtomicBool,
    /// Every worker has finished; the signal watcher may leave.
    pub all_done: AtomicBool,
    /// Children running now, so a stop can reach them.
    pub children: Mutex<Vec<u32>>,
}

impl Runner {
    /// A finished run's record from an earlier invocation of the same plan, re-judged
    /// against today's expectation; `None` when the run has to run (again): it never ran,
    /// ended in an error, or was planned differently (fault sets, times, arguments, the
    /// target or a plugin changed), which is said.
    pub fn finished(&self, run: &PlannedRun) -> Option<RunRecord> {
        let text = read_in(&self.dir.join(&run.id), RECORD, MAX_DOCUMENT_BYTES)
            .ok()
            .flatten()?;
        let mut record: RunRecord = serde_json::from_slice(&text).ok()?;
        if record.outcome == Outcome::Error {
            return None;
        }
        if record.fingerprint != run.fingerprint {
            warning(format!(
                "{}: finished earlier under another plan (its fault set, times, run arguments, target.toml or a plugin changed since); it runs again",
                run.id
            ));
            return None;
        }
        record.expectation = run.expectation.clone();
        record.outcome = judge(&record.expectation, &record.found);
        if let Ok(found) = read_verdict(&self.dir.join(&run.id)) {
            record.evidence = evidence(run, record.outcome, &found.checks);
        }
        record.resumed = true;
        Some(record)
    }

    /// Runs one planned run to its record. Never fails: what goes wrong becomes an `Error`
    /// record with the reason.
    pub fn run(&self, run: &PlannedRun) -> RunRecord {
        let started = Instant::now();
        let dir = self.dir.join(&run.id);
        let result = self.attempt(run, &dir);
        let elapsed_s = started.elapsed().as_secs_f64();
        let record = match result {
            Ok(found) => {
                let outcome = judge(&run.expectation, &found.answers);
                RunRecord {
                    evidence: evidence(run, outcome, &found.checks),
                    found: found.answers,
                    outcome,
                    detectors: found.detectors,
                    ..base_record(run, elapsed_s)
                }
            }
            Err(why) => RunRecord {
                evidence: why,
                outcome: Outcome::Error,
                ..base_record(run, elapsed_s)
            },
        };
        if let Err(e) = write_json_atomically(&dir.join(RECORD), &record) {
            warning(format!("{}: cannot record the run's result: {e}", run.id));
        }
        record
    }

    fn attempt(&self, run: &PlannedRun, dir: &Path) -> Result<Found, String> {
        if dir.exists() {
            let why = match dir.join(RECORD).exists() {
                true => "holds an earlier result that cannot be kept",
                false => "has no result from an earlier attempt",
            };
            set_aside(&self.dir, dir, why)?;
        }
        std::fs::create_dir_all(dir).map_err(|e| format!("creating {}: {e}", dir.display()))?;
        let log = std::fs::File::create(dir.join("harness.log"))
            .map_err(|e| format!("creating {}/harness.log: {e}", dir.display()))?;
        // /proc/self/exe still names this program after a rebuild replaced its file, so a
        // long campaign survives `cargo build` in the same tree.
        let exe = match Path::new("/proc/self/exe") {
            proc if proc.exists() => proc.to_path_buf(),
            _ => std::env::current_exe().map_err(|e| format!("finding the traitor binary: {e}"))?,
        };
        let mut command = Command::new(exe);
        command
            .arg("run")
            .args(&run.args)
            .args(["--store", &self.store.display().to_string()])
            .args(["--campaign", &self.campaign, "--run-id", &run.id, "--json"])
            .stdin(Stdio::null())
            .stdout(
                log.try_clone()
                    .map_err(|e| format!("sharing {}/harness.log: {e}", dir.display()))?,
            )
            .stderr(log);
        // SAFETY: prctl is async-signal-safe; nothing else runs between fork and exec.
        unsafe {
            command.pre_exec(|| {
                nix::sys::prctl::set_pdeathsig(nix::sys::signal::Signal::SIGTERM)
                    .map_err(std::io::Error::from)
            });
        }
        if self.stopping.load(Ordering::SeqCst) {
            return Err("not started: the campaign was stopping".into());
        }
        let mut child = command
            .spawn()
            .map_err(|e| format!("starting `traitor run`: {e}"))?;
        self.children
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(child.id());
        let status = self.wait(&mut child);
        self.children
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .retain(|&pid| pid != child.id());
        match status? {
            Some(0 | 1) => read_verdict(dir),
            Some(code) => Err(format!(
                "`traitor run` exited with {code}: {}",
                last_error(&dir.join("harness.log"))
            )),
            None => Err(format!(
                "`traitor run` was killed by a signal: {}",
                last_error(&dir.join("harness.log"))
            )),
        }
    }

    /// Waits for the child within the run limit; past it, SIGTERM, then SIGKILL.
    fn wait(&self, child: &mut Child) -> Result<Option<i32>, String> {
        let deadline = Instant::now() + self.run_limit;
        loop {
            match child.try_wait() {
                Ok(Some(status)) => return Ok(status.code()),
                Ok(None) if Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(100))
                }
                Ok(None) => {
                    terminate(child.id());
                    let grace = Instant::now() + Duration::from_secs(20);
                    while Instant::now() < grace {
                        if let Ok(Some(_)) = child.try_wait() {
                            break;
                        }
                        std::thread::sleep(Duration::from_millis(100));
                    }
                    let _ = child.kill();
                    let _ = child.wait();
                    return Err(format!(
                        "the run did not end within {}; it was stopped (see harness.log)",
                        humantime::format_duration(self.run_limit)
                    ));
                }
                Err(e) => return Err(format!("waiting for `traitor run`: {e}")),
            }
        }
    }

    /// Tells every running child to stop (they tear down and exit).
    pub fn stop_children(&self) {
        for &pid in self
            .children
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
        {
            terminate(pid);
        }
    }
}

fn terminate(pid: u32) {
    let _ = nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(pid as i32),
        nix::sys::signal::Signal::SIGTERM,
    );
}

/// A run's verdict as read back from its folder.
struct Found {
    answers: BTreeMap<String, Validity>,
    checks: Vec<CheckResult>,
    detectors: Option<Value>,
}

fn read_verdict(dir: &Path) -> Result<Found, String> {
    let path = dir.join("verdict.json");
    let text = std::fs::read_to_string(&path)
        .map_err(|e| format!("the run ended without {}: {e}", path.display()))?;
    let verdict: Value =
        serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?;
    let checks: Vec<CheckResult> = serde_json::from_value(verdict["checks"].clone())
        .map_err(|e| format!("{}: checks: {e}", path.display()))?;
    let answers = checks
        .iter()
        .map(|c| (c.checker.clone(), c.valid))
        .collect();
    let detectors = std::fs::read_to_string(dir.join("detectors.json"))
        .ok()
        .and_then(|t| serde_json::from_str::<Value>(&t).ok())
        .map(|d| d["score"].clone())
        .filter(|s| !s.is_null());
    Ok(Found {
        answers,
        checks,
        detectors,
    })
}

/// Moves a run folder that cannot be kept (`why`) to `interrupted/<id>-<k>` so the run can
/// start over without losing what it recorded.
fn set_aside(campaign_dir: &Path, dir: &Path, why: &str) -> Result<(), String> {
    let parking = campaign_dir.join("interrupted");
    std::fs::create_dir_all(&parking)
        .map_err(|e| format!("creating {}: {e}", parking.display()))?;
    let name = dir
        .file_name()
        .unwrap_or_default()
        .to_string_lossy()
        .into_owned();
    let to = (1..)
        .map(|k| parking.join(format!("{name}-{k}")))
        .find(|p| !p.exists())
        .unwrap_or_else(|| parking.join(name));
    std::fs::rename(dir, &to).map_err(|e| {
        format!(
            "moving the unfinished run {} to {}: {e}",
            dir.display(),
            to.display()
        )
    })?;
    warning(format!(
        "{} {why}; kept as {} and started over",
        dir.display(),
        to.display()
    ));
    Ok(())
}

/// The last error line `traitor run` wrote, or its last line.
fn last_error(log: &Path) -> String {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    lines
        .iter()
        .rev()
        .find(|l| l.contains("error"))
        .or(lines.last())
        .map(|l| l.trim().to_string())
        .unwrap_or_else(|| "no output".into())
}

/// The one line that says why a run came out as it did.
fn evidence(run: &PlannedRun, outcome: Outcome, checks: &[CheckResult]) -> String {
    let first_violation = |want: &dyn Fn(&CheckResult) -> bool| {
        checks
            .iter()
            .find(|c| want(c))
            .map(|c| format!("{}: {}", c.checker, c.summary))
    };
    let expected = |c: &CheckResult, e| run.expectation.checks.get(&c.checker) == Some(&e);
    use traitor_checkers::accuracy::Expect;
    match outcome {
        Outcome::FalsePositive => {
            first_violation(&|c| c.valid == Validity::Violated && expected(c, Expect::Holds))
        }
        Outcome::Undecided => {
            first_violation(&|c| c.valid == Validity::Unknown && expected(c, Expect::Holds))
        }
        Outcome::FalseNegative => {
            let wanted: Vec<&str> = run
                .expectation
                .checks
                .iter()
                .filter(|(_, e)| **e == Expect::Violated)
                .map(|(c, _)| c.as_str())
                .collect();
            Some(format!(
                "expected {} to break; the run found no such violation",
                wanted.join(" or ")
            ))
        }
        Outcome::AsExpected | Outcome::Error => first_violation(&|c| c.valid == Validity::Violated),
    }
    .unwrap_or_else(|| "every check held".into())
}

fn base_record(run: &PlannedRun, elapsed_s: f64) -> RunRecord {
    RunRecord {
        id: run.id.clone(),
        cell: run.cell(),
        target: run.target.clone(),
        variant: run.variant.clone(),
        faults: run.faults.clone(),
        n: run.n,
        seed: run.seed,
        expectation: run.expectation.clone(),
        fingerprint: run.fingerprint.clone(),
        found: BTreeMap::new(),
        outcome: Outcome::Error,
        evidence: String::new(),
        elapsed_s,
        resumed: false,
        detectors: None,
    }
}

#[cfg(test)]
mod tests {
    use super::super::{file::CampaignFile, plan::plan};
    use super::*;

    /// The campaign's runs as planned from `text`, written to `dir/campaign.toml`.
    fn planned(dir: &Path, text: &str) -> Vec<PlannedRun> {
        let target = Path::new(env!("CARGO_MANIFEST_DIR")).join("../targets/pbft");
        let text = format!("backend = \"process\"\n{text}\n[[group]]\ntarget = {target:?}\n");
        let path = dir.join("campaign.toml");
        std::fs::write(&path, text).unwrap();
        plan(&CampaignFile::read(&path).unwrap(), &path).unwrap()
    }

    /// A runner over `dir` whose run `run` finished as expected with every check holding.
    fn finished_once(dir: &Path, run: &PlannedRun) -> Runner {
        let runner = Runner {
            dir: dir.join("store/c"),
            store: dir.join("store"),
            campaign: "c".into(),
            run_limit: Duration::from_secs(1),
            stopping: AtomicBool::new(false),
            interrupted: AtomicBool::new(false),
            all_done: AtomicBool::new(false),
            children: Mutex::new(Vec::new()),
        };
        let record = RunRecord {
            outcome: Outcome::AsExpected,
            ..base_record(run, 1.0)
        };
        let run_dir = runner.dir.join(&run.id);
        std::fs::create_dir_all(&run_dir).unwrap();
        write_json_atomically(&run_dir.join(RECORD), &record).unwrap();
        runner
    }

    #[test]
    fn an_edited_campaign_runs_again_what_it_changed() {
        let dir = tempfile::tempdir().unwrap();
        let first = planned(dir.path(), "time = \"5s\"\n[faults.a]\nnemesis = \"none\"");
        let runner = finished_once(dir.path(), &first[0]);
        assert!(
            runner.finished(&first[0]).is_some(),
            "the same plan resumes"
        );

        for edit in [
            "time = \"6s\"\n[faults.a]\nnemesis = \"none\"",
            "time = \"5s\"\n[faults.a]\nnemesis = \"crash\"",
            "time = \"5s\"\nrun_args = [\"--rate\", \"5\"]\n[faults.a]\nnemesis = \"none\"",
        ] {
            let edited = planned(dir.path(), edit);
            assert_eq!(edited[0].id, first[0].id, "the same folder name");
            assert!(
                runner.finished(&edited[0]).is_none(),
                "{edit:?} kept a run of another plan"
            );
        }
    }

    #[test]
    fn a_changed_plugin_is_another_run() {
        let dir = tempfile::tempdir().unwrap();
        let plugin = dir.path().join("p.py");
        std::fs::write(&plugin, "#!/bin/sh\necho v1\n").unwrap();
        std::fs::set_permissions(&plugin, std::os::unix::fs::PermissionsExt::from_mode(0o755))
            .unwrap();
        let text =
            "[faults.a]\nnemesis = \"none\"\nadversaries = [\"plugin:p.py\"]\nbyzantine = \"1\"";
        let first = planned(dir.path(), text);
        let runner = finished_once(dir.path(), &first[0]);
        assert!(runner.finished(&first[0]).is_some());
        std::fs::write(&plugin, "#!/bin/sh\necho v2\n").unwrap();
        assert!(runner.finished(&planned(dir.path(), text)[0]).is_none());
    }
}
