//! One scripted scenario per known-bug variant. Each test runs the scenario with the bug and
//! asserts the named property breaks, then runs the same scenario on the correct code and
//! asserts the property holds.

use std::cell::Cell;
use std::rc::Rc;

use pbft_node::bug::Bug;
use pbft_node::crypto::request_digest;
use pbft_node::messages::{encode_frame, Envelope, Message, NodeId, Request};

use crate::checks::{agreement, all_properties, at_most_once, linearizability};
use crate::sim::{Fate, Sim, REQUEST_TIMEOUT_MS};
use crate::{read, write};

/// Catch-up traffic, which some scenarios lose so that a stuck replica stays stuck until the
/// view change.
fn is_catch_up(env: &Envelope) -> bool {
    matches!(env.msg, Message::Fetch { .. } | Message::Entries { .. })
}

fn is_kind(env: &Envelope, kind: &str) -> bool {
    let name = match env.msg {
        Message::PrePrepare { .. } => "pre-prepare",
        Message::Prepare { .. } => "prepare",
        Message::Commit { .. } => "commit",
        Message::Request { .. } => "request",
        _ => "other",
    };
    name == kind
}

/// A request the client never sent, used by Byzantine replicas.
fn forged_request() -> Option<Request> {
    Some(Request {
        client: "forged".into(),
        req: 1,
        op: write("a", 666),
        sig: None,
    })
}

fn expect_violation(result: Result<(), String>, property: &str) {
    match result {
        Err(e) => assert!(
            e.contains(property),
            "expected a {property} violation, got: {e}"
        ),
        Ok(()) => panic!("expected a {property} violation, but the property held"),
    }
}

// ----- viewchange-drops-prepared: crash faults only -----

/// Commits of seq 1 reach replicas 0 and 1 only; replica 1 executes and acknowledges the
/// write; the primary crashes; the new view must carry the prepared write over.
fn crash_primary_after_partial_commit(bug: Option<Bug>) -> Sim {
    let mut sim = Sim::new(4, 1, bug);
    let dropping = Rc::new(Cell::new(true));
    let flag = dropping.clone();
    sim.set_filter(move |_, to, env| {
        if flag.get() && is_kind(env, "commit") && (to == 2 || to == 3) {
            Fate::Drop
        } else {
            Fate::Deliver
        }
    });
    sim.submit(1, "c1", 1, write("a", 1));
    sim.run_for(50);
    assert!(
        sim.reply("c1", 1).is_some(),
        "write acknowledged at replica 1"
    );
    sim.crash(0);
    dropping.set(false);
    sim.submit(2, "c2", 1, write("b", 2));
    sim.run_for(4 * REQUEST_TIMEOUT_MS);
    sim.submit(2, "c3", 1, read("a"));
    sim.run_for(30 * REQUEST_TIMEOUT_MS);
    assert!(sim.node(2).view() >= 1, "the view changed");
    sim
}

#[test]
fn viewchange_drops_prepared_loses_an_acknowledged_write_after_a_primary_crash() {
    let sim = crash_primary_after_partial_commit(Some(Bug::ViewchangeDropsPrepared));
    expect_violation(agreement(&sim, &[1, 2, 3]), "different requests at seq 1");
    expect_violation(
        linearizability(&sim, &[1, 2, 3]),
        "linearizability violated on key a",
    );

    let sim = crash_primary_after_partial_commit(None);
    all_properties(&sim, &[1, 2, 3]).unwrap();
    assert_eq!(
        sim.reply("c3", 1),
        Some(pbft_node::state_machine::OpResult::Ok {
            value: serde_json::json!(1)
        })
    );
}

// ----- commit-quorum-f1: drops, an amnesiac restart and a partition -----

/// Prepares to replicas 2 and 3 and everything from 3 are lost, so only 0 and 1 prepare;
/// then 0 crashes and restarts empty while 1 is cut off, and the others form a new view.
fn commit_with_two_prepared(bug: Option<Bug>) -> Sim {
    let mut sim = Sim::new(4, 2, bug);
    let phase = Rc::new(Cell::new(1));
    let p = phase.clone();
    sim.set_filter(move |from, to, env| match p.get() {
        1 if from == 3 || (is_kind(env, "prepare") && (to == 2 || to == 3)) => Fate::Drop,
        2 if from == 1 || to == 1 => Fate::Drop,
        _ => Fate::Deliver,
    });
    sim.submit(1, "z-first", 1, write("a", 1));
    sim.run_for(50);
    phase.set(2);
    sim.crash(0);
    sim.restart(0);
    sim.submit(2, "b-second", 1, write("b", 2));
    sim.run_for(20 * REQUEST_TIMEOUT_MS);
    sim
}

