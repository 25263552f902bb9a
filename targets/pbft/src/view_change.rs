//! View change: validating view-change messages and computing the new view's pre-prepares
//! (the O set) from a quorum of them, as in Castro and Liskov.

use std::collections::BTreeSet;

use crate::bug::Bug;
use crate::checkpoint::proof_is_valid;
use crate::crypto::{request_digest, Keyring};
use crate::messages::{Digest, Envelope, Message, PreparedCert, Request};
use crate::rules::Rules;
use crate::slot::{pre_prepare_fields, prepare_matches};

/// What a new view starts from: the stable checkpoint and one pre-prepare per sequence
/// number in (min_s, max_s].
#[derive(Clone, Debug, PartialEq)]
pub struct Plan {
    pub min_s: u64,
    pub max_s: u64,
    pub stable_proof: Vec<Envelope>,
    pub entries: Vec<(u64, Digest, Option<Request>)>,
}

/// The (view, seq, digest, request) a prepared certificate proves, if it is valid: the
/// pre-prepare signed by its view's primary, carrying a request the client authority signed
/// (when one is configured), and 2f matching prepares from distinct backups.
pub fn certified(
    keys: &Keyring,
    rules: &Rules,
    cert: &PreparedCert,
) -> Option<(u64, u64, Digest, Option<Request>)> {
    let pp = &cert.pre_prepare;
    let (view, seq, digest, request) = pre_prepare_fields(pp)?;
    let from_primary = pp.from == rules.primary(view) || rules.has(Bug::AcceptNonPrimaryPreprepare);
    if !from_primary
        || !keys.verify(pp)
        || *digest != request_digest(request)
        || request.as_ref().is_some_and(|r| !keys.verify_request(r))
    {
        return None;
    }
    let senders: BTreeSet<_> = cert
        .prepares
        .iter()
        .filter(|p| prepare_matches(rules, pp, p) && keys.verify(p))
        .map(|p| p.from)
        .collect();
    (senders.len() >= rules.prepare_quorum()).then(|| (view, seq, digest.clone(), request.clone()))
}

/// Checks a (signature-verified) view-change message for `new_view`: its checkpoint proof,
/// and every prepared certificate valid, from an earlier view and inside the watermarks.
pub fn is_valid(keys: &Keyring, rules: &Rules, env: &Envelope, window: u64) -> bool {
    let Message::ViewChange {
        new_view,
        stable_seq,
        stable_proof,
        prepared,
    } = &env.msg
    else {
        return false;
    };
    proof_is_valid(keys, *stable_seq, stable_proof, rules.quorum())
        && prepared.iter().all(|cert| {
            certified(keys, rules, cert).is_some_and(|(view, seq, _, _)| {
                view < *new_view && seq > *stable_seq && seq <= stable_seq + window
            })
        })
}

/// Computes the new view's plan from the view-change set V (already validated).
///
/// min_s is the latest stable checkpoint in V; max_s the highest prepared sequence number.
/// Each sequence number in between gets the request of the certificate with the highest view
/// (ties go to the later message in V), or a null request when no certificate covers it.
/// With `viewchange-drops-prepared` the certificates are ignored and numbering restarts at min_s.
pub fn compute_plan(rules: &Rules, keys: &Keyring, view_changes: &[Envelope]) -> Plan {
    let mut min_s = 0;
    let mut stable_proof = Vec::new();
    let mut certs = Vec::new();
    for env in view_changes {
        if let Message::ViewChange {
            stable_seq,
            stable_proof: proof,
            prepared,
            ..
        } = &env.msg
        {
            if *stable_seq > min_s {
                min_s = *stable_seq;
                stable_proof = proof.clone();
            }
            certs.extend(prepared.iter().filter_map(|c| certified(keys, rules, c)));
        }
    }
    if rules.has(Bug::ViewchangeDropsPrepared) {
        certs.clear();
    }
    let max_s = certs.iter().map(|c| c.1).max().unwrap_or(min_s).max(min_s);
    let entries = (min_s + 1..=max_s)
        .map(|seq| {
            let best = certs.iter().filter(|c| c.1 == seq).fold(
                None,
                |best: Option<&(u64, u64, Digest, Option<Request>)>, c| match best {
                    Some(b) if b.0 > c.0 => Some(b),
                    _ => Some(c),
                },
            );
            match best {
                Some((_, _, digest, request)) => (seq, digest.clone(), request.clone()),
                None => (seq, request_digest(&None), None),
            }
        })
        .collect();
    Plan {
        min_s,
        max_s,
        stable_proof,
        entries,
    }
}
