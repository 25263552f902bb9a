//! Client requests signed by the client authority (`--client-key`): a Byzantine replica
//! cannot get an operation in a correct client's name ordered and executed. Each scenario
//! runs with the key and asserts every property holds and the real request executes with its
//! own operation; it then runs without the key and with `skip-signature-check`, and asserts
//! the forgery breaks validity and linearizability, so the check is what makes the difference.

use pbft_node::bug::Bug;
use pbft_node::crypto::request_digest;
use pbft_node::messages::{encode_frame, Message, NodeId, Request};
use pbft_node::state_machine::OpResult;
use serde_json::json;

use crate::checks::{all_properties, linearizability, validity};
use crate::sim::{Fate, Sim, REQUEST_TIMEOUT_MS};
use crate::{read, write};

/// The operation the Byzantine replica puts in client c0's name.
fn forged_op() -> pbft_node::messages::Op {
    write("k", 666)
}

/// (c0, 1) with the forged operation and the given signature.
fn forged_c0(sig: Option<String>) -> Request {
    Request {
        client: "c0".into(),
        req: 1,
        op: forged_op(),
        sig,
    }
}

/// How each scenario is run.
#[derive(Clone, Copy, Debug)]
enum Setup {
    ClientKey,
    NoClientKey,
    ClientKeySkippingChecks,
}

fn cluster(setup: Setup, seed: u64) -> Sim {
    match setup {
        Setup::ClientKey => Sim::with_client_key(4, seed, None),
        Setup::NoClientKey => Sim::new(4, seed, None),
        Setup::ClientKeySkippingChecks => {
            Sim::with_client_key(4, seed, Some(Bug::SkipSignatureCheck))
        }
    }
}

/// After the forgery: the real client c0 writes 1 at `c0_node`, then c1 reads at `c1_node`.
fn real_clients(sim: &mut Sim, c0_node: NodeId, c1_node: NodeId, settle_ms: u64) {
    sim.submit(c0_node, "c0", 1, write("k", 1));
    sim.run_for(settle_ms);
    sim.submit(c1_node, "c1", 1, read("k"));
    sim.run_for(settle_ms);
}

/// With the key: nothing forged executed, c0's own write did and both clients saw it.
fn assert_forgery_had_no_effect(sim: &Sim, correct: &[NodeId]) {
    all_properties(sim, correct).unwrap_or_else(|e| panic!("{e}\n{}", sim.describe()));
    for node in correct {
        let log = sim.node(*node).log_from(1);
        assert!(
            log.iter().all(|e| e.op != forged_op()),
            "replica {node} executed the forged op\n{}",
            sim.describe()
        );
        let c0 = log
            .iter()
            .find(|e| e.client.as_deref() == Some("c0") && e.req == Some(1))
            .unwrap_or_else(|| panic!("replica {node} never executed (c0, 1)"));
        assert_eq!(c0.op, write("k", 1), "replica {node}");
    }
    let one = OpResult::Ok { value: json!(1) };
    assert_eq!(sim.reply("c0", 1), Some(one.clone()), "{}", sim.describe());
    assert_eq!(sim.reply("c1", 1), Some(one), "{}", sim.describe());
}

/// Without a working check: the forged op executed in c0's name and the checks see it.
fn assert_forgery_broke_the_run(sim: &Sim, correct: &[NodeId], setup: Setup) {
    let err = validity(sim, correct).expect_err(&format!("{setup:?}: validity held"));
    assert!(err.contains("(c0, 1)"), "{setup:?}: {err}");
    let err = linearizability(sim, correct).expect_err(&format!(
        "{setup:?}: linearizability held\n{}",
        sim.describe()
    ));
    assert!(err.contains("key k"), "{setup:?}: {err}");
}

// ----- a Byzantine backup forwards a forged request -----

/// Backup 3 forwards (c0, 1) with a forged op to every replica: once unsigned, once with a
/// genuine authority signature it saw on the wire for another request.
fn backup_forwards_forgery(setup: Setup) -> Sim {
    let mut sim = cluster(setup, 21);
    let stolen = sim
        .signed(Request {
            client: "c9".into(),
            req: 1,
            op: read("k"),
            sig: None,
        })
        .sig;
    for request in [forged_c0(None), forged_c0(stolen)] {
        for to in [0, 1, 2] {
            sim.inject_signed(
                3,
                to,
                Message::Request {
                    request: request.clone(),
                },
            );
        }
    }
    sim.run_for(3 * REQUEST_TIMEOUT_MS);
    real_clients(&mut sim, 1, 2, 3 * REQUEST_TIMEOUT_MS);
    sim
}

#[test]
fn forged_request_forwarded_by_a_backup_is_refused_with_the_client_key() {
    let correct = [0, 1, 2];
    let sim = backup_forwards_forgery(Setup::ClientKey);
    assert_forgery_had_no_effect(&sim, &correct);
    assert_eq!(sim.node(1).view(), 0, "a correct primary stays in place");
    for setup in [Setup::NoClientKey, Setup::ClientKeySkippingChecks] {
        let sim = backup_forwards_forgery(setup);
        assert_forgery_broke_the_run(&sim, &correct, setup);
    }
}

// ----- a Byzantine primary proposes a forged request -----

/// Primary 0 replaces c0's request in its pre-prepares with the forged op, keeping c0's
/// genuine signature, and otherwise follows the protocol.
fn primary_proposes_forgery(setup: Setup) -> Sim {
    let mut sim = cluster(setup, 22);
    let byz = sim.keyring(0);
    sim.set_filter(move |from, _, env| match &env.msg {
        Message::PrePrepare {
            view,
            seq,
            request: Some(r),
            ..
        } if from == 0 && r.client == "c0" => {
            let forged = Some(forged_c0(r.sig.clone()));
            let env = byz.sign(Message::PrePrepare {
                view: *view,
                seq: *seq,
                digest: request_digest(&forged),
                request: forged,
            });
            Fate::Replace(vec![encode_frame(&env)])
        }
        _ => Fate::Deliver,
    });
    real_clients(&mut sim, 1, 2, 10 * REQUEST_TIMEOUT_MS);
    sim
}

#[test]
fn forged_request_proposed_by_the_primary_is_refused_with_the_client_key() {
    let correct = [1, 2, 3];
    let sim = primary_proposes_forgery(Setup::ClientKey);
    assert_forgery_had_no_effect(&sim, &correct);
    for node in correct {
        assert!(
            sim.node(node).view() >= 1,
            "the forging primary is replaced at {node}\n{}",
            sim.describe()
        );
    }
    for setup in [Setup::NoClientKey, Setup::ClientKeySkippingChecks] {
        let sim = primary_proposes_forgery(setup);
        assert_forgery_broke_the_run(&sim, &correct, setup);
    }
}
