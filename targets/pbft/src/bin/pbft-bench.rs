//! `pbft-bench`: starts a local cluster of `pbft-node` processes on 127.0.0.1, drives
//! concurrent HTTP clients against it for a bounded time, prints throughput and latency
//! percentiles, and kills the processes at the end (also on error or panic).

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use clap::Parser;
use pbft_node::crypto::{public_key_hex, sign_request};
use pbft_node::messages::{Op, Request};
use serde_json::{json, Value};

/// Benchmark a local PBFT cluster.
#[derive(Parser)]
struct Args {
    /// Number of replicas.
    #[arg(long, default_value_t = 4)]
    n: usize,
    /// Concurrent clients.
    #[arg(long, default_value_t = 16)]
    clients: usize,
    /// Seconds of load.
    #[arg(long, default_value_t = 10)]
    duration_secs: u64,
    /// First peer port; replica i uses base+i for peers and base+100+i for HTTP.
    #[arg(long, default_value_t = 17000)]
    base_port: u16,
    /// Fraction of reads in the workload (0..=1).
    #[arg(long, default_value_t = 0.5)]
    read_fraction: f64,
    /// Path of the node binary (default: `pbft-node` next to this binary).
    #[arg(long)]
    node_bin: Option<PathBuf>,
}

/// Kills every child on drop, so an early return or a panic leaves no processes behind.
struct Cluster(Vec<Child>);

impl Drop for Cluster {
    fn drop(&mut self) {
        for child in &mut self.0 {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Starts the nodes, requiring requests signed by the client authority whose secret is
/// `authority`.
fn start_cluster(args: &Args, authority: &[u8; 32]) -> Result<(Cluster, Vec<String>), String> {
    let bin = match &args.node_bin {
        Some(p) => p.clone(),
        None => std::env::current_exe()
            .map_err(|e| e.to_string())?
            .with_file_name("pbft-node"),
    };
    let secrets: Vec<[u8; 32]> = (0..args.n).map(|_| rand::random()).collect();
    let pubkeys: Vec<String> = secrets.iter().map(public_key_hex).collect();
    let peers: Vec<String> = (0..args.n)
        .map(|i| format!("127.0.0.1:{}", args.base_port as usize + i))
        .collect();
    let apis: Vec<String> = (0..args.n)
        .map(|i| format!("127.0.0.1:{}", args.base_port as usize + 100 + i))
        .collect();
    let mut cluster = Cluster(Vec::new());
    for i in 0..args.n {
        let child = Command::new(&bin)
            .args(["--id", &i.to_string(), "--n", &args.n.to_string()])
            .args(["--listen", &peers[i], "--api", &apis[i]])
            .args([
                "--peers",
                &peers.join(","),
                "--key",
                &hex::encode(secrets[i]),
            ])
            .args(["--pubkeys", &pubkeys.join(",")])
            .args(["--client-key", &public_key_hex(authority)])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| format!("cannot start {}: {e}", bin.display()))?;
        cluster.0.push(child);
    }
    Ok((cluster, apis))
}

async fn wait_healthy(http: &reqwest::Client, apis: &[String]) -> Result<(), String> {
    let deadline = Instant::now() + Duration::from_secs(10);
    for api in apis {
        loop {
            let ok = http
                .get(format!("http://{api}/health"))
                .send()
                .await
                .is_ok_and(|r| r.status().is_success());
            if ok {
                break;
            }
            if Instant::now() > deadline {
                return Err(format!("{api} not healthy within 10 s"));
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
    Ok(())
}

struct ClientStats {
    latencies: Vec<Duration>,
    unknown: usize,
}

/// One client's load against one replica.
struct ClientPlan {
    api: String,
    client: usize,
    until: Instant,
    read_fraction: f64,
    authority: [u8; 32],
}

async fn run_client(http: reqwest::Client, plan: ClientPlan) -> ClientStats {
    let ClientPlan {
        api,
        client,
        until,
        read_fraction,
        authority,
    } = plan;
    let mut stats = ClientStats {
        latencies: Vec::new(),
        unknown: 0,
    };
    let mut req = 0u64;
    while Instant::now() < until {
        req += 1;
        let key = format!("k{}", rand::random::<u32>() % 8);
        let op = if rand::random::<f64>() < read_fraction {
            Op::Read { key }
        } else {
            Op::Write {
                key,
                value: json!(req),
            }
        };
        let body = sign_request(
            &authority,
            Request {
                client: format!("bench{client}"),
                req,
                op,
                sig: None,
            },
        );
        let started = Instant::now();
        let answer = http
            .post(format!("http://{api}/ops"))
            .json(&body)
            .send()
            .await;
        let ok = match answer {
            Ok(r) if r.status().is_success() => {
                r.json::<Value>().await.is_ok_and(|v| v["status"] == "ok")
            }
            _ => false,
        };
        if ok {
            stats.latencies.push(started.elapsed());
        } else {
            stats.unknown += 1;
        }
    }
    stats
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let index = ((sorted.len() - 1) as f64 * p).round() as usize;
    sorted[index]
}

async fn bench(args: Args) -> Result<(), String> {
    if !(0.0..=1.0).contains(&args.read_fraction) {
        return Err("--read-fraction must be between 0 and 1".into());
    }
    let authority: [u8; 32] = rand::random();
    let (cluster, apis) = start_cluster(&args, &authority)?;
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .map_err(|e| e.to_string())?;
    wait_healthy(&http, &apis).await?;
    let started = Instant::now();
    let until = started + Duration::from_secs(args.duration_secs);
    let tasks: Vec<_> = (0..args.clients)
        .map(|c| {
            let plan = ClientPlan {
                api: apis[c % apis.len()].clone(),
                client: c,
                until,
                read_fraction: args.read_fraction,
                authority,
            };
            tokio::spawn(run_client(http.clone(), plan))
        })
        .collect();
    let mut latencies = Vec::new();
    let mut unknown = 0;
    for task in tasks {
        let stats = task.await.map_err(|e| e.to_string())?;
        latencies.extend(stats.latencies);
        unknown += stats.unknown;
    }
    let elapsed = started.elapsed().as_secs_f64();
    let status: Value = http
        .get(format!("http://{}/status", apis[0]))
        .send()
        .await
        .map_err(|e| e.to_string())?
        .json()
        .await
        .map_err(|e| e.to_string())?;
    drop(cluster);
    latencies.sort();
    println!(
        "n={} clients={} duration={:.1}s ok={} not-ok={} throughput={:.0} ops/s p50={:.2} ms p99={:.2} ms committed={}",
        args.n,
        args.clients,
        elapsed,
        latencies.len(),
        unknown,
        latencies.len() as f64 / elapsed,
        percentile(&latencies, 0.50).as_secs_f64() * 1e3,
        percentile(&latencies, 0.99).as_secs_f64() * 1e3,
        status["committed"]
    );
    Ok(())
}

#[tokio::main]
async fn main() {
    let args = Args::parse();
    if let Err(e) = bench(args).await {
        eprintln!("error: {e}");
        std::process::exit(1);
    }
}
