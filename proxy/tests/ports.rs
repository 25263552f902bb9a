//! More than one node-to-node port per node, and senders told apart by a resolver when a
//! program dials from an address that is no node's.

mod common;

use common::{dial_from, read_bytes, PATIENCE, QUIET};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Instant;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use traitor_proxy::{Framing, NodeId, PeerPort, Proxy, ProxyConfig, ProxyNode, SourceResolver};

fn ip(id: NodeId) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(127, 0, 0, 40 + id as u8))
}

/// Two nodes, each listening on a main port and on one more port (the same number on
/// both, as real nodes do); returns the proxy and each node's (main, more) listeners.
async fn two_ports(resolver: Option<SourceResolver>) -> (Proxy, Vec<(TcpListener, TcpListener)>) {
    let first_more = TcpListener::bind((ip(0), 0)).await.unwrap();
    let more_port = first_more.local_addr().unwrap().port();
    let mut listeners = vec![(TcpListener::bind((ip(0), 0)).await.unwrap(), first_more)];
    listeners.push((
        TcpListener::bind((ip(1), 0)).await.unwrap(),
        TcpListener::bind((ip(1), more_port)).await.unwrap(),
    ));
    let nodes = listeners
        .iter()
        .enumerate()
        .map(|(id, (main, _))| ProxyNode {
            id: id as NodeId,
            source_ip: ip(id as NodeId),
            upstream: main.local_addr().unwrap(),
        })
        .collect();
    let proxy = Proxy::start(ProxyConfig {
        listen_ip: "127.0.0.1".parse().unwrap(),
        nodes,
        framing: Framing::Len32Json,
        seed: 1,
        run_start: Instant::now(),
        trace_path: None,
        trace_limit: 0,
        interceptor: None,
        more_ports: vec![PeerPort {
            port: more_port,
            framing: Framing::Stream,
        }],
        resolver,
    })
    .await
    .unwrap();
    (proxy, listeners)
}

#[tokio::test]
async fn a_second_port_is_proxied_and_partitioned_with_its_link() {
    let (proxy, listeners) = two_ports(None).await;
    let more = proxy
        .port_endpoint(1, 1)
        .expect("an endpoint for node 1's second port");
    assert_ne!(more, proxy.endpoint(1));
    let mut client = dial_from(ip(0), more).await;
    client.write_all(b"hello").await.unwrap();
    let (mut server, _) = tokio::time::timeout(PATIENCE, listeners[1].1.accept())
        .await
        .expect("the proxy dials node 1's second port")
        .unwrap();
    assert_eq!(read_bytes(&mut server, 5).await, b"hello");
    // A partition of the link holds this port's bytes too, until the heal.
    proxy.links().partition(0, 1);
    client.write_all(b"later").await.unwrap();
    let mut held = [0u8; 5];
    let early = tokio::time::timeout(QUIET, server.read_exact(&mut held)).await;
    assert!(early.is_err(), "bytes crossed a partition");
    proxy.links().heal(0, 1);
    assert_eq!(read_bytes(&mut server, 5).await, b"later");
}

#[tokio::test]
async fn a_resolver_names_the_sender_of_a_connection_from_an_unknown_address() {
    // Connections from 127.0.0.1 (no node's address) belong to node 0.
    let resolver = SourceResolver(Arc::new(|peer: SocketAddr, _local: SocketAddr| {
        (peer.ip() == IpAddr::V4(Ipv4Addr::LOCALHOST)).then_some(ip(0))
    }));
    let (proxy, listeners) = two_ports(Some(resolver)).await;
    let mut client = dial_from("127.0.0.1".parse().unwrap(), proxy.endpoint(1)).await;
    client
        .write_all(&common::json_message("ping", 1))
        .await
        .unwrap();
    let (mut server, _) = tokio::time::timeout(PATIENCE, listeners[1].0.accept())
        .await
        .expect("the proxy forwards the resolved sender's connection")
        .unwrap();
    assert!(common::read_len32(&mut server, PATIENCE).await.is_some());
    let stats = proxy.stats();
    let link = stats.iter().find(|s| s.from == 0 && s.to == 1).unwrap();
    assert_eq!(link.messages, 1, "{stats:?}");
}
