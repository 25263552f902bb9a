//! The one error type of the crate: what was being done, and what went wrong.

use crate::NodeId;
use std::fmt::Display;

/// Errors of a backend, with what was being done.
pub type Result<T> = std::result::Result<T, ClusterError>;

/// A backend failure: the environment (Docker, the OS) did not do what was asked.
#[derive(Debug, thiserror::Error)]
#[error("{action}: {message}")]
pub struct ClusterError {
    /// What the backend was doing, e.g. "creating network traitor-<run>".
    pub action: String,
    pub message: String,
}

impl ClusterError {
    /// An error while doing `action`.
    pub fn new(action: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            action: action.into(),
            message: message.into(),
        }
    }
}

/// Names what was being done when a lower-level error (bollard, io, nix) comes up, so every
/// message says both the action and the cause.
pub(crate) trait Context<T> {
    fn context(self, action: impl FnOnce() -> String) -> Result<T>;
}

impl<T, E: Display> Context<T> for std::result::Result<T, E> {
    fn context(self, action: impl FnOnce() -> String) -> Result<T> {
        self.map_err(|e| ClusterError::new(action(), e.to_string()))
    }
}

/// Joins the failures of a cleanup that went on past its first error into one error, or
/// `Ok` when there were none.
pub(crate) fn collected(action: &str, failures: Vec<String>) -> Result<()> {
    if failures.is_empty() {
        Ok(())
    } else {
        Err(ClusterError::new(action, failures.join("; ")))
    }
}

/// The checks every backend makes before starting a node: its id is one `prepare` made room
/// for, and it is not running already.
pub(crate) fn check_new_node(
    node: NodeId,
    prepared: usize,
    started: bool,
    action: String,
) -> Result<usize> {
    let index = usize::try_from(node)
        .ok()
        .filter(|&i| i < prepared)
        .ok_or_else(|| {
            ClusterError::new(
                action.clone(),
                format!(
                    "node ids run from 0 to {} after prepare",
                    prepared.max(1) - 1
                ),
            )
        })?;
    if started {
        return Err(ClusterError::new(action, "already started: use restart"));
    }
    Ok(index)
}
