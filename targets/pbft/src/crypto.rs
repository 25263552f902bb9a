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

/// The bytes a client-authority signature covers: the canonical JSON of
/// `{"client":..,"req":..,"op":..}` (the request without `sig`).
pub fn request_signed_bytes(request: &Request) -> Vec<u8> {
    canonical_json(&serde_json::json!({
        "client": request.client,
        "req": request.req,
        "op": request.op,
    }))
    .into_bytes()
}

/// Returns `request` signed by the client authority whose secret seed is `secret` (the
/// harness, the bench and the tests hold it; replicas never do).
pub fn sign_request(secret: &[u8; 32], mut request: Request) -> Request {
    let sig = SigningKey::from_bytes(secret).sign(&request_signed_bytes(&request));
    request.sig = Some(hex::encode(sig.to_bytes()));
    request
}

/// The client authority's public key (`--client-key`): with it configured, replicas order
/// and execute only requests it signed, so a Byzantine replica cannot act in a client's name.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ClientAuthority(VerifyingKey);

impl ClientAuthority {
    /// Builds the authority from its public key; fails if the key is not a valid curve point.
    pub fn from_bytes(public: &[u8; 32]) -> Result<Self, String> {
        VerifyingKey::from_bytes(public)
            .map(ClientAuthority)
            .map_err(|e| format!("not an ed25519 public key: {e}"))
    }

    /// True if `request.sig` is the authority's signature over the request.
    pub fn signed(&self, request: &Request) -> bool {
        let Some(sig) = request.sig.as_deref() else {
            return false;
        };
        verify_hex(&self.0, &request_signed_bytes(request), sig)
    }
}

/// Whether `sig_hex` is `key`'s signature over `bytes`.
fn verify_hex(key: &VerifyingKey, bytes: &[u8], sig_hex: &str) -> bool {
    let Ok(sig_bytes) = hex::decode(sig_hex) else {
        return false;
    };
    let Ok(sig) = Signature::from_slice(&sig_bytes) else {
        return false;
    };
    key.verify(bytes, &sig).is_ok()
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
    client_authority: Option<ClientAuthority>,
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
            client_authority: None,
            verify_signatures: true,
        })
    }

    /// Requires client requests to carry the authority's signature (`--client-key`).
    pub fn with_client_authority(mut self, authority: ClientAuthority) -> Self {
        self.client_authority = Some(authority);
        self
    }

    /// Turns verification of replica and client signatures off (the `skip-signature-check` bug).
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
        verify_hex(key, &signed_bytes(env.from, &env.msg), &env.sig)
    }

    /// True if a client request may be ordered and executed: signed by the client authority
    /// when one is configured, always otherwise.
    pub fn verify_request(&self, request: &Request) -> bool {
        match &self.client_authority {
            Some(authority) if self.verify_signatures => authority.signed(request),
            _ => true,
        }
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
    fn client_authority_accepts_only_its_signature_over_the_exact_request() {
        let secret = [9u8; 32];
        let public = SigningKey::from_bytes(&secret).verifying_key().to_bytes();
        let authority = ClientAuthority::from_bytes(&public).unwrap();
        let request = Request {
            client: "c0".into(),
            req: 1,
            op: crate::messages::Op::Read { key: "k".into() },
            sig: None,
        };
        assert!(!authority.signed(&request), "unsigned");
        let signed = sign_request(&secret, request.clone());
        assert!(authority.signed(&signed));
        let mut other_op = signed.clone();
        other_op.op = crate::messages::Op::Read { key: "j".into() };
        assert!(
            !authority.signed(&other_op),
            "signature moved to another op"
        );
        let by_someone_else = sign_request(&[8u8; 32], request);
        assert!(!authority.signed(&by_someone_else));
        let checking = ring(0).with_client_authority(authority);
        assert!(checking.verify_request(&signed));
        assert!(!checking.verify_request(&other_op));
        assert!(checking.without_verification().verify_request(&other_op));
        assert!(ring(0).verify_request(&other_op), "no authority configured");
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
