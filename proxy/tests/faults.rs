//! Fault rules on links: partition and heal, drop, duplicate, delay, reorder, heal_all,
//! and reproducible randomness.

mod common;

use std::time::{Duration, Instant};

use common::*;
use traitor_proxy::{Framing, LinkRule};

fn stats_of(cluster: &Cluster, from: u32, to: u32) -> traitor_proxy::LinkStats {
    cluster
        .proxy
        .stats()
        .into_iter()
        .find(|s| s.from == from && s.to == to)
        .unwrap()
}

#[tokio::test]
async fn a_partition_holds_bytes_and_delivers_them_in_order_at_heal() {
    let cluster = Cluster::start(2, Options::framing(Framing::Len32Json)).await;
    let (mut a, mut b) = cluster.connect(0, 1).await;
    let links = cluster.proxy.links();
    links.partition(0, 1);
    let frames: Vec<Vec<u8>> = (0..100).map(|i| json_message("prepare", i)).collect();
    send_all(&mut a, &frames).await;
    assert!(
        read_len32(&mut b, QUIET).await.is_none(),
        "nothing crosses a partition"
    );
    // The other direction still works.
    send_all(&mut b, &[json_message("reply", 0)]).await;
    assert!(read_len32(&mut a, PATIENCE).await.is_some());

    links.heal(0, 1);
    for i in 0..100 {
        let body = read_len32(&mut b, PATIENCE)
            .await
            .expect("held bytes arrive after heal");
        assert_eq!(seq_of(&body), i, "in order");
    }
    assert_eq!(stats_of(&cluster, 0, 1).held, 100);
    assert_eq!(stats_of(&cluster, 0, 1).dropped, 0);
    cluster.proxy.shutdown().await;
}

#[tokio::test]
async fn a_partition_holds_stream_bytes_too() {
    let cluster = Cluster::start(2, Options::framing(Framing::Stream)).await;
    let (mut a, mut b) = cluster.connect(0, 1).await;
    cluster.proxy.links().partition(0, 1);
    let data: Vec<u8> = (0..200_000u32).map(|i| i as u8).collect();
    send_all(&mut a, std::slice::from_ref(&data)).await;
    assert!(read_len32(&mut b, QUIET).await.is_none());
    cluster.proxy.links().heal(0, 1);
    assert_eq!(read_bytes(&mut b, data.len()).await, data);
    cluster.proxy.shutdown().await;
}

#[tokio::test]
async fn a_connection_opened_during_a_partition_is_dialled_only_after_heal() {
    let cluster = Cluster::start(2, Options::framing(Framing::Len32Json)).await;
    let links = cluster.proxy.links();
    links.partition(0, 1);
    let mut a = cluster.dial(0, 1).await; // accepted by the proxy: connect succeeds
    send_all(&mut a, &[json_message("hello", 1)]).await;
    assert!(
        cluster.accept(1, QUIET).await.is_none(),
        "not dialled while partitioned"
    );
    // The proxy did not close it either.
    let mut byte = [0u8; 1];
    let early = tokio::time::timeout(QUIET, tokio::io::AsyncReadExt::read(&mut a, &mut byte)).await;
    assert!(early.is_err(), "the connection stays open and silent");

    links.heal(0, 1);
    let mut b = cluster.accept(1, PATIENCE).await.expect("dialled at heal");
    let body = read_len32(&mut b, PATIENCE)
        .await
        .expect("the early message arrives");
    assert_eq!(seq_of(&body), 1);
    cluster.proxy.shutdown().await;
}

