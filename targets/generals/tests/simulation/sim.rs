//! The simulated network: every general runs the real core; frames go through their JSON
//! encoding and arrive after a seeded random delay shorter than a round; timers fire in
//! virtual time. A traitor runs the loyal code but its outgoing messages pass through its
//! script first, which may change them, add to them, or drop them.

use std::collections::{BTreeMap, BTreeSet};

use ed25519_dalek::SigningKey;
use generals_node::effects::{Effects, Rejection, Timer};
use generals_node::general::{Algo, Bug, Config, General};
use generals_node::messages::{Body, Frame, GeneralId, Origin, Plan};
use generals_node::signing::Keyring;
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};

/// The round length used in every simulation.
pub const ROUND_MS: u64 = 300;
/// The largest network delay: well inside a round, as the synchronous model assumes.
pub const MAX_DELAY_MS: u64 = 30;

/// A scripted traitor: decides what actually leaves for `to` when the loyal code would send `body`.
pub trait Traitor {
    fn outgoing(
        &mut self,
        keys: &Keyring,
        to: GeneralId,
        body: Body,
        rng: &mut StdRng,
    ) -> Vec<Body>;

    /// Whether what leaves for `to` has its value made invalid on the wire (no plan at all),
    /// as `equivocate-sign` does when it has no earlier value to swap in.
    fn garbles(&mut self, _to: GeneralId) -> bool {
        false
    }
}

/// `frame`'s JSON with `"value"` turned into no plan (`"attack~"`), as on the wire.
fn garbled(frame: &Frame) -> Vec<u8> {
    let mut json: serde_json::Value = serde_json::from_slice(&frame.to_json()).unwrap();
    let value = json["value"].as_str().unwrap_or_default().to_string();
    json["value"] = serde_json::Value::String(format!("{value}~"));
    serde_json::to_vec(&json).unwrap()
}

fn secret(id: GeneralId) -> [u8; 32] {
    let mut seed = [0x5a; 32];
    seed[..4].copy_from_slice(&id.to_be_bytes());
    seed
}

/// The keyring of general `id` among `n`, the same in every run.
pub fn keyring(id: GeneralId, n: u32) -> Keyring {
    let public: Vec<[u8; 32]> = (0..n)
        .map(|g| {
            SigningKey::from_bytes(&secret(g))
                .verifying_key()
                .to_bytes()
        })
        .collect();
    Keyring::new(id, secret(id), &public).expect("test keys are consistent")
}

enum Event {
    Deliver {
        from: GeneralId,
        to: GeneralId,
        bytes: Vec<u8>,
    },
    Fire {
        general: GeneralId,
        timer: Timer,
    },
}

/// One simulated army.
pub struct Sim {
    now: u64,
    generals: Vec<General>,
    traitor_keys: BTreeMap<GeneralId, Keyring>,
    traitors: BTreeMap<GeneralId, Box<dyn Traitor>>,
    events: BTreeMap<(u64, u64), Event>,
    next_event: u64,
    rng: StdRng,
    /// Frames delivered so far.
    pub delivered: usize,
    /// Frames the generals refused, with who refused them.
    pub rejections: Vec<(GeneralId, Rejection)>,
}

/// The shape of one simulated run.
pub struct Scenario {
    pub n: u32,
    pub algo: Algo,
    pub m: usize,
    pub bug: Option<Bug>,
    pub seed: u64,
    pub traitors: Vec<(GeneralId, Box<dyn Traitor>)>,
}

impl Scenario {
    /// `n` loyal generals running `algo` with parameter `m`, commander 0.
    pub fn new(n: u32, algo: Algo, m: usize, seed: u64) -> Scenario {
        Scenario {
            n,
            algo,
            m,
            bug: None,
            seed,
            traitors: Vec::new(),
        }
    }

    pub fn with_bug(mut self, bug: Bug) -> Scenario {
        self.bug = Some(bug);
        self
    }

    pub fn with_traitor(mut self, id: GeneralId, traitor: impl Traitor + 'static) -> Scenario {
        self.traitors.push((id, Box::new(traitor)));
        self
    }
}

/// Which of the generals' properties held for one instance.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verdict {
    /// The decision of every general, `None` where it decided nothing.
    pub decisions: Vec<Option<Plan>>,
    /// Loyal lieutenants that decided all decided the same.
    pub agreement: bool,
    /// With a loyal commander, every loyal lieutenant that decided obeyed its order.
    pub validity: bool,
    /// Every loyal lieutenant decided.
    pub termination: bool,
}

impl Verdict {
    pub fn holds(&self) -> bool {
        self.agreement && self.validity && self.termination
    }
}

