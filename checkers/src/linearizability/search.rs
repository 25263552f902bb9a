//! The Wing-Gong-Lowe search over the ops of one key.
//!
//! Call and return entries sit in a doubly linked list in real-time order. The search walks
//! it: a call whose op is legal in the current state is "lifted" (linearized here) and the
//! walk restarts from the head; reaching a return means the op it belongs to was not
//! linearized before it returned, so the last choice is undone. Every (linearized set,
//! state) pair is remembered, so no configuration is explored twice (Lowe's memoisation);
//! the set's hash is kept incrementally (Zobrist), so memo lookups cost O(1) hashing.
//! Remembered sets and states live back to back in two large buffers, so what a search
//! holds is a few allocations whose sizes are charged exactly, and given back to the
//! system whole when the search ends.
//!
//! Ops with an unknown outcome have no return entry: they may be linearized anywhere after
//! their call, including after everything else, where they affect nothing. So the search
//! succeeds as soon as every op with a known return is linearized.
//!
//! A failing search also says where it got stuck, for the explanation: the latest return
//! any explored order reached, and one such order, kept as the search goes at a cost
//! proportional to its own steps (no second search).

use crate::budget::{allocated, Budget, Exhausted};
use crate::models::Model;
use crate::ops::Op;
use crate::value::Val;
use hashbrown::HashTable;
use rustc_hash::FxHasher;
use std::hash::Hasher;
use std::sync::atomic::{AtomicBool, Ordering};

/// What one search found.
#[derive(Debug, PartialEq)]
pub enum Outcome {
    /// A legal order exists.
    Linearizable,
    /// No order exists; where every order gets stuck.
    NotLinearizable(Blocked),
    /// The search stopped before an answer.
    Stopped(Stop),
}

/// Why a search stopped before an answer.
#[derive(Debug, PartialEq)]
pub enum Stop {
    /// It used the steps it was allowed in this round and is paused; cheaper searches go
    /// first.
    Allowance,
    /// The verdict became known elsewhere; this key cannot change it.
    Cancelled,
    /// The time or memory budget ran out.
    Exhausted(Exhausted),
}

/// Where every order of a key's ops gets stuck: no explored order linearizes every op that
/// returned before `op` returned, and `order` (op indices) is one that comes closest,
/// ending in `state`.
#[derive(Debug, PartialEq)]
pub struct Blocked {
    pub op: usize,
    pub order: Vec<usize>,
    pub state: Val,
}

/// What may end one search early, beside an answer.
pub struct Limits<'a> {
    pub budget: &'a Budget,
    /// Set once the check's verdict is known.
    pub cancelled: &'a AtomicBool,
    /// Steps this search may take before it gives way.
    pub steps: u64,
}

const NIL: usize = usize::MAX;
const HEAD: usize = 0;
/// Steps between two looks at the clock and the cancel flag.
const POLL: u64 = 1024;

/// A remembered configuration, stored under its hash; lookups compare the full set and
/// state, so a hash collision can never merge two configurations.
struct Entry {
    hash: u64,
    /// Where its linearized set starts in `Memo::sets`.
    set: usize,
    /// Where its encoded state lies in `Memo::states`.
    state: (usize, usize),
}

/// Every configuration seen: small entries in a hash table, pointing into two buffers.
struct Memo {
    table: HashTable<Entry>,
    sets: Vec<u64>,
    states: Vec<u8>,
}

impl Memo {
    fn new() -> Self {
        Self {
            table: HashTable::new(),
            sets: Vec::new(),
            states: Vec::new(),
        }
    }

    /// What the table and buffers hold, as charged while they grew.
    fn bytes(&self) -> usize {
        allocated(self.table.allocation_size()) + vec_bytes(&self.sets) + vec_bytes(&self.states)
    }

    /// Remembers the configuration (`set`, encoded `state`) under `hash`, charging what it
    /// takes; `false` if it was already there.
    fn insert(
        &mut self,
        hash: u64,
        set: &[u64],
        state: &[u8],
        held: &mut Held,
    ) -> Result<bool, Exhausted> {
        let (sets, states) = (&self.sets, &self.states);
        let seen = self.table.find(hash, |e| {
            e.hash == hash
                && sets[e.set..e.set + set.len()] == *set
                && states[e.state.0..e.state.1] == *state
        });
        if seen.is_some() {
            return Ok(false);
        }
        grow(&mut self.sets, set.len(), held)?;
        grow(&mut self.states, state.len(), held)?;
        let entry = Entry {
            hash,
            set: self.sets.len(),
            state: (self.states.len(), self.states.len() + state.len()),
        };
        self.sets.extend_from_slice(set);
        self.states.extend_from_slice(state);
        if self.table.len() < self.table.capacity() {
            self.table.insert_unique(hash, entry, |e| e.hash);
            return Ok(true);
        }
        // The table grows: the old and the new table are both held while it moves.
        let old = allocated(self.table.allocation_size());
        let guess = (2 * old).max(allocated(1 << 10));
        held.take(guess)?;
        self.table.insert_unique(hash, entry, |e| e.hash);
        held.give(old);
        let new = allocated(self.table.allocation_size());
        if new > guess {
            held.take(new - guess)?;
        } else {
            held.give(guess - new);
        }
        Ok(true)
    }
}

