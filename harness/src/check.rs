//! `traitor check`: verdicts on recorded histories and run folders, from the files alone.

use crate::cli::CheckArgs;
use crate::exit::{error, warning, Outcome};
use std::collections::HashSet;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::Path;
use std::time::Instant;
use traitor_checkers::files::{read_named, MAX_RECORDS_BYTES};
use traitor_checkers::input::load_history;
use traitor_checkers::run_folder::RunFolder;
use traitor_checkers::verdict::panic_message;
use traitor_checkers::{linearizability, Budget, Model, Validity};
use traitor_model::EventKind;
use traitor_reports::check::{details, table, InputVerdict};

/// Checks every input; prints a table (or JSON lines); returns the worst outcome.
pub fn run(args: &CheckArgs) -> Outcome {
    let mut verdicts = Vec::new();
    let mut outcome = Outcome::AsExpected;
    for input in &args.inputs {
        let name = input.display().to_string();
        let checked = catch_unwind(AssertUnwindSafe(|| check_input(input, args)));
        let verdict = match checked {
            Ok(Ok(verdict)) => verdict,
            Ok(Err(message)) => {
                report_failure(args.json, &name, &message);
                outcome = outcome.max(Outcome::BadInput);
                continue;
            }
            Err(panic) => {
                let message = panic_message(panic.as_ref());
                report_failure(
                    args.json,
                    &name,
                    &format!("internal failure while checking (a traitor bug): {message}"),
                );
                outcome = outcome.max(Outcome::HarnessFailure);
                continue;
            }
        };
        for w in &verdict.warnings {
            warning(format!("{name}: {w}"));
        }
        if verdict.valid != Validity::Holds {
            outcome = outcome.max(Outcome::Violation);
        }
        if args.json {
            println!("{}", verdict.to_json_line());
        }
        verdicts.push(verdict);
    }
    if !args.json && !verdicts.is_empty() {
        println!("{}", table(&verdicts));
        print!("{}", details(&verdicts));
    }
    outcome
}

fn report_failure(json: bool, file: &str, message: &str) {
    error(format!("{file}: {message}"));
    if json {
        println!(
            "{}",
            serde_json::json!({"file": file, "valid": "unknown", "error": message})
        );
    }
}

/// Every checker on a run folder, from the folder alone (`traitor check` and the end of
/// `traitor run`). `model` overrides the manifest's.
pub fn check_run_folder(
    dir: &Path,
    model: Option<Model>,
    budget: &Budget,
) -> Result<InputVerdict, String> {
    let started = Instant::now();
    let run = RunFolder::load(dir).map_err(|e| e.to_string())?;
    let checks = run.check(model, budget);
    let events = run.events.as_deref().unwrap_or_default();
    let ops = events
        .iter()
        .filter(|e| e.kind == EventKind::Invoke)
        .count();
    let processes = events
        .iter()
        .map(|e| e.process)
        .collect::<HashSet<_>>()
        .len();
    let name = dir.display().to_string();
    Ok(InputVerdict::new(
        name,
        "run".into(),
        ops,
        processes,
        started.elapsed(),
        checks,
        run.warnings,
    ))
}

fn check_input(path: &Path, args: &CheckArgs) -> Result<InputVerdict, String> {
    let budget = Budget::new(args.time_limit, args.memory_limit << 20);
    let budget = if args.all_keys {
        budget.deciding_every_key()
    } else {
        budget
    };
    let started = Instant::now();
    if path.is_dir() {
        return check_run_folder(path, args.model, &budget);
    }
    let model: Model = args.model.ok_or_else(|| {
        "a history file needs --model (register, cas-register, kv, counter or set); only run folders name their own".to_string()
    })?;
    let bytes = read_named(path, MAX_RECORDS_BYTES).map_err(|e| format!("not read: it {e}"))?;
    let text = String::from_utf8(bytes).map_err(|e| {
        format!(
            "not UTF-8 text (byte {}): is this a history?",
            e.utf8_error().valid_up_to()
        )
    })?;
    let loaded = load_history(&text, model).map_err(|e| e.to_string())?;
    drop(text);
    let result = linearizability::check(&loaded.operations, model, &budget);
    let warnings = loaded.operations.warnings.clone();
    Ok(InputVerdict::new(
        path.display().to_string(),
        loaded.format.to_string(),
        loaded.operations.invokes,
        loaded.operations.processes,
        started.elapsed(),
        vec![result],
        warnings,
    ))
}
