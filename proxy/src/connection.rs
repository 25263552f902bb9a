//! Accepting on a node's endpoint, telling the sender apart by source address, and
//! forwarding both directions of a connection.
//!
//! With twins, a connection to a twinned node on a framed link is dialled to both of its
//! instances (each message then goes where the split says), and both instances' replies
//! share the socket back. On `stream` links a connection is bound when it opens: a twin's
//! connection waits, undialled, until the split routes the peer to it, and a peer's
//! connection is dialled to the instance the split names for it then.

use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::Poll;
use std::time::Duration;

use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, watch};

use crate::links::{Carrier, Link, LinkTable};
use crate::pipe::Pipe;
use crate::sink::{Sink, Writer};
use crate::trace::Trace;
use crate::twins::{Instance, Routing, TwinTable};
use crate::{Framing, NodeId};

/// What every listener and connection of one proxy shares.
pub(crate) struct Shared {
    /// The node-to-node ports, the main one first.
    pub ports: Vec<PortShape>,
    /// Finds the sender of a connection from an address that is no node's.
    pub resolver: Option<crate::SourceResolver>,
    pub seed: u64,
    pub table: Arc<LinkTable>,
    /// Each source address's node, and which of its instances has that address.
    pub sources: HashMap<IpAddr, (NodeId, Instance)>,
    /// Each node's real addresses, by instance.
    pub upstreams: HashMap<NodeId, Vec<SocketAddr>>,
    pub twins: Arc<TwinTable>,
    pub trace: Arc<Trace>,
    pub interceptor: Option<Arc<dyn crate::Interceptor>>,
    /// Envelope times are nanoseconds since this instant.
    pub run_start: std::time::Instant,
    /// Unknown source addresses already warned about (warned once each).
    pub warned: Mutex<HashSet<IpAddr>>,
}

/// One node-to-node port of every node, as the proxy forwards it.
#[derive(Clone, Copy, Debug)]
pub(crate) struct PortShape {
    pub framing: Framing,
    /// Where nodes listen on it; `None` for the main port (each node's `upstream`).
    pub port: Option<u16>,
}

