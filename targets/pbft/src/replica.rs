//! The PBFT replica as a pure, deterministic state machine: inputs are client requests,
//! verified-or-rejected peer messages and timer expiries; outputs are sends, broadcasts,
//! client replies and timer requests. No I/O and no clock, so the same core runs over TCP in
//! the node binary and inside a seeded simulated network in the tests.

use std::collections::{BTreeMap, VecDeque};

use crate::bug::Bug;
use crate::catch_up::CatchUp;
use crate::checkpoint::Checkpoints;
use crate::crypto::{request_digest, Keyring};
use crate::history::{History, LogEntry};
use crate::messages::{Digest, Envelope, ExecutedEntry, Message, NodeId, Op, Request};
use crate::rules::Rules;
use crate::slot::{pre_prepare_fields, Slot};
use crate::state_machine::{KvStore, OpResult};
use crate::view_change::{self, Plan};

/// Static parameters of one replica.
#[derive(Clone, Debug)]
pub struct ReplicaConfig {
    pub id: NodeId,
    pub n: usize,
    pub f: usize,
    /// Sequence numbers between checkpoints (K).
    pub checkpoint_interval: u64,
    /// How long a backup waits for a request to execute before suspecting the primary.
    pub request_timeout_ms: u64,
    /// Period of the catch-up check.
    pub tick_ms: u64,
    pub bug: Option<Bug>,
}

/// The kinds of timers the core asks its driver to run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum TimerKind {
    /// A backup waits for a pending request to execute.
    Request,
    /// A replica waits for the new view it voted for.
    ViewChange,
    /// Periodic catch-up check.
    Tick,
}

/// A timer instance; an expiry whose token is no longer current is ignored.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Timer {
    pub kind: TimerKind,
    pub token: u64,
}

/// What the driver must do after a step.
#[derive(Clone, Debug, PartialEq)]
pub enum Output {
    /// Send to one replica.
    Send { to: NodeId, env: Envelope },
    /// Send to every other replica.
    Broadcast { env: Envelope },
    /// Answer the client waiting for (client, req) at this node, if any.
    Reply {
        client: String,
        req: u64,
        result: OpResult,
    },
    /// Call `on_timer(timer)` after `after_ms`.
    SetTimer { timer: Timer, after_ms: u64 },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Status {
    Normal,
    ViewChanging,
}

/// Most catch-up entries sent in one answer.
const FETCH_BATCH: usize = 64;
/// Cap on the exponent of the view-change timer backoff.
const MAX_BACKOFF_SHIFT: u32 = 6;

/// One PBFT replica.
pub struct Replica {
    id: NodeId,
    rules: Rules,
    keys: Keyring,
    checkpoint_interval: u64,
    window: u64,
    request_timeout_ms: u64,
    tick_ms: u64,

    view: u64,
    status: Status,
    next_seq: u64,
    slots: BTreeMap<u64, Slot>,
    decided: BTreeMap<u64, ExecutedEntry>,
    kv: KvStore,
    last_reply: BTreeMap<String, (u64, OpResult)>,
    history: History,
    checkpoints: Checkpoints,
    catch_up: CatchUp,

    /// Requests this replica waits to see executed.
    pending: BTreeMap<(String, u64), Request>,
    /// Primary: requests waiting for room below the high watermark.
    queued: VecDeque<Request>,
    /// Primary: requests already given a sequence number in this view.
    assigned: std::collections::BTreeSet<(String, u64)>,

    view_changes: BTreeMap<u64, BTreeMap<NodeId, Envelope>>,
    failed_views: u32,

    next_token: u64,
    request_timer: Option<u64>,
    view_change_timer: Option<u64>,
    tick_timer: Option<u64>,

