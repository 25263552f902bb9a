//! A PBFT replica (Castro and Liskov) serving a replicated key-value store: the reference
//! target of traitor. The protocol core ([`replica::Replica`]) is a pure state machine; the
//! `node` module wires it to TCP between replicas and an HTTP API for clients.

pub mod api;
pub mod bug;
pub mod catch_up;
pub mod checkpoint;
pub mod cli;
pub mod crypto;
pub mod history;
pub mod messages;
pub mod node;
pub mod replica;
pub mod rules;
pub mod slot;
pub mod state_machine;
pub mod transport;
pub mod view_change;