#[test]
fn commit_quorum_f1_lets_replicas_commit_different_requests() {
    let sim = commit_with_two_prepared(Some(Bug::CommitQuorumF1));
    assert!(
        sim.reply("z-first", 1).is_some(),
        "replica 1 acknowledged on f+1 commits"
    );
    expect_violation(agreement(&sim, &[1, 2, 3]), "different requests at seq 1");

    let mut sim = commit_with_two_prepared(None);
    assert!(
        sim.reply("z-first", 1).is_none(),
        "no commit on two commit messages"
    );
    agreement(&sim, &[1, 2, 3]).unwrap();
    sim.heal();
    sim.run_for(10 * REQUEST_TIMEOUT_MS);
    all_properties(&sim, &[1, 2, 3]).unwrap();
    assert_eq!(
        sim.node(1).committed(),
        sim.node(2).committed(),
        "replica 1 caught up"
    );
}

// ----- prepare-ignores-digest: an equivocating primary -----

fn equivocate_then_go_silent(bug: Option<Bug>) -> Sim {
    let mut sim = Sim::new(4, 3, bug);
    let byz = sim.keyring(0);
    let silent = Rc::new(Cell::new(false));
    let s = silent.clone();
    sim.set_filter(move |from, to, env| {
        if is_catch_up(env) && (from == 3 || to == 3) {
            return Fate::Drop;
        }
        if from != 0 {
            return Fate::Deliver;
        }
        if s.get() {
            return Fate::Drop;
        }
        match &env.msg {
            Message::PrePrepare { view, seq, .. } if to == 3 => {
                let forged = byz.sign(Message::PrePrepare {
                    view: *view,
                    seq: *seq,
                    digest: request_digest(&forged_request()),
                    request: forged_request(),
                });
                Fate::Replace(vec![encode_frame(&forged)])
            }
            _ => Fate::Deliver,
        }
    });
    sim.submit(1, "c1", 1, write("a", 1));
    sim.run_for(50);
    silent.set(true);
    sim.submit(1, "c2", 1, write("b", 1));
    sim.run_for(6 * REQUEST_TIMEOUT_MS);
    sim
}

#[test]
fn prepare_ignores_digest_lets_an_equivocation_split_replicas() {
    let sim = equivocate_then_go_silent(Some(Bug::PrepareIgnoresDigest));
    expect_violation(agreement(&sim, &[1, 2, 3]), "different requests at seq 1");

    let sim = equivocate_then_go_silent(None);
    agreement(&sim, &[1, 2, 3]).unwrap();
    assert!(
        sim.node(3).committed() >= 1 && sim.node(1).view() >= 1,
        "progress after view change"
    );
}

// ----- accept-non-primary-preprepare: a Byzantine backup proposes -----

fn backup_proposes(bug: Option<Bug>) -> Sim {
    let mut sim = Sim::new(4, 4, bug);
    let byz = sim.keyring(3);
    let b_digest = request_digest(&forged_request());
    // Replica 3 pre-prepares a request of its own at seq 1 to replica 2, and backs it there.
    sim.inject_signed(
        3,
        2,
        Message::PrePrepare {
            view: 0,
            seq: 1,
            digest: b_digest.clone(),
            request: forged_request(),
        },
    );
    sim.set_filter(move |from, to, env| {
        if is_catch_up(env) && (from == 2 || to == 2) {
            return Fate::Drop;
        }
        if from != 3 || to != 2 {
            return Fate::Deliver;
        }
        let msg = match &env.msg {
            Message::Prepare { view, seq: 1, .. } => Message::Prepare {
                view: *view,
                seq: 1,
                digest: b_digest.clone(),
            },
            Message::Commit { view, seq: 1, .. } => Message::Commit {
                view: *view,
                seq: 1,
                digest: b_digest.clone(),
            },
            _ => return Fate::Deliver,
        };
        Fate::Replace(vec![encode_frame(&byz.sign(msg))])
    });
    sim.submit(1, "c1", 1, write("a", 1));
    sim.run_for(REQUEST_TIMEOUT_MS + 20);
    // Replica 3 also votes for a view change, so with a stuck replica 2 the others join.
    sim.inject_signed(
        3,
        1,
        Message::ViewChange {
            new_view: 1,
            stable_seq: 0,
            stable_proof: vec![],
            prepared: vec![],
        },
    );
    sim.inject_signed(
        3,
        0,
        Message::ViewChange {
            new_view: 1,
            stable_seq: 0,
            stable_proof: vec![],
            prepared: vec![],
        },
    );
    sim.run_for(4 * REQUEST_TIMEOUT_MS);
    sim
}

#[test]
fn accepting_a_non_primary_preprepare_splits_replicas() {
    let sim = backup_proposes(Some(Bug::AcceptNonPrimaryPreprepare));
    expect_violation(agreement(&sim, &[0, 1, 2]), "different requests at seq 1");

    let sim = backup_proposes(None);
    all_properties(&sim, &[0, 1, 2]).unwrap();
    assert!(sim.node(2).committed() >= 1);
}

