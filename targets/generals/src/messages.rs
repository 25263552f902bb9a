//! What generals say to each other: the plan, the client order it came from, and the
//! wire frame (`from`, `type`, protocol fields, `sig`).

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// Index of a general, 0..n-1.
pub type GeneralId = u32;

/// Number of an agreement instance: the commander numbers its orders 0, 1, 2, ...
pub type InstanceId = u64;

/// The only two plans a general can follow.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Plan {
    Attack,
    Retreat,
}

impl Plan {
    /// The value used for a message that never came and for undecided votes (Lamport's RETREAT).
    pub const DEFAULT: Plan = Plan::Retreat;

    /// The lowercase name, as on the wire and in the node API.
    pub fn as_str(self) -> &'static str {
        match self {
            Plan::Attack => "attack",
            Plan::Retreat => "retreat",
        }
    }

    /// Parses the API spelling ("attack" or "retreat").
    pub fn parse(text: &str) -> Option<Plan> {
        match text {
            "attack" => Some(Plan::Attack),
            "retreat" => Some(Plan::Retreat),
            _ => None,
        }
    }

    /// Hex SHA-256 of the plan's name: the `digest` of a decided log entry.
    pub fn digest_hex(self) -> String {
        hex::encode(Sha256::digest(self.as_str().as_bytes()))
    }

    /// The other plan; what a lying traitor says.
    pub fn opposite(self) -> Plan {
        match self {
            Plan::Attack => Plan::Retreat,
            Plan::Retreat => Plan::Attack,
        }
    }
}

/// The client request an order came from, so every general can log who asked for it.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Origin {
    pub client: String,
    pub req: u64,
}

/// One signature of an SM(m) chain: `signer` signed the order and every link before this one.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Link {
    pub signer: GeneralId,
    pub sig: String,
}

/// The protocol part of a frame; `type` on the wire names the variant.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum Body {
    /// OM(m): `value` as heard along `path` (the commander first, the sender last).
    /// Nothing protects `value`: a traitor relays whatever it likes.
    Om {
        instance: InstanceId,
        path: Vec<GeneralId>,
        value: Plan,
        origin: Option<Origin>,
    },
    /// SM(m): `value` with its signature chain (the commander first, the sender last).
    Sm {
        instance: InstanceId,
        value: Plan,
        origin: Option<Origin>,
        chain: Vec<Link>,
    },
}

impl Body {
    /// The instance this message belongs to.
    pub fn instance(&self) -> InstanceId {
        match self {
            Body::Om { instance, .. } | Body::Sm { instance, .. } => *instance,
        }
    }

    /// The client order this message claims to carry.
    pub fn origin(&self) -> Option<&Origin> {
        match self {
            Body::Om { origin, .. } | Body::Sm { origin, .. } => origin.as_ref(),
        }
    }
}

/// A frame between generals: `sig` is the sender's signature over the frame without `sig`
/// (see [`crate::signing`]); it proves who sent this hop, nothing more.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Frame {
    pub from: GeneralId,
    #[serde(flatten)]
    pub body: Body,
    pub sig: String,
}

impl Frame {
    /// The JSON bytes of the frame (the transport adds the 4-byte length).
    pub fn to_json(&self) -> Vec<u8> {
        serde_json::to_vec(self).expect("a frame always serialises")
    }

    /// Parses JSON bytes into a frame; the signature is not checked here.
    pub fn from_json(bytes: &[u8]) -> Result<Frame, serde_json::Error> {
        serde_json::from_slice(bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frame_json_has_flat_type_and_round_trips() {
        let frame = Frame {
            from: 2,
            body: Body::Om {
                instance: 7,
                path: vec![0, 2],
                value: Plan::Attack,
                origin: Some(Origin {
                    client: "c1".into(),
                    req: 3,
                }),
            },
            sig: "ab".into(),
        };
        let json: serde_json::Value = serde_json::from_slice(&frame.to_json()).unwrap();
        assert_eq!(json["type"], "om");
        assert_eq!(json["from"], 2);
        assert_eq!(json["value"], "attack");
        assert_eq!(Frame::from_json(&frame.to_json()).unwrap(), frame);
    }

    #[test]
    fn digest_is_sha256_of_the_plan_name() {
        assert_eq!(
            Plan::Attack.digest_hex(),
            "fca30679635be3bbce1ca7d8a9ceb8f0daceaaa80e4cf645584db5ccc0dbf0b2"
        );
        assert_ne!(Plan::Attack.digest_hex(), Plan::Retreat.digest_hex());
    }
}
