//! A seeded, in-process simulated network running real `Replica` cores: logical time, random
//! per-message delays, a programmable fault filter on every link, crashes and amnesiac
//! restarts. No sockets, no threads: the same seed gives the same run.

use std::collections::BTreeMap;

use pbft_node::bug::Bug;
use pbft_node::crypto::{public_key_hex, sign_request, ClientAuthority, Keyring};
use pbft_node::messages::{
    decode_frame, encode_frame, Envelope, ExecutedEntry, Message, NodeId, Op, Request,
};
use pbft_node::replica::{Output, Replica, ReplicaConfig, Timer};
use pbft_node::state_machine::OpResult;

/// What the filter decides for one message on one link.
pub enum Fate {
    Deliver,
    Drop,
    /// Deliver these raw frames instead (garbage, forgeries, equivocations).
    Replace(Vec<Vec<u8>>),
}

/// The filter sees (sender, receiver, envelope) for every replica output.
pub type Filter = Box<dyn FnMut(NodeId, NodeId, &Envelope) -> Fate>;

enum Event {
    Frame {
        to: NodeId,
        bytes: Vec<u8>,
    },
    Timer {
        node: NodeId,
        incarnation: u64,
        timer: Timer,
    },
    Submit {
        node: NodeId,
        request: Request,
    },
}

/// One client call as the clients saw it.
#[derive(Clone, Debug)]
pub struct Call {
    pub node: NodeId,
    pub request: Request,
    pub invoked: u64,
    pub completed: Option<(u64, OpResult)>,
}

/// SplitMix64: a tiny deterministic generator for delays.
struct SplitMix(u64);

impl SplitMix {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
}

/// The simulated cluster.
pub struct Sim {
    pub n: usize,
    secrets: Vec<[u8; 32]>,
    public: Vec<[u8; 32]>,
    bug: Option<Bug>,
    /// Whether replicas require requests signed by the client authority (`--client-key`).
    client_key: bool,
    nodes: Vec<Option<Replica>>,
    incarnation: Vec<u64>,
    now: u64,
    order: u64,
    events: BTreeMap<(u64, u64), Event>,
    rng: SplitMix,
    filter: Filter,
    /// Every client call, in invocation order.
    pub calls: Vec<Call>,
}

/// Request timeout of the simulated replicas, in simulated milliseconds.
pub const REQUEST_TIMEOUT_MS: u64 = 300;

/// Secret seed of the simulated client authority; only the clients use it.
const CLIENT_AUTHORITY_SECRET: [u8; 32] = [0xA5; 32];

impl Sim {
    /// A cluster of `n` replicas (f = (n-1)/3) all running with `bug`, without a client
    /// authority: requests are unsigned and replicas check none.
    pub fn new(n: usize, seed: u64, bug: Option<Bug>) -> Sim {
        Sim::build(n, seed, bug, false)
    }

    /// Like [`Sim::new`], but replicas require the client authority's signature on requests
    /// (`--client-key`) and clients sign theirs.
    pub fn with_client_key(n: usize, seed: u64, bug: Option<Bug>) -> Sim {
        Sim::build(n, seed, bug, true)
    }

    fn build(n: usize, seed: u64, bug: Option<Bug>, client_key: bool) -> Sim {
        let secrets: Vec<[u8; 32]> = (0..n).map(|i| [i as u8 + 1; 32]).collect();
        let public = secrets
            .iter()
            .map(|s| {
                let hex = public_key_hex(s);
                pbft_node::crypto::parse_key_hex(&hex).unwrap()
            })
            .collect();
        let mut sim = Sim {
            n,
            secrets,
            public,
            bug,
            client_key,
            nodes: Vec::new(),
            incarnation: vec![0; n],
            now: 0,
            order: 0,
            events: BTreeMap::new(),
            rng: SplitMix(seed),
            filter: Box::new(|_, _, _| Fate::Deliver),
            calls: Vec::new(),
        };
        for id in 0..n {
            sim.nodes.push(None);
            sim.restart(id as NodeId);
        }
        sim
    }

    /// The keyring of a replica, for tests that play a Byzantine node with its real key.
    pub fn keyring(&self, id: NodeId) -> Keyring {
        let keys = Keyring::new(id, &self.secrets[id as usize], &self.public).unwrap();
        if self.client_key {
            let public =
                pbft_node::crypto::parse_key_hex(&public_key_hex(&CLIENT_AUTHORITY_SECRET));
            keys.with_client_authority(ClientAuthority::from_bytes(&public.unwrap()).unwrap())
        } else {
            keys
        }
    }

    /// `request` signed by the client authority, as a genuine client request is (what a
    /// Byzantine replica can observe on the wire, never make up).
    pub fn signed(&self, request: Request) -> Request {
        sign_request(&CLIENT_AUTHORITY_SECRET, request)
    }

    /// Replaces the link filter.
    pub fn set_filter(&mut self, filter: impl FnMut(NodeId, NodeId, &Envelope) -> Fate + 'static) {
        self.filter = Box::new(filter);
    }

    /// Lets every message through again.
    pub fn heal(&mut self) {
        self.filter = Box::new(|_, _, _| Fate::Deliver);
    }

    /// The replica, if it is running.
    pub fn node(&self, id: NodeId) -> &Replica {
        self.nodes[id as usize].as_ref().expect("node is running")
    }

    /// Executed entries of a running replica.
    pub fn executed(&self, id: NodeId) -> Vec<ExecutedEntry> {
        self.node(id).executed().to_vec()
    }

    /// Stops a replica; its state is lost.
    pub fn crash(&mut self, id: NodeId) {
        self.nodes[id as usize] = None;
        self.incarnation[id as usize] += 1;
    }

