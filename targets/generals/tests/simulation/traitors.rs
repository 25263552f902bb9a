//! Scripted traitor behaviours.

use generals_node::messages::{Body, GeneralId, Link, Plan};
use generals_node::signing::Keyring;
use rand::rngs::StdRng;
use rand::RngExt;

use crate::sim::Traitor;

/// `body` saying `value` instead. An SM order the traitor itself signed first is re-signed
/// (a traitorous commander can sign anything); any other chain is left as it is, so the
/// change breaks the commander's signature.
pub fn saying(keys: &Keyring, body: Body, value: Plan) -> Body {
    match body {
        Body::Om {
            instance,
            path,
            origin,
            ..
        } => Body::Om {
            instance,
            path,
            value,
            origin,
        },
        Body::Sm {
            instance,
            origin,
            chain,
            ..
        } => {
            let chain = if chain.len() == 1 && chain[0].signer == keys.id() {
                keys.extend_chain(instance, value, origin.as_ref(), &[])
            } else {
                chain
            };
            Body::Sm {
                instance,
                value,
                origin,
                chain,
            }
        }
    }
}

fn value_of(body: &Body) -> Plan {
    match body {
        Body::Om { value, .. } | Body::Sm { value, .. } => *value,
    }
}

/// The classic traitor behaviours, applied to every message the traitor sends.
#[derive(Clone, Copy, Debug)]
pub enum Strategy {
    /// Sends nothing at all.
    Silent,
    /// Reports the opposite of what it heard.
    Flip,
    /// Tells even-numbered generals "attack" and odd-numbered ones "retreat".
    SplitByParity,
    /// Tells generals below `n / 2` "attack" and the others "retreat".
    SplitByHalf(u32),
    /// A random value for each message.
    Random,
    /// For each message at random: the truth, the opposite, or nothing.
    Chaos,
}

impl Traitor for Strategy {
    fn outgoing(
        &mut self,
        keys: &Keyring,
        to: GeneralId,
        body: Body,
        rng: &mut StdRng,
    ) -> Vec<Body> {
        let heard = value_of(&body);
        let say = |value| vec![saying(keys, body.clone(), value)];
        match *self {
            Strategy::Silent => Vec::new(),
            Strategy::Flip => say(heard.opposite()),
            Strategy::SplitByParity => say(if to.is_multiple_of(2) {
                Plan::Attack
            } else {
                Plan::Retreat
            }),
            Strategy::SplitByHalf(n) => say(if to < n / 2 {
                Plan::Attack
            } else {
                Plan::Retreat
            }),
            Strategy::Random => say(if rng.random_bool(0.5) {
                Plan::Attack
            } else {
                Plan::Retreat
            }),
            Strategy::Chaos => match rng.random_range(0..3) {
                0 => say(heard),
                1 => say(heard.opposite()),
                _ => Vec::new(),
            },
        }
    }
}

/// `equivocate-sign` at the first instance, when it has no earlier value to swap in: the
/// truth to the other peers, and to `garbled_to` the value with `~` appended, which no
/// general can parse (so it counts as missing, RETREAT at the end of its round).
pub struct Garbler {
    pub garbled_to: Vec<GeneralId>,
}

impl Traitor for Garbler {
    fn outgoing(
        &mut self,
        _keys: &Keyring,
        _to: GeneralId,
        body: Body,
        _rng: &mut StdRng,
    ) -> Vec<Body> {
        vec![body]
    }

    fn garbles(&mut self, to: GeneralId) -> bool {
        self.garbled_to.contains(&to)
    }
}

/// A traitorous commander that orders "attack" to `attack_to`, "retreat" to the others,
/// and says nothing at all to `silent_to`.
pub struct TwoFacedCommander {
    pub attack_to: Vec<GeneralId>,
    pub silent_to: Vec<GeneralId>,
}

impl Traitor for TwoFacedCommander {
    fn outgoing(
        &mut self,
        keys: &Keyring,
        to: GeneralId,
        body: Body,
        _rng: &mut StdRng,
    ) -> Vec<Body> {
        if self.silent_to.contains(&to) {
            return Vec::new();
        }
        let value = if self.attack_to.contains(&to) {
            Plan::Attack
        } else {
            Plan::Retreat
        };
        vec![saying(keys, body, value)]
    }
}

/// An SM lieutenant that relays honestly and, with its first relay to `victim`, also sends
/// a forged order: `value` with a made-up commander signature followed by its own.
pub struct Forger {
    pub victim: GeneralId,
    pub value: Plan,
    pub commander: GeneralId,
    pub done: bool,
}

impl Traitor for Forger {
    fn outgoing(
        &mut self,
        keys: &Keyring,
        to: GeneralId,
        body: Body,
        _rng: &mut StdRng,
    ) -> Vec<Body> {
        let mut out = vec![body.clone()];
        if to == self.victim && !self.done {
            self.done = true;
            let Body::Sm {
                instance, origin, ..
            } = body
            else {
                return out;
            };
            let fake = vec![Link {
                signer: self.commander,
                sig: "00".repeat(64),
            }];
            let chain = keys.extend_chain(instance, self.value, origin.as_ref(), &fake);
            out.push(Body::Sm {
                instance,
                value: self.value,
                origin,
                chain,
            });
        }
        out
    }
}
