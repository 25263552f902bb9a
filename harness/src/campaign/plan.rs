//! From a campaign file to the list of runs: every group's variants x fault sets x sizes x
//! seeds, each turned into `traitor run` arguments, validated exactly as `traitor run` would
//! (so a bad campaign fails before the first run starts), and given what theory expects.

use super::file::{CampaignFile, FaultSet, Timing};
use crate::cli::{Cli, Command};
use crate::nemesis::FaultKind;
use crate::run::Plan;
use crate::target::Target;
use clap::Parser;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};
use traitor_adversaries::spec::{name_and_params, plugin_path_and_options, CATALOGUE};
use traitor_checkers::accuracy::{Expectation, RunFacts};
use traitor_model::target::Variant;

/// The most runs one campaign may plan: checked before each group is expanded, so a
/// typo cannot make planning (or the campaign) endless.
pub const MAX_RUNS: usize = 10_000;

/// One run of the campaign, before it runs.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PlannedRun {
    /// The run folder's name in the campaign folder; stable, so a resumed campaign finds it.
    pub id: String,
    pub target: String,
    /// `None` for the correct code.
    pub variant: Option<String>,
    /// The fault set's name in the campaign file.
    pub faults: String,
    pub n: u32,
    pub seed: u64,
    /// `traitor run` arguments, paths made absolute.
    pub args: Vec<String>,
    /// What makes the run the run it is: a digest of its arguments and of the files they
    /// name. A finished run is kept on resume only under the same fingerprint.
    pub fingerprint: String,
    pub expectation: Expectation,
}

impl PlannedRun {
    /// The cell the run belongs to: the same configuration under other seeds.
    pub fn cell(&self) -> String {
        format!(
            "{} / {} / {} / n={}",
            self.target,
            self.variant.as_deref().unwrap_or("correct"),
            self.faults,
            self.n
        )
    }
}

/// Expands and validates the campaign file into its runs, in file order.
pub fn plan(file: &CampaignFile, file_path: &Path) -> Result<Vec<PlannedRun>, String> {
    file.validate()?;
    let timing = file.timing()?;
    let base = file_path
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default();
    let base = std::path::absolute(&base).unwrap_or(base);
    let mut runs: Vec<PlannedRun> = Vec::new();
    for (g, group) in file.groups.iter().enumerate() {
        let at = format!("[[group]] {} ({})", g + 1, group.target.display());
        let target_dir = base.join(&group.target);
        let target = Target::load(&target_dir).map_err(|e| format!("{at}: {e}"))?;
        check_exposed_by(&target)?;
        let variants: Vec<Option<&Variant>> = if group.variants.iter().any(|v| v == "*") {
            std::iter::once(None)
                .chain(target.spec.variants.iter().map(Some))
                .collect()
        } else {
            group
                .variants
                .iter()
                .map(|name| match name.as_str() {
                    "correct" => Ok(None),
                    name => target.spec.variant(name).map(Some),
                })
                .collect::<Result<_, _>>()
                .map_err(|e| format!("{at}: variants: {e}"))?
        };
        let fault_names: Vec<&String> = if group.faults.is_empty() {
            file.faults.keys().collect()
        } else {
            group.faults.iter().collect()
        };
        let default_set = FaultSet::default();
        let fault_sets: Vec<(&str, &FaultSet)> = if fault_names.is_empty() {
            vec![("none", &default_set)]
        } else {
            fault_names
                .iter()
                .map(|name| (name.as_str(), &file.faults[*name]))
                .collect()
        };
        let seeds = group.seeds.as_ref().unwrap_or(&file.seeds).values();
        let planned =
            runs.len() + variants.len() * fault_sets.len() * group.nodes.len().max(1) * seeds.len();
        if planned > MAX_RUNS {
            return Err(format!(
                "{at}: the campaign would plan {planned} runs by this group; at most {MAX_RUNS} (fewer seeds, variants, fault sets or sizes, or several campaigns)"
            ));
        }
        for variant in &variants {
            for &(fault_name, set) in &fault_sets {
                let sizes: Vec<Option<u32>> = if group.nodes.is_empty() {
                    vec![None]
                } else {
                    group.nodes.iter().copied().map(Some).collect()
                };
                for n in sizes {
                    for &seed in &seeds {
                        let args =
                            run_args(&target_dir, *variant, set, n, seed, timing, file, &base);
                        let fingerprint = fingerprint(&args, &named_files(&target_dir, set, &base));
                        let planned = planned_run(
                            &target,
                            *variant,
                            fault_name,
                            set,
                            args,
                            fingerprint,
                            seed,
                            file.expect_liveness,
                        )
                        .map_err(|e| {
                            format!(
                                "{at}, variant {}, faults {fault_name}: {e}",
                                variant.map_or("correct", |v| v.name.as_str())
                            )
                        })?;
                        if runs.iter().any(|r| r.id == planned.id) {
                            return Err(format!(
                                "{at}: run {} is planned twice; a variant, fault set, size or seed is listed twice",
                                planned.id
                            ));
                        }
                        runs.push(planned);
                    }
                }
            }
        }
    }
    Ok(runs)
}

