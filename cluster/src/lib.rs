//! Cluster backends: start, stop, kill, pause, resume and restart the nodes of one run,
//! and report their addresses, resource samples and logs.
//!
//! Two backends sit behind [`ClusterBackend`]: `docker` (one labelled bridge network per run
//! with inter-container traffic off, labelled containers, images built locally) and
//! `process` (the same binaries as local processes, each on its own 127.0.0.x).
//!
//! Nothing is ever pulled: images are built locally ([`images`]), and whatever a run creates
//! in Docker carries the label [`RUN_LABEL`] so that [`gc()`] can sweep a run whose harness
//! was killed.

use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::Arc;

pub use traitor_model::NodeId;

mod cargo_build;
pub mod docker;
mod engine;
mod error;
pub mod gc;
pub mod images;
mod loopback;
mod network;
pub mod process;
mod readiness;
mod sockets;

pub use docker::DockerBackend;
pub use engine::docker_available;
pub use error::{ClusterError, Result};
pub use gc::{gc, gc_run, GcReport};
pub use images::{ensure_image, BuiltImage};
pub use process::ProcessBackend;
pub use readiness::{health_ok, wait_ready, Readiness};

/// The label every container and network of a run carries (`traitor.run=<run_id>`): the only
/// thing teardown and `gc` ever select by, so nothing else on the host is touched.
pub const RUN_LABEL: &str = "traitor.run";
/// The label of the images traitor builds (`traitor.image=<name>`), to tell them apart.
pub const IMAGE_LABEL: &str = "traitor.image";

/// Where a target's node program comes from (the `[image]` section of `target.toml`).
#[derive(Clone, Debug, PartialEq)]
pub enum ImageSource {
    /// A binary of this Cargo workspace, built static, put in a `FROM scratch` image.
    CargoBin { bin: String, workspace: PathBuf },
    /// A host binary plus the libraries `ldd` names.
    HostBin(PathBuf),
    /// A Dockerfile, built by the engine with its folder as context.
    Dockerfile(PathBuf),
    /// An image used as it is (never pulled: it must already be present).
    Image(String),
}

/// What one run asks of a backend.
#[derive(Clone, Debug)]
pub struct ClusterSpec {
    /// The run's id; every container and network carries the label `traitor.run=<run_id>`.
    pub run_id: String,
    pub image: ImageSource,
    pub peer_port: u16,
    pub api_port: u16,
    /// Per-node memory limit (docker) in bytes.
    pub memory_limit: u64,
    /// Per-node process limit (docker).
    pub pids_limit: i64,
}

impl ClusterSpec {
    /// The run id ends up in container, network and folder names: only letters, digits,
    /// `_`, `.` and `-` (what Docker accepts in a name), at most 64 characters.
    pub(crate) fn check_run_id(&self) -> Result<()> {
        let id = &self.run_id;
        if traitor_model::target::is_container_name(id) {
            Ok(())
        } else {
            Err(ClusterError::new(
                "checking the run id",
                format!(
                    "{id:?} is not usable in container names: use 1 to 64 letters, digits, '_', '.' \
                     or '-', starting with a letter or digit"
                ),
            ))
        }
    }
}

/// Addresses decided before any node starts, so node arguments (`{ip}`, `{peers}`) and the
/// proxy can be set up first.
#[derive(Clone, Debug, PartialEq)]
pub struct Addressing {
    /// Where the harness proxy listens so that nodes can reach it (the docker network's
    /// gateway, or 127.0.0.1).
    pub proxy_ip: IpAddr,
    /// Node `i`'s own address: the source address of its outgoing connections, and where
    /// its peer port and API port listen.
    pub node_ips: Vec<IpAddr>,
}

/// How one node is started: its final arguments, environment, and the files written into
/// its data folder ([`ClusterBackend::data_dir`]) before it starts.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct NodeLaunch {
    pub args: Vec<String>,
    pub env: Vec<(String, String)>,
    /// Relative paths inside the data folder and their contents.
    pub files: Vec<(String, Vec<u8>)>,
}

impl From<Vec<String>> for NodeLaunch {
    fn from(args: Vec<String>) -> Self {
        Self {
            args,
            ..Default::default()
        }
    }
}

/// One resource sample of one node (for `metrics.jsonl`).
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct NodeSample {
    pub node: NodeId,
    pub running: bool,
    /// CPU time used so far, nanoseconds.
    pub cpu_ns: u64,
    pub memory_bytes: u64,
    pub rx_bytes: u64,
    pub tx_bytes: u64,
}

/// Starts and breaks the nodes of one run. Every method is safe to call after a failure;
/// `teardown` removes everything the backend created and is idempotent.
#[async_trait::async_trait]
pub trait ClusterBackend: Send {
    /// `docker` or `process`.
    fn name(&self) -> &'static str;
    /// Builds or finds the image, creates the run's network, and decides addresses for
    /// `nodes` nodes.
    async fn prepare(&mut self, nodes: usize) -> Result<Addressing>;
    /// The node's own writable folder, as the node sees it: its working directory, where
    /// its files are written (`data_dir` in templates). It survives restarts.
    fn data_dir(&self, node: NodeId) -> PathBuf;
    /// Starts node `node` as `launch` says; stdout and stderr go to its log.
    async fn start_node(&mut self, node: NodeId, launch: NodeLaunch) -> Result<()>;
    /// SIGKILL; the node stays down until `restart`.
    async fn kill(&mut self, node: NodeId) -> Result<()>;
    /// Freezes the node (SIGSTOP / docker pause).
    async fn pause(&mut self, node: NodeId) -> Result<()>;
    async fn resume(&mut self, node: NodeId) -> Result<()>;
    /// Starts a killed (or running: it is killed first) node again with the same arguments.
    async fn restart(&mut self, node: NodeId) -> Result<()>;
    /// A resource sample of every node started so far.
    async fn sample(&mut self) -> Result<Vec<NodeSample>>;
    /// Writes `<dir>/<node>.log` (stdout and stderr, bytes as the node wrote them) for every
    /// node started so far; the harness passes the run folder's `logs/`. Creates `dir`.
    async fn collect_logs(&mut self, dir: &Path) -> Result<()>;
    /// Stops and removes every container, process and network of the run.
    async fn teardown(&mut self) -> Result<()>;
    /// Where nodes' outgoing connections may not come from their own address (local
    /// processes dialling on loopback), tells which node opened a connection; `None` where
    /// the source address always tells (containers).
    fn source_resolver(&self) -> Option<SourceResolver> {
        None
    }
}

/// Given a connection's two ends (the dialler's, the endpoint it reached), the address of
/// the node that dialled it: see [`ClusterBackend::source_resolver`].
pub type SourceResolver = Arc<dyn Fn(SocketAddr, SocketAddr) -> Option<IpAddr> + Send + Sync>;

/// Which backend runs the nodes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BackendKind {
    /// Containers on a run's own bridge network (the default: real addresses, isolation,
    /// resource limits).
    Docker,
    /// Local processes on 127.0.0.x, for machines without Docker and for speed.
    Process,
}

/// The backend `kind` for one run. Docker is connected (and its API version negotiated)
/// here, so a missing engine is reported before anything else happens.
pub async fn backend(kind: BackendKind, spec: ClusterSpec) -> Result<Box<dyn ClusterBackend>> {
    Ok(match kind {
        BackendKind::Docker => Box::new(DockerBackend::connect(spec).await?),
        BackendKind::Process => Box::new(ProcessBackend::new(spec)?),
    })
}
