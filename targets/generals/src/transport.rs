//! Peer links over TCP: each frame is a 4-byte big-endian length and its JSON. One dialer
//! per peer keeps a connection up (reconnecting with backoff) and drains that peer's queue;
//! the listener reads frames from every accepted connection.
//!
//! A connection that was accepted is not yet a link: a proxy in front of a peer (the
//! harness's, or any middlebox) accepts, then dials the peer and closes the connection when
//! the peer is not listening yet. Bytes written into such a connection are lost without an
//! error (only the write after the peer's reset fails), so a dialer that trusted it would
//! silently drop the first frame of the first instance to every peer that started after it:
//! OM then counts the commander's order or a loyal relay as RETREAT, a fault the
//! synchronous model does not allow between loyal generals. So a dialer counts a link as up
//! only once its connection has stayed open for [`PROBATION`], watches for the far end
//! closing while it waits for frames, and [`Links`] tells the node when every link has been
//! up: before that `/health` is not ok and the commander gives no order.

use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use generals_node::messages::Frame;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpListener, TcpSocket, TcpStream};
use tokio::sync::{mpsc, watch};

use crate::node::Node;

/// Frames longer than this are refused (and their connection closed).
pub const MAX_FRAME_BYTES: usize = 16 * 1024 * 1024;
/// Frames waiting for one peer; beyond this new frames are dropped (a dead peer must not eat memory).
pub const QUEUE_FRAMES: usize = 100_000;
/// The frames (wire bytes) waiting for one peer.
pub type PeerQueue = mpsc::Sender<Vec<u8>>;

/// How long a new connection must stay open before its link counts as up: a proxy whose
/// peer is not listening closes it well within this (one refused local connect).
pub const PROBATION: Duration = Duration::from_millis(100);
/// The first and the longest wait between attempts to connect to a peer.
const FIRST_BACKOFF: Duration = Duration::from_millis(20);
const MAX_BACKOFF: Duration = Duration::from_secs(1);

/// Which peer links have been up at least once (a connection that passed [`PROBATION`]).
pub struct Links {
    own_id: u32,
    ever_up: Vec<AtomicBool>,
    /// Peers this node dials: every general but itself.
    needed: usize,
    up: watch::Sender<usize>,
}

impl Links {
    /// Links of general `own_id` to the other `n - 1` generals, none up yet.
    pub fn new(own_id: u32, n: usize) -> Arc<Links> {
        Arc::new(Links {
            own_id,
            ever_up: (0..n).map(|_| AtomicBool::new(false)).collect(),
            needed: (0..n).filter(|&id| id as u32 != own_id).count(),
            up: watch::Sender::new(0),
        })
    }

    fn mark_up(&self, peer_id: u32) {
        let Some(flag) = self.ever_up.get(peer_id as usize) else {
            return;
        };
        if !flag.swap(true, Ordering::SeqCst) {
            self.up.send_modify(|count| *count += 1);
        }
    }

    /// Whether every peer link has been up: from then on the synchronous model's
    /// assumption (a loyal general's message arrives within a round) can hold.
    pub fn all_up(&self) -> bool {
        *self.up.borrow() >= self.needed
    }

    /// The peers whose link has never been up, in id order.
    pub fn never_up(&self) -> Vec<u32> {
        (0..self.ever_up.len() as u32)
            .filter(|&id| id != self.own_id && !self.ever_up[id as usize].load(Ordering::SeqCst))
            .collect()
    }

    /// Waits up to `limit` for every link to have been up; true if they all have.
    pub async fn wait_all_up(&self, limit: Duration) -> bool {
        let mut up = self.up.subscribe();
        let needed = self.needed;
        tokio::time::timeout(limit, up.wait_for(|count| *count >= needed))
            .await
            .is_ok_and(|waited| waited.is_ok())
    }
}

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

/// Returns when the far end closes `reader` (or it fails). Peers never write on a link, so
/// any bytes that do come are ignored.
async fn closed_by_far_end(reader: &mut OwnedReadHalf) -> String {
    let mut scratch = [0u8; 256];
    loop {
        match reader.read(&mut scratch).await {
            Ok(0) => return "closed by the far end".into(),
            Ok(_) => continue,
            Err(e) => return e.to_string(),
        }
    }
}

