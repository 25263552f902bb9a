//! TCP between replicas: 4-byte big-endian length + JSON frames. Outgoing links reconnect
//! with backoff and bind to the `--listen` IP so the harness proxy can tell senders apart.
//!
//! An accepted connection is not yet a link. The harness's proxy (like any middlebox in
//! front of a peer) accepts a replica's connection at once, then dials the peer and closes
//! the connection if the peer is not listening yet. A frame written into such a connection
//! is lost without an error; only the write after the far end's reset fails. A replica
//! started before its peers used to keep those connections as its links, so its first
//! frame to every later peer was lost: the primary's first pre-prepares never arrived, the
//! backups timed out on it and changed view about a second into most harness runs.
//! So a link counts as up only once its connection has stayed open for [`PROBATION`]; it
//! watches for the far end closing while it waits for frames and reconnects before writing
//! into a closed connection, keeping the frames queued meanwhile. [`Links`] records which
//! links have been up, and `GET /health` is not ok until all have.

use std::io;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpListener, TcpSocket, TcpStream};
use tokio::sync::mpsc;

use crate::messages::{decode_frame, Envelope, NodeId, MAX_FRAME};

/// Frames waiting for one peer; beyond this, new frames are dropped.
const QUEUE: usize = 8192;
/// How long a new connection must stay open before its link counts as up: a proxy whose
/// peer is not listening closes it well within this (one refused local connect).
pub const PROBATION: Duration = Duration::from_millis(100);
/// The first and the longest wait between attempts to connect to a peer.
const FIRST_BACKOFF: Duration = Duration::from_millis(50);
const MAX_BACKOFF: Duration = Duration::from_secs(2);

/// A handle to the outgoing link to one peer.
#[derive(Clone)]
pub struct PeerLink {
    frames: mpsc::Sender<Arc<Vec<u8>>>,
}

impl PeerLink {
    /// Queues a frame body; drops it if the link is too far behind (the protocol recovers).
    /// A frame queued while the link is down waits for the next connection.
    pub fn send(&self, body: Arc<Vec<u8>>) {
        if self.frames.try_send(body).is_err() {
            tracing::debug!("peer queue full, dropping a frame");
        }
    }
}

/// Which of a replica's outgoing links have been up at least once (a connection that
/// stayed open for [`PROBATION`]). Monotonic: once every peer has been reached, a link that
/// breaks later (a peer crashed or was cut off) is a fault the protocol tolerates, not a
/// reason to call the replica unready; its frames wait for the reconnection.
pub struct Links {
    /// Every peer this replica dials, with whether its link has been up.
    ever_up: Vec<(NodeId, AtomicBool)>,
}

impl Links {
    /// Links to `peers` (in id order), none up yet.
    fn new(peers: impl IntoIterator<Item = NodeId>) -> Links {
        Links {
            ever_up: peers
                .into_iter()
                .map(|peer| (peer, AtomicBool::new(false)))
                .collect(),
        }
    }

    // The flags guard no other data, so relaxed loads and stores are enough.
    fn mark_up(&self, peer: NodeId) {
        let Some((_, up)) = self.ever_up.iter().find(|(id, _)| *id == peer) else {
            return;
        };
        if !up.swap(true, Ordering::Relaxed) && self.all_up() {
            tracing::info!("the link to every peer has been up");
        }
    }

    /// The peers whose link has never been up, in the order they were given.
    pub fn never_up(&self) -> Vec<NodeId> {
        self.ever_up
            .iter()
            .filter(|(_, up)| !up.load(Ordering::Relaxed))
            .map(|(id, _)| *id)
            .collect()
    }

    /// Whether the link to every peer has been up: from then on no frame is lost to a
    /// connection the far end closed before it was used.
    pub fn all_up(&self) -> bool {
        self.ever_up
            .iter()
            .all(|(_, up)| up.load(Ordering::Relaxed))
    }
}

async fn connect(peer: SocketAddr, bind_ip: IpAddr) -> io::Result<TcpStream> {
    if bind_ip.is_unspecified() {
        return TcpStream::connect(peer).await;
    }
    let socket = match bind_ip {
        IpAddr::V4(_) => TcpSocket::new_v4()?,
        IpAddr::V6(_) => TcpSocket::new_v6()?,
    };
    socket.bind(SocketAddr::new(bind_ip, 0))?;
    socket.connect(peer).await
}

