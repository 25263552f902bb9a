//! Fault rules on directed links, turmoil-style, and the per-link counters.
//!
//! Every ordered pair of the run's nodes has one [`Link`], created at start: its current
//! [`LinkRule`] lives in a `watch` channel so forwarding tasks notice a change with one
//! atomic load per read (the fast path stays fast) and wake up at once when a partition
//! heals. [`LinkControl`] is the handle the orchestrator and the adversaries hold.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;

use crate::{cut, Framing, NodeId};

/// The faults currently applied to one directed link. The default is a clean link.
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize)]
pub struct LinkRule {
    /// Bytes are held (not lost) and new connections are not dialled until healed.
    pub partitioned: bool,
    /// Each message is delivered after `mean` +- uniform `jitter`, order kept.
    pub delay: Option<DelayRule>,
    /// Probability that a message is dropped (framed links only).
    pub drop: f64,
    /// Probability that a message is delivered twice (framed links only).
    pub duplicate: f64,
    /// Probability that a message is held back and released after the next one.
    pub reorder: f64,
}

/// A delay: `mean` +- uniform `jitter`, never below zero.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
pub struct DelayRule {
    /// Centre of the delay.
    pub mean: Duration,
    /// Half-width of the uniform spread around `mean`.
    pub jitter: Duration,
}

impl LinkRule {
    /// Whether any per-message decision (drop, duplicate, reorder, delay) is needed; when
    /// not, the forwarder copies bytes without looking at messages beyond counting them.
    pub fn needs_decisions(&self) -> bool {
        self.delay.is_some() || self.drop > 0.0 || self.duplicate > 0.0 || self.reorder > 0.0
    }
}

/// Per-link counters, always kept (the trace may be truncated; these never are).
#[derive(Clone, Debug, Default, serde::Serialize)]
pub struct LinkStats {
    /// Sending node.
    pub from: NodeId,
    /// Receiving node.
    pub to: NodeId,
    /// Messages (chunks on `stream`) seen on the link.
    pub messages: u64,
    /// Bytes seen on the link.
    pub bytes: u64,
    /// Messages dropped by a rule.
    pub dropped: u64,
    /// Messages delivered twice.
    pub duplicated: u64,
    /// Messages delivered later than they arrived because of a delay rule.
    pub delayed: u64,
    /// Messages that arrived while the link was partitioned and were held until heal.
    pub held: u64,
}

/// Counters of one link; relaxed atomics, since they are only ever summed and read.
#[derive(Default)]
pub(crate) struct Counters {
    pub messages: AtomicU64,
    pub bytes: AtomicU64,
    pub dropped: AtomicU64,
    pub duplicated: AtomicU64,
    pub delayed: AtomicU64,
    pub held: AtomicU64,
}

impl Counters {
    pub fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Ordering::Relaxed);
    }
}

/// One directed link: its rule, its counters, and how many connections it has carried
/// (which seeds each connection's random choices reproducibly).
pub(crate) struct Link {
    pub from: NodeId,
    pub to: NodeId,
    rule: watch::Sender<LinkRule>,
    pub counters: Counters,
    connections: AtomicU64,
    /// Where messages an adversary adds on this link go: the newest pipe of the preferred
    /// [`Carrier`] kind that is still open.
    injector: std::sync::Mutex<Option<(Carrier, tokio::sync::mpsc::UnboundedSender<Vec<u8>>)>>,
}

/// Which direction of a TCP connection a pipe forwards, for choosing where injected
/// messages go. Nodes that dial each peer (pbft, generals) read only the connections they
/// accept: a message added on `from -> to` must go down a connection `from` dialled, never
/// back up one `to` dialled, where `to` would never read it. A target that talks both ways
/// on one connection has only replies on one of its directions: they carry injections when
/// no dialled connection is open.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Carrier {
    /// The answer direction of a connection the receiver dialled.
    Reply,
    /// The direction of a connection the sender dialled.
    Dialled,
}

impl Link {
    fn new(from: NodeId, to: NodeId) -> Link {
        Link {
            from,
            to,
            rule: watch::Sender::new(LinkRule::default()),
            counters: Counters::default(),
            connections: AtomicU64::new(0),
            injector: std::sync::Mutex::new(None),
        }
    }

    /// Offers a new pipe for injected messages on this link: it takes over unless an open
    /// pipe of a preferred kind already has them.
    pub fn set_injector(
        &self,
        carrier: Carrier,
        sender: tokio::sync::mpsc::UnboundedSender<Vec<u8>>,
    ) {
        let mut injector = self.injector.lock().unwrap_or_else(|p| p.into_inner());
        let keep = injector
            .as_ref()
            .is_some_and(|(kind, tx)| *kind > carrier && !tx.is_closed());
        if !keep {
            *injector = Some((carrier, sender));
        }
    }

