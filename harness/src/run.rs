//! `traitor run`: one run of a target, from arguments to verdict.
//!
//! Arguments are validated into a [`Plan`] before anything starts. Then, in order: the run
//! folder and manifest; the backend's network and addresses; the proxy; the nodes; clients,
//! nemesis, log checkpoints and resource samples side by side; the final heal; a recovery
//! window; the final committed logs. Logs are collected and everything the run created is
//! torn down on every path (success, error, Ctrl-C, SIGTERM), and the checks run on the
//! folder alone, so `traitor check RUN_DIR` gives the same verdict later.

use crate::cli::RunArgs;
use crate::commits::CommitReader;
use crate::connectors::{ConnectorSetup, Connectors, NodeAddresses};
use crate::exit::{warning, Failure, Outcome};
use crate::keys::Keys;
use crate::nemesis::{FaultKind, Nemesis, Schedule};
use crate::progress::Progress;
use crate::stop::stopped;
use crate::store::{Jsonl, RunStore};
use crate::target::Target;
use crate::template::{NodeContext, NodeTemplates, Peer};
use crate::twins::Twins;
use crate::workload::{run_clients, Clients, Counters, OpMix, WorkloadConfig};
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::SeedableRng;
use serde_json::json;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};
use tokio::sync::{watch, Mutex};
use tokio::task::JoinSet;
use traitor_adversaries::builtin::EquivocateTwins;
use traitor_checkers::{Budget, Validity};
use traitor_cluster::{BackendKind, ClusterBackend, ClusterSpec, Readiness};
use traitor_model::run::FaultBudget;
use traitor_model::target::{Protocol, Variant};
use traitor_model::{Manifest, NodeId};
use traitor_proxy::{Framing, PeerPort, Proxy, ProxyConfig, ProxyNode, SourceResolver};
use traitor_reports::check::{details, table};

/// How long nodes have to answer `/health` after they start.
const STARTUP_LIMIT: Duration = Duration::from_secs(30);
/// How long the final read waits for correct nodes to reach one height.
const QUIESCE_LIMIT: Duration = Duration::from_secs(10);
/// Records kept in `trace.jsonl` at most.
const TRACE_LIMIT: usize = 100_000;

/// A run, fully resolved and validated before anything starts.
pub struct Plan {
    pub target: Target,
    pub variant: Option<Variant>,
    pub n: u32,
    pub f: u32,
    pub seed: u64,
    pub schedule: Schedule,
    pub model: String,
    pub workload: WorkloadConfig,
    pub framing: Framing,
    /// The target's other node-to-node ports, by name: proxied too.
    pub more_ports: Vec<(String, PeerPort)>,
    pub run_id: String,
    /// How long clients run under faults, and after the final heal.
    pub time: Duration,
    pub recover: Duration,
    pub settle: Duration,
    /// `--adversary` specs, each checked to parse.
    pub adversaries: Vec<String>,
    /// `equivocate-twins`, if asked for: a twin of every Byzantine node.
    pub twins: Option<EquivocateTwins>,
    pub byzantine: Vec<NodeId>,
    pub budget: FaultBudget,
    /// Every node's arguments, environment and files, checked by a sample rendering.
    pub templates: NodeTemplates,
}

