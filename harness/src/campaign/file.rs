//! The campaign file (TOML): which targets, variants, fault sets, cluster sizes and seeds to
//! run, and how long. Read and checked whole before any run starts; every error names the
//! field and what would be right.
//!
//! ```toml
//! name = "ci-gate"              # the folder under --store; default: the file's stem
//! time = "10s"                  # clients under faults, per run
//! seeds = 3                     # seeds 1..=3 (or a list: [4, 9])
//!
//! [faults.crash-primary]
//! nemesis = "crash-primary"
//!
//! [faults.equivocating-primary]
//! nemesis = "none"
//! adversaries = ["equivocate-sign"]
//! byzantine = "primary"
//!
//! [[group]]
//! target = "../targets/pbft"    # relative to this file
//! variants = ["correct", "viewchange-drops-prepared"]
//! faults = ["crash-primary", "equivocating-primary"]
//! ```

use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;
use traitor_checkers::files::{read_named, MAX_DOCUMENT_BYTES};
use traitor_model::run::MAX_NODES;

/// The file as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CampaignFile {
    pub name: Option<String>,
    /// docker or process; default: as `traitor run` decides.
    pub backend: Option<String>,
    #[serde(default = "defaults::time")]
    pub time: String,
    #[serde(default = "defaults::recover")]
    pub recover: String,
    #[serde(default = "defaults::settle")]
    pub settle: String,
    /// Default seeds of every group.
    #[serde(default = "defaults::seeds")]
    pub seeds: Seeds,
    /// Runs side by side; `--parallel` overrides.
    pub parallel: Option<usize>,
    /// A cell (target x variant x faults x n) of an exposed known bug passes when at least
    /// this share of its seeds catch it: 1.0 (every run) by default; a small number such as
    /// 0.01 means "caught at least once".
    #[serde(default = "defaults::rate")]
    pub min_detection_rate: f64,
    /// Whether termination is held to theory (u + r <= f) or only reported. Liveness depends
    /// on timing and on how a target's clients retry; a gate that must not flake on a
    /// target's known liveness weakness sets this to false and still sees every finding.
    #[serde(default = "defaults::yes")]
    pub expect_liveness: bool,
    /// Extra `traitor run` arguments for every run (workload flags such as `--rate 40`).
    #[serde(default)]
    pub run_args: Vec<String>,
    /// Named fault sets, referred to by groups.
    #[serde(default)]
    pub faults: BTreeMap<String, FaultSet>,
    #[serde(default, rename = "group")]
    pub groups: Vec<Group>,
}

mod defaults {
    use super::Seeds;
    pub fn time() -> String {
        "10s".into()
    }
    pub fn recover() -> String {
        "8s".into()
    }
    pub fn settle() -> String {
        "4s".into()
    }
    pub fn seeds() -> Seeds {
        Seeds::Count(1)
    }
    pub fn rate() -> f64 {
        1.0
    }
    pub fn yes() -> bool {
        true
    }
}

/// `seeds = 10` (seeds 1 to 10) or `seeds = [3, 7]`.
#[derive(Clone, Debug, Deserialize)]
#[serde(untagged)]
pub enum Seeds {
    Count(u64),
    List(Vec<u64>),
}

impl Seeds {
    pub fn values(&self) -> Vec<u64> {
        match self {
            Seeds::Count(k) => (1..=*k).collect(),
            Seeds::List(list) => list.clone(),
        }
    }
}

/// What breaks the cluster in a run: nemesis faults, adversaries and who is Byzantine.
#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct FaultSet {
    /// `traitor run --nemesis` list; default "none".
    pub nemesis: Option<String>,
    /// `traitor run --nemesis-file`, relative to the campaign file.
    pub nemesis_file: Option<PathBuf>,
    /// `--adversary` specs, composed.
    #[serde(default)]
    pub adversaries: Vec<String>,
    /// `--byzantine`: a count chosen with each run's seed, or "primary".
    pub byzantine: Option<String>,
    /// `--byzantine-nodes`.
    #[serde(default)]
    pub byzantine_nodes: Vec<u32>,
    /// `--crash`: nodes the nemesis may crash (UpRight's u).
    pub crash: Option<u32>,
}

