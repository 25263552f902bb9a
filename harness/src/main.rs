//! `traitor`: a Jepsen-style fault-injection harness for Byzantine-fault-tolerant clusters.

use clap::Parser;
use std::process::ExitCode;

fn main() -> ExitCode {
    let cli = traitor_harness::cli::Cli::parse();
    traitor_harness::run(cli)
}
