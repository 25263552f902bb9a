//! Network and process faults on a schedule: one fault at a time, applied for a while,
//! then healed, with every start and heal written to `faults.jsonl` (the ground truth).
//! At the end everything is healed, and the time of that heal is the run's `healed_at`.

use crate::connectors::PrimaryLookup;
use crate::exit::Failure;
use crate::stop::wait_or_stop;
use crate::store::Jsonl;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{RngExt, SeedableRng};
use serde_json::json;
use std::collections::BTreeSet;
use std::str::FromStr;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::{watch, Mutex};
use traitor_cluster::ClusterBackend;
use traitor_model::{FaultRecord, NodeId};
use traitor_proxy::LinkControl;

/// One kind of fault the nemesis can inject.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FaultKind {
    /// A partition of a random shape among the ones below.
    Partition,
    IsolateOne,
    /// One node's outgoing links held: it hears everyone and nobody hears it (a one-way
    /// partition, as when a replica's uplink fails).
    MuteOne,
    Halves,
    IsolatePrimary,
    Bridge,
    MajorityRing,
    Delay,
    Drop,
    Duplicate,
    Reorder,
    Crash,
    CrashPrimary,
    Pause,
    Restart,
}

const NAMES: [(&str, FaultKind); 15] = [
    ("partition", FaultKind::Partition),
    ("partition-isolate-one", FaultKind::IsolateOne),
    ("partition-mute-one", FaultKind::MuteOne),
    ("partition-halves", FaultKind::Halves),
    ("partition-isolate-primary", FaultKind::IsolatePrimary),
    ("partition-bridge", FaultKind::Bridge),
    ("partition-ring", FaultKind::MajorityRing),
    ("delay", FaultKind::Delay),
    ("drop", FaultKind::Drop),
    ("duplicate", FaultKind::Duplicate),
    ("reorder", FaultKind::Reorder),
    ("crash", FaultKind::Crash),
    ("crash-primary", FaultKind::CrashPrimary),
    ("pause", FaultKind::Pause),
    ("restart", FaultKind::Restart),
];

impl FromStr for FaultKind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        NAMES
            .iter()
            .find(|(name, _)| *name == s)
            .map(|(_, kind)| *kind)
            .ok_or_else(|| {
                format!(
                    "unknown nemesis {s:?}; expected one of: {}",
                    NAMES.map(|(n, _)| n).join(", ")
                )
            })
    }
}

impl FaultKind {
    /// Whether it crashes, pauses or restarts a node (rather than acting on links).
    pub fn is_process_fault(self) -> bool {
        matches!(
            self,
            FaultKind::Crash | FaultKind::CrashPrimary | FaultKind::Pause | FaultKind::Restart
        )
    }

    /// Whether it hits one node that a timeline may name (`node = N`) instead of drawing it.
    pub fn hits_one_node(self) -> bool {
        matches!(
            self,
            FaultKind::IsolateOne
                | FaultKind::MuteOne
                | FaultKind::Crash
                | FaultKind::Pause
                | FaultKind::Restart
        )
    }

    /// The name used on the command line and in `faults.jsonl`.
    pub fn name(self) -> &'static str {
        NAMES
            .iter()
            .find(|(_, k)| *k == self)
            .map(|(n, _)| *n)
            .unwrap_or("unknown")
    }
}

/// When faults happen: one at a time, either chosen at random or at fixed times.
#[derive(Clone, Debug, PartialEq)]
pub enum Schedule {
    /// A fault drawn (seeded) from `faults` after each quiet `interval`, for `duration`.
    Random {
        faults: Vec<FaultKind>,
        interval: Duration,
        duration: Duration,
    },
    /// Faults at fixed times from the run's start (`--nemesis-file`).
    Timeline(Vec<Step>),
}

/// One fault of a timeline.
#[derive(Clone, Debug, PartialEq)]
pub struct Step {
    /// From the run's start.
    pub at: Duration,
    pub kind: FaultKind,
    pub duration: Duration,
    /// The node it hits, for kinds that hit one node; drawn (seeded) when `None`.
    pub node: Option<NodeId>,
}

