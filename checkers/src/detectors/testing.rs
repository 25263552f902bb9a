//! Synthetic observations for the detectors' tests: a PBFT-like cluster where node 0
//! proposes a round every 50 ms, every other node prepares it, and every node commits it.

use super::{Finding, Observed};
use traitor_model::metrics::{MetricLine, NodeSample};
use traitor_model::trace::TraceLine;
use traitor_model::NodeId;

pub fn ms(ms: u64) -> u64 {
    ms * 1_000_000
}

/// One traced message.
pub fn line(time: u64, from: NodeId, to: NodeId, kind: &str, seq: u64, digest: &str) -> TraceLine {
    TraceLine {
        time,
        from: Some(from),
        to: Some(to),
        size: Some(200),
        kind: Some(kind.into()),
        round: Some(format!("seq={seq} view=0")),
        claims: Some(u64::from(from)),
        digest: Some(digest.into()),
        action: Some("deliver".into()),
        ..TraceLine::default()
    }
}

/// Rounds every 50 ms from `from_ms` to `to_ms` among `n` nodes, every copy agreeing.
pub fn chatter(n: NodeId, from_ms: u64, to_ms: u64) -> Vec<TraceLine> {
    let mut out = Vec::new();
    for (seq, at) in (from_ms..to_ms).step_by(50).enumerate() {
        let seq = seq as u64;
        let digest = format!("{seq:016x}");
        for (phase, kind) in ["pre-prepare", "prepare", "commit"].iter().enumerate() {
            let t = ms(at) + phase as u64 * ms(10);
            for from in 0..n {
                if (phase == 0) != (from == 0) && phase != 2 {
                    continue;
                }
                for to in (0..n).filter(|&to| to != from) {
                    out.push(line(t + u64::from(from), from, to, kind, seq, &digest));
                }
            }
        }
    }
    out
}

/// Node samples once a second for `seconds`: `f(node, second)` gives (running, CPU
/// nanoseconds used in that second, resident MiB).
pub fn samples(
    n: NodeId,
    seconds: u64,
    f: impl Fn(NodeId, u64) -> (bool, u64, u64),
) -> Vec<MetricLine> {
    let mut cpu = vec![0u64; n as usize];
    let mut out = Vec::new();
    for second in 1..=seconds {
        for node in 0..n {
            let (running, used, mib) = f(node, second);
            cpu[node as usize] += used;
            out.push(MetricLine {
                kind: "node".into(),
                time: Some(second * 1_000_000_000),
                sample: Some(NodeSample {
                    node,
                    running,
                    cpu_ns: if running { cpu[node as usize] } else { 0 },
                    memory_bytes: if running { mib << 20 } else { 0 },
                    rx_bytes: 0,
                    tx_bytes: 0,
                }),
                link: None,
                error: None,
            });
        }
    }
    out
}

pub fn observed(n: NodeId, trace: Vec<TraceLine>, metrics: Vec<MetricLine>) -> Observed {
    Observed::new(n, trace, metrics)
}

/// The suspects of some findings, each once, in order.
pub fn nodes_of(findings: &[Finding]) -> Vec<NodeId> {
    let mut nodes: Vec<NodeId> = findings.iter().flat_map(|f| f.nodes.clone()).collect();
    nodes.sort_unstable();
    nodes.dedup();
    nodes
}