impl Sim {
    /// Builds the army of `scenario`.
    pub fn new(scenario: Scenario) -> Sim {
        let Scenario {
            n,
            algo,
            m,
            bug,
            seed,
            traitors,
        } = scenario;
        let generals = (0..n)
            .map(|id| {
                let config = Config {
                    id,
                    n,
                    commander: 0,
                    algo,
                    m,
                    round_ms: ROUND_MS,
                    bug,
                };
                General::new(config, keyring(id, n))
            })
            .collect();
        let traitor_keys = traitors
            .iter()
            .map(|(id, _)| (*id, keyring(*id, n)))
            .collect();
        Sim {
            now: 0,
            generals,
            traitor_keys,
            traitors: traitors.into_iter().collect(),
            events: BTreeMap::new(),
            next_event: 0,
            rng: StdRng::seed_from_u64(seed),
            delivered: 0,
            rejections: Vec::new(),
        }
    }

    fn schedule(&mut self, at: u64, event: Event) {
        self.events.insert((at, self.next_event), event);
        self.next_event += 1;
    }

    fn apply(&mut self, from: GeneralId, effects: Effects) {
        for rejection in effects.rejections {
            self.rejections.push((from, rejection));
        }
        for request in effects.timers {
            self.schedule(
                request.at_ms,
                Event::Fire {
                    general: from,
                    timer: request.timer,
                },
            );
        }
        for send in effects.sends {
            let frames: Vec<Vec<u8>> = match self.traitors.get_mut(&from) {
                None => vec![send.frame.to_json()],
                Some(traitor) => {
                    let keys = &self.traitor_keys[&from];
                    let garble = traitor.garbles(send.to);
                    traitor
                        .outgoing(keys, send.to, send.frame.body, &mut self.rng)
                        .into_iter()
                        .map(|body| keys.seal(body))
                        .map(|frame| {
                            if garble {
                                garbled(&frame)
                            } else {
                                frame.to_json()
                            }
                        })
                        .collect()
                }
            };
            for bytes in frames {
                let delay = self.rng.random_range(1..=MAX_DELAY_MS);
                self.schedule(
                    self.now + delay,
                    Event::Deliver {
                        from,
                        to: send.to,
                        bytes,
                    },
                );
            }
        }
    }

    /// The commander receives the client order `value` now.
    pub fn order(&mut self, value: Plan) {
        let origin = Origin {
            client: "c1".into(),
            req: 1,
        };
        let (_, effects) = self.generals[0]
            .order(origin, value)
            .expect("general 0 commands");
        self.apply(0, effects);
    }

    /// Runs until nothing is in flight; returns the virtual time it took.
    pub fn run(&mut self) -> u64 {
        while let Some(((at, _), event)) = self.events.pop_first() {
            self.now = at;
            match event {
                Event::Deliver { from, to, bytes } => {
                    self.delivered += 1;
                    // As the node's transport: a frame that is not a generals message is
                    // logged and dropped, so its path is missing (RETREAT at its round's end).
                    let frame = match Frame::from_json(&bytes) {
                        Ok(frame) => frame,
                        Err(e) => {
                            let reason = format!("not a generals message: {e}");
                            self.rejections.push((to, Rejection { from, reason }));
                            continue;
                        }
                    };
                    let effects = self.generals[to as usize].on_frame(at, frame);
                    self.apply(to, effects);
                }
                Event::Fire { general, timer } => {
                    let effects = self.generals[general as usize].on_timer(timer);
                    self.apply(general, effects);
                }
            }
        }
        self.now
    }

    /// What each general decided for `instance`.
    pub fn decisions(&self, instance: u64) -> Vec<Option<Plan>> {
        self.generals
            .iter()
            .map(|g| g.decided().get(&instance).map(|d| d.value))
            .collect()
    }

    /// Agreement, validity and termination of `instance`, whose order was `ordered`.
    pub fn verdict(&self, instance: u64, ordered: Plan) -> Verdict {
        let decisions = self.decisions(instance);
        let loyal_lieutenants: Vec<usize> = (1..decisions.len())
            .filter(|g| !self.traitors.contains_key(&(*g as GeneralId)))
            .collect();
        let decided: BTreeSet<Plan> = loyal_lieutenants
            .iter()
            .filter_map(|&g| decisions[g])
            .collect();
        let commander_loyal = !self.traitors.contains_key(&0);
        Verdict {
            agreement: decided.len() <= 1,
            validity: !commander_loyal || decided.iter().all(|&p| p == ordered),
            termination: loyal_lieutenants.iter().all(|&g| decisions[g].is_some()),
            decisions,
        }
    }
}

/// Runs `scenario` for one order and judges it.
pub fn run_one(scenario: Scenario, ordered: Plan) -> Verdict {
    let mut sim = Sim::new(scenario);
    sim.order(ordered);
    sim.run();
    sim.verdict(0, ordered)
}
