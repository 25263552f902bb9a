//! The process backend: the node binaries as local processes, node `i` on 127.0.0.<10+i>
//! (Linux routes all of 127.0.0.0/8 to loopback with no set-up), each in its own process
//! group so that a kill or a pause reaches everything the node started.

use std::collections::BTreeMap;
use std::fs::{File, OpenOptions};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};

use nix::sys::signal::{killpg, Signal};
use nix::unistd::Pid;

use crate::cargo_build::{build_bin, Linking};
use crate::error::{check_new_node, collected, ClusterError, Context, Result};
use crate::loopback::LoopbackLease;
use crate::sockets::{holds_socket, socket_inode};
use crate::{
    Addressing, ClusterBackend, ClusterSpec, ImageSource, NodeId, NodeLaunch, NodeSample,
    SourceResolver,
};

/// Node `i` listens on `127.A.B.<FIRST_NODE_HOST + i>`, in the run's own leased /24.
const FIRST_NODE_HOST: usize = 10;
const MAX_NODES: usize = 255 - FIRST_NODE_HOST;

/// Nodes as local processes; see the module doc. Dropping it kills every node's process
/// group, so a panicking harness leaves no orphans.
pub struct ProcessBackend {
    spec: ClusterSpec,
    /// Holds `<node>.log`, appended to across restarts; removed at teardown.
    run_dir: PathBuf,
    binary: Option<PathBuf>,
    nodes: usize,
    started: BTreeMap<NodeId, Node>,
    /// This run's own loopback /24, taken at prepare.
    addresses: Option<LoopbackLease>,
    /// Each running node's process and address, for [`ClusterBackend::source_resolver`].
    live: Arc<Mutex<BTreeMap<NodeId, (u32, IpAddr)>>>,
}

/// One started node: how it was launched (for restarts) and its current process, if any.
struct Node {
    launch: NodeLaunch,
    child: Option<Child>,
}

impl ProcessBackend {
    /// A backend for the run `spec`; its logs go under the system temp dir in
    /// `traitor-<run_id>/`.
    pub fn new(spec: ClusterSpec) -> Result<Self> {
        spec.check_run_id()?;
        let run_dir = std::env::temp_dir().join(format!("traitor-{}", spec.run_id));
        Ok(Self {
            spec,
            run_dir,
            binary: None,
            nodes: 0,
            started: BTreeMap::new(),
            addresses: None,
            live: Arc::default(),
        })
    }

    fn log_path(&self, node: NodeId) -> PathBuf {
        self.run_dir.join(format!("{node}.log"))
    }

    fn node(&mut self, node: NodeId) -> Result<&mut Node> {
        let run = &self.spec.run_id;
        self.started.get_mut(&node).ok_or_else(|| {
            ClusterError::new(
                format!("finding node {node} of run {run}"),
                "it was never started: call start_node first",
            )
        })
    }

    /// Starts the node's process in a new process group, in its data folder with its
    /// environment added, stdout and stderr appended to its log, stdin closed.
    fn spawn(&self, node: NodeId, launch: &NodeLaunch) -> Result<Child> {
        let Some(binary) = &self.binary else {
            return Err(ClusterError::new(
                format!("starting node {node} of run {}", self.spec.run_id),
                "the backend is not prepared: call prepare first",
            ));
        };
        let log = self.log_path(node);
        let action = || {
            format!(
                "starting node {node} ({}), log {}",
                binary.display(),
                log.display()
            )
        };
        let out: File = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log)
            .context(action)?;
        let err = out.try_clone().context(action)?;
        Command::new(binary)
            .args(&launch.args)
            .envs(launch.env.iter().map(|(k, v)| (k, v)))
            .current_dir(self.data_dir(node))
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .process_group(0)
            .spawn()
            .context(action)
    }

    /// Records node `node`'s running process (or that it has none) and its address.
    fn note_live(&self, node: NodeId, child: Option<&Child>) {
        let ip = self
            .addresses
            .as_ref()
            .map(|lease| lease.ip((FIRST_NODE_HOST + node as usize) as u8));
        let mut live = self.live.lock().unwrap_or_else(|p| p.into_inner());
        match (child, ip) {
            (Some(child), Some(ip)) => live.insert(node, (child.id(), ip)),
            _ => live.remove(&node),
        };
    }

    /// Kills every node's process group, reaps the leaders and removes the run's folder;
    /// failures are collected, not stopping at the first. Synchronous, so `Drop` can do it.
    fn teardown_now(&mut self) -> Result<()> {
        let mut failures: Vec<String> = self
            .started
            .iter_mut()
            .filter_map(|(id, node)| node.stop().err().map(|e| format!("node {id}: {e}")))
            .collect();
        self.started.clear();
        self.nodes = 0;
        self.addresses = None;
        if let Err(e) = std::fs::remove_dir_all(&self.run_dir) {
            if e.kind() != std::io::ErrorKind::NotFound {
                failures.push(format!("removing {}: {e}", self.run_dir.display()));
            }
        }
        collected(&format!("tearing down run {}", self.spec.run_id), failures)
    }
}