/// A cross product of runs: every variant x fault set x size x seed.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Group {
    /// The target folder, relative to the campaign file.
    pub target: PathBuf,
    /// Variant names, "correct" for the correct code, "*" for the correct code and every
    /// variant; default ["correct"].
    #[serde(default = "correct_only")]
    pub variants: Vec<String>,
    /// Names of `[faults.NAME]` tables; default every fault set of the file.
    #[serde(default)]
    pub faults: Vec<String>,
    /// Cluster sizes; default: the variant's n, else the target's.
    #[serde(default)]
    pub nodes: Vec<u32>,
    /// Seeds of this group, instead of the file's.
    pub seeds: Option<Seeds>,
}

fn correct_only() -> Vec<String> {
    vec!["correct".into()]
}

/// A campaign file's text: a regular file of at most 64 MiB in UTF-8 (a FIFO or device
/// named by mistake is refused, not waited on).
pub fn read_text(path: &Path) -> Result<String, String> {
    let bytes = read_named(path, MAX_DOCUMENT_BYTES)
        .map_err(|e| format!("{}: not read: it {e}", path.display()))?;
    String::from_utf8(bytes).map_err(|e| format!("{}: not UTF-8 text: {e}", path.display()))
}

/// The longest `time`, `recover` or `settle` a campaign may set.
const MAX_DURATION: Duration = Duration::from_secs(24 * 3600);

/// The most seeds one group may run, so a typo cannot plan a billion runs.
pub const MAX_SEEDS: u64 = 10_000;

/// Durations of every run, parsed.
#[derive(Clone, Copy, Debug)]
pub struct Timing {
    pub time: Duration,
    pub recover: Duration,
    pub settle: Duration,
}

impl CampaignFile {
    /// Reads and parses the file; syntax and unknown fields are errors naming the line.
    pub fn read(path: &Path) -> Result<Self, String> {
        toml::from_str(&read_text(path)?).map_err(|e| format!("{}: {e}", path.display()))
    }

    /// The campaign's name: `name`, else the file's stem. Safe as a folder name.
    pub fn name(&self, path: &Path) -> Result<String, String> {
        let name = match &self.name {
            Some(name) => name.clone(),
            None => path
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_else(|| "campaign".into()),
        };
        if name.is_empty()
            || !name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
            || name.starts_with('.')
        {
            return Err(format!(
                "name = {name:?}: use letters, digits, '-', '_' and '.' (it names a folder)"
            ));
        }
        Ok(name)
    }

    /// The run durations, checked: each at most a day; `time` and `recover` more than 0.
    pub fn timing(&self) -> Result<Timing, String> {
        let parse = |field: &str, text: &str| {
            let d = humantime::parse_duration(text)
                .map_err(|e| format!("{field} = {text:?}: {e} (write e.g. \"10s\")"))?;
            if d > MAX_DURATION || (d.is_zero() && field != "settle") {
                return Err(format!(
                    "{field} = {text:?}: expected more than 0s and at most 24h (write e.g. \"10s\")"
                ));
            }
            Ok(d)
        };
        let timing = Timing {
            time: parse("time", &self.time)?,
            recover: parse("recover", &self.recover)?,
            settle: parse("settle", &self.settle)?,
        };
        if timing.settle >= timing.recover {
            return Err(format!(
                "settle = {:?} must be shorter than recover = {:?}",
                self.settle, self.recover
            ));
        }
        Ok(timing)
    }