    out: Vec<Output>,
}

impl Replica {
    /// A fresh replica in view 0 with empty state.
    pub fn new(config: ReplicaConfig, keys: Keyring) -> Self {
        let keys = if config.bug == Some(Bug::SkipSignatureCheck) {
            keys.without_verification()
        } else {
            keys
        };
        Replica {
            id: config.id,
            rules: Rules {
                n: config.n,
                f: config.f,
                bug: config.bug,
            },
            keys,
            checkpoint_interval: config.checkpoint_interval.max(1),
            window: 2 * config.checkpoint_interval.max(1),
            request_timeout_ms: config.request_timeout_ms,
            tick_ms: config.tick_ms,
            view: 0,
            status: Status::Normal,
            next_seq: 1,
            slots: BTreeMap::new(),
            decided: BTreeMap::new(),
            kv: KvStore::default(),
            last_reply: BTreeMap::new(),
            history: History::default(),
            checkpoints: Checkpoints::default(),
            catch_up: CatchUp::default(),
            pending: BTreeMap::new(),
            queued: VecDeque::new(),
            assigned: Default::default(),
            view_changes: BTreeMap::new(),
            failed_views: 0,
            next_token: 0,
            request_timer: None,
            view_change_timer: None,
            tick_timer: None,
            out: Vec::new(),
        }
    }

    // ----- queries -----

    /// This replica's id.
    pub fn id(&self) -> NodeId {
        self.id
    }

    /// The quorum rules in force.
    pub fn rules(&self) -> &Rules {
        &self.rules
    }

    /// The current view (the target view while a view change is in progress).
    pub fn view(&self) -> u64 {
        self.view
    }

    /// The primary of the current view.
    pub fn primary(&self) -> NodeId {
        self.rules.primary(self.view)
    }

    /// Whether the replica works normally (not waiting for a new view).
    pub fn is_normal(&self) -> bool {
        self.status == Status::Normal
    }

    /// Highest executed sequence number.
    pub fn committed(&self) -> u64 {
        self.history.height()
    }

    /// The low watermark (latest stable checkpoint).
    pub fn stable_checkpoint(&self) -> u64 {
        self.checkpoints.stable_seq()
    }

    /// Number of sequence numbers for which protocol messages are still held.
    pub fn protocol_log_len(&self) -> usize {
        self.slots.len()
    }

    /// Every executed entry in order.
    pub fn executed(&self) -> &[ExecutedEntry] {
        self.history.entries()
    }

    /// `GET /log` entries from `from_seq` on.
    pub fn log_from(&self, from_seq: u64) -> Vec<LogEntry> {
        self.history.log_from(from_seq)
    }

    // ----- inputs -----

    /// Arms the periodic timer; call once when the replica starts.
    pub fn start(&mut self) -> Vec<Output> {
        self.arm_tick();
        self.take()
    }

    /// A client request received at this node.
    pub fn on_request(&mut self, request: Request) -> Vec<Output> {
        if self.rules.has(Bug::LocalReads) {
            if let Op::Read { key } = &request.op {
                self.out.push(Output::Reply {
                    client: request.client.clone(),
                    req: request.req,
                    result: OpResult::Ok {
                        value: self.kv.read(key),
                    },
                });
                return self.take();
            }
        }
        self.accept_request(request, true);
        self.take()
    }

    /// A message from a peer; dropped unless well-formed and correctly signed by `from`.
    pub fn on_message(&mut self, env: Envelope) -> Vec<Output> {
        let from = env.from;
        if from as usize >= self.rules.n || from == self.id {
            tracing::warn!(from, "dropping message with an impossible sender");
            return self.take();
        }
        if !self.keys.verify(&env) {
            tracing::warn!(from, "dropping badly signed message");
            return self.take();
        }
        match env.msg.clone() {
            Message::Request { request } => self.accept_request(request, false),
            Message::PrePrepare { .. } => self.on_pre_prepare(env),
            Message::Prepare { view, seq, .. } => self.on_prepare(view, seq, env),
            Message::Commit { view, seq, digest } => self.on_commit(from, view, seq, digest),
            Message::Checkpoint { seq, .. } => {
                self.catch_up.saw_height(from, seq);
                self.record_checkpoint(env);
            }
            Message::ViewChange { new_view, .. } => self.on_view_change(new_view, env),
            Message::NewView { .. } => self.on_new_view(env),
            Message::Fetch { from_seq } => self.on_fetch(from, from_seq),
            Message::Entries {
                view,
                normal,
                committed,
                entries,
            } => self.on_entries(from, view, normal, committed, entries),
        }
        self.take()
    }

