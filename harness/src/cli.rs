//! Command-line arguments. Parsed here, validated and resolved by each command.

use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;
use std::time::Duration;
use traitor_checkers::Model;

/// traitor: Jepsen-style fault injection for Byzantine-fault-tolerant clusters.
///
/// Exit codes: 0 as expected; 1 a violation, or a check that could not decide; 2 a usage or
/// input error; 3 a failure of traitor itself.
#[derive(Debug, Parser)]
#[command(name = "traitor", version, about, long_about)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Check recorded histories (traitor JSONL or Jepsen EDN) and run folders.
    ///
    /// A history file is checked for linearizability against --model. A run folder (a
    /// directory with manifest.json / history.jsonl) is checked for agreement, validity,
    /// termination and, with the manifest's model or --model, linearizability.
    ///
    /// Examples:
    ///   traitor check --model cas-register examples/histories/*
    ///   traitor check --model kv --json history.edn
    ///   traitor check --model kv --all-keys --memory-limit 256 history.jsonl
    ///   traitor check runs/smoke/2026-11-21T10-00-00-s1
    #[command(verbatim_doc_comment)]
    Check(CheckArgs),

    /// Run a target cluster behind the proxy, inject faults on a schedule, record, check.
    ///
    /// Starts n nodes (Docker by default, local processes with --backend process), routes
    /// every node-to-node byte through traitor's proxy, drives clients, breaks the cluster
    /// with the nemesis, heals everything, reads every node's committed log, and checks
    /// agreement, validity, termination and linearizability. Everything lands in a run
    /// folder that `traitor check` can re-check later.
    ///
    /// Examples:
    ///   traitor run --target targets/pbft --time 30s --nemesis partition,crash-primary
    ///   traitor run --target targets/pbft --variant viewchange-drops-prepared --seed 7
    ///   traitor run --target targets/generals --backend process --nemesis none
    #[command(verbatim_doc_comment)]
    Run(Box<RunArgs>),

    /// Run a campaign: many runs from one TOML file, judged against expectations (a CI gate).
    ///
    /// Plans targets x variants x fault sets x sizes x seeds, runs them (K side by side on
    /// separate networks), and judges each against what theory expects: a correct target
    /// within its fault budget must show no safety violation; a known-bug variant under a
    /// fault its target.toml declares able to expose it (exposed_by) must be caught. Writes
    /// summary.json, junit.xml and report.html to <store>/<campaign>/. Interrupted campaigns
    /// resume: run the same command again and finished runs are kept.
    ///
    /// Exit codes: 0 every run as expected; 1 a false positive, an undecided check or a
    /// known bug caught less often than min_detection_rate; 2 a bad campaign file; 3 a run
    /// that could not finish, or an interrupted campaign.
    ///
    /// Examples:
    ///   traitor campaign examples/ci-gate.toml --parallel 2
    ///   traitor campaign examples/generals-table.toml --json
    #[command(verbatim_doc_comment)]
    Campaign(CampaignArgs),

    /// Remove every container and network a killed traitor run left behind (label traitor.run).
    Gc,

    /// List the built-in adversaries and their parameters.
    Adversaries,

    /// Rebuild report.html of a run folder or a campaign folder from the folder alone.
    Report {
        /// The run folder, or the campaign folder (with summary.json).
        #[arg(value_name = "DIR")]
        dir: PathBuf,
    },
}

#[derive(Debug, Args)]
pub struct RunArgs {
    /// The target folder (with target.toml), e.g. targets/pbft.
    #[arg(long, value_name = "DIR")]
    pub target: PathBuf,

    /// A known-bug variant of the target (see its target.toml); default: the correct code.
    #[arg(long)]
    pub variant: Option<String>,

    /// Cluster size; default: the variant's or the target's n.
    #[arg(long, value_name = "N")]
    pub nodes: Option<u32>,

    /// Faults, comma-separated, one at a time in random order: partition (a random shape),
    /// partition-isolate-one, partition-mute-one (nobody hears one node; it hears all),
    /// partition-halves, partition-isolate-primary, partition-bridge, partition-ring, delay,
    /// drop, duplicate, reorder, crash, crash-primary, pause, restart; or "none".
    #[arg(long, default_value = "partition,crash-primary", value_name = "LIST")]
    pub nemesis: String,

