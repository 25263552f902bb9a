//! Signing and verification of envelopes, and digests of requests and state.
//!
//! The signed bytes are the canonical JSON of the envelope without `sig`: objects with their
//! keys sorted bytewise, no whitespace, serde_json's number and string formatting. The same
//! function is used to sign and to verify, so a re-serialised message verifies exactly when
//! none of its fields changed.

use ed25519_dalek::{Signature, Signer, SigningKey, Verifier, VerifyingKey};
use serde_json::Value;
use sha2::{Digest as _, Sha256};

use crate::messages::{Digest, Envelope, Message, NodeId, Request};

/// Writes `value` as canonical JSON (sorted keys) into `out`.
fn write_canonical(value: &Value, out: &mut String) {
    match value {
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            out.push('{');
            for (i, key) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&Value::String(key.clone()).to_string());
                out.push(':');
                write_canonical(&map[key], out);
            }
            out.push('}');
        }
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_canonical(item, out);
            }
            out.push(']');
        }
        scalar => out.push_str(&scalar.to_string()),
    }
}

/// Canonical JSON text of any serialisable value.
pub fn canonical_json<T: serde::Serialize>(value: &T) -> String {
    let value = serde_json::to_value(value).expect("protocol types always serialise");
    let mut out = String::new();
    write_canonical(&value, &mut out);
    out
}

/// The bytes an envelope's signature covers: `{"from":..,"type":..,...}` without `sig`.
pub fn signed_bytes(from: NodeId, msg: &Message) -> Vec<u8> {
    let mut value = serde_json::to_value(msg).expect("messages always serialise");
    if let Value::Object(map) = &mut value {
        map.insert("from".into(), Value::from(from));
    }
    let mut out = String::new();
    write_canonical(&value, &mut out);
    out.into_bytes()
}

/// Hex SHA-256 of arbitrary bytes.
pub fn sha256_hex(bytes: &[u8]) -> Digest {
    hex::encode(Sha256::digest(bytes))
}

/// Digest of a request as carried in pre-prepares (`null` for the null request).
pub fn request_digest(request: &Option<Request>) -> Digest {
    sha256_hex(canonical_json(request).as_bytes())
}

/// Parses a 64-hex-character key into 32 bytes.
pub fn parse_key_hex(text: &str) -> Result<[u8; 32], String> {
    let bytes = hex::decode(text.trim()).map_err(|e| format!("not hex: {e}"))?;
    bytes
        .try_into()
        .map_err(|b: Vec<u8>| format!("expected 32 bytes (64 hex chars), got {}", b.len()))
}

/// Public key (hex) of a secret key seed.
pub fn public_key_hex(secret: &[u8; 32]) -> String {
    hex::encode(SigningKey::from_bytes(secret).verifying_key().to_bytes())
}

/// This replica's signing key and every replica's public key.
#[derive(Clone)]
pub struct Keyring {
    id: NodeId,
    signing: SigningKey,
    public: Vec<VerifyingKey>,
    verify_signatures: bool,
}

impl Keyring {
    /// Builds a keyring; fails if a public key is not a valid curve point.
    pub fn new(id: NodeId, secret: &[u8; 32], public: &[[u8; 32]]) -> Result<Self, String> {
        let public = public
            .iter()
            .enumerate()
            .map(|(i, bytes)| {
                VerifyingKey::from_bytes(bytes).map_err(|e| format!("public key {i}: {e}"))
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Keyring {
            id,
            signing: SigningKey::from_bytes(secret),
            public,
            verify_signatures: true,
        })
    }

    /// Turns verification off (the `skip-signature-check` bug).
    pub fn without_verification(mut self) -> Self {
        self.verify_signatures = false;
        self
    }

    /// Whether this keyring's own public key matches the one listed for its id.
    pub fn owns_listed_key(&self) -> bool {
        self.public.get(self.id as usize) == Some(&self.signing.verifying_key())
    }

    /// Signs a message as this replica.
    pub fn sign(&self, msg: Message) -> Envelope {
        let sig = self.signing.sign(&signed_bytes(self.id, &msg));
        Envelope {
            from: self.id,
            msg,
            sig: hex::encode(sig.to_bytes()),
        }
    }

    /// True if `env.sig` is `env.from`'s signature over the envelope.
    pub fn verify(&self, env: &Envelope) -> bool {
        if !self.verify_signatures {
            return true;
        }
        let Some(key) = self.public.get(env.from as usize) else {
            return false;
        };
        let Ok(sig_bytes) = hex::decode(&env.sig) else {
            return false;
        };
        let Ok(sig) = Signature::from_slice(&sig_bytes) else {
            return false;
        };
        key.verify(&signed_bytes(env.from, &env.msg), &sig).is_ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::messages::{decode_frame, encode_frame};

    fn ring(id: NodeId) -> Keyring {
        let secrets = [[1u8; 32], [2u8; 32]];
        let public: Vec<[u8; 32]> = secrets
            .iter()
            .map(|s| SigningKey::from_bytes(s).verifying_key().to_bytes())
            .collect();
        Keyring::new(id, &secrets[id as usize], &public).unwrap()
    }

    #[test]
    fn signature_survives_the_wire_and_breaks_on_mutation() {
        let env = ring(0).sign(Message::Prepare {
            view: 1,
            seq: 2,
            digest: "ab".into(),
        });
        let back = decode_frame(&encode_frame(&env)).unwrap();
        assert!(ring(1).verify(&back));
        let mut moved = back.clone();
        if let Message::Prepare { seq, .. } = &mut moved.msg {
            *seq = 3;
        }
        assert!(!ring(1).verify(&moved));
        let mut impersonated = back;
        impersonated.from = 1;
        assert!(!ring(0).verify(&impersonated));
    }

    #[test]
    fn canonical_json_sorts_keys_at_every_depth() {
        let v: Value =
            serde_json::from_str(r#"{"b":1,"a":{"d":[1,{"z":1,"y":2}],"c":null}}"#).unwrap();
        assert_eq!(
            canonical_json(&v),
            r#"{"a":{"c":null,"d":[1,{"y":2,"z":1}]},"b":1}"#
        );
    }
}
