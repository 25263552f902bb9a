//! The `traitor` command: its arguments, its subcommands and its exit codes.

pub mod check;
pub mod cli;
pub mod exit;

use cli::{Cli, Command};
use std::process::ExitCode;

/// Runs a parsed command line and turns its outcome into the documented exit code.
pub fn run(cli: Cli) -> ExitCode {
    let outcome = match cli.command {
        Command::Check(args) => check::run(&args),
    };
    exit::finish(outcome)
}
