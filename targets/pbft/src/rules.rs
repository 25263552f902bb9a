//! Cluster size, fault budget and the quorum sizes derived from them (bug switches included).

use crate::bug::Bug;
use crate::messages::NodeId;

/// The quorum arithmetic every replica applies; one place, so the bug variants are one switch.
#[derive(Clone, Copy, Debug)]
pub struct Rules {
    pub n: usize,
    pub f: usize,
    pub bug: Option<Bug>,
}

impl Rules {
    /// The primary of a view: `view mod n`.
    pub fn primary(&self, view: u64) -> NodeId {
        (view % self.n as u64) as NodeId
    }

    /// Whether a given bug variant is switched on.
    pub fn has(&self, bug: Bug) -> bool {
        self.bug == Some(bug)
    }

    /// Matching prepares from distinct backups needed (besides the pre-prepare): 2f.
    pub fn prepare_quorum(&self) -> usize {
        2 * self.f
    }

    /// Matching commits needed to commit locally: 2f+1 (f+1 with `commit-quorum-f1`).
    pub fn commit_quorum(&self) -> usize {
        if self.has(Bug::CommitQuorumF1) {
            self.f + 1
        } else {
            2 * self.f + 1
        }
    }

    /// Size of the quorums for checkpoints, view changes and new views: 2f+1.
    pub fn quorum(&self) -> usize {
        2 * self.f + 1
    }

    /// Number of matching answers that include at least one correct replica: f+1.
    pub fn weak_quorum(&self) -> usize {
        self.f + 1
    }
}
