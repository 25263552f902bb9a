//! The lines of `metrics.jsonl` and `trace.jsonl`: the report reads the model's shapes,
//! shared with the fault detectors, every field optional so an older or cut-short file
//! still loads.

pub use traitor_model::metrics::{LinkCount, MetricLine};
pub use traitor_model::trace::TraceLine;
