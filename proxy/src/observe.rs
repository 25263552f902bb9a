//! What the trace says about a message's content: what an observer of the wire needs to
//! name suspect nodes (who claims to speak, in which round, saying what), read in the one
//! parse of a `len32-json` body that the trace already makes for the message kind.
//!
//! The rules are generic, so they hold for any target speaking JSON objects:
//! - `kind`: the top-level `type` field, when it is a string.
//! - `round`: every top-level field whose value is an unsigned integer or an array of
//!   unsigned integers (PBFT's `view`, `seq`, `new_view`; the generals' `instance` and
//!   `path`), except the sender claims and the size- and time-like fields of
//!   [`NOT_ROUND`]; written `name=value` sorted by name and joined by spaces, arrays as
//!   `[a.b.c]` (`{"path":[0,2],"instance":7}` gives `"instance=7 path=[0.2]"`). Sorting
//!   makes the key independent of the sender's field order; the brackets keep an array (a
//!   route, such as the generals' relay path) apart from a number.
//! - `claims`: the sender the message names, from the first of [`CLAIMS`] holding an
//!   unsigned integer. Not `id`: many protocols use it for a request or message number.
//! - `digest`: 64 bits of hash (16 hex digits) over every top-level field except
//!   signatures, recipient-specific fields and the sender claims ([`NOT_CONTENT`]), taken
//!   field by field and summed, so field order does not matter. Two copies of one
//!   proposal to different peers hash equal; conflicting proposals differ; and two nodes
//!   voting for the same thing hash equal too, since the claimed sender is left out.
//! - `malformed`: a whole `len32-json` body that is not a JSON object.

use std::borrow::Cow;
use std::fmt::{self, Write};
use std::hash::Hasher;

use rustc_hash::FxHasher;
use serde::de::{Deserializer, MapAccess, Visitor};
use serde_json::value::RawValue;

use crate::Framing;

/// Top-level fields that name the sender, in the order they are looked for.
const CLAIMS: [&str; 4] = ["from", "sender", "replica", "src"];

/// Integer fields that count or time things rather than number a round.
const NOT_ROUND: [&str; 10] = [
    "size",
    "len",
    "length",
    "count",
    "total",
    "bytes",
    "time",
    "timestamp",
    "ts",
    "nonce",
];

/// Fields left out of the digest besides the claims: signatures (they differ per signer,
/// or per recipient with MACs) and fields that name the recipient.
const NOT_CONTENT: [&str; 11] = [
    "sig",
    "sigs",
    "signature",
    "signatures",
    "mac",
    "macs",
    "auth",
    "to",
    "dest",
    "recipient",
    "receiver",
];

/// What the trace records of one message's content; all empty for framings other than
/// `len32-json`, and for a frame whose body is not all there (an oversize frame's head).
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub(crate) struct Content {
    /// Kept even when absent (as `null`), as the trace always wrote it.
    pub kind: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub round: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub claims: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub digest: Option<Digest>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub malformed: bool,
}

/// A message's 64-bit digest, written as 16 hex digits by the trace's writer thread (not
/// on the forwarding path).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Digest(pub u64);

impl serde::Serialize for Digest {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(&format_args!("{:016x}", self.0))
    }
}

/// Reads what the trace records from a whole frame (length prefix included).
pub(crate) fn content(framing: Framing, frame: &[u8]) -> Content {
    if framing != Framing::Len32Json {
        return Content::default();
    }
    let (Some(header), Some(body)) = (frame.first_chunk::<4>(), frame.get(4..)) else {
        return Content::default();
    };
    if u32::from_be_bytes(*header) as usize != body.len() {
        return Content::default();
    }
    let mut de = serde_json::Deserializer::from_slice(body);
    let read = de
        .deserialize_map(FieldsVisitor)
        .and_then(|fields| de.end().map(|()| fields));
    match read {
        Ok(fields) => fields.into_content(),
        Err(_) => Content {
            malformed: true,
            ..Content::default()
        },
    }
}

/// The top-level fields of a body, borrowed from it where it has no escapes.
struct Fields<'a> {
    kind: Option<String>,
    round: Vec<(Cow<'a, str>, &'a str)>,
    claims: Option<(usize, u64)>,
    digest: u64,
}

