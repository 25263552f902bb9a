//! Peer links over TCP: each frame is a 4-byte big-endian length and its JSON. One dialer
//! per peer keeps a connection up (reconnecting with backoff) and drains that peer's queue;
//! the listener reads frames from every accepted connection.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use generals_node::messages::Frame;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpSocket, TcpStream};
use tokio::sync::mpsc;

use crate::node::Node;

/// Frames longer than this are refused (and their connection closed).
pub const MAX_FRAME_BYTES: usize = 16 * 1024 * 1024;
/// Frames waiting for one peer; beyond this new frames are dropped (a dead peer must not eat memory).
pub const QUEUE_FRAMES: usize = 100_000;

/// The wire bytes of `frame`: length prefix and JSON.
pub fn encode(frame: &Frame) -> Vec<u8> {
    let json = frame.to_json();
    let mut bytes = Vec::with_capacity(4 + json.len());
    bytes.extend_from_slice(&(json.len() as u32).to_be_bytes());
    bytes.extend_from_slice(&json);
    bytes
}

/// Accepts peer connections on `listener` and feeds their frames to `node`, forever.
pub async fn serve_peers(listener: TcpListener, node: Arc<Node>) {
    loop {
        match listener.accept().await {
            Ok((stream, remote)) => {
                let node = Arc::clone(&node);
                tokio::spawn(async move { read_frames(stream, remote, node).await });
            }
            Err(e) => {
                tracing::warn!(error = %e, "accept failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    }
}

async fn read_frames(mut stream: TcpStream, remote: SocketAddr, node: Arc<Node>) {
    let mut buffer = Vec::new();
    loop {
        let len = match stream.read_u32().await {
            Ok(len) => len as usize,
            Err(_) => return,
        };
        if len > MAX_FRAME_BYTES {
            tracing::warn!(%remote, len, "frame longer than 16 MiB; closing the connection");
            return;
        }
        buffer.resize(len, 0);
        if stream.read_exact(&mut buffer).await.is_err() {
            return;
        }
        match Frame::from_json(&buffer) {
            Ok(frame) => node.on_frame(frame),
            Err(e) => tracing::warn!(%remote, error = %e, "frame is not a generals message"),
        }
    }
}

async fn connect(peer: SocketAddr, bind_ip: IpAddr) -> std::io::Result<TcpStream> {
    let socket = if peer.is_ipv4() {
        TcpSocket::new_v4()?
    } else {
        TcpSocket::new_v6()?
    };
    if !bind_ip.is_unspecified() {
        socket.bind(SocketAddr::new(bind_ip, 0))?;
    }
    let stream = tokio::time::timeout(Duration::from_secs(1), socket.connect(peer))
        .await
        .map_err(|_| std::io::Error::new(std::io::ErrorKind::TimedOut, "connect timed out"))??;
    stream.set_nodelay(true)?;
    Ok(stream)
}

/// Keeps a connection to `peer` (bound to `bind_ip` when it is not 0.0.0.0, so the
/// harness proxy can tell this node by its source address) and writes `queue` into it.
pub async fn dial_peer(
    peer_id: u32,
    peer: SocketAddr,
    bind_ip: IpAddr,
    mut queue: mpsc::Receiver<Vec<u8>>,
) {
    let mut backoff = Duration::from_millis(20);
    let mut pending: Option<Vec<u8>> = None;
    loop {
        let mut stream = match connect(peer, bind_ip).await {
            Ok(stream) => {
                tracing::info!(peer_id, %peer, "connected");
                backoff = Duration::from_millis(20);
                stream
            }
            Err(e) => {
                tracing::debug!(peer_id, %peer, error = %e, "connect failed; retrying");
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(Duration::from_secs(1));
                continue;
            }
        };
        loop {
            let bytes = match pending.take() {
                Some(bytes) => bytes,
                None => match queue.recv().await {
                    Some(bytes) => bytes,
                    None => return,
                },
            };
            if let Err(e) = stream.write_all(&bytes).await {
                tracing::info!(peer_id, %peer, error = %e, "connection lost; reconnecting");
                pending = Some(bytes);
                break;
            }
        }
    }
}

/// A queue per peer and the dialers that drain them; `None` at `own_id`.
pub fn spawn_dialers(
    own_id: u32,
    peers: &[SocketAddr],
    bind_ip: IpAddr,
) -> Vec<Option<mpsc::Sender<Vec<u8>>>> {
    peers
        .iter()
        .enumerate()
        .map(|(id, &addr)| {
            if id as u32 == own_id {
                return None;
            }
            let (tx, rx) = mpsc::channel(QUEUE_FRAMES);
            tokio::spawn(dial_peer(id as u32, addr, bind_ip, rx));
            Some(tx)
        })
        .collect()
}
