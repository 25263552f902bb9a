//! The protocol log for one sequence number: accepted pre-prepares, prepares and commits per
//! view, and the prepared / committed predicates of the paper.

use std::collections::{BTreeMap, BTreeSet};

use crate::bug::Bug;
use crate::messages::{Digest, Envelope, Message, NodeId, PreparedCert, Request};
use crate::rules::Rules;

/// The (view, seq, digest, request) of a pre-prepare envelope.
pub fn pre_prepare_fields(env: &Envelope) -> Option<(u64, u64, &Digest, &Option<Request>)> {
    match &env.msg {
        Message::PrePrepare {
            view,
            seq,
            digest,
            request,
        } => Some((*view, *seq, digest, request)),
        _ => None,
    }
}

/// The (view, seq, digest) of a prepare envelope.
pub fn prepare_fields(env: &Envelope) -> Option<(u64, u64, &Digest)> {
    match &env.msg {
        Message::Prepare { view, seq, digest } => Some((*view, *seq, digest)),
        _ => None,
    }
}

/// Whether a prepare counts towards a pre-prepare's quorum: same view and seq, same digest
/// unless `prepare-ignores-digest`, and not sent by the view's primary (its vote is the
/// pre-prepare).
pub fn prepare_matches(rules: &Rules, pre_prepare: &Envelope, prepare: &Envelope) -> bool {
    let (Some((v, s, d, _)), Some((pv, ps, pd))) =
        (pre_prepare_fields(pre_prepare), prepare_fields(prepare))
    else {
        return false;
    };
    pv == v
        && ps == s
        && prepare.from != rules.primary(v)
        && (rules.has(Bug::PrepareIgnoresDigest) || pd == d)
}

/// Everything this replica holds for one sequence number.
#[derive(Clone, Debug, Default)]
pub struct Slot {
    /// The pre-prepare accepted in each view (at most one per view).
    pub pre_prepares: BTreeMap<u64, Envelope>,
    /// Prepares per view, first one per sender.
    pub prepares: BTreeMap<u64, BTreeMap<NodeId, Envelope>>,
    /// Commit digests per view, first one per sender.
    pub commits: BTreeMap<u64, BTreeMap<NodeId, Digest>>,
    /// Views in which this replica already sent its commit.
    pub commit_sent: BTreeSet<u64>,
}

impl Slot {
    /// Digest and request of the pre-prepare accepted in `view`.
    pub fn accepted(&self, view: u64) -> Option<(&Digest, &Option<Request>)> {
        let (_, _, d, r) = pre_prepare_fields(self.pre_prepares.get(&view)?)?;
        Some((d, r))
    }

    fn matching_prepares(&self, view: u64, rules: &Rules) -> Vec<&Envelope> {
        let Some(pp) = self.pre_prepares.get(&view) else {
            return Vec::new();
        };
        self.prepares
            .get(&view)
            .map(|ps| {
                ps.values()
                    .filter(|p| prepare_matches(rules, pp, p))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// prepared(m, v, n): an accepted pre-prepare and 2f matching prepares.
    pub fn is_prepared(&self, view: u64, rules: &Rules) -> bool {
        self.pre_prepares.contains_key(&view)
            && self.matching_prepares(view, rules).len() >= rules.prepare_quorum()
    }

    /// committed-local(m, v, n): prepared and a commit quorum matching the digest.
    pub fn is_committed(&self, view: u64, rules: &Rules) -> bool {
        let Some((digest, _)) = self.accepted(view) else {
            return false;
        };
        let matching = self
            .commits
            .get(&view)
            .map(|cs| cs.values().filter(|d| *d == digest).count())
            .unwrap_or(0);
        self.is_prepared(view, rules) && matching >= rules.commit_quorum()
    }

    /// The prepared certificate of the highest view in which this slot prepared.
    pub fn prepared_cert(&self, rules: &Rules) -> Option<PreparedCert> {
        let view = *self
            .pre_prepares
            .keys()
            .rev()
            .find(|v| self.is_prepared(**v, rules))?;
        let prepares = self
            .matching_prepares(view, rules)
            .into_iter()
            .take(rules.prepare_quorum())
            .cloned()
            .collect();
        Some(PreparedCert {
            pre_prepare: self.pre_prepares[&view].clone(),
            prepares,
        })
    }
}
