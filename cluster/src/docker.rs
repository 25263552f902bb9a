//! The Docker backend: one labelled bridge network per run with inter-container traffic off,
//! one labelled container per node with a fixed address, no privileges, and limits.

use std::collections::{BTreeMap, HashMap};
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use bollard::models::{
    ContainerCreateBody, ContainerMemoryStats, ContainerStatsResponse, EndpointIpamConfig,
    EndpointSettings, HostConfig, NetworkingConfig, RestartPolicy, RestartPolicyNameEnum,
};
use bollard::query_parameters::{
    CreateContainerOptionsBuilder, KillContainerOptionsBuilder, LogsOptionsBuilder,
    StatsOptionsBuilder, UploadToContainerOptionsBuilder,
};
use bollard::Docker;
use futures_util::StreamExt;
use tokio::io::AsyncWriteExt;

use crate::error::{check_new_node, ClusterError, Context, Result};
use crate::images::BuiltImage;
use crate::network::{RunNetwork, MAX_NODES};
use crate::{Addressing, ClusterBackend, ClusterSpec, NodeId, NodeLaunch, NodeSample, RUN_LABEL};

/// Every node's data folder inside its container (`data_dir` in templates), its working
/// directory.
const DATA_DIR: &str = "/data";

/// How long a killed container may take to be reported stopped before a restart gives up.
const STOP_WAIT: Duration = Duration::from_secs(10);

/// Nodes as containers; see the module doc. Dropping it without [`ClusterBackend::teardown`]
/// leaves the run's containers and network behind for [`crate::gc()`].
pub struct DockerBackend {
    docker: Docker,
    spec: ClusterSpec,
    image: Option<BuiltImage>,
    network: Option<RunNetwork>,
    nodes: usize,
    /// Container name of every node started, by node.
    started: BTreeMap<NodeId, String>,
}

impl DockerBackend {
    /// Connects to the engine for the run `spec`; fails at once when Docker is unavailable.
    pub async fn connect(spec: ClusterSpec) -> Result<Self> {
        spec.check_run_id()?;
        Ok(Self {
            docker: crate::engine::connect().await?,
            spec,
            image: None,
            network: None,
            nodes: 0,
            started: BTreeMap::new(),
        })
    }

    /// The image `prepare` settled on, with its build time (for the run's report).
    pub fn image(&self) -> Option<&BuiltImage> {
        self.image.as_ref()
    }

    /// `traitor-<run_id>`.
    pub fn network_name(&self) -> String {
        format!("traitor-{}", self.spec.run_id)
    }

    /// `traitor-<run_id>-n<node>`.
    pub fn container_name(&self, node: NodeId) -> String {
        format!("traitor-{}-n{node}", self.spec.run_id)
    }

    fn container(&self, node: NodeId) -> Result<&str> {
        self.started.get(&node).map(String::as_str).ok_or_else(|| {
            ClusterError::new(
                format!("finding node {node} of run {}", self.spec.run_id),
                "it was never started: call start_node first",
            )
        })
    }

    /// The container spec of one node: fixed address on the run network, the run's labels,
    /// memory and process limits, every capability dropped, no privilege gain, no restart.
    fn container_body(
        &self,
        node: NodeId,
        ip: IpAddr,
        launch: &NodeLaunch,
    ) -> Result<ContainerCreateBody> {
        let (Some(image), Some(network)) = (&self.image, &self.network) else {
            return Err(ClusterError::new(
                format!("starting node {node} of run {}", self.spec.run_id),
                "the backend is not prepared: call prepare first",
            ));
        };
        let memory = i64::try_from(self.spec.memory_limit)
            .ok()
            .filter(|m| *m > 0);
        Ok(ContainerCreateBody {
            image: Some(image.tag.clone()),
            cmd: Some(launch.args.clone()),
            env: Some(launch.env.iter().map(|(k, v)| format!("{k}={v}")).collect()),
            working_dir: Some(DATA_DIR.into()),
            labels: Some(HashMap::from([
                (RUN_LABEL.to_string(), self.spec.run_id.clone()),
                ("traitor.node".to_string(), node.to_string()),
            ])),
            host_config: Some(HostConfig {
                network_mode: Some(network.name.clone()),
                memory,
                memory_swap: memory,
                pids_limit: Some(self.spec.pids_limit).filter(|p| *p > 0),
                cap_drop: Some(vec!["ALL".into()]),
                security_opt: Some(vec!["no-new-privileges".into()]),
                privileged: Some(false),
                restart_policy: Some(RestartPolicy {
                    name: Some(RestartPolicyNameEnum::NO),
                    maximum_retry_count: None,
                }),
                ..Default::default()
            }),
            networking_config: Some(NetworkingConfig {
                endpoints_config: Some(HashMap::from([(
                    network.name.clone(),
                    EndpointSettings {
                        ipam_config: Some(EndpointIpamConfig {
                            ipv4_address: Some(ip.to_string()),
                            ..Default::default()
                        }),
                        ..Default::default()
                    },
                )])),
            }),
            ..Default::default()
        })
    }

