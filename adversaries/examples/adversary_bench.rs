//! Messages per second through adversary chains, on pbft-like signed JSON messages:
//! `equivocate-sign` alone, every built-in composed, and a plugin (the Python example by
//! default, or any given as the first argument).
//!
//! `cargo run --release -p traitor-adversaries --example adversary_bench [PLUGIN]`

use ed25519_dalek::SigningKey;
use rand::rngs::StdRng;
use rand::SeedableRng;
use serde_json::{json, Value};
use std::time::{Duration, Instant};
use traitor_adversaries::canonical::{resign, to_payload};
use traitor_adversaries::{spec, Chain, RunInfo};
use traitor_model::wire::Envelope;

const N: u32 = 4;

/// Node 0, the primary of view 0, is Byzantine.
fn run_info(keys: &[SigningKey]) -> RunInfo {
    RunInfo {
        n: N,
        f: 1,
        byzantine: vec![0],
        keys: [(0, keys[0].clone())].into(),
    }
}

/// The traffic of `slots` pbft sequence numbers: the primary's pre-prepares, then every
/// replica's prepares and commits to every peer, each signed by its sender.
fn traffic(slots: u64, keys: &[SigningKey]) -> Vec<Envelope> {
    let everyone = RunInfo {
        keys: keys
            .iter()
            .cloned()
            .enumerate()
            .map(|(i, k)| (i as u32, k))
            .collect(),
        ..run_info(keys)
    };
    let mut out = Vec::new();
    for seq in 1..=slots {
        let request = json!({"client": format!("c{}", seq % 8), "req": seq, "op": {"f": "write", "key": format!("k{}", seq % 5), "value": seq * 7}});
        let digest = format!("{:064x}", seq * 0x9e37_79b9);
        let mut send = |from: u32, body: Value| {
            let Value::Object(mut m) = body else {
                unreachable!()
            };
            m.insert("from".into(), json!(from));
            m.insert("sig".into(), json!(""));
            resign(&mut m, from, &everyone);
            for to in (0..N).filter(|&to| to != from) {
                out.push(Envelope {
                    from,
                    to,
                    time: seq * 1_000_000,
                    payload: to_payload(&m),
                });
            }
        };
        send(
            0,
            json!({"type": "pre-prepare", "view": 0, "seq": seq, "digest": digest, "request": request}),
        );
        for kind in ["prepare", "commit"] {
            for from in 0..N {
                if kind == "prepare" && from == 0 {
                    continue;
                }
                send(
                    from,
                    json!({"type": kind, "view": 0, "seq": seq, "digest": digest}),
                );
            }
        }
    }
    out
}

/// Messages per second through a chain of `specs`, over `messages`.
fn measure(specs: &[&str], messages: &[Envelope], keys: &[SigningKey]) -> Result<f64, String> {
    let adversaries = specs
        .iter()
        .map(|s| spec::parse(s))
        .collect::<Result<Vec<_>, _>>()?;
    let mut chain = Chain::start(adversaries, run_info(keys), StdRng::seed_from_u64(7))?;
    let started = Instant::now();
    let mut noted = 0;
    for msg in messages {
        let actions = chain.on_message(msg);
        if let Some(why) = actions.fatal {
            return Err(why);
        }
        noted += actions.notes.len();
    }
    let took = started.elapsed().max(Duration::from_nanos(1));
    let rate = messages.len() as f64 / took.as_secs_f64();
    println!(
        "{:<66} {:>6} msgs in {:>8.1?}: {:>9.0} msgs/s ({noted} actions noted)",
        specs.join(" + "),
        messages.len(),
        took,
        rate
    );
    Ok(rate)
}

fn main() {
    let keys: Vec<SigningKey> = (0..N as u8)
        .map(|i| SigningKey::from_bytes(&[i + 1; 32]))
        .collect();
    let builtin = traffic(2_000, &keys);
    let plugin_traffic = traffic(400, &keys);
    let plugin = std::env::args().nth(1).unwrap_or_else(|| {
        concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../examples/plugins/python/equivocating_primary.py"
        )
        .to_string()
    });
    let all: Vec<&str> = spec::CATALOGUE
        .iter()
        .map(|(name, _, _)| *name)
        .filter(|name| *name != "plugin")
        .collect();
    let plugin_spec = format!("plugin:{plugin}");
    let runs: [(Vec<&str>, &[Envelope]); 4] = [
        (vec!["omit:peers=0,types=none"], &builtin),
        (vec!["equivocate-sign"], &builtin),
        (all, &builtin),
        (vec![plugin_spec.as_str()], &plugin_traffic),
    ];
    for (specs, messages) in runs {
        if let Err(e) = measure(&specs, messages, &keys) {
            eprintln!("adversary_bench: {}: {e}", specs.join(" + "));
            std::process::exit(1);
        }
    }
}