impl Fields<'_> {
    fn into_content(mut self) -> Content {
        self.round.sort_unstable_by(|a, b| a.0.cmp(&b.0));
        let round = (!self.round.is_empty()).then(|| {
            let mut out = String::with_capacity(16 * self.round.len());
            for (i, (name, value)) in self.round.iter().enumerate() {
                if i > 0 {
                    out.push(' ');
                }
                let _ = write!(out, "{name}={}", Dotted(value));
            }
            out
        });
        Content {
            kind: self.kind,
            round,
            claims: self.claims.map(|(_, id)| id),
            digest: Some(Digest(self.digest)),
            malformed: false,
        }
    }
}

/// An unsigned integer, or a flat array of them, as it appears in JSON text.
fn is_round_value(raw: &str) -> bool {
    let inner = match raw.strip_prefix('[').and_then(|r| r.strip_suffix(']')) {
        Some(inner) => inner,
        None => return !raw.is_empty() && raw.bytes().all(|b| b.is_ascii_digit()),
    };
    inner
        .split(',')
        .map(str::trim)
        .all(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
}

/// A round value written compactly: `7` as is, `[0, 2]` as `[0.2]`.
struct Dotted<'a>(&'a str);

impl fmt::Display for Dotted<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let Some(inner) = self.0.strip_prefix('[').and_then(|r| r.strip_suffix(']')) else {
            return f.write_str(self.0);
        };
        f.write_char('[')?;
        for (i, n) in inner.split(',').map(str::trim).enumerate() {
            if i > 0 {
                f.write_char('.')?;
            }
            f.write_str(n)?;
        }
        f.write_char(']')
    }
}

struct FieldsVisitor;

impl<'de> Visitor<'de> for FieldsVisitor {
    type Value = Fields<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Fields<'de>, A::Error> {
        let mut fields = Fields {
            kind: None,
            round: Vec::new(),
            claims: None,
            digest: 0,
        };
        while let Some(Key(name)) = map.next_key::<Key<'de>>()? {
            let value: &'de RawValue = map.next_value()?;
            let raw = value.get();
            let claim = CLAIMS.iter().position(|c| *c == name);
            if let Some(rank) = claim {
                if let Ok(id) = raw.parse::<u64>() {
                    if fields.claims.is_none_or(|(best, _)| rank < best) {
                        fields.claims = Some((rank, id));
                    }
                }
            } else if !NOT_CONTENT.contains(&&*name) {
                let mut hasher = FxHasher::default();
                hasher.write(name.as_bytes());
                hasher.write_u8(0xff);
                hasher.write(raw.as_bytes());
                fields.digest = fields.digest.wrapping_add(hasher.finish());
            }
            if name == "type" {
                fields.kind = serde_json::from_str::<String>(raw).ok();
            } else if claim.is_none() && !NOT_ROUND.contains(&&*name) && is_round_value(raw) {
                fields.round.push((name, raw));
            }
        }
        Ok(fields)
    }
}

/// A field name, borrowed from the body unless it holds escapes.
struct Key<'a>(Cow<'a, str>);