    /// SIGKILL, taking "already stopped" as done.
    async fn kill_container(&self, name: &str) -> Result<()> {
        let options = KillContainerOptionsBuilder::default()
            .signal("SIGKILL")
            .build();
        match self.docker.kill_container(name, Some(options)).await {
            Ok(()) => Ok(()),
            Err(bollard::errors::Error::DockerResponseServerError {
                status_code: 409,
                message,
            }) if message.contains("is not running") => Ok(()),
            Err(e) => Err(e).context(|| format!("killing container {name}")),
        }
    }

    /// Whether the container's process is alive (a paused one is).
    async fn is_running(&self, name: &str) -> Result<bool> {
        let info = self
            .docker
            .inspect_container(name, None)
            .await
            .context(|| format!("inspecting container {name}"))?;
        Ok(info.state.and_then(|s| s.running).unwrap_or(false))
    }

    async fn sample_one(&self, node: NodeId, name: &str) -> Result<NodeSample> {
        let mut sample = NodeSample {
            node,
            running: self.is_running(name).await?,
            cpu_ns: 0,
            memory_bytes: 0,
            rx_bytes: 0,
            tx_bytes: 0,
        };
        if !sample.running {
            return Ok(sample);
        }
        let options = StatsOptionsBuilder::default()
            .stream(false)
            .one_shot(true)
            .build();
        let stats = self
            .docker
            .stats(name, Some(options))
            .next()
            .await
            .transpose()
            .context(|| format!("reading the stats of container {name}"))?;
        if let Some(stats) = stats {
            fill(&mut sample, &stats);
        }
        Ok(sample)
    }
}

/// Copies engine stats into a sample: total CPU time, memory as `docker stats` shows it,
/// bytes over every interface.
/// A tar archive of `files` under the data folder, to extract at `/` before the node starts.
fn data_archive(files: &[(String, Vec<u8>)]) -> std::io::Result<Vec<u8>> {
    let mut archive = tar::Builder::new(Vec::new());
    for (path, content) in files {
        let mut header = tar::Header::new_gnu();
        header.set_size(content.len() as u64);
        header.set_mode(0o644);
        header.set_cksum();
        let inside = Path::new(DATA_DIR.trim_start_matches('/')).join(path);
        archive.append_data(&mut header, inside, content.as_slice())?;
    }
    archive.into_inner()
}

fn fill(sample: &mut NodeSample, stats: &ContainerStatsResponse) {
    sample.cpu_ns = stats
        .cpu_stats
        .as_ref()
        .and_then(|c| c.cpu_usage.as_ref())
        .and_then(|u| u.total_usage)
        .unwrap_or(0);
    sample.memory_bytes = stats.memory_stats.as_ref().map(working_set).unwrap_or(0);
    for net in stats.networks.iter().flat_map(|n| n.values()) {
        sample.rx_bytes += net.rx_bytes.unwrap_or(0);
        sample.tx_bytes += net.tx_bytes.unwrap_or(0);
    }
}

/// Memory usage without the page cache the kernel can drop (`total_inactive_file` on cgroup
/// v1, `inactive_file` on v2), as `docker stats` reports it.
fn working_set(memory: &ContainerMemoryStats) -> u64 {
    let usage = memory.usage.unwrap_or(0);
    let inactive = memory
        .stats
        .as_ref()
        .and_then(|s| {
            s.get("total_inactive_file")
                .or_else(|| s.get("inactive_file"))
        })
        .copied()
        .unwrap_or(0);
    usage.saturating_sub(inactive)
}