/// Keeps a connection to `peer` (bound to `bind_ip` when it is not 0.0.0.0, so the
/// harness proxy can tell this node by its source address) and writes `queue` into it.
/// A connection counts (and `links` hears that the link is up) once it has stayed open for
/// [`PROBATION`]; one the far end closes, before or after, is replaced, and no frame is
/// written into a connection known to be closed.
pub async fn dial_peer(
    peer_id: u32,
    peer: SocketAddr,
    bind_ip: IpAddr,
    mut queue: mpsc::Receiver<Vec<u8>>,
    links: Arc<Links>,
) {
    let mut backoff = FIRST_BACKOFF;
    let mut pending: Option<Vec<u8>> = None;
    loop {
        let failed = match connect(peer, bind_ip).await {
            Ok(stream) => {
                let (mut reader, writer) = stream.into_split();
                match tokio::time::timeout(PROBATION, closed_by_far_end(&mut reader)).await {
                    Ok(why) => Some(format!("accepted, then {why}")),
                    Err(_open) => {
                        tracing::info!(peer_id, %peer, "connected");
                        links.mark_up(peer_id);
                        backoff = FIRST_BACKOFF;
                        if drain(peer_id, peer, reader, writer, &mut queue, &mut pending).await {
                            return;
                        }
                        None
                    }
                }
            }
            Err(e) => Some(e.to_string()),
        };
        if let Some(error) = failed {
            tracing::debug!(peer_id, %peer, %error, "connect failed; retrying");
            tokio::time::sleep(backoff).await;
            backoff = (backoff * 2).min(MAX_BACKOFF);
        }
    }
}

/// Writes `queue` into a live connection until it ends; true when the queue is closed (the
/// node is going away). A frame whose write failed stays in `pending` for the next one.
async fn drain(
    peer_id: u32,
    peer: SocketAddr,
    mut reader: OwnedReadHalf,
    mut writer: OwnedWriteHalf,
    queue: &mut mpsc::Receiver<Vec<u8>>,
    pending: &mut Option<Vec<u8>>,
) -> bool {
    loop {
        let bytes = match pending.take() {
            Some(bytes) => bytes,
            None => tokio::select! {
                next = queue.recv() => match next {
                    Some(bytes) => bytes,
                    None => return true,
                },
                why = closed_by_far_end(&mut reader) => {
                    tracing::info!(peer_id, %peer, error = %why, "connection lost; reconnecting");
                    return false;
                }
            },
        };
        if let Err(e) = writer.write_all(&bytes).await {
            tracing::info!(peer_id, %peer, error = %e, "connection lost; reconnecting");
            *pending = Some(bytes);
            return false;
        }
    }
}

/// A queue per peer (`None` at `own_id`), the dialers that drain them, and the state of
/// their links.
pub fn spawn_dialers(
    own_id: u32,
    peers: &[SocketAddr],
    bind_ip: IpAddr,
) -> (Vec<Option<PeerQueue>>, Arc<Links>) {
    let links = Links::new(own_id, peers.len());
    let queues = peers
        .iter()
        .enumerate()
        .map(|(id, &addr)| {
            if id as u32 == own_id {
                return None;
            }
            let (tx, rx) = mpsc::channel(QUEUE_FRAMES);
            tokio::spawn(dial_peer(id as u32, addr, bind_ip, rx, Arc::clone(&links)));
            Some(tx)
        })
        .collect();
    (queues, links)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A peer behind a proxy that is not up yet: the first connection is accepted and closed
    /// at once; the second one is held. A frame queued after the first close must arrive on
    /// the second, and the link counts as up only then.
    #[tokio::test]
    async fn a_connection_closed_by_the_far_end_is_replaced_before_any_frame_is_lost() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let peer = listener.local_addr().unwrap();
        let links = Links::new(0, 2);
        let (queue, frames) = mpsc::channel(8);
        let dialer = tokio::spawn(dial_peer(
            1,
            peer,
            "127.0.0.1".parse().unwrap(),
            frames,
            Arc::clone(&links),
        ));

        let (first, _) = listener.accept().await.unwrap();
        drop(first);
        tokio::time::sleep(PROBATION * 2).await;
        queue.send(b"the order".to_vec()).await.unwrap();

        let (mut second, _) = tokio::time::timeout(Duration::from_secs(2), listener.accept())
            .await
            .expect("the dialer reconnects after the far end closed")
            .unwrap();
        let mut got = [0u8; 9];
        tokio::time::timeout(Duration::from_secs(2), second.read_exact(&mut got))
            .await
            .expect("the frame arrives on the new connection")
            .unwrap();
        assert_eq!(&got, b"the order");
        assert!(links.all_up());
        assert!(links.never_up().is_empty());
        dialer.abort();
    }

    #[test]
    fn links_are_up_once_every_peer_has_been_up() {
        let links = Links::new(1, 3);
        assert!(!links.all_up());
        assert_eq!(links.never_up(), vec![0, 2]);
        links.mark_up(2);
        links.mark_up(2);
        assert_eq!(links.never_up(), vec![0]);
        assert!(!links.all_up());
        links.mark_up(0);
        assert!(links.all_up());
    }
}