impl Schedule {
    /// Whether any fault crashes, pauses or restarts a node.
    pub fn has_process_faults(&self) -> bool {
        self.kinds().iter().any(|k| k.is_process_fault())
    }

    /// Whether any fault is aimed at the primary (which needs a primary lookup).
    pub fn aims_at_primary(&self) -> bool {
        self.kinds()
            .iter()
            .any(|k| matches!(k, FaultKind::CrashPrimary | FaultKind::IsolatePrimary))
    }

    /// Checks the nodes a timeline names against the cluster: each must exist, and process
    /// faults may not hit a Byzantine node (crashing a traitor proves nothing).
    pub fn check_nodes(&self, n: NodeId, byzantine: &[NodeId]) -> Result<(), String> {
        let Schedule::Timeline(steps) = self else {
            return Ok(());
        };
        for (i, step) in steps.iter().enumerate() {
            let Some(node) = step.node else { continue };
            if node >= n {
                return Err(format!(
                    "fault {}: node = {node}, but nodes are numbered 0 to {}",
                    i + 1,
                    n.saturating_sub(1)
                ));
            }
            if step.kind.is_process_fault() && byzantine.contains(&node) {
                return Err(format!(
                    "fault {}: node = {node} is Byzantine in this run; {} hits correct nodes only",
                    i + 1,
                    step.kind.name()
                ));
            }
        }
        Ok(())
    }

    /// Every kind of fault the schedule may inject.
    pub fn kinds(&self) -> Vec<FaultKind> {
        match self {
            Schedule::Random { faults, .. } => faults.clone(),
            Schedule::Timeline(steps) => steps.iter().map(|s| s.kind).collect(),
        }
    }

    /// The schedule as the manifest records it.
    pub fn describe(&self) -> Vec<serde_json::Value> {
        match self {
            Schedule::Random { faults, interval, duration } => faults
                .iter()
                .map(|k| json!({"fault": k.name(), "interval_ms": interval.as_millis() as u64, "duration_ms": duration.as_millis() as u64}))
                .collect(),
            Schedule::Timeline(steps) => steps
                .iter()
                .map(|s| json!({"fault": s.kind.name(), "at_ms": s.at.as_millis() as u64, "duration_ms": s.duration.as_millis() as u64, "node": s.node}))
                .collect(),
        }
    }

    /// Reads a timeline file: TOML with one `[[fault]]` table per fault, each with `at`,
    /// `kind` and `duration`, and `node` for kinds that hit one node (to aim at a given
    /// replica rather than a drawn one); faults in time order, each starting after the
    /// previous ends.
    pub fn from_file(path: &std::path::Path) -> Result<Self, String> {
        #[derive(serde::Deserialize)]
        #[serde(deny_unknown_fields)]
        struct File {
            fault: Vec<Entry>,
        }
        #[derive(serde::Deserialize)]
        #[serde(deny_unknown_fields)]
        struct Entry {
            at: String,
            kind: String,
            duration: String,
            node: Option<NodeId>,
        }
        let name = path.display();
        let text = std::fs::read_to_string(path).map_err(|e| format!("{name}: {e}"))?;
        let file: File = toml::from_str(&text).map_err(|e| format!("{name}: {e}"))?;
        let mut steps: Vec<Step> = Vec::new();
        for (i, entry) in file.fault.iter().enumerate() {
            let field = |what: &str, value: &str| {
                humantime::parse_duration(value)
                    .map_err(|e| format!("{name}: fault {}: {what} = {value:?}: {e} (write it like \"5s\" or \"1500ms\")", i + 1))
            };
            let step = Step {
                at: field("at", &entry.at)?,
                kind: entry
                    .kind
                    .parse()
                    .map_err(|e| format!("{name}: fault {}: {e}", i + 1))?,
                duration: field("duration", &entry.duration)?,
                node: entry.node,
            };
            if step.node.is_some() && !step.kind.hits_one_node() {
                return Err(format!(
                    "{name}: fault {}: kind = {:?} does not hit one node, so it takes no `node` \
                     (kinds that do: partition-isolate-one, partition-mute-one, crash, pause, restart)",
                    i + 1,
                    entry.kind
                ));
            }
            if let Some(previous) = steps.last() {
                let free_at = previous.at + previous.duration;
                if step.at < free_at {
                    return Err(format!(
                        "{name}: fault {} starts at {} but fault {} lasts until {}; faults run one at a time",
                        i + 1,
                        humantime::format_duration(step.at),
                        i,
                        humantime::format_duration(free_at)
                    ));
                }
            }
            steps.push(step);
        }
        Ok(Schedule::Timeline(steps))
    }
}

