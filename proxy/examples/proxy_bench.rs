//! Loopback benchmark of the proxy's pass-through path.
//!
//! ```sh
//! cargo run --release -p traitor-proxy --example proxy_bench -- [--bytes MIB] [--rounds N] [--pings N]
//! ```
//!
//! 1. Bulk throughput: one connection sends `--bytes` MiB (len32 frames of 64 KiB) to a sink
//!    that counts them and acknowledges; timed direct, through `socat` (default buffer and
//!    128 KiB buffer, when installed) and through the proxy with `stream`, `len32` and
//!    `len32-json` framing. Best of `--rounds`.
//! 2. Latency: `--pings` small len32-json request/response round trips against an echo
//!    server, direct, through socat and through the proxy (trace off and trace on); p50 and
//!    p99 of the round trip, and the latency the proxy adds per message (half the added
//!    round trip, since a round trip crosses the proxy twice).

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpSocket, TcpStream};
use traitor_proxy::{Framing, Proxy, ProxyConfig, ProxyNode};

const CLIENT_IP: IpAddr = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 10));
const SERVER_IP: IpAddr = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 11));
const FRAME: usize = 64 << 10;
const CHUNK: usize = 4 * FRAME;

struct Args {
    mib: usize,
    rounds: usize,
    pings: usize,
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        mib: 2048,
        rounds: 3,
        pings: 20_000,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let value = it
            .next()
            .ok_or_else(|| format!("{flag} needs a value"))?
            .parse::<usize>()
            .map_err(|e| format!("{flag}: {e} (expected a positive integer)"))?;
        match flag.as_str() {
            "--bytes" => args.mib = value.max(1),
            "--rounds" => args.rounds = value.max(1),
            "--pings" => args.pings = value.max(100),
            other => {
                return Err(format!(
                    "unknown flag {other:?}: expected --bytes MIB, --rounds N or --pings N"
                ))
            }
        }
    }
    Ok(args)
}

#[tokio::main]
async fn main() {
    let args = match parse_args() {
        Ok(args) => args,
        Err(e) => {
            eprintln!("proxy_bench: error: {e}");
            std::process::exit(2);
        }
    };
    let socat = socat_available();
    if !socat {
        println!(
            "socat: NOT FOUND on PATH; socat comparisons are skipped (apt-get install -y socat)"
        );
    }
    println!(
        "bulk: {} MiB per transfer, best of {} rounds; latency: {} round trips",
        args.mib, args.rounds, args.pings
    );

    // 1. Throughput.
    let sink = start_sink().await;
    let mut rows: Vec<(String, f64)> = Vec::new();
    rows.push(("direct".into(), best_throughput(sink, &args).await));
    if socat {
        for (name, buffer) in [
            ("socat (default 8 KiB buffer)", None),
            ("socat -b 131072", Some(131_072)),
        ] {
            let relay = Socat::start(sink, buffer).await;
            rows.push((name.into(), best_throughput(relay.addr, &args).await));
        }
    }
    for framing in [Framing::Stream, Framing::Len32, Framing::Len32Json] {
        let proxy = start_proxy(sink, framing, None).await;
        let rate = best_throughput(proxy.endpoint(1), &args).await;
        rows.push((format!("proxy, {framing} framing"), rate));
        proxy.shutdown().await;
    }
    let direct = rows[0].1;
    let socat_rate = rows
        .iter()
        .find(|(n, _)| n.starts_with("socat ("))
        .map(|r| r.1);
    println!("\nthroughput                          MiB/s   vs direct   vs socat");
    for (name, rate) in &rows {
        let vs_socat = socat_rate.map_or("n/a".to_string(), |s| format!("{:.2}", rate / s));
        println!(
            "{name:<34} {rate:>7.0}   {:>9.2}   {vs_socat:>8}",
            rate / direct
        );
    }

    // 2. Latency.
    let echo = start_echo().await;
    let direct = ping_pong(echo, args.pings).await;
    let mut rows = vec![("direct".to_string(), direct.clone())];
    if socat {
        let relay = Socat::start(echo, None).await;
        rows.push(("socat".into(), ping_pong(relay.addr, args.pings).await));
    }
    let proxy = start_proxy(echo, Framing::Len32Json, None).await;
    rows.push((
        "proxy, len32-json".into(),
        ping_pong(proxy.endpoint(1), args.pings).await,
    ));
    proxy.shutdown().await;
    let trace =
        std::env::temp_dir().join(format!("proxy_bench_trace_{}.jsonl", std::process::id()));
    let proxy = start_proxy(echo, Framing::Len32Json, Some(trace.clone())).await;
    rows.push((
        "proxy, len32-json, trace on".into(),
        ping_pong(proxy.endpoint(1), args.pings).await,
    ));
    proxy.shutdown().await;
    let _ = std::fs::remove_file(&trace);
    println!("\nround trip (us)                      p50      p99   added per message p50 / p99");
    for (name, rtt) in &rows {
        let (p50, p99) = (percentile(rtt, 0.50), percentile(rtt, 0.99));
        println!(
            "{name:<34} {p50:>7.1}  {p99:>7.1}   {:>7.1} / {:.1}",
            (p50 - percentile(&direct, 0.50)) / 2.0,
            (p99 - percentile(&direct, 0.99)) / 2.0
        );
    }
}