    /// A timer the driver was asked to run has expired.
    pub fn on_timer(&mut self, timer: Timer) -> Vec<Output> {
        match timer.kind {
            TimerKind::Request if self.request_timer == Some(timer.token) => {
                self.request_timer = None;
                if self.status == Status::Normal && !self.pending.is_empty() {
                    tracing::info!(
                        view = self.view,
                        "request timer expired, suspecting the primary"
                    );
                    self.start_view_change(self.view + 1);
                }
            }
            TimerKind::ViewChange if self.view_change_timer == Some(timer.token) => {
                self.view_change_timer = None;
                if self.status == Status::ViewChanging {
                    tracing::info!(view = self.view, "no new view in time, trying the next one");
                    self.start_view_change(self.view + 1);
                }
            }
            TimerKind::Tick if self.tick_timer == Some(timer.token) => self.on_tick(),
            _ => {}
        }
        self.take()
    }

    // ----- helpers -----

    fn take(&mut self) -> Vec<Output> {
        std::mem::take(&mut self.out)
    }

    fn broadcast(&mut self, msg: Message) -> Envelope {
        let env = self.keys.sign(msg);
        self.out.push(Output::Broadcast { env: env.clone() });
        env
    }

    fn send(&mut self, to: NodeId, msg: Message) {
        let env = self.keys.sign(msg);
        self.out.push(Output::Send { to, env });
    }

    fn set_timer(&mut self, kind: TimerKind, after_ms: u64) -> u64 {
        self.next_token += 1;
        let token = self.next_token;
        self.out.push(Output::SetTimer {
            timer: Timer { kind, token },
            after_ms,
        });
        token
    }

    fn arm_tick(&mut self) {
        self.tick_timer = Some(self.set_timer(TimerKind::Tick, self.tick_ms));
    }

    fn is_acting_primary(&self) -> bool {
        self.status == Status::Normal && self.primary() == self.id
    }

    /// Whether protocol messages for `seq` are kept. The primary proposes only up to
    /// low + window; accepting up to twice that lets a backup whose low watermark trails the
    /// primary's by a checkpoint keep up instead of dropping pre-prepares.
    fn in_window(&self, seq: u64) -> bool {
        let low = self.checkpoints.stable_seq();
        seq > low && seq <= low + 2 * self.window
    }

    /// The stored reply if (client, req) was already executed; `Err(())` if it is older than
    /// the last executed request of that client.
    fn executed_reply(&self, request: &Request) -> Option<Result<OpResult, ()>> {
        let (last, result) = self.last_reply.get(&request.client)?;
        match request.req.cmp(last) {
            std::cmp::Ordering::Equal => Some(Ok(result.clone())),
            std::cmp::Ordering::Less => Some(Err(())),
            std::cmp::Ordering::Greater => None,
        }
    }

    fn ensure_request_timer(&mut self) {
        if self.status == Status::Normal
            && self.primary() != self.id
            && !self.pending.is_empty()
            && self.request_timer.is_none()
        {
            self.request_timer = Some(self.set_timer(TimerKind::Request, self.request_timeout_ms));
        }
    }

    // ----- normal case -----

    /// Whether a client request is authentic: the same request (signature included) already
    /// waits here, so it was checked on arrival, or the client authority signed it.
    fn request_is_authentic(&self, request: &Request) -> bool {
        self.pending.get(&request.key()) == Some(request) || self.keys.verify_request(request)
    }

    fn accept_request(&mut self, request: Request, from_client: bool) {
        if !self.request_is_authentic(&request) {
            tracing::warn!(
                client = request.client,
                req = request.req,
                "dropping request not signed by the client authority"
            );
            return;
        }
        if !self.rules.has(Bug::RetryExecutesTwice) {
            match self.executed_reply(&request) {
                Some(Ok(result)) => {
                    self.out.push(Output::Reply {
                        client: request.client,
                        req: request.req,
                        result,
                    });
                    return;
                }
                Some(Err(())) => return,
                None => {}
            }
        }
        self.pending.insert(request.key(), request.clone());
        if self.is_acting_primary() {
            self.propose(request);
        } else if self.status == Status::Normal {
            // Like a PBFT client retransmitting to all replicas: every backup then times the
            // primary on this request, so a stalled primary is suspected by enough of them.
            if from_client {
                self.broadcast(Message::Request { request });
            }
            self.ensure_request_timer();
        }
    }

