//! A run folder as the checkers see it: loaded from disk alone, so `traitor check RUN_DIR`
//! works on old runs and on runs whose harness was killed (truncated tails are warned
//! about, missing files make the checkers that need them answer unknown).

use crate::files::{read_in, FileError, MAX_DOCUMENT_BYTES, MAX_RECORDS_BYTES};
use crate::models::WORKLOADS_WITHOUT_MODEL;
use crate::verdict::{panic_message, CheckResult};
use crate::{agreement, linearizability, ops, termination, validity, Budget, Model};
use std::path::{Path, PathBuf};
use traitor_model::read::{parse_history, parse_records, ParseError};
use traitor_model::{CommitRead, Event, FaultRecord, Manifest};

/// Everything the checkers read from a run folder.
#[derive(Debug, Default)]
pub struct RunFolder {
    pub dir: PathBuf,
    pub manifest: Option<Manifest>,
    /// The client history; `None` when `history.jsonl` is missing.
    pub events: Option<Vec<Event>>,
    pub commits: Vec<CommitRead>,
    pub faults: Vec<FaultRecord>,
    pub warnings: Vec<String>,
}

/// The records of one JSON-lines file and the warnings met reading it.
pub type Records<T> = (Vec<T>, Vec<String>);

/// Why a folder could not be loaded: the file and what is wrong with it.
#[derive(Debug, thiserror::Error)]
pub enum RunFolderError {
    #[error("{path}: {source}")]
    Read { path: PathBuf, source: FileError },
    #[error("{path}: {source}")]
    Parse { path: PathBuf, source: ParseError },
    #[error("{path}: {message}")]
    Invalid { path: PathBuf, message: String },
    #[error("{path}: not a run folder (it has neither manifest.json nor history.jsonl)")]
    NotARun { path: PathBuf },
}

impl RunFolder {
    /// Whether `dir` looks like a run folder.
    pub fn is_run_folder(dir: &Path) -> bool {
        dir.join("manifest.json").is_file() || dir.join("history.jsonl").is_file()
    }

    /// Loads a run folder.
    pub fn load(dir: &Path) -> Result<Self, RunFolderError> {
        if !Self::is_run_folder(dir) {
            return Err(RunFolderError::NotARun {
                path: dir.to_path_buf(),
            });
        }
        let mut run = RunFolder {
            dir: dir.to_path_buf(),
            ..Default::default()
        };
        if let Some(text) = read_optional(dir, "manifest.json", MAX_DOCUMENT_BYTES)? {
            let manifest = parse_manifest(&text).map_err(|message| RunFolderError::Invalid {
                path: dir.join("manifest.json"),
                message,
            })?;
            run.manifest = Some(manifest);
        } else {
            run.warnings.push(
                "manifest.json is missing: the Byzantine set and heal time are unknown".into(),
            );
        }
        if let Some(text) = read_optional(dir, "history.jsonl", MAX_RECORDS_BYTES)? {
            let parsed = parse_history(&text).or_else(|e| match text.trim().is_empty() {
                true => Ok(Default::default()),
                false => Err(RunFolderError::Parse {
                    path: dir.join("history.jsonl"),
                    source: e,
                }),
            })?;
            run.note("history.jsonl", parsed.warnings);
            run.events = Some(parsed.events);
        }
        run.commits = run.records("commits.jsonl")?;
        run.faults = run.records("faults.jsonl")?;
        Ok(run)
    }

    fn records<T: serde::de::DeserializeOwned>(
        &mut self,
        name: &str,
    ) -> Result<Vec<T>, RunFolderError> {
        let Some((records, warnings)) = self.read_records(name)? else {
            return Ok(Vec::new());
        };
        self.note(name, warnings);
        Ok(records)
    }

    /// Reads a JSON-lines file of the folder that [`RunFolder::load`] leaves alone (the
    /// trace, the metrics), with its warnings; `None` when the file is missing.
    pub fn read_records<T: serde::de::DeserializeOwned>(
        &self,
        name: &str,
    ) -> Result<Option<Records<T>>, RunFolderError> {
        let Some(text) = read_optional(&self.dir, name, MAX_RECORDS_BYTES)? else {
            return Ok(None);
        };
        parse_records(&text)
            .map(Some)
            .map_err(|source| RunFolderError::Parse {
                path: self.dir.join(name),
                source,
            })
    }