impl Plan {
    /// Parses, validates and resolves the arguments; every error names the bad flag.
    pub fn from_args(args: &RunArgs) -> Result<Self, Failure> {
        let target = Target::load(&args.target)?;
        let variant = args
            .variant
            .as_deref()
            .map(|v| target.spec.variant(v).cloned())
            .transpose()
            .map_err(Failure::usage)?;
        let n = args
            .nodes
            .or(variant.as_ref().and_then(|v| v.n))
            .unwrap_or(target.spec.n);
        if n == 0 {
            return Err(Failure::usage("--nodes must be at least 1"));
        }
        let templates = NodeTemplates::new(&target, variant.as_ref(), n)?;
        let faults = match args.nemesis.as_str() {
            "none" | "" => Vec::new(),
            list => list
                .split(',')
                .map(|s| s.trim().parse::<FaultKind>())
                .collect::<Result<_, _>>()
                .map_err(|e| Failure::usage(format!("--nemesis: {e}")))?,
        };
        let model = args
            .model
            .clone()
            .or_else(|| target.spec.client.models.first().cloned())
            .ok_or_else(|| {
                Failure::usage(format!(
                    "{}: [client] models is empty; pass --model",
                    target.dir.display()
                ))
            })?;
        if !target.spec.client.models.contains(&model) {
            return Err(Failure::usage(format!(
                "--model {model}: target {} serves {}",
                target.spec.name,
                target.spec.client.models.join(", ")
            )));
        }
        let mix = OpMix::for_model(&model, args.keys)
            .map_err(|e| Failure::usage(format!("--model: {e}")))?;
        if let Some(node) = args.node.filter(|&node| node >= n) {
            return Err(Failure::usage(format!(
                "--node {node}: nodes are numbered 0 to {}",
                n - 1
            )));
        }
        if args.settle >= args.recover {
            return Err(Failure::usage(format!(
                "--settle ({}) must be shorter than --recover ({}): termination is judged on ops invoked between them",
                humantime::format_duration(args.settle),
                humantime::format_duration(args.recover)
            )));
        }
        if args.concurrency == 0 {
            return Err(Failure::usage("--concurrency must be at least 1"));
        }
        let mut twins = None;
        for spec in &args.adversaries {
            let adversary = traitor_adversaries::spec::parse(spec)
                .map_err(|e| Failure::usage(format!("--adversary {e}")))?;
            if let Some(asked) = adversary.twins() {
                if twins.replace(asked.clone()).is_some() {
                    return Err(Failure::usage(format!(
                        "--adversary {spec}: equivocate-twins is given twice; each Byzantine \
                         node has one twin, so give it once"
                    )));
                }
            }
        }
        let seed = args.seed.unwrap_or_else(|| {
            SystemTime::now()
                .duration_since(SystemTime::UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos() as u64)
                % 1_000_000
        });
        let byzantine = byzantine_nodes(args, n, seed)?;
        if !args.adversaries.is_empty() && byzantine.is_empty() {
            return Err(Failure::usage(
                "--adversary needs Byzantine nodes to act for: --byzantine K, --byzantine primary or --byzantine-nodes LIST",
            ));
        }
        let schedule = match &args.nemesis_file {
            Some(path) => Schedule::from_file(path)
                .map_err(|e| Failure::usage(format!("--nemesis-file {e}")))?,
            None => Schedule::Random {
                faults,
                interval: args.nemesis_interval,
                duration: args.nemesis_duration,
            },
        };
        if let Some(path) = &args.nemesis_file {
            schedule
                .check_nodes(n, &byzantine)
                .map_err(|e| Failure::usage(format!("--nemesis-file {}: {e}", path.display())))?;
        }
        if schedule.aims_at_primary()
            && Protocol::parse(&target.spec.observe.primary, true) == Ok(Protocol::None)
        {
            return Err(Failure::usage(format!(
                "the nemesis aims at the primary (crash-primary, partition-isolate-primary), but \
                 {} has [observe] primary = \"none\": no one can say which node leads; choose \
                 other faults or give the target a primary lookup",
                target.spec.name
            )));
        }
        let process_faults = schedule.has_process_faults();
        let crash = args.crash.unwrap_or(u32::from(process_faults));
        if process_faults && crash == 0 {
            return Err(Failure::usage(
                "the nemesis crashes, pauses or restarts nodes, but --crash is 0",
            ));
        }
        let f = target.spec.kind.budget(n);
        let targets: Vec<NodeId> = match args.node.or((model == "generals").then_some(0)) {
            Some(node) => vec![node],
            None => (0..n).filter(|x| !byzantine.contains(x)).collect(),
        };
        let framing: Framing = target
            .spec
            .node
            .framing
            .parse()
            .map_err(|e: String| Failure::usage(format!("target.toml [node] framing: {e}")))?;
        let more_ports = target
            .spec
            .node
            .ports
            .iter()
            .filter_map(|port| {
                let framing = port.framing.as_deref()?.parse().map_err(|e: String| {
                    Failure::usage(format!("target.toml [[node.ports]] {}: {e}", port.name))
                });
                Some(framing.map(|framing| {
                    (
                        port.name.clone(),
                        PeerPort {
                            port: port.port,
                            framing,
                        },
                    )
                }))
            })
            .collect::<Result<_, _>>()?;
        let run_id = match &args.run_id {
            Some(id) if id.is_empty() || id.starts_with('.') || id.contains(['/', '\\']) => {
                return Err(Failure::usage(format!(
                    "--run-id {id:?}: must be a plain folder name"
                )))
            }
            Some(id) => id.clone(),
            None => {
                let stamp = humantime::format_rfc3339_seconds(SystemTime::now())
                    .to_string()
                    .replace(':', "-");
                format!(
                    "{}-{}-s{seed}-{}",
                    target.spec.name,
                    variant.as_ref().map_or("correct", |v| v.name.as_str()),
                    stamp.trim_end_matches('Z')
                )
            }
        };
        Ok(Self {
            templates,
            f,
            budget: FaultBudget::new(crash, byzantine.len() as u32, f),
            adversaries: args.adversaries.clone(),
            twins,
            byzantine,
            workload: WorkloadConfig {
                mix,
                concurrency: args.concurrency,
                rate: args.rate,
                timeout: args.op_timeout,
                targets,
                seed,
            },
            schedule,
            target,
            variant,
            n,
            seed,
            model,
            framing,
            more_ports,
            run_id,
            time: args.time,
            recover: args.recover,
            settle: args.settle,
        })
    }