    fn propose(&mut self, request: Request) {
        if !self.rules.has(Bug::RetryExecutesTwice) && self.assigned.contains(&request.key()) {
            return;
        }
        if self.next_seq > self.checkpoints.stable_seq() + self.window {
            self.queued.push_back(request);
            return;
        }
        let seq = self.next_seq;
        self.next_seq += 1;
        self.assigned.insert(request.key());
        let request = Some(request);
        let env = self.broadcast(Message::PrePrepare {
            view: self.view,
            seq,
            digest: request_digest(&request),
            request,
        });
        self.slots
            .entry(seq)
            .or_default()
            .pre_prepares
            .insert(self.view, env);
        self.check_prepared(seq, self.view);
    }

    fn drain_queue(&mut self) {
        while self.is_acting_primary()
            && self.next_seq <= self.checkpoints.stable_seq() + self.window
        {
            let Some(request) = self.queued.pop_front() else {
                break;
            };
            self.propose(request);
        }
    }

    fn on_pre_prepare(&mut self, env: Envelope) {
        let Some((view, seq, digest, request)) = pre_prepare_fields(&env) else {
            return;
        };
        let (digest, request) = (digest.clone(), request.clone());
        let from_primary =
            env.from == self.rules.primary(view) || self.rules.has(Bug::AcceptNonPrimaryPreprepare);
        if self.status != Status::Normal
            || view != self.view
            || !from_primary
            || !self.in_window(seq)
            || digest != request_digest(&request)
        {
            return;
        }
        if request
            .as_ref()
            .is_some_and(|r| !self.request_is_authentic(r))
        {
            tracing::warn!(
                from = env.from,
                seq,
                "dropping pre-prepare whose request is not signed by the client authority"
            );
            return;
        }
        let slot = self.slots.entry(seq).or_default();
        if slot.pre_prepares.contains_key(&view) {
            return;
        }
        slot.pre_prepares.insert(view, env);
        if let Some(r) = &request {
            if self.executed_reply(r).is_none() {
                self.pending.insert(r.key(), r.clone());
            }
        }
        if self.id != self.primary() {
            self.send_prepare(view, seq, digest);
        }
        self.ensure_request_timer();
        self.check_prepared(seq, view);
    }

    fn send_prepare(&mut self, view: u64, seq: u64, digest: Digest) {
        let env = self.broadcast(Message::Prepare { view, seq, digest });
        self.slots
            .entry(seq)
            .or_default()
            .prepares
            .entry(view)
            .or_default()
            .insert(self.id, env);
    }

    fn on_prepare(&mut self, view: u64, seq: u64, env: Envelope) {
        if self.status != Status::Normal || view != self.view || !self.in_window(seq) {
            return;
        }
        self.slots
            .entry(seq)
            .or_default()
            .prepares
            .entry(view)
            .or_default()
            .entry(env.from)
            .or_insert(env);
        self.check_prepared(seq, view);
    }

    fn on_commit(&mut self, from: NodeId, view: u64, seq: u64, digest: Digest) {
        self.catch_up.saw_height(from, seq);
        if self.status != Status::Normal || view != self.view || !self.in_window(seq) {
            return;
        }
        self.slots
            .entry(seq)
            .or_default()
            .commits
            .entry(view)
            .or_default()
            .entry(from)
            .or_insert(digest);
        self.check_committed(seq, view);
    }