/// Returns when the far end closes `reader` or it fails. Replicas never write on a link,
/// so whatever bytes do come are ignored.
async fn closed_by_far_end(reader: &mut OwnedReadHalf) -> io::Error {
    let mut scratch = [0u8; 256];
    loop {
        match reader.read(&mut scratch).await {
            Ok(0) => return io::Error::new(io::ErrorKind::UnexpectedEof, "closed by the far end"),
            Ok(_) => continue,
            Err(e) => return e,
        }
    }
}

/// A connection to `peer` that stayed open for [`PROBATION`]; one the far end closes
/// before that is an error, and nothing has been written into it.
async fn open(peer: SocketAddr, bind_ip: IpAddr) -> io::Result<(OwnedReadHalf, OwnedWriteHalf)> {
    let stream = connect(peer, bind_ip).await?;
    let _ = stream.set_nodelay(true);
    let (mut reader, writer) = stream.into_split();
    match tokio::time::timeout(PROBATION, closed_by_far_end(&mut reader)).await {
        Ok(closed) => Err(io::Error::new(
            closed.kind(),
            format!("accepted, then {closed}"),
        )),
        Err(_still_open) => Ok((reader, writer)),
    }
}

/// Writes the queued frames into a connection until it ends, and returns why; `None` when
/// the queue is closed (the node is gone). A frame is not written once the far end is
/// seen to have closed; one whose write failed is left in `unsent` for the next connection.
async fn write_frames(
    reader: &mut OwnedReadHalf,
    writer: &mut OwnedWriteHalf,
    queue: &mut mpsc::Receiver<Arc<Vec<u8>>>,
    unsent: &mut Option<Arc<Vec<u8>>>,
) -> Option<io::Error> {
    loop {
        let body = match unsent.take() {
            Some(body) => body,
            None => tokio::select! {
                // A close that is already known must win over a frame that is ready too.
                biased;
                closed = closed_by_far_end(reader) => return Some(closed),
                next = queue.recv() => next?,
            },
        };
        let len = (body.len() as u32).to_be_bytes();
        let written = async {
            writer.write_all(&len).await?;
            writer.write_all(&body).await
        };
        if let Err(e) = written.await {
            *unsent = Some(body);
            return Some(e);
        }
    }
}

/// Keeps a link to peer `peer_id` at `peer` up, reconnecting forever with capped
/// exponential backoff, and writes `queue` into it; `links` hears when it is first up.
async fn keep_link(
    peer_id: NodeId,
    peer: SocketAddr,
    bind_ip: IpAddr,
    mut queue: mpsc::Receiver<Arc<Vec<u8>>>,
    links: Arc<Links>,
) {
    let mut backoff = FIRST_BACKOFF;
    let mut unsent = None;
    loop {
        match open(peer, bind_ip).await {
            Ok((mut reader, mut writer)) => {
                tracing::info!(peer_id, %peer, "connected to peer");
                links.mark_up(peer_id);
                backoff = FIRST_BACKOFF;
                let ended = write_frames(&mut reader, &mut writer, &mut queue, &mut unsent);
                match ended.await {
                    Some(e) => {
                        tracing::info!(peer_id, %peer, error = %e, "peer link broke, reconnecting")
                    }
                    None => return,
                }
            }
            Err(e) => {
                tracing::debug!(peer_id, %peer, error = %e, "connect failed, retrying");
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(MAX_BACKOFF);
            }
        }
    }
}

/// Starts the outgoing link to every peer but `own_id` (`peers` in id order, `None` at
/// `own_id`) and returns them with the record of which have been up.
pub fn spawn_peer_links(
    own_id: NodeId,
    peers: &[SocketAddr],
    bind_ip: IpAddr,
) -> (Vec<Option<PeerLink>>, Arc<Links>) {
    let others = (0..peers.len() as NodeId).filter(|&id| id != own_id);
    let links = Arc::new(Links::new(others));
    let handles = peers
        .iter()
        .enumerate()
        .map(|(id, &peer)| {
            let id = id as NodeId;
            (id != own_id).then(|| {
                let (frames, queue) = mpsc::channel(QUEUE);
                tokio::spawn(keep_link(id, peer, bind_ip, queue, Arc::clone(&links)));
                PeerLink { frames }
            })
        })
        .collect();
    (handles, links)
}

