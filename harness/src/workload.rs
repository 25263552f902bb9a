//! Clients as Jepsen processes: each runs one op at a time against a node, from a seeded
//! generator, recording invoke before sending and the completion after the answer, so the
//! file order never makes two overlapping ops look ordered. A process whose op ends unknown
//! (`info`) is retired and a fresh process number takes its slot.

use crate::connectors::OpClient;
use crate::node_api::Reply;
use crate::store::Jsonl;
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use serde_json::{json, Value};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::watch;
use traitor_model::{Event, EventKind, NodeId};

/// What the clients ask for.
#[derive(Clone, Debug, PartialEq)]
pub enum OpMix {
    /// read / write / cas over `keys` keys.
    Kv { keys: usize },
    /// read / write on one register.
    Register,
    /// read / write / cas on one register.
    CasRegister,
    /// Orders ("attack" / "retreat") to the commander.
    Generals,
}

impl OpMix {
    /// The mix for a model name of `target.toml`.
    pub fn for_model(model: &str, keys: usize) -> Result<Self, String> {
        match model {
            "kv" => Ok(OpMix::Kv { keys }),
            "register" => Ok(OpMix::Register),
            "cas-register" => Ok(OpMix::CasRegister),
            "generals" => Ok(OpMix::Generals),
            other => Err(format!(
                "no workload for model {other:?}; expected kv, register, cas-register or generals"
            )),
        }
    }

    /// The next op (its history fields: f, key, value) from `rng`.
    fn next(&self, rng: &mut StdRng) -> (&'static str, Option<String>, Value) {
        let key = match self {
            OpMix::Kv { keys } => Some(format!("k{}", rng.random_range(0..*keys.max(&1)))),
            OpMix::Register | OpMix::CasRegister => Some("r".to_string()),
            OpMix::Generals => None,
        };
        let choices: &[&str] = match self {
            OpMix::Register => &["read", "write"],
            OpMix::Kv { .. } | OpMix::CasRegister => &["read", "write", "cas"],
            OpMix::Generals => &["order"],
        };
        let f = choices[rng.random_range(0..choices.len())];
        // Few distinct values, so that cas often matches and reads are informative.
        let value = match f {
            "read" => Value::Null,
            "write" => json!(rng.random_range(0..5)),
            "cas" => json!([rng.random_range(0..5), rng.random_range(0..5)]),
            _ => json!(if rng.random_bool(0.5) {
                "attack"
            } else {
                "retreat"
            }),
        };
        (f, key, value)
    }
}

/// How the clients run.
#[derive(Clone, Debug)]
pub struct WorkloadConfig {
    pub mix: OpMix,
    /// Client processes running at once.
    pub concurrency: usize,
    /// Target ops per second over all clients (0: as fast as answers come).
    pub rate: f64,
    pub timeout: Duration,
    /// The nodes clients send ops to, one chosen at random per op: the correct nodes (a
    /// Byzantine node may answer anything), or the one node asked for.
    pub targets: Vec<NodeId>,
    pub seed: u64,
}

/// Shared counters the progress display reads.
#[derive(Debug, Default)]
pub struct Counters {
    pub ok: AtomicU64,
    pub fail: AtomicU64,
    pub info: AtomicU64,
}

/// Everything the clients of a run need; each client task gets a copy.
#[derive(Clone)]
pub struct Clients {
    pub config: WorkloadConfig,
    /// How ops reach the nodes (the node API or the target's adapter).
    pub client: Arc<dyn OpClient>,
    pub history: Jsonl,
    pub run_start: Instant,
    pub stop: watch::Receiver<bool>,
    pub counters: Arc<Counters>,
}

