//! A loopback cluster of fake nodes behind one proxy: each node has its own 127.0.0.x
//! source address and a real upstream listener the test accepts on directly.
// Each test file uses its own subset of these helpers.
#![allow(dead_code)]

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpSocket, TcpStream};
use traitor_proxy::{Framing, Instance, NodeId, Proxy, ProxyConfig, ProxyNode};

/// How long a test waits for something that should happen.
pub const PATIENCE: Duration = Duration::from_secs(5);
/// How long a test waits to be sure something does not happen.
pub const QUIET: Duration = Duration::from_millis(300);

pub fn node_ip(id: NodeId) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(127, 0, 0, 10 + id as u8))
}

/// The source address of node `id`'s twin (its instance 1).
pub fn twin_ip(id: NodeId) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(127, 0, 0, 100 + id as u8))
}

pub struct Cluster {
    pub proxy: Proxy,
    upstreams: HashMap<(NodeId, Instance), TcpListener>,
}

pub struct Options {
    pub framing: Framing,
    pub seed: u64,
    pub trace_path: Option<PathBuf>,
    pub trace_limit: usize,
    pub interceptor: Option<std::sync::Arc<dyn traitor_proxy::Interceptor>>,
    /// Nodes that also run a twin, at [`twin_ip`].
    pub twins: Vec<NodeId>,
}

impl Options {
    pub fn framing(framing: Framing) -> Options {
        Options {
            framing,
            seed: 7,
            trace_path: None,
            trace_limit: 0,
            interceptor: None,
            twins: Vec::new(),
        }
    }
}

impl Cluster {
    pub async fn start(n: NodeId, options: Options) -> Cluster {
        let mut upstreams = HashMap::new();
        let mut nodes = Vec::new();
        for id in 0..n {
            let listener = TcpListener::bind((node_ip(id), 0)).await.unwrap();
            nodes.push(ProxyNode {
                id,
                source_ip: node_ip(id),
                upstream: listener.local_addr().unwrap(),
            });
            upstreams.insert((id, 0), listener);
        }
        for &id in &options.twins {
            let listener = TcpListener::bind((twin_ip(id), 0)).await.unwrap();
            nodes.push(ProxyNode {
                id,
                source_ip: twin_ip(id),
                upstream: listener.local_addr().unwrap(),
            });
            upstreams.insert((id, 1), listener);
        }
        let proxy = Proxy::start(ProxyConfig {
            listen_ip: "127.0.0.1".parse().unwrap(),
            nodes,
            framing: options.framing,
            seed: options.seed,
            run_start: Instant::now(),
            trace_path: options.trace_path,
            trace_limit: options.trace_limit,
            interceptor: options.interceptor,
            more_ports: vec![],
            resolver: None,
        })
        .await
        .unwrap();
        Cluster { proxy, upstreams }
    }

    /// Opens a connection from node `from` to node `to` through the proxy; returns the
    /// sender's end and the receiver's end.
    pub async fn connect(&self, from: NodeId, to: NodeId) -> (TcpStream, TcpStream) {
        let client = self.dial(from, to).await;
        let server = self
            .accept(to, PATIENCE)
            .await
            .expect("the proxy dialled the upstream");
        (client, server)
    }

    /// Waits until the proxy has seen `messages` messages on link `from` -> `to`, so a rule
    /// changed afterwards cannot race with their arrival.
    pub async fn seen(&self, from: NodeId, to: NodeId, messages: u64) {
        let deadline = Instant::now() + PATIENCE;
        loop {
            let stats = self.proxy.stats();
            let link = stats.iter().find(|s| s.from == from && s.to == to).unwrap();
            if link.messages >= messages {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "the proxy saw {} of {messages} messages",
                link.messages
            );
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    /// Dials the endpoint of `to` from node `from`'s source address.
    pub async fn dial(&self, from: NodeId, to: NodeId) -> TcpStream {
        dial_from(node_ip(from), self.proxy.endpoint(to)).await
    }

    /// The next connection the proxy opens to node `to`, if one comes within `wait`.
    pub async fn accept(&self, to: NodeId, wait: Duration) -> Option<TcpStream> {
        self.accept_at((to, 0), wait).await
    }

    /// The next connection the proxy opens to instance `instance` of node `to`.
    pub async fn accept_at(
        &self,
        (to, instance): (NodeId, Instance),
        wait: Duration,
    ) -> Option<TcpStream> {
        tokio::time::timeout(wait, self.upstreams[&(to, instance)].accept())
            .await
            .ok()
            .map(|accepted| accepted.unwrap().0)
    }
}

pub async fn dial_from(source: IpAddr, target: SocketAddr) -> TcpStream {
    let socket = TcpSocket::new_v4().unwrap();
    socket.bind(SocketAddr::new(source, 0)).unwrap();
    socket.connect(target).await.unwrap()
}

pub fn len32(body: &[u8]) -> Vec<u8> {
    let mut frame = (body.len() as u32).to_be_bytes().to_vec();
    frame.extend_from_slice(body);
    frame
}

/// A small len32-json message with a sequence number.
pub fn json_message(kind: &str, seq: u32) -> Vec<u8> {
    len32(format!(r#"{{"from":0,"type":"{kind}","seq":{seq}}}"#).as_bytes())
}

pub async fn send_all(stream: &mut TcpStream, frames: &[Vec<u8>]) {
    stream.write_all(&frames.concat()).await.unwrap();
}

/// Reads one len32 frame body, or `None` if nothing comes within `wait`.
pub async fn read_len32(stream: &mut TcpStream, wait: Duration) -> Option<Vec<u8>> {
    tokio::time::timeout(wait, async {
        let mut header = [0u8; 4];
        stream.read_exact(&mut header).await.unwrap();
        let mut body = vec![0; u32::from_be_bytes(header) as usize];
        stream.read_exact(&mut body).await.unwrap();
        body
    })
    .await
    .ok()
}

/// The `seq` field of a message made by [`json_message`].
pub fn seq_of(body: &[u8]) -> u32 {
    let value: serde_json::Value = serde_json::from_slice(body).unwrap();
    value["seq"].as_u64().unwrap() as u32
}

/// Reads exactly `n` bytes within [`PATIENCE`].
pub async fn read_bytes(stream: &mut TcpStream, n: usize) -> Vec<u8> {
    let mut bytes = vec![0; n];
    tokio::time::timeout(PATIENCE, stream.read_exact(&mut bytes))
        .await
        .expect("bytes arrive in time")
        .unwrap();
    bytes
}