impl<'de> serde::Deserialize<'de> for Key<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct KeyVisitor;
        impl<'de> Visitor<'de> for KeyVisitor {
            type Value = Key<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a field name")
            }
            fn visit_borrowed_str<E>(self, s: &'de str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Borrowed(s)))
            }
            fn visit_str<E>(self, s: &str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Owned(s.to_string())))
            }
        }
        deserializer.deserialize_str(KeyVisitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(body: &[u8]) -> Vec<u8> {
        let mut f = (body.len() as u32).to_be_bytes().to_vec();
        f.extend_from_slice(body);
        f
    }

    fn read(body: &str) -> Content {
        content(Framing::Len32Json, &frame(body.as_bytes()))
    }

    #[test]
    fn kind_reads_the_type_field_of_len32_json_only() {
        let f = frame(br#"{"from":1,"view":[1,2],"type":"prepare","sig":"ab"}"#);
        assert_eq!(
            content(Framing::Len32Json, &f).kind.as_deref(),
            Some("prepare")
        );
        assert_eq!(content(Framing::Len32, &f), Content::default());
        assert_eq!(read(r#"{"type":3}"#).kind, None);
        assert_eq!(read(r#"{"a":1}"#).kind, None);
        assert_eq!(
            read(r#"{"type":"pre\u002dprepare"}"#).kind.as_deref(),
            Some("pre-prepare")
        );
    }

    #[test]
    fn pbft_messages_give_round_claims_and_a_digest_without_the_signature() {
        let to_one = read(
            r#"{"from":0,"type":"pre-prepare","view":2,"seq":17,"digest":"aa","request":{"client":"c1","req":3},"sig":"01"}"#,
        );
        assert_eq!(to_one.kind.as_deref(), Some("pre-prepare"));
        assert_eq!(to_one.round.as_deref(), Some("seq=17 view=2"));
        assert_eq!(to_one.claims, Some(0));
        assert!(!to_one.malformed);
        // The same proposal, fields in another order and signed again: the same digest.
        let to_other = read(
            r#"{"sig":"02","seq":17,"view":2,"type":"pre-prepare","request":{"client":"c1","req":3},"digest":"aa","from":0}"#,
        );
        assert_eq!(to_other.digest, to_one.digest);
        assert_eq!(to_other.round, to_one.round);
        // A conflicting proposal for the same round: another digest.
        let conflicting = read(
            r#"{"from":0,"type":"pre-prepare","view":2,"seq":17,"digest":"bb","request":{"client":"c2","req":1},"sig":"01"}"#,
        );
        assert_eq!(conflicting.round, to_one.round);
        assert_ne!(conflicting.digest, to_one.digest);
        let written = serde_json::to_value(&to_one).unwrap();
        assert_eq!(written["digest"].as_str().map(str::len), Some(16));
        assert_eq!(written["round"], "seq=17 view=2");
        assert!(written.get("malformed").is_none() && written["kind"] == "pre-prepare");
    }

    #[test]
    fn generals_paths_are_part_of_the_round_and_size_fields_are_not() {
        let om = read(
            r#"{"from":2,"type":"om","instance":7,"path":[0, 2],"value":"attack","origin":null,"sig":"ab"}"#,
        );
        assert_eq!(om.round.as_deref(), Some("instance=7 path=[0.2]"));
        assert_eq!(om.claims, Some(2));
        let sized = read(r#"{"type":"blob","size":10,"height":3,"neg":-1,"f":1.5}"#);
        assert_eq!(sized.round.as_deref(), Some("height=3"));
        assert_eq!(
            read(r#"{"type":"request","request":{"req":1}}"#).round,
            None
        );
    }

    #[test]
    fn votes_for_the_same_thing_from_different_senders_hash_equal() {
        let a = read(r#"{"from":1,"type":"commit","view":0,"seq":4,"digest":"aa","sig":"x"}"#);
        let b = read(r#"{"from":2,"type":"commit","view":0,"seq":4,"digest":"aa","sig":"y"}"#);
        assert_eq!(a.digest, b.digest);
        assert_ne!(a.claims, b.claims);
    }

    #[test]
    fn claims_prefer_from_and_ignore_non_integers() {
        assert_eq!(read(r#"{"sender":4,"from":1}"#).claims, Some(1));
        assert_eq!(read(r#"{"from":"n1","replica":3}"#).claims, Some(3));
        assert_eq!(read(r#"{"id":3}"#).claims, None);
    }

    #[test]
    fn only_whole_bodies_that_are_not_objects_are_malformed() {
        assert!(read("not json").malformed);
        assert!(read("[1,2]").malformed);
        assert!(read(r#"{"a":1} trailing"#).malformed);
        assert!(read(r#"{"a":1"#).malformed);
        assert!(!read(r#"{"a":1}"#).malformed);
        // The head of an oversize frame (its body not there) is not judged.
        let head = 100u32.to_be_bytes();
        assert_eq!(content(Framing::Len32Json, &head), Content::default());
        assert_eq!(content(Framing::Len32Json, &[0, 0]), Content::default());
    }
}