/// Accepts peer connections and hands every well-formed envelope to `deliver`; oversized
/// or unparsable frames are logged and skipped (an oversized one closes the connection).
pub async fn serve_peers(listener: TcpListener, deliver: mpsc::Sender<Envelope>) {
    loop {
        let (mut stream, addr) = match listener.accept().await {
            Ok(conn) => conn,
            Err(e) => {
                tracing::warn!(error = %e, "accept failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let deliver = deliver.clone();
        tokio::spawn(async move {
            loop {
                let mut len = [0u8; 4];
                if stream.read_exact(&mut len).await.is_err() {
                    return;
                }
                let len = u32::from_be_bytes(len) as usize;
                if len > MAX_FRAME {
                    tracing::warn!(%addr, len, "frame too long, closing connection");
                    return;
                }
                let mut body = vec![0u8; len];
                if stream.read_exact(&mut body).await.is_err() {
                    return;
                }
                match decode_frame(&body) {
                    Ok(env) => {
                        if deliver.send(env).await.is_err() {
                            return;
                        }
                    }
                    Err(e) => tracing::warn!(%addr, error = %e, "rejecting frame"),
                }
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIMIT: Duration = Duration::from_secs(5);

    /// A link to peer 1 at a fresh listener, with the sender of its queue.
    async fn link_to_a_listener() -> (TcpListener, PeerLink, Arc<Links>) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let peer = listener.local_addr().unwrap();
        let links = Arc::new(Links::new([1]));
        let (frames, queue) = mpsc::channel(QUEUE);
        let bind_ip = "127.0.0.1".parse().unwrap();
        tokio::spawn(keep_link(1, peer, bind_ip, queue, Arc::clone(&links)));
        (listener, PeerLink { frames }, links)
    }

    async fn accept(listener: &TcpListener) -> TcpStream {
        let accepted = tokio::time::timeout(LIMIT, listener.accept()).await;
        accepted.expect("the link connects").unwrap().0
    }

    /// The body of the next frame on `stream`.
    async fn read_frame(stream: &mut TcpStream) -> Vec<u8> {
        let read = async {
            let len = stream.read_u32().await?;
            let mut body = vec![0u8; len as usize];
            stream.read_exact(&mut body).await?;
            io::Result::Ok(body)
        };
        let frame = tokio::time::timeout(LIMIT, read).await;
        frame.expect("a frame arrives").unwrap()
    }

    /// The harness's proxy before the peer listens: the first connection is accepted, then
    /// closed. A frame queued before any connection must not be written into it, and must
    /// arrive on the next one, which is when the link counts as up.
    #[tokio::test]
    async fn a_frame_queued_early_waits_for_a_connection_that_stays_open() {
        let (listener, link, links) = link_to_a_listener().await;
        link.send(Arc::new(b"pre-prepare".to_vec()));

        let mut first = accept(&listener).await;
        let mut byte = [0u8; 1];
        let early = tokio::time::timeout(PROBATION / 2, first.read(&mut byte)).await;
        assert!(early.is_err(), "nothing is written during the probation");
        assert_eq!(links.never_up(), vec![1]);
        drop(first);

        let mut second = accept(&listener).await;
        assert_eq!(read_frame(&mut second).await, b"pre-prepare");
        assert!(links.all_up());
    }

    /// A link that was up and whose far end then closes: the next frame goes down a new
    /// connection, not into the closed one (where it would be lost without an error).
    #[tokio::test]
    async fn a_link_closed_by_the_far_end_reconnects_before_writing() {
        let (listener, link, links) = link_to_a_listener().await;
        let mut first = accept(&listener).await;
        link.send(Arc::new(b"prepare 1".to_vec()));
        assert_eq!(read_frame(&mut first).await, b"prepare 1");
        assert!(links.all_up());
        drop(first);
        tokio::time::sleep(PROBATION / 2).await;

        link.send(Arc::new(b"prepare 2".to_vec()));
        let mut second = accept(&listener).await;
        assert_eq!(read_frame(&mut second).await, b"prepare 2");
    }

    #[test]
    fn links_are_up_once_every_peer_has_been_up() {
        let links = Links::new([0, 2, 3]);
        assert!(!links.all_up());
        assert_eq!(links.never_up(), vec![0, 2, 3]);
        links.mark_up(2);
        links.mark_up(2);
        links.mark_up(1);
        assert_eq!(links.never_up(), vec![0, 3]);
        assert!(!links.all_up());
        links.mark_up(0);
        links.mark_up(3);
        assert!(links.all_up());
        assert!(links.never_up().is_empty());
    }

    #[tokio::test]
    async fn a_lone_replica_has_no_link_to_wait_for() {
        let (handles, links) = spawn_peer_links(
            0,
            &["127.0.0.1:1".parse().unwrap()],
            IpAddr::from([127, 0, 0, 1]),
        );
        assert!(handles[0].is_none());
        assert!(links.all_up());
    }
}