    /// Faults at fixed times instead: a TOML file with one [[fault]] table per fault, each
    /// with at = "5s" (from the start), kind = "crash-primary" and duration = "4s", and for
    /// faults that hit one node optionally node = 2 (else the node is drawn from the seed).
    #[arg(long, value_name = "FILE", conflicts_with_all = ["nemesis", "nemesis_interval", "nemesis_duration"])]
    pub nemesis_file: Option<PathBuf>,

    /// A Byzantine adversary, NAME[:key=value,...]; repeat to compose several. Built in:
    /// corrupt, mutate, replay, impersonate, omit, equivocate-sign (`traitor adversaries`
    /// lists their parameters). They act on the Byzantine nodes' messages, except
    /// equivocate-twins[:every=5s]: a twin of each Byzantine node, peers split between the two.
    #[arg(long = "adversary", value_name = "SPEC")]
    pub adversaries: Vec<String>,

    /// How many nodes are Byzantine (chosen with the seed), or "primary" for the first
    /// primary (node 0).
    #[arg(long, value_name = "K|primary", conflicts_with = "byzantine_nodes")]
    pub byzantine: Option<String>,

    /// Exactly which nodes are Byzantine, e.g. 1,3.
    #[arg(long, value_name = "LIST", value_delimiter = ',')]
    pub byzantine_nodes: Vec<u32>,

    /// How many nodes the nemesis may crash, pause or restart (UpRight's u); default 1 when
    /// the nemesis has such faults. With --byzantine r, the manifest records what theory
    /// expects: safety while r <= f, liveness while u + r <= f.
    #[arg(long, value_name = "U")]
    pub crash: Option<u32>,

    /// Quiet time before each fault.
    #[arg(long, default_value = "3s", value_parser = humantime::parse_duration)]
    pub nemesis_interval: Duration,

    /// How long each fault lasts before it is healed.
    #[arg(long, default_value = "4s", value_parser = humantime::parse_duration)]
    pub nemesis_duration: Duration,

    /// How long clients run while faults are injected.
    #[arg(long, default_value = "30s", value_parser = humantime::parse_duration)]
    pub time: Duration,

    /// How long clients keep running after the final heal (termination is judged on it).
    #[arg(long, default_value = "10s", value_parser = humantime::parse_duration)]
    pub recover: Duration,

    /// Time correct nodes get after the heal to recover (a restarted node catching up)
    /// before termination is judged: ops invoked later must all complete.
    #[arg(long, default_value = "5s", value_parser = humantime::parse_duration)]
    pub settle: Duration,

    /// Seed of every random choice (keys, ops, faults); default: from the clock, printed.
    #[arg(long)]
    pub seed: Option<u64>,

    /// docker or process; default: docker when an engine answers, otherwise process.
    #[arg(long, value_parser = ["docker", "process"])]
    pub backend: Option<String>,

    /// Where run folders go: <store>/<campaign>/<run-id>/.
    #[arg(long, default_value = "runs", value_name = "DIR")]
    pub store: PathBuf,

    /// The campaign name used in the run folder path.
    #[arg(long, default_value = "adhoc")]
    pub campaign: String,

    /// Workload model; default: the target's first (kv for pbft, generals for generals).
    #[arg(long)]
    pub model: Option<String>,

    /// Keys of the kv workload.
    #[arg(long, default_value_t = 4)]
    pub keys: usize,

    /// Client processes running at once.
    #[arg(long, default_value_t = 6)]
    pub concurrency: usize,

    /// Target ops per second over all clients (0: as fast as answers come).
    #[arg(long, default_value_t = 40.0)]
    pub rate: f64,

    /// A client gives up waiting after this and records the op as unknown (info).
    #[arg(long, default_value = "3s", value_parser = humantime::parse_duration)]
    pub op_timeout: Duration,

    /// Send every op to this node instead of a random one.
    #[arg(long, value_name = "ID")]
    pub node: Option<u32>,

