//! `traitor campaign FILE`: many runs from one file, each judged against what theory
//! expects, summed up as a CI gate (summary.json, junit.xml, report.html and a table).
//!
//! Exit codes: 0 every run as expected; 1 a false positive, an undecided check or a cell
//! below its detection bar; 2 a bad campaign file (the field named); 3 a run that could not
//! finish (harness or environment failure) or an interrupted campaign (run it again to
//! resume).

mod execute;
pub mod file;
mod merge;
pub mod plan;
pub mod shard;

use crate::cli::{CampaignAction, CampaignArgs};
use crate::exit::{warning, Failure, Outcome};
use crate::store::{write_atomically, write_json_atomically};
use execute::Runner;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{mpsc, Mutex};
use std::time::{Duration, Instant, SystemTime};
use traitor_checkers::accuracy::Outcome as RunOutcome;
use traitor_checkers::campaign::{RunRecord, Summary};
use traitor_checkers::detectors::score::{aggregate, RunScore};

/// Margin a run gets beyond its time and recovery window for start-up, final reads and
/// checks before it is called hung.
const RUN_MARGIN: Duration = Duration::from_secs(180);

/// Runs `traitor campaign` (or, with `merge`, puts shards together).
pub fn run(args: &CampaignArgs) -> Result<Outcome, Failure> {
    if let Some(CampaignAction::Merge { out, shards, json }) = &args.action {
        return merge::merge(out, shards, *json);
    }
    let path = args
        .file
        .as_deref()
        .ok_or_else(|| Failure::usage("traitor campaign: give a campaign FILE (or `merge`)"))?;
    let mut file = file::CampaignFile::read(path).map_err(Failure::usage)?;
    if let Some(seeds) = &args.seeds {
        file = file.with_seeds(seeds.clone()).map_err(Failure::usage)?;
    }
    let name = file
        .name(path)
        .map_err(|e| Failure::usage(format!("{}: {e}", path.display())))?;
    let plan =
        plan::plan(&file, path).map_err(|e| Failure::usage(format!("{}: {e}", path.display())))?;
    let shard = match (args.shard, args.shard_from_env) {
        (Some(shard), _) => Some(shard),
        (None, true) => {
            Some(shard::Shard::from_env(|name| std::env::var(name).ok()).map_err(Failure::usage)?)
        }
        (None, false) => None,
    };
    let runs: Vec<plan::PlannedRun> = plan
        .iter()
        .filter(|run| shard.is_none_or(|shard| shard.holds(&run.id)))
        .cloned()
        .collect();
    let timing = file.timing().map_err(Failure::usage)?;
    let parallel = args.parallel.or(file.parallel).unwrap_or(1);
    if parallel == 0 {
        return Err(Failure::usage("--parallel 0: expected at least 1"));
    }
    let store = std::path::absolute(&args.store)
        .map_err(|e| Failure::usage(format!("--store {}: {e}", args.store.display())))?;
    let dir = store.join(&name);
    std::fs::create_dir_all(&dir)
        .map_err(|e| Failure::harness(format!("creating {}: {e}", dir.display())))?;
    keep_campaign_file(path, &dir)?;
    write_json_atomically(&dir.join("plan.json"), &plan)
        .map_err(|e| Failure::harness(format!("writing {}/plan.json: {e}", dir.display())))?;
    if let Some(shard) = shard {
        let record = shard::ShardRecord {
            shard,
            traitor_version: env!("CARGO_PKG_VERSION").into(),
            runs: runs.iter().map(|run| run.id.clone()).collect(),
        };
        write_json_atomically(&dir.join("shard.json"), &record)
            .map_err(|e| Failure::harness(format!("writing {}/shard.json: {e}", dir.display())))?;
        eprintln!(
            "traitor: shard {shard}: {} of the campaign's {} run(s)",
            runs.len(),
            plan.len()
        );
    }

    let runner = Runner {
        dir: dir.clone(),
        store,
        campaign: name.clone(),
        run_limit: timing.time + timing.recover + RUN_MARGIN,
        stopping: AtomicBool::new(false),
        interrupted: AtomicBool::new(false),
        all_done: AtomicBool::new(false),
        children: Mutex::new(Vec::new()),
    };
    let started_at = humantime::format_rfc3339_seconds(SystemTime::now()).to_string();
    let started = Instant::now();
    let mut records: Vec<Option<RunRecord>> = runs.iter().map(|r| runner.finished(r)).collect();
    let pending: Vec<usize> = (0..runs.len()).filter(|&i| records[i].is_none()).collect();
    let resumed = runs.len() - pending.len();
    eprintln!(
        "traitor: campaign {name}: {} run(s), {} already finished, {parallel} side by side; folder {}",
        runs.len(),
        resumed,
        dir.display()
    );
    let bar = progress_bar(runs.len(), resumed, args.json);

    let next = AtomicUsize::new(0);
    let (done, finished) = mpsc::channel::<(usize, RunRecord)>();
    std::thread::scope(|scope| {
        scope.spawn(|| watch_signals(&runner));
        for _ in 0..parallel.min(pending.len().max(1)) {
            let done = done.clone();
            let (runner, runs, pending, next) = (&runner, &runs, &pending, &next);
            scope.spawn(move || loop {
                if runner.stopping.load(Ordering::SeqCst) {
                    return;
                }
                let Some(&index) = pending.get(next.fetch_add(1, Ordering::SeqCst)) else {
                    return;
                };
                let record = runner.run(&runs[index]);
                if done.send((index, record)).is_err() {
                    return;
                }
            });
        }
        drop(done);
        for (index, record) in finished {
            if bar.is_hidden() {
                if !args.json {
                    eprintln!("{}", line(&record));
                }
            } else {
                bar.println(line(&record));
            }
            bar.inc(1);
            records[index] = Some(record);
        }
        // Every worker is done: release the signal watcher.
        runner.all_done.store(true, Ordering::SeqCst);
    });
    bar.finish_and_clear();
    let interrupted = runner.interrupted.load(Ordering::SeqCst);

    let mut summary = Summary::build(
        name,
        runs.len() as u32,
        records.into_iter().flatten().collect(),
        file.min_detection_rate,
    );
    summary.started_at = started_at;
    summary.ended_at = humantime::format_rfc3339_seconds(SystemTime::now()).to_string();
    summary.wall_time_s = started.elapsed().as_secs_f64();
    summary.detectors = detector_scores(&summary.runs);
    write_outputs(&dir, &summary)?;

    print_summary(&dir, &summary, args.json);
    if interrupted {
        return Err(Failure::harness(format!(
            "interrupted after {} of {} runs; run the same command again to resume (finished runs are kept)",
            summary.runs.len(),
            summary.planned
        )));
    }
    Ok(outcome(&summary))
}

