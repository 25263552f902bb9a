//! Four real generals-node processes on 127.0.0.1: an order posted to the commander is
//! decided by every general, for OM and SM. Bounded: each case gives up after 10 s.

mod common;

use std::time::Duration;

use common::{free_addr, http, start_general, wait_until, Keys, Processes};
use serde_json::json;

/// A cluster's processes (killed when it is dropped) and their API addresses.
struct Cluster {
    _processes: Processes,
    api: Vec<String>,
}

fn start(n: u32, extra: &[&str]) -> Cluster {
    let keys = Keys::new(n);
    let peers: Vec<String> = (0..n).map(|_| free_addr().to_string()).collect();
    let api: Vec<String> = (0..n).map(|_| free_addr().to_string()).collect();
    let children = (0..n as usize)
        .map(|id| start_general(id, &keys, &peers[id], &api[id], &peers, extra))
        .collect();
    Cluster {
        _processes: Processes(children),
        api,
    }
}

/// Each case gives up after this long.
const PATIENCE: Duration = Duration::from_secs(10);

fn order_is_decided_by_all(extra: &[&str]) {
    let cluster = start(4, extra);
    for api in &cluster.api {
        // 200 once the node's links to every peer are up.
        wait_until("health", PATIENCE, || {
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
        let log = wait_until("every general's decision", PATIENCE, || {
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
    let keys = Keys::new(4);
    let key = hex::encode(keys.secrets[0]);
    let pubkeys = keys.public.join(",");
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
        let output = std::process::Command::new(env!("CARGO_BIN_EXE_generals-node"))
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
