//! traitor's shared vocabulary.
//!
//! Every other crate speaks in these types: the client history (Jepsen's event shape), the
//! records of a run folder (manifest, committed logs, injected faults, the proxy's trace,
//! resource samples), and the readers that
//! turn text (traitor's JSONL or Jepsen's EDN) into events. Pure data and parsing from
//! memory; no files, sockets or clocks, so the types can be shared by the harness, the
//! checkers and the reports without dragging I/O along.

pub mod edn;
pub mod history;
pub mod metrics;
pub mod read;
pub mod run;
pub mod target;
pub mod trace;
pub mod wire;

pub use history::{Event, EventKind, NodeId};
pub use read::{parse_history, HistoryFormat, ParseError, ParsedHistory};
pub use run::{CommitRead, FaultRecord, LogEntry, Manifest};