/// The summary as a table and the files' paths, or (`json`) one JSON object.
fn print_summary(dir: &Path, summary: &Summary, json: bool) {
    if json {
        println!(
            "{}",
            serde_json::json!({"campaign_dir": dir, "gate": summary.gate, "cells": summary.cells, "confusion": summary.confusion, "wall_time_s": summary.wall_time_s})
        );
    } else {
        print!("{}", traitor_reports::campaign::terminal(summary));
        println!(
            "summary {} | junit {} | report {}",
            dir.join("summary.json").display(),
            dir.join("junit.xml").display(),
            dir.join("report.html").display()
        );
    }
}

/// The exit code the gate's decision gives.
fn outcome(summary: &Summary) -> Outcome {
    if summary.gate.errors > 0 {
        Outcome::HarnessFailure
    } else if summary.gate.passed {
        Outcome::AsExpected
    } else {
        Outcome::Violation
    }
}

/// summary.json, junit.xml and report.html, each written whole.
fn write_outputs(dir: &Path, summary: &Summary) -> Result<(), Failure> {
    let harness = |what: &str, e: &dyn std::fmt::Display| {
        Failure::harness(format!("writing {}/{what}: {e}", dir.display()))
    };
    write_json_atomically(&dir.join("summary.json"), summary)
        .map_err(|e| harness("summary.json", &e))?;
    let junit =
        traitor_reports::campaign::junit(summary, dir).map_err(|e| harness("junit.xml", &e))?;
    write_atomically(&dir.join("junit.xml"), junit.as_bytes())
        .map_err(|e| harness("junit.xml", &e))?;
    traitor_reports::write_campaign_report(dir).map_err(|e| harness("report.html", &e))?;
    Ok(())
}