/// Buffers past this size are mapped memory, which the allocator moves by remapping (the
/// old and new are not both held, and nothing is copied): glibc maps every allocation of
/// 32 MiB and more.
const MAPPED: usize = 32 << 20;

/// The most a thread keeps of a finished search's buffers for its next search.
const SPARE: usize = 64 << 20;

/// The emptied buffers of a finished search, for a thread's next search: their pages are
/// already the process's, so they are not mapped and faulted in again for every key. Their
/// capacity stays charged until they are dropped.
pub struct Spare<'a> {
    memo: Memo,
    bytes: usize,
    budget: &'a Budget,
}

impl Drop for Spare<'_> {
    fn drop(&mut self) {
        self.budget.release(self.bytes);
    }
}

/// Makes room for `more` items in a buffer and charges the new capacity first. A small
/// buffer doubles; a mapped one grows by a quarter, so that little is charged and not used.
fn grow<T>(buffer: &mut Vec<T>, more: usize, held: &mut Held) -> Result<(), Exhausted> {
    if buffer.len() + more <= buffer.capacity() {
        return Ok(());
    }
    let size = std::mem::size_of::<T>();
    let step = if buffer.capacity() * size < MAPPED {
        buffer.capacity()
    } else {
        buffer.capacity() / 4
    };
    let capacity = (buffer.capacity() + step)
        .max(buffer.len() + more)
        .max(4096 / size);
    held.take(allocated(capacity * size))?;
    held.give(allocated(buffer.capacity() * size));
    buffer.reserve_exact(capacity - buffer.len());
    Ok(())
}

/// The list of call/return entries, with lift/unlift of an op's pair.
struct EntryList {
    /// Entry `i` (1-based; 0 is the head; numbered in real-time order) is `(op index, is call)`.
    entries: Vec<(usize, bool)>,
    next: Vec<usize>,
    prev: Vec<usize>,
    call_node: Vec<usize>,
    return_node: Vec<usize>,
}

impl EntryList {
    fn new(ops: &[Op]) -> Self {
        let mut timed: Vec<(u64, usize, bool)> = Vec::with_capacity(ops.len() * 2);
        for (i, op) in ops.iter().enumerate() {
            timed.push((op.call, i, true));
            if let Some(at) = op.returned {
                timed.push((at, i, false));
            }
        }
        timed.sort_unstable_by_key(|&(at, _, _)| at);
        let m = timed.len();
        let mut list = Self {
            entries: std::iter::once((NIL, false))
                .chain(timed.iter().map(|&(_, op, call)| (op, call)))
                .collect(),
            next: (1..=m).chain(std::iter::once(NIL)).collect(),
            prev: std::iter::once(NIL).chain(0..m).collect(),
            call_node: vec![NIL; ops.len()],
            return_node: vec![NIL; ops.len()],
        };
        for node in 1..=m {
            let (op, call) = list.entries[node];
            if call {
                list.call_node[op] = node;
            } else {
                list.return_node[op] = node;
            }
        }
        list
    }

    /// Heap bytes the list holds.
    fn bytes(&self) -> usize {
        vec_bytes(&self.entries)
            + vec_bytes(&self.next)
            + vec_bytes(&self.prev)
            + vec_bytes(&self.call_node)
            + vec_bytes(&self.return_node)
    }

    fn unlink(&mut self, node: usize) {
        let (p, n) = (self.prev[node], self.next[node]);
        self.next[p] = n;
        if n != NIL {
            self.prev[n] = p;
        }
    }

    fn relink(&mut self, node: usize) {
        let (p, n) = (self.prev[node], self.next[node]);
        self.next[p] = node;
        if n != NIL {
            self.prev[n] = node;
        }
    }

    fn lift(&mut self, op: usize) {
        self.unlink(self.call_node[op]);
        if self.return_node[op] != NIL {
            self.unlink(self.return_node[op]);
        }
    }

