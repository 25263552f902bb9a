//! One general: its configuration, the instances it takes part in, and its decisions.

use std::collections::{BTreeMap, HashMap};

use crate::effects::{Decision, Effects, Outgoing, Rejection, Timer, TimerRequest};
use crate::messages::{Body, Frame, GeneralId, InstanceId, Origin, Plan};
use crate::om::OmInstance;
use crate::signing::Keyring;
use crate::sm::{SignedOrder, SmInstance};

/// Which of Lamport's algorithms the generals run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Algo {
    /// Oral messages, OM(m): needs n > 3m.
    Om,
    /// Signed messages, SM(m): any n >= m + 2.
    Sm,
}

/// Deliberate bugs, so the harness can measure whether it catches them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Bug {
    /// SM without verifying the signature chain: a traitor can forge the commander's order.
    SmSkipSignatureCheck,
    /// OM running m rounds instead of m + 1, i.e. OM(m-1).
    OmTooFewRounds,
}

/// How far beyond the highest decided instance a general accepts to open one, so that a
/// traitor cannot make it hold unbounded state.
pub const INSTANCE_WINDOW: InstanceId = 1024;

/// Static parameters of one general.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Config {
    pub id: GeneralId,
    pub n: u32,
    pub commander: GeneralId,
    pub algo: Algo,
    pub m: usize,
    pub round_ms: u64,
    pub bug: Option<Bug>,
}

impl Config {
    /// The default m: the largest m with n > 3m for OM, n - 2 for SM, at least 1.
    pub fn default_m(algo: Algo, n: u32) -> usize {
        let m = match algo {
            Algo::Om => n.saturating_sub(1) / 3,
            Algo::Sm => n.saturating_sub(2),
        };
        (m as usize).max(1)
    }

    /// Rounds per instance: m + 1, or m with the `om-too-few-rounds` bug.
    pub fn rounds(&self) -> usize {
        match (self.algo, self.bug) {
            (Algo::Om, Some(Bug::OmTooFewRounds)) => self.m,
            _ => self.m + 1,
        }
    }
}

enum Rounds {
    Om(OmInstance),
    Sm(SmInstance),
}

/// An instance this general has joined and not yet decided.
struct Running {
    origin: Option<Origin>,
    rounds: Rounds,
}

impl Running {
    fn is_complete(&self) -> bool {
        match &self.rounds {
            Rounds::Om(om) => om.is_complete(),
            Rounds::Sm(sm) => sm.is_complete(),
        }
    }

    fn decide(&self) -> Plan {
        match &self.rounds {
            Rounds::Om(om) => om.decide(),
            Rounds::Sm(sm) => sm.decide(),
        }
    }
}

/// The commander was asked for an order by someone who is not the commander's client.
#[derive(Debug, PartialEq, Eq)]
pub struct NotCommander {
    pub commander: GeneralId,
}

/// One general's protocol state. Deterministic: the same inputs give the same effects.
pub struct General {
    config: Config,
    keys: Keyring,
    running: BTreeMap<InstanceId, Running>,
    decided: BTreeMap<InstanceId, Decision>,
    ordered: HashMap<Origin, InstanceId>,
    next_instance: InstanceId,
}

impl General {
    /// A general with no instance yet.
    pub fn new(config: Config, keys: Keyring) -> General {
        General {
            config,
            keys,
            running: BTreeMap::new(),
            decided: BTreeMap::new(),
            ordered: HashMap::new(),
            next_instance: 0,
        }
    }

    /// This general's configuration.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Every decision taken so far, by instance.
    pub fn decided(&self) -> &BTreeMap<InstanceId, Decision> {
        &self.decided
    }

    /// On the commander: starts the next instance with `value` for the client order
    /// `origin` and decides it at once (the commander obeys its own order). An order
    /// already given (same client and req) returns its first decision and sends nothing.
    pub fn order(
        &mut self,
        origin: Origin,
        value: Plan,
    ) -> Result<(Decision, Effects), NotCommander> {
        let commander = self.config.commander;
        if self.config.id != commander {
            return Err(NotCommander { commander });
        }
        if let Some(decision) = self.ordered.get(&origin).and_then(|k| self.decided.get(k)) {
            return Ok((decision.clone(), Effects::default()));
        }
        let instance = self.next_instance;
        self.next_instance += 1;
        let body = match self.config.algo {
            Algo::Om => Body::Om {
                instance,
                path: vec![commander],
                value,
                origin: Some(origin.clone()),
            },
            Algo::Sm => Body::Sm {
                instance,
                value,
                origin: Some(origin.clone()),
                chain: self.keys.extend_chain(instance, value, Some(&origin), &[]),
            },
        };
        let frame = self.keys.seal(body);
        let sends = (0..self.config.n)
            .filter(|&g| g != commander)
            .map(|to| Outgoing {
                to,
                frame: frame.clone(),
            })
            .collect();
        let decision = Decision {
            instance,
            value,
            origin: Some(origin.clone()),
        };
        self.ordered.insert(origin, instance);
        self.decided.insert(instance, decision.clone());
        let effects = Effects {
            sends,
            decisions: vec![decision.clone()],
            ..Effects::default()
        };
        Ok((decision, effects))
    }

