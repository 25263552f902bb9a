//! One direction of one proxied connection: read from the sender, cut messages, apply the
//! link's rule, write to the receiver.
//!
//! Fast path: while the link has no rule, whole messages are counted and written straight
//! from the read buffer in one `write_all` per read, with no copy. With a rule, each message
//! is decided ([`crate::decide`]) and copied into an ordered outbox with a due time;
//! the outbox is not written while the link is partitioned, so held bytes keep their order
//! and are delivered at heal. A partition keeps reading until [`HOLD_LIMIT`] bytes wait,
//! then stops reading so the sender's kernel buffers fill as on a black-holed network.
//!
//! With twins ([`crate::twins`]), a direction whose sender or receiver has a twin takes the
//! slow path: each message goes to the receiver's instance the split names, or is dropped.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

use rand::rngs::StdRng;
use rand::SeedableRng;
use tokio::io::AsyncReadExt;
use tokio::net::tcp::OwnedReadHalf;
use tokio::sync::watch;
use tokio::time::{sleep_until, Instant};

use crate::connection::{PortShape, Shared};
use crate::cut::{self, Cut, Cutter, MAX_FRAME};
use crate::decide::{decide, Message, Verdict};
use crate::links::{Carrier, Counters, Link, LinkRule, LinkTable};
use crate::observe;
use crate::sink::Sink;
use crate::trace::{Action, Trace};
use crate::twins::{Instance, Routing};
use crate::{Framing, Interceptor};
use tokio::sync::mpsc;
use traitor_model::wire::{Envelope, Fate};

/// Read buffer size: large reads keep bulk throughput high.
const BUF: usize = 128 << 10;
/// Reads are compacted to the buffer's start once less than this much room is left.
const MIN_READ: usize = 16 << 10;
/// Bytes a direction may hold (partitioned or delayed) before it stops reading.
const HOLD_LIMIT: usize = 16 << 20;
/// A message held back for reordering is released after the next one, or after this long
/// if no next one comes, so a reorder rule cannot silence a link that has gone quiet.
const REORDER_MAX_HOLD: Duration = Duration::from_secs(1);

/// An oversize message being passed through without buffering.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Passing {
    No,
    Bytes(usize),
    ToNewline,
}

struct Pending {
    due: Instant,
    bytes: Vec<u8>,
    /// The receiver's instance it goes to.
    to: Instance,
}

struct HeldBack {
    bytes: Vec<u8>,
    until: Instant,
    to: Instance,
}

/// Messages and bytes seen during one `process` call, added to the link's counters once.
#[derive(Default)]
struct Tally {
    messages: u64,
    bytes: u64,
}

pub(crate) struct Pipe {
    link: Arc<Link>,
    rules: watch::Receiver<LinkRule>,
    rule: LinkRule,
    framing: Framing,
    cutter: Cutter,
    rng: StdRng,
    trace: Arc<Trace>,
    buf: Vec<u8>,
    start: usize,
    end: usize,
    /// Total size of the incomplete message at the buffer's front, when known.
    want: Option<usize>,
    passing: Passing,
    outbox: VecDeque<Pending>,
    outbox_bytes: usize,
    last_due: Instant,
    held_back: Option<HeldBack>,
    interceptor: Option<Arc<dyn Interceptor>>,
    /// Every link of the run, for messages the interceptor adds on other links.
    table: Arc<LinkTable>,
    run_start: std::time::Instant,
    /// Messages added on this link by the interceptor (while this is its newest pipe).
    injected: mpsc::UnboundedReceiver<Vec<u8>>,
    /// The sender's instance (1 when the sender is a twin), for the trace.
    instance: Instance,
    /// How the twins' split routes this direction's messages.
    routing: Routing,
    /// Where the message being handled goes: the receiver's instance, or `None` when the
    /// split drops it.
    to: Option<Instance>,
}

