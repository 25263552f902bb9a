//! The wire convention of traitor's `len32-json` targets: a message is a JSON object with
//! `from`, `type`, protocol fields and `sig`, the hex ed25519 signature over the canonical
//! JSON of the object without `sig` (keys sorted at every depth, no whitespace).

use crate::RunInfo;
use ed25519_dalek::Signer;
use serde_json::{Map, Value};

/// The bytes a signature covers.
pub fn signed_bytes(message: &Map<String, Value>) -> Vec<u8> {
    let mut unsigned = message.clone();
    unsigned.remove("sig");
    // serde_json's map is ordered by key at every depth: this is the canonical form.
    serde_json::to_vec(&Value::Object(unsigned)).unwrap_or_default()
}

/// Signs `message` with the key of `signer`, when `signer` is Byzantine and the message
/// carries a `sig`; says whether it did.
pub fn resign(message: &mut Map<String, Value>, signer: u32, run: &RunInfo) -> bool {
    let Some(key) = run.keys.get(&signer) else {
        return false;
    };
    if !message.contains_key("sig") {
        return false;
    }
    let sig = key.sign(&signed_bytes(message));
    message.insert("sig".into(), Value::String(hex::encode(sig.to_bytes())));
    true
}

/// The payload of a JSON object.
pub fn to_payload(message: &Map<String, Value>) -> Vec<u8> {
    serde_json::to_vec(message).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use ed25519_dalek::{SigningKey, Verifier};
    use serde_json::json;

    #[test]
    fn resigned_messages_verify_and_only_byzantine_keys_sign() {
        let key = SigningKey::from_bytes(&[7; 32]);
        let run = RunInfo {
            n: 4,
            f: 1,
            byzantine: vec![3],
            keys: [(3, key.clone())].into(),
        };
        let Value::Object(mut m) = json!({"type": "prepare", "from": 3, "view": 1, "sig": "00"})
        else {
            unreachable!()
        };
        assert!(resign(&mut m, 3, &run));
        let sig = hex::decode(m["sig"].as_str().unwrap()).unwrap();
        let sig = ed25519_dalek::Signature::from_slice(&sig).unwrap();
        assert!(key.verifying_key().verify(&signed_bytes(&m), &sig).is_ok());
        assert_eq!(signed_bytes(&m), br#"{"from":3,"type":"prepare","view":1}"#);
        assert!(
            !resign(&mut m, 0, &run),
            "a correct node's key is never available"
        );
    }
}