#[tokio::test]
async fn drop_with_probability_one_drops_every_message_and_counts_them() {
    let cluster = Cluster::start(2, Options::framing(Framing::Len32Json)).await;
    let (mut a, mut b) = cluster.connect(0, 1).await;
    let links = cluster.proxy.links();
    links.drop(0, 1, 1.0);
    let frames: Vec<Vec<u8>> = (0..50).map(|i| json_message("prepare", i)).collect();
    send_all(&mut a, &frames).await;
    assert!(read_len32(&mut b, QUIET).await.is_none());
    cluster.seen(0, 1, 50).await;
    links.drop(0, 1, 0.0);
    send_all(&mut a, &[json_message("marker", 999)]).await;
    let body = read_len32(&mut b, PATIENCE).await.unwrap();
    assert_eq!(
        seq_of(&body),
        999,
        "the first message through is the one after the rule"
    );
    let stats = stats_of(&cluster, 0, 1);
    assert_eq!((stats.dropped, stats.messages), (50, 51));
    cluster.proxy.shutdown().await;
}

#[tokio::test]
async fn duplicate_with_probability_one_doubles_every_message() {
    let cluster = Cluster::start(2, Options::framing(Framing::Lines)).await;
    let (mut a, mut b) = cluster.connect(0, 1).await;
    cluster.proxy.links().duplicate(0, 1, 1.0);
    let lines: Vec<Vec<u8>> = (0..20)
        .map(|i| format!("line {i}\n").into_bytes())
        .collect();
    send_all(&mut a, &lines).await;
    let doubled: Vec<u8> = lines
        .iter()
        .flat_map(|l| [l.clone(), l.clone()])
        .flatten()
        .collect();
    assert_eq!(read_bytes(&mut b, doubled.len()).await, doubled);
    assert_eq!(stats_of(&cluster, 0, 1).duplicated, 20);
    cluster.proxy.shutdown().await;
}

#[tokio::test]
async fn delay_adds_at_least_the_mean_and_keeps_order() {
    let cluster = Cluster::start(2, Options::framing(Framing::Len32)).await;
    let (mut a, mut b) = cluster.connect(0, 1).await;
    let mean = Duration::from_millis(150);
    cluster
        .proxy
        .links()
        .delay(0, 1, mean, Duration::from_millis(50));
    let sent = Instant::now();
    let frames: Vec<Vec<u8>> = (0..10u8).map(|i| len32(&[i])).collect();
    send_all(&mut a, &frames).await;
    let first = read_len32(&mut b, PATIENCE).await.unwrap();
    assert!(
        sent.elapsed() >= mean - Duration::from_millis(50),
        "held for mean - jitter at least"
    );
    let mut got = vec![first[0]];
    for _ in 1..10 {
        got.push(read_len32(&mut b, PATIENCE).await.unwrap()[0]);
    }
    assert_eq!(got, (0..10).collect::<Vec<u8>>(), "order kept under jitter");

    // With no jitter every message waits the full mean.
    cluster.proxy.links().delay(0, 1, mean, Duration::ZERO);
    let sent = Instant::now();
    send_all(&mut a, &[len32(b"x")]).await;
    read_len32(&mut b, PATIENCE).await.unwrap();
    assert!(sent.elapsed() >= mean);
    assert_eq!(stats_of(&cluster, 0, 1).delayed, 11);
    cluster.proxy.shutdown().await;
}

#[tokio::test]
async fn reorder_with_probability_one_swaps_neighbours() {
    let cluster = Cluster::start(2, Options::framing(Framing::Len32Json)).await;
    let (mut a, mut b) = cluster.connect(0, 1).await;
    cluster.proxy.links().reorder(0, 1, 1.0);
    let frames: Vec<Vec<u8>> = (0..4).map(|i| json_message("m", i)).collect();
    send_all(&mut a, &frames).await;
    let mut got = Vec::new();
    for _ in 0..4 {
        got.push(seq_of(&read_len32(&mut b, PATIENCE).await.unwrap()));
    }
    assert_eq!(got, vec![1, 0, 3, 2]);
    // A lone message held back is released after a bounded wait.
    send_all(&mut a, &[json_message("m", 4)]).await;
    assert_eq!(seq_of(&read_len32(&mut b, PATIENCE).await.unwrap()), 4);
    cluster.proxy.shutdown().await;
}