    /// Handles a frame from another general, received when the clock reads `now_ms`.
    ///
    /// A lieutenant joins an instance with the first valid message it gets for it, from
    /// the commander or relayed, and times the instance's rounds from that moment. Why not a
    /// start time chosen by the commander: it would need synchronised clocks, and in OM a
    /// traitor could relay a different start to each general. Relays go out as soon as a
    /// value is heard, so a lieutenant the commander skipped hears a relay one message delay
    /// after the others and its rounds end one delay later, well inside a round; the round
    /// length is the bound the synchronous model assumes on that delay.
    pub fn on_frame(&mut self, now_ms: u64, frame: Frame) -> Effects {
        let mut effects = Effects::default();
        let from = frame.from;
        let reject = |reason: String| {
            let mut effects = Effects::default();
            effects.rejections.push(Rejection { from, reason });
            effects
        };
        if from >= self.config.n || from == self.config.id {
            return reject(format!("sender {from} is not another general"));
        }
        if !self.keys.frame_is_authentic(&frame) {
            return reject("bad frame signature".into());
        }
        let instance = frame.body.instance();
        if self.decided.contains_key(&instance) {
            return effects;
        }
        let horizon = self.decided.keys().next_back().map_or(0, |k| k + 1) + INSTANCE_WINDOW;
        if instance >= horizon {
            return reject(format!("instance {instance} is beyond {horizon}"));
        }
        let joining = !self.running.contains_key(&instance);
        let mut run = match self.running.remove(&instance) {
            Some(run) => run,
            None => self.join(),
        };
        match self.receive(&mut run, frame) {
            Err(reason) => {
                if !joining {
                    self.running.insert(instance, run);
                }
                return reject(reason);
            }
            Ok(sends) => effects.sends = sends,
        }
        if joining {
            effects.timers = (1..=self.config.rounds())
                .map(|round| TimerRequest {
                    at_ms: now_ms + round as u64 * self.config.round_ms,
                    timer: Timer { instance, round },
                })
                .collect();
        }
        self.settle(instance, run, &mut effects);
        effects
    }

    /// Handles the end of a round: values still missing count as RETREAT.
    pub fn on_timer(&mut self, timer: Timer) -> Effects {
        let mut effects = Effects::default();
        let Some(mut run) = self.running.remove(&timer.instance) else {
            return effects;
        };
        match &mut run.rounds {
            Rounds::Om(om) => {
                let relays = om.close_rounds_through(timer.round);
                effects.sends = relays
                    .into_iter()
                    .map(|relay| {
                        self.om_send(
                            timer.instance,
                            relay.to,
                            relay.path,
                            relay.value,
                            run.origin.clone(),
                        )
                    })
                    .collect();
            }
            Rounds::Sm(sm) => sm.close_rounds_through(timer.round),
        }
        self.settle(timer.instance, run, &mut effects);
        effects
    }

    fn join(&self) -> Running {
        let c = &self.config;
        let rounds = match c.algo {
            Algo::Om => Rounds::Om(OmInstance::new(c.id, c.n, c.commander, c.rounds())),
            Algo::Sm => Rounds::Sm(SmInstance::new(
                c.id,
                c.n,
                c.commander,
                c.rounds(),
                c.bug != Some(Bug::SmSkipSignatureCheck),
            )),
        };
        Running {
            origin: None,
            rounds,
        }
    }

    fn receive(&self, run: &mut Running, frame: Frame) -> Result<Vec<Outgoing>, String> {
        let from = frame.from;
        let sends = match (&mut run.rounds, frame.body) {
            (
                Rounds::Om(om),
                Body::Om {
                    instance,
                    path,
                    value,
                    origin,
                },
            ) => {
                let relays = om.receive(from, path, value)?;
                run.origin = run.origin.take().or(origin);
                relays
                    .into_iter()
                    .map(|relay| {
                        self.om_send(
                            instance,
                            relay.to,
                            relay.path,
                            relay.value,
                            run.origin.clone(),
                        )
                    })
                    .collect()
            }
            (
                Rounds::Sm(sm),
                Body::Sm {
                    instance,
                    value,
                    origin,
                    chain,
                },
            ) => {
                let order = SignedOrder {
                    from,
                    instance,
                    value,
                    origin: origin.as_ref(),
                    chain: &chain,
                };
                let relays = sm.receive(&self.keys, order)?;
                let sends = relays
                    .into_iter()
                    .map(|relay| Outgoing {
                        to: relay.to,
                        frame: self.keys.seal(Body::Sm {
                            instance,
                            value,
                            origin: origin.clone(),
                            chain: relay.chain,
                        }),
                    })
                    .collect();
                run.origin = run.origin.take().or(origin);
                sends
            }
            _ => return Err("message of the other algorithm".into()),
        };
        Ok(sends)
    }

