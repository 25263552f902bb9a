//! Twins: node 0 runs as two instances (its own address and [`twin_ip`]) with one identity;
//! the split says which instance each peer talks to.

mod common;

use common::{dial_from, read_bytes, send_all, twin_ip, Cluster, Options, PATIENCE, QUIET};
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use traitor_proxy::Framing;

/// Three nodes; node 0 has a twin.
async fn cluster(framing: Framing, trace: Option<std::path::PathBuf>) -> Cluster {
    let options = Options {
        twins: vec![0],
        trace_limit: 1000,
        trace_path: trace,
        ..Options::framing(framing)
    };
    Cluster::start(3, options).await
}

/// `body` as one message of `framing`.
fn message(framing: Framing, body: &str) -> Vec<u8> {
    match framing {
        Framing::Lines => format!("{body}\n").into_bytes(),
        _ => common::len32(body.as_bytes()),
    }
}

/// A small JSON message whose `seq` tells it apart.
fn numbered(framing: Framing, seq: u32) -> Vec<u8> {
    message(framing, &format!(r#"{{"from":0,"type":"m","seq":{seq}}}"#))
}

/// Reads the next message's `seq` if one comes within `wait`.
async fn next(stream: &mut TcpStream, framing: Framing, wait: std::time::Duration) -> Option<u32> {
    let read = async {
        let mut body = Vec::new();
        if framing == Framing::Lines {
            let mut byte = [0u8];
            while stream.read_exact(&mut byte).await.is_ok() && byte[0] != b'\n' {
                body.push(byte[0]);
            }
        } else {
            let mut header = [0u8; 4];
            stream.read_exact(&mut header).await.unwrap();
            body.resize(u32::from_be_bytes(header) as usize, 0);
            stream.read_exact(&mut body).await.unwrap();
        }
        body
    };
    let body = tokio::time::timeout(wait, read).await.ok()?;
    let value: Value = serde_json::from_slice(&body).unwrap();
    Some(value["seq"].as_u64().unwrap() as u32)
}

async fn send(stream: &mut TcpStream, framing: Framing, seq: u32) {
    send_all(stream, &[numbered(framing, seq)]).await;
}

/// A peer's connection to node 0 and where the proxy dialled it: (peer's end, instance 0's
/// end, instance 1's end).
async fn peer_to_node0(cluster: &Cluster, peer: u32) -> (TcpStream, TcpStream, TcpStream) {
    let from_peer = cluster.dial(peer, 0).await;
    let at0 = cluster
        .accept_at((0, 0), PATIENCE)
        .await
        .expect("instance 0 dialled");
    let at1 = cluster
        .accept_at((0, 1), PATIENCE)
        .await
        .expect("instance 1 dialled");
    (from_peer, at0, at1)
}

/// Instance 1 of node 0 opens a connection to `peer`: (twin's end, peer's end).
async fn twin_to(cluster: &Cluster, peer: u32) -> (TcpStream, TcpStream) {
    let from_twin = dial_from(twin_ip(0), cluster.proxy.endpoint(peer)).await;
    let at_peer = cluster.accept(peer, PATIENCE).await.expect("peer dialled");
    (from_twin, at_peer)
}

#[tokio::test]
async fn each_peer_reaches_only_its_instance_and_hears_only_it_on_every_framing() {
    for framing in [Framing::Len32Json, Framing::Len32, Framing::Lines] {
        let path = std::env::temp_dir().join(format!(
            "traitor-proxy-twins-{}-{framing}.jsonl",
            std::process::id()
        ));
        let cluster = cluster(framing, Some(path.clone())).await;
        cluster.proxy.twins().split(0, &[2]).unwrap();

        // Peer 1 talks to instance 0, peer 2 to the twin.
        let (mut from1, mut at0_from1, mut at1_from1) = peer_to_node0(&cluster, 1).await;
        send(&mut from1, framing, 1).await;
        assert_eq!(next(&mut at0_from1, framing, PATIENCE).await, Some(1));
        assert_eq!(
            next(&mut at1_from1, framing, QUIET).await,
            None,
            "{framing}"
        );
        let (mut from2, mut at0_from2, mut at1_from2) = peer_to_node0(&cluster, 2).await;
        send(&mut from2, framing, 2).await;
        assert_eq!(next(&mut at1_from2, framing, PATIENCE).await, Some(2));
        assert_eq!(
            next(&mut at0_from2, framing, QUIET).await,
            None,
            "{framing}"
        );

        // Replies on peer 1's connection: only instance 0's reach it.
        send(&mut at1_from1, framing, 10).await;
        send(&mut at0_from1, framing, 11).await;
        assert_eq!(
            next(&mut from1, framing, PATIENCE).await,
            Some(11),
            "{framing}"
        );

        // The twin's own connections count as node 0's; peer 1 does not hear them.
        let (mut twin_out1, mut at1) = twin_to(&cluster, 1).await;
        send(&mut twin_out1, framing, 20).await;
        let (mut twin_out2, mut at2) = twin_to(&cluster, 2).await;
        send(&mut twin_out2, framing, 21).await;
        assert_eq!(next(&mut at2, framing, PATIENCE).await, Some(21));
        assert_eq!(next(&mut at1, framing, QUIET).await, None, "{framing}");
        let mut own_out1 = cluster.dial(0, 1).await;
        let mut own_at1 = cluster.accept(1, PATIENCE).await.unwrap();
        send(&mut own_out1, framing, 22).await;
        assert_eq!(next(&mut own_at1, framing, PATIENCE).await, Some(22));

        // An instance dialling its own node reaches itself, never the other instance.
        let mut twin_self = dial_from(twin_ip(0), cluster.proxy.endpoint(0)).await;
        let mut at_self = cluster.accept_at((0, 1), PATIENCE).await.unwrap();
        assert!(cluster.accept_at((0, 0), QUIET).await.is_none());
        send(&mut twin_self, framing, 30).await;
        assert_eq!(next(&mut at_self, framing, PATIENCE).await, Some(30));

        let stats = cluster.proxy.stats();
        let link = stats.iter().find(|s| s.from == 0 && s.to == 1).unwrap();
        assert_eq!((link.messages, link.dropped), (4, 2), "{framing}: {link:?}");
        let link = stats.iter().find(|s| s.from == 0 && s.to == 2).unwrap();
        assert_eq!((link.messages, link.dropped), (1, 0), "{framing}: {link:?}");
        for stream in [&mut from1, &mut from2, &mut twin_out1, &mut own_out1] {
            stream.shutdown().await.unwrap();
        }
        cluster.proxy.shutdown().await;

        // The trace tells the twin's messages apart: one identity at two addresses.
        let trace = std::fs::read_to_string(&path).unwrap();
        std::fs::remove_file(&path).unwrap();
        let records: Vec<Value> = trace
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        let from_twin: Vec<(u64, String)> = records
            .iter()
            .filter(|r| r["instance"] == 1)
            .map(|r| {
                (
                    r["to"].as_u64().unwrap(),
                    r["action"].as_str().unwrap().into(),
                )
            })
            .collect();
        let expected = [(1, "drop"), (1, "drop"), (2, "deliver"), (0, "deliver")];
        let expected: Vec<(u64, String)> = expected
            .iter()
            .map(|(to, a)| (*to, a.to_string()))
            .collect();
        assert_eq!(sorted(from_twin), sorted(expected), "{framing}: {trace}");
        assert!(
            records
                .iter()
                .all(|r| r.get("instance") != Some(&Value::from(0))),
            "instance 0 is never written"
        );
    }
}

fn sorted(mut v: Vec<(u64, String)>) -> Vec<(u64, String)> {
    v.sort();
    v
}

#[tokio::test]
async fn a_redrawn_split_moves_open_connections_message_by_message() {
    let framing = Framing::Len32Json;
    let cluster = cluster(framing, None).await;
    let twins = cluster.proxy.twins();
    twins.split(0, &[2]).unwrap();
    let (mut from1, mut at0_from1, mut at1_from1) = peer_to_node0(&cluster, 1).await;
    let mut own_out1 = cluster.dial(0, 1).await;
    let mut own_at1 = cluster.accept(1, PATIENCE).await.unwrap();
    let (mut twin_out1, mut twin_at1) = twin_to(&cluster, 1).await;
    send(&mut from1, framing, 1).await;
    assert_eq!(next(&mut at0_from1, framing, PATIENCE).await, Some(1));
    send(&mut own_out1, framing, 2).await;
    assert_eq!(next(&mut own_at1, framing, PATIENCE).await, Some(2));
    send(&mut twin_out1, framing, 3).await;
    assert_eq!(next(&mut twin_at1, framing, QUIET).await, None);

    twins.split(0, &[1]).unwrap();
    assert_eq!(twins.instance_for(0, 1), Some(1));
    send(&mut from1, framing, 4).await;
    assert_eq!(next(&mut at1_from1, framing, PATIENCE).await, Some(4));
    assert_eq!(next(&mut at0_from1, framing, QUIET).await, None);
    send(&mut twin_out1, framing, 5).await;
    assert_eq!(next(&mut twin_at1, framing, PATIENCE).await, Some(5));
    send(&mut own_out1, framing, 6).await;
    assert_eq!(next(&mut own_at1, framing, QUIET).await, None);
    cluster.proxy.shutdown().await;
}

#[tokio::test]
async fn on_stream_links_each_connection_is_bound_when_it_opens() {
    let cluster = cluster(Framing::Stream, None).await;
    let twins = cluster.proxy.twins();
    twins.split(0, &[2]).unwrap();
    // A peer's connection is dialled to its instance only.
    let _from1 = cluster.dial(1, 0).await;
    assert!(cluster.accept_at((0, 0), PATIENCE).await.is_some());
    assert!(cluster.accept_at((0, 1), QUIET).await.is_none());
    let _from2 = cluster.dial(2, 0).await;
    assert!(cluster.accept_at((0, 1), PATIENCE).await.is_some());
    assert!(cluster.accept_at((0, 0), QUIET).await.is_none());
    // The twin's connection to peer 1 waits undialled until peer 1 is routed to it.
    let mut twin_out1 = dial_from(twin_ip(0), cluster.proxy.endpoint(1)).await;
    twin_out1.write_all(b"early").await.unwrap();
    assert!(cluster.accept(1, QUIET).await.is_none());
    twins.split(0, &[1]).unwrap();
    let mut at1 = cluster
        .accept(1, PATIENCE)
        .await
        .expect("dialled once routed");
    assert_eq!(read_bytes(&mut at1, 5).await, b"early");
    cluster.proxy.shutdown().await;
}