#[tokio::test]
async fn heal_all_clears_every_rule() {
    let cluster = Cluster::start(3, Options::framing(Framing::Len32Json)).await;
    let (mut a, mut b) = cluster.connect(0, 1).await;
    let links = cluster.proxy.links();
    links.drop(0, 1, 1.0);
    links.delay(0, 1, Duration::from_secs(10), Duration::ZERO);
    links.partition(0, 1);
    links.partition(1, 0);
    links.duplicate(2, 1, 1.0);
    links.reorder(1, 2, 1.0);
    links.heal_all();
    for from in 0..3 {
        for to in 0..3 {
            assert_eq!(links.rule(from, to), Some(LinkRule::default()));
        }
    }
    let sent = Instant::now();
    send_all(&mut a, &[json_message("after", 1)]).await;
    assert_eq!(seq_of(&read_len32(&mut b, PATIENCE).await.unwrap()), 1);
    send_all(&mut b, &[json_message("back", 2)]).await;
    assert_eq!(seq_of(&read_len32(&mut a, PATIENCE).await.unwrap()), 2);
    assert!(sent.elapsed() < Duration::from_secs(2), "no delay left");
    cluster.proxy.shutdown().await;
}

/// Sends 200 messages under drop 0.5 and duplicate 0.3 and returns the sequence numbers
/// that arrive.
async fn lossy_run(seed: u64) -> Vec<u32> {
    let mut options = Options::framing(Framing::Len32Json);
    options.seed = seed;
    let cluster = Cluster::start(2, options).await;
    let (mut a, mut b) = cluster.connect(0, 1).await;
    let links = cluster.proxy.links();
    links.drop(0, 1, 0.5);
    links.duplicate(0, 1, 0.3);
    let frames: Vec<Vec<u8>> = (0..200).map(|i| json_message("m", i)).collect();
    send_all(&mut a, &frames).await;
    cluster.seen(0, 1, 200).await;
    links.heal_all();
    send_all(&mut a, &[json_message("end", 1000)]).await;
    let mut got = Vec::new();
    loop {
        let seq = seq_of(&read_len32(&mut b, PATIENCE).await.unwrap());
        if seq == 1000 {
            break;
        }
        got.push(seq);
    }
    cluster.proxy.shutdown().await;
    got
}

#[tokio::test]
async fn the_same_seed_gives_the_same_faults() {
    let first = lossy_run(42).await;
    assert!(
        first.len() > 50 && first.len() < 200,
        "about half dropped: {}",
        first.len()
    );
    assert_eq!(lossy_run(42).await, first);
    assert_ne!(lossy_run(43).await, first);
}

#[tokio::test]
async fn messages_over_16_mib_pass_through_without_per_message_faults() {
    let huge = vec![b'z'; (16 << 20) + 1];
    for framing in [Framing::Lines, Framing::Len32] {
        let cluster = Cluster::start(2, Options::framing(framing)).await;
        let (mut a, mut b) = cluster.connect(0, 1).await;
        cluster.proxy.links().drop(0, 1, 1.0);
        let (big, small) = match framing {
            Framing::Lines => ([&huge[..], b"\n"].concat(), b"small\n".to_vec()),
            _ => (len32(&huge), len32(b"small")),
        };
        let writer = tokio::spawn(async move {
            send_all(&mut a, &[big, small]).await;
            a
        });
        let got = read_bytes(
            &mut b,
            huge.len() + if framing == Framing::Lines { 1 } else { 4 },
        )
        .await;
        assert!(
            got.iter().filter(|&&c| c == b'z').count() == huge.len(),
            "{framing}: the big message arrives whole"
        );
        let _a = writer.await.unwrap();
        cluster.seen(0, 1, 2).await;
        assert!(
            read_len32(&mut b, QUIET).await.is_none(),
            "{framing}: the small one is dropped"
        );
        let stats = stats_of(&cluster, 0, 1);
        assert_eq!((stats.messages, stats.dropped), (2, 1), "{framing}");
        cluster.proxy.shutdown().await;
    }
}
