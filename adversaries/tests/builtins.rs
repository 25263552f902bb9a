//! Each built-in adversary on hand-made messages from a Byzantine node (3) and a correct
//! one (0), in a 4-node run.

use ed25519_dalek::{Signature, SigningKey, Verifier};
use rand::rngs::StdRng;
use rand::SeedableRng;
use serde_json::{json, Map, Value};
use traitor_adversaries::canonical::signed_bytes;
use traitor_adversaries::{spec, Chain, RunInfo};
use traitor_model::wire::{Envelope, Fate};

fn key() -> SigningKey {
    SigningKey::from_bytes(&[3; 32])
}

fn run() -> RunInfo {
    RunInfo {
        n: 4,
        f: 1,
        byzantine: vec![3],
        keys: [(3, key())].into(),
    }
}

fn chain(specs: &[&str]) -> Chain {
    let adversaries = specs.iter().map(|s| spec::parse(s).unwrap()).collect();
    Chain::start(adversaries, run(), StdRng::seed_from_u64(1)).unwrap()
}

fn message(from: u32, to: u32, fields: Value) -> Envelope {
    let mut m = fields.as_object().unwrap().clone();
    m.insert("from".into(), json!(from));
    m.insert("sig".into(), json!("00"));
    Envelope {
        from,
        to,
        time: 0,
        payload: serde_json::to_vec(&m).unwrap(),
    }
}

fn verifies(m: &Map<String, Value>) -> bool {
    let sig = hex::decode(m["sig"].as_str().unwrap()).unwrap();
    Signature::from_slice(&sig)
        .is_ok_and(|s| key().verifying_key().verify(&signed_bytes(m), &s).is_ok())
}

fn replaced(fate: &Option<Fate>) -> Map<String, Value> {
    match fate {
        Some(Fate::Replace { payload }) => serde_json::from_slice(payload).unwrap(),
        other => panic!("expected a replacement, got {other:?}"),
    }
}

#[test]
fn corrupt_changes_byzantine_messages_only() {
    let mut c = chain(&["corrupt:p=1"]);
    let original = message(
        3,
        1,
        json!({"type": "prepare", "view": 1, "digest": "ab12"}),
    );
    let out = c.on_message(&original);
    assert_ne!(replaced(&out.fate), original.json().unwrap());
    assert_eq!(out.notes.len(), 1);
    assert!(c
        .on_message(&message(0, 1, json!({"type": "prepare", "view": 1})))
        .fate
        .is_none());
}

#[test]
fn mutate_moves_a_field_and_resigns() {
    let mut c = chain(&["mutate:p=1,rounds=20"]);
    let mut mutated = 0;
    for view in 0..20 {
        let out = c.on_message(&message(
            3,
            1,
            json!({"type": "prepare", "view": view, "seq": 5}),
        ));
        if out.fate.is_some() {
            let after = replaced(&out.fate);
            assert!(verifies(&after), "mutations are validly signed: {after:?}");
            mutated += 1;
        }
    }
    assert!(mutated > 0);
}

#[test]
fn replay_resends_earlier_messages() {
    let mut c = chain(&["replay:p=1"]);
    let first = message(0, 3, json!({"type": "commit", "seq": 1}));
    assert!(c.on_message(&first).inject.is_empty());
    let out = c.on_message(&message(3, 1, json!({"type": "commit", "seq": 2})));
    assert_eq!(out.inject.len(), 1);
    assert_eq!(out.inject[0].payload, first.payload);
    assert_ne!(out.inject[0].to, 3);
}

#[test]
fn replay_as_own_resigns_as_the_traitor() {
    let mut c = chain(&["replay:p=1,as_own=true"]);
    c.on_message(&message(0, 3, json!({"type": "pre-prepare", "seq": 1})));
    let out = c.on_message(&message(3, 1, json!({"type": "commit", "seq": 2})));
    let passed_off: Map<String, Value> = serde_json::from_slice(&out.inject[0].payload).unwrap();
    assert_eq!(passed_off["from"], json!(3));
    assert!(verifies(&passed_off));
}

#[test]
fn impersonation_claims_a_correct_sender_without_its_key() {
    let mut c = chain(&["impersonate:p=1"]);
    let out = c.on_message(&message(3, 1, json!({"type": "prepare", "view": 1})));
    let forged: Map<String, Value> = serde_json::from_slice(&out.inject[0].payload).unwrap();
    assert_ne!(forged["from"], json!(3));
    assert!(run()
        .correct()
        .contains(&(forged["from"].as_u64().unwrap() as u32)));
}

#[test]
fn omit_skips_one_peer_and_chosen_types() {
    let mut c = chain(&["omit:peers=1,types=commit"]);
    let dropped: Vec<u32> = (0..3)
        .filter(|&to| {
            c.on_message(&message(3, to, json!({"type": "prepare"})))
                .fate
                == Some(Fate::Drop)
        })
        .collect();
    assert_eq!(dropped.len(), 1);
    let other = (0..3).find(|t| !dropped.contains(t)).unwrap();
    assert_eq!(
        c.on_message(&message(3, other, json!({"type": "commit"})))
            .fate,
        Some(Fate::Drop)
    );
    assert!(c
        .on_message(&message(0, 1, json!({"type": "commit"})))
        .fate
        .is_none());
}

#[test]
fn equivocation_tells_half_the_peers_another_signed_story() {
    let mut c = chain(&["equivocate-sign"]);
    // An earlier proposal (from a correct node) gives a consistent alternative.
    c.on_message(&message(
        0,
        1,
        json!({"type": "pre-prepare", "seq": 0, "digest": "bbbb", "request": {"op": 1}}),
    ));
    let mut told = Vec::new();
    for to in 0..3 {
        let out = c.on_message(&message(
            3,
            to,
            json!({"type": "pre-prepare", "seq": 1, "digest": "aaaa"}),
        ));
        if out.fate.is_some() {
            let after = replaced(&out.fate);
            assert!(verifies(&after));
            told.push(after["digest"].clone());
        }
    }
    assert_eq!(
        told.len(),
        1,
        "one of three peers (half, rounded down) hears another digest"
    );
    assert_ne!(told[0], json!("aaaa"));
}

#[test]
fn in_a_chain_the_first_fate_wins() {
    let mut c = chain(&["omit:peers=3", "corrupt:p=1"]);
    let out = c.on_message(&message(3, 1, json!({"type": "prepare"})));
    assert_eq!(out.fate, Some(Fate::Drop));
    assert_eq!(
        out.notes.len(),
        1,
        "corrupt saw the fate decided and did nothing"
    );
}
