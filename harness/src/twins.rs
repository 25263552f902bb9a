//! `equivocate-twins` in a run: a second instance ("twin") of every Byzantine node, with
//! the node's id, arguments and secret key but its own address, and the seeded split of
//! the node's peers between its two instances, re-drawn on the adversary's schedule.
//!
//! The twins take backend slots after the run's n nodes (slot n + k for the k-th Byzantine
//! node), so both backends give them an address in the run's own network and remove them
//! at teardown like every node; the proxy knows each as a second instance of its node and
//! routes by the split ([`TwinControl`]). Every split drawn is written to `faults.jsonl`
//! (kind `equivocate-twins`), the ground truth for detectors and reports.

use crate::exit::{warning, Failure};
use crate::stop::stopped;
use crate::store::Jsonl;
use rand::rngs::StdRng;
use rand::SeedableRng;
use serde_json::json;
use std::path::Path;
use std::time::Instant;
use tokio::sync::watch;
use traitor_adversaries::builtin::EquivocateTwins;
use traitor_adversaries::RunInfo;
use traitor_model::{FaultRecord, NodeId};
use traitor_proxy::TwinControl;

/// Mixed into the run's seed for the splits, so they do not follow the keys or the ops.
const SPLIT_SEED: u64 = 0x7477_696e_7370_6c74;

/// The twins of one run and the generator of their splits.
pub struct Twins {
    adversary: EquivocateTwins,
    run: RunInfo,
    rng: StdRng,
    faults: Jsonl,
    run_start: Instant,
}

impl Twins {
    /// Twins for the Byzantine nodes of a run of `n` nodes, drawing splits from `seed`.
    pub fn new(
        adversary: EquivocateTwins,
        (n, f, byzantine): (u32, u32, &[NodeId]),
        seed: u64,
        faults: Jsonl,
        run_start: Instant,
    ) -> Self {
        Self {
            adversary,
            run: RunInfo {
                n,
                f,
                byzantine: byzantine.to_vec(),
                keys: Default::default(),
            },
            rng: StdRng::seed_from_u64(seed ^ SPLIT_SEED),
            faults,
            run_start,
        }
    }

    /// Each twin as (its node, its backend slot).
    pub fn instances(&self) -> Vec<(NodeId, usize)> {
        instances(self.run.n, &self.run.byzantine)
    }

    /// Draws a split for every twinned node, hands it to the proxy and records it.
    pub fn split(&mut self, control: &TwinControl) -> Result<(), Failure> {
        let time = self.run_start.elapsed().as_nanos() as u64;
        for &node in &self.run.byzantine {
            let split = EquivocateTwins::draw(&self.run, node, &mut self.rng);
            control
                .split(node, &split.twin1)
                .map_err(|e| Failure::harness(format!("routing the twins of node {node}: {e}")))?;
            self.faults.append(&FaultRecord {
                time,
                kind: "equivocate-twins".into(),
                nodes: vec![node],
                detail: json!({"split": {"twin0": split.twin0, "twin1": split.twin1}}),
            })?;
        }
        Ok(())
    }

    /// Re-draws the splits on the adversary's schedule until stopped; with no schedule,
    /// the first split stands and this returns at once.
    pub async fn keep_splitting(
        mut self,
        control: TwinControl,
        mut stop: watch::Receiver<bool>,
    ) -> Result<(), Failure> {
        let Some(every) = self.adversary.every else {
            return Ok(());
        };
        loop {
            tokio::select! {
                _ = tokio::time::sleep(every) => self.split(&control)?,
                _ = stopped(&mut stop) => return Ok(()),
            }
        }
    }
}

/// Each twin of a run of `n` nodes as (its node, its backend slot): the k-th Byzantine node's
/// twin takes slot n + k.
fn instances(n: u32, byzantine: &[NodeId]) -> Vec<(NodeId, usize)> {
    (byzantine.iter().enumerate())
        .map(|(k, &node)| (node, n as usize + k))
        .collect()
}