    fn manifest(&self) -> Manifest {
        Manifest {
            run_id: self.run_id.clone(),
            seed: self.seed,
            target: self.target.spec.name.clone(),
            variant: self.variant.as_ref().map(|v| v.name.clone()),
            model: Some(self.model.clone()),
            n: self.n,
            f: self.f,
            nemesis: self.schedule.describe(),
            byzantine: self.byzantine.clone(),
            adversaries: self.adversaries.iter().map(|a| json!(a)).collect(),
            budget: Some(self.budget.clone()),
            versions: json!({"traitor": env!("CARGO_PKG_VERSION")}),
            started_at: Some(humantime::format_rfc3339_seconds(SystemTime::now()).to_string()),
            logs_unobserved: (!self.observes_logs()).then(|| {
                format!(
                    "target {} has [observe] log = \"none\": no committed log was read",
                    self.target.spec.name
                )
            }),
            ..Default::default()
        }
    }

    /// Whether the target's committed logs are read at all.
    fn observes_logs(&self) -> bool {
        Protocol::parse(&self.target.spec.observe.log, true) != Ok(Protocol::None)
    }

    /// The template context of node `id`: its address and data folder, every peer as the
    /// proxy's endpoint for it, key material and the variant's values.
    fn node_context(
        &self,
        id: NodeId,
        ip: String,
        data_dir: String,
        peers: &[Peer],
        keys: &Keys,
    ) -> NodeContext {
        NodeContext {
            id,
            n: self.n,
            f: self.f,
            ip,
            ports: self.target.spec.named_ports().into_iter().collect(),
            peers: peers.to_vec(),
            secret_key: keys.secret_hex[id as usize].clone(),
            public_keys: keys.public_hex.clone(),
            client_public_key: keys.client_public_hex(),
            data_dir,
            variant: self.templates.variant().clone(),
        }
    }
}

/// Runs `traitor run` to its verdict.
pub fn run(args: &RunArgs) -> Result<Outcome, Failure> {
    let plan = Plan::from_args(args)?;
    let runtime = tokio::runtime::Runtime::new()
        .map_err(|e| Failure::harness(format!("starting the async runtime: {e}")))?;
    runtime.block_on(run_plan(plan, args))
}