/// What the nemesis acts on.
pub struct Nemesis {
    pub links: LinkControl,
    pub backend: Arc<Mutex<Box<dyn ClusterBackend>>>,
    /// Who leads, for the faults aimed at the primary (none: they are refused at plan time).
    pub primary: Option<Arc<dyn PrimaryLookup>>,
    /// How many nodes there are (0 to n-1).
    pub n: usize,
    pub faults_log: Jsonl,
    pub run_start: Instant,
    pub rng: StdRng,
    /// Restarts per node: a node restarted without durable state starts a new incarnation.
    pub incarnations: Arc<std::sync::Mutex<Vec<u32>>>,
    /// The fault in force, for the progress display.
    pub active: Arc<std::sync::Mutex<String>>,
    /// Nodes process faults may hit: the correct ones (crashing a traitor proves nothing).
    pub crashable: Vec<NodeId>,
}

/// A fault in force, and how to undo it.
enum Undo {
    Links(Vec<(NodeId, NodeId)>),
    LinkRules,
    Restart(NodeId),
    Resume(NodeId),
    Nothing,
}

impl Nemesis {
    pub fn new(
        links: LinkControl,
        backend: Arc<Mutex<Box<dyn ClusterBackend>>>,
        primary: Option<Arc<dyn PrimaryLookup>>,
        n: usize,
        faults_log: Jsonl,
        run_start: Instant,
        seed: u64,
    ) -> Self {
        Self {
            links,
            backend,
            primary,
            n,
            faults_log,
            run_start,
            rng: StdRng::seed_from_u64(seed ^ 0x6E65_6D65_7369_7321),
            incarnations: Arc::new(std::sync::Mutex::new(vec![0; n])),
            active: Arc::new(std::sync::Mutex::new(String::new())),
            crashable: (0..n as NodeId).collect(),
        }
    }

    fn now(&self) -> u64 {
        self.run_start.elapsed().as_nanos() as u64
    }

    fn record(
        &self,
        kind: &str,
        nodes: Vec<NodeId>,
        detail: serde_json::Value,
    ) -> Result<(), Failure> {
        self.faults_log.append(&FaultRecord {
            time: self.now(),
            kind: kind.into(),
            nodes,
            detail,
        })
    }

    /// Runs the schedule until `stop` turns true, then heals whatever is in force.
    pub async fn run(
        &mut self,
        schedule: Schedule,
        mut stop: watch::Receiver<bool>,
    ) -> Result<(), Failure> {
        match schedule {
            Schedule::Random {
                faults,
                interval,
                duration,
            } => {
                if faults.is_empty() {
                    return Ok(());
                }
                loop {
                    let kind = faults[self.rng.random_range(0..faults.len())];
                    if self
                        .fault_after(interval, kind, None, duration, &mut stop)
                        .await?
                    {
                        return Ok(());
                    }
                }
            }
            Schedule::Timeline(steps) => {
                for step in steps {
                    let wait = (self.run_start + step.at).saturating_duration_since(Instant::now());
                    if self
                        .fault_after(wait, step.kind, step.node, step.duration, &mut stop)
                        .await?
                    {
                        return Ok(());
                    }
                }
                Ok(())
            }
        }
    }

    /// Waits `wait`, injects `kind` (on `node` if given) for `duration`, heals it. Says
    /// whether `stop` came.
    async fn fault_after(
        &mut self,
        wait: Duration,
        kind: FaultKind,
        node: Option<NodeId>,
        duration: Duration,
        stop: &mut watch::Receiver<bool>,
    ) -> Result<bool, Failure> {
        if wait_or_stop(wait, stop).await {
            return Ok(true);
        }
        let undo = self.inject(kind, node).await?;
        let stopped = wait_or_stop(duration, stop).await;
        self.heal(undo).await?;
        Ok(stopped)
    }