impl Node {
    /// Sends `signal` to the node's process group; a node that is down gets nothing.
    fn signal(&mut self, signal: Signal) -> Result<()> {
        let Some(child) = &mut self.child else {
            return Ok(());
        };
        let pgid = Pid::from_raw(child.id() as i32);
        match killpg(pgid, signal) {
            Ok(()) | Err(nix::errno::Errno::ESRCH) => Ok(()),
            Err(e) => Err(e).context(|| format!("sending {signal} to process group {pgid}")),
        }
    }

    /// SIGKILL to the group, then reaps the leader (SIGKILL also ends a stopped process).
    fn stop(&mut self) -> Result<()> {
        self.signal(Signal::SIGKILL)?;
        if let Some(mut child) = self.child.take() {
            child
                .wait()
                .context(|| format!("reaping process {}", child.id()))?;
        }
        Ok(())
    }

    /// The leader's pid while it lives. Once it has exited it is reaped, whatever is left of
    /// its group is killed at once (before the id can be reused) and the node counts as down.
    fn live_pid(&mut self) -> Option<u32> {
        let child = self.child.as_mut()?;
        if let Ok(None) = child.try_wait() {
            return Some(child.id());
        }
        let _ = killpg(Pid::from_raw(child.id() as i32), Signal::SIGKILL);
        self.child = None;
        None
    }
}

/// CPU time (user + system) and resident memory of one process, from `/proc/<pid>/stat` and
/// `/proc/<pid>/status`; `None` once it is gone.
fn proc_usage(pid: u32) -> Option<(u64, u64)> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let ticks = nix::unistd::sysconf(nix::unistd::SysconfVar::CLK_TCK)
        .ok()
        .flatten()
        .filter(|t| *t > 0)
        .unwrap_or(100) as u64;
    Some((
        cpu_ticks(&stat)? * (1_000_000_000 / ticks),
        vm_rss(&status)?,
    ))
}

/// utime + stime, fields 14 and 15 of `/proc/<pid>/stat`, counted after the `)` that ends
/// the command name (which may itself hold spaces and parentheses).
fn cpu_ticks(stat: &str) -> Option<u64> {
    let (_, after_name) = stat.rsplit_once(')')?;
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    // fields[0] is field 3 (state), so field k is fields[k - 3].
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    Some(utime + stime)
}

