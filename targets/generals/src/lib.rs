//! Lamport's Byzantine generals, as a deterministic protocol core.
//!
//! The core ([`general::General`]) does no I/O: it is fed frames, orders and timer
//! expiries with the current time, and returns [`effects::Effects`] (frames to send,
//! timers to arm, decisions taken). The `generals-node` binary wires it to TCP and HTTP;
//! the tests run the very same core over a simulated network.

pub mod choice;
pub mod effects;
pub mod general;
pub mod messages;
pub mod om;
pub mod signing;
pub mod sm;