    /// Undoes `lift`, in the reverse order, which restores the exact neighbours.
    fn unlift(&mut self, op: usize) {
        if self.return_node[op] != NIL {
            self.relink(self.return_node[op]);
        }
        self.relink(self.call_node[op]);
    }
}

fn vec_bytes<T>(v: &Vec<T>) -> usize {
    allocated(v.capacity() * std::mem::size_of::<T>())
}

/// The bytes one search holds, charged to the shared budget as they are taken and given
/// back when the search ends. The budget is drawn on in chunks, so that parallel searches
/// do not contend on it at every step.
struct Held<'a> {
    budget: &'a Budget,
    bytes: usize,
    /// Charged to the budget: `bytes` and at most two chunks more.
    drawn: usize,
}

/// Bytes drawn from the shared budget at a time.
const CHUNK: usize = 64 << 10;

impl<'a> Held<'a> {
    fn new(budget: &'a Budget) -> Self {
        Self {
            budget,
            bytes: 0,
            drawn: 0,
        }
    }

    fn take(&mut self, bytes: usize) -> Result<(), Exhausted> {
        if self.bytes + bytes > self.drawn {
            let more = self.bytes + bytes - self.drawn + CHUNK;
            self.budget.charge(more)?;
            self.drawn += more;
        }
        self.bytes += bytes;
        Ok(())
    }

    fn give(&mut self, bytes: usize) {
        self.bytes -= bytes;
        if self.drawn - self.bytes > 2 * CHUNK {
            let back = self.drawn - self.bytes - CHUNK;
            self.budget.release(back);
            self.drawn -= back;
        }
    }
}

impl Drop for Held<'_> {
    fn drop(&mut self) {
        self.budget.release(self.drawn);
    }
}

/// The order closest to the end of the history seen so far, kept in step with the search
/// stack: only the part of the stack that changed since the last copy is copied again.
#[derive(Default)]
struct Furthest {
    /// The latest return node any order reached (0: none yet).
    node: usize,
    order: Vec<usize>,
    state: Val,
    /// The stack has not been shorter than this since the last copy.
    unchanged: usize,
}

impl Furthest {
    fn reached(&mut self, node: usize, stack: &[(usize, Val)], state: &Val) {
        if node <= self.node {
            return;
        }
        self.node = node;
        self.order.truncate(self.unchanged);
        self.order
            .extend(stack[self.unchanged..].iter().map(|&(op, _)| op));
        self.unchanged = stack.len();
        self.state = state.clone();
    }

    fn popped(&mut self, depth: usize) {
        self.unchanged = self.unchanged.min(depth);
    }
}

/// Deterministic per-op random words for the incremental set hash (splitmix64).
fn zobrist(n: usize) -> Vec<u64> {
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    (0..n)
        .map(|_| {
            x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = x;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            z ^ (z >> 31)
        })
        .collect()
}

fn bytes_hash(bytes: &[u8]) -> u64 {
    let mut h = FxHasher::default();
    h.write(bytes);
    h.finish()
}

/// One key's search, which can pause when its round's allowance is spent and resume in a
/// later round where it stopped, holding its memory meanwhile (charged to the budget).
pub struct Search<'a> {
    model: Model,
    ops: &'a [Op],
    list: EntryList,
    /// Ops with a known return: the search succeeds once all of them are linearized.
    must: usize,
    keys: Vec<u64>,
    bits: Vec<u64>,
    /// The next state, encoded, while it is looked up.
    encoded: Vec<u8>,
    stack: Vec<(usize, Val)>,
    furthest: Furthest,
    memo: Memo,
    set_hash: u64,
    state: Val,
    done: usize,
    node: usize,
    held: Held<'a>,
}

impl<'a> Search<'a> {
    /// A search of `ops`, charging its fixed structures to `budget`; it remembers
    /// configurations in `spare`'s buffers when given some.
    pub fn new(
        model: Model,
        ops: &'a [Op],
        budget: &'a Budget,
        spare: Option<Spare<'a>>,
    ) -> Result<Self, Exhausted> {
        let list = EntryList::new(ops);
        let words = ops.len().div_ceil(64);
        let mut search = Self {
            model,
            ops,
            must: list.return_node.iter().filter(|&&n| n != NIL).count(),
            node: list.next[HEAD],
            list,
            keys: zobrist(ops.len()),
            bits: vec![0u64; words],
            encoded: Vec::new(),
            stack: Vec::with_capacity(ops.len()),
            furthest: Furthest {
                node: 0,
                order: Vec::with_capacity(ops.len()),
                state: Val::Nil,
                unchanged: 0,
            },
            memo: Memo::new(),
            set_hash: 0,
            state: Val::Nil,
            done: 0,
            held: Held::new(budget),
        };
        if let Some(mut spare) = spare {
            // The spare's charge passes to this search.
            search.held.bytes += spare.bytes;
            search.held.drawn += spare.bytes;
            spare.bytes = 0;
            search.memo = std::mem::replace(&mut spare.memo, Memo::new());
        }
        let fixed = search.list.bytes()
            + vec_bytes(&search.keys)
            + vec_bytes(&search.bits)
            + vec_bytes(&search.stack)
            + vec_bytes(&search.furthest.order);
        search.held.take(fixed)?;
        Ok(search)
    }

