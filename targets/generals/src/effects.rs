//! What the protocol core asks its driver to do after each input.

use crate::messages::{Frame, GeneralId, InstanceId, Origin, Plan};

/// A signed frame for general `to`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Outgoing {
    pub to: GeneralId,
    pub frame: Frame,
}

/// The end of one round of one instance.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Timer {
    pub instance: InstanceId,
    pub round: usize,
}

/// Call [`crate::general::General::on_timer`] with `timer` once the clock reads `at_ms`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TimerRequest {
    pub at_ms: u64,
    pub timer: Timer,
}

/// What a general decided for one instance, and the client order as it learned it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Decision {
    pub instance: InstanceId,
    pub value: Plan,
    pub origin: Option<Origin>,
}

/// A frame the core refused, and why (the driver logs it).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rejection {
    pub from: GeneralId,
    pub reason: String,
}

/// Everything one input produced.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Effects {
    pub sends: Vec<Outgoing>,
    pub timers: Vec<TimerRequest>,
    pub decisions: Vec<Decision>,
    pub rejections: Vec<Rejection>,
}
