//! Wire messages between replicas and the client-facing request/operation types.
//!
//! Every message travels as an [`Envelope`]: a flat JSON object with `from`, `type`, the
//! protocol fields and `sig`, so that message-level adversaries can read and mutate fields
//! without a codec of their own.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Replica identifier, `0..n`.
pub type NodeId = u32;

/// Hex-encoded SHA-256 digest.
pub type Digest = String;

/// An operation of the key-value state machine, tagged by `f` as in the traitor node API.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "f", rename_all = "lowercase")]
pub enum Op {
    /// Read a key; the value is `null` if it was never written.
    Read { key: String },
    /// Overwrite a key.
    Write { key: String, value: Value },
    /// Compare-and-set: `value` is `[expected, new]`.
    Cas { key: String, value: (Value, Value) },
    /// The null request a new primary uses to fill gaps in the sequence.
    Noop,
}

/// A client request; `(client, req)` identifies it for at-most-once execution.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Request {
    pub client: String,
    pub req: u64,
    pub op: Op,
    /// Hex ed25519 signature of the client authority over the canonical JSON of
    /// `{client, req, op}`. It travels with the request in every message that carries it, so
    /// each replica can check that a client, not a replica, asked for the request. Absent
    /// when the cluster runs without `--client-key`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sig: Option<String>,
}

impl Request {
    /// The de-duplication key of the request.
    pub fn key(&self) -> (String, u64) {
        (self.client.clone(), self.req)
    }
}

/// A pre-prepare together with the 2f matching prepares that make it prepared.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PreparedCert {
    pub pre_prepare: Envelope,
    pub prepares: Vec<Envelope>,
}

/// One executed sequence number as replicas exchange it during catch-up.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ExecutedEntry {
    pub seq: u64,
    pub view: u64,
    pub digest: Digest,
    pub request: Option<Request>,
}

/// The protocol messages; `type` on the wire is the kebab-case variant name.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "kebab-case")]
pub enum Message {
    /// A client request a backup received, passed to the primary and the other backups.
    Request {
        request: Request,
    },
    /// The primary's ordering proposal; `request` is `null` for a null request.
    PrePrepare {
        view: u64,
        seq: u64,
        digest: Digest,
        request: Option<Request>,
    },
    Prepare {
        view: u64,
        seq: u64,
        digest: Digest,
    },
    Commit {
        view: u64,
        seq: u64,
        digest: Digest,
    },
    /// State digest after executing `seq` (a multiple of the checkpoint interval).
    Checkpoint {
        seq: u64,
        state: Digest,
    },
    /// Vote to move to `new_view`, carrying the stable checkpoint proof and the prepared set P.
    ViewChange {
        new_view: u64,
        stable_seq: u64,
        stable_proof: Vec<Envelope>,
        prepared: Vec<PreparedCert>,
    },
    /// The new primary's announcement: the view-change set V and the pre-prepares O.
    NewView {
        view: u64,
        view_changes: Vec<Envelope>,
        pre_prepares: Vec<Envelope>,
    },
    /// Ask peers for executed entries from `from_seq` on (state transfer for lagging replicas).
    Fetch {
        from_seq: u64,
    },
    /// Answer to [`Message::Fetch`]: some executed entries plus the sender's view and height.
    Entries {
        view: u64,
        normal: bool,
        committed: u64,
        entries: Vec<ExecutedEntry>,
    },
}

/// A signed message as it travels on the wire.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Envelope {
    pub from: NodeId,
    #[serde(flatten)]
    pub msg: Message,
    pub sig: String,
}

/// Largest frame a replica accepts from a peer.
pub const MAX_FRAME: usize = 16 * 1024 * 1024;

/// Parses one frame body (without the length prefix) into an envelope.
pub fn decode_frame(bytes: &[u8]) -> Result<Envelope, String> {
    if bytes.len() > MAX_FRAME {
        return Err(format!(
            "frame of {} bytes exceeds {MAX_FRAME}",
            bytes.len()
        ));
    }
    serde_json::from_slice(bytes).map_err(|e| format!("bad frame: {e}"))
}

/// Serialises an envelope as a frame body (without the length prefix).
pub fn encode_frame(env: &Envelope) -> Vec<u8> {
    serde_json::to_vec(env).expect("envelopes always serialise")
}
