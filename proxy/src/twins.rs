//! Twins: one node identity run as two instances (the Twins approach to testing BFT
//! protocols, Bano et al.). Both instances' connections count as the node's; for every
//! other node a split says which instance it talks to. Its messages to the twinned node go
//! only to that instance, only that instance's messages reach it, and messages between the
//! two instances are never delivered (an instance dialling its own node reaches itself).
//!
//! The split is set from outside through [`TwinControl`] and may change at any time: framed
//! links follow it message by message ([`Routing`]); on `stream` links, which have no
//! message boundaries, each connection is bound to the instances the split names when it
//! opens (see `connection.rs`).

use std::collections::HashMap;
use std::sync::Arc;

use tokio::sync::watch;

use crate::NodeId;

/// Which of a node's instances: 0 for the node as started, 1 for its twin.
pub type Instance = u8;

/// The split of every twinned node: for each (twinned node, other node), the instance the
/// other node talks to. Instance 0 until set.
pub(crate) struct TwinTable {
    routes: HashMap<(NodeId, NodeId), watch::Sender<Instance>>,
}

impl TwinTable {
    /// A table for `twinned` nodes among `nodes`, every peer routed to instance 0.
    pub fn new(twinned: &[NodeId], nodes: &[NodeId]) -> TwinTable {
        let routes = twinned
            .iter()
            .flat_map(|&node| nodes.iter().map(move |&peer| (node, peer)))
            .filter(|(node, peer)| node != peer)
            .map(|key| (key, watch::Sender::new(0)))
            .collect();
        TwinTable { routes }
    }

    /// The live split entry saying which instance of `node` talks to `peer`; `None` when
    /// `node` has no twin or is `peer` itself (an instance always reaches itself).
    pub fn route(&self, node: NodeId, peer: NodeId) -> Option<watch::Receiver<Instance>> {
        self.routes.get(&(node, peer)).map(watch::Sender::subscribe)
    }

    /// Whether `node` has a twin.
    pub fn is_twinned(&self, node: NodeId) -> bool {
        self.routes.keys().any(|&(twinned, _)| twinned == node)
    }
}

/// The handle that sets the twins' split while a run goes on: cheap to clone, usable from
/// any task or thread (what the harness's twin schedule holds).
#[derive(Clone)]
pub struct TwinControl {
    table: Arc<TwinTable>,
}

impl TwinControl {
    pub(crate) fn new(table: Arc<TwinTable>) -> TwinControl {
        TwinControl { table }
    }

    /// Routes every peer in `to_twin` to instance 1 of `node` and every other peer to
    /// instance 0, at once for messages still to come. Fails, changing nothing, when `node`
    /// has no twin or a listed peer is not another node of the run.
    pub fn split(&self, node: NodeId, to_twin: &[NodeId]) -> Result<(), String> {
        if !self.table.is_twinned(node) {
            return Err(format!("node {node} has no twin in this proxy"));
        }
        if let Some(bad) = to_twin
            .iter()
            .find(|&&peer| !self.table.routes.contains_key(&(node, peer)))
        {
            return Err(format!(
                "peer {bad} cannot be routed to a twin of node {node}: it is not another node \
                 of this run"
            ));
        }
        for (&(twinned, peer), route) in &self.table.routes {
            if twinned == node {
                route.send_if_modified(|instance| {
                    let chosen = Instance::from(to_twin.contains(&peer));
                    std::mem::replace(instance, chosen) != chosen
                });
            }
        }
        Ok(())
    }

    /// The instance of `node` that `peer` talks to now; `None` when `node` has no twin or
    /// is `peer`.
    pub fn instance_for(&self, node: NodeId, peer: NodeId) -> Option<Instance> {
        self.table.route(node, peer).map(|route| *route.borrow())
    }
}

/// How one direction of a framed connection follows the split, message by message. The
/// direction carries messages from one instance of a sender to the receiver's instances
/// it has sockets to (`reachable`).
pub(crate) struct Routing {
    /// The sender's split entry for the receiver and the sender's own instance: when the
    /// sender has a twin, its messages pass only while the split names this instance.
    gate: Option<(watch::Receiver<Instance>, Instance)>,
    /// The receiver's split entry for the sender: which instance each message goes to,
    /// when the receiver has a twin.
    choose: Option<watch::Receiver<Instance>>,
    /// The receiver's instances this direction has sockets to, the default first.
    reachable: Vec<Instance>,
}