// ----- skip-signature-check: a Byzantine replica impersonates others -----

fn impersonation(bug: Option<Bug>) -> Sim {
    let mut sim = Sim::new(4, 5, bug);
    let byz = sim.keyring(3);
    let digest = request_digest(&forged_request());
    let forge = |from: NodeId, msg: Message| {
        let mut env = byz.sign(msg);
        env.from = from;
        encode_frame(&env)
    };
    let frames = vec![
        forge(
            0,
            Message::PrePrepare {
                view: 0,
                seq: 1,
                digest: digest.clone(),
                request: forged_request(),
            },
        ),
        forge(
            1,
            Message::Prepare {
                view: 0,
                seq: 1,
                digest: digest.clone(),
            },
        ),
        encode_frame(&byz.sign(Message::Prepare {
            view: 0,
            seq: 1,
            digest: digest.clone(),
        })),
        forge(
            0,
            Message::Commit {
                view: 0,
                seq: 1,
                digest: digest.clone(),
            },
        ),
        forge(
            1,
            Message::Commit {
                view: 0,
                seq: 1,
                digest: digest.clone(),
            },
        ),
        encode_frame(&byz.sign(Message::Commit {
            view: 0,
            seq: 1,
            digest,
        })),
    ];
    for frame in frames {
        sim.inject(2, frame);
    }
    sim.submit(1, "c1", 1, write("a", 1));
    sim.run_for(200);
    sim
}

#[test]
fn skipping_signature_checks_lets_a_replica_impersonate_others() {
    let sim = impersonation(Some(Bug::SkipSignatureCheck));
    expect_violation(agreement(&sim, &[0, 1, 2]), "different requests at seq 1");

    let sim = impersonation(None);
    all_properties(&sim, &[0, 1, 2]).unwrap();
    assert_eq!(sim.node(2).committed(), 1);
}

// ----- retry-executes-twice: the network replays a forwarded request -----

fn replayed_request(bug: Option<Bug>) -> Sim {
    let mut sim = Sim::new(4, 6, bug);
    let captured: Rc<Cell<Option<Vec<u8>>>> = Rc::new(Cell::new(None));
    let c = captured.clone();
    sim.set_filter(move |from, to, env| {
        if from == 1 && to == 0 && is_kind(env, "request") {
            c.set(Some(encode_frame(env)));
        }
        Fate::Deliver
    });
    sim.submit(1, "c1", 1, write("x", 1));
    sim.run_for(100);
    sim.submit(2, "c2", 1, write("x", 2));
    sim.run_for(100);
    let replay = captured.take().expect("replica 1 forwarded the request");
    sim.inject(0, replay);
    sim.run_for(100);
    sim.submit(3, "c3", 1, read("x"));
    sim.run_for(100);
    sim
}

#[test]
fn retry_executes_twice_breaks_at_most_once_and_linearizability() {
    let sim = replayed_request(Some(Bug::RetryExecutesTwice));
    expect_violation(at_most_once(&sim, &[0, 1, 2, 3]), "executed (c1, 1) twice");
    expect_violation(
        linearizability(&sim, &[0, 1, 2, 3]),
        "linearizability violated on key x",
    );

    let sim = replayed_request(None);
    all_properties(&sim, &[0, 1, 2, 3]).unwrap();
}

// ----- local-reads: a lagging replica answers from stale state -----

fn read_at_lagging_replica(bug: Option<Bug>) -> Sim {
    let mut sim = Sim::new(4, 7, bug);
    sim.set_filter(|_, to, _| if to == 3 { Fate::Drop } else { Fate::Deliver });
    sim.submit(0, "c1", 1, write("x", 1));
    sim.run_for(100);
    assert!(sim.reply("c1", 1).is_some());
    sim.submit(3, "c2", 1, read("x"));
    sim.run_for(100);
    sim.heal();
    sim.run_for(2 * REQUEST_TIMEOUT_MS);
    sim
}

#[test]
fn local_reads_return_stale_values_without_breaking_agreement() {
    let sim = read_at_lagging_replica(Some(Bug::LocalReads));
    expect_violation(
        linearizability(&sim, &[0, 1, 2, 3]),
        "linearizability violated on key x",
    );
    agreement(&sim, &[0, 1, 2, 3]).unwrap();

    let sim = read_at_lagging_replica(None);
    all_properties(&sim, &[0, 1, 2, 3]).unwrap();
    assert_eq!(
        sim.reply("c2", 1),
        Some(pbft_node::state_machine::OpResult::Ok {
            value: serde_json::json!(1)
        }),
        "the ordered read waits for the lagging replica to catch up"
    );
}