/// Runs the clients until `stop` turns true; each finishes its op in flight first.
pub async fn run_clients(clients: Clients) -> Result<(), crate::exit::Failure> {
    let mut slots = tokio::task::JoinSet::new();
    for slot in 0..clients.config.concurrency {
        slots.spawn(client(slot, clients.clone()));
    }
    while let Some(done) = slots.join_next().await {
        done.map_err(|e| crate::exit::Failure::harness(format!("a client task failed: {e}")))??;
    }
    Ok(())
}

/// One client slot: a Jepsen process, replaced by a fresh one after each unknown outcome.
async fn client(slot: usize, clients: Clients) -> Result<(), crate::exit::Failure> {
    let Clients {
        config,
        client,
        history,
        run_start,
        stop,
        counters,
    } = clients;
    let mut rng = StdRng::seed_from_u64(
        config
            .seed
            .wrapping_mul(0x9E37_79B9)
            .wrapping_add(slot as u64),
    );
    let mut process = slot as u64;
    let mut req = 0u64;
    let pace = (config.rate > 0.0)
        .then(|| Duration::from_secs_f64(config.concurrency as f64 / config.rate));
    let mut next_start = Instant::now();
    let now_ns = || run_start.elapsed().as_nanos() as u64;
    while !*stop.borrow() {
        if let Some(pace) = pace {
            tokio::time::sleep_until(next_start.into()).await;
            next_start += pace;
        }
        let (f, key, value) = config.mix.next(&mut rng);
        let node = config.targets[rng.random_range(0..config.targets.len())];
        req += 1;
        let client_id = format!("c{process}");
        let mut invoke = Event::new(process, EventKind::Invoke, f, value.clone());
        invoke.key = key.clone().map(Value::String);
        invoke.node = Some(node);
        invoke.client = Some(client_id.clone());
        invoke.req = Some(req);
        // A read carries no value: nodes re-serialise ops without nulls, and the client's
        // signature must cover the same bytes they check.
        let mut op = json!({"f": f});
        if !value.is_null() {
            op["value"] = value.clone();
        }
        if let Some(k) = &key {
            op["key"] = json!(k);
        }
        record(&history, invoke.clone(), now_ns())?;
        let reply = client
            .submit(node, &client_id, req, op, config.timeout)
            .await;
        let mut done = invoke;
        match reply {
            Reply::Ok(returned) => {
                done.kind = EventKind::Ok;
                if f == "read" || f == "order" {
                    done.value = returned;
                }
                counters.ok.fetch_add(1, Ordering::Relaxed);
            }
            Reply::Fail(error) => {
                done.kind = EventKind::Fail;
                done.error = Some(json!(error));
                counters.fail.fetch_add(1, Ordering::Relaxed);
            }
            Reply::Info(error) => {
                done.kind = EventKind::Info;
                done.error = Some(json!(error));
                counters.info.fetch_add(1, Ordering::Relaxed);
            }
        }
        let retire = done.kind == EventKind::Info;
        record(&history, done, now_ns())?;
        if retire {
            process += config.concurrency as u64;
            req = 0;
        }
    }
    Ok(())
}

fn record(history: &Jsonl, mut event: Event, time: u64) -> Result<(), crate::exit::Failure> {
    event.time = Some(time);
    history.append_numbered(|index| {
        event.index = Some(index);
        event
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn op_mixes_follow_their_model() {
        let mut rng = StdRng::seed_from_u64(1);
        for _ in 0..50 {
            let (f, key, value) = OpMix::Kv { keys: 3 }.next(&mut rng);
            assert!(["read", "write", "cas"].contains(&f));
            assert!(key.unwrap().starts_with('k'));
            if f == "cas" {
                assert_eq!(value.as_array().map(Vec::len), Some(2));
            }
            let (f, key, _) = OpMix::Register.next(&mut rng);
            assert!(f != "cas" && key.is_some());
            let (f, key, value) = OpMix::Generals.next(&mut rng);
            assert!(f == "order" && key.is_none() && value.is_string());
        }
        assert!(OpMix::for_model("queue", 1)
            .unwrap_err()
            .contains("expected kv"));
    }
}
