//! The Wing-Gong-Lowe search over the ops of one key.
//!
//! Call and return entries sit in a doubly linked list in real-time order. The search walks
//! it: a call whose op is legal in the current state is "lifted" (linearized here) and the
//! walk restarts from the head; reaching a return means the op it belongs to was not
//! linearized before it returned, so the last choice is undone. Every (linearized set,
//! state) pair is remembered, so no configuration is explored twice (Lowe's memoisation);
//! the set's hash is kept incrementally (Zobrist), so memo lookups cost O(1) hashing.
//!
//! Ops with an unknown outcome have no return entry: they may be linearized anywhere after
//! their call, including after everything else, where they affect nothing. So the search
//! succeeds as soon as every op with a known return is linearized.

use crate::budget::{Budget, Exhausted};
use crate::models::Model;
use crate::ops::Op;
use crate::value::Val;
use hashbrown::HashTable;
use rustc_hash::FxHasher;
use std::hash::{Hash, Hasher};

/// What one search found.
#[derive(Debug)]
pub enum Outcome {
    /// A legal order: op indices in linearization order, and the state after them.
    Linearizable { order: Vec<usize>, state: Val },
    /// No order exists.
    NotLinearizable,
    /// The budget ran out first.
    OutOfBudget(Exhausted),
}

const NIL: usize = usize::MAX;
const HEAD: usize = 0;

/// A remembered configuration, stored under its hash; lookups compare the full set and
/// state, so a hash collision can never merge two configurations.
struct Memo {
    hash: u64,
    bits: Box<[u64]>,
    state: Val,
}

/// The list of call/return entries, with lift/unlift of an op's pair.
struct EntryList {
    /// Entry `i` (1-based; 0 is the head) is `(op index, is call)`.
    entries: Vec<(usize, bool)>,
    next: Vec<usize>,
    prev: Vec<usize>,
    call_node: Vec<usize>,
    return_node: Vec<usize>,
}

impl EntryList {
    fn new(ops: &[Op], cut: u64) -> Self {
        let mut timed: Vec<(u64, usize, bool)> = Vec::with_capacity(ops.len() * 2);
        for (i, op) in ops.iter().enumerate().filter(|(_, op)| op.call < cut) {
            timed.push((op.call, i, true));
            if let Some(at) = op.returned.filter(|&at| at < cut) {
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

fn state_hash(state: &Val) -> u64 {
    let mut h = FxHasher::default();
    state.hash(&mut h);
    h.finish()
}

/// Searches the ops whose call comes before event position `cut` (`u64::MAX` for all);
/// ops returning at or after `cut` count as still pending, with unknown results.
pub fn search(model: Model, ops: &[Op], cut: u64, budget: &Budget) -> Outcome {
    let mut charged = 0;
    let outcome = run(model, ops, cut, budget, &mut charged);
    budget.release(charged);
    outcome
}

fn run(model: Model, ops: &[Op], cut: u64, budget: &Budget, charged: &mut usize) -> Outcome {
    let mut list = EntryList::new(ops, cut);
    let must = list.return_node.iter().filter(|&&n| n != NIL).count();
    let keys = zobrist(ops.len());
    let words = ops.len().div_ceil(64);
    let memo_bytes = words * 8 + std::mem::size_of::<Memo>() + 16;

    let mut bits = vec![0u64; words];
    let mut set_hash = 0u64;
    let mut memo: HashTable<Memo> = HashTable::new();
    let mut stack: Vec<(usize, Val)> = Vec::new();
    let mut state = Val::Nil;
    let mut done = 0;
    let mut node = list.next[HEAD];
    let mut steps: u64 = 0;

    loop {
        if done == must {
            return Outcome::Linearizable {
                order: stack.into_iter().map(|(op, _)| op).collect(),
                state,
            };
        }
        steps += 1;
        if steps.is_multiple_of(4096) {
            if let Err(e) = budget.check_time() {
                return Outcome::OutOfBudget(e);
            }
        }
        let is_call = node != NIL && list.entries[node].1;
        if is_call {
            let op = list.entries[node].0;
            let o = &ops[op];
            let known = list.return_node[op] != NIL;
            let ret = if known { o.ret.as_ref() } else { None };
            if let Some(next_state) = model.step(&state, o.func, &o.arg, ret) {
                bits[op / 64] |= 1 << (op % 64);
                let hash = set_hash ^ keys[op];
                let full = hash ^ state_hash(&next_state);
                let seen = memo.find(full, |m| {
                    m.hash == full && m.state == next_state && *m.bits == *bits
                });
                if seen.is_none() {
                    if let Err(e) = budget.charge(memo_bytes) {
                        return Outcome::OutOfBudget(e);
                    }
                    *charged += memo_bytes;
                    let remembered = Memo {
                        hash: full,
                        bits: bits.clone().into(),
                        state: next_state.clone(),
                    };
                    memo.insert_unique(full, remembered, |m| m.hash);
                    stack.push((op, std::mem::replace(&mut state, next_state)));
                    set_hash = hash;
                    done += usize::from(known);
                    list.lift(op);
                    node = list.next[HEAD];
                    continue;
                }
                bits[op / 64] &= !(1 << (op % 64));
            }
            node = list.next[node];
        } else {
            // A return (or the end) before its op was linearized: undo the last choice.
            let Some((op, before)) = stack.pop() else {
                return Outcome::NotLinearizable;
            };
            bits[op / 64] &= !(1 << (op % 64));
            set_hash ^= keys[op];
            state = before;
            done -= usize::from(list.return_node[op] != NIL);
            list.unlift(op);
            node = list.next[list.call_node[op]];
        }
    }
}