impl Pipe {
    /// One direction of a connection on `link`, sent by the sender's `instance` and routed
    /// by `routing`; `carrier` says which direction, for where injected messages go.
    pub fn new(
        link: Arc<Link>,
        carrier: Carrier,
        shared: &Shared,
        port: PortShape,
        seed: u64,
        instance: Instance,
        routing: Routing,
    ) -> Pipe {
        let mut rules = link.subscribe();
        let rule = rules.borrow_and_update().clone();
        let (inject, injected) = mpsc::unbounded_channel();
        // Adversaries speak on the main port: its connections carry what they inject.
        if port.is_main() {
            link.set_injector(carrier, inject);
        }
        Pipe {
            link,
            rules,
            rule,
            framing: port.framing,
            cutter: Cutter::new(port.framing),
            rng: StdRng::seed_from_u64(seed),
            trace: Arc::clone(&shared.trace),
            interceptor: shared.interceptor.clone().filter(|_| port.is_main()),
            table: Arc::clone(&shared.table),
            run_start: shared.run_start,
            injected,
            instance,
            routing,
            to: None,
            buf: vec![0; BUF],
            start: 0,
            end: 0,
            want: None,
            passing: Passing::No,
            outbox: VecDeque::new(),
            outbox_bytes: 0,
            last_due: Instant::now(),
            held_back: None,
        }
    }

    /// Forwards until the sender closes and everything held is delivered (then half-closes
    /// the receiver), or until an I/O error.
    pub async fn run(mut self, mut src: OwnedReadHalf, mut dst: Sink) -> std::io::Result<()> {
        let mut eof = false;
        loop {
            if eof && self.start == self.end && self.outbox.is_empty() && self.held_back.is_none() {
                return dst.shutdown().await;
            }
            self.make_room();
            let can_read = !eof && self.outbox_bytes < HOLD_LIMIT;
            let next_due = self
                .outbox
                .front()
                .filter(|_| !self.rule.partitioned)
                .map(|p| p.due);
            let release_at = self.held_back.as_ref().map(|h| h.until);
            let never = Instant::now() + Duration::from_secs(86_400);
            tokio::select! {
                biased;
                changed = self.rules.changed() => {
                    if changed.is_err() {
                        return Ok(()); // the proxy is gone
                    }
                    self.rule = self.rules.borrow_and_update().clone();
                    if self.rule.reorder == 0.0 {
                        self.release_held_back();
                    }
                }
                _ = sleep_until(next_due.unwrap_or(never)), if next_due.is_some() => {
                    self.deliver_due(&mut dst).await?;
                }
                _ = sleep_until(release_at.unwrap_or(never)), if release_at.is_some() => {
                    self.release_held_back();
                }
                Some(frame) = self.injected.recv() => match self.routing.target() {
                    Some(to) => {
                        self.trace_message(&frame, frame.len(), Action::Inject);
                        self.enqueue(frame, Instant::now(), to);
                    }
                    None => self.trace_message(&frame, frame.len(), Action::Drop),
                },
                read = src.read(&mut self.buf[self.end..]), if can_read => {
                    match read? {
                        0 => {
                            eof = true;
                            // An incomplete last message goes out as the raw bytes it is.
                            if self.start < self.end {
                                self.to = self.routing.destination();
                                self.passing = Passing::Bytes(self.end - self.start);
                            }
                        }
                        n => self.end += n,
                    }
                    self.process(&mut dst).await?;
                }
            }
        }
    }

    /// Ensures the next read has room: compacts the buffer, grows it for a known large
    /// message (up to [`MAX_FRAME`]), and shrinks it back once empty.
    fn make_room(&mut self) {
        if self.start == self.end {
            self.start = 0;
            self.end = 0;
            if self.buf.len() > BUF {
                self.buf = vec![0; BUF];
            }
            return;
        }
        let pending = self.end - self.start;
        // The whole incomplete message when its size is known, else room for a good read.
        let needed = self.want.unwrap_or(pending + MIN_READ);
        let room = MIN_READ.min(needed - pending).max(1);
        if self.buf.len() - self.end >= room && self.start + needed <= self.buf.len() {
            return;
        }
        self.buf.copy_within(self.start..self.end, 0);
        self.start = 0;
        self.end = pending;
        if self.buf.len() - self.end < room || needed > self.buf.len() {
            let grown = (self.buf.len() * 2).min(MAX_FRAME + 5).max(needed);
            self.buf.resize(grown, 0);
        }
    }

    /// Whether a message can be written at once from the buffer: nothing waits before it,
    /// the link is open and no twins' split has a say.
    fn direct(&self) -> bool {
        !self.rule.partitioned
            && self.outbox.is_empty()
            && self.held_back.is_none()
            && !self.routing.is_active()
    }