async fn run_plan(plan: Plan, args: &RunArgs) -> Result<Outcome, Failure> {
    let kind = match args.backend.as_deref() {
        Some("docker") => BackendKind::Docker,
        Some(_) => BackendKind::Process,
        None if traitor_cluster::docker_available().await => BackendKind::Docker,
        None => {
            warning("no Docker engine answers; using the process backend (--backend process)");
            BackendKind::Process
        }
    };
    let store = RunStore::create(&args.store, &args.campaign, &plan.run_id)?;
    let mut manifest = plan.manifest();
    manifest.campaign = Some(args.campaign.clone());
    store.write_manifest(&manifest)?;
    eprintln!("traitor: run folder {}", store.dir.display());
    let spec = ClusterSpec {
        run_id: plan.run_id.clone(),
        image: plan.target.image_source()?,
        peer_port: plan.target.spec.node.peer_port,
        api_port: plan.target.spec.node.api_port,
        memory_limit: 512 << 20,
        pids_limit: 256,
    };
    let progress = Progress::new();
    progress.phase("preparing the cluster (building images on first use)");
    let backend = traitor_cluster::backend(kind, spec)
        .await
        .map_err(|e| Failure::harness(e.to_string()))?;
    let backend = Arc::new(Mutex::new(backend));
    let mut proxy: Option<Proxy> = None;
    // Images and binaries are built before the run's clock starts: every recorded time
    // is from the run itself.
    let prepared = tokio::select! {
        prepared = prepare(&plan, &backend) => prepared,
        signal = shutdown_signal() => Err(interrupted(signal)),
    };
    let run_start = Instant::now();
    let (fatal, mut adversary_failed) = watch::channel(None);
    let (adapter_fatal, mut adapter_failed) = watch::channel(None);
    let fatal = Fatal {
        adversary: fatal,
        adapter: adapter_fatal,
    };

    let driven = match prepared {
        Err(e) => Err(e),
        Ok(addressing) => tokio::select! {
            result = drive(&plan, &store, &backend, addressing, run_start, &mut manifest, &mut proxy, &progress, fatal) => result,
            signal = shutdown_signal() => Err(interrupted(signal)),
            why = crate::adversary::failed(&mut adversary_failed) => Err(adversary_failure(&why)),
            why = crate::adversary::failed(&mut adapter_failed) => Err(adapter_failure(&why)),
        },
    };
    // An adversary or adapter may also fail after the run's last step, while nothing was
    // listening.
    let late_adversary = adversary_failed.borrow().clone();
    let late_adapter = adapter_failed.borrow().clone();
    let driven = match (driven, late_adversary, late_adapter) {
        (Ok(()), Some(why), _) => Err(adversary_failure(&why)),
        (Ok(()), None, Some(why)) => Err(adapter_failure(&why)),
        (driven, _, _) => driven,
    };

    progress.phase("collecting logs and tearing down");
    let mut backend = backend.lock().await;
    if let Err(e) = backend.collect_logs(&store.dir.join("logs")).await {
        warning(format!("collecting node logs: {e}"));
    } else if plan.twins.is_some() {
        crate::twins::name_logs(&store.dir.join("logs"), plan.n, &plan.byzantine);
    }
    let teardown = backend.teardown().await;
    drop(backend);
    if let Some(proxy) = proxy.take() {
        if let Ok(links) = store.jsonl("metrics.jsonl") {
            for link in proxy.stats() {
                let _ = links.append(&json!({"kind": "link", "time": run_start.elapsed().as_nanos() as u64, "link": link}));
            }
        }
        proxy.shutdown().await;
    }
    manifest.ended_at = Some(humantime::format_rfc3339_seconds(SystemTime::now()).to_string());
    store.write_manifest(&manifest)?;
    progress.finish();
    if let Err(e) = &teardown {
        warning(format!(
            "teardown: {e}; run `traitor gc` to remove what is left"
        ));
    }
    driven?;

    progress.phase("checking the run folder");
    let mut verdict = crate::check::check_run_folder(&store.dir, None, &Budget::default())
        .map_err(|e| Failure::harness(format!("checking the run folder: {e}")))?;
    verdict.elapsed = run_start.elapsed();
    store.write_json(
        "verdict.json",
        &json!({"run_dir": store.dir, "valid": verdict.valid, "checks": verdict.checks}),
    )?;
    progress.phase("fault detectors and the report");
    let detected = crate::detect::write_detectors(&store);
    let report = traitor_reports::write_run_report(&store.dir)
        .map_err(|e| Failure::harness(format!("writing the run report: {e}")))?;
    manifest.phases = progress.phase_times();
    store.write_manifest(&manifest)?;
    if args.json {
        println!(
            "{}",
            json!({"run_dir": store.dir, "valid": verdict.valid, "checks": verdict.checks, "seed": plan.seed, "report": report})
        );
    } else {
        println!("{}", table(std::slice::from_ref(&verdict)));
        print!("{}", details(std::slice::from_ref(&verdict)));
        if let Some(detected) = &detected {
            println!("{}", crate::detect::summary_line(detected));
        }
        println!("report {}", report.display());
        println!(
            "seed {} | verdict {} | run folder {}",
            plan.seed,
            store.dir.join("verdict.json").display(),
            store.dir.display()
        );
    }
    Ok(if verdict.valid == Validity::Holds {
        Outcome::AsExpected
    } else {
        Outcome::Violation
    })
}