    /// Checks what serde cannot, before the plan is built from it.
    pub fn validate(&self) -> Result<(), String> {
        if self.groups.is_empty() {
            return Err("no [[group]]: add one with target = \"...\"".into());
        }
        if !(self.min_detection_rate > 0.0 && self.min_detection_rate <= 1.0) {
            return Err(format!(
                "min_detection_rate = {}: expected a share in (0, 1], e.g. 1.0 for every run or 0.01 for at least once",
                self.min_detection_rate
            ));
        }
        if let Some(backend) = self.backend.as_deref() {
            if !["docker", "process"].contains(&backend) {
                return Err(format!(
                    "backend = {backend:?}: expected \"docker\" or \"process\""
                ));
            }
        }
        if self.parallel == Some(0) {
            return Err("parallel = 0: expected at least 1".into());
        }
        check_seeds("seeds", &self.seeds)?;
        for (name, set) in &self.faults {
            if set.nemesis.is_some() && set.nemesis_file.is_some() {
                return Err(format!(
                    "[faults.{name}]: set nemesis or nemesis_file, not both"
                ));
            }
            if let Some(crash) = set.crash.filter(|&u| u > MAX_NODES) {
                return Err(format!(
                    "[faults.{name}]: crash = {crash}: expected at most the cluster size (and at most {MAX_NODES})"
                ));
            }
            if !set.adversaries.is_empty()
                && set.byzantine.is_none()
                && set.byzantine_nodes.is_empty()
            {
                return Err(format!(
                    "[faults.{name}]: adversaries need Byzantine nodes: add byzantine = \"1\", \"primary\" or byzantine_nodes = [..]"
                ));
            }
        }
        for (i, group) in self.groups.iter().enumerate() {
            let at = format!("[[group]] {} ({})", i + 1, group.target.display());
            if group.variants.is_empty() {
                return Err(format!("{at}: variants is empty"));
            }
            for fault in &group.faults {
                if !self.faults.contains_key(fault) {
                    let known: Vec<&str> = self.faults.keys().map(String::as_str).collect();
                    return Err(format!(
                        "{at}: faults names {fault:?}, but there is no [faults.{fault}]; defined: {}",
                        if known.is_empty() { "none".to_string() } else { known.join(", ") }
                    ));
                }
            }
            if let Some(n) = group.nodes.iter().find(|&&n| n == 0 || n > MAX_NODES) {
                return Err(format!(
                    "{at}: nodes lists {n}: expected cluster sizes from 1 to {MAX_NODES}"
                ));
            }
            if let Some(seeds) = &group.seeds {
                check_seeds(&format!("{at}: seeds"), seeds)?;
            }
        }
        Ok(())
    }
}

impl CampaignFile {
    /// The same campaign with `seeds` for every group (`traitor campaign --seeds`): the
    /// gate run nightly with more seeds, say, keeping the runs already finished.
    pub fn with_seeds(mut self, seeds: Seeds) -> Result<Self, String> {
        check_seeds("--seeds", &seeds)?;
        self.seeds = seeds;
        for group in &mut self.groups {
            group.seeds = None;
        }
        Ok(self)
    }
}

impl std::str::FromStr for Seeds {
    type Err = String;

    /// `8` (seeds 1 to 8) or a comma-separated list `3,7,12`.
    fn from_str(s: &str) -> Result<Self, String> {
        let number = |part: &str| {
            part.trim()
                .parse::<u64>()
                .map_err(|_| format!("{s:?}: expected a count such as 8 or a list such as 3,7,12"))
        };
        if s.contains(',') {
            s.split(',')
                .map(number)
                .collect::<Result<_, _>>()
                .map(Seeds::List)
        } else {
            number(s).map(Seeds::Count)
        }
    }
}

