//! The hook message-level adversaries use: every framed message of a run, on every link,
//! is shown to the interceptor, which answers with its fate and with messages to add.

use traitor_model::wire::{Actions, Envelope};

/// Sees each framed message (the sender known by source address) and decides what the
/// Byzantine nodes do with it. Called on the forwarding path: answer quickly.
pub trait Interceptor: Send + Sync + std::fmt::Debug {
    fn intercept(&self, envelope: &Envelope) -> Actions;
}
