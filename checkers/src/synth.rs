//! Synthetic histories that are linearizable by construction: a random sequential execution
//! of a model, each op's instant stretched into a random real-time interval around it, with
//! unknown (`info`) outcomes and failed ops mixed in. [`Faults`] adds what real failing runs
//! show (a partition, stale reads), and [`concurrent_appends`] builds a history that blows
//! the search up. Used by the property tests and the benchmarks; every history is
//! reproducible from its seed.

use crate::models::{Func, Model};
use crate::value::Val;
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use serde_json::{json, Value};
use std::collections::HashMap;
use std::ops::Range;
use traitor_model::{Event, EventKind};

/// The shape of a synthetic history.
#[derive(Clone, Debug)]
pub struct SynthConfig {
    pub model: Model,
    /// Ops of the sequential execution (failed extras come on top).
    pub ops: usize,
    pub keys: usize,
    /// Client processes running at once; an `info` retires its process, as in Jepsen.
    pub processes: usize,
    /// Fraction of ops whose outcome is recorded as unknown (or never recorded).
    pub info_rate: f64,
    /// Fraction of extra ops that never took effect and are recorded as `fail`.
    pub fail_rate: f64,
    pub seed: u64,
}

/// What goes wrong in a generated history beyond unknown outcomes: the shape of the failing
/// histories users bring to the checker (a published kv history with a partition and a few
/// keys that are not linearizable).
#[derive(Clone, Debug, Default)]
pub struct Faults {
    /// The stretch of the history (fractions of its ops, `0.4..0.6`) a partition lasts: half
    /// the ops in it time out (`info`), and half of those never take effect.
    pub partition: Option<Range<f64>>,
    /// Kv keys (the first ones) that serve one stale read during the partition: the value the
    /// key held when the partition began, read after it changed. They may not linearize.
    pub stale_keys: usize,
    /// Kv only: every key holds a string (get / put / append), and most ops are appends.
    pub append_heavy: bool,
}

/// Nanoseconds between two consecutive linearization points.
const STEP: u64 = 1_000;

/// Generates the events of a linearizable history.
pub fn generate(config: &SynthConfig) -> Vec<Event> {
    generate_with_faults(config, &Faults::default())
}

/// Generates a history with `faults`: linearizable when there are no stale keys.
pub fn generate_with_faults(config: &SynthConfig, faults: &Faults) -> Vec<Event> {
    let mut rng = StdRng::seed_from_u64(config.seed);
    let model = config.model;
    let mut states: HashMap<usize, Val> = HashMap::new();
    let partition = faults.partition.as_ref().map(|window| {
        let at = |fraction: f64| (fraction * config.ops as f64) as usize;
        at(window.start)..at(window.end)
    });
    // Per stale key, the value it held when the partition began; taken out once served.
    let mut frozen: HashMap<usize, Option<Val>> = HashMap::new();
    // Each op: (key, func, arg, result, outcome, linearization instant).
    let mut planned: Vec<(usize, Func, Val, Val, EventKind, u64)> = Vec::with_capacity(config.ops);
    let mut next_element = 0i64;
    for i in 0..config.ops {
        let key = rng.random_range(0..config.keys.max(1));
        let state = states.entry(key).or_default();
        let func = pick_func(model, key, faults.append_heavy, &mut rng);
        let arg = pick_arg(func, model, state, &mut next_element, &mut rng);
        let observed = match func {
            Func::Get => Val::Str(state.as_text().into()),
            _ => model.normalise_result(func, state.clone()),
        };
        let partitioned = partition.as_ref().is_some_and(|p| p.contains(&i));
        if partitioned && key < faults.stale_keys {
            let held = frozen.entry(key).or_insert_with(|| Some(state.clone()));
            if func == Func::Get && held.as_ref().is_some_and(|old| *old != *state) {
                let stale = held.take().expect("checked just above");
                let at = i as u64 * STEP + STEP / 2;
                planned.push((key, func, arg, stale, EventKind::Ok, at));
                continue;
            }
        }
        let timed_out = partitioned && rng.random_bool(0.5);
        if timed_out && !func.is_read() && rng.random_bool(0.5) {
            // Cut off before it reached the cluster: it never takes effect.
            let at = i as u64 * STEP + STEP / 2;
            planned.push((key, func, arg.clone(), arg, EventKind::Info, at));
            continue;
        }
        let (outcome, result) = match model.step(state, func, &arg, Some(&observed)) {
            Some(next) => {
                *state = next;
                let kind = if timed_out || rng.random_bool(config.info_rate) {
                    EventKind::Info
                } else {
                    EventKind::Ok
                };
                (
                    kind,
                    if func.is_read() {
                        observed
                    } else {
                        arg.clone()
                    },
                )
            }
            // A cas whose expected value did not match: it ran and failed.
            None => (EventKind::Fail, arg.clone()),
        };
        planned.push((key, func, arg, result, outcome, i as u64 * STEP + STEP / 2));
        if rng.random_bool(config.fail_rate) {
            let func = if model == Model::Counter || model == Model::Set {
                Func::Add
            } else {
                Func::Write
            };
            let func = if model == Model::Kv && (key % 2 == 1 || faults.append_heavy) {
                Func::Put
            } else {
                func
            };
            let ghost = pick_arg(func, model, &Val::Nil, &mut next_element, &mut rng);
            planned.push((
                key,
                func,
                ghost.clone(),
                ghost,
                EventKind::Fail,
                i as u64 * STEP + STEP / 3,
            ));
        }
    }
    let spread = (config.processes as u64).max(1) * STEP / 2;
    schedule(planned, spread, config.processes.max(1), &mut rng)
}