    /// Print one JSON object (run_dir, valid, checks) instead of tables.
    #[arg(long)]
    pub json: bool,

    /// The run folder's name under <store>/<campaign>/; default: target, variant, seed and
    /// time. Campaigns name their runs so an interrupted campaign finds them again.
    #[arg(long, hide = true)]
    pub run_id: Option<String>,
}

#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true, subcommand_negates_reqs = true)]
pub struct CampaignArgs {
    #[command(subcommand)]
    pub action: Option<CampaignAction>,

    /// The campaign file (TOML): see examples/ci-gate.toml.
    #[arg(value_name = "FILE", required = true)]
    pub file: Option<PathBuf>,

    /// Run only shard K of N: a stable, disjoint slice of the runs (by a hash of each run's
    /// id), for spreading one campaign over machines; `traitor campaign merge` joins the
    /// shards' folders.
    #[arg(long, value_name = "K/N", conflicts_with = "shard_from_env")]
    pub shard: Option<crate::campaign::shard::Shard>,

    /// Take the shard from the environment, as a Kubernetes Indexed Job gives it:
    /// JOB_COMPLETION_INDEX (from 0) of TRAITOR_SHARD_COUNT.
    #[arg(long)]
    pub shard_from_env: bool,

    /// Runs side by side (each on its own network or loopback range); default: the file's
    /// `parallel`, else 1.
    #[arg(long, value_name = "K")]
    pub parallel: Option<usize>,

    /// Where the campaign folder goes: <store>/<campaign>/.
    #[arg(long, default_value = "runs", value_name = "DIR")]
    pub store: PathBuf,

    /// Seeds for every group instead of the file's: a count (8: seeds 1 to 8) or a list
    /// (3,7,12). Runs already finished in the campaign folder are kept, so raising the
    /// count adds only the new seeds.
    #[arg(long, value_name = "N|LIST")]
    pub seeds: Option<crate::campaign::file::Seeds>,

    /// Print one JSON object (campaign_dir, gate, cells, confusion) instead of tables.
    #[arg(long)]
    pub json: bool,
}

/// What `traitor campaign` does besides running a campaign file.
#[derive(Debug, Subcommand)]
pub enum CampaignAction {
    /// Join shard folders (`traitor campaign FILE --shard K/N`, one per machine) into one
    /// campaign folder: summary.json, junit.xml, report.html, the gate and its exit code,
    /// as if one machine had run every run. Shards of different campaign files or
    /// versions, and overlapping shards, are refused; runs no shard holds are listed.
    Merge {
        /// The merged campaign folder (created).
        #[arg(value_name = "OUT")]
        out: PathBuf,
        /// The shards' campaign folders.
        #[arg(value_name = "SHARD_DIR", required = true)]
        shards: Vec<PathBuf>,
        /// Print one JSON object (campaign_dir, gate, cells, confusion) instead of tables.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Args)]
pub struct CheckArgs {
    /// Histories (.jsonl or Jepsen .edn, detected from the content) or run folders.
    #[arg(required = true, value_name = "FILE_OR_RUN_DIR")]
    pub inputs: Vec<PathBuf>,

    /// The model ops are checked against: register, cas-register, kv, counter, set.
    /// Required for history files; for run folders it overrides the manifest's model.
    #[arg(long, value_parser = parse_model)]
    pub model: Option<Model>,

    /// Print one JSON object per input per line instead of a table.
    #[arg(long)]
    pub json: bool,

    /// Give up (answer "unknown") on a history whose search takes longer than this.
    #[arg(long, default_value = "60s", value_parser = humantime::parse_duration)]
    pub time_limit: Duration,

    /// Give up (answer "unknown") rather than let the process hold more than this many MiB:
    /// what it held when the check began (measured) plus every search's states.
    #[arg(long, default_value_t = 1024, value_name = "MIB")]
    pub memory_limit: usize,

    /// Decide every key of a history, even once one is violated; by default the check
    /// stops at the first violated key and reports the others as not decided.
    #[arg(long)]
    pub all_keys: bool,
}

fn parse_model(s: &str) -> Result<Model, String> {
    s.parse()
}