fn check_seeds(field: &str, seeds: &Seeds) -> Result<(), String> {
    let count = match seeds {
        Seeds::Count(k) => *k,
        Seeds::List(list) => list.len() as u64,
    };
    if count > MAX_SEEDS {
        return Err(format!(
            "{field}: {count} seeds; at most {MAX_SEEDS} per group (run more in several campaigns)"
        ));
    }
    let values = seeds.values();
    if values.is_empty() {
        return Err(format!("{field}: no seed; expected a count >= 1 or a list"));
    }
    let mut sorted = values.clone();
    sorted.sort_unstable();
    sorted.dedup();
    if sorted.len() != values.len() {
        return Err(format!("{field}: a seed appears twice"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<CampaignFile, String> {
        let file: CampaignFile = toml::from_str(text).map_err(|e| e.to_string())?;
        file.validate()?;
        file.timing()?;
        Ok(file)
    }

    #[test]
    fn a_small_file_reads_with_defaults() {
        let file = parse("[[group]]\ntarget = \"t\"\n").unwrap();
        assert_eq!(file.groups[0].variants, ["correct"]);
        assert_eq!(file.seeds.values(), [1]);
        assert_eq!(file.min_detection_rate, 1.0);
        assert!(
            file.expect_liveness,
            "termination is held to theory unless said otherwise"
        );
    }

    #[test]
    fn seeds_given_on_the_command_line_replace_every_groups() {
        let file = parse("seeds = 2\n[[group]]\ntarget = \"t\"\nseeds = [5]\n").unwrap();
        let more = file.with_seeds("8".parse().unwrap()).unwrap();
        assert_eq!(more.seeds.values(), (1..=8).collect::<Vec<_>>());
        assert!(more.groups[0].seeds.is_none());
        let listed: Seeds = "3, 7,12".parse().unwrap();
        assert_eq!(listed.values(), [3, 7, 12]);
        assert!("x"
            .parse::<Seeds>()
            .unwrap_err()
            .contains("a count such as 8"));
        let file = parse("[[group]]\ntarget = \"t\"\n").unwrap();
        assert!(file
            .with_seeds("0".parse().unwrap())
            .unwrap_err()
            .contains("--seeds: no seed"));
    }

    #[test]
    fn errors_name_the_field() {
        let cases = [
            ("", "no [[group]]"),
            ("tme = \"1s\"\n[[group]]\ntarget = \"t\"", "tme"),
            (
                "time = \"ten\"\n[[group]]\ntarget = \"t\"",
                "time = \"ten\"",
            ),
            (
                "recover = \"2s\"\nsettle = \"3s\"\n[[group]]\ntarget = \"t\"",
                "settle",
            ),
            ("[[group]]\ntarget = \"t\"\nfaults = [\"x\"]", "[faults.x]"),
            ("seeds = 0\n[[group]]\ntarget = \"t\"", "seeds"),
            ("seeds = [1, 1]\n[[group]]\ntarget = \"t\"", "twice"),
            (
                "min_detection_rate = 0.0\n[[group]]\ntarget = \"t\"",
                "min_detection_rate",
            ),
            ("backend = \"k8s\"\n[[group]]\ntarget = \"t\"", "backend"),
            ("time = \"0s\"\n[[group]]\ntarget = \"t\"", "time = \"0s\""),
            (
                "recover = \"0s\"\n[[group]]\ntarget = \"t\"",
                "recover = \"0s\"",
            ),
            (
                "time = \"100000h\"\n[[group]]\ntarget = \"t\"",
                "at most 24h",
            ),
            (
                "seeds = 1000000000\n[[group]]\ntarget = \"t\"",
                "at most 10000",
            ),
            (
                "[[group]]\ntarget = \"t\"\nseeds = 18446744073709551615",
                "at most 10000",
            ),
            (
                "[faults.a]\ncrash = 100000\n[[group]]\ntarget = \"t\"",
                "[faults.a]: crash = 100000",
            ),
            (
                "[[group]]\ntarget = \"t\"\nnodes = [4, 1000000000]",
                "nodes lists 1000000000",
            ),
            (
                "[faults.a]\nadversaries = [\"omit\"]\n[[group]]\ntarget = \"t\"",
                "[faults.a]",
            ),
        ];
        for (text, needle) in cases {
            let err = parse(text).expect_err(text);
            assert!(
                err.contains(needle),
                "{text:?} gave {err:?}, wanted {needle:?}"
            );
        }
    }

    proptest::proptest! {
        /// Hostile values in every field that sizes the plan: read, validated and timed
        /// without a panic, and refused with the field named when out of bounds.
        #[test]
        fn hostile_campaign_fields_are_refused_by_name(
            seeds in proptest::prop_oneof![proptest::num::u64::ANY, 0u64..20_000],
            crash in proptest::num::u32::ANY,
            time in "[0-9]{1,25}(ns|ms|s|m|h|d|y|)",
            parallel in proptest::num::u64::ANY,
            noise in "[ -~\n]{0,40}",
        ) {
            let text = format!(
                "seeds = {seeds}\ntime = {time:?}\nparallel = {parallel}\n\
                 [faults.a]\ncrash = {crash}\n[[group]]\ntarget = \"t\"\n"
            );
            let Ok(file) = toml::from_str::<CampaignFile>(&text) else {
                // Out of range for the field's type: serde names it; nothing to plan.
                return Ok(());
            };
            let checked = file.validate().and_then(|()| file.timing().map(drop));
            if seeds > MAX_SEEDS {
                proptest::prop_assert!(checked.unwrap_err().contains("seeds"));
            } else if crash > MAX_NODES {
                proptest::prop_assert!(checked.unwrap_err().contains("crash"));
            }
            let _ = toml::from_str::<CampaignFile>(&format!("{text}{noise}"))
                .map(|f| (f.validate(), f.timing()));
            let more = format!("{seeds}").parse::<Seeds>().unwrap();
            let _ = toml::from_str::<CampaignFile>(&text).unwrap().with_seeds(more);
        }
    }

    #[test]
    fn names_must_be_folder_safe() {
        let file = parse("name = \"../x\"\n[[group]]\ntarget = \"t\"").unwrap();
        assert!(file.name(Path::new("c.toml")).is_err());
        let file = parse("[[group]]\ntarget = \"t\"").unwrap();
        assert_eq!(file.name(Path::new("dir/gate.toml")).unwrap(), "gate");
    }
}