    /// Handles every whole message (and any passed-through bytes) in the buffer.
    async fn process(&mut self, dst: &mut Sink) -> std::io::Result<()> {
        let mut tally = Tally::default();
        // Bytes [run_from, self.start) are delivered as they are, in one write.
        let mut run_from = self.start;
        loop {
            if self.passing != Passing::No {
                let available = &self.buf[self.start..self.end];
                let (take, rest) = match self.passing {
                    Passing::Bytes(n) if n > available.len() => {
                        (available.len(), Passing::Bytes(n - available.len()))
                    }
                    Passing::Bytes(n) => (n, Passing::No),
                    _ => match memchr::memchr(b'\n', available) {
                        Some(i) => (i + 1, Passing::No),
                        None => (available.len(), Passing::ToNewline),
                    },
                };
                if take == 0 {
                    break;
                }
                self.passing = rest;
                tally.bytes += take as u64;
                if self.direct() {
                    self.start += take;
                } else {
                    write_run(dst, &self.buf[run_from..self.start]).await?;
                    let bytes = self.buf[self.start..self.start + take].to_vec();
                    self.start += take;
                    run_from = self.start;
                    let due = self.last_due;
                    if let Some(to) = self.to {
                        self.enqueue(bytes, due, to);
                    }
                }
                continue;
            }
            match self.cutter.cut(&self.buf[self.start..self.end]) {
                Cut::Partial(total) => {
                    self.want = total;
                    break;
                }
                Cut::Oversize(total) => {
                    self.want = None;
                    tally.messages += 1;
                    self.passing = total.map_or(Passing::ToNewline, Passing::Bytes);
                    let size = total.unwrap_or(self.end - self.start);
                    let head = self.start..self.start + 4.min(self.end - self.start);
                    // With twins an oversize message is dropped whole: its pieces must not
                    // interleave with the other instance's messages, and losing a message
                    // to or from a Byzantine node is within what that node may do.
                    self.to = if self.routing.is_active() {
                        None
                    } else {
                        self.routing.target()
                    };
                    let action = if self.to.is_some() {
                        Action::Deliver
                    } else {
                        Counters::add(&self.link.counters.dropped, 1);
                        Action::Drop
                    };
                    self.trace_message(&self.buf[head], size, action);
                }
                Cut::Whole(n) => {
                    self.want = None;
                    tally.messages += 1;
                    tally.bytes += n as u64;
                    self.to = self.routing.destination();
                    let (verdict, replacement) = self.verdict(n);
                    if replacement.is_none() && verdict == Verdict::default() && self.direct() {
                        self.trace_message(
                            &self.buf[self.start..self.start + n],
                            n,
                            Action::Deliver,
                        );
                        self.start += n;
                        continue;
                    }
                    write_run(dst, &self.buf[run_from..self.start]).await?;
                    self.divert(n, verdict, replacement);
                    run_from = self.start;
                }
            }
        }
        write_run(dst, &self.buf[run_from..self.start]).await?;
        let counters = &self.link.counters;
        Counters::add(&counters.messages, tally.messages);
        Counters::add(&counters.bytes, tally.bytes);
        Ok(())
    }

    /// Decides the `n`-byte message at the buffer's front: first whether the twins' split
    /// delivers it at all (`self.to`), then what the interceptor (the sender's adversaries)
    /// does with it, then what the network does to what is sent. Returns the verdict and,
    /// when an adversary replaced the message, the new frame.
    fn verdict(&mut self, n: usize) -> (Verdict, Option<Vec<u8>>) {
        let mut verdict = Verdict::default();
        if self.to.is_none() {
            verdict.drop = true;
            return (verdict, None);
        }
        let mut replacement = None;
        if let (Some(interceptor), true) = (&self.interceptor, self.framing.is_framed()) {
            let frame = &self.buf[self.start..self.start + n];
            let envelope = Envelope {
                from: self.link.from,
                to: self.link.to,
                time: self.run_start.elapsed().as_nanos() as u64,
                payload: cut::payload(self.framing, frame).to_vec(),
            };
            let actions = interceptor.intercept(&envelope);
            for added in actions.inject {
                let link = self.table.get(added.from, added.to);
                if !link.is_some_and(|l| l.inject(cut::frame(self.framing, &added.payload))) {
                    tracing::debug!(
                        "proxy: no open link {}->{} for an injected message",
                        added.from,
                        added.to
                    );
                }
            }
            match actions.fate.unwrap_or_default() {
                Fate::Deliver => {}
                Fate::Drop => {
                    verdict.drop = true;
                    return (verdict, None);
                }
                Fate::Delay { by } => verdict.delay = by,
                Fate::Duplicate => verdict.duplicate = true,
                Fate::Replace { payload } => replacement = Some(cut::frame(self.framing, &payload)),
            }
        }
        if self.rule.needs_decisions() {
            let message = Message {
                from: self.link.from,
                to: self.link.to,
                bytes: replacement
                    .as_deref()
                    .unwrap_or(&self.buf[self.start..self.start + n]),
                framed: self.framing.is_framed(),
            };
            let network = decide(&self.rule, &mut self.rng, &message);
            verdict = Verdict {
                drop: network.drop,
                duplicate: verdict.duplicate || network.duplicate,
                reorder: network.reorder,
                delay: verdict.delay + network.delay,
            };
        }
        (verdict, replacement)
    }