    /// Sends framed bytes on the link's chosen pipe; false when none is open.
    pub fn inject(&self, frame: Vec<u8>) -> bool {
        let injector = self.injector.lock().unwrap_or_else(|p| p.into_inner());
        injector
            .as_ref()
            .is_some_and(|(_, tx)| tx.send(frame).is_ok())
    }

    /// A receiver that sees the current rule and every later change.
    pub fn subscribe(&self) -> watch::Receiver<LinkRule> {
        self.rule.subscribe()
    }

    /// The number of this connection among those opened on the link, counting from 0.
    pub fn next_connection(&self) -> u64 {
        self.connections.fetch_add(1, Ordering::Relaxed)
    }

    fn update(&self, change: impl FnOnce(&mut LinkRule)) {
        self.rule.send_if_modified(|rule| {
            let before = rule.clone();
            change(rule);
            *rule != before
        });
    }

    fn stats(&self) -> LinkStats {
        let c = &self.counters;
        LinkStats {
            from: self.from,
            to: self.to,
            messages: c.messages.load(Ordering::Relaxed),
            bytes: c.bytes.load(Ordering::Relaxed),
            dropped: c.dropped.load(Ordering::Relaxed),
            duplicated: c.duplicated.load(Ordering::Relaxed),
            delayed: c.delayed.load(Ordering::Relaxed),
            held: c.held.load(Ordering::Relaxed),
        }
    }
}

/// All links of a run, keyed by (from, to).
pub(crate) struct LinkTable {
    links: HashMap<(NodeId, NodeId), Arc<Link>>,
}

impl LinkTable {
    /// Every ordered pair of `nodes`, including a node to itself (a node may dial its own
    /// endpoint, since the peer list is the same on every node).
    pub fn new(nodes: &[NodeId]) -> LinkTable {
        let links = nodes
            .iter()
            .flat_map(|&from| nodes.iter().map(move |&to| (from, to)))
            .map(|(from, to)| ((from, to), Arc::new(Link::new(from, to))))
            .collect();
        LinkTable { links }
    }

    pub fn get(&self, from: NodeId, to: NodeId) -> Option<&Arc<Link>> {
        self.links.get(&(from, to))
    }

    /// Counters of every link, sorted by (from, to).
    pub fn stats(&self) -> Vec<LinkStats> {
        let mut stats: Vec<LinkStats> = self.links.values().map(|link| link.stats()).collect();
        stats.sort_by_key(|s| (s.from, s.to));
        stats
    }
}

/// The handle that sets faults on links while a run goes on: cheap to clone, usable from
/// any task or thread. Rules on a link involving a node the proxy does not know are
/// ignored with a warning rather than a panic: a nemesis naming a wrong node must not take
/// the harness down mid-run.
#[derive(Clone)]
pub struct LinkControl {
    table: Arc<LinkTable>,
    /// How the run's messages are framed, so injected payloads go out as whole messages.
    framing: Framing,
}

impl LinkControl {
    pub(crate) fn new(table: Arc<LinkTable>, framing: Framing) -> LinkControl {
        LinkControl { table, framing }
    }

    /// Sends `payload` (a message without its framing) on the link `from` -> `to`, framed
    /// as the run frames messages, on the link's newest connection: what an adversary does
    /// when it speaks on its own initiative rather than in answer to a message. False when
    /// the message could not be sent: no connection is open on the link yet, a node is not
    /// part of the run, or the framing is `stream` (which has no messages to add).
    pub fn inject(&self, from: NodeId, to: NodeId, payload: &[u8]) -> bool {
        if !self.framing.is_framed() {
            return false;
        }
        self.table
            .get(from, to)
            .is_some_and(|link| link.inject(cut::frame(self.framing, payload)))
    }

    fn update(&self, from: NodeId, to: NodeId, what: &str, change: impl FnOnce(&mut LinkRule)) {
        match self.table.get(from, to) {
            Some(link) => link.update(change),
            None => tracing::warn!(
                "proxy: ignoring {what} on link {from}->{to}: at least one of the nodes is not \
                 part of this run"
            ),
        }
    }

    /// Stops forwarding from `from` to `to`, holding the bytes until [`LinkControl::heal`].
    pub fn partition(&self, from: NodeId, to: NodeId) {
        self.update(from, to, "partition", |r| r.partitioned = true);
    }

    /// Ends a partition of `from` -> `to`; held bytes are delivered in order. Other rules stay.
    pub fn heal(&self, from: NodeId, to: NodeId) {
        self.update(from, to, "heal", |r| r.partitioned = false);
    }

    /// Delivers each message from `from` to `to` after `mean` +- uniform `jitter`; a zero
    /// mean and jitter removes the delay.
    pub fn delay(&self, from: NodeId, to: NodeId, mean: Duration, jitter: Duration) {
        self.update(from, to, "delay", |r| {
            r.delay = (!mean.is_zero() || !jitter.is_zero()).then_some(DelayRule { mean, jitter });
        });
    }

