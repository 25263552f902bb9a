//! traitor's interposition proxy: every node-to-node byte of a run crosses it.
//!
//! Each node B gets one listening endpoint that stands for B; peers dial it instead of B.
//! The proxy knows the sender A of a connection by its source address (each node has its
//! own), dials B's real address and forwards both ways: bytes A->B belong to link (A,B),
//! replies to link (B,A). Faults are rules on directed links ([`LinkControl`]): partitions
//! that hold bytes until heal, delays with jitter, and per-message drop, duplicate and
//! reorder on framed links, all drawn from a seeded random generator so a run repeats.
//! Traffic is counted per link ([`LinkStats`]) and journalled, bounded, to `trace.jsonl`.
//! An [`Interceptor`] (the run's adversaries) sees every framed message and may drop,
//! delay, duplicate or replace it, or add messages on the sender's other links.
//! A node may run as two instances with one identity ([`TwinControl`]): each peer talks to
//! the one instance a split names.

mod config;
mod connection;
mod cut;
mod decide;
mod intercept;
mod links;
mod observe;
mod pipe;
mod proxy;
mod sink;
mod trace;
mod twins;

pub use config::{Framing, PeerPort, ProxyConfig, ProxyNode, SourceResolver};
pub use intercept::Interceptor;
pub use links::{DelayRule, LinkControl, LinkRule, LinkStats};
pub use proxy::Proxy;
pub use traitor_model::NodeId;
pub use twins::{Instance, TwinControl};

// The orchestrator moves the proxy into tasks and hands link control to other tasks and
// threads: keep both thread-safe (checked at compile time).
const _: () = {
    const fn send_sync<T: Send + Sync>() {}
    send_sync::<LinkControl>();
    send_sync::<Proxy>();
    send_sync::<TwinControl>();
};
