//! What the tests that run real generals-node processes share: free addresses, the cluster's
//! keys, starting a general, a minimal HTTP client for its API, and bounded waiting.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::thread::sleep;
use std::time::{Duration, Instant};

use ed25519_dalek::SigningKey;
use serde_json::Value;

/// Generals' processes, killed when the test ends (even on failure).
pub struct Processes(pub Vec<Child>);

impl Drop for Processes {
    fn drop(&mut self) {
        for child in &mut self.0 {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// An address on 127.0.0.1 nothing listens on right now.
pub fn free_addr() -> SocketAddr {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
}

/// Secret keys of `n` generals and the `--pubkeys` list they share.
pub struct Keys {
    pub secrets: Vec<[u8; 32]>,
    pub public: Vec<String>,
}

impl Keys {
    pub fn new(n: u32) -> Keys {
        let secrets: Vec<[u8; 32]> = (0..n).map(|id| [id as u8 + 1; 32]).collect();
        let public = secrets
            .iter()
            .map(|s| hex::encode(SigningKey::from_bytes(s).verifying_key().to_bytes()))
            .collect();
        Keys { secrets, public }
    }
}

/// Starts general `id` of `peers.len()`, listening on `listen`, serving its API on `api`,
/// reaching its peers at `peers`, with `extra` flags.
pub fn start_general(
    id: usize,
    keys: &Keys,
    listen: &str,
    api: &str,
    peers: &[String],
    extra: &[&str],
) -> Child {
    Command::new(env!("CARGO_BIN_EXE_generals-node"))
        .args(["--id", &id.to_string(), "--n", &peers.len().to_string()])
        .args(["--listen", listen, "--api", api])
        .args([
            "--peers",
            &peers.join(","),
            "--pubkeys",
            &keys.public.join(","),
        ])
        .args(["--key", &hex::encode(keys.secrets[id])])
        .args(extra)
        .stderr(Stdio::null())
        .spawn()
        .expect("the node binary starts")
}

/// One HTTP/1.1 request; the status code and the JSON body (`null` if it is not JSON).
pub fn http(addr: &str, method: &str, path: &str, body: Option<&Value>) -> Option<(u16, Value)> {
    let mut stream = TcpStream::connect(addr).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    let body = body.map(|b| b.to_string()).unwrap_or_default();
    let request = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).ok()?;
    let mut response = String::new();
    stream.read_to_string(&mut response).ok()?;
    let (head, body) = response.split_once("\r\n\r\n")?;
    let status = head.split_whitespace().nth(1)?.parse().ok()?;
    Some((status, serde_json::from_str(body).unwrap_or(Value::Null)))
}

/// Polls `probe` every 50 ms until it gives a value; fails the test after `limit`.
pub fn wait_until<T>(what: &str, limit: Duration, mut probe: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(value) = probe() {
            return value;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        sleep(Duration::from_millis(50));
    }
}