    /// Drops each message from `from` to `to` with `probability` (0 removes the rule).
    pub fn drop(&self, from: NodeId, to: NodeId, probability: f64) {
        let p = clamp_probability(probability, "drop");
        self.update(from, to, "drop", |r| r.drop = p);
    }

    /// Delivers each message from `from` to `to` twice with `probability`.
    pub fn duplicate(&self, from: NodeId, to: NodeId, probability: f64) {
        let p = clamp_probability(probability, "duplicate");
        self.update(from, to, "duplicate", |r| r.duplicate = p);
    }

    /// Holds each message from `from` to `to` with `probability` and releases it after the
    /// next one.
    pub fn reorder(&self, from: NodeId, to: NodeId, probability: f64) {
        let p = clamp_probability(probability, "reorder");
        self.update(from, to, "reorder", |r| r.reorder = p);
    }

    /// Removes every rule of every link (the nemesis's final heal).
    pub fn heal_all(&self) {
        for link in self.table.links.values() {
            link.update(|r| *r = LinkRule::default());
        }
    }

    /// The rule currently on `from` -> `to`, or `None` for a node outside the run.
    pub fn rule(&self, from: NodeId, to: NodeId) -> Option<LinkRule> {
        self.table
            .get(from, to)
            .map(|link| link.subscribe().borrow().clone())
    }
}

/// Probabilities outside [0, 1] are clamped and NaN counts as 0, each with a warning, so a
/// malformed adversary setting degrades to a defined behaviour instead of a panic.
fn clamp_probability(p: f64, what: &str) -> f64 {
    if p.is_nan() {
        tracing::warn!("proxy: {what} probability is NaN; using 0 (expected a number in [0, 1])");
        0.0
    } else if !(0.0..=1.0).contains(&p) {
        tracing::warn!("proxy: {what} probability {p} is outside [0, 1]; clamping it");
        p.clamp(0.0, 1.0)
    } else {
        p
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rules_change_only_the_named_direction_and_heal_all_clears_everything() {
        let control = LinkControl::new(Arc::new(LinkTable::new(&[0, 1])), Framing::Len32Json);
        control.partition(0, 1);
        control.drop(0, 1, 1.5);
        control.delay(1, 0, Duration::from_millis(5), Duration::ZERO);
        let forward = control.rule(0, 1).unwrap();
        assert!(forward.partitioned);
        assert_eq!(forward.drop, 1.0);
        let back = control.rule(1, 0).unwrap();
        assert!(!back.partitioned && back.needs_decisions());
        control.heal(0, 1);
        assert!(!control.rule(0, 1).unwrap().partitioned);
        assert_eq!(
            control.rule(0, 1).unwrap().drop,
            1.0,
            "heal only ends the partition"
        );
        control.heal_all();
        for (from, to) in [(0, 0), (0, 1), (1, 0), (1, 1)] {
            assert_eq!(control.rule(from, to).unwrap(), LinkRule::default());
        }
        assert_eq!(control.rule(0, 7), None);
        control.partition(0, 7); // unknown node: warned, not a panic
    }

    #[test]
    fn nan_probability_counts_as_zero() {
        let control = LinkControl::new(Arc::new(LinkTable::new(&[0, 1])), Framing::Len32Json);
        control.duplicate(0, 1, f64::NAN);
        control.reorder(0, 1, -1.0);
        assert!(!control.rule(0, 1).unwrap().needs_decisions());
    }

    #[test]
    fn injections_go_down_a_dialled_connection_not_back_up_a_reply() {
        let link = Link::new(0, 1);
        let (dialled, mut dialled_rx) = tokio::sync::mpsc::unbounded_channel();
        let (reply, mut reply_rx) = tokio::sync::mpsc::unbounded_channel();
        link.set_injector(Carrier::Dialled, dialled);
        // The receiver's own connection opened later: its answer direction is this link too.
        link.set_injector(Carrier::Reply, reply);
        assert!(link.inject(b"lie".to_vec()));
        assert_eq!(dialled_rx.try_recv().unwrap(), b"lie");
        assert!(reply_rx.try_recv().is_err());

        // Once the dialled connection is gone, a reply direction is better than nothing.
        drop(dialled_rx);
        let (reply, mut reply_rx) = tokio::sync::mpsc::unbounded_channel();
        link.set_injector(Carrier::Reply, reply);
        assert!(link.inject(b"again".to_vec()));
        assert_eq!(reply_rx.try_recv().unwrap(), b"again");

        // A new dialled connection takes over from a reply.
        let (dialled, mut dialled_rx) = tokio::sync::mpsc::unbounded_channel();
        link.set_injector(Carrier::Dialled, dialled);
        assert!(link.inject(b"third".to_vec()));
        assert_eq!(dialled_rx.try_recv().unwrap(), b"third");
    }
}
