//! Four real generals-node processes on 127.0.0.1: an order posted to the commander is
//! decided by every general, for OM and SM. Bounded: each case gives up after 10 s.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::thread::sleep;
use std::time::{Duration, Instant};

use ed25519_dalek::SigningKey;
use serde_json::{json, Value};

/// The processes of one cluster, killed when the test ends (even on failure).
struct Cluster {
    children: Vec<Child>,
    api: Vec<String>,
}

impl Drop for Cluster {
    fn drop(&mut self) {
        for child in &mut self.children {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn start(n: u32, extra: &[&str]) -> Cluster {
    let secrets: Vec<[u8; 32]> = (0..n).map(|id| [id as u8 + 1; 32]).collect();
    let public: Vec<String> = secrets
        .iter()
        .map(|s| hex::encode(SigningKey::from_bytes(s).verifying_key().to_bytes()))
        .collect();
    let peers: Vec<String> = (0..n)
        .map(|_| format!("127.0.0.1:{}", free_port()))
        .collect();
    let api: Vec<String> = (0..n)
        .map(|_| format!("127.0.0.1:{}", free_port()))
        .collect();
    let children = (0..n as usize)
        .map(|id| {
            Command::new(env!("CARGO_BIN_EXE_generals-node"))
                .args(["--id", &id.to_string(), "--n", &n.to_string()])
                .args(["--listen", &peers[id], "--api", &api[id]])
                .args(["--peers", &peers.join(","), "--pubkeys", &public.join(",")])
                .args(["--key", &hex::encode(secrets[id])])
                .args(extra)
                .stderr(Stdio::null())
                .spawn()
                .expect("the node binary starts")
        })
        .collect();
    Cluster { children, api }
}

/// One HTTP/1.1 request; returns the status code and the JSON body.
fn http(addr: &str, method: &str, path: &str, body: Option<&Value>) -> Option<(u16, Value)> {
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

fn wait_until<T>(what: &str, mut probe: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if let Some(value) = probe() {
            return value;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        sleep(Duration::from_millis(50));
    }
}

fn order_is_decided_by_all(extra: &[&str]) {
    let cluster = start(4, extra);
    for api in &cluster.api {
        // 200 once the node's links to every peer are up.
        wait_until("health", || {
            let (status, _) = http(api, "GET", "/health", None)?;
            (status == 200).then_some(())
        });
    }
    let order = json!({"client": "c1", "req": 1, "op": {"f": "order", "value": "attack"}});
    let (status, reply) = http(&cluster.api[0], "POST", "/ops", Some(&order)).unwrap();
    assert_eq!(status, 200);
    assert_eq!(
        reply,
        json!({"status": "ok", "value": {"instance": 0, "decision": "attack"}})
    );

    let (_, refusal) = http(&cluster.api[2], "POST", "/ops", Some(&order)).unwrap();
    assert_eq!(refusal["status"], "fail");
    assert_eq!(refusal["error"], "not the commander; send orders to node 0");

    for api in &cluster.api {
        let log = wait_until("every general's decision", || {
            let (_, log) = http(api, "GET", "/log?from=0", None)?;
            (log["committed"] == 1).then_some(log)
        });
        let entry = &log["entries"][0];
        assert_eq!(entry["seq"], 0);
        assert_eq!(entry["client"], "c1");
        assert_eq!(entry["req"], 1);
        assert_eq!(entry["op"], json!({"f": "order", "value": "attack"}));
        assert_eq!(
            entry["digest"],
            generals_node::messages::Plan::Attack.digest_hex()
        );
    }
    let (_, status) = http(&cluster.api[3], "GET", "/status", None).unwrap();
    assert_eq!(status["primary"], 0);
    assert_eq!(status["committed"], 1);
}

#[test]
fn om_over_tcp_decides_on_every_general() {
    order_is_decided_by_all(&["--algo", "om"]);
}

#[test]
fn sm_over_tcp_decides_on_every_general() {
    order_is_decided_by_all(&["--algo", "om", "--algo", "sm", "--round-ms", "100"]);
}

#[test]
fn bad_flags_exit_with_code_2_naming_the_flag() {
    let key = hex::encode([1u8; 32]);
    let public = hex::encode(
        SigningKey::from_bytes(&[1u8; 32])
            .verifying_key()
            .to_bytes(),
    );
    let pubkeys = [public.as_str(); 4].join(",");
    let peers = ["127.0.0.1:1"; 4].join(",");
    let base = [
        "--id",
        "0",
        "--n",
        "4",
        "--listen",
        "127.0.0.1:1",
        "--api",
        "127.0.0.1:2",
    ];
    for (bad, flag) in [
        (vec!["--m", "3"], "--m"),
        (vec!["--round-ms", "0"], "--round-ms"),
        (vec!["--bug", "om-too-few-rounds", "--algo", "sm"], "--bug"),
        (vec!["--commander", "9"], "--commander"),
    ] {
        let output = Command::new(env!("CARGO_BIN_EXE_generals-node"))
            .args(base)
            .args(["--peers", &peers, "--key", &key, "--pubkeys", &pubkeys])
            .args(&bad)
            .output()
            .unwrap();
        assert_eq!(output.status.code(), Some(2), "{bad:?}");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains(flag), "{bad:?}: {stderr}");
    }
}
