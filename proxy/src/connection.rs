//! Accepting on a node's endpoint, telling the sender apart by source address, and
//! forwarding both directions of a connection.

use std::collections::{HashMap, HashSet};
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, watch};

use crate::links::{Link, LinkTable};
use crate::pipe::Pipe;
use crate::trace::Trace;
use crate::{Framing, NodeId};

/// What every listener and connection of one proxy shares.
pub(crate) struct Shared {
    pub framing: Framing,
    pub seed: u64,
    pub table: Arc<LinkTable>,
    pub sources: HashMap<IpAddr, NodeId>,
    pub upstreams: HashMap<NodeId, SocketAddr>,
    pub trace: Arc<Trace>,
    pub interceptor: Option<Arc<dyn crate::Interceptor>>,
    /// Envelope times are nanoseconds since this instant.
    pub run_start: std::time::Instant,
    /// Unknown source addresses already warned about (warned once each).
    pub warned: Mutex<HashSet<IpAddr>>,
}

/// Lifetime tokens of a task: `shutdown` says when to stop, and `alive` is dropped when the
/// task ends, so the proxy knows when all of its tasks are gone.
#[derive(Clone)]
pub(crate) struct TaskGuard {
    pub shutdown: watch::Receiver<bool>,
    /// Never sent on: held only so that dropping it tells the proxy this task has ended.
    pub _alive: mpsc::Sender<()>,
}

impl TaskGuard {
    async fn stopped(&mut self) {
        // An error means the proxy itself is gone: stop as well.
        let _ = self.shutdown.wait_for(|&stop| stop).await;
    }
}

/// Accepts connections on the endpoint standing for node `to` until shutdown.
pub(crate) async fn listen(
    listener: TcpListener,
    to: NodeId,
    shared: Arc<Shared>,
    mut guard: TaskGuard,
) {
    loop {
        let accepted = tokio::select! {
            _ = guard.stopped() => return,
            accepted = listener.accept() => accepted,
        };
        match accepted {
            Ok((stream, peer)) => {
                let source = peer.ip().to_canonical();
                // Numbered here, in accept order, so the seeds do not depend on task scheduling.
                match shared
                    .sources
                    .get(&source)
                    .and_then(|&from| shared.route(from, to))
                {
                    Some(route) => {
                        tokio::spawn(serve(stream, route, Arc::clone(&shared), guard.clone()));
                    }
                    None => shared.refuse(stream, source, to),
                }
            }
            Err(e) => {
                // Typically out of file descriptors; back off instead of spinning.
                tracing::warn!("proxy: accepting on the endpoint of node {to} failed: {e}");
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    }
}

impl Shared {
    fn refuse(&self, stream: TcpStream, source: IpAddr, to: NodeId) {
        drop(stream);
        let first = self
            .warned
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .insert(source);
        if first {
            tracing::warn!(
                "proxy: refused a connection from {source} to the endpoint of node {to}: {source} \
                 is not the source address of any node of this run (only the run's nodes may \
                 use the proxy; further connections from {source} are refused silently)"
            );
        }
    }

    /// The links, upstream and connection number for a new connection `from` -> `to`;
    /// `None` only for a node outside the run.
    fn route(&self, from: NodeId, to: NodeId) -> Option<Route> {
        let forward = Arc::clone(self.table.get(from, to)?);
        let back = Arc::clone(self.table.get(to, from)?);
        let upstream = *self.upstreams.get(&to)?;
        let index = forward.next_connection();
        Some(Route {
            forward,
            back,
            upstream,
            index,
        })
    }
}

/// Where one accepted connection goes.
struct Route {
    forward: Arc<Link>,
    back: Arc<Link>,
    upstream: SocketAddr,
    /// The connection's number on its forward link, which seeds its random choices.
    index: u64,
}

/// Serves one accepted connection until both directions end, one fails, or the proxy
/// shuts down.
async fn serve(inbound: TcpStream, route: Route, shared: Arc<Shared>, mut guard: TaskGuard) {
    tokio::select! {
        _ = guard.stopped() => {}
        _ = forward_connection(inbound, route, &shared) => {}
    }
}

async fn forward_connection(inbound: TcpStream, route: Route, shared: &Shared) {
    let Route {
        forward,
        back,
        upstream,
        index,
    } = route;
    let (from, to) = (forward.from, forward.to);
    // A partitioned link holds a new connection accepted but undialled: the dialler sees
    // a connection that is silent, as on a black-holed network, never one that closes.
    let mut rule = forward.subscribe();
    if rule.borrow().partitioned {
        tracing::debug!("proxy: holding a new connection {from}->{to} until the link heals");
    }
    if rule.wait_for(|r| !r.partitioned).await.is_err() {
        return;
    }
    let outbound = match TcpStream::connect(upstream).await {
        Ok(stream) => stream,
        Err(e) => {
            tracing::warn!(
                "proxy: dialling node {to} at {upstream} for a connection from node {from} \
                 failed: {e}; closing that connection (is node {to} up and listening there?)"
            );
            return;
        }
    };
    for stream in [&inbound, &outbound] {
        if let Err(e) = stream.set_nodelay(true) {
            tracing::debug!("proxy: setting TCP_NODELAY on link {from}->{to} failed: {e}");
        }
    }
    let (in_read, in_write) = inbound.into_split();
    let (out_read, out_write) = outbound.into_split();
    let seed = |a, b| connection_seed(shared.seed, a, b, index);
    let requests = Pipe::new(forward, shared, seed(from, to));
    let replies = Pipe::new(back, shared, seed(to, from));
    let requests = requests.run(in_read, out_write);
    let replies = replies.run(out_read, in_write);
    tokio::pin!(requests, replies);
    // A clean end of one direction (a half-close) lets the other finish; an error ends both.
    let outcome = tokio::select! {
        done = &mut requests => match done {
            Ok(()) => replies.await,
            Err(e) => Err(e),
        },
        done = &mut replies => match done {
            Ok(()) => requests.await,
            Err(e) => Err(e),
        },
    };
    if let Err(e) = outcome {
        tracing::debug!("proxy: connection {from}->{to} ended: {e}");
    }
}

/// The seed of one direction of one connection: the run's seed mixed with the link and
/// the connection's number on it (SplitMix64 steps), so runs repeat and directions differ.
fn connection_seed(seed: u64, from: NodeId, to: NodeId, index: u64) -> u64 {
    [u64::from(from), u64::from(to), index]
        .into_iter()
        .fold(seed, |acc, part| splitmix64(acc ^ part))
}

fn splitmix64(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}