    async fn inject(&mut self, kind: FaultKind, node: Option<NodeId>) -> Result<Undo, Failure> {
        let n = self.n as NodeId;
        let everyone: Vec<NodeId> = (0..n).collect();
        let kind = if kind == FaultKind::Partition {
            [
                FaultKind::IsolateOne,
                FaultKind::Halves,
                FaultKind::IsolatePrimary,
                FaultKind::Bridge,
                FaultKind::MajorityRing,
            ][self.rng.random_range(0..5)]
        } else {
            kind
        };
        let undo = match kind {
            FaultKind::IsolateOne | FaultKind::IsolatePrimary => {
                let x = if kind == FaultKind::IsolatePrimary {
                    self.primary().await
                } else {
                    node.unwrap_or_else(|| self.random_node())
                };
                let pairs = cut(
                    &[x],
                    &everyone
                        .iter()
                        .copied()
                        .filter(|&y| y != x)
                        .collect::<Vec<_>>(),
                );
                self.partition(kind, pairs, json!({"isolated": x})).await?
            }
            FaultKind::MuteOne => {
                let x = node.unwrap_or_else(|| self.random_node());
                self.partition(kind, outgoing(x, n), json!({"muted": x}))
                    .await?
            }
            FaultKind::Halves | FaultKind::Bridge => {
                let mut shuffled = everyone.clone();
                shuffled.shuffle(&mut self.rng);
                let (a, b) = shuffled.split_at(shuffled.len() / 2);
                let (a, b, bridge) = match (kind, b.split_first()) {
                    (FaultKind::Bridge, Some((bridge, rest))) if !rest.is_empty() => {
                        (a.to_vec(), rest.to_vec(), Some(*bridge))
                    }
                    _ => (a.to_vec(), b.to_vec(), None),
                };
                self.partition(
                    kind,
                    cut(&a, &b),
                    json!({"sides": [a, b], "bridge": bridge}),
                )
                .await?
            }
            FaultKind::MajorityRing => {
                let mut ring = everyone.clone();
                ring.shuffle(&mut self.rng);
                let reach = (n as usize / 2).div_ceil(2).max(1);
                let mut pairs = Vec::new();
                for (i, &a) in ring.iter().enumerate() {
                    for (j, &b) in ring.iter().enumerate() {
                        let d = i.abs_diff(j).min(ring.len() - i.abs_diff(j));
                        if d > reach {
                            pairs.push((a, b));
                        }
                    }
                }
                self.partition(kind, pairs, json!({"ring": ring, "reach": reach}))
                    .await?
            }
            FaultKind::Delay | FaultKind::Drop | FaultKind::Duplicate | FaultKind::Reorder => {
                let detail = match kind {
                    FaultKind::Delay => json!({"mean_ms": 50, "jitter_ms": 25}),
                    _ => json!({"probability": 0.2}),
                };
                for &(a, b) in &all_links(n) {
                    match kind {
                        FaultKind::Delay => self.links.delay(
                            a,
                            b,
                            Duration::from_millis(50),
                            Duration::from_millis(25),
                        ),
                        FaultKind::Drop => self.links.drop(a, b, 0.2),
                        FaultKind::Duplicate => self.links.duplicate(a, b, 0.2),
                        _ => self.links.reorder(a, b, 0.2),
                    }
                }
                self.record(kind.name(), everyone.clone(), detail)?;
                Undo::LinkRules
            }
            FaultKind::Crash | FaultKind::CrashPrimary => {
                let x = if kind == FaultKind::CrashPrimary {
                    self.primary().await
                } else {
                    node.unwrap_or_else(|| self.random_crashable())
                };
                self.backend
                    .lock()
                    .await
                    .kill(x)
                    .await
                    .map_err(|e| Failure::harness(e.to_string()))?;
                self.record(kind.name(), vec![x], json!({"signal": "KILL"}))?;
                Undo::Restart(x)
            }
            FaultKind::Pause => {
                let x = node.unwrap_or_else(|| self.random_crashable());
                self.backend
                    .lock()
                    .await
                    .pause(x)
                    .await
                    .map_err(|e| Failure::harness(e.to_string()))?;
                self.record("pause", vec![x], json!({}))?;
                Undo::Resume(x)
            }
            FaultKind::Restart => {
                let x = node.unwrap_or_else(|| self.random_crashable());
                self.record("restart", vec![x], json!({}))?;
                self.restart(x).await?;
                Undo::Nothing
            }
            FaultKind::Partition => unreachable!("a partition shape was chosen above"),
        };
        *self.active.lock().unwrap_or_else(|p| p.into_inner()) = kind.name().to_string();
        Ok(undo)
    }

