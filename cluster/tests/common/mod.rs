//! Helpers shared by the backend tests: a probe node program as a Cargo workspace of its own,
//! a minimal HTTP client, run specs.
#![allow(dead_code)] // each test binary uses its own subset

use std::io::{Read, Write};
use std::net::{IpAddr, SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::time::Duration;

use traitor_cluster::{ClusterBackend, ClusterSpec, ImageSource};

/// The probe's API port inside every node.
pub const API_PORT: u16 = 8080;

/// The package (and binary) name of the probe workspace.
pub const PROBE: &str = "probe-node";

/// A Cargo workspace at `<target tmp>/<dir>` whose only package, `probe-node`, is the crate's
/// own `traitor-cluster-probe` source (std only, so a static release build takes seconds).
/// `variant` adds a string to the binary, giving a different binary from the same program.
/// Files are rewritten only when they change, so cargo's up-to-date check holds across runs.
pub fn probe_workspace(dir: &str, variant: Option<&str>) -> PathBuf {
    let root = Path::new(env!("CARGO_TARGET_TMPDIR")).join(dir);
    std::fs::create_dir_all(root.join("src")).expect("creating the probe workspace");
    let manifest = format!(
        "[package]\nname = \"{PROBE}\"\nversion = \"0.1.0\"\nedition = \"2021\"\n\n[workspace]\n"
    );
    let mut main = include_str!("../../src/bin/traitor-cluster-probe.rs").to_string();
    if let Some(variant) = variant {
        main.push_str(&format!("\n#[used]\nstatic VARIANT: &str = {variant:?};\n"));
    }
    write_if_changed(&root.join("Cargo.toml"), &manifest);
    write_if_changed(&root.join("src/main.rs"), &main);
    root
}

fn write_if_changed(path: &Path, content: &str) {
    if std::fs::read_to_string(path).ok().as_deref() != Some(content) {
        std::fs::write(path, content).expect("writing the probe workspace");
    }
}

/// The probe as a cargo binary of its own workspace.
pub fn probe_source() -> ImageSource {
    ImageSource::CargoBin {
        bin: PROBE.into(),
        workspace: probe_workspace("probe-ws", None),
    }
}

/// A unique run id for one test, so parallel tests and earlier runs never share names.
pub fn run_id(test: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    format!("t-{test}-{}-{nanos:x}", std::process::id())
}

pub fn spec(run_id: &str, image: ImageSource) -> ClusterSpec {
    ClusterSpec {
        run_id: run_id.into(),
        image,
        peer_port: 7000,
        api_port: API_PORT,
        memory_limit: 64 * 1024 * 1024,
        pids_limit: 64,
    }
}

/// The probe's arguments for a node at `ip`.
pub fn probe_args(ip: IpAddr, node: u32) -> Vec<String> {
    vec![
        "--api".into(),
        SocketAddr::new(ip, API_PORT).to_string(),
        "--node".into(),
        node.to_string(),
    ]
}

/// `GET path` over HTTP/1.0, giving status and body, or `None` if nothing answered within
/// `timeout`.
pub fn http_get(ip: IpAddr, path: &str, timeout: Duration) -> Option<(u16, String)> {
    let addr = SocketAddr::new(ip, API_PORT);
    let mut stream = TcpStream::connect_timeout(&addr, timeout).ok()?;
    stream.set_read_timeout(Some(timeout)).ok()?;
    stream.set_write_timeout(Some(timeout)).ok()?;
    write!(stream, "GET {path} HTTP/1.0\r\n\r\n").ok()?;
    let mut response = String::new();
    stream.read_to_string(&mut response).ok()?;
    let status = response.split_whitespace().nth(1)?.parse().ok()?;
    let body = response.split_once("\r\n\r\n")?.1.to_string();
    Some((status, body))
}

/// Whether `/health` answers 200 within 300 ms.
pub fn healthy(ip: IpAddr) -> bool {
    matches!(
        http_get(ip, "/health", Duration::from_millis(300)),
        Some((200, _))
    )
}

/// Waits for every node's `/health` through the library's readiness check; panics after
/// `limit`.
pub async fn wait_healthy(ips: &[IpAddr], limit: Duration) {
    let apis: Vec<SocketAddr> = ips
        .iter()
        .map(|ip| SocketAddr::new(*ip, API_PORT))
        .collect();
    if let Err(e) =
        traitor_cluster::wait_ready(&apis, traitor_cluster::Readiness::Health, limit).await
    {
        panic!("{e}");
    }
}

/// Blocking HTTP off the runtime's threads.
pub async fn get(ip: IpAddr, path: &str, timeout: Duration) -> Option<(u16, String)> {
    let path = path.to_string();
    tokio::task::spawn_blocking(move || http_get(ip, &path, timeout))
        .await
        .expect("http task")
}

/// Docker tests never skip: without an engine they fail, saying so.
pub async fn require_docker() -> bollard::Docker {
    assert!(
        traitor_cluster::docker_available().await,
        "these tests need a Docker engine (CI has one): none answered at DOCKER_HOST or \
         /var/run/docker.sock; start dockerd or give this user access to its socket"
    );
    bollard::Docker::connect_with_local_defaults()
        .expect("connecting to Docker")
        .negotiate_version()
        .await
        .expect("negotiating the Docker API version")
}

/// How many containers and networks carry `traitor.run=<run_id>`.
pub async fn labelled(docker: &bollard::Docker, run_id: &str) -> (usize, usize) {
    use bollard::query_parameters::{ListContainersOptionsBuilder, ListNetworksOptionsBuilder};
    let filters = std::collections::HashMap::from([(
        "label".to_string(),
        vec![format!("traitor.run={run_id}")],
    )]);
    let containers = docker
        .list_containers(Some(
            ListContainersOptionsBuilder::default()
                .all(true)
                .filters(&filters)
                .build(),
        ))
        .await
        .expect("listing containers");
    let networks = docker
        .list_networks(Some(
            ListNetworksOptionsBuilder::default()
                .filters(&filters)
                .build(),
        ))
        .await
        .expect("listing networks");
    (containers.len(), networks.len())
}

/// Kill, restart, pause, resume and restart-while-running on node 0, node 1 untouched.
/// Shared with the process backend's tests through the trait.
pub async fn faults_behave(cluster: &mut dyn ClusterBackend, a: IpAddr, b: IpAddr) {
    let args = get(a, "/args", Duration::from_secs(1))
        .await
        .expect("args")
        .1;

    cluster.kill(0).await.expect("kill");
    assert!(
        get(a, "/health", Duration::from_millis(500))
            .await
            .is_none(),
        "killed node answers"
    );
    assert!(healthy(b), "killing node 0 touched node 1");
    let samples = cluster.sample().await.expect("sample");
    assert!(!samples[0].running && samples[1].running, "{samples:?}");
    cluster
        .kill(0)
        .await
        .expect("killing a dead node is a no-op");

    cluster.restart(0).await.expect("restart");
    wait_healthy(&[a], Duration::from_secs(10)).await;
    let again = get(a, "/args", Duration::from_secs(1))
        .await
        .expect("args")
        .1;
    assert_eq!(
        again, args,
        "restart must keep the address and the arguments"
    );

    cluster.pause(0).await.expect("pause");
    assert!(
        get(a, "/health", Duration::from_millis(500))
            .await
            .is_none(),
        "paused node answers"
    );
    assert!(healthy(b));
    cluster.resume(0).await.expect("resume");
    wait_healthy(&[a], Duration::from_secs(5)).await;

    cluster.restart(0).await.expect("restart of a running node");
    wait_healthy(&[a], Duration::from_secs(10)).await;
    cluster.pause(0).await.expect("pause");
    cluster.kill(0).await.expect("killing a paused node");
    assert!(!cluster.sample().await.expect("sample")[0].running);
    assert!(
        cluster.resume(7).await.is_err(),
        "unknown nodes are an error"
    );
}

/// A fresh folder under the system temp dir for one run.
pub fn tempdir(run: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("traitor-cluster-test-{run}"));
    std::fs::create_dir_all(&dir).expect("creating a temp dir");
    dir
}

/// Removes a Docker run's containers and network if the test holding it panics, so a failed
/// assertion leaves nothing behind (a passing test tears down itself, and checks it did).
pub struct SweepOnPanic(pub String);

impl Drop for SweepOnPanic {
    fn drop(&mut self) {
        if !std::thread::panicking() {
            return;
        }
        let run = self.0.clone();
        // The test's runtime is unwinding: sweep on a runtime of our own, on a fresh thread.
        let _ = std::thread::spawn(move || {
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map(|rt| rt.block_on(traitor_cluster::gc_run(&run)))
        })
        .join();
    }
}
