//! Crash: a node gone (its process not running when sampled, or a new process: its CPU
//! time started over between two samples) or silent to all its peers for [`SILENCE_NS`]
//! while at least half of them talk throughout. A node cut off by a partition is not
//! judged: what it sends is held by the network and still seen leaving, and while messages
//! to it are held it hears nothing and may have nothing to say. A frozen node in a cluster that goes idle
//! with it (its clients all waiting on it) is seen only by its samples, if at all.

use super::activity::{by_sender, held, silences, Company, Counts, Span, SILENCE_NS};
use super::{Detector, Finding, Observed, SHOWN_EVIDENCE};
use serde_json::json;
use traitor_model::NodeId;

pub fn detect(observed: &Observed) -> Vec<Finding> {
    let span = Span::of(observed);
    let counts = span
        .map(|span| by_sender(observed, span))
        .unwrap_or_default();
    let needed = observed.nodes.len().saturating_sub(1).div_ceil(2);
    let held = held(observed);
    let mut findings = Vec::new();
    for &node in &observed.nodes {
        let mut episodes = Vec::new();
        if let (Some(span), Some(quiet)) = (span, counts.get(&node)) {
            let talkers: Vec<Counts> = counts
                .iter()
                .filter(|(n, _)| **n != node)
                .map(|(_, c)| c.clone())
                .collect();
            let held_toward = Counts::new(
                held.iter()
                    .filter(|((_, to), _)| *to == node)
                    .flat_map(|(_, times)| times.iter().copied()),
                span.bins(),
            );
            let company = Company {
                talkers: &talkers,
                needed,
                alive: None,
                cut: Some(&held_toward),
            };
            for s in silences(quiet, company, span) {
                episodes.push((
                    s.known,
                    json!({"silent_from": s.from, "silent_until": s.until}),
                ));
            }
        }
        episodes.extend(gone(observed, node));
        episodes.sort_by_key(|(t, _)| *t);
        let Some(&(time, _)) = episodes.first() else {
            continue;
        };
        let sampled = |key: &str| episodes.iter().any(|(_, e)| e.get(key).is_some());
        let how = if sampled("not_running_from") {
            "not running when sampled"
        } else if sampled("restarted_by") {
            "a new process (its CPU time started over)"
        } else {
            "silent to all peers while they talked"
        };
        findings.push(Finding {
            detector: Detector::Crash,
            nodes: vec![node],
            time,
            summary: format!(
                "node {node} stopped: {how} ({} episode(s); first known at {:.1} s)",
                episodes.len(),
                time as f64 / 1e9
            ),
            evidence: json!({
                "episodes": episodes.len(),
                "silence_ns": SILENCE_NS,
                "first": episodes.iter().take(SHOWN_EVIDENCE).map(|(_, e)| e.clone()).collect::<Vec<_>>(),
            }),
        });
    }
    findings
}

/// What the node's samples say of its process: stretches in which it was not running, and
/// restarts seen as its CPU time starting over (a kill and start between two samples).
fn gone(observed: &Observed, node: NodeId) -> Vec<(u64, serde_json::Value)> {
    let Some(samples) = observed.samples.get(&node) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    let mut down_since: Option<u64> = None;
    for (i, (time, sample)) in samples.iter().enumerate() {
        match (sample.running, down_since) {
            (false, None) => down_since = Some(*time),
            (true, Some(since)) => {
                out.push((
                    since,
                    json!({"not_running_from": since, "running_again": time}),
                ));
                down_since = None;
            }
            (true, None) => {
                let before = i.checked_sub(1).map(|p| &samples[p].1);
                if before.is_some_and(|b| b.running && sample.cpu_ns < b.cpu_ns) {
                    out.push((*time, json!({"restarted_by": time})));
                }
            }
            (false, Some(_)) => {}
        }
    }
    if let Some(since) = down_since {
        out.push((since, json!({"not_running_from": since})));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::super::testing::*;
    use super::*;
    use traitor_model::trace::TraceLine;

    #[test]
    fn a_killed_node_is_found_when_it_stops_talking() {
        let mut trace = chatter(4, 0, 10_000);
        trace.retain(|l| !(l.from == Some(2) && l.time > ms(3000) && l.time < ms(7000)));
        let found = detect(&observed(4, trace, vec![]));
        assert_eq!(nodes_of(&found), vec![2], "{found:#?}");
        assert_eq!(found[0].time, ms(5000));
    }

    #[test]
    fn a_node_not_running_is_found_from_its_samples() {
        let metrics = samples(4, 10, |node, second| {
            (node != 1 || second < 4, 1_000_000, 50)
        });
        let found = detect(&observed(4, chatter(4, 0, 10_000), metrics));
        assert_eq!(nodes_of(&found), vec![1], "{found:#?}");
        assert_eq!(found[0].time, ms(4000));
    }

    #[test]
    fn a_restarted_node_is_found_by_its_cpu_time_starting_over() {
        let mut metrics = samples(4, 10, |_, _| (true, 50_000_000, 40));
        // Node 3 is killed and started again between the samples at 5 s and 6 s.
        for line in metrics.iter_mut().filter(|l| l.time >= Some(6_000_000_000)) {
            let sample = line.sample.as_mut().unwrap();
            if sample.node == 3 {
                sample.cpu_ns -= 250_000_000;
            }
        }
        let found = detect(&observed(4, chatter(4, 0, 10_000), metrics));
        assert_eq!(nodes_of(&found), vec![3], "{found:#?}");
        assert_eq!(found[0].time, ms(6000));
    }

    #[test]
    fn an_isolated_node_with_nothing_to_say_is_not_crashed() {
        let mut trace = chatter(4, 0, 10_000);
        let cut = |l: &TraceLine| l.time > ms(3000) && l.time < ms(7000);
        trace.retain(|l| !(cut(l) && l.from == Some(1)));
        for l in trace.iter_mut().filter(|l| cut(l) && l.to == Some(1)) {
            l.action = Some("hold".into());
        }
        assert!(detect(&observed(4, trace, vec![])).is_empty());
    }

    #[test]
    fn a_correct_cluster_and_a_partitioned_node_are_not_suspected() {
        let mut trace = chatter(4, 0, 10_000);
        for line in trace.iter_mut() {
            if (line.from == Some(3) || line.to == Some(3)) && line.time > ms(2000) {
                line.action = Some("hold".into());
            }
        }
        assert!(detect(&observed(4, trace, vec![])).is_empty());
    }
}