#[async_trait::async_trait]
impl ClusterBackend for DockerBackend {
    fn name(&self) -> &'static str {
        "docker"
    }

    async fn prepare(&mut self, nodes: usize) -> Result<Addressing> {
        let action = || format!("preparing run {} for {nodes} nodes", self.spec.run_id);
        if nodes == 0 || nodes > MAX_NODES {
            return Err(ClusterError::new(
                action(),
                format!("a run network holds 1 to {MAX_NODES} nodes"),
            ));
        }
        if self.network.is_some() {
            return Err(ClusterError::new(
                action(),
                "already prepared: teardown first to prepare again",
            ));
        }
        self.image = Some(crate::images::ensure(&self.docker, &self.spec.image).await?);
        let network =
            crate::network::create(&self.docker, &self.network_name(), &self.spec.run_id).await?;
        let addressing = Addressing {
            proxy_ip: IpAddr::V4(network.gateway),
            node_ips: (0..nodes).map(|i| network.node_ip(i)).collect(),
        };
        self.network = Some(network);
        self.nodes = nodes;
        Ok(addressing)
    }

    fn data_dir(&self, _node: NodeId) -> PathBuf {
        PathBuf::from(DATA_DIR)
    }

    async fn start_node(&mut self, node: NodeId, launch: NodeLaunch) -> Result<()> {
        let name = self.container_name(node);
        let action = || format!("starting node {node} as container {name}");
        let index = check_new_node(node, self.nodes, self.started.contains_key(&node), action())?;
        let Some(network) = &self.network else {
            return Err(ClusterError::new(
                action(),
                "the backend is not prepared: call prepare first",
            ));
        };
        let ip = network.node_ip(index);
        let body = self.container_body(node, ip, &launch)?;
        let options = CreateContainerOptionsBuilder::default().name(&name).build();
        self.docker
            .create_container(Some(options), body)
            .await
            .context(action)?;
        self.started.insert(node, name.clone());
        if !launch.files.is_empty() {
            let archive = data_archive(&launch.files).context(action)?;
            let options = UploadToContainerOptionsBuilder::default().path("/").build();
            self.docker
                .upload_to_container(&name, Some(options), bollard::body_full(archive.into()))
                .await
                .context(action)?;
        }
        self.docker
            .start_container(&name, None)
            .await
            .context(action)
    }

    async fn kill(&mut self, node: NodeId) -> Result<()> {
        let name = self.container(node)?.to_string();
        self.kill_container(&name).await
    }

    async fn pause(&mut self, node: NodeId) -> Result<()> {
        let name = self.container(node)?;
        self.docker
            .pause_container(name)
            .await
            .context(|| format!("pausing container {name}"))
    }

    async fn resume(&mut self, node: NodeId) -> Result<()> {
        let name = self.container(node)?;
        self.docker
            .unpause_container(name)
            .await
            .context(|| format!("resuming container {name}"))
    }

    async fn restart(&mut self, node: NodeId) -> Result<()> {
        let name = self.container(node)?.to_string();
        self.kill_container(&name).await?;
        let deadline = Instant::now() + STOP_WAIT;
        while self.is_running(&name).await? {
            if Instant::now() > deadline {
                return Err(ClusterError::new(
                    format!("restarting container {name}"),
                    format!("still running {STOP_WAIT:?} after SIGKILL"),
                ));
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        self.docker
            .start_container(&name, None)
            .await
            .context(|| format!("restarting container {name}"))
    }

    async fn sample(&mut self) -> Result<Vec<NodeSample>> {
        let mut samples = Vec::with_capacity(self.started.len());
        for (node, name) in &self.started {
            samples.push(self.sample_one(*node, name).await?);
        }
        Ok(samples)
    }

    async fn collect_logs(&mut self, dir: &Path) -> Result<()> {
        tokio::fs::create_dir_all(dir)
            .await
            .context(|| format!("creating log folder {}", dir.display()))?;
        for (node, name) in &self.started {
            let path = dir.join(format!("{node}.log"));
            let action = || format!("copying the log of container {name} to {}", path.display());
            let mut file = tokio::fs::File::create(&path).await.context(action)?;
            let options = LogsOptionsBuilder::default()
                .stdout(true)
                .stderr(true)
                .build();
            let mut output = self.docker.logs(name, Some(options));
            while let Some(chunk) = output.next().await {
                file.write_all(chunk.context(action)?.as_ref())
                    .await
                    .context(action)?;
            }
            file.flush().await.context(action)?;
        }
        Ok(())
    }

    async fn teardown(&mut self) -> Result<()> {
        let label = format!("{RUN_LABEL}={}", self.spec.run_id);
        let swept = crate::gc::sweep(&self.docker, &label).await;
        self.started.clear();
        self.network = None;
        self.nodes = 0;
        swept.map(|_| ())
    }
}
