//! Where one direction of a connection writes. Usually one socket; with twins, a
//! connection to a twinned node has a socket to each of its instances (the direction picks
//! one per message), and the instances' replies share the one socket back to the peer.

use std::sync::Arc;

use tokio::io::AsyncWriteExt;
use tokio::net::tcp::OwnedWriteHalf;
use tokio::sync::Mutex;

use crate::twins::Instance;

/// One socket a direction writes to.
pub(crate) enum Writer {
    /// This direction's own socket.
    Own(OwnedWriteHalf),
    /// A socket several directions write whole messages to (the replies of both instances
    /// of a twinned node to one peer). Closed when the last of them drops it.
    Shared(Arc<Mutex<OwnedWriteHalf>>),
}

/// The sockets of one direction, by the receiver's instance.
pub(crate) struct Sink {
    writers: Vec<(Instance, Writer)>,
}

impl Sink {
    /// A direction with one socket, to instance `instance` of its receiver.
    pub fn one(instance: Instance, writer: Writer) -> Sink {
        Sink {
            writers: vec![(instance, writer)],
        }
    }

    /// A direction with a socket to each listed instance of its receiver.
    pub fn many(writers: Vec<(Instance, Writer)>) -> Sink {
        Sink { writers }
    }

    /// The receiver's instances, in order; the first takes what is not routed.
    pub fn instances(&self) -> Vec<Instance> {
        self.writers.iter().map(|(instance, _)| *instance).collect()
    }

    /// Writes to the first socket: bytes the twins' split has no say in.
    pub async fn write(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        let first = self.writers.first().map_or(0, |(instance, _)| *instance);
        self.write_to(first, bytes).await
    }

    /// Writes whole messages to the socket of the receiver's `instance`.
    pub async fn write_to(&mut self, instance: Instance, bytes: &[u8]) -> std::io::Result<()> {
        let Some((_, writer)) = self.writers.iter_mut().find(|(i, _)| *i == instance) else {
            return Err(std::io::Error::new(
                std::io::ErrorKind::NotConnected,
                format!("no socket to instance {instance} of the receiver on this connection"),
            ));
        };
        match writer {
            Writer::Own(socket) => socket.write_all(bytes).await,
            Writer::Shared(socket) => socket.lock().await.write_all(bytes).await,
        }
    }

    /// Half-closes every socket this direction owns; a shared one closes when its last
    /// writer is gone (a dropped write half shuts down).
    pub async fn shutdown(&mut self) -> std::io::Result<()> {
        for (_, writer) in &mut self.writers {
            if let Writer::Own(socket) = writer {
                socket.shutdown().await?;
            }
        }
        Ok(())
    }
}
