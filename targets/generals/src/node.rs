//! The running node: the protocol core behind a lock, its clock, and the effects applied
//! to the real world (frames queued to peers, timers armed on tokio, decisions logged).

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use generals_node::effects::Effects;
use generals_node::general::General;
use generals_node::messages::Frame;

use crate::transport::{encode, Links, PeerQueue};

/// What every task of the node shares.
pub struct Node {
    core: Mutex<General>,
    started: Instant,
    /// One queue per peer, in id order (`None` at this node's own id).
    peers: Vec<Option<PeerQueue>>,
    /// Which of those links have been up.
    links: Arc<Links>,
}

impl Node {
    /// A node around `core`, sending to peers through `peers`, whose state is `links`.
    pub fn new(core: General, peers: Vec<Option<PeerQueue>>, links: Arc<Links>) -> Arc<Node> {
        Arc::new(Node {
            core: Mutex::new(core),
            started: Instant::now(),
            peers,
            links,
        })
    }

    /// The node's peer links: whether each has been up yet.
    pub fn links(&self) -> &Links {
        &self.links
    }

    /// Milliseconds since the node started: the core's clock.
    pub fn now_ms(&self) -> u64 {
        self.started.elapsed().as_millis() as u64
    }

    /// The protocol core (held briefly: every handler is a short, non-blocking step).
    pub fn core(&self) -> MutexGuard<'_, General> {
        self.core
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Feeds a frame that arrived from the network to the core.
    pub fn on_frame(self: &Arc<Self>, frame: Frame) {
        let effects = self.core().on_frame(self.now_ms(), frame);
        self.apply(effects);
    }

    /// Carries out what the core asked for.
    pub fn apply(self: &Arc<Self>, effects: Effects) {
        for rejection in effects.rejections {
            tracing::warn!(from = rejection.from, reason = %rejection.reason, "frame refused");
        }
        for decision in &effects.decisions {
            tracing::info!(instance = decision.instance, value = decision.value.as_str(), origin = ?decision.origin, "decided");
        }
        for send in effects.sends {
            let Some(Some(queue)) = self.peers.get(send.to as usize) else {
                continue;
            };
            if queue.try_send(encode(&send.frame)).is_err() {
                tracing::warn!(to = send.to, "peer queue full or closed; frame dropped");
            }
        }
        for request in effects.timers {
            let node = Arc::clone(self);
            let deadline = self.started + Duration::from_millis(request.at_ms);
            tokio::spawn(async move {
                tokio::time::sleep_until(deadline.into()).await;
                let effects = node.core().on_timer(request.timer);
                node.apply(effects);
            });
        }
    }
}