impl Routing {
    /// No twin on either side: every message goes to the one receiver, `instance`.
    pub fn direct(instance: Instance) -> Routing {
        Routing {
            gate: None,
            choose: None,
            reachable: vec![instance],
        }
    }

    /// Messages of `sender` (instance `own`) to `receiver`, which this direction reaches
    /// at the `reachable` instances, routed by `table`'s split.
    pub fn new(
        table: &TwinTable,
        (sender, own): (NodeId, Instance),
        receiver: NodeId,
        reachable: Vec<Instance>,
    ) -> Routing {
        Routing {
            gate: table.route(sender, receiver).map(|split| (split, own)),
            choose: table.route(receiver, sender),
            reachable,
        }
    }

    /// Whether the split decides anything here; when not, the pipe keeps its fast path.
    pub fn is_active(&self) -> bool {
        self.gate.is_some() || self.choose.is_some()
    }

    /// The receiver's instance the next message goes to, or `None` when it must not be
    /// delivered: the sender is a twin the receiver does not talk to, or the receiver's
    /// instance the split names is not one this direction reaches.
    pub fn destination(&self) -> Option<Instance> {
        if let Some((split, own)) = &self.gate {
            if *split.borrow() != *own {
                return None;
            }
        }
        self.target()
    }

    /// The receiver's instance the split names for the sender, whatever the sender's own
    /// split says (where the adversaries' added messages go), if this direction reaches it.
    pub fn target(&self) -> Option<Instance> {
        match &self.choose {
            Some(split) => {
                let chosen = *split.borrow();
                self.reachable.contains(&chosen).then_some(chosen)
            }
            None => self.reachable.first().copied(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_split_routes_the_listed_peers_to_the_twin_and_changes_at_once() {
        let table = Arc::new(TwinTable::new(&[0], &[0, 1, 2, 3]));
        let control = TwinControl::new(Arc::clone(&table));
        assert_eq!(control.instance_for(0, 2), Some(0), "instance 0 until set");
        assert_eq!(control.instance_for(1, 2), None, "node 1 has no twin");
        assert_eq!(
            control.instance_for(0, 0),
            None,
            "a node is no peer of itself"
        );
        control.split(0, &[2, 3]).unwrap();
        assert_eq!(
            [1, 2, 3].map(|p| control.instance_for(0, p)),
            [Some(0), Some(1), Some(1)]
        );
        control.split(0, &[1]).unwrap();
        assert_eq!(
            [1, 2, 3].map(|p| control.instance_for(0, p)),
            [Some(1), Some(0), Some(0)]
        );
        assert!(control.split(1, &[2]).unwrap_err().contains("no twin"));
        let err = control.split(0, &[0]).unwrap_err();
        assert!(err.contains("peer 0"), "{err}");
        assert_eq!(
            control.instance_for(0, 1),
            Some(1),
            "a refused split changes nothing"
        );
    }

    #[test]
    fn routing_gates_the_twins_messages_and_chooses_the_twin_for_peers() {
        let table = Arc::new(TwinTable::new(&[0], &[0, 1, 2]));
        let control = TwinControl::new(Arc::clone(&table));
        control.split(0, &[2]).unwrap();
        // Peer 1 (routed to instance 0) writing to both instances of node 0.
        let to_node = Routing::new(&table, (1, 0), 0, vec![0, 1]);
        // Instance 1 of node 0 writing to peer 1, and to peer 2.
        let twin_to_1 = Routing::new(&table, (0, 1), 1, vec![0]);
        let twin_to_2 = Routing::new(&table, (0, 1), 2, vec![0]);
        assert!(to_node.is_active() && twin_to_1.is_active());
        assert_eq!(to_node.destination(), Some(0));
        assert_eq!(
            twin_to_1.destination(),
            None,
            "peer 1 does not hear the twin"
        );
        assert_eq!(twin_to_2.destination(), Some(0));
        control.split(0, &[1]).unwrap();
        assert_eq!(
            to_node.destination(),
            Some(1),
            "re-drawn: peer 1 now reaches the twin"
        );
        assert_eq!(twin_to_1.destination(), Some(0));
        assert_eq!(twin_to_2.destination(), None);
        assert_eq!(
            twin_to_2.target(),
            Some(0),
            "added messages ignore the sender's gate"
        );
        // A connection that reaches only instance 0 cannot carry messages meant for 1.
        let only_first = Routing::new(&table, (1, 0), 0, vec![0]);
        assert_eq!(only_first.destination(), None);
        let plain = Routing::direct(0);
        assert!(!plain.is_active());
        assert_eq!(plain.destination(), Some(0));
    }
}
