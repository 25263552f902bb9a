//! The first request of a cluster whose links go through a proxy, as under `traitor run`.
//!
//! The harness's proxy accepts a replica's connection at once, then dials the peer and
//! closes the connection if that peer is not listening yet. A replica started before its
//! peers thus holds connections that are already closed at the far end; the first frame
//! written into each is lost without an error. That used to lose the primary's first
//! pre-prepares, so the backups timed out on the primary and changed view about a second
//! into most harness runs. Here the primary (replica 0) is started alone, so every
//! one of its links is such a connection; then the others start. Until its links are up
//! the primary must say it is not ready; then the first request must be committed by every
//! replica in view 0, with no view change.

mod common;

use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::thread::spawn;
use std::time::{Duration, Instant};

use common::{body, get, get_json, post, write};
use pbft_node::crypto::{public_key_hex, sign_request};
use reqwest::StatusCode;
use serde_json::{json, Value};

const N: usize = 4;
const AUTHORITY_SECRET: [u8; 32] = [9; 32];
/// The backups' request timeout (the default, as under the harness): a lost pre-prepare
/// shows as a view change this long after the request.
const REQUEST_TIMEOUT: Duration = Duration::from_millis(1000);

/// Replica processes, killed when the test ends (even on failure).
struct Processes(Vec<Child>);

impl Drop for Processes {
    fn drop(&mut self) {
        for child in &mut self.0 {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// An address on 127.0.0.1 nothing listens on right now.
fn free_addr() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap()
}

/// A proxy endpoint standing for the replica listening on `upstream`, as the harness's: it
/// accepts every connection, dials `upstream`, and closes the connection when that fails;
/// otherwise it forwards the bytes (replicas write only towards the listener). Runs until
/// the test process ends.
fn proxy_endpoint(upstream: SocketAddr) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let endpoint = listener.local_addr().unwrap();
    spawn(move || {
        for inbound in listener.incoming() {
            let Ok(mut inbound) = inbound else { continue };
            let Ok(mut outbound) = TcpStream::connect(upstream) else {
                let _ = inbound.shutdown(Shutdown::Both);
                continue;
            };
            spawn(move || {
                let mut buffer = [0u8; 64 * 1024];
                while let Ok(len) = inbound.read(&mut buffer) {
                    if len == 0 || outbound.write_all(&buffer[..len]).is_err() {
                        break;
                    }
                }
            });
        }
    });
    endpoint
}

/// Four replicas' addresses and keys, their peer links going through proxy endpoints.
struct Cluster {
    listen: Vec<SocketAddr>,
    api: Vec<String>,
    peers: String,
    secrets: Vec<[u8; 32]>,
    pubkeys: String,
}

impl Cluster {
    fn new() -> Cluster {
        let listen: Vec<SocketAddr> = (0..N).map(|_| free_addr()).collect();
        let peers: Vec<String> = listen
            .iter()
            .map(|&upstream| proxy_endpoint(upstream).to_string())
            .collect();
        let secrets: Vec<[u8; 32]> = (0..N).map(|id| [id as u8 + 1; 32]).collect();
        let pubkeys: Vec<String> = secrets.iter().map(public_key_hex).collect();
        Cluster {
            api: (0..N).map(|_| format!("http://{}", free_addr())).collect(),
            listen,
            peers: peers.join(","),
            secrets,
            pubkeys: pubkeys.join(","),
        }
    }

    fn start(&self, id: usize) -> Child {
        let api = self.api[id].trim_start_matches("http://");
        Command::new(env!("CARGO_BIN_EXE_pbft-node"))
            .args(["--id", &id.to_string(), "--n", &N.to_string()])
            .args(["--listen", &self.listen[id].to_string(), "--api", api])
            .args(["--peers", &self.peers, "--pubkeys", &self.pubkeys])
            .args(["--key", &hex::encode(self.secrets[id])])
            .args(["--client-key", &public_key_hex(&AUTHORITY_SECRET)])
            .args([
                "--request-timeout-ms",
                &REQUEST_TIMEOUT.as_millis().to_string(),
            ])
            .stderr(Stdio::null())
            .spawn()
            .expect("the node binary starts")
    }
}

/// `GET /health` at `base` until it answers `want`; the body. Fails after 10 s.
async fn health_until(base: &str, want: StatusCode) -> String {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        match get(base, "/health").await {
            Some((status, text)) if status == want => return text,
            answer => assert!(
                Instant::now() < deadline,
                "{base}/health never answered {want}; last: {answer:?}"
            ),
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn the_first_request_commits_in_view_0_when_peers_start_after_the_primary() {
    let cluster = Cluster::new();

    // The primary alone: the proxy accepts its connections and closes each one.
    let mut processes = Processes(vec![cluster.start(0)]);
    let waiting = health_until(&cluster.api[0], StatusCode::SERVICE_UNAVAILABLE).await;
    assert_eq!(waiting, "connecting: no link yet to replica(s) [1, 2, 3]");
    // Long enough for every link to be accepted and closed more than once.
    tokio::time::sleep(Duration::from_millis(300)).await;

    // The backups start; every link must come up.
    processes.0.extend((1..N).map(|id| cluster.start(id)));
    for api in &cluster.api {
        assert_eq!(health_until(api, StatusCode::OK).await, "ok");
    }

    // The first request, at a backup (which forwards it to the primary and times it).
    let request = sign_request(&AUTHORITY_SECRET, write("c1", 1));
    let sent = Instant::now();
    let answer = post(&cluster.api[1], &body(&request)).await;
    assert_eq!(
        answer,
        (StatusCode::OK, json!({"status": "ok", "value": 1}))
    );
    for api in &cluster.api {
        let log = committed_once(api).await;
        assert_eq!(log["committed"], 1, "{api}: {log}");
        let entry = &log["entries"][0];
        assert_eq!(
            (&entry["seq"], &entry["view"], &entry["client"]),
            (&json!(1), &json!(0), &json!("c1")),
            "{api}: {log}"
        );
    }

    // No backup suspects the primary afterwards either.
    tokio::time::sleep((REQUEST_TIMEOUT * 3 / 2).saturating_sub(sent.elapsed())).await;
    for api in &cluster.api {
        let status = get_json(api, "/status").await;
        assert_eq!(
            (&status["view"], &status["normal"]),
            (&json!(0), &json!(true)),
            "{api}: {status}"
        );
    }
    drop(processes);
}

/// The log of the replica at `base` once it has executed one request (within 2 s).
async fn committed_once(base: &str) -> Value {
    let deadline = Instant::now() + Duration::from_secs(2);
    loop {
        let log = get_json(base, "/log?from=1").await;
        if log["committed"] == 1 || Instant::now() > deadline {
            return log;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