/// The `traitor run` arguments of one run (without the store, campaign and output flags
/// the runner adds).
#[allow(clippy::too_many_arguments)]
fn run_args(
    target_dir: &Path,
    variant: Option<&Variant>,
    set: &FaultSet,
    n: Option<u32>,
    seed: u64,
    timing: Timing,
    file: &CampaignFile,
    base: &Path,
) -> Vec<String> {
    let duration = |d: std::time::Duration| format!("{}ms", d.as_millis());
    let mut args = vec![
        "--target".to_string(),
        target_dir.display().to_string(),
        "--seed".into(),
        seed.to_string(),
        "--time".into(),
        duration(timing.time),
        "--recover".into(),
        duration(timing.recover),
        "--settle".into(),
        duration(timing.settle),
    ];
    if let Some(v) = variant {
        args.extend(["--variant".into(), v.name.clone()]);
    }
    if let Some(n) = n {
        args.extend(["--nodes".into(), n.to_string()]);
    }
    if let Some(backend) = &file.backend {
        args.extend(["--backend".into(), backend.clone()]);
    }
    match (&set.nemesis, &set.nemesis_file) {
        (_, Some(path)) => args.extend([
            "--nemesis-file".into(),
            base.join(path).display().to_string(),
        ]),
        (Some(list), None) => args.extend(["--nemesis".into(), list.clone()]),
        (None, None) => args.extend(["--nemesis".into(), "none".into()]),
    }
    for spec in &set.adversaries {
        args.extend(["--adversary".into(), absolute_plugin(spec, base)]);
    }
    if let Some(k) = &set.byzantine {
        args.extend(["--byzantine".into(), k.clone()]);
    }
    if !set.byzantine_nodes.is_empty() {
        let list: Vec<String> = set.byzantine_nodes.iter().map(u32::to_string).collect();
        args.extend(["--byzantine-nodes".into(), list.join(",")]);
    }
    if let Some(u) = set.crash {
        args.extend(["--crash".into(), u.to_string()]);
    }
    args.extend(file.run_args.iter().cloned());
    args
}

/// The files a run's behaviour depends on beyond its arguments: the target's `target.toml`,
/// the nemesis file and every plugin program.
fn named_files(target_dir: &Path, set: &FaultSet, base: &Path) -> Vec<PathBuf> {
    let plugins = set
        .adversaries
        .iter()
        .filter_map(|spec| match name_and_params(spec) {
            ("plugin", params) => Some(base.join(plugin_path_and_options(params).0)),
            _ => None,
        });
    std::iter::once(target_dir.join("target.toml"))
        .chain(set.nemesis_file.as_ref().map(|f| base.join(f)))
        .chain(plugins)
        .collect()
}

/// SHA-256 of the arguments and of each named file's content (or why it could not be read),
/// in hex.
fn fingerprint(args: &[String], files: &[PathBuf]) -> String {
    let mut digest = Sha256::new();
    for arg in args {
        digest.update(arg.as_bytes());
        digest.update([0]);
    }
    for file in files {
        digest.update(file.as_os_str().as_encoded_bytes());
        match std::fs::read(file) {
            Ok(bytes) => digest.update(&bytes),
            Err(e) => digest.update(e.to_string().as_bytes()),
        }
        digest.update([0]);
    }
    hex::encode(digest.finalize())
}

/// `plugin:PATH[,..]` with PATH relative to the campaign file, made absolute.
fn absolute_plugin(spec: &str, base: &Path) -> String {
    match name_and_params(spec) {
        ("plugin", params) => {
            let (path, options) = plugin_path_and_options(params);
            let path = base.join(path).display().to_string();
            if options.is_empty() {
                format!("plugin:{path}")
            } else {
                format!("plugin:{path},{options}")
            }
        }
        _ => spec.to_string(),
    }
}

