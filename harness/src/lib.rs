//! The `traitor` command: its arguments, its subcommands and its exit codes.

pub mod adversary;
pub mod campaign;
pub mod check;
pub mod cli;
pub mod commits;
pub mod connectors;
pub mod detect;
pub mod exit;
pub mod keys;
pub mod nemesis;
pub mod node_api;
pub mod progress;
pub mod run;
pub mod stop;
pub mod store;
pub mod target;
pub mod template;
pub mod twins;
pub mod workload;

use cli::{Cli, Command};
use std::process::ExitCode;

/// Runs a parsed command line and turns its outcome into the documented exit code.
pub fn run(cli: Cli) -> ExitCode {
    let outcome = match cli.command {
        Command::Check(args) => check::run(&args),
        Command::Run(args) => run::run(&args).unwrap_or_else(report),
        Command::Campaign(args) => campaign::run(&args).unwrap_or_else(report),
        Command::Gc => gc().unwrap_or_else(report),
        Command::Report { dir } => {
            let written = if traitor_reports::is_campaign(&dir) {
                traitor_reports::write_campaign_report(&dir).map_err(|e| e.to_string())
            } else {
                traitor_reports::write_run_report(&dir).map_err(|e| e.to_string())
            };
            match written {
                Ok(path) => {
                    println!("{}", path.display());
                    exit::Outcome::AsExpected
                }
                Err(e) => report(exit::Failure::usage(e)),
            }
        }
        Command::Adversaries => {
            for (name, params, what) in traitor_adversaries::spec::CATALOGUE {
                println!("{name:<16} {params:<18} {what}");
            }
            exit::Outcome::AsExpected
        }
    };
    exit::finish(outcome)
}

fn report(failure: exit::Failure) -> exit::Outcome {
    exit::error(&failure);
    failure.outcome
}

/// `traitor gc`: removes containers and networks labelled `traitor.run` that a killed run
/// left behind.
fn gc() -> Result<exit::Outcome, exit::Failure> {
    let runtime = tokio::runtime::Runtime::new()
        .map_err(|e| exit::Failure::harness(format!("starting the async runtime: {e}")))?;
    let removed = runtime
        .block_on(traitor_cluster::gc())
        .map_err(|e| exit::Failure::harness(e.to_string()))?;
    println!(
        "removed {} container(s) and {} network(s) labelled traitor.run",
        removed.containers, removed.networks
    );
    Ok(exit::Outcome::AsExpected)
}