    fn note(&mut self, file: &str, warnings: Vec<String>) {
        self.warnings
            .extend(warnings.into_iter().map(|w| format!("{file}: {w}")));
    }

    /// The manifest and the committed-log reads of correct nodes, or why there are none to
    /// judge (for the checkers that read committed logs).
    pub fn correct_reads(&self) -> Result<(&Manifest, Vec<&CommitRead>), &str> {
        let manifest = self
            .manifest
            .as_ref()
            .ok_or("no manifest.json: which nodes are correct is unknown")?;
        if let Some(why) = &manifest.logs_unobserved {
            return Err(why);
        }
        let reads: Vec<&CommitRead> = self
            .commits
            .iter()
            .filter(|r| manifest.is_correct(r.node))
            .collect();
        if reads.is_empty() {
            return Err("no committed log of a correct node was recorded (commits.jsonl)");
        }
        Ok((manifest, reads))
    }

    /// The workload model the manifest names, as written (it may be one traitor does not know).
    pub fn manifest_model(&self) -> Option<&str> {
        self.manifest.as_ref()?.model.as_deref()
    }

    /// Runs every checker on the folder. `model` overrides the manifest's; a workload with no
    /// linearizability model (the generals' orders) is checked for the other properties only.
    pub fn check(&self, model: Option<Model>, budget: &Budget) -> Vec<CheckResult> {
        let mut results = vec![
            guarded(agreement::NAME, || agreement::check(self)),
            guarded(validity::NAME, || validity::check(self)),
            guarded(termination::NAME, || termination::check(self)),
        ];
        let model = match (model, self.manifest_model()) {
            (Some(model), _) => Ok(model),
            (None, Some(name)) if WORKLOADS_WITHOUT_MODEL.contains(&name) => return results,
            // An unknown name is never a reason to skip the check: that would pass silently.
            (None, Some(name)) => name
                .parse()
                .map_err(|e| format!("manifest.json: model: {e}; pass --model")),
            (None, None) => Err("no model: the manifest names none; pass --model".into()),
        };
        results.push(match (model, &self.events) {
            (Ok(model), Some(events)) => guarded(linearizability::NAME, || {
                match ops::operations(events, model) {
                    Ok(operations) => linearizability::check(&operations, model, budget),
                    Err(e) => {
                        CheckResult::unknown(linearizability::NAME, format!("history.jsonl: {e}"))
                    }
                }
            }),
            (Ok(_), None) => {
                CheckResult::unknown(linearizability::NAME, "history.jsonl is missing")
            }
            (Err(why), _) => CheckResult::unknown(linearizability::NAME, why),
        });
        results
    }
}

/// Runs one checker; a checker that panics answers unknown (naming the panic) instead of
/// taking the other checkers' verdicts down with it.
fn guarded(name: &str, checker: impl FnOnce() -> CheckResult) -> CheckResult {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(checker)).unwrap_or_else(|panic| {
        let why = panic_message(panic.as_ref());
        CheckResult::unknown(
            name,
            format!("the {name} checker failed (a traitor bug): {why}"),
        )
    })
}

/// `manifest.json`, parsed and validated (its sizes and ids are what checkers allocate by).
pub fn parse_manifest(text: &str) -> Result<Manifest, String> {
    let manifest: Manifest = serde_json::from_str(text).map_err(|e| e.to_string())?;
    manifest.validate()?;
    Ok(manifest)
}

fn read_optional(dir: &Path, name: &str, limit: u64) -> Result<Option<String>, RunFolderError> {
    let bytes = read_in(dir, name, limit).map_err(|source| RunFolderError::Read {
        path: dir.join(name),
        source,
    })?;
    Ok(bytes.map(|b| String::from_utf8_lossy(&b).into_owned()))
}