/// The run ended because an adversary failed: a harness failure, since the Byzantine nodes
/// no longer did what was asked, with what the adversary did.
fn adversary_failure(why: &str) -> Failure {
    Failure::harness(format!(
        "{why}; the run was stopped and torn down (faults.jsonl records it as adversary-failed)"
    ))
}

/// The run ended because the target's adapter failed: its ops in flight were recorded as
/// `info`, and nothing more it says can be trusted.
fn adapter_failure(why: &str) -> Failure {
    Failure::harness(format!(
        "{why}; the run was stopped and torn down (its ops in flight are recorded as info; its \
         stderr is in the run folder's logs/)"
    ))
}

/// Where the run's parts report a failure that must end it.
struct Fatal {
    adversary: watch::Sender<Option<String>>,
    adapter: watch::Sender<Option<String>>,
}

/// The run was interrupted by a signal: a harness failure, after the teardown.
fn interrupted(signal: &str) -> Failure {
    Failure::harness(format!(
        "interrupted by {signal}; tearing down, the run folder keeps what was recorded"
    ))
}

/// Builds or finds the image, creates the run's network, and decides the addresses of
/// every node instance (the nodes, then a twin of each Byzantine node if asked for).
async fn prepare(
    plan: &Plan,
    backend: &Arc<Mutex<Box<dyn ClusterBackend>>>,
) -> Result<traitor_cluster::Addressing, Failure> {
    let twins = plan.twins.as_ref().map_or(0, |_| plan.byzantine.len());
    backend
        .lock()
        .await
        .prepare(plan.n as usize + twins)
        .await
        .map_err(|e| Failure::harness(format!("preparing the cluster: {e}")))
}

