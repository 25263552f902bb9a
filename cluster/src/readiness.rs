//! Waiting for started nodes to be ready: `GET /health` answering 200 on their API address
//! (the traitor node API's readiness signal, which etcd serves too), or, for a system
//! without one, the address accepting connections. A container or process that is running
//! is not yet a node that can take requests.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::error::{ClusterError, Result};

/// How long one health request may take before it is retried.
const ATTEMPT: Duration = Duration::from_millis(300);
/// Pause between attempts on one node.
const RETRY: Duration = Duration::from_millis(20);

/// What tells that a node is ready.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Readiness {
    /// `GET /health` answers 200.
    #[default]
    Health,
    /// The address accepts a TCP connection.
    Tcp,
}

impl Readiness {
    async fn ready(self, api: SocketAddr) -> bool {
        match self {
            Readiness::Health => health_ok(api).await,
            Readiness::Tcp => matches!(
                tokio::time::timeout(ATTEMPT, TcpStream::connect(api)).await,
                Ok(Ok(_))
            ),
        }
    }

    fn describe(self) -> &'static str {
        match self {
            Readiness::Health => "a 200 from GET /health",
            Readiness::Tcp => "an accepted connection",
        }
    }
}

/// Waits until every address is ready, polling each in turn, and returns the time it
/// took; fails after `limit`, naming the nodes that never were.
pub async fn wait_ready(
    apis: &[SocketAddr],
    readiness: Readiness,
    limit: Duration,
) -> Result<Duration> {
    let started = Instant::now();
    let deadline = started + limit;
    for (i, api) in apis.iter().enumerate() {
        while !readiness.ready(*api).await {
            if Instant::now() >= deadline {
                let waiting: Vec<String> = apis[i..].iter().map(|a| a.to_string()).collect();
                return Err(ClusterError::new(
                    "waiting for the nodes to be ready",
                    format!(
                        "no {} within {limit:?} from {}; see their logs",
                        readiness.describe(),
                        waiting.join(", ")
                    ),
                ));
            }
            tokio::time::sleep(RETRY).await;
        }
    }
    Ok(started.elapsed())
}

/// One `GET /health` over HTTP/1.1 with `Connection: close`: true on a 200 status line.
pub async fn health_ok(api: SocketAddr) -> bool {
    let attempt = async {
        let mut stream = TcpStream::connect(api).await.ok()?;
        let request = format!("GET /health HTTP/1.1\r\nHost: {api}\r\nConnection: close\r\n\r\n");
        stream.write_all(request.as_bytes()).await.ok()?;
        let mut head = [0u8; 12];
        stream.read_exact(&mut head).await.ok()?;
        Some(head.starts_with(b"HTTP/1.") && &head[8..12] == b" 200")
    };
    matches!(tokio::time::timeout(ATTEMPT, attempt).await, Ok(Some(true)))
}
