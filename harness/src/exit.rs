//! Exit codes, as documented in `traitor --help` and the README:
//! 0 as expected, 1 a violation (or an undecided check), 2 a usage or input error,
//! 3 a harness failure (a bug in traitor or its environment).

use std::process::ExitCode;

/// How a command ended, worst first when several inputs are checked.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Outcome {
    /// Everything checked and found as expected.
    AsExpected = 0,
    /// A property violated, or a check that could not decide: not a pass.
    Violation = 1,
    /// Bad arguments or unreadable input.
    BadInput = 2,
    /// traitor itself failed.
    HarnessFailure = 3,
}

/// Prints nothing; maps the outcome to the process exit code.
pub fn finish(outcome: Outcome) -> ExitCode {
    ExitCode::from(outcome as u8)
}

/// Prints an error the way every traitor error reads.
pub fn error(message: impl std::fmt::Display) {
    eprintln!("traitor: error: {message}");
}

/// Prints a warning the way every traitor warning reads.
pub fn warning(message: impl std::fmt::Display) {
    eprintln!("traitor: warning: {message}");
}

/// A command that could not do its job: bad input (exit 2) or a harness failure (exit 3).
#[derive(Debug)]
pub struct Failure {
    pub outcome: Outcome,
    pub message: String,
}

impl Failure {
    /// Bad arguments, configuration or input: exit 2.
    pub fn usage(message: impl Into<String>) -> Self {
        Self {
            outcome: Outcome::BadInput,
            message: message.into(),
        }
    }

    /// The harness or its environment failed: exit 3.
    pub fn harness(message: impl Into<String>) -> Self {
        Self {
            outcome: Outcome::HarnessFailure,
            message: message.into(),
        }
    }
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}