/// The part of a run that owns live tasks; dropping it (on a signal or an adversary's
/// failure) stops them all.
#[allow(clippy::too_many_arguments)]
async fn drive(
    plan: &Plan,
    store: &RunStore,
    backend: &Arc<Mutex<Box<dyn ClusterBackend>>>,
    addressing: traitor_cluster::Addressing,
    run_start: Instant,
    manifest: &mut Manifest,
    proxy_slot: &mut Option<Proxy>,
    progress: &Progress,
    fatal: Fatal,
) -> Result<(), Failure> {
    let n = plan.n as usize;
    let faults = store.jsonl("faults.jsonl")?;
    let mut twins = plan.twins.clone().map(|adversary| {
        let run = (plan.n, plan.f, plan.byzantine.as_slice());
        Twins::new(adversary, run, plan.seed, faults.clone(), run_start)
    });
    // Every node instance as (its node, its backend slot): the nodes, then any twins.
    let instances: Vec<(NodeId, usize)> = (0..n)
        .map(|i| (i as NodeId, i))
        .chain(twins.iter().flat_map(Twins::instances))
        .collect();
    debug_assert_eq!(instances.len(), addressing.node_ips.len());
    let node_spec = &plan.target.spec.node;
    let keys = Keys::generate(n, plan.seed);
    let hook = adversary_hook(plan, &keys, faults.clone(), run_start, fatal.adversary)?;
    let interceptor = hook
        .clone()
        .map(|hook| hook as Arc<dyn traitor_proxy::Interceptor>);
    let proxy = Proxy::start(ProxyConfig {
        listen_ip: addressing.proxy_ip,
        nodes: instances
            .iter()
            .map(|&(id, slot)| ProxyNode {
                id,
                source_ip: addressing.node_ips[slot],
                upstream: SocketAddr::new(addressing.node_ips[slot], node_spec.peer_port),
            })
            .collect(),
        framing: plan.framing,
        seed: plan.seed,
        run_start,
        trace_path: Some(store.dir.join("trace.jsonl")),
        trace_limit: TRACE_LIMIT,
        interceptor,
        more_ports: plan.more_ports.iter().map(|(_, port)| *port).collect(),
        resolver: backend.lock().await.source_resolver().map(SourceResolver),
    })
    .await
    .map_err(|e| {
        Failure::harness(format!(
            "starting the proxy on {}: {e}",
            addressing.proxy_ip
        ))
    })?;
    let peers = peers_through(&proxy, plan);
    let links = proxy.links();
    let twin_control = proxy.twins();
    if let Some(twins) = &mut twins {
        twins.split(&twin_control)?;
    }
    *proxy_slot = Some(proxy);

    progress.phase("starting nodes");
    start_nodes(plan, backend, &instances, &addressing, &peers, &keys).await?;
    // Clients, nemesis and log reads address the n nodes; twins only take part.
    let connectors = Connectors::start(ConnectorSetup {
        target: &plan.target,
        client_args: plan
            .variant
            .as_ref()
            .map_or(&[], |v| v.client_args.as_slice()),
        addresses: NodeAddresses {
            ips: addressing.node_ips[..n].to_vec(),
            ports: plan.target.spec.named_ports().into_iter().collect(),
            api_port: node_spec.api_port,
        },
        authority: keys.client_authority.clone(),
        logs: &store.dir.join("logs"),
        fatal: fatal.adapter,
    })?;

    progress.phase("running");
    let history = store.jsonl("history.jsonl")?;
    let commits = store.jsonl("commits.jsonl")?;
    let metrics = store.jsonl("metrics.jsonl")?;
    let counters = Arc::new(Counters::default());
    let (clients_stop, clients_stopped) = watch::channel(false);
    let mut clients = JoinSet::new();
    clients.spawn(run_clients(Clients {
        config: plan.workload.clone(),
        client: connectors.client.clone(),
        history,
        run_start,
        stop: clients_stopped,
        counters: counters.clone(),
    }));

    let mut nemesis = Nemesis::new(
        links.clone(),
        backend.clone(),
        connectors.primary.clone(),
        n,
        faults,
        run_start,
        plan.seed,
    );
    nemesis.crashable = (0..plan.n)
        .filter(|x| !plan.byzantine.contains(x))
        .collect();
    let incarnations = nemesis.incarnations.clone();
    let mut background = JoinSet::new();
    let (background_stop, background_stopped) = watch::channel(false);
    let commit_reader =
        |source| CommitReader::new(source, n, commits.clone(), run_start, incarnations.clone());
    if let Some(source) = &connectors.log {
        background.spawn(checkpoints(
            commit_reader(source.clone()),
            background_stopped.clone(),
        ));
    }
    background.spawn(samples(
        backend.clone(),
        metrics,
        run_start,
        instances[n..].to_vec(),
        background_stopped.clone(),
    ));
    if let Some(twins) = twins {
        background.spawn(twins.keep_splitting(twin_control, background_stopped.clone()));
    }
    if let Some(hook) = hook {
        background.spawn(crate::adversary::tick_adversaries(
            hook,
            links,
            background_stopped.clone(),
        ));
    }
    background.spawn(show_progress(
        progress.clone(),
        counters.clone(),
        nemesis.active.clone(),
        background_stopped,
    ));

    let (nemesis_stop, nemesis_stopped) = watch::channel(false);
    let timer = async {
        tokio::time::sleep(plan.time).await;
        let _ = nemesis_stop.send(true);
    };
    let (faulting, ()) = tokio::join!(nemesis.run(plan.schedule.clone(), nemesis_stopped), timer);
    faulting?;
    let healed_at = nemesis.heal_all().await?;
    manifest.healed_at = Some(healed_at);
    manifest.termination_bound_ns = Some(plan.settle.as_nanos() as u64);
    store.write_manifest(manifest)?;

    progress.phase("healed; clients keep going (recovery window)");
    tokio::time::sleep(plan.recover).await;
    let _ = clients_stop.send(true);
    progress.phase("waiting for clients' last ops");
    while let Some(done) = clients.join_next().await {
        done.map_err(|e| Failure::harness(format!("the client tasks failed: {e}")))??;
    }
    let _ = background_stop.send(true);
    while let Some(done) = background.join_next().await {
        done.map_err(|e| Failure::harness(format!("a background task failed: {e}")))??;
    }
    let Some(source) = connectors.log else {
        return Ok(());
    };
    progress.phase("reading every node's committed log");
    let mut reader = commit_reader(source);
    let correct: Vec<NodeId> = (0..plan.n)
        .filter(|x| !plan.byzantine.contains(x))
        .collect();
    let unread = reader.final_read(QUIESCE_LIMIT, &correct).await?;
    if !unread.is_empty() {
        warning(format!(
            "could not read the final log of node(s) {unread:?}"
        ));
    }
    Ok(())
}