impl PortShape {
    /// Adversaries act on, and inject into, the main port only.
    pub fn is_main(&self) -> bool {
        self.port.is_none()
    }
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

/// Accepts connections on the endpoint standing for node `to`'s `port` until shutdown.
pub(crate) async fn listen(
    listener: TcpListener,
    to: NodeId,
    port: usize,
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
                let source = shared.source(&stream, peer);
                // Numbered here, in accept order, so the seeds do not depend on task scheduling.
                match shared
                    .sources
                    .get(&source)
                    .and_then(|&sender| shared.route(sender, to, port))
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
    /// The source address of the node that opened `stream`: the connection's own, or, when
    /// that is no node's, the one the resolver finds.
    fn source(&self, stream: &TcpStream, peer: SocketAddr) -> IpAddr {
        let source = peer.ip().to_canonical();
        if self.sources.contains_key(&source) {
            return source;
        }
        let resolved = self.resolver.as_ref().and_then(|resolver| {
            let local = stream.local_addr().ok()?;
            (resolver.0)(peer, local)
        });
        resolved.map_or(source, |ip| ip.to_canonical())
    }

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

    /// The links, upstreams and connection number for a new connection from instance
    /// `instance` of `from` to `to`; `None` only for a node outside the run.
    fn route(
        &self,
        (from, instance): (NodeId, Instance),
        to: NodeId,
        port: usize,
    ) -> Option<Route> {
        let forward = Arc::clone(self.table.get(from, to)?);
        let back = Arc::clone(self.table.get(to, from)?);
        let shape = *self.ports.get(port)?;
        let upstreams = self
            .upstreams
            .get(&to)?
            .iter()
            .map(|main| SocketAddr::new(main.ip(), shape.port.unwrap_or(main.port())))
            .collect();
        let index = forward.next_connection();
        Some(Route {
            forward,
            back,
            instance,
            upstreams,
            index,
            shape,
        })
    }

    /// Which instances of `to` a connection from `instance` of `from` is dialled to: an
    /// instance dialling its own node reaches itself; on framed links a twinned node's
    /// every instance (the split picks per message); on `stream` links the one the split
    /// names once the sender's instance may speak to `to` (until then the connection waits
    /// undialled, as under a partition). `None` if the proxy shuts down meanwhile.
    async fn instances_to_dial(
        &self,
        (from, instance): (NodeId, Instance),
        to: NodeId,
        count: usize,
        framing: Framing,
    ) -> Option<Vec<Instance>> {
        if from == to {
            return Some(vec![instance]);
        }
        if framing.is_framed() {
            return Some((0..count as Instance).collect());
        }
        if let Some(mut split) = self.twins.route(from, to) {
            split
                .wait_for(|&talks_to| talks_to == instance)
                .await
                .ok()?;
        }
        let chosen = self
            .twins
            .route(to, from)
            .map_or(0, |split| *split.borrow());
        Some(vec![chosen])
    }

    /// How the messages of `sender` to `receiver` follow the twins' split: per message on
    /// framed links; on `stream` links the dialled instances were chosen already.
    fn routing(
        &self,
        sender: (NodeId, Instance),
        receiver: NodeId,
        reachable: Vec<Instance>,
        framing: Framing,
    ) -> Routing {
        if framing.is_framed() {
            Routing::new(&self.twins, sender, receiver, reachable)
        } else {
            Routing::direct(reachable[0])
        }
    }
}

/// Where one accepted connection goes.
struct Route {
    forward: Arc<Link>,
    back: Arc<Link>,
    /// The sender's instance (1 for a twin).
    instance: Instance,
    /// The receiver's real addresses, by instance.
    upstreams: Vec<SocketAddr>,
    /// The connection's number on its forward link, which seeds its random choices.
    index: u64,
    /// The port it was made on.
    shape: PortShape,
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
        instance,
        upstreams,
        index,
        shape,
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
    let Some(dial) = shared
        .instances_to_dial((from, instance), to, upstreams.len(), shape.framing)
        .await
    else {
        return;
    };
    if let Err(e) = inbound.set_nodelay(true) {
        tracing::debug!("proxy: setting TCP_NODELAY on link {from}->{to} failed: {e}");
    }
    let mut to_node = Vec::with_capacity(dial.len());
    let mut from_node = Vec::with_capacity(dial.len());
    for k in dial {
        let upstream = upstreams[usize::from(k)];
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
        if let Err(e) = outbound.set_nodelay(true) {
            tracing::debug!("proxy: setting TCP_NODELAY on link {from}->{to} failed: {e}");
        }
        let (out_read, out_write) = outbound.into_split();
        to_node.push((k, Writer::Own(out_write)));
        from_node.push((k, out_read));
    }
    let (in_read, in_write) = inbound.into_split();
    // Both instances of a twinned node answer on the one socket back to the sender.
    let back_writers: Vec<Writer> = match from_node.len() {
        1 => vec![Writer::Own(in_write)],
        count => {
            let socket = Arc::new(tokio::sync::Mutex::new(in_write));
            (0..count)
                .map(|_| Writer::Shared(Arc::clone(&socket)))
                .collect()
        }
    };
    let seed = |a, b| connection_seed(shared.seed, a, b, index);
    let sink = Sink::many(to_node);
    let routing = shared.routing((from, instance), to, sink.instances(), shape.framing);
    let requests = Pipe::new(
        forward,
        Carrier::Dialled,
        shared,
        shape,
        seed(from, to),
        instance,
        routing,
    );
    let mut directions: Vec<Direction> = vec![Box::pin(requests.run(in_read, sink))];
    for ((k, out_read), writer) in from_node.into_iter().zip(back_writers) {
        let routing = shared.routing((to, k), from, vec![instance], shape.framing);
        let replies = Pipe::new(
            Arc::clone(&back),
            Carrier::Reply,
            shared,
            shape,
            seed(to, from),
            k,
            routing,
        );
        directions.push(Box::pin(replies.run(out_read, Sink::one(instance, writer))));
    }
    if let Err(e) = all_directions(directions).await {
        tracing::debug!("proxy: connection {from}->{to} ended: {e}");
    }
}

/// One direction of a connection, running.
type Direction = Pin<Box<dyn Future<Output = std::io::Result<()>> + Send>>;

/// Runs every direction of a connection: a clean end of one (a half-close) lets the others
/// finish; the first error ends them all.
async fn all_directions(mut directions: Vec<Direction>) -> std::io::Result<()> {
    std::future::poll_fn(|cx| {
        let mut i = 0;
        while i < directions.len() {
            match directions[i].as_mut().poll(cx) {
                Poll::Ready(Ok(())) => drop(directions.swap_remove(i)),
                Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                Poll::Pending => i += 1,
            }
        }
        if directions.is_empty() {
            Poll::Ready(Ok(()))
        } else {
            Poll::Pending
        }
    })
    .await
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
