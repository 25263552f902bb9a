//! How the harness reaches a target: it submits client ops, reads committed logs and asks
//! who leads. Each is one trait, with the traitor node API (HTTP) and adapter programs
//! (`exec:`, JSON lines) behind it, chosen by `[client]` and `[observe]` in `target.toml`;
//! the run loop never knows which.

mod exec;
mod http;

pub use exec::{ExecAdapter, ADAPTER_GRACE};
pub use http::HttpNodes;

use crate::exit::Failure;
use crate::node_api::{LogPage, NodeApi, Reply};
use crate::target::Target;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;
use traitor_model::target::Protocol;
use traitor_model::NodeId;

/// Submits one client operation to a node and says how it ended, in Jepsen's terms.
#[async_trait::async_trait]
pub trait OpClient: Send + Sync {
    async fn submit(
        &self,
        node: NodeId,
        client: &str,
        req: u64,
        op: Value,
        timeout: Duration,
    ) -> Reply;
}

/// Reads a node's committed log from `from` on; an error means the node did not answer.
#[async_trait::async_trait]
pub trait LogReader: Send + Sync {
    async fn log(&self, node: NodeId, from: u64) -> Result<LogPage, String>;
}

/// Names the node that leads (the primary, the raft leader), when one is known.
#[async_trait::async_trait]
pub trait PrimaryLookup: Send + Sync {
    async fn primary(&self) -> Option<NodeId>;
}

/// The run's connectors: clients always; logs and the primary unless `[observe]` says none.
pub struct Connectors {
    pub client: Arc<dyn OpClient>,
    pub log: Option<Arc<dyn LogReader>>,
    pub primary: Option<Arc<dyn PrimaryLookup>>,
}

/// Where the harness finds every node: its address and its named ports.
#[derive(Clone, Debug)]
pub struct NodeAddresses {
    pub ips: Vec<IpAddr>,
    pub ports: Vec<(String, u16)>,
    pub api_port: u16,
}

impl NodeAddresses {
    /// Node `node`'s API address (`api_port`).
    pub fn api(&self, node: NodeId) -> SocketAddr {
        SocketAddr::new(self.ips[node as usize], self.api_port)
    }

    /// What adapters are told of the nodes: id, host, `api` address and every named port.
    pub fn describe(&self) -> Value {
        let nodes: Vec<Value> = self
            .ips
            .iter()
            .enumerate()
            .map(|(id, ip)| {
                let mut node = json!({
                    "id": id,
                    "host": ip.to_string(),
                    "api": SocketAddr::new(*ip, self.api_port).to_string(),
                });
                for (name, port) in &self.ports {
                    node[name] = json!(port);
                }
                node
            })
            .collect();
        json!(nodes)
    }
}

/// What building the connectors needs beyond the target.
pub struct ConnectorSetup<'a> {
    pub target: &'a Target,
    /// The variant's `client_args`, appended to the client adapter's command line.
    pub client_args: &'a [String],
    pub addresses: NodeAddresses,
    /// Signs client requests (the traitor node API checks them).
    pub authority: ed25519_dalek::SigningKey,
    /// Where adapters' stderr goes (`logs/adapter-<role>.log`).
    pub logs: &'a Path,
    /// An adapter that fails sends why here; the run ends as a harness failure.
    pub fatal: watch::Sender<Option<String>>,
}

impl Connectors {
    /// Starts the adapters `target.toml` names (one process per distinct command line) and
    /// builds the three connectors.
    pub fn start(setup: ConnectorSetup<'_>) -> Result<Self, Failure> {
        let spec = &setup.target.spec;
        let parse = |field: &str, text: &str, none_allowed: bool| {
            Protocol::parse(text, none_allowed)
                .map_err(|e| Failure::usage(format!("target.toml {field} = {e}")))
        };
        let http = Arc::new(HttpNodes::new(
            NodeApi::new().signing_requests(setup.authority.clone()),
            setup.addresses.clone(),
        ));
        let mut adapters: HashMap<(String, Vec<String>), Arc<ExecAdapter>> = HashMap::new();
        let mut connect = |role: &str, protocol: Protocol, extra: &[String]| {
            Ok::<_, Failure>(match protocol {
                Protocol::TraitorHttp => Some(Connector::Http(http.clone())),
                Protocol::None => None,
                Protocol::Exec { program, mut args } => {
                    args.extend(extra.iter().cloned());
                    let key = (program.clone(), args.clone());
                    let adapter = match adapters.get(&key) {
                        Some(adapter) => adapter.clone(),
                        None => {
                            let adapter = Arc::new(ExecAdapter::start(
                                &setup.target.dir.join(&program),
                                &args,
                                role,
                                setup.addresses.describe(),
                                &setup.logs.join(format!("adapter-{role}.log")),
                                setup.fatal.clone(),
                            )?);
                            adapters.insert(key, adapter.clone());
                            adapter
                        }
                    };
                    Some(Connector::Exec(adapter))
                }
            })
        };
        let client = connect(
            "client",
            parse("[client] protocol", &spec.client.protocol, false)?,
            setup.client_args,
        )?
        .ok_or_else(|| Failure::usage("target.toml [client] protocol: clients cannot be none"))?;
        let log = connect("log", parse("[observe] log", &spec.observe.log, true)?, &[])?;
        let primary = connect(
            "primary",
            parse("[observe] primary", &spec.observe.primary, true)?,
            &[],
        )?;
        Ok(Self {
            client: client.op_client(),
            log: log.map(Connector::log_reader),
            primary: primary.map(Connector::primary_lookup),
        })
    }
}

/// One implementation, before it is seen through one of the traits.
enum Connector {
    Http(Arc<HttpNodes>),
    Exec(Arc<ExecAdapter>),
}

impl Connector {
    fn op_client(self) -> Arc<dyn OpClient> {
        match self {
            Connector::Http(c) => c,
            Connector::Exec(c) => c,
        }
    }

    fn log_reader(self) -> Arc<dyn LogReader> {
        match self {
            Connector::Http(c) => c,
            Connector::Exec(c) => c,
        }
    }

    fn primary_lookup(self) -> Arc<dyn PrimaryLookup> {
        match self {
            Connector::Http(c) => c,
            Connector::Exec(c) => c,
        }
    }
}
