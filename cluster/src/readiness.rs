//! Waiting for started nodes to be ready: `GET /health` answering 200 on their API address,
//! the traitor node API's readiness signal. A container or process that is running is not yet
//! a node that can take requests.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::error::{ClusterError, Result};

/// How long one health request may take before it is retried.
const ATTEMPT: Duration = Duration::from_millis(300);
/// Pause between attempts on one node.
const RETRY: Duration = Duration::from_millis(20);

/// Waits until `GET /health` answers 200 on every address, polling each in turn, and returns
/// the time it took; fails after `limit`, naming the nodes that never answered.
pub async fn wait_ready(apis: &[SocketAddr], limit: Duration) -> Result<Duration> {
    let started = Instant::now();
    let deadline = started + limit;
    for (i, api) in apis.iter().enumerate() {
        while !health_ok(*api).await {
            if Instant::now() >= deadline {
                let waiting: Vec<String> = apis[i..].iter().map(|a| a.to_string()).collect();
                return Err(ClusterError::new(
                    "waiting for the nodes' GET /health",
                    format!(
                        "no 200 within {limit:?} from {}; see their logs",
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
