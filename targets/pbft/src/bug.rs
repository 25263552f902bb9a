//! Known-bug switches (`--bug NAME`): deliberate protocol mistakes used to measure whether
//! the harness catches them. With no bug set the replica follows the protocol.

use clap::ValueEnum;

/// One deliberate deviation from PBFT.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Bug {
    /// Commit after f+1 matching commits instead of 2f+1.
    CommitQuorumF1,
    /// Count prepares for a (view, seq) without comparing their digests.
    PrepareIgnoresDigest,
    /// Accept a pre-prepare from any replica, not only the primary of the view.
    AcceptNonPrimaryPreprepare,
    /// The new primary ignores prepared certificates and restarts numbering at the checkpoint.
    ViewchangeDropsPrepared,
    /// Accept messages without verifying their signatures.
    SkipSignatureCheck,
    /// Order and execute a retried (client, req) again instead of answering the stored reply.
    RetryExecutesTwice,
    /// Answer reads from local state at once, without ordering them.
    LocalReads,
}