/// `VmRSS:  1234 kB` of `/proc/<pid>/status`, in bytes.
fn vm_rss(status: &str) -> Option<u64> {
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

#[async_trait::async_trait]
impl ClusterBackend for ProcessBackend {
    fn name(&self) -> &'static str {
        "process"
    }

    /// Builds the cargo binary normally (`<workspace>/target/release/<bin>`) or takes the host
    /// binary; Dockerfiles and images cannot run as processes.
    async fn prepare(&mut self, nodes: usize) -> Result<Addressing> {
        let action = || {
            format!(
                "preparing run {} for {nodes} local processes",
                self.spec.run_id
            )
        };
        if nodes == 0 || nodes > MAX_NODES {
            return Err(ClusterError::new(
                action(),
                format!("the process backend runs 1 to {MAX_NODES} nodes"),
            ));
        }
        let binary = match &self.spec.image {
            ImageSource::CargoBin { bin, workspace } => {
                build_bin(workspace, bin, Linking::Dynamic).await?
            }
            ImageSource::HostBin(path) if path.is_file() => path.clone(),
            ImageSource::HostBin(path) => {
                return Err(ClusterError::new(
                    action(),
                    format!("host binary {} does not exist", path.display()),
                ))
            }
            other => {
                return Err(ClusterError::new(
                    action(),
                    format!(
                        "{other:?} needs the docker backend; the process backend runs \
                         cargo_bin and host_bin targets"
                    ),
                ))
            }
        };
        std::fs::create_dir_all(&self.run_dir)
            .context(|| format!("{}: creating {}", action(), self.run_dir.display()))?;
        self.binary = Some(binary);
        self.nodes = nodes;
        let lease = LoopbackLease::take(&self.spec.run_id)?;
        let node_ips = (0..nodes)
            .map(|i| lease.ip((FIRST_NODE_HOST + i) as u8))
            .collect();
        self.addresses = Some(lease);
        Ok(Addressing {
            proxy_ip: IpAddr::V4(Ipv4Addr::LOCALHOST),
            node_ips,
        })
    }

    fn data_dir(&self, node: NodeId) -> PathBuf {
        self.run_dir.join(format!("node-{node}"))
    }

    async fn start_node(&mut self, node: NodeId, launch: NodeLaunch) -> Result<()> {
        let action = || format!("starting node {node} of run {}", self.spec.run_id);
        check_new_node(node, self.nodes, self.started.contains_key(&node), action())?;
        let data_dir = self.data_dir(node);
        for (path, content) in &launch.files {
            let file = data_dir.join(path);
            if let Some(parent) = file.parent() {
                std::fs::create_dir_all(parent)
                    .context(|| format!("{}: creating {}", action(), parent.display()))?;
            }
            std::fs::write(&file, content)
                .context(|| format!("{}: writing {}", action(), file.display()))?;
        }
        std::fs::create_dir_all(&data_dir)
            .context(|| format!("{}: creating {}", action(), data_dir.display()))?;
        let child = self.spawn(node, &launch)?;
        self.note_live(node, Some(&child));
        self.started.insert(
            node,
            Node {
                launch,
                child: Some(child),
            },
        );
        Ok(())
    }

    async fn kill(&mut self, node: NodeId) -> Result<()> {
        self.node(node)?.stop()?;
        self.note_live(node, None);
        Ok(())
    }

    async fn pause(&mut self, node: NodeId) -> Result<()> {
        self.node(node)?.signal(Signal::SIGSTOP)
    }

    async fn resume(&mut self, node: NodeId) -> Result<()> {
        self.node(node)?.signal(Signal::SIGCONT)
    }

    async fn restart(&mut self, node: NodeId) -> Result<()> {
        let entry = self.node(node)?;
        entry.stop()?;
        let launch = entry.launch.clone();
        let child = self.spawn(node, &launch)?;
        self.note_live(node, Some(&child));
        self.node(node)?.child = Some(child);
        Ok(())
    }

    /// CPU time and VmRSS of each node's leader process. `rx_bytes` and `tx_bytes` are always
    /// 0: loopback traffic is not counted per process (the proxy counts per-link bytes).
    async fn sample(&mut self) -> Result<Vec<NodeSample>> {
        Ok(self
            .started
            .iter_mut()
            .map(|(id, node)| {
                let usage = node.live_pid().and_then(proc_usage);
                NodeSample {
                    node: *id,
                    running: usage.is_some(),
                    cpu_ns: usage.map_or(0, |u| u.0),
                    memory_bytes: usage.map_or(0, |u| u.1),
                    rx_bytes: 0,
                    tx_bytes: 0,
                }
            })
            .collect())
    }

    async fn collect_logs(&mut self, dir: &Path) -> Result<()> {
        std::fs::create_dir_all(dir)
            .context(|| format!("creating log folder {}", dir.display()))?;
        for node in self.started.keys() {
            let from = self.log_path(*node);
            let to = dir.join(format!("{node}.log"));
            std::fs::copy(&from, &to)
                .context(|| format!("copying {} to {}", from.display(), to.display()))?;
        }
        Ok(())
    }

    async fn teardown(&mut self) -> Result<()> {
        self.teardown_now()
    }

    /// The node whose process holds the dialling end of the connection (its leader
    /// process: a node's forked children are not searched).
    fn source_resolver(&self) -> Option<SourceResolver> {
        let live = self.live.clone();
        Some(Arc::new(
            move |dialler: SocketAddr, endpoint: SocketAddr| {
                let inode = socket_inode(dialler, endpoint)?;
                let live = live.lock().unwrap_or_else(|p| p.into_inner());
                live.values()
                    .find(|(pid, _)| holds_socket(*pid, inode))
                    .map(|&(_, ip)| ip)
            },
        ))
    }
}

impl Drop for ProcessBackend {
    fn drop(&mut self) {
        if let Err(e) = self.teardown_now() {
            tracing::warn!(run = %self.spec.run_id, "{e}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_ticks_are_read_after_a_command_name_with_spaces() {
        let stat = "42 (a) b) S 1 42 42 0 -1 4194560 100 0 0 0 7 5 0 0 20 0 1 0 1 1 1";
        assert_eq!(cpu_ticks(stat), Some(12));
    }

    #[test]
    fn vm_rss_is_read_in_bytes() {
        assert_eq!(vm_rss("Name:\tx\nVmRSS:\t    2048 kB\n"), Some(2048 * 1024));
        assert_eq!(vm_rss("Name:\tx\n"), None);
    }
}
