//! Resource anomaly (seed 000's heat maps, as a detector): a node whose CPU, memory or
//! network traffic is far from its peers' at the same instant, for [`SUSTAINED`] samples in
//! a row, all from the node samples (a node not running uses none). The process backend
//! counts no traffic per node (all zero: never far); the proxy's message counts are the
//! muteness and crash detectors' business, and node-to-node traffic follows roles and
//! situations too closely (an isolated node's view-change chatter, a catch-up) to be an
//! anomaly by itself.
//!
//! Far means more than [`FACTOR`] times the median of the other nodes, or less than that
//! median divided by it, and further from it than the metric's noise floor: a primary
//! that sends twice what a backup sends is a role, not an anomaly.

use super::{Detector, Finding, Observed};
use serde_json::json;
use std::collections::BTreeMap;
use traitor_model::metrics::NodeSample;
use traitor_model::NodeId;

/// How far from the peers' median a value must be, as a ratio.
pub const FACTOR: f64 = 4.0;
/// Consecutive samples a value must stay far for.
pub const SUSTAINED: usize = 3;

/// One compared quantity: its name, unit and noise floor (absolute differences below it
/// are never anomalies, so idle nodes at 0.1% and 0.4% CPU are alike).
struct Metric {
    name: &'static str,
    unit: &'static str,
    floor: f64,
}

const METRICS: [Metric; 4] = [
    Metric {
        name: "cpu",
        unit: "cores",
        floor: 0.05,
    },
    Metric {
        name: "memory",
        unit: "bytes",
        floor: 1024.0 * 1024.0,
    },
    Metric {
        name: "sent",
        unit: "bytes/s",
        floor: 16.0 * 1024.0,
    },
    Metric {
        name: "received",
        unit: "bytes/s",
        floor: 16.0 * 1024.0,
    },
];

/// Each node's value of each metric at each sample time.
type Values = BTreeMap<u64, BTreeMap<NodeId, [Option<f64>; 4]>>;

pub fn detect(observed: &Observed) -> Vec<Finding> {
    let values = values(observed);
    let mut findings = Vec::new();
    for &node in &observed.nodes {
        for (m, metric) in METRICS.iter().enumerate() {
            if let Some(f) = sustained(&values, node, m, metric) {
                findings.push(f);
            }
        }
    }
    // One finding per node: the first metric to go astray, naming the others.
    findings.sort_by_key(|f| (f.nodes.clone(), f.time));
    findings.dedup_by(|later, first| {
        let same = later.nodes == first.nodes;
        if same {
            let name = later.evidence["metric"].clone();
            if let Some(also) = first.evidence["also"].as_array_mut() {
                also.push(name);
            }
        }
        same
    });
    findings
}

/// The first stretch of [`SUSTAINED`] samples in which `node`'s metric `m` is far from
/// its peers'.
fn sustained(values: &Values, node: NodeId, m: usize, metric: &Metric) -> Option<Finding> {
    let mut run: Vec<(u64, f64, f64)> = Vec::new();
    for (&time, nodes) in values {
        let Some(value) = nodes.get(&node).and_then(|v| v[m]) else {
            run.clear();
            continue;
        };
        let mut peers: Vec<f64> = nodes
            .iter()
            .filter(|(&n, _)| n != node)
            .filter_map(|(_, v)| v[m])
            .collect();
        if peers.is_empty() {
            run.clear();
            continue;
        }
        peers.sort_by(f64::total_cmp);
        let median = peers[peers.len() / 2];
        let far = (value - median).abs() >= metric.floor
            && (value > median * FACTOR || value * FACTOR < median);
        if !far {
            run.clear();
            continue;
        }
        run.push((time, value, median));
        if run.len() == SUSTAINED {
            let (from, _, _) = run[0];
            let direction = if value > median { "above" } else { "below" };
            return Some(Finding {
                detector: Detector::ResourceAnomaly,
                nodes: vec![node],
                time,
                summary: format!(
                    "node {node}'s {} was {direction} its peers' for {SUSTAINED} samples from {:.1} s ({} against a median of {} {})",
                    metric.name,
                    from as f64 / 1e9,
                    shown(value),
                    shown(median),
                    metric.unit
                ),
                evidence: json!({
                    "metric": metric.name,
                    "unit": metric.unit,
                    "direction": direction,
                    "samples": run.iter().map(|(t, v, med)| json!({"time": t, "value": v, "peers_median": med})).collect::<Vec<_>>(),
                    "also": [],
                }),
            });
        }
    }
    None
}

fn shown(v: f64) -> String {
    if v.abs() >= 100.0 {
        format!("{v:.0}")
    } else {
        format!("{v:.3}")
    }
}

/// Every node's CPU (cores), memory (bytes), and sent and received traffic (bytes per
/// second) at each sample time; `None` where unknown.
fn values(observed: &Observed) -> Values {
    let mut out: Values = BTreeMap::new();
    for (&node, samples) in &observed.samples {
        for (i, (time, sample)) in samples.iter().enumerate() {
            let previous = i.checked_sub(1).map(|p| &samples[p]);
            let memory = Some(if sample.running {
                sample.memory_bytes as f64
            } else {
                0.0
            });
            let rate = |counter: fn(&NodeSample) -> u64| match (sample.running, previous) {
                (false, _) => Some(0.0),
                (true, Some((t0, s0)))
                    if s0.running && counter(sample) >= counter(s0) && time > t0 =>
                {
                    Some((counter(sample) - counter(s0)) as f64 * 1e9 / (time - t0) as f64)
                }
                _ => None,
            };
            let cpu = rate(|s| s.cpu_ns).map(|ns_per_s| ns_per_s / 1e9);
            let sent = rate(|s| s.tx_bytes);
            let received = rate(|s| s.rx_bytes);
            out.entry(*time)
                .or_default()
                .insert(node, [cpu, memory, sent, received]);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::super::testing::*;
    use super::*;

    #[test]
    fn a_node_burning_cpu_is_found_and_a_busier_primary_is_not() {
        let metrics = samples(4, 10, |node, second| {
            let cpu = match (node, second) {
                (3, 5..) => 900_000_000,
                (0, _) => 200_000_000,
                _ => 100_000_000,
            };
            (true, cpu, 40)
        });
        let found = detect(&observed(4, chatter(4, 0, 10_000), metrics));
        assert_eq!(nodes_of(&found), vec![3], "{found:#?}");
        assert_eq!(found[0].time, 7_000_000_000);
        assert_eq!(found[0].evidence["metric"], "cpu");
    }

    #[test]
    fn a_frozen_node_is_below_its_peers() {
        let metrics = samples(4, 10, |node, second| {
            let cpu = if node == 2 && second >= 3 {
                0
            } else {
                300_000_000
            };
            (true, cpu, 40)
        });
        let mut trace = chatter(4, 0, 10_000);
        trace.retain(|l| l.from != Some(2) || l.time < ms(2000));
        let found = detect(&observed(4, trace, metrics));
        assert_eq!(nodes_of(&found), vec![2], "{found:#?}");
        assert_eq!(found[0].evidence["direction"], "below");
    }

    #[test]
    fn alike_nodes_are_not_anomalies() {
        let metrics = samples(4, 10, |node, _| {
            (true, 10_000_000 * u64::from(node + 1), 40)
        });
        assert!(detect(&observed(4, chatter(4, 0, 10_000), metrics)).is_empty());
    }
}