    /// Applies a verdict to the `n`-byte message at the buffer's front that cannot go out
    /// directly: dropped, or copied into the outbox (delayed, duplicated, held by a
    /// partition, held back for reordering).
    fn divert(&mut self, n: usize, verdict: Verdict, replacement: Option<Vec<u8>>) {
        let frame = self.start..self.start + n;
        self.start += n;
        let counters = &self.link.counters;
        let action = if verdict.drop {
            Action::Drop
        } else if self.rule.partitioned {
            Action::Hold
        } else if replacement.is_some() {
            Action::Replace
        } else if verdict.reorder && self.held_back.is_none() {
            Action::Reorder
        } else if verdict.duplicate {
            Action::Duplicate
        } else if !verdict.delay.is_zero() {
            Action::Delay
        } else {
            Action::Deliver
        };
        let bytes = replacement.unwrap_or_else(|| self.buf[frame].to_vec());
        self.trace_message(&bytes, bytes.len(), action);
        let Some(to) = self.to.filter(|_| !verdict.drop) else {
            Counters::add(&counters.dropped, 1);
            return;
        };
        if self.rule.partitioned {
            Counters::add(&counters.held, 1);
        }
        if !verdict.delay.is_zero() {
            Counters::add(&counters.delayed, 1);
        }
        let due = Instant::now() + verdict.delay;
        if verdict.duplicate {
            Counters::add(&counters.duplicated, 1);
            self.enqueue(bytes.clone(), due, to);
        }
        if verdict.reorder && self.held_back.is_none() {
            self.held_back = Some(HeldBack {
                bytes,
                until: Instant::now() + REORDER_MAX_HOLD,
                to,
            });
            return;
        }
        self.enqueue(bytes, due, to);
        self.release_held_back();
    }

    fn trace_message(&self, frame: &[u8], size: usize, action: Action) {
        if self.trace.wants() {
            let content = observe::content(self.framing, frame);
            let instance = (self.instance != 0).then_some(self.instance);
            self.trace.record(
                self.link.from,
                self.link.to,
                size,
                content,
                action,
                instance,
            );
        }
    }

    /// Queues bytes behind everything already waiting (due times never go backwards, so
    /// order is kept per connection).
    fn enqueue(&mut self, bytes: Vec<u8>, due: Instant, to: Instance) {
        let due = due.max(self.last_due);
        self.last_due = due;
        self.outbox_bytes += bytes.len();
        self.outbox.push_back(Pending { due, bytes, to });
    }

    fn release_held_back(&mut self) {
        if let Some(held) = self.held_back.take() {
            let due = self.last_due;
            self.enqueue(held.bytes, due, held.to);
        }
    }

    /// Writes every waiting item whose time has come, unless the link is partitioned.
    async fn deliver_due(&mut self, dst: &mut Sink) -> std::io::Result<()> {
        let now = Instant::now();
        while !self.rule.partitioned {
            match self.outbox.front() {
                Some(p) if p.due <= now => {}
                _ => break,
            }
            if let Some(pending) = self.outbox.pop_front() {
                self.outbox_bytes -= pending.bytes.len();
                dst.write_to(pending.to, &pending.bytes).await?;
            }
        }
        Ok(())
    }
}

async fn write_run(dst: &mut Sink, run: &[u8]) -> std::io::Result<()> {
    if run.is_empty() {
        Ok(())
    } else {
        dst.write(run).await
    }
}
