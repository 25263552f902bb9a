//! The proxy as a whole: one listening endpoint per node (a node and its twin share it),
//! their tasks, and shutdown.

use std::collections::{HashMap, HashSet};
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};

use tokio::net::TcpListener;
use tokio::sync::{mpsc, watch};

use crate::connection::{listen, PortShape, Shared, TaskGuard};
use crate::links::{LinkControl, LinkStats, LinkTable};
use crate::trace::Trace;
use crate::twins::{Instance, TwinControl, TwinTable};
use crate::{Framing, NodeId, ProxyConfig};

/// A running proxy. Dropping it stops its listeners and connections without waiting;
/// [`Proxy::shutdown`] also waits for them and flushes the trace.
pub struct Proxy {
    listen_ip: IpAddr,
    framing: Framing,
    /// By (node, port): port 0 is the main port, k the k-th of `more_ports`.
    endpoints: HashMap<(NodeId, usize), SocketAddr>,
    table: Arc<LinkTable>,
    twins: Arc<TwinTable>,
    trace: Arc<Trace>,
    shutdown: watch::Sender<bool>,
    tasks: mpsc::Receiver<()>,
}

impl Proxy {
    /// Validates `config`, opens the trace, and listens on one OS-chosen port of
    /// `listen_ip` per node. A node listed twice has a twin, every peer routed to its
    /// first instance until [`Proxy::twins`] sets a split.
    pub async fn start(config: ProxyConfig) -> std::io::Result<Proxy> {
        config
            .validate()
            .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e))?;
        let trace = Arc::new(Trace::open(
            config.trace_path.as_deref(),
            config.run_start,
            config.trace_limit,
        )?);
        let mut ids: Vec<NodeId> = Vec::new();
        let mut twinned: Vec<NodeId> = Vec::new();
        let mut sources = HashMap::new();
        let mut upstreams: HashMap<NodeId, Vec<SocketAddr>> = HashMap::new();
        for node in &config.nodes {
            let instances = upstreams.entry(node.id).or_default();
            let instance = instances.len() as Instance;
            instances.push(node.upstream);
            sources.insert(node.source_ip.to_canonical(), (node.id, instance));
            match instance {
                0 => ids.push(node.id),
                _ => twinned.push(node.id),
            }
        }
        let table = Arc::new(LinkTable::new(&ids));
        let twins = Arc::new(TwinTable::new(&twinned, &ids));
        let mut ports = vec![PortShape {
            framing: config.framing,
            port: None,
        }];
        ports.extend(config.more_ports.iter().map(|extra| PortShape {
            framing: extra.framing,
            port: Some(extra.port),
        }));
        let shared = Arc::new(Shared {
            ports,
            resolver: config.resolver.clone(),
            seed: config.seed,
            table: Arc::clone(&table),
            sources,
            upstreams,
            twins: Arc::clone(&twins),
            trace: Arc::clone(&trace),
            interceptor: config.interceptor.clone(),
            run_start: config.run_start,
            warned: Mutex::new(HashSet::new()),
        });
        let mut listeners = Vec::with_capacity(ids.len());
        let mut endpoints = HashMap::new();
        let slots = ids
            .iter()
            .flat_map(|&id| (0..shared.ports.len()).map(move |port| (id, port)));
        for (id, port) in slots {
            let listener = TcpListener::bind((config.listen_ip, 0))
                .await
                .map_err(|e| {
                    std::io::Error::new(
                        e.kind(),
                        format!(
                            "binding the proxy endpoint for node {id} on {}: {e} (listen_ip must be \
                         an address of this host)",
                            config.listen_ip
                        ),
                    )
                })?;
            endpoints.insert((id, port), listener.local_addr()?);
            listeners.push(((id, port), listener));
        }
        let (shutdown, stop) = watch::channel(false);
        let (alive, tasks) = mpsc::channel(1);
        for ((id, port), listener) in listeners {
            let guard = TaskGuard {
                shutdown: stop.clone(),
                _alive: alive.clone(),
            };
            tokio::spawn(listen(listener, id, port, Arc::clone(&shared), guard));
        }
        Ok(Proxy {
            listen_ip: config.listen_ip,
            framing: config.framing,
            endpoints,
            table,
            twins,
            trace,
            shutdown,
            tasks,
        })
    }

    /// The address peers dial to reach `node`. For a node outside the run (a caller's
    /// mistake) it logs an error and returns port 0 of the listen address, which no
    /// connection can reach, rather than panicking; [`Proxy::try_endpoint`] says `None`.
    pub fn endpoint(&self, node: NodeId) -> SocketAddr {
        self.try_endpoint(node).unwrap_or_else(|| {
            tracing::error!(
                "proxy: asked for the endpoint of node {node}, which is not part of this run"
            );
            SocketAddr::new(self.listen_ip, 0)
        })
    }

    /// The address peers dial to reach `node`, or `None` if it is not part of the run.
    pub fn try_endpoint(&self, node: NodeId) -> Option<SocketAddr> {
        self.port_endpoint(node, 0)
    }

    /// The address peers dial to reach `node` on its `port`-th node-to-node port (0: the
    /// main one, k: the k-th of `more_ports`).
    pub fn port_endpoint(&self, node: NodeId, port: usize) -> Option<SocketAddr> {
        self.endpoints.get(&(node, port)).copied()
    }

    /// The handle that sets fault rules on links; clone it freely.
    pub fn links(&self) -> LinkControl {
        LinkControl::new(Arc::clone(&self.table), self.framing)
    }

    /// The handle that sets which instance of each twinned node every peer talks to; clone
    /// it freely.
    pub fn twins(&self) -> TwinControl {
        TwinControl::new(Arc::clone(&self.twins))
    }

    /// Counters of every directed link, sorted by (from, to).
    pub fn stats(&self) -> Vec<LinkStats> {
        self.table.stats()
    }

    /// Stops the listeners and closes every connection (held bytes are discarded, as when
    /// a network goes away), waits for all of it, then flushes and closes the trace.
    pub async fn shutdown(mut self) {
        self.shutdown.send_replace(true);
        while self.tasks.recv().await.is_some() {}
        self.trace.close().await;
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.shutdown.send_replace(true);
    }
}