/// Lays ops out in time and on processes, and writes their events in time order.
fn schedule(
    planned: Vec<(usize, Func, Val, Val, EventKind, u64)>,
    spread: u64,
    processes: usize,
    rng: &mut StdRng,
) -> Vec<Event> {
    let mut timed: Vec<(u64, u64, usize)> = planned
        .iter()
        .enumerate()
        .map(|(i, p)| {
            let call = p.5.saturating_sub(rng.random_range(0..spread));
            (call, p.5 + 1 + rng.random_range(0..spread), i)
        })
        .collect();
    timed.sort_unstable();
    // Free processes and the time each became free; retired (info) processes never return.
    let mut busy_until: Vec<(u64, u64)> = (0..processes as u64).map(|p| (p, 0)).collect();
    let mut next_process = processes as u64;
    let mut stamped: Vec<(u64, u8, Event)> = Vec::with_capacity(timed.len() * 2);
    for (req, &(call, ret, i)) in timed.iter().enumerate() {
        let (key, func, arg, result, outcome, _) = &planned[i];
        let slot = busy_until.iter().position(|&(_, until)| until < call);
        let process = match slot {
            Some(s) => busy_until[s].0,
            None => {
                busy_until.push((next_process, 0));
                next_process += 1;
                next_process - 1
            }
        };
        let s = busy_until
            .iter()
            .position(|&(p, _)| p == process)
            .expect("process was just chosen");
        let mut invoke = Event::new(
            process,
            EventKind::Invoke,
            func.name(),
            if func.is_read() {
                Value::Null
            } else {
                arg.to_json()
            },
        );
        invoke.key = Some(json!(format!("k{key}")));
        invoke.client = Some(format!("c{process}"));
        invoke.req = Some(req as u64);
        let mut done = invoke.clone();
        done.kind = *outcome;
        done.value = match outcome {
            EventKind::Info => json!("timed-out"),
            _ => result.to_json(),
        };
        if *outcome == EventKind::Info {
            // Jepsen retires a process whose op has an unknown outcome.
            busy_until[s].0 = next_process;
            next_process += 1;
        } else {
            busy_until[s].1 = ret;
        }
        invoke.time = Some(call);
        stamped.push((call, 1, invoke));
        // Half of the unknown outcomes are never recorded at all: the op is still open at the end.
        if *outcome != EventKind::Info || rng.random_bool(0.5) {
            done.time = Some(ret);
            stamped.push((ret, 0, done));
        }
    }
    stamped.sort_by_key(|(t, order, _)| (*t, *order));
    stamped
        .into_iter()
        .enumerate()
        .map(|(index, (_, _, mut e))| {
            e.index = Some(index as u64);
            e
        })
        .collect()
}

fn pick_func(model: Model, key: usize, append_heavy: bool, rng: &mut StdRng) -> Func {
    let family: &[Func] = match model {
        Model::Kv if append_heavy => &[
            Func::Get,
            Func::Get,
            Func::Put,
            Func::Append,
            Func::Append,
            Func::Append,
            Func::Append,
            Func::Append,
        ],
        Model::Kv if key % 2 == 1 => &[Func::Get, Func::Put, Func::Append, Func::Append],
        Model::Kv => &[Func::Read, Func::Write, Func::Cas],
        other => other.functions(),
    };
    family[rng.random_range(0..family.len())]
}

fn pick_arg(
    func: Func,
    model: Model,
    state: &Val,
    next_element: &mut i64,
    rng: &mut StdRng,
) -> Val {
    match func {
        Func::Read | Func::Get => Val::Nil,
        Func::Write => Val::Int(rng.random_range(0..100)),
        Func::Put | Func::Append => {
            let letter = char::from(b'a' + rng.random_range(0..26u8));
            Val::Str(letter.to_string().into())
        }
        Func::Cas => {
            let expected = if rng.random_bool(0.5) {
                state.clone()
            } else {
                Val::Int(rng.random_range(0..100))
            };
            Val::List([expected, Val::Int(rng.random_range(0..100))].into())
        }
        Func::Add if model == Model::Counter => Val::Int(rng.random_range(1..5)),
        Func::Add => {
            *next_element += 1;
            Val::Int(*next_element)
        }
    }
}

/// A history built to blow the search up: `appends` processes each append a distinct word to
/// one key at the same time, then a get sees the words in the reverse of their call order.
/// It is linearizable, but only an order the search tries last explains the get, and every
/// subset of appends, in every order, is a different string to remember.
pub fn concurrent_appends(appends: usize) -> Vec<Event> {
    let event = |process: usize, kind: EventKind, f: &str, value: Value| {
        let mut e = Event::new(process as u64, kind, f, value);
        e.key = Some(json!("k"));
        e
    };
    let word = |p: usize| format!("w{p},");
    let mut events: Vec<Event> = (0..appends)
        .map(|p| event(p, EventKind::Invoke, "append", json!(word(p))))
        .collect();
    events.extend((0..appends).map(|p| event(p, EventKind::Ok, "append", json!(word(p)))));
    let seen: String = (0..appends).rev().map(word).collect();
    events.push(event(appends, EventKind::Invoke, "get", Value::Null));
    events.push(event(appends, EventKind::Ok, "get", json!(seen)));
    for (i, e) in events.iter_mut().enumerate() {
        e.index = Some(i as u64);
        e.time = Some(i as u64 * STEP);
    }
    events
}

/// A read result no linearization of a synthetic history can produce: a value never
/// written, a negative count, an element never added, a letter never appended.
pub fn impossible_read(model: Model, f: &str) -> Value {
    match (model, f) {
        (Model::Counter, _) => json!(-1),
        (Model::Set, _) => json!([-1]),
        (_, "get") => json!("#"),
        _ => json!(1_000_000),
    }
}
