//! The first order of a cluster whose links go through a proxy, as under `traitor run`.
//!
//! The harness's proxy accepts a general's connection at once, then dials the peer and
//! closes the connection if that peer is not listening yet. A general started before its
//! peers thus holds connections that are already closed at the far end; the first frame
//! written into each is lost without an error. That used to lose the commander's first order
//! (and every general's first relay) to each peer started after it: at OM(3) with 10 generals
//! and 3 traitors it broke agreement at instance 0 in 8 of 20 seeds. Here the commander is
//! started alone, so every one of its links is such a connection; then the others start.
//! The order must reach every general and be obeyed, and until the links are up the node
//! must say it is not ready rather than lose the order.

mod common;

use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::thread::{sleep, spawn};
use std::time::{Duration, Instant};

use common::{free_addr, http, start_general, wait_until, Keys, Processes};
use serde_json::json;

/// A proxy endpoint standing for the general listening on `upstream`, as the harness's:
/// it accepts every connection, dials `upstream`, and closes the connection when that fails;
/// otherwise it forwards the bytes. Runs until the test process ends.
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

/// Long rounds: a frame that never arrives shows as a decision no sooner than a round's end.
const ROUND_MS: u64 = 3000;

#[test]
fn the_first_order_survives_peers_that_start_after_the_commander_behind_a_proxy() {
    let n = 4u32;
    let keys = Keys::new(n);
    let listen: Vec<SocketAddr> = (0..n).map(|_| free_addr()).collect();
    let api: Vec<String> = (0..n).map(|_| free_addr().to_string()).collect();
    let peers: Vec<String> = listen
        .iter()
        .map(|&upstream| proxy_endpoint(upstream).to_string())
        .collect();
    let round_ms = ROUND_MS.to_string();
    let general = |id: usize| {
        let listen = listen[id].to_string();
        let extra = ["--algo", "om", "--round-ms", round_ms.as_str()];
        start_general(id, &keys, &listen, &api[id], &peers, &extra)
    };

    // The commander alone: the proxy accepts its connections and closes each one.
    let mut processes = Processes(vec![general(0)]);
    let (status, body) = wait_until("the commander's API", Duration::from_secs(10), || {
        http(&api[0], "GET", "/health", None)
    });
    assert_eq!(status, 503, "no peer is up, yet /health says {body:?}");
    sleep(Duration::from_millis(300));
    let order = json!({"client": "c1", "req": 1, "op": {"f": "order", "value": "attack"}});
    let (status, refusal) = http(&api[0], "POST", "/ops", Some(&order)).unwrap();
    assert_eq!(status, 503, "{refusal}");
    assert_eq!(refusal["status"], "fail", "{refusal}");

    // The others start; every link must come up, then the first order must reach them.
    processes.0.extend((1..n as usize).map(general));
    for api in &api {
        wait_until("every general's links", Duration::from_secs(10), || {
            let (status, _) = http(api, "GET", "/health", None)?;
            (status == 200).then_some(())
        });
    }
    let (status, reply) = http(&api[0], "POST", "/ops", Some(&order)).unwrap();
    assert_eq!(status, 200, "{reply}");
    assert_eq!(
        reply,
        json!({"status": "ok", "value": {"instance": 0, "decision": "attack"}})
    );
    // With every frame delivered OM(1) decides as soon as its tree is full, within message
    // delays; a lost frame (the order, or a relay) would only be counted as RETREAT when its
    // round ends, so every decision must come before the first round's end.
    let ordered = Instant::now();
    for api in &api {
        let limit = Duration::from_millis(ROUND_MS * 5 / 6).saturating_sub(ordered.elapsed());
        let log = wait_until("every general's decision within a round", limit, || {
            let (_, log) = http(api, "GET", "/log?from=0", None)?;
            (log["committed"] == 1).then_some(log)
        });
        assert_eq!(
            log["entries"][0]["op"],
            json!({"f": "order", "value": "attack"}),
            "general at {api}: {log}"
        );
        assert_eq!(log["entries"][0]["client"], "c1", "general at {api}: {log}");
    }
    drop(processes);
}
