//! What the detectors may look at: the messages that left their senders and the resource
//! samples, as a monitor outside the nodes would have them. Built from a run folder
//! without its truth (`faults.jsonl`, the Byzantine set), so no detector can peek.

use crate::run_folder::RunFolder;
use std::collections::{BTreeMap, BTreeSet};
use traitor_model::metrics::{MetricLine, NodeSample};
use traitor_model::trace::TraceLine;
use traitor_model::NodeId;

/// One message that left its sender for its receiver (delivered, delayed, held by a
/// partition, replaced or added on the way: a monitor on the wire sees it all the same).
#[derive(Clone, Debug, PartialEq)]
pub struct Sent {
    pub from: NodeId,
    pub to: NodeId,
    pub line: TraceLine,
}

/// The observer's inputs for one run.
#[derive(Clone, Debug, Default)]
pub struct Observed {
    /// Every node of the run: `0..n` from the manifest (configuration, not truth), plus any
    /// node the trace or samples name.
    pub nodes: Vec<NodeId>,
    /// How many nodes may be faulty (configuration, like `n`): more nodes than this doing
    /// one odd thing is how the protocol works, not a fault.
    pub f: u32,
    /// Messages by time; drops are left out (they never reached anyone).
    pub sent: Vec<Sent>,
    /// When the trace stopped recording (its bound), if it did.
    pub truncated_at: Option<u64>,
    /// Each node's resource samples by time.
    pub samples: BTreeMap<NodeId, Vec<(u64, NodeSample)>>,
    /// Missing or damaged inputs, for `detectors.json`.
    pub notes: Vec<String>,
}

impl Observed {
    /// Reads `trace.jsonl` and `metrics.jsonl` of a run folder; a missing or unreadable
    /// file becomes a note, and the detectors that need it find nothing.
    pub fn load(run: &RunFolder) -> Self {
        let mut notes = Vec::new();
        let trace: Vec<TraceLine> = read(
            run,
            &mut notes,
            "trace.jsonl",
            "no message-based detector could judge the run",
        );
        let metrics: Vec<MetricLine> = read(
            run,
            &mut notes,
            "metrics.jsonl",
            "no resource sample to compare nodes by",
        );
        let n = run.manifest.as_ref().map_or(0, |m| m.n);
        let mut observed = Self::new(n, trace, metrics);
        if let Some(f) = run.manifest.as_ref().map(|m| m.f).filter(|&f| f > 0) {
            observed.f = f;
        }
        observed.notes.splice(0..0, notes);
        observed
    }

    /// The inputs from records already read; `n` is the configured cluster size (0 when
    /// unknown: the nodes are those seen), and `f` is taken as a BFT cluster's `(n - 1) / 3`.
    pub fn new(n: u32, trace: Vec<TraceLine>, metrics: Vec<MetricLine>) -> Self {
        let truncated_at = trace.iter().find(|l| l.truncated).map(|l| l.time);
        let mut sent: Vec<Sent> = trace
            .into_iter()
            .filter(|l| !l.truncated && l.sent())
            .filter_map(|line| {
                let (from, to) = (line.from?, line.to?);
                Some(Sent { from, to, line })
            })
            .collect();
        sent.sort_by_key(|s| s.line.time);
        let mut samples: BTreeMap<NodeId, Vec<(u64, NodeSample)>> = BTreeMap::new();
        for line in metrics.into_iter().filter(|l| l.kind == "node") {
            if let (Some(time), Some(sample)) = (line.time, line.sample) {
                samples.entry(sample.node).or_default().push((time, sample));
            }
        }
        for list in samples.values_mut() {
            list.sort_by_key(|(t, _)| *t);
        }
        let mut nodes: BTreeSet<NodeId> = (0..n).collect();
        nodes.extend(sent.iter().flat_map(|s| [s.from, s.to]));
        nodes.extend(samples.keys().copied());
        let mut notes = Vec::new();
        if let Some(at) = truncated_at {
            notes.push(format!(
                "trace.jsonl stopped recording at {:.1} s (its bound): later messages are not judged",
                at as f64 / 1e9
            ));
        }
        let f = (nodes.len().saturating_sub(1) / 3) as u32;
        Self {
            nodes: nodes.into_iter().collect(),
            f,
            sent,
            truncated_at,
            samples,
            notes,
        }
    }

    /// The end of what the trace covers: its truncation, else its last message.
    pub fn trace_end(&self) -> u64 {
        self.truncated_at
            .unwrap_or_else(|| self.sent.last().map_or(0, |s| s.line.time))
    }
}

/// The records of one file, its warnings noted; nothing (noted) when it is missing or
/// unreadable.
fn read<T: serde::de::DeserializeOwned>(
    run: &RunFolder,
    notes: &mut Vec<String>,
    name: &str,
    without: &str,
) -> Vec<T> {
    match run.read_records(name) {
        Ok(Some((records, warnings))) => {
            notes.extend(warnings.into_iter().map(|w| format!("{name}: {w}")));
            records
        }
        Ok(None) => {
            notes.push(format!("{name} is missing: {without}"));
            Vec::new()
        }
        Err(e) => {
            notes.push(format!("{e}: {without}"));
            Vec::new()
        }
    }
}