    /// Ends the search, keeping its remembering buffers (emptied, still charged) for the
    /// next one, unless they are larger than `SPARE` (then they are freed: a large spare
    /// would keep memory from the searches still running).
    pub fn into_spare(mut self) -> Option<Spare<'a>> {
        let mut memo = std::mem::replace(&mut self.memo, Memo::new());
        memo.table.clear();
        memo.sets.clear();
        memo.states.clear();
        let bytes = memo.bytes();
        if bytes > SPARE {
            return None;
        }
        self.held.bytes -= bytes;
        self.held.drawn -= bytes;
        Some(Spare {
            memo,
            bytes,
            budget: self.held.budget,
        })
    }

    /// Runs the search on from where it stopped, within `limits`.
    pub fn resume(&mut self, limits: &Limits) -> Outcome {
        match self.walk(limits) {
            Ok(outcome) => outcome,
            Err(stop) => Outcome::Stopped(stop),
        }
    }

    fn walk(&mut self, limits: &Limits) -> Result<Outcome, Stop> {
        let list = &mut self.list;
        let mut steps: u64 = 0;
        loop {
            if self.done == self.must {
                return Ok(Outcome::Linearizable);
            }
            steps += 1;
            if steps > limits.steps {
                return Err(Stop::Allowance);
            }
            if steps.is_multiple_of(POLL) {
                poll(limits)?;
            }
            let node = self.node;
            let is_call = node != NIL && list.entries[node].1;
            if is_call {
                let op = list.entries[node].0;
                let o = &self.ops[op];
                let known = list.return_node[op] != NIL;
                let ret = if known { o.ret.as_ref() } else { None };
                if let Some(next_state) = self.model.step(&self.state, o.func, &o.arg, ret) {
                    let bits = &mut self.bits;
                    bits[op / 64] |= 1 << (op % 64);
                    let hash = self.set_hash ^ self.keys[op];
                    self.encoded.clear();
                    next_state.encode(&mut self.encoded);
                    let full = hash ^ bytes_hash(&self.encoded);
                    let new = self
                        .memo
                        .insert(full, bits, &self.encoded, &mut self.held)
                        .map_err(Stop::Exhausted)?;
                    if new {
                        let before = std::mem::replace(&mut self.state, next_state);
                        self.held
                            .take(before.heap_bytes())
                            .map_err(Stop::Exhausted)?;
                        self.stack.push((op, before));
                        self.set_hash = hash;
                        self.done += usize::from(known);
                        list.lift(op);
                        self.node = list.next[HEAD];
                        continue;
                    }
                    bits[op / 64] &= !(1 << (op % 64));
                }
                self.node = list.next[node];
            } else {
                // A return (or the end) before its op was linearized: undo the last choice.
                if node != NIL {
                    self.furthest.reached(node, &self.stack, &self.state);
                }
                let Some((op, before)) = self.stack.pop() else {
                    let furthest = std::mem::take(&mut self.furthest);
                    return Ok(Outcome::NotLinearizable(Blocked {
                        op: list.entries[furthest.node].0,
                        order: furthest.order,
                        state: furthest.state,
                    }));
                };
                self.furthest.popped(self.stack.len());
                self.held.give(before.heap_bytes());
                self.bits[op / 64] &= !(1 << (op % 64));
                self.set_hash ^= self.keys[op];
                self.state = before;
                self.done -= usize::from(list.return_node[op] != NIL);
                list.unlift(op);
                self.node = list.next[list.call_node[op]];
            }
        }
    }
}

