//! One instance of the signed-messages algorithm SM(m), seen by one lieutenant.
//!
//! The commander signs its order; each lieutenant that learns an order it had not seen
//! adds it to V, appends its own signature to the chain and passes it on to every
//! lieutenant not yet on the chain, as long as fewer than m lieutenants have signed.
//! A chain of `k` signatures belongs to round `k`; after round m + 1 the lieutenant obeys
//! `choice(V)`. Traitors cannot change a value without breaking the commander's signature.

use std::collections::BTreeSet;

use crate::choice::choice;
use crate::messages::{GeneralId, InstanceId, Link, Origin, Plan};
use crate::signing::Keyring;

/// A signed order this lieutenant must pass on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SignedRelay {
    pub to: GeneralId,
    pub chain: Vec<Link>,
}

/// A signed order as received.
pub struct SignedOrder<'a> {
    pub from: GeneralId,
    pub instance: InstanceId,
    pub value: Plan,
    pub origin: Option<&'a Origin>,
    pub chain: &'a [Link],
}

/// The orders one lieutenant accepted in one SM instance.
pub struct SmInstance {
    me: GeneralId,
    n: u32,
    commander: GeneralId,
    depth: usize,
    check_signatures: bool,
    orders: BTreeSet<Plan>,
    closed_rounds: usize,
}

impl SmInstance {
    /// An instance for lieutenant `me` running `depth` rounds (m + 1 for SM(m)).
    /// `check_signatures` is false only in the `sm-skip-signature-check` bug.
    pub fn new(
        me: GeneralId,
        n: u32,
        commander: GeneralId,
        depth: usize,
        check_signatures: bool,
    ) -> SmInstance {
        SmInstance {
            me,
            n,
            commander,
            depth,
            check_signatures,
            orders: BTreeSet::new(),
            closed_rounds: 0,
        }
    }

    /// Accepts a signed order and returns what to relay, or why it is refused.
    pub fn receive(
        &mut self,
        keys: &Keyring,
        order: SignedOrder<'_>,
    ) -> Result<Vec<SignedRelay>, String> {
        let signers: Vec<GeneralId> = order.chain.iter().map(|l| l.signer).collect();
        if signers.first() != Some(&self.commander) {
            return Err(format!("chain {signers:?} does not start at the commander"));
        }
        if signers.last() != Some(&order.from) {
            return Err(format!(
                "chain {signers:?} does not end at its sender {}",
                order.from
            ));
        }
        if signers.len() > self.depth {
            return Err(format!(
                "chain {signers:?} is longer than {} rounds",
                self.depth
            ));
        }
        if signers.iter().any(|&g| g >= self.n || g == self.me) {
            return Err(format!(
                "chain {signers:?} names an unknown general or the receiver"
            ));
        }
        let mut distinct = signers.clone();
        distinct.sort_unstable();
        distinct.dedup();
        if distinct.len() != signers.len() {
            return Err(format!("chain {signers:?} repeats a signer"));
        }
        if signers.len() <= self.closed_rounds {
            return Err(format!("round {} is over", signers.len()));
        }
        if self.check_signatures
            && !keys.chain_is_authentic(order.instance, order.value, order.origin, order.chain)
        {
            return Err(format!("chain {signers:?} has a bad signature"));
        }
        if !self.orders.insert(order.value) || signers.len() >= self.depth {
            return Ok(Vec::new());
        }
        let chain = keys.extend_chain(order.instance, order.value, order.origin, order.chain);
        Ok((0..self.n)
            .filter(|g| *g != self.me && !signers.contains(g))
            .map(|to| SignedRelay {
                to,
                chain: chain.clone(),
            })
            .collect())
    }

    /// Ends every round up to `round`; later chains of those lengths are refused.
    pub fn close_rounds_through(&mut self, round: usize) {
        self.closed_rounds = self.closed_rounds.max(round.min(self.depth));
    }

    /// Whether all m + 1 rounds are over, so V is final.
    pub fn is_complete(&self) -> bool {
        self.closed_rounds >= self.depth
    }

    /// choice(V).
    pub fn decide(&self) -> Plan {
        choice(&self.orders)
    }
}