/// Every node as the others dial it: the proxy's endpoints for its node-to-node ports.
fn peers_through(proxy: &Proxy, plan: &Plan) -> Vec<Peer> {
    (0..plan.n)
        .map(|id| {
            let endpoint = proxy.endpoint(id);
            let more = plan.more_ports.iter().enumerate();
            Peer {
                id,
                host: endpoint.ip().to_string(),
                port: endpoint.port(),
                ports: more
                    .filter_map(|(k, (name, _))| {
                        Some((name.clone(), proxy.port_endpoint(id, k + 1)?.port()))
                    })
                    .collect(),
            }
        })
        .collect()
}

/// Starts every node instance (node, backend slot) with its rendered arguments,
/// environment and files, then waits until all are ready.
async fn start_nodes(
    plan: &Plan,
    backend: &Arc<Mutex<Box<dyn ClusterBackend>>>,
    instances: &[(NodeId, usize)],
    addressing: &traitor_cluster::Addressing,
    peers: &[Peer],
    keys: &Keys,
) -> Result<(), Failure> {
    for &(id, slot) in instances {
        let data_dir = backend.lock().await.data_dir(slot as NodeId);
        let context = plan.node_context(
            id,
            addressing.node_ips[slot].to_string(),
            data_dir.display().to_string(),
            peers,
            keys,
        );
        let launch = plan.templates.render(&context).map_err(Failure::usage)?;
        let what = if slot == id as usize {
            format!("starting node {id}")
        } else {
            format!("starting the twin of node {id}")
        };
        backend
            .lock()
            .await
            .start_node(slot as NodeId, launch)
            .await
            .map_err(|e| Failure::harness(format!("{what}: {e}")))?;
    }
    let api_port = plan.target.spec.node.api_port;
    let every_api: Vec<SocketAddr> = addressing
        .node_ips
        .iter()
        .map(|ip| SocketAddr::new(*ip, api_port))
        .collect();
    let readiness = match plan.target.spec.observe.ready.as_str() {
        "tcp" => Readiness::Tcp,
        _ => Readiness::Health,
    };
    traitor_cluster::wait_ready(&every_api, readiness, STARTUP_LIMIT)
        .await
        .map_err(|e| Failure::harness(format!("starting the nodes: {e}")))?;
    Ok(())
}

/// Reads every node's new committed entries every few seconds until stopped.
async fn checkpoints(
    mut reader: CommitReader,
    mut stop: watch::Receiver<bool>,
) -> Result<(), Failure> {
    loop {
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_secs(5)) => reader.checkpoint().await?,
            _ = stopped(&mut stop) => return Ok(()),
        }
    }
}

/// Samples every node's CPU, memory and network each second until stopped. A twin's
/// samples (from its backend slot, listed in `twins` with its node) are of kind `twin`,
/// so that nothing counts its slot as one more node.
async fn samples(
    backend: Arc<Mutex<Box<dyn ClusterBackend>>>,
    metrics: Jsonl,
    run_start: Instant,
    twins: Vec<(NodeId, usize)>,
    mut stop: watch::Receiver<bool>,
) -> Result<(), Failure> {
    loop {
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_secs(1)) => {
                let sampled = backend.lock().await.sample().await;
                let time = run_start.elapsed().as_nanos() as u64;
                match sampled {
                    Ok(nodes) => for sample in nodes {
                        match twins.iter().find(|(_, slot)| *slot == sample.node as usize) {
                            Some((node, _)) => metrics.append(&json!({"kind": "twin", "time": time, "twin_of": node, "sample": sample}))?,
                            None => metrics.append(&json!({"kind": "node", "time": time, "sample": sample}))?,
                        }
                    },
                    Err(e) => metrics.append(&json!({"kind": "sample-error", "time": time, "error": e.to_string()}))?,
                }
            }
            _ = stopped(&mut stop) => return Ok(()),
        }
    }
}

