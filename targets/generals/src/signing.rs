//! Ed25519 keys of the generals: the hop signature of every frame and the SM(m) chains.
//!
//! Hop signatures cover the wire's canonical JSON (sorted keys, no whitespace), as every
//! traitor `len32-json` target does. SM chain links cover the serde_json serialisation of
//! fixed structs (declaration order): only generals ever produce or check those.

use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};
use serde::Serialize;

use crate::messages::{Body, Frame, GeneralId, InstanceId, Link, Origin, Plan};

/// This general's secret key and everyone's public keys, in id order.
pub struct Keyring {
    id: GeneralId,
    secret: SigningKey,
    public: Vec<VerifyingKey>,
}

/// Why a key list could not be used.
#[derive(Debug, PartialEq, Eq)]
pub enum KeyError {
    /// The public key at this index is not a valid ed25519 point.
    BadPublicKey(usize),
    /// The secret key does not match the public key listed for this general.
    SecretDoesNotMatch,
    /// There is no public key for this general's id.
    MissingOwnKey,
}

impl std::fmt::Display for KeyError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            KeyError::BadPublicKey(i) => write!(f, "public key {i} is not a valid ed25519 key"),
            KeyError::SecretDoesNotMatch => {
                write!(f, "the secret key does not match this node's public key")
            }
            KeyError::MissingOwnKey => write!(f, "no public key is listed for this node's id"),
        }
    }
}

/// The bytes the hop signature covers: the frame without `sig`.
#[derive(Serialize)]
struct UnsignedFrame<'a> {
    from: GeneralId,
    #[serde(flatten)]
    body: &'a Body,
}

/// The bytes the hop signature covers: the wire's canonical JSON of the frame without
/// `sig` (keys sorted at every depth, no whitespace), the convention every traitor
/// `len32-json` target shares, so that an adversary holding a Byzantine general's key can
/// sign frames the way the general would.
fn hop_bytes(from: GeneralId, body: &Body) -> Vec<u8> {
    let value =
        serde_json::to_value(UnsignedFrame { from, body }).expect("a frame always serialises");
    // serde_json's map is ordered by key (no preserve_order feature), so this is canonical.
    serde_json::to_vec(&value).expect("a JSON value always serialises")
}

/// The bytes a chain link covers: the order and every earlier link.
#[derive(Serialize)]
struct ChainPrefix<'a> {
    instance: InstanceId,
    value: Plan,
    origin: Option<&'a Origin>,
    chain: &'a [Link],
}

fn chain_bytes(
    instance: InstanceId,
    value: Plan,
    origin: Option<&Origin>,
    prefix: &[Link],
) -> Vec<u8> {
    serde_json::to_vec(&ChainPrefix {
        instance,
        value,
        origin,
        chain: prefix,
    })
    .expect("a chain prefix always serialises")
}

fn parse_signature(hex_sig: &str) -> Option<Signature> {
    let bytes: [u8; 64] = hex::decode(hex_sig).ok()?.try_into().ok()?;
    Some(Signature::from_bytes(&bytes))
}

impl Keyring {
    /// Builds the keyring of general `id` from its 32-byte secret seed and all public keys.
    pub fn new(id: GeneralId, secret: [u8; 32], public: &[[u8; 32]]) -> Result<Keyring, KeyError> {
        let secret = SigningKey::from_bytes(&secret);
        let public = public
            .iter()
            .enumerate()
            .map(|(i, key)| VerifyingKey::from_bytes(key).map_err(|_| KeyError::BadPublicKey(i)))
            .collect::<Result<Vec<_>, _>>()?;
        match public.get(id as usize) {
            None => Err(KeyError::MissingOwnKey),
            Some(own) if *own != secret.verifying_key() => Err(KeyError::SecretDoesNotMatch),
            Some(_) => Ok(Keyring { id, secret, public }),
        }
    }

    /// The general these keys belong to.
    pub fn id(&self) -> GeneralId {
        self.id
    }