/// Validates one run as `traitor run` would and derives its expectation.
#[allow(clippy::too_many_arguments)]
fn planned_run(
    target: &Target,
    variant: Option<&Variant>,
    fault_name: &str,
    set: &FaultSet,
    args: Vec<String>,
    fingerprint: String,
    seed: u64,
    expect_liveness: bool,
) -> Result<PlannedRun, String> {
    let cli = Cli::try_parse_from(
        ["traitor".to_string(), "run".to_string()]
            .into_iter()
            .chain(args.iter().cloned()),
    )
    .map_err(|e| e.to_string().lines().next().unwrap_or_default().to_string())?;
    let Command::Run(run_args) = cli.command else {
        unreachable!("parsed as `traitor run`")
    };
    let plan = Plan::from_args(&run_args).map_err(|e| e.message)?;
    if let Some(crash) = set.crash.filter(|&u| u > plan.n) {
        return Err(format!(
            "crash = {crash}: the nemesis can crash at most the cluster's n = {} nodes",
            plan.n
        ));
    }
    let names = fault_names(&plan, set);
    let exposed = variant.is_some_and(|v| v.exposed_by.iter().any(|e| exposes(e, &names)));
    let mut checkers = vec!["agreement", "validity", "termination"];
    if plan.model.parse::<traitor_checkers::Model>().is_ok() {
        checkers.push("linearizability");
    }
    let expectation = Expectation::derive(&RunFacts {
        violates: variant.map(|v| v.violates.as_slice()),
        fault_budget_exceeded: variant.is_some_and(|v| v.fault_budget_exceeded),
        exposed,
        safety_expected: plan.budget.safety_expected,
        liveness_expected: plan.budget.liveness_expected,
        liveness_gated: expect_liveness,
        checkers: &checkers,
    });
    let variant_name = variant.map(|v| v.name.clone());
    let id = format!(
        "{}-{}-{}-n{}-s{seed}",
        target.spec.name,
        variant_name.as_deref().unwrap_or("correct"),
        fault_name,
        plan.n
    );
    Ok(PlannedRun {
        id,
        target: target.spec.name.clone(),
        variant: variant_name,
        faults: fault_name.to_string(),
        n: plan.n,
        seed,
        args,
        fingerprint,
        expectation,
    })
}

/// The names a variant's `exposed_by` is matched against: the nemesis's fault kinds, the
/// adversaries' names, and `plugin:FILE` for plugins (by file name); each adversary also as
/// `NAME@primary` when the first primary (node 0) is Byzantine, for bugs only a lying
/// primary exposes.
fn fault_names(plan: &Plan, set: &FaultSet) -> Vec<String> {
    let mut names: Vec<String> = plan
        .schedule
        .kinds()
        .iter()
        .map(|k| k.name().to_string())
        .collect();
    for spec in &set.adversaries {
        let name = match name_and_params(spec) {
            ("plugin", params) => {
                let (path, _) = plugin_path_and_options(params);
                let file = Path::new(path)
                    .file_name()
                    .map(|f| f.to_string_lossy().into_owned())
                    .unwrap_or_default();
                format!("plugin:{file}")
            }
            (name, _) => name.to_string(),
        };
        if plan.byzantine.contains(&0) {
            names.push(format!("{name}@primary"));
        }
        names.push(name);
    }
    names
}

/// Whether a run with faults `names` has what one `exposed_by` entry asks: every part of
/// `A+B+...` (a bug some attacks expose only together, as a traitor plus a network fault).
fn exposes(entry: &str, names: &[String]) -> bool {
    entry.split('+').all(|part| names.iter().any(|n| n == part))
}

/// A variant's `exposed_by` must name nemesis faults, built-in adversaries or plugins; a
/// typo would silently make every run of the variant promise nothing.
fn check_exposed_by(target: &Target) -> Result<(), String> {
    for variant in &target.spec.variants {
        for name in variant.exposed_by.iter().flat_map(|e| e.split('+')) {
            let adversary = name.strip_suffix("@primary").unwrap_or(name);
            let known = name.parse::<FaultKind>().is_ok()
                || adversary.starts_with("plugin:")
                || CATALOGUE.iter().any(|(known, _, _)| *known == adversary);
            if !known {
                return Err(format!(
                    "{}: [[variants]] {:?}: exposed_by {name:?} is neither a nemesis fault nor an adversary (`traitor adversaries` lists them; plugins are \"plugin:FILE\")",
                    target.dir.join("target.toml").display(),
                    variant.name
                ));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_exposed_by_entry_needs_all_its_parts() {
        let names: Vec<String> = ["partition-mute-one", "plugin:split_commit.py"]
            .map(String::from)
            .into();
        assert!(exposes("plugin:split_commit.py", &names));
        assert!(exposes("plugin:split_commit.py+partition-mute-one", &names));
        assert!(!exposes("plugin:split_commit.py+crash-primary", &names));
        assert!(!exposes("omit", &names));
    }
}