async fn show_progress(
    progress: Progress,
    counters: Arc<Counters>,
    fault: Arc<std::sync::Mutex<String>>,
    mut stop: watch::Receiver<bool>,
) -> Result<(), Failure> {
    loop {
        let active = fault.lock().unwrap_or_else(|p| p.into_inner()).clone();
        progress.update(&counters, &active);
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_millis(250)) => {}
            _ = stopped(&mut stop) => return Ok(()),
        }
    }
}

/// Resolves on Ctrl-C or SIGTERM, naming which.
async fn shutdown_signal() -> &'static str {
    let mut term = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
        Ok(term) => term,
        Err(_) => return std::future::pending().await,
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => "Ctrl-C",
        _ = term.recv() => "SIGTERM",
    }
}

/// Resolves `--byzantine K|primary` or `--byzantine-nodes LIST` into node ids.
fn byzantine_nodes(args: &RunArgs, n: u32, seed: u64) -> Result<Vec<NodeId>, Failure> {
    if let Some(bad) = args.byzantine_nodes.iter().find(|&&b| b >= n) {
        return Err(Failure::usage(format!(
            "--byzantine-nodes {bad}: nodes are numbered 0 to {}",
            n - 1
        )));
    }
    let mut nodes: Vec<NodeId> = match args.byzantine.as_deref() {
        None => args.byzantine_nodes.clone(),
        Some("primary") => vec![0],
        Some(k) => {
            let k: u32 = k.parse().map_err(|_| {
                Failure::usage(format!(
                    "--byzantine {k:?}: expected a number of nodes or \"primary\""
                ))
            })?;
            if k >= n {
                return Err(Failure::usage(format!(
                    "--byzantine {k}: at least one of the {n} nodes must stay correct"
                )));
            }
            let mut all: Vec<NodeId> = (0..n).collect();
            all.shuffle(&mut StdRng::seed_from_u64(seed ^ 0x6279_7a61_6e74_696e));
            all.truncate(k as usize);
            all
        }
    };
    nodes.sort_unstable();
    nodes.dedup();
    Ok(nodes)
}

/// The run's adversaries, holding the Byzantine nodes' keys only, started (a plugin that
/// cannot start is a harness failure) and ready to be the proxy's interceptor.
fn adversary_hook(
    plan: &Plan,
    keys: &Keys,
    faults: Jsonl,
    run_start: Instant,
    fatal: watch::Sender<Option<String>>,
) -> Result<Option<Arc<crate::adversary::AdversaryHook>>, Failure> {
    if plan.adversaries.is_empty() {
        return Ok(None);
    }
    let byzantine_keys = plan
        .byzantine
        .iter()
        .map(|&node| (node, keys.signing_key(node)))
        .collect();
    let run = traitor_adversaries::RunInfo {
        n: plan.n,
        f: plan.f,
        byzantine: plan.byzantine.clone(),
        keys: byzantine_keys,
    };
    let mut adversaries = plan
        .adversaries
        .iter()
        .map(|spec| traitor_adversaries::spec::parse(spec))
        .collect::<Result<Vec<_>, _>>()
        .map_err(Failure::usage)?;
    // Twins act on the cluster (see `crate::twins`), not on messages.
    adversaries.retain(|adversary| adversary.twins().is_none());
    if adversaries.is_empty() {
        return Ok(None);
    }
    let chain = traitor_adversaries::Chain::start(
        adversaries,
        run,
        StdRng::seed_from_u64(plan.seed ^ 0x7472_6169_746f_7273),
    )
    .map_err(Failure::harness)?;
    Ok(Some(Arc::new(crate::adversary::AdversaryHook::new(
        chain, faults, run_start, fatal,
    ))))
}
