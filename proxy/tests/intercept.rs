//! The interceptor hook: adversaries replace, drop and add messages on the wire.

mod common;

use common::{json_message, read_len32, send_all, seq_of, Cluster, Options, PATIENCE, QUIET};
use std::sync::Arc;
use traitor_model::wire::{Actions, Envelope, Fate, Injection};
use traitor_proxy::{Framing, Interceptor};

/// Node 0 is the traitor: seq 1 is dropped, seq 2 rewritten to seq 20, and every message
/// to node 1 is also sent, as seq 99, to node 2.
#[derive(Debug)]
struct Traitor;

impl Interceptor for Traitor {
    fn intercept(&self, envelope: &Envelope) -> Actions {
        let mut actions = Actions::default();
        if envelope.from != 0 {
            return actions;
        }
        let seq = seq_of(&envelope.payload);
        match seq {
            1 => {
                actions.decide(Fate::Drop);
            }
            2 => {
                let payload = br#"{"from":0,"type":"prepare","seq":20}"#.to_vec();
                actions.decide(Fate::Replace { payload });
            }
            _ => {}
        }
        if envelope.to == 1 && seq != 99 {
            actions.inject.push(Injection {
                from: 0,
                to: 2,
                payload: br#"{"from":0,"type":"x","seq":99}"#.to_vec(),
            });
        }
        actions
    }
}

#[tokio::test]
async fn an_interceptor_drops_replaces_and_injects() {
    let options = Options {
        interceptor: Some(Arc::new(Traitor)),
        ..Options::framing(Framing::Len32Json)
    };
    let cluster = Cluster::start(3, options).await;
    let (to_two, mut at_two) = cluster.connect(0, 2).await;
    let (mut to_one, mut at_one) = cluster.connect(0, 1).await;
    send_all(
        &mut to_one,
        &[
            json_message("prepare", 1),
            json_message("prepare", 2),
            json_message("prepare", 3),
        ],
    )
    .await;
    // Node 1 sees seq 1 dropped and seq 2 rewritten.
    assert_eq!(
        seq_of(&read_len32(&mut at_one, PATIENCE).await.unwrap()),
        20
    );
    assert_eq!(seq_of(&read_len32(&mut at_one, PATIENCE).await.unwrap()), 3);
    // Node 2 gets one injected message per message sent to node 1, on node 0's link to it.
    for _ in 0..3 {
        assert_eq!(
            seq_of(&read_len32(&mut at_two, PATIENCE).await.unwrap()),
            99
        );
    }
    // A correct node's messages pass untouched.
    let (mut from_one, mut one_to_two) = cluster.connect(1, 2).await;
    send_all(&mut from_one, &[json_message("commit", 1)]).await;
    assert_eq!(
        seq_of(&read_len32(&mut one_to_two, PATIENCE).await.unwrap()),
        1
    );
    assert!(read_len32(&mut at_two, QUIET).await.is_none());
    drop(to_two);
    let stats = cluster.proxy.stats();
    let link = stats.iter().find(|s| s.from == 0 && s.to == 1).unwrap();
    assert_eq!(link.dropped, 1);
}

/// Nodes that dial every peer (pbft, generals) read only the connections they accept. When
/// node 2 dials node 0 after node 0 dialled node 2, the answer direction of node 2's
/// connection is also "0 -> 2": an injected message sent up it would reach node 2's dialling
/// socket, which it never reads. It must go down node 0's own connection.
#[tokio::test]
async fn injections_reach_the_receiver_on_the_connection_it_accepted() {
    let cluster = Cluster::start(3, Options::framing(Framing::Len32Json)).await;
    let links = cluster.proxy.links();
    let (mut zero_dials, mut two_accepts) = cluster.connect(0, 2).await;
    send_all(&mut zero_dials, &[json_message("prepare", 1)]).await;
    assert_eq!(
        seq_of(&read_len32(&mut two_accepts, PATIENCE).await.unwrap()),
        1
    );
    let (mut two_dials, mut zero_accepts) = cluster.connect(2, 0).await;
    send_all(&mut two_dials, &[json_message("prepare", 2)]).await;
    assert_eq!(
        seq_of(&read_len32(&mut zero_accepts, PATIENCE).await.unwrap()),
        2
    );

    assert!(links.inject(0, 2, br#"{"from":0,"type":"tick","seq":42}"#));
    assert_eq!(
        seq_of(&read_len32(&mut two_accepts, PATIENCE).await.unwrap()),
        42,
        "the injected message arrives where node 2 reads node 0's messages"
    );
    assert!(
        read_len32(&mut two_dials, QUIET).await.is_none(),
        "nothing comes back up the connection node 2 dialled"
    );
}

#[tokio::test]
async fn link_control_injects_framed_messages_on_open_links_only() {
    let cluster = Cluster::start(3, Options::framing(Framing::Len32Json)).await;
    let links = cluster.proxy.links();
    assert!(
        !links.inject(0, 2, br#"{"seq":1}"#),
        "no connection is open on 0->2 yet"
    );
    let (mut to_two, mut at_two) = cluster.connect(0, 2).await;
    // One message through proves the pipe carrying 0->2 is up.
    send_all(&mut to_two, &[json_message("prepare", 1)]).await;
    assert_eq!(seq_of(&read_len32(&mut at_two, PATIENCE).await.unwrap()), 1);
    assert!(links.inject(0, 2, br#"{"from":0,"type":"tick","seq":42}"#));
    assert_eq!(
        seq_of(&read_len32(&mut at_two, PATIENCE).await.unwrap()),
        42,
        "the injected payload arrives framed as a whole message"
    );
    assert!(!links.inject(0, 7, b"{}"), "node 7 is not part of the run");
    assert!(!links.inject(1, 2, b"{}"), "no connection is open on 1->2");

    let stream = Cluster::start(2, Options::framing(Framing::Stream)).await;
    let (_to_one, _at_one) = stream.connect(0, 1).await;
    assert!(
        !stream.proxy.links().inject(0, 1, b"x"),
        "a stream has no messages to add"
    );
}
