//! Pass-through and sender identification on loopback, with no fault rules.

mod common;

use common::*;
use tokio::io::AsyncReadExt;
use traitor_proxy::Framing;

/// Messages for one framing: small ones and one larger than the proxy's read buffer.
fn messages(framing: Framing) -> Vec<Vec<u8>> {
    let big: Vec<u8> = (0..300_000u32).map(|i| b'a' + (i % 26) as u8).collect();
    match framing {
        Framing::Len32Json => vec![
            json_message("prepare", 1),
            len32(
                format!(
                    r#"{{"type":"big","pad":"{}"}}"#,
                    String::from_utf8_lossy(&big)
                )
                .as_bytes(),
            ),
            json_message("commit", 2),
        ],
        Framing::Len32 => vec![len32(b"\x00\x01binary"), len32(&big), len32(b"")],
        Framing::Lines => vec![
            b"hello\n".to_vec(),
            [&big[..], b"\n"].concat(),
            b"bye\n".to_vec(),
        ],
        Framing::Stream => vec![b"no boundaries ".to_vec(), big.clone(), b"at all".to_vec()],
    }
}

#[tokio::test]
async fn every_framing_passes_bytes_through_both_directions() {
    for framing in [
        Framing::Len32Json,
        Framing::Len32,
        Framing::Lines,
        Framing::Stream,
    ] {
        let cluster = Cluster::start(2, Options::framing(framing)).await;
        let (mut a, mut b) = cluster.connect(0, 1).await;
        let request = messages(framing);
        let reply: Vec<Vec<u8>> = request.iter().rev().cloned().collect();
        let (request_bytes, reply_bytes) = (request.concat(), reply.concat());
        send_all(&mut a, &request).await;
        assert_eq!(
            read_bytes(&mut b, request_bytes.len()).await,
            request_bytes,
            "{framing}: A->B"
        );
        send_all(&mut b, &reply).await;
        assert_eq!(
            read_bytes(&mut a, reply_bytes.len()).await,
            reply_bytes,
            "{framing}: B->A"
        );

        // A half-close travels too: B sees end of stream after the bytes.
        drop(a);
        let mut rest = Vec::new();
        let eof = tokio::time::timeout(PATIENCE, b.read_to_end(&mut rest)).await;
        assert!(matches!(eof, Ok(Ok(0))), "{framing}: B sees A's close");

        let stats = cluster.proxy.stats();
        let link = |from, to| {
            stats
                .iter()
                .find(|s| s.from == from && s.to == to)
                .unwrap()
                .clone()
        };
        assert_eq!(link(0, 1).bytes, request_bytes.len() as u64, "{framing}");
        assert_eq!(link(1, 0).bytes, reply_bytes.len() as u64, "{framing}");
        if framing.is_framed() {
            assert_eq!(link(0, 1).messages, 3, "{framing}");
            assert_eq!(link(1, 0).messages, 3, "{framing}");
        }
        cluster.proxy.shutdown().await;
    }
}

#[tokio::test]
async fn the_sender_is_told_apart_by_source_address() {
    let cluster = Cluster::start(3, Options::framing(Framing::Len32Json)).await;
    let (mut from2, mut at1) = cluster.connect(2, 1).await;
    // A rule on 0->1 must not touch node 2's traffic to node 1.
    cluster.proxy.links().partition(0, 1);
    send_all(&mut from2, &[json_message("ping", 5)]).await;
    let body = read_len32(&mut at1, PATIENCE)
        .await
        .expect("2->1 is not partitioned");
    assert_eq!(seq_of(&body), 5);
    let stats = cluster.proxy.stats();
    let messages = |from, to| {
        stats
            .iter()
            .find(|s| s.from == from && s.to == to)
            .unwrap()
            .messages
    };
    assert_eq!(messages(2, 1), 1);
    assert_eq!(messages(0, 1), 0);
    cluster.proxy.shutdown().await;
}

#[tokio::test]
async fn an_unknown_source_is_refused_and_never_dialled() {
    let cluster = Cluster::start(2, Options::framing(Framing::Lines)).await;
    let stranger = "127.0.0.99".parse().unwrap();
    let mut conn = dial_from(stranger, cluster.proxy.endpoint(1)).await;
    let mut byte = [0u8; 1];
    let read = tokio::time::timeout(PATIENCE, conn.read(&mut byte)).await;
    assert!(
        matches!(read, Ok(Ok(0)) | Ok(Err(_))),
        "the proxy closes a connection from an unknown source at once"
    );
    assert!(
        cluster.accept(1, QUIET).await.is_none(),
        "nothing was dialled for it"
    );
    cluster.proxy.shutdown().await;
}

#[tokio::test]
async fn shutdown_closes_open_connections() {
    let cluster = Cluster::start(2, Options::framing(Framing::Stream)).await;
    let (mut a, _b) = cluster.connect(0, 1).await;
    cluster.proxy.shutdown().await;
    let mut byte = [0u8; 1];
    let read = tokio::time::timeout(PATIENCE, a.read(&mut byte)).await;
    assert!(
        matches!(read, Ok(Ok(0)) | Ok(Err(_))),
        "the client sees the connection end"
    );
}
