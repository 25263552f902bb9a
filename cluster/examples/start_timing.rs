//! Measures how long a 4-node cluster of the workspace's `generals-node` takes to start
//! (until every `GET /health` answers) and to tear down, on either backend.
//!
//! ```sh
//! cargo run -q -p generals-node --example keygen -- 4 timing > /tmp/keys
//! cargo run -p traitor-cluster --example start_timing -- /tmp/keys [ROUNDS] [docker|process]
//! ```
//!
//! Peers are given as the nodes' own addresses (no proxy here): on Docker the nodes cannot
//! reach each other (inter-container traffic is off), which does not delay `/health`.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use traitor_cluster::{backend, wait_ready, BackendKind, ClusterSpec, ImageSource};

const N: usize = 4;

fn usage(problem: &str) -> ! {
    eprintln!("start_timing: {problem}\nusage: start_timing KEYS_FILE [ROUNDS] [docker|process]");
    std::process::exit(2);
}

/// The keygen's output: `id secret public` lines, then the comma-separated public keys.
fn read_keys(path: &str) -> (Vec<String>, String) {
    let text = std::fs::read_to_string(path)
        .unwrap_or_else(|e| usage(&format!("cannot read {path}: {e}")));
    let lines: Vec<&str> = text.lines().collect();
    let secrets: Vec<String> = lines
        .iter()
        .filter_map(|l| l.split_whitespace().nth(1).map(str::to_string))
        .take(N)
        .collect();
    match (secrets.len(), lines.last()) {
        (N, Some(pubkeys)) => (secrets, pubkeys.to_string()),
        _ => usage(&format!("{path} is not the output of `keygen {N} WORD`")),
    }
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let keys = args.first().unwrap_or_else(|| usage("missing KEYS_FILE"));
    let rounds: usize = match args.get(1).map(|r| r.parse()) {
        None => 5,
        Some(Ok(r)) if r > 0 => r,
        Some(_) => usage("ROUNDS must be a positive number"),
    };
    let kind = match args.get(2).map(String::as_str) {
        None | Some("docker") => BackendKind::Docker,
        Some("process") => BackendKind::Process,
        Some(other) => usage(&format!("unknown backend {other:?}")),
    };
    let (secrets, pubkeys) = read_keys(keys);
    let workspace = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/.."));
    let image = ImageSource::CargoBin {
        bin: "generals-node".into(),
        workspace,
    };
    if kind == BackendKind::Docker {
        match traitor_cluster::ensure_image(&image).await {
            Ok(built) => println!(
                "image {}: {} in {:?}",
                built.tag,
                if built.cached { "cached" } else { "built" },
                built.elapsed
            ),
            Err(e) => usage(&e.to_string()),
        }
    }

    let mut starts = Vec::new();
    let mut teardowns = Vec::new();
    for round in 0..rounds {
        let spec = ClusterSpec {
            run_id: format!("timing-{}-{round}", std::process::id()),
            image: image.clone(),
            peer_port: 7000,
            api_port: 8080,
            memory_limit: 256 * 1024 * 1024,
            pids_limit: 256,
        };
        let (start, teardown) = match one_round(kind, spec, &secrets, &pubkeys).await {
            Ok(times) => times,
            Err(e) => {
                eprintln!("start_timing: round {round}: {e}");
                std::process::exit(3);
            }
        };
        println!(
            "round {round}: start until every /health answered {start:?}, teardown {teardown:?}"
        );
        starts.push(start);
        teardowns.push(teardown);
    }
    println!(
        "{kind:?}, {N} nodes, {rounds} rounds: start median {:?} (max {:?}), teardown median {:?} (max {:?})",
        median(&mut starts),
        starts.iter().max().copied().unwrap_or_default(),
        median(&mut teardowns),
        teardowns.iter().max().copied().unwrap_or_default(),
    );
}

/// prepare + start_node for every node + wait for /health; then teardown.
async fn one_round(
    kind: BackendKind,
    spec: ClusterSpec,
    secrets: &[String],
    pubkeys: &str,
) -> traitor_cluster::Result<(Duration, Duration)> {
    let (peer_port, api_port) = (spec.peer_port, spec.api_port);
    let mut cluster = backend(kind, spec).await?;
    let started = Instant::now();
    let addressing = cluster.prepare(N).await?;
    let peers: Vec<String> = addressing
        .node_ips
        .iter()
        .map(|ip| SocketAddr::new(*ip, peer_port).to_string())
        .collect();
    for (i, ip) in addressing.node_ips.iter().enumerate() {
        let args = [
            "--id",
            &i.to_string(),
            "--n",
            &N.to_string(),
            "--listen",
            &SocketAddr::new(*ip, peer_port).to_string(),
            "--api",
            &SocketAddr::new(*ip, api_port).to_string(),
            "--peers",
            &peers.join(","),
            "--key",
            &secrets[i],
            "--pubkeys",
            pubkeys,
        ];
        cluster
            .start_node(
                i as u32,
                args.iter()
                    .map(|a| a.to_string())
                    .collect::<Vec<_>>()
                    .into(),
            )
            .await?;
    }
    let apis: Vec<SocketAddr> = addressing
        .node_ips
        .iter()
        .map(|ip| SocketAddr::new(*ip, api_port))
        .collect();
    let ready = wait_ready(
        &apis,
        traitor_cluster::Readiness::Health,
        Duration::from_secs(30),
    )
    .await;
    let start = started.elapsed();
    let torn = Instant::now();
    let teardown = cluster.teardown().await;
    ready?;
    teardown?;
    Ok((start, torn.elapsed()))
}

fn median(times: &mut [Duration]) -> Duration {
    times.sort();
    times[times.len() / 2]
}