    async fn partition(
        &mut self,
        kind: FaultKind,
        pairs: Vec<(NodeId, NodeId)>,
        detail: serde_json::Value,
    ) -> Result<Undo, Failure> {
        for &(a, b) in &pairs {
            self.links.partition(a, b);
        }
        let nodes: BTreeSet<NodeId> = pairs.iter().flat_map(|&(a, b)| [a, b]).collect();
        self.record(kind.name(), nodes.into_iter().collect(), detail)?;
        Ok(Undo::Links(pairs))
    }

    async fn restart(&mut self, x: NodeId) -> Result<(), Failure> {
        self.backend
            .lock()
            .await
            .restart(x)
            .await
            .map_err(|e| Failure::harness(e.to_string()))?;
        self.incarnations.lock().unwrap_or_else(|p| p.into_inner())[x as usize] += 1;
        Ok(())
    }

    async fn heal(&mut self, undo: Undo) -> Result<(), Failure> {
        match undo {
            Undo::Links(pairs) => {
                for (a, b) in &pairs {
                    self.links.heal(*a, *b);
                }
                self.record("heal", vec![], json!({"healed": "partition"}))?;
            }
            Undo::LinkRules => {
                self.links.heal_all();
                self.record("heal", vec![], json!({"healed": "link rules"}))?;
            }
            Undo::Restart(x) => {
                self.restart(x).await?;
                self.record("heal", vec![x], json!({"healed": "restarted"}))?;
            }
            Undo::Resume(x) => {
                self.backend
                    .lock()
                    .await
                    .resume(x)
                    .await
                    .map_err(|e| Failure::harness(e.to_string()))?;
                self.record("heal", vec![x], json!({"healed": "resumed"}))?;
            }
            Undo::Nothing => {}
        }
        self.active
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clear();
        Ok(())
    }

    /// Heals everything that may be in force (the end of every run), and records it.
    pub async fn heal_all(&mut self) -> Result<u64, Failure> {
        self.links.heal_all();
        self.record("heal-all", vec![], json!({}))?;
        Ok(self.now())
    }

    fn random_node(&mut self) -> NodeId {
        self.rng.random_range(0..self.n as NodeId)
    }

    /// A node a process fault may hit.
    fn random_crashable(&mut self) -> NodeId {
        self.crashable[self.rng.random_range(0..self.crashable.len())]
    }

    /// The primary as the target's primary lookup names it; node 0 when none is known.
    pub async fn primary(&self) -> NodeId {
        match &self.primary {
            Some(lookup) => lookup.primary().await.unwrap_or(0),
            None => 0,
        }
    }
}

/// Every directed link between a node of `a` and a node of `b`, both ways.
fn cut(a: &[NodeId], b: &[NodeId]) -> Vec<(NodeId, NodeId)> {
    a.iter()
        .flat_map(|&x| b.iter().flat_map(move |&y| [(x, y), (y, x)]))
        .collect()
}

/// Every directed link from `x` to the other nodes: cutting them mutes `x` one way.
fn outgoing(x: NodeId, n: NodeId) -> Vec<(NodeId, NodeId)> {
    (0..n).filter(|&y| y != x).map(|y| (x, y)).collect()
}