/// Ends a search that is out of time or no longer needed.
fn poll(limits: &Limits) -> Result<(), Stop> {
    if limits.cancelled.load(Ordering::Relaxed) {
        return Err(Stop::Cancelled);
    }
    limits.budget.check_time().map_err(Stop::Exhausted)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::input::load_history;
    use crate::synth::{generate, impossible_read, SynthConfig};
    use proptest::prelude::*;
    use std::time::Duration;

    /// The ops of the first key of a generated history, with an impossible read planted
    /// when `plant` picks one (and there is a read); whether one was planted.
    fn key_ops(config: &SynthConfig, plant: Option<prop::sample::Index>) -> (Vec<Op>, bool) {
        let mut events = generate(config);
        let reads: Vec<usize> = (0..events.len())
            .filter(|&i| {
                events[i].kind == traitor_model::EventKind::Ok
                    && matches!(events[i].f.as_str(), "read" | "get")
            })
            .collect();
        let planted = plant.is_some() && !reads.is_empty();
        if let (Some(pick), true) = (plant, planted) {
            let at = reads[pick.index(reads.len())];
            events[at].value = impossible_read(config.model, &events[at].f);
        }
        let text: String = events
            .iter()
            .map(|e| serde_json::to_string(e).unwrap() + "\n")
            .collect();
        let loaded = load_history(&text, config.model).unwrap();
        let ops = loaded
            .operations
            .by_key
            .into_values()
            .next()
            .unwrap_or_default();
        (ops, planted)
    }

    fn config(
        model: Model,
        ops: usize,
        processes: usize,
        info_rate: f64,
        seed: u64,
    ) -> SynthConfig {
        SynthConfig {
            model,
            ops,
            keys: 1,
            processes,
            info_rate,
            fail_rate: 0.1,
            seed,
        }
    }

    fn model() -> impl Strategy<Value = Model> {
        prop_oneof![
            Just(Model::Register),
            Just(Model::CasRegister),
            Just(Model::Kv),
            Just(Model::Counter),
            Just(Model::Set)
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(200))]

        /// Pausing at every step and resuming gives the answer, and the explanation, of a
        /// search run straight through.
        #[test]
        fn pausing_never_changes_the_answer(
            model in model(), ops in 1usize..40, processes in 1usize..6, info in 0.0..0.3f64,
            seed in any::<u64>(), plant in proptest::option::of(any::<prop::sample::Index>()),
        ) {
            let (ops, _) = key_ops(&config(model, ops, processes, info, seed), plant);
            let budget = Budget::new(Duration::from_secs(60), 1 << 30);
            let cancelled = AtomicBool::new(false);
            let straight = Limits { budget: &budget, cancelled: &cancelled, steps: u64::MAX };
            let one_step = Limits { steps: 1, ..straight };
            let whole = Search::new(model, &ops, &budget, None).unwrap().resume(&straight);
            let mut paused = Search::new(model, &ops, &budget, None).unwrap();
            let stepped = loop {
                match paused.resume(&one_step) {
                    Outcome::Stopped(Stop::Allowance) => continue,
                    outcome => break outcome,
                }
            };
            prop_assert_eq!(whole, stepped);
        }

        /// A search cancelled before it could finish says so; it never answers
        /// "linearizable" for a key that is not.
        #[test]
        fn a_cancelled_search_never_passes_a_violation(
            model in model(), ops in 1usize..200, processes in 1usize..10, info in 0.0..0.3f64,
            seed in any::<u64>(), plant in any::<prop::sample::Index>(),
        ) {
            let (ops, planted) = key_ops(&config(model, ops, processes, info, seed), Some(plant));
            prop_assume!(planted);
            let budget = Budget::new(Duration::from_secs(60), 1 << 30);
            let cancelled = AtomicBool::new(true);
            let limits = Limits { budget: &budget, cancelled: &cancelled, steps: u64::MAX };
            let outcome = Search::new(model, &ops, &budget, None).unwrap().resume(&limits);
            prop_assert!(
                matches!(outcome, Outcome::NotLinearizable(_) | Outcome::Stopped(Stop::Cancelled)),
                "{:?}", outcome
            );
        }
    }

    #[test]
    fn a_search_gives_back_its_memory() {
        let (ops, _) = key_ops(&config(Model::Kv, 200, 8, 0.2, 3), None);
        let budget = Budget::new(Duration::from_secs(60), 1 << 30);
        let cancelled = AtomicBool::new(false);
        let limits = Limits {
            budget: &budget,
            cancelled: &cancelled,
            steps: u64::MAX,
        };
        let mut first = Search::new(Model::Kv, &ops, &budget, None).unwrap();
        assert_eq!(first.resume(&limits), Outcome::Linearizable);
        let spare = first.into_spare();
        assert!(spare.is_some());
        // A spare's buffers stay charged while it is kept.
        assert!(budget.charge(1 << 30).is_err());
        let mut second = Search::new(Model::Kv, &ops, &budget, spare).unwrap();
        assert_eq!(second.resume(&limits), Outcome::Linearizable);
        drop(second);
        // Everything charged was released: the whole limit can be charged again.
        assert!(budget.charge(1 << 30).is_ok());
    }
}