/// Counts bytes until end of stream on each connection, then answers with the count.
async fn start_sink() -> SocketAddr {
    let listener = TcpListener::bind((SERVER_IP, 0))
        .await
        .expect("binding the sink");
    let addr = listener.local_addr().expect("sink address");
    tokio::spawn(async move {
        while let Ok((mut conn, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut buf = vec![0u8; 256 << 10];
                let mut total = 0u64;
                loop {
                    match conn.read(&mut buf).await {
                        Ok(0) => break,
                        Ok(n) => total += n as u64,
                        Err(_) => return,
                    }
                }
                let _ = conn.write_all(&total.to_be_bytes()).await;
            });
        }
    });
    addr
}

/// Answers each len32 frame with the same frame.
async fn start_echo() -> SocketAddr {
    let listener = TcpListener::bind((SERVER_IP, 0))
        .await
        .expect("binding the echo server");
    let addr = listener.local_addr().expect("echo address");
    tokio::spawn(async move {
        while let Ok((mut conn, _)) = listener.accept().await {
            let _ = conn.set_nodelay(true);
            tokio::spawn(async move {
                let mut frame = Vec::new();
                while read_frame(&mut conn, &mut frame).await.is_ok() {
                    if conn.write_all(&frame).await.is_err() {
                        return;
                    }
                }
            });
        }
    });
    addr
}

async fn read_frame(conn: &mut TcpStream, frame: &mut Vec<u8>) -> std::io::Result<()> {
    let mut header = [0u8; 4];
    conn.read_exact(&mut header).await?;
    frame.clear();
    frame.extend_from_slice(&header);
    frame.resize(4 + u32::from_be_bytes(header) as usize, 0);
    conn.read_exact(&mut frame[4..]).await?;
    Ok(())
}

/// A proxy with node 0 (the bench client) and node 1 (the server at `upstream`).
async fn start_proxy(
    upstream: SocketAddr,
    framing: Framing,
    trace: Option<std::path::PathBuf>,
) -> Proxy {
    let nodes = vec![
        ProxyNode {
            id: 0,
            source_ip: CLIENT_IP,
            upstream: SocketAddr::new(CLIENT_IP, 9), // never dialled in this bench
        },
        ProxyNode {
            id: 1,
            source_ip: SERVER_IP,
            upstream,
        },
    ];
    Proxy::start(ProxyConfig {
        listen_ip: IpAddr::V4(Ipv4Addr::LOCALHOST),
        nodes,
        framing,
        seed: 1,
        run_start: Instant::now(),
        trace_path: trace,
        trace_limit: usize::MAX,
        interceptor: None,
        more_ports: vec![],
        resolver: None,
    })
    .await
    .expect("starting the proxy")
}

