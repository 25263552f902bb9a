//! TCP between replicas: 4-byte big-endian length + JSON frames. Outgoing links reconnect
//! with backoff and bind to the `--listen` IP so the harness proxy can tell senders apart.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpSocket, TcpStream};
use tokio::sync::mpsc;

use crate::messages::{decode_frame, Envelope, MAX_FRAME};

/// Frames waiting for one peer; beyond this, new frames are dropped.
const QUEUE: usize = 8192;

/// A handle to the outgoing link to one peer.
#[derive(Clone)]
pub struct PeerLink {
    frames: mpsc::Sender<Arc<Vec<u8>>>,
}

impl PeerLink {
    /// Queues a frame body; drops it if the link is too far behind (the protocol recovers).
    pub fn send(&self, body: Arc<Vec<u8>>) {
        if self.frames.try_send(body).is_err() {
            tracing::debug!("peer queue full, dropping a frame");
        }
    }
}

async fn connect(peer: SocketAddr, bind_ip: IpAddr) -> std::io::Result<TcpStream> {
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

/// Starts the outgoing link to `peer`; it reconnects forever with capped exponential backoff.
pub fn spawn_peer_link(peer: SocketAddr, bind_ip: IpAddr) -> PeerLink {
    let (tx, mut rx) = mpsc::channel::<Arc<Vec<u8>>>(QUEUE);
    tokio::spawn(async move {
        let mut backoff = Duration::from_millis(50);
        loop {
            let mut stream = match connect(peer, bind_ip).await {
                Ok(s) => {
                    backoff = Duration::from_millis(50);
                    let _ = s.set_nodelay(true);
                    s
                }
                Err(e) => {
                    tracing::debug!(%peer, error = %e, "connect failed, retrying");
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(Duration::from_secs(2));
                    continue;
                }
            };
            tracing::info!(%peer, "connected to peer");
            while let Some(body) = rx.recv().await {
                let len = (body.len() as u32).to_be_bytes();
                let written = async {
                    stream.write_all(&len).await?;
                    stream.write_all(&body).await
                };
                if let Err(e) = written.await {
                    tracing::info!(%peer, error = %e, "peer link broke, reconnecting");
                    break;
                }
            }
        }
    });
    PeerLink { frames: tx }
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