    /// Starts a replica afresh (empty state, view 0), as after a crash without storage.
    pub fn restart(&mut self, id: NodeId) {
        let config = ReplicaConfig {
            id,
            n: self.n,
            f: (self.n - 1) / 3,
            checkpoint_interval: 4,
            request_timeout_ms: REQUEST_TIMEOUT_MS,
            tick_ms: 50,
            bug: self.bug,
        };
        let mut replica = Replica::new(config, self.keyring(id));
        self.incarnation[id as usize] += 1;
        let outputs = replica.start();
        self.nodes[id as usize] = Some(replica);
        self.dispatch(id, outputs);
    }

    /// A client sends a request to a node now.
    pub fn submit(&mut self, node: NodeId, client: &str, req: u64, op: Op) {
        let request = Request {
            client: client.into(),
            req,
            op,
            sig: None,
        };
        let request = if self.client_key {
            self.signed(request)
        } else {
            request
        };
        self.calls.push(Call {
            node,
            request: request.clone(),
            invoked: self.now,
            completed: None,
        });
        self.schedule(0, Event::Submit { node, request });
    }

    /// Delivers a raw frame to `to` now, bypassing the filter (an adversary's injection).
    pub fn inject(&mut self, to: NodeId, bytes: Vec<u8>) {
        self.schedule(0, Event::Frame { to, bytes });
    }

    /// Signs `msg` as `as_node` (a Byzantine node using its own key) and injects it.
    pub fn inject_signed(&mut self, as_node: NodeId, to: NodeId, msg: Message) {
        let env = self.keyring(as_node).sign(msg);
        self.inject(to, encode_frame(&env));
    }

    /// Runs the simulation for `ms` simulated milliseconds.
    pub fn run_for(&mut self, ms: u64) {
        let until = self.now + ms;
        while let Some((&(at, order), _)) = self.events.iter().next() {
            if at > until {
                break;
            }
            let event = self.events.remove(&(at, order)).unwrap();
            self.now = at;
            self.handle(event);
        }
        self.now = until;
    }

    /// The first answer a client got for (client, req).
    pub fn reply(&self, client: &str, req: u64) -> Option<OpResult> {
        self.calls
            .iter()
            .find(|c| c.request.client == client && c.request.req == req)
            .and_then(|c| c.completed.as_ref().map(|(_, r)| r.clone()))
    }

    fn schedule(&mut self, delay: u64, event: Event) {
        self.order += 1;
        self.events.insert((self.now + delay, self.order), event);
    }

    fn handle(&mut self, event: Event) {
        match event {
            Event::Frame { to, bytes } => {
                let Some(replica) = self.nodes[to as usize].as_mut() else {
                    return;
                };
                let Ok(env) = decode_frame(&bytes) else {
                    return;
                };
                let outputs = replica.on_message(env);
                self.dispatch(to, outputs);
            }
            Event::Timer {
                node,
                incarnation,
                timer,
            } => {
                if incarnation != self.incarnation[node as usize] {
                    return;
                }
                if let Some(replica) = self.nodes[node as usize].as_mut() {
                    let outputs = replica.on_timer(timer);
                    self.dispatch(node, outputs);
                }
            }
            Event::Submit { node, request } => {
                if let Some(replica) = self.nodes[node as usize].as_mut() {
                    let outputs = replica.on_request(request);
                    self.dispatch(node, outputs);
                }
            }
        }
    }

    fn route(&mut self, from: NodeId, to: NodeId, env: &Envelope) {
        let frames = match (self.filter)(from, to, env) {
            Fate::Deliver => vec![encode_frame(env)],
            Fate::Drop => Vec::new(),
            Fate::Replace(frames) => frames,
        };
        for bytes in frames {
            let delay = 1 + self.rng.next() % 3;
            self.schedule(delay, Event::Frame { to, bytes });
        }
    }

    fn dispatch(&mut self, node: NodeId, outputs: Vec<Output>) {
        for output in outputs {
            match output {
                Output::Send { to, env } => self.route(node, to, &env),
                Output::Broadcast { env } => {
                    for to in (0..self.n as NodeId).filter(|t| *t != node) {
                        self.route(node, to, &env);
                    }
                }
                Output::Reply {
                    client,
                    req,
                    result,
                } => {
                    let now = self.now;
                    if let Some(call) = self.calls.iter_mut().find(|c| {
                        c.node == node
                            && c.request.client == client
                            && c.request.req == req
                            && c.completed.is_none()
                    }) {
                        call.completed = Some((now, result));
                    }
                }
                Output::SetTimer { timer, after_ms } => {
                    let incarnation = self.incarnation[node as usize];
                    self.schedule(
                        after_ms,
                        Event::Timer {
                            node,
                            incarnation,
                            timer,
                        },
                    );
                }
            }
        }
    }

    /// A one-line-per-node summary and the calls, for failure messages.
    pub fn describe(&self) -> String {
        let mut out = String::new();
        for (id, node) in self.nodes.iter().enumerate() {
            match node {
                None => out.push_str(&format!("node {id}: crashed\n")),
                Some(r) => out.push_str(&format!(
                    "node {id}: view {} normal {} committed {} executed {:?}\n",
                    r.view(),
                    r.is_normal(),
                    r.committed(),
                    r.executed()
                        .iter()
                        .map(|e| e
                            .request
                            .as_ref()
                            .map(|q| format!("{}/{}", q.client, q.req)))
                        .collect::<Vec<_>>()
                )),
            }
        }
        for call in &self.calls {
            out.push_str(&format!(
                "call at {} {}/{} {:?} invoked {} -> {:?}\n",
                call.node,
                call.request.client,
                call.request.req,
                call.request.op,
                call.invoked,
                call.completed
            ));
        }
        out
    }
}