fn all_links(n: NodeId) -> Vec<(NodeId, NodeId)> {
    (0..n)
        .flat_map(|a| (0..n).filter(move |&b| b != a).map(move |b| (a, b)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_parse_and_errors_list_them() {
        assert_eq!(
            "crash-primary".parse::<FaultKind>(),
            Ok(FaultKind::CrashPrimary)
        );
        let err = "explode".parse::<FaultKind>().unwrap_err();
        assert!(
            err.contains("partition-halves") && err.contains("pause"),
            "{err}"
        );
        for (name, kind) in NAMES {
            assert_eq!(kind.name(), name);
        }
    }

    #[test]
    fn timeline_files_are_read_and_checked() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("faults.toml");
        let write = |text: &str| std::fs::write(&path, text).unwrap();
        write("[[fault]]\nat = \"2s\"\nkind = \"crash-primary\"\nduration = \"3s\"\n\n[[fault]]\nat = \"6s\"\nkind = \"partition-halves\"\nduration = \"1s\"\n");
        let Schedule::Timeline(steps) = Schedule::from_file(&path).unwrap() else {
            panic!("a timeline")
        };
        assert_eq!(steps.len(), 2);
        assert_eq!(
            (steps[1].at, steps[1].kind),
            (Duration::from_secs(6), FaultKind::Halves)
        );
        write("[[fault]]\nat = \"2s\"\nkind = \"crash\"\nduration = \"5s\"\n\n[[fault]]\nat = \"6s\"\nkind = \"pause\"\nduration = \"1s\"\n");
        assert!(Schedule::from_file(&path)
            .unwrap_err()
            .contains("fault 2 starts at 6s but fault 1 lasts until 7s"));
        write("[[fault]]\nat = \"soon\"\nkind = \"crash\"\nduration = \"5s\"\n");
        assert!(Schedule::from_file(&path)
            .unwrap_err()
            .contains("fault 1: at = \"soon\""));
        write("[[fault]]\nat = \"1s\"\nkind = \"meteor\"\nduration = \"5s\"\n");
        assert!(Schedule::from_file(&path)
            .unwrap_err()
            .contains("unknown nemesis \"meteor\""));
    }

    #[test]
    fn cuts_are_symmetric_and_mutes_one_way() {
        let pairs = cut(&[0], &[1, 2]);
        assert_eq!(pairs, vec![(0, 1), (1, 0), (0, 2), (2, 0)]);
        assert_eq!(all_links(3).len(), 6);
        assert_eq!(outgoing(2, 4), vec![(2, 0), (2, 1), (2, 3)]);
    }

    #[test]
    fn a_timeline_may_aim_one_node_faults_at_a_node() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("faults.toml");
        let write = |text: &str| std::fs::write(&path, text).unwrap();
        write("[[fault]]\nat = \"3s\"\nkind = \"partition-mute-one\"\nduration = \"5s\"\nnode = 3\n\n[[fault]]\nat = \"9s\"\nkind = \"crash\"\nduration = \"1s\"\n");
        let schedule = Schedule::from_file(&path).unwrap();
        let Schedule::Timeline(steps) = &schedule else {
            panic!("a timeline")
        };
        assert_eq!(
            (steps[0].kind, steps[0].node, steps[1].node),
            (FaultKind::MuteOne, Some(3), None)
        );
        assert_eq!(schedule.check_nodes(4, &[2]), Ok(()));
        assert!(schedule
            .check_nodes(3, &[])
            .unwrap_err()
            .contains("fault 1: node = 3, but nodes are numbered 0 to 2"));
        assert!(schedule.has_process_faults());

        write("[[fault]]\nat = \"1s\"\nkind = \"pause\"\nduration = \"1s\"\nnode = 1\n");
        let pause = Schedule::from_file(&path).unwrap();
        assert!(pause
            .check_nodes(4, &[1])
            .unwrap_err()
            .contains("node = 1 is Byzantine in this run; pause hits correct nodes only"));

        write("[[fault]]\nat = \"1s\"\nkind = \"partition-halves\"\nduration = \"1s\"\nnode = 1\n");
        let err = Schedule::from_file(&path).unwrap_err();
        assert!(
            err.contains("fault 1: kind = \"partition-halves\" does not hit one node"),
            "{err}"
        );
    }
}