/// Renames the twins' logs in `dir` from their backend slot (`<slot>.log`) to
/// `<node>-twin.log`, beside their node's log; a failure is a warning, not the run's end.
pub fn name_logs(dir: &Path, n: u32, byzantine: &[NodeId]) {
    for (node, slot) in instances(n, byzantine) {
        let (from, to) = (
            dir.join(format!("{slot}.log")),
            dir.join(format!("{node}-twin.log")),
        );
        if let Err(e) = std::fs::rename(&from, &to) {
            warning(format!(
                "naming the log of node {node}'s twin: {} -> {}: {e}",
                from.display(),
                to.display()
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn twins_take_the_slots_after_the_nodes_in_byzantine_order() {
        assert_eq!(instances(4, &[0]), vec![(0, 4)]);
        assert_eq!(instances(7, &[1, 5]), vec![(1, 7), (5, 8)]);
    }

    /// A proxy for 4 nodes, node 0 with a twin; nothing listens behind it.
    async fn proxy() -> traitor_proxy::Proxy {
        let node = |id: NodeId, host: u8| traitor_proxy::ProxyNode {
            id,
            source_ip: std::net::Ipv4Addr::new(127, 0, 0, host).into(),
            upstream: "127.0.0.1:1".parse().unwrap(),
        };
        traitor_proxy::Proxy::start(traitor_proxy::ProxyConfig {
            listen_ip: "127.0.0.1".parse().unwrap(),
            nodes: vec![
                node(0, 20),
                node(1, 21),
                node(2, 22),
                node(3, 23),
                node(0, 24),
            ],
            framing: traitor_proxy::Framing::Len32Json,
            seed: 1,
            run_start: Instant::now(),
            trace_path: None,
            trace_limit: 0,
            interceptor: None,
            more_ports: vec![],
            resolver: None,
        })
        .await
        .unwrap()
    }

    /// The splits a run with `seed` routes and records: (instance of node 0 per peer
    /// 1..=3, the `faults.jsonl` line), per draw.
    async fn splits(seed: u64, draws: usize) -> Vec<([Option<u8>; 3], serde_json::Value)> {
        let dir = tempfile::tempdir().unwrap();
        let store = crate::store::RunStore::create(dir.path(), "c", "r").unwrap();
        let faults = store.jsonl("faults.jsonl").unwrap();
        let proxy = proxy().await;
        let control = proxy.twins();
        let adversary = EquivocateTwins { every: None };
        let mut twins = Twins::new(adversary, (4, 1, &[0]), seed, faults, Instant::now());
        let mut routed = Vec::new();
        for _ in 0..draws {
            twins.split(&control).unwrap();
            routed.push([1, 2, 3].map(|peer| control.instance_for(0, peer)));
        }
        let text = std::fs::read_to_string(store.dir.join("faults.jsonl")).unwrap();
        let records = text.lines().map(|l| serde_json::from_str(l).unwrap());
        routed.into_iter().zip(records).collect()
    }

    #[tokio::test]
    async fn every_split_is_routed_and_recorded_and_repeats_with_the_seed() {
        let drawn = splits(9, 6).await;
        for (routed, record) in &drawn {
            assert_eq!(record["kind"], "equivocate-twins");
            assert_eq!(record["nodes"], json!([0]));
            let twin1: Vec<u64> = (1..=3)
                .filter(|&p| routed[p as usize - 1] == Some(1))
                .collect();
            let twin0: Vec<u64> = (1..=3)
                .filter(|&p| routed[p as usize - 1] == Some(0))
                .collect();
            assert_eq!(
                record["detail"]["split"],
                json!({"twin0": twin0, "twin1": twin1})
            );
            assert!(!twin0.is_empty() && !twin1.is_empty(), "{record}");
        }
        assert!(
            drawn.iter().any(|(routed, _)| *routed != drawn[0].0),
            "re-drawn splits vary"
        );
        let again: Vec<_> = splits(9, 6).await.into_iter().map(|(r, _)| r).collect();
        assert_eq!(again, drawn.iter().map(|(r, _)| *r).collect::<Vec<_>>());
    }

    #[test]
    fn logs_are_named_after_the_node_they_twin() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("7.log"), "twin of 1").unwrap();
        std::fs::write(dir.path().join("8.log"), "twin of 5").unwrap();
        name_logs(dir.path(), 7, &[1, 5]);
        let read = |name: &str| std::fs::read_to_string(dir.path().join(name)).unwrap();
        assert_eq!(read("1-twin.log"), "twin of 1");
        assert_eq!(read("5-twin.log"), "twin of 5");
        assert!(!dir.path().join("7.log").exists());
    }
}