    fn verify(&self, signer: GeneralId, bytes: &[u8], hex_sig: &str) -> bool {
        let (Some(key), Some(sig)) = (self.public.get(signer as usize), parse_signature(hex_sig))
        else {
            return false;
        };
        key.verify_strict(bytes, &sig).is_ok()
    }

    /// Signs `body` as this general's frame.
    pub fn seal(&self, body: Body) -> Frame {
        let bytes = hop_bytes(self.id, &body);
        Frame {
            from: self.id,
            sig: hex::encode(self.secret.sign(&bytes).to_bytes()),
            body,
        }
    }

    /// Whether `frame.sig` is `frame.from`'s signature over the frame.
    pub fn frame_is_authentic(&self, frame: &Frame) -> bool {
        let bytes = hop_bytes(frame.from, &frame.body);
        self.verify(frame.from, &bytes, &frame.sig)
    }

    /// `chain` followed by this general's link over the order and `chain`.
    pub fn extend_chain(
        &self,
        instance: InstanceId,
        value: Plan,
        origin: Option<&Origin>,
        chain: &[Link],
    ) -> Vec<Link> {
        let sig = self
            .secret
            .sign(&chain_bytes(instance, value, origin, chain));
        let mut extended = chain.to_vec();
        extended.push(Link {
            signer: self.id,
            sig: hex::encode(sig.to_bytes()),
        });
        extended
    }

    /// Whether every link of `chain` is its signer's signature over the order and the links before it.
    pub fn chain_is_authentic(
        &self,
        instance: InstanceId,
        value: Plan,
        origin: Option<&Origin>,
        chain: &[Link],
    ) -> bool {
        chain.iter().enumerate().all(|(i, link)| {
            self.verify(
                link.signer,
                &chain_bytes(instance, value, origin, &chain[..i]),
                &link.sig,
            )
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ring(id: GeneralId) -> Keyring {
        let secrets: Vec<[u8; 32]> = (0..3u8).map(|i| [i + 1; 32]).collect();
        let public: Vec<[u8; 32]> = secrets
            .iter()
            .map(|s| SigningKey::from_bytes(s).verifying_key().to_bytes())
            .collect();
        Keyring::new(id, secrets[id as usize], &public).unwrap()
    }

    fn body(value: Plan) -> Body {
        Body::Om {
            instance: 1,
            path: vec![0],
            value,
            origin: None,
        }
    }

    #[test]
    fn a_sealed_frame_verifies_and_a_changed_one_does_not() {
        let frame = ring(0).seal(body(Plan::Attack));
        assert!(ring(1).frame_is_authentic(&frame));
        let parsed = Frame::from_json(&frame.to_json()).unwrap();
        assert!(ring(1).frame_is_authentic(&parsed));
        let mut changed = frame.clone();
        changed.body = body(Plan::Retreat);
        assert!(!ring(1).frame_is_authentic(&changed));
        let mut impostor = frame;
        impostor.from = 2;
        assert!(!ring(1).frame_is_authentic(&impostor));
    }

    #[test]
    fn a_chain_protects_the_value() {
        let chain = ring(0).extend_chain(4, Plan::Attack, None, &[]);
        let chain = ring(1).extend_chain(4, Plan::Attack, None, &chain);
        assert!(ring(2).chain_is_authentic(4, Plan::Attack, None, &chain));
        assert!(!ring(2).chain_is_authentic(4, Plan::Retreat, None, &chain));
        assert!(!ring(2).chain_is_authentic(5, Plan::Attack, None, &chain));
    }

    #[test]
    fn a_secret_that_does_not_match_its_public_key_is_refused() {
        let public: Vec<[u8; 32]> = (0..2u8)
            .map(|i| {
                SigningKey::from_bytes(&[i + 1; 32])
                    .verifying_key()
                    .to_bytes()
            })
            .collect();
        assert_eq!(
            Keyring::new(0, [9; 32], &public).err(),
            Some(KeyError::SecretDoesNotMatch)
        );
    }
}
