//! Driving a pbft example plugin message by message, as the proxy drives it (no cluster):
//! every node's key, validly signed pbft messages, and reading the plugin's answers.

#![allow(dead_code)] // each test binary uses part of this module

use ed25519_dalek::{Signature, Signer, SigningKey, Verifier};
use rand::rngs::StdRng;
use rand::SeedableRng;
use serde_json::{json, Map, Value};
use std::path::PathBuf;
use std::time::Duration;
use traitor_adversaries::canonical::signed_bytes;
use traitor_adversaries::plugin::Plugin;
use traitor_adversaries::{Chain, RunInfo};
use traitor_model::wire::{Actions, Envelope, Fate};

/// Every node's key; a plugin gets the traitor's only.
pub fn key(node: u32) -> SigningKey {
    SigningKey::from_bytes(&[node as u8 + 1; 32])
}

/// `examples/plugins/python/<file>` started for a 4-node run with `traitor` Byzantine.
pub fn plugin(file: &str, traitor: u32) -> Chain {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../examples/plugins/python")
        .join(file);
    let run = RunInfo {
        n: 4,
        f: 1,
        byzantine: vec![traitor],
        keys: [(traitor, key(traitor))].into(),
    };
    // Generous: a loaded machine starts Python slowly, and the plugins sign in pure Python.
    let plugin = Plugin::new(path, Duration::from_secs(10));
    Chain::start(vec![Box::new(plugin)], run, StdRng::seed_from_u64(1)).unwrap()
}

/// A pbft message from `from`, signed with its key.
pub fn signed(from: u32, fields: Value) -> Value {
    let Value::Object(mut m) = fields else {
        unreachable!()
    };
    m.insert("from".into(), json!(from));
    m.insert("sig".into(), json!(""));
    let sig = key(from).sign(&signed_bytes(&m));
    m.insert("sig".into(), json!(hex::encode(sig.to_bytes())));
    Value::Object(m)
}

/// A client request (its client signature is not checked here).
pub fn request(req: u64) -> Value {
    json!({"client": "c1", "req": req, "op": {"f": "write", "key": "k", "value": req}, "sig": "00"})
}

/// The primary of `view`'s pre-prepare.
pub fn pre_prepare(view: u64, seq: u64, digest: &str, request: Value) -> Value {
    signed(
        view as u32 % 4,
        json!({
            "type": "pre-prepare", "view": view, "seq": seq, "digest": digest,
            "request": request,
        }),
    )
}

/// A prepare or commit in view 0.
pub fn vote(from: u32, kind: &str, seq: u64, digest: &str) -> Value {
    signed(
        from,
        json!({"type": kind, "view": 0, "seq": seq, "digest": digest}),
    )
}

/// A prepared certificate for (view 0, `seq`): the pre-prepare and two backups' prepares.
pub fn cert(seq: u64, digest: &str, req: u64, backups: [u32; 2]) -> Value {
    json!({
        "pre_prepare": pre_prepare(0, seq, digest, request(req)),
        "prepares": backups.map(|b| vote(b, "prepare", seq, digest)),
    })
}

/// Shows the plugin one message on the link `from` -> `to`.
pub fn send(chain: &mut Chain, from: u32, to: u32, message: &Value) -> Actions {
    let actions = chain.on_message(&Envelope {
        from,
        to,
        time: 1_000,
        payload: message.to_string().into_bytes(),
    });
    assert_eq!(actions.fatal, None);
    actions
}

/// The plugin's own note (not the harness's note of an action).
pub fn note(actions: &Actions) -> Value {
    actions
        .notes
        .iter()
        .find(|n| n["action"] == "note")
        .map(|n| n["detail"].clone())
        .unwrap_or(Value::Null)
}

/// The replacement payload, checked to come from and be signed by `traitor`.
pub fn replacement(actions: &Actions, traitor: u32) -> Map<String, Value> {
    let Some(Fate::Replace { payload }) = &actions.fate else {
        panic!("a replace: {actions:?}")
    };
    let Value::Object(m) = serde_json::from_slice::<Value>(payload).unwrap() else {
        panic!("a JSON object")
    };
    assert_eq!(m["from"], json!(traitor));
    assert_valid(&m, traitor);
    m
}

/// Panics unless `m` carries `signer`'s valid signature.
pub fn assert_valid(m: &Map<String, Value>, signer: u32) {
    let sig = hex::decode(m["sig"].as_str().unwrap()).unwrap();
    let sig = Signature::from_slice(&sig).unwrap();
    assert!(
        key(signer)
            .verifying_key()
            .verify(&signed_bytes(m), &sig)
            .is_ok(),
        "signed by node {signer}: {m:?}"
    );
}