    fn check_prepared(&mut self, seq: u64, view: u64) {
        let Some(slot) = self.slots.get_mut(&seq) else {
            return;
        };
        if !slot.is_prepared(view, &self.rules) || slot.commit_sent.contains(&view) {
            return;
        }
        slot.commit_sent.insert(view);
        let digest = slot
            .accepted(view)
            .map(|(d, _)| d.clone())
            .unwrap_or_default();
        self.broadcast(Message::Commit {
            view,
            seq,
            digest: digest.clone(),
        });
        self.slots
            .entry(seq)
            .or_default()
            .commits
            .entry(view)
            .or_default()
            .insert(self.id, digest);
        self.check_committed(seq, view);
    }

    fn check_committed(&mut self, seq: u64, view: u64) {
        if seq <= self.history.height() || self.decided.contains_key(&seq) {
            return;
        }
        let Some(slot) = self.slots.get(&seq) else {
            return;
        };
        if !slot.is_committed(view, &self.rules) {
            return;
        }
        let Some((digest, request)) = slot.accepted(view) else {
            return;
        };
        let entry = ExecutedEntry {
            seq,
            view,
            digest: digest.clone(),
            request: request.clone(),
        };
        self.decided.insert(seq, entry);
        self.execute_ready();
    }

    // ----- execution -----

    fn execute_ready(&mut self) {
        let mut progressed = false;
        while let Some(entry) = self.decided.remove(&(self.history.height() + 1)) {
            self.execute(entry);
            progressed = true;
        }
        if progressed {
            let height = self.history.height();
            self.decided.retain(|seq, _| *seq > height);
            self.catch_up.prune(height);
            self.failed_views = 0;
            self.request_timer = None;
            self.ensure_request_timer();
        }
    }

    fn execute(&mut self, entry: ExecutedEntry) {
        let took_effect = match &entry.request {
            None => true,
            Some(request) => {
                self.assigned.remove(&request.key());
                self.pending.remove(&request.key());
                let previous = if self.rules.has(Bug::RetryExecutesTwice) {
                    None
                } else {
                    self.executed_reply(request)
                };
                match previous {
                    Some(stored) => {
                        if let Ok(result) = stored {
                            self.out.push(Output::Reply {
                                client: request.client.clone(),
                                req: request.req,
                                result,
                            });
                        }
                        false
                    }
                    None => {
                        let result = self.kv.apply(&request.op);
                        self.last_reply
                            .insert(request.client.clone(), (request.req, result.clone()));
                        self.pending
                            .retain(|(c, r), _| !(c == &request.client && *r <= request.req));
                        self.out.push(Output::Reply {
                            client: request.client.clone(),
                            req: request.req,
                            result,
                        });
                        true
                    }
                }
            }
        };
        let seq = entry.seq;
        self.history.push(entry, took_effect);
        if seq.is_multiple_of(self.checkpoint_interval) {
            let env = self.broadcast(Message::Checkpoint {
                seq,
                state: self.history.state_digest().clone(),
            });
            self.record_checkpoint(env);
        }
    }

    // ----- checkpoints -----

    fn record_checkpoint(&mut self, env: Envelope) {
        if let Some(stable) = self.checkpoints.record(env, self.rules.quorum()) {
            self.on_stable(stable);
        }
    }

    fn on_stable(&mut self, stable: u64) {
        tracing::debug!(stable, "checkpoint stable, truncating the protocol log");
        self.slots.retain(|seq, _| *seq > stable);
        self.next_seq = self.next_seq.max(stable + 1);
        self.drain_queue();
    }

    // ----- view change -----

    fn start_view_change(&mut self, new_view: u64) {
        if new_view <= self.view {
            return;
        }
        tracing::info!(from = self.view, to = new_view, "starting view change");
        self.status = Status::ViewChanging;
        self.view = new_view;
        self.request_timer = None;
        self.failed_views += 1;
        let stable_seq = self.checkpoints.stable_seq();
        let prepared = self
            .slots
            .iter()
            .filter(|(seq, _)| **seq > stable_seq)
            .filter_map(|(_, slot)| slot.prepared_cert(&self.rules))
            .collect();
        let env = self.broadcast(Message::ViewChange {
            new_view,
            stable_seq,
            stable_proof: self.checkpoints.stable_proof().to_vec(),
            prepared,
        });
        self.view_changes
            .entry(new_view)
            .or_default()
            .insert(self.id, env);
        let timeout = self.request_timeout_ms << self.failed_views.min(MAX_BACKOFF_SHIFT);
        self.view_change_timer = Some(self.set_timer(TimerKind::ViewChange, timeout));
        self.try_new_view(new_view);
    }

