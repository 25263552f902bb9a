//! The correct protocol with one Byzantine replica of four keeps agreement, validity and
//! linearizability and makes progress after a view change. The cluster runs with the client
//! key: without it, requests a Byzantine primary makes up in its pre-prepares wait at the
//! backups like client requests, and the next primary orders them (a validity violation).

use pbft_node::crypto::request_digest;
use pbft_node::messages::{encode_frame, Message, NodeId, Request};

use crate::checks::all_properties;
use crate::sim::{Fate, Sim};
use crate::{read, write};

const CORRECT_BACKUPS: [NodeId; 3] = [1, 2, 3];

/// Submits a mixed workload at the given nodes; every call has its own client, so a call
/// never overtakes an unanswered earlier call of the same client.
pub fn workload(sim: &mut Sim, nodes: &[NodeId], rounds: u64) {
    for round in 1..=rounds {
        for (i, node) in nodes.iter().enumerate() {
            let client = format!("c{i}r{round}");
            let key = format!("k{}", round % 2);
            let op = if round % 3 == 0 {
                read(&key)
            } else {
                write(&key, (round * 10 + i as u64) as i64)
            };
            sim.submit(*node, &client, 1, op);
        }
        sim.run_for(150);
    }
}

fn assert_everything_answered(sim: &Sim, at: &[NodeId]) {
    for call in sim.calls.iter().filter(|c| at.contains(&c.node)) {
        assert!(
            call.completed.is_some(),
            "no progress: {:?} at node {} never answered\n{}",
            call.request,
            call.node,
            sim.describe()
        );
    }
}

#[test]
fn equivocating_primary_is_replaced_and_safety_holds() {
    for seed in 0..5 {
        let mut sim = Sim::with_client_key(4, seed, None);
        equivocate(&mut sim);
        workload(&mut sim, &CORRECT_BACKUPS, 6);
        sim.run_for(3000);
        assert_everything_answered(&sim, &CORRECT_BACKUPS);
        for node in CORRECT_BACKUPS {
            assert!(
                sim.node(node).view() >= 1,
                "seed {seed}: no view change at {node}"
            );
        }
        all_properties(&sim, &CORRECT_BACKUPS).unwrap_or_else(|e| panic!("seed {seed}: {e}"));
        let heights: Vec<u64> = CORRECT_BACKUPS
            .iter()
            .map(|n| sim.node(*n).committed())
            .collect();
        assert!(
            heights.iter().all(|h| *h == heights[0] && *h >= 18),
            "seed {seed}: {heights:?}"
        );
    }
}

/// Replica 0 (primary of view 0) sends each backup a different pre-prepare for every
/// sequence number it assigns.
pub fn equivocate(sim: &mut Sim) {
    let byz = sim.keyring(0);
    sim.set_filter(move |from, to, env| {
        if from != 0 {
            return Fate::Deliver;
        }
        match &env.msg {
            Message::PrePrepare {
                view,
                seq,
                request: Some(r),
                ..
            } => {
                let forged = Some(Request {
                    client: format!("{}-for-{to}", r.client),
                    req: r.req,
                    op: write("byzantine-only", 1000 + to as i64),
                    sig: None,
                });
                let env = byz.sign(Message::PrePrepare {
                    view: *view,
                    seq: *seq,
                    digest: request_digest(&forged),
                    request: forged,
                });
                Fate::Replace(vec![encode_frame(&env)])
            }
            _ => Fate::Deliver,
        }
    });
}

/// Garbage a Byzantine replica sends instead of its real messages: raw junk, truncated
/// JSON, a broken signature, an impersonation and a field changed after signing.
fn garbage_for(env: &pbft_node::messages::Envelope) -> Vec<Vec<u8>> {
    let mut bad_sig = env.clone();
    bad_sig.sig = "00".repeat(64);
    let mut impersonated = env.clone();
    impersonated.from = 1;
    let mut mutated = env.clone();
    if let Message::PrePrepare { seq, .. }
    | Message::Prepare { seq, .. }
    | Message::Commit { seq, .. } = &mut mutated.msg
    {
        *seq += 1;
    }
    let json = encode_frame(env);
    vec![
        b"\x00\xffnot json at all".to_vec(),
        json[..json.len() / 2].to_vec(),
        br#"{"from":0,"type":"commit","view":"x"}"#.to_vec(),
        encode_frame(&bad_sig),
        encode_frame(&impersonated),
        encode_frame(&mutated),
    ]
}

#[test]
fn primary_sending_garbage_is_replaced_and_safety_holds() {
    for seed in 0..3 {
        let mut sim = Sim::with_client_key(4, seed, None);
        sim.set_filter(|from, _, env| {
            if from == 0 {
                Fate::Replace(garbage_for(env))
            } else {
                Fate::Deliver
            }
        });
        workload(&mut sim, &CORRECT_BACKUPS, 6);
        sim.run_for(3000);
        assert_everything_answered(&sim, &CORRECT_BACKUPS);
        for node in CORRECT_BACKUPS {
            assert!(
                sim.node(node).view() >= 1,
                "seed {seed}: no view change at {node}"
            );
        }
        all_properties(&sim, &CORRECT_BACKUPS).unwrap_or_else(|e| panic!("seed {seed}: {e}"));
    }
}

#[test]
fn backup_sending_garbage_does_not_stop_progress() {
    let mut sim = Sim::with_client_key(4, 7, None);
    sim.set_filter(|from, _, env| {
        if from == 3 {
            Fate::Replace(garbage_for(env))
        } else {
            Fate::Deliver
        }
    });
    workload(&mut sim, &[0, 1, 2], 8);
    sim.run_for(1000);
    assert_everything_answered(&sim, &[0, 1, 2]);
    all_properties(&sim, &[0, 1, 2]).unwrap();
    assert_eq!(
        sim.node(1).view(),
        0,
        "no view change needed with a correct primary"
    );
}

#[test]
fn checkpoints_truncate_the_log_and_a_restarted_replica_catches_up() {
    let mut sim = Sim::with_client_key(4, 11, None);
    workload(&mut sim, &[0, 1, 2, 3], 10);
    sim.run_for(500);
    assert_everything_answered(&sim, &[0, 1, 2, 3]);
    let node = sim.node(1);
    assert_eq!(node.committed(), 40);
    assert_eq!(node.stable_checkpoint(), 40, "K=4: last checkpoint stable");
    assert_eq!(
        node.protocol_log_len(),
        0,
        "log truncated at the stable checkpoint"
    );
    assert_eq!(node.log_from(1).len(), 40, "full history kept for /log");
    sim.crash(3);
    sim.restart(3);
    sim.submit(0, "late", 1, read("k0"));
    sim.run_for(2000);
    assert_eq!(sim.node(3).committed(), sim.node(0).committed());
    all_properties(&sim, &[0, 1, 2, 3]).unwrap();
    assert!(sim.reply("late", 1).is_some(), "the read was answered");
}