    fn om_send(
        &self,
        instance: InstanceId,
        to: GeneralId,
        path: Vec<GeneralId>,
        value: Plan,
        origin: Option<Origin>,
    ) -> Outgoing {
        Outgoing {
            to,
            frame: self.keys.seal(Body::Om {
                instance,
                path,
                value,
                origin,
            }),
        }
    }

    /// Decides `instance` if its outcome is final, else keeps it running.
    fn settle(&mut self, instance: InstanceId, run: Running, effects: &mut Effects) {
        if !run.is_complete() {
            self.running.insert(instance, run);
            return;
        }
        let decision = Decision {
            instance,
            value: run.decide(),
            origin: run.origin,
        };
        self.decided.insert(instance, decision.clone());
        effects.decisions.push(decision);
    }
}

#[cfg(test)]
mod tests {
    use ed25519_dalek::SigningKey;

    use super::*;

    fn general(id: GeneralId, algo: Algo) -> General {
        let secrets: Vec<[u8; 32]> = (0..4u8).map(|i| [i + 7; 32]).collect();
        let public: Vec<[u8; 32]> = secrets
            .iter()
            .map(|s| SigningKey::from_bytes(s).verifying_key().to_bytes())
            .collect();
        let config = Config {
            id,
            n: 4,
            commander: 0,
            algo,
            m: 1,
            round_ms: 100,
            bug: None,
        };
        General::new(
            config,
            Keyring::new(id, secrets[id as usize], &public).unwrap(),
        )
    }

    fn origin(req: u64) -> Origin {
        Origin {
            client: "c".into(),
            req,
        }
    }

    #[test]
    fn only_the_commander_takes_orders() {
        assert_eq!(
            general(2, Algo::Om).order(origin(1), Plan::Attack).err(),
            Some(NotCommander { commander: 0 })
        );
    }

    #[test]
    fn a_repeated_order_returns_its_instance_and_sends_nothing() {
        let mut commander = general(0, Algo::Sm);
        let (first, effects) = commander.order(origin(1), Plan::Attack).unwrap();
        assert_eq!(effects.sends.len(), 3);
        let (again, effects) = commander.order(origin(1), Plan::Retreat).unwrap();
        assert_eq!(again, first);
        assert!(effects.sends.is_empty());
        let (second, _) = commander.order(origin(2), Plan::Retreat).unwrap();
        assert_eq!(second.instance, 1);
    }

    #[test]
    fn a_lieutenant_joins_arms_its_round_timers_and_relays() {
        let mut commander = general(0, Algo::Om);
        let (_, effects) = commander.order(origin(1), Plan::Attack).unwrap();
        let mut lieutenant = general(1, Algo::Om);
        let frame = effects.sends.into_iter().find(|s| s.to == 1).unwrap().frame;
        let effects = lieutenant.on_frame(1000, frame);
        let deadlines: Vec<u64> = effects.timers.iter().map(|t| t.at_ms).collect();
        assert_eq!(deadlines, vec![1100, 1200]);
        assert_eq!(
            effects.sends.iter().map(|s| s.to).collect::<Vec<_>>(),
            vec![2, 3]
        );
        assert!(effects.decisions.is_empty());
    }

    #[test]
    fn forged_and_far_future_frames_are_refused() {
        let mut lieutenant = general(1, Algo::Om);
        let mut forged = general(0, Algo::Om)
            .order(origin(1), Plan::Attack)
            .unwrap()
            .1
            .sends[0]
            .frame
            .clone();
        forged.from = 2;
        assert_eq!(lieutenant.on_frame(0, forged).rejections.len(), 1);

        let far = general(2, Algo::Om).keys.seal(Body::Om {
            instance: INSTANCE_WINDOW,
            path: vec![0, 2],
            value: Plan::Attack,
            origin: None,
        });
        let effects = lieutenant.on_frame(0, far);
        assert!(
            effects.rejections[0].reason.contains("beyond"),
            "{effects:?}"
        );
    }
}