    fn on_view_change(&mut self, new_view: u64, env: Envelope) {
        if new_view < self.view || (new_view == self.view && self.status == Status::Normal) {
            return;
        }
        if !view_change::is_valid(&self.keys, &self.rules, &env, self.window) {
            tracing::warn!(from = env.from, "dropping invalid view-change");
            return;
        }
        self.view_changes
            .entry(new_view)
            .or_default()
            .entry(env.from)
            .or_insert(env);
        // Join rule: f+1 replicas ask for views above ours, so at least one correct one does.
        let mut latest: BTreeMap<NodeId, u64> = BTreeMap::new();
        for (view, senders) in self.view_changes.range(self.view + 1..) {
            for sender in senders.keys().filter(|s| **s != self.id) {
                latest.insert(*sender, *view);
            }
        }
        if latest.len() >= self.rules.weak_quorum() {
            let smallest = latest.values().copied().min().unwrap_or(self.view + 1);
            self.start_view_change(smallest);
        }
        if self.status == Status::ViewChanging {
            self.try_new_view(self.view);
        }
    }

    fn try_new_view(&mut self, view: u64) {
        if self.rules.primary(view) != self.id
            || self.status != Status::ViewChanging
            || self.view != view
        {
            return;
        }
        let Some(votes) = self.view_changes.get(&view) else {
            return;
        };
        if votes.len() < self.rules.quorum() {
            return;
        }
        let chosen: Vec<Envelope> = votes.values().take(self.rules.quorum()).cloned().collect();
        let plan = view_change::compute_plan(&self.rules, &self.keys, &chosen);
        let pre_prepares: Vec<Envelope> = plan
            .entries
            .iter()
            .map(|(seq, digest, request)| {
                self.keys.sign(Message::PrePrepare {
                    view,
                    seq: *seq,
                    digest: digest.clone(),
                    request: request.clone(),
                })
            })
            .collect();
        tracing::info!(view, entries = pre_prepares.len(), "sending new-view");
        self.broadcast(Message::NewView {
            view,
            view_changes: chosen,
            pre_prepares: pre_prepares.clone(),
        });
        self.enter_view(view, plan, pre_prepares);
    }

    fn on_new_view(&mut self, env: Envelope) {
        let Message::NewView {
            view,
            view_changes,
            pre_prepares,
        } = &env.msg
        else {
            return;
        };
        let view = *view;
        if env.from != self.rules.primary(view)
            || view < self.view
            || (view == self.view && self.status == Status::Normal)
        {
            return;
        }
        let mut senders = std::collections::BTreeSet::new();
        for vc in view_changes {
            let for_view =
                matches!(&vc.msg, Message::ViewChange { new_view, .. } if *new_view == view);
            if !for_view
                || !self.keys.verify(vc)
                || !view_change::is_valid(&self.keys, &self.rules, vc, self.window)
            {
                tracing::warn!(view, "new-view carries an invalid view-change");
                return;
            }
            senders.insert(vc.from);
        }
        if senders.len() < self.rules.quorum() || senders.len() != view_changes.len() {
            return;
        }
        let plan = view_change::compute_plan(&self.rules, &self.keys, view_changes);
        let matches_plan = pre_prepares.len() == plan.entries.len()
            && pre_prepares
                .iter()
                .zip(&plan.entries)
                .all(|(pp, (seq, digest, request))| {
                    pp.from == env.from
                        && self.keys.verify(pp)
                        && pre_prepare_fields(pp).is_some_and(|(v, s, d, r)| {
                            v == view && s == *seq && d == digest && r == request
                        })
                });
        if !matches_plan {
            tracing::warn!(view, "new-view pre-prepares do not match the view-changes");
            return;
        }
        let pre_prepares = pre_prepares.clone();
        self.enter_view(view, plan, pre_prepares);
    }

