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
    ///   traitor check runs/smoke/2026-11-21T10-00-00-s1
    #[command(verbatim_doc_comment)]
    Check(CheckArgs),
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

    /// Give up (answer "unknown") when memoised search states need more than this many MiB.
    #[arg(long, default_value_t = 1024, value_name = "MIB")]
    pub memory_limit: usize,
}

fn parse_model(s: &str) -> Result<Model, String> {
    s.parse()
}