/// Keeps a copy of the campaign file in its folder; a different file over an existing
/// folder is allowed (finished runs with the same name are reused) but said out loud.
fn keep_campaign_file(file: &Path, dir: &Path) -> Result<(), Failure> {
    let text = file::read_text(file).map_err(Failure::usage)?;
    let kept = dir.join("campaign.toml");
    if let Ok(old) = std::fs::read_to_string(&kept) {
        if old != text {
            warning(format!(
                "{} differs from the file this campaign folder was started with; a finished run is kept only where its plan is unchanged, the others run again",
                file.display()
            ));
        }
    }
    write_atomically(&kept, text.as_bytes())
        .map_err(|e| Failure::harness(format!("writing {}: {e}", kept.display())))
}

fn progress_bar(total: usize, done: usize, quiet: bool) -> ProgressBar {
    let target = if quiet {
        ProgressDrawTarget::hidden()
    } else {
        ProgressDrawTarget::stderr()
    };
    let bar = ProgressBar::with_draw_target(Some(total as u64), target);
    bar.set_style(
        ProgressStyle::with_template(
            "{bar:30} {pos}/{len} runs [{elapsed_precise}, about {eta} left]",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    bar.set_position(done as u64);
    bar.enable_steady_tick(Duration::from_millis(500));
    bar
}

/// One finished run, as printed above the progress bar.
fn line(record: &RunRecord) -> String {
    let mark = match record.outcome {
        RunOutcome::AsExpected => "ok  ",
        RunOutcome::Error => "ERR ",
        _ => "FAIL",
    };
    format!(
        "{mark} {} ({:.0}s) {}: {}",
        record.id,
        record.elapsed_s,
        record.outcome.word(),
        record.evidence
    )
}

/// On Ctrl-C or SIGTERM: start no new run and tell running ones to stop (they tear down).
fn watch_signals(runner: &Runner) {
    let Ok(runtime) = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    else {
        return;
    };
    runtime.block_on(async {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(term) => term,
                Err(_) => return,
            };
        loop {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => break,
                _ = term.recv() => break,
                _ = tokio::time::sleep(Duration::from_millis(200)) => {
                    if runner.all_done.load(Ordering::SeqCst) {
                        return;
                    }
                }
            }
        }
        runner.interrupted.store(true, Ordering::SeqCst);
        runner.stopping.store(true, Ordering::SeqCst);
        runner.stop_children();
        warning("stopping: running runs tear down; finished runs are kept for a resume");
    });
}

/// The detectors' precision, recall, F1 and latency over every run that scored them, keyed
/// by detector, for the summary, the table and the report.
fn detector_scores(runs: &[RunRecord]) -> Option<serde_json::Value> {
    let scores: Vec<RunScore> = runs
        .iter()
        .filter_map(|r| serde_json::from_value(r.detectors.clone()?).ok())
        .collect();
    if scores.is_empty() {
        return None;
    }
    let ms = |ns: Option<i64>| ns.map(|ns| ns as f64 / 1e6);
    let table: serde_json::Map<String, serde_json::Value> = aggregate(&scores)
        .into_iter()
        .map(|d| {
            let name = serde_json::to_value(d.detector)
                .ok()
                .and_then(|v| v.as_str().map(str::to_string))
                .unwrap_or_else(|| format!("{:?}", d.detector));
            let row = serde_json::json!({
                "precision": d.precision,
                "recall": d.recall,
                "f1": d.f1,
                "true_positives": d.true_positives,
                "false_positives": d.false_positives,
                "false_negatives": d.false_negatives,
                "latency_median_ms": ms(d.latency_median_ns),
                "latency_max_ms": ms(d.latency_max_ns),
                "false_positive_runs": d.false_positive_runs,
                "false_negative_runs": d.false_negative_runs,
            });
            (name, row)
        })
        .collect();
    Some(serde_json::json!({"runs": scores.len(), "detectors": table}))
}