    fn enter_view(&mut self, view: u64, plan: Plan, pre_prepares: Vec<Envelope>) {
        tracing::info!(view, primary = self.rules.primary(view), "entering view");
        self.status = Status::Normal;
        self.view = view;
        self.view_change_timer = None;
        self.request_timer = None;
        self.view_changes.retain(|v, _| *v > view);
        if plan.min_s > self.checkpoints.stable_seq() {
            self.checkpoints.adopt(plan.min_s, plan.stable_proof);
            self.on_stable(plan.min_s);
        }
        self.next_seq = plan.max_s + 1;
        self.assigned.clear();
        let primary = self.rules.primary(view);
        for pp in pre_prepares {
            let Some((_, seq, digest, request)) = pre_prepare_fields(&pp) else {
                continue;
            };
            let (digest, request) = (digest.clone(), request.clone());
            if let Some(r) = &request {
                self.assigned.insert(r.key());
            }
            self.slots
                .entry(seq)
                .or_default()
                .pre_prepares
                .insert(view, pp);
            if self.id != primary {
                self.send_prepare(view, seq, digest);
            }
            self.check_prepared(seq, view);
        }
        self.resume_pending();
    }

    /// After entering a view: the primary orders what is still waiting, backups hand it to the
    /// new primary and time it.
    fn resume_pending(&mut self) {
        let waiting: Vec<Request> = self
            .queued
            .drain(..)
            .chain(self.pending.values().cloned())
            .collect();
        for request in waiting {
            if self.executed_reply(&request).is_some() {
                self.pending.remove(&request.key());
                continue;
            }
            if self.is_acting_primary() {
                self.propose(request);
            } else {
                let primary = self.primary();
                self.send(primary, Message::Request { request });
            }
        }
        self.ensure_request_timer();
    }

    /// Moves to a view that f+1 replicas report working in (a replica that missed the new-view).
    fn adopt_view(&mut self, view: u64) {
        tracing::info!(view, "adopting the view f+1 replicas work in");
        self.status = Status::Normal;
        self.view = view;
        self.view_change_timer = None;
        self.request_timer = None;
        self.view_changes.retain(|v, _| *v > view);
        self.assigned.clear();
        self.resume_pending();
    }

    // ----- catch-up -----

    fn on_tick(&mut self) {
        self.arm_tick();
        let height = self.history.height();
        let behind = self.catch_up.should_fetch(height, self.rules.weak_quorum());
        if behind || self.status != Status::Normal {
            self.broadcast(Message::Fetch {
                from_seq: height + 1,
            });
        }
    }

    fn on_fetch(&mut self, from: NodeId, from_seq: u64) {
        let entries = self.history.entries_from(from_seq, FETCH_BATCH);
        self.send(
            from,
            Message::Entries {
                view: self.view,
                normal: self.status == Status::Normal,
                committed: self.history.height(),
                entries,
            },
        );
    }

    fn on_entries(
        &mut self,
        from: NodeId,
        view: u64,
        normal: bool,
        committed: u64,
        entries: Vec<ExecutedEntry>,
    ) {
        self.catch_up.saw_height(from, committed);
        if normal {
            self.catch_up.saw_view(from, view);
        }
        for entry in entries {
            if entry.seq <= self.history.height() || entry.digest != request_digest(&entry.request)
            {
                continue;
            }
            if entry
                .request
                .as_ref()
                .is_some_and(|r| !self.keys.verify_request(r))
            {
                tracing::warn!(
                    from,
                    seq = entry.seq,
                    "dropping catch-up entry not signed by the client authority"
                );
                continue;
            }
            let seq = entry.seq;
            if let Some(agreed) = self.catch_up.vote(from, entry, self.rules.weak_quorum()) {
                self.decided.entry(seq).or_insert(agreed);
            }
        }
        self.execute_ready();
        let agreed = self.catch_up.agreed_view(self.rules.weak_quorum());
        if agreed > self.view && self.rules.primary(agreed) != self.id {
            self.adopt_view(agreed);
        }
    }
}