async fn dial(target: SocketAddr) -> TcpStream {
    let socket = TcpSocket::new_v4().expect("socket");
    socket
        .bind(SocketAddr::new(CLIENT_IP, 0))
        .expect("binding the client address");
    let conn = socket.connect(target).await.expect("connecting");
    conn.set_nodelay(true).expect("TCP_NODELAY");
    conn
}

/// The best rate over the rounds, in MiB/s.
async fn best_throughput(target: SocketAddr, args: &Args) -> f64 {
    let mut chunk = Vec::with_capacity(CHUNK);
    for _ in 0..CHUNK / FRAME {
        chunk.extend_from_slice(&((FRAME - 4) as u32).to_be_bytes());
        chunk.resize(chunk.len() + FRAME - 4, b'x');
    }
    let total = (args.mib << 20) as u64;
    let mut best = 0.0f64;
    for _ in 0..args.rounds {
        let start = Instant::now();
        let mut conn = dial(target).await;
        let mut sent = 0u64;
        while sent < total {
            conn.write_all(&chunk).await.expect("sending bulk data");
            sent += CHUNK as u64;
        }
        conn.shutdown().await.expect("half-closing");
        let mut ack = [0u8; 8];
        conn.read_exact(&mut ack)
            .await
            .expect("reading the sink's count");
        let elapsed = start.elapsed();
        assert_eq!(u64::from_be_bytes(ack), sent, "the sink got every byte");
        best = best.max(sent as f64 / (1 << 20) as f64 / elapsed.as_secs_f64());
    }
    best
}

/// Round-trip times in microseconds of `pings` small len32-json messages, after a warm-up.
async fn ping_pong(target: SocketAddr, pings: usize) -> Vec<f64> {
    let mut conn = dial(target).await;
    let mut reply = Vec::new();
    let mut rtts = Vec::with_capacity(pings);
    for i in 0..pings + 1000 {
        let body = format!(
            r#"{{"from":0,"type":"prepare","view":1,"seq":{i},"digest":"9f86d081884c7d659a2feaa0c55ad015","sig":"00"}}"#
        );
        let mut frame = (body.len() as u32).to_be_bytes().to_vec();
        frame.extend_from_slice(body.as_bytes());
        let start = Instant::now();
        conn.write_all(&frame).await.expect("sending a ping");
        read_frame(&mut conn, &mut reply)
            .await
            .expect("reading the pong");
        if i >= 1000 {
            rtts.push(start.elapsed().as_secs_f64() * 1e6);
        }
        assert_eq!(reply, frame, "the echo is the ping");
    }
    rtts.sort_by(f64::total_cmp);
    rtts
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

fn socat_available() -> bool {
    Command::new("socat")
        .arg("-V")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// A `socat` relay from a loopback port to `target`, killed when dropped.
struct Socat {
    child: Child,
    addr: SocketAddr,
}

impl Socat {
    async fn start(target: SocketAddr, buffer: Option<usize>) -> Socat {
        let port = {
            let probe = std::net::TcpListener::bind("127.0.0.1:0").expect("probing a free port");
            probe.local_addr().expect("probe address").port()
        };
        let addr = SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), port);
        let mut command = Command::new("socat");
        if let Some(size) = buffer {
            command.args(["-b", &size.to_string()]);
        }
        let child = command
            .arg(format!(
                "TCP-LISTEN:{port},bind=127.0.0.1,reuseaddr,fork,nodelay"
            ))
            .arg(format!("TCP:{target},nodelay"))
            .stdout(Stdio::null())
            .spawn()
            .expect("starting socat");
        let deadline = Instant::now() + Duration::from_secs(5);
        while TcpStream::connect(addr).await.is_err() {
            assert!(
                Instant::now() < deadline,
                "socat did not start listening on {addr}"
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        Socat { child, addr }
    }
}

impl Drop for Socat {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
