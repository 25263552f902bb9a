//! traitor's checkers: read a recorded history or run folder and say whether the cluster
//! kept its promises.
//!
//! Each checker answers holds, violated (with evidence) or unknown (with why). The
//! linearizability search is private; callers use [`linearizability::check`] on
//! [`ops::Operations`], or [`run_folder::RunFolder::check`] for every property of a run.

pub mod accuracy;
pub mod agreement;
pub mod budget;
pub mod campaign;
pub mod detectors;
pub mod files;
pub mod input;
pub mod linearizability;
pub mod models;
pub mod ops;
pub mod run_folder;
pub mod synth;
pub mod termination;
pub mod validity;
pub mod value;
pub mod verdict;

pub use budget::Budget;
pub use models::Model;
pub use verdict::{CheckResult, Validity};
