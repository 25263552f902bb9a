//! `traitor campaign merge OUT SHARD...`: the folders of a campaign's shards, put back
//! together into one campaign folder with the summary, JUnit report, HTML report, gate and
//! exit code one machine running every run would have given. Shards of different campaign
//! files or traitor versions, and shards that overlap, are refused, naming the shard; runs
//! no shard holds are listed and count as not run.

use super::file::CampaignFile;
use super::plan::PlannedRun;
use super::shard::ShardRecord;
use crate::exit::{warning, Failure, Outcome};
use crate::store::write_atomically;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use traitor_checkers::campaign::{RunRecord, Summary};

/// One shard's folder, read.
struct ShardFolder {
    dir: PathBuf,
    campaign_file: String,
    plan: Vec<PlannedRun>,
    record: ShardRecord,
    summary: Summary,
}

impl ShardFolder {
    fn read(dir: &Path) -> Result<Self, Failure> {
        Ok(Self {
            dir: dir.to_path_buf(),
            campaign_file: read_text(dir, "campaign.toml")?,
            plan: read_json(dir, "plan.json")?,
            record: read_json(dir, "shard.json")?,
            summary: read_json(dir, "summary.json")?,
        })
    }
}

fn read_text(dir: &Path, name: &str) -> Result<String, Failure> {
    std::fs::read_to_string(dir.join(name)).map_err(|e| {
        Failure::usage(format!(
            "{}: not a shard's campaign folder: cannot read {name} ({e}); give the folders \
             `traitor campaign FILE --shard K/N` wrote",
            dir.display()
        ))
    })
}

fn read_json<T: serde::de::DeserializeOwned>(dir: &Path, name: &str) -> Result<T, Failure> {
    serde_json::from_str(&read_text(dir, name)?)
        .map_err(|e| Failure::usage(format!("{}: {name}: {e}", dir.display())))
}

/// Merges `shards` into the campaign folder `out`.
pub fn merge(out: &Path, shards: &[PathBuf], json: bool) -> Result<Outcome, Failure> {
    let folders = shards
        .iter()
        .map(|dir| ShardFolder::read(dir))
        .collect::<Result<Vec<_>, _>>()?;
    let first = folders
        .first()
        .ok_or_else(|| Failure::usage("campaign merge: give at least one shard folder"))?;
    check_together(&folders)?;
    std::fs::create_dir_all(out)
        .map_err(|e| Failure::harness(format!("creating {}: {e}", out.display())))?;
    let file: CampaignFile = toml::from_str(&first.campaign_file)
        .map_err(|e| Failure::usage(format!("{}/campaign.toml: {e}", first.dir.display())))?;
    let records = gather_runs(&folders, out)?;
    let missing: Vec<&str> = first
        .plan
        .iter()
        .filter(|run| !records.contains_key(&run.id))
        .map(|run| run.id.as_str())
        .collect();
    if !missing.is_empty() {
        warning(format!(
            "{} planned run(s) are in no shard; they count as not run: {}",
            missing.len(),
            missing.join(", ")
        ));
    }
    let mut by_plan = records;
    let runs: Vec<RunRecord> = first
        .plan
        .iter()
        .filter_map(|run| by_plan.remove(&run.id))
        .collect();
    let mut summary = Summary::build(
        first.summary.campaign.clone(),
        first.plan.len() as u32,
        runs,
        file.min_detection_rate,
    );
    let shard_summaries = folders.iter().map(|f| &f.summary);
    summary.started_at = shard_summaries
        .clone()
        .map(|s| s.started_at.clone())
        .min()
        .unwrap_or_default();
    summary.ended_at = shard_summaries
        .clone()
        .map(|s| s.ended_at.clone())
        .max()
        .unwrap_or_default();
    summary.wall_time_s = shard_summaries.clone().map(|s| s.wall_time_s).sum();
    summary.run_time_s = shard_summaries.map(|s| s.run_time_s).sum();
    summary.detectors = super::detector_scores(&summary.runs);
    write_atomically(&out.join("campaign.toml"), first.campaign_file.as_bytes())
        .map_err(|e| Failure::harness(format!("writing {}/campaign.toml: {e}", out.display())))?;
    crate::store::write_json_atomically(&out.join("plan.json"), &first.plan)
        .map_err(|e| Failure::harness(format!("writing {}/plan.json: {e}", out.display())))?;
    super::write_outputs(out, &summary)?;
    super::print_summary(out, &summary, json);
    Ok(super::outcome(&summary))
}

/// Shards merge only when they come from one campaign file, one traitor version and one
/// plan, each shard given once.
fn check_together(folders: &[ShardFolder]) -> Result<(), Failure> {
    let first = &folders[0];
    let mut seen: HashMap<u32, &Path> = HashMap::new();
    for folder in folders {
        let differs = |what: &str| {
            Failure::usage(format!(
                "{}: its {what} differs from {}'s: shards of different campaigns do not merge",
                folder.dir.display(),
                first.dir.display()
            ))
        };
        if folder.campaign_file != first.campaign_file {
            return Err(differs("campaign.toml"));
        }
        if folder.record.traitor_version != first.record.traitor_version {
            return Err(differs("traitor version"));
        }
        // Paths inside a plan differ between machines; its runs must not.
        let ids = |f: &ShardFolder| f.plan.iter().map(|r| r.id.clone()).collect::<Vec<_>>();
        if ids(folder) != ids(first) {
            return Err(differs("plan (its runs: seeds, targets or fault sets)"));
        }
        if folder.record.shard.count != first.record.shard.count {
            return Err(differs("shard count"));
        }
        if let Some(other) = seen.insert(folder.record.shard.index, &folder.dir) {
            return Err(Failure::usage(format!(
                "{} and {} are both shard {}: shards overlap",
                other.display(),
                folder.dir.display(),
                folder.record.shard
            )));
        }
    }
    Ok(())
}

/// Every shard's finished runs by id, their folders copied into `out`.
fn gather_runs(folders: &[ShardFolder], out: &Path) -> Result<HashMap<String, RunRecord>, Failure> {
    let mut records = HashMap::new();
    for folder in folders {
        for record in &folder.summary.runs {
            if !folder.record.runs.contains(&record.id) {
                return Err(Failure::usage(format!(
                    "{}: run {} is not one of this shard's runs",
                    folder.dir.display(),
                    record.id
                )));
            }
            copy_folder(&folder.dir.join(&record.id), &out.join(&record.id))?;
            records.insert(record.id.clone(), record.clone());
        }
    }
    Ok(records)
}

/// Copies a run folder (regular files and folders only: a link is not followed).
fn copy_folder(from: &Path, to: &Path) -> Result<(), Failure> {
    let failed = |e: std::io::Error| {
        Failure::harness(format!(
            "copying {} to {}: {e}",
            from.display(),
            to.display()
        ))
    };
    std::fs::create_dir_all(to).map_err(failed)?;
    for entry in std::fs::read_dir(from).map_err(failed)? {
        let entry = entry.map_err(failed)?;
        let kind = entry.file_type().map_err(failed)?;
        let target = to.join(entry.file_name());
        if kind.is_dir() {
            copy_folder(&entry.path(), &target)?;
        } else if kind.is_file() {
            std::fs::copy(entry.path(), &target).map_err(failed)?;
        }
    }
    Ok(())
}
