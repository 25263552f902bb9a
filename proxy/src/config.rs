//! What a proxy is asked to do: the run's nodes, how their bytes are cut into messages, the
//! seed and the trace. Plain data, checked once by [`ProxyConfig::validate`] before any
//! socket is opened, so a bad configuration fails at start and not mid-run.

use std::collections::{HashMap, HashSet};
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::str::FromStr;
use std::time::Instant;

use crate::NodeId;

/// How the bytes of a link are cut into messages. Per-message faults (drop, duplicate,
/// reorder) need message boundaries, so they only apply to the framed choices; `stream`
/// links get partitions and delays on whatever chunks the socket yields.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Framing {
    /// 4-byte big-endian length, then a JSON object; its `type` field names the message
    /// kind in the trace (what traitor's own targets speak).
    Len32Json,
    /// 4-byte big-endian length, then an opaque body.
    Len32,
    /// One message per `\n`-terminated line.
    Lines,
    /// No message boundaries: each chunk read from the socket is one unit.
    Stream,
}

impl Framing {
    /// Whether messages have boundaries, i.e. whether per-message faults make sense.
    pub fn is_framed(self) -> bool {
        !matches!(self, Framing::Stream)
    }

    /// The name used in `target.toml` and on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Framing::Len32Json => "len32-json",
            Framing::Len32 => "len32",
            Framing::Lines => "lines",
            Framing::Stream => "stream",
        }
    }
}

impl std::fmt::Display for Framing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Framing {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "len32-json" => Ok(Framing::Len32Json),
            "len32" => Ok(Framing::Len32),
            "lines" => Ok(Framing::Lines),
            "stream" => Ok(Framing::Stream),
            other => Err(format!(
                "unknown framing {other:?}: expected one of len32-json, len32, lines, stream"
            )),
        }
    }
}

/// One node of the run as the proxy sees it: the address its connections come from (how
/// the proxy knows who is sending) and the real address it listens on (where the proxy
/// dials on its behalf). A node with a twin has two: one per instance.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProxyNode {
    /// The node's identity in the run.
    pub id: NodeId,
    /// The source address of every connection this node opens (its container address, or
    /// its own 127.0.0.x in the process backend). Must be unique within the run.
    pub source_ip: IpAddr,
    /// Where the node really listens for its peers.
    pub upstream: SocketAddr,
}

/// Everything [`crate::Proxy::start`] needs.
#[derive(Clone, Debug)]
pub struct ProxyConfig {
    /// The address the per-node endpoints listen on (ports are chosen by the OS). For the
    /// docker backend, the run network's gateway; for the process backend, a loopback address.
    pub listen_ip: IpAddr,
    /// The run's nodes; only their source addresses may use the proxy. A node listed twice
    /// has a twin (a second instance with the same identity): the first entry is instance
    /// 0, the second instance 1, and [`crate::TwinControl`] says which one each peer talks to.
    pub nodes: Vec<ProxyNode>,
    /// How messages are cut, for every link.
    pub framing: Framing,
    /// Seeds every random choice (drop, duplicate, reorder, jitter) so a run repeats.
    pub seed: u64,
    /// Trace times are nanoseconds since this instant (the run's start).
    pub run_start: Instant,
    /// Where to write `trace.jsonl`; `None` keeps only the per-link counters.
    pub trace_path: Option<PathBuf>,
    /// At most this many trace records, then one `{"truncated":true,...}` line.
    pub trace_limit: usize,
    /// The run's message-level adversaries, if any. They see the messages of the main
    /// port (each node's `upstream`) only.
    pub interceptor: Option<std::sync::Arc<dyn crate::Interceptor>>,
    /// More node-to-node ports of every node, each proxied on every link with its own
    /// framing: partitions and link faults hold for all of a link's ports.
    pub more_ports: Vec<PeerPort>,
    /// Tells the sender of a connection whose source address is no node's (a program that
    /// does not bind its outgoing connections on loopback), if the backend can.
    pub resolver: Option<SourceResolver>,
}

/// One more node-to-node port: where every node listens on it, and how it is framed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PeerPort {
    pub port: u16,
    pub framing: Framing,
}

/// Given a connection's remote address (the dialler's end) and the proxy endpoint it
/// reached, the source address of the node that opened it.
#[derive(Clone)]
pub struct SourceResolver(
    pub std::sync::Arc<dyn Fn(SocketAddr, SocketAddr) -> Option<IpAddr> + Send + Sync>,
);

impl std::fmt::Debug for SourceResolver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SourceResolver")
    }
}

impl ProxyConfig {
    /// Rejects configurations under which the proxy could not tell senders apart or would
    /// route a node's traffic to the wrong place.
    pub fn validate(&self) -> Result<(), String> {
        let mut ids: HashMap<NodeId, usize> = HashMap::new();
        let mut sources = HashSet::new();
        for node in &self.nodes {
            let entries = ids.entry(node.id).or_default();
            *entries += 1;
            if *entries > 2 {
                return Err(format!(
                    "proxy configuration lists node {} {} times: a node has one entry, or two \
                     when it has a twin",
                    node.id, entries
                ));
            }
            let source = node.source_ip.to_canonical();
            if !sources.insert(source) {
                return Err(format!(
                    "proxy configuration gives source address {source} to more than one node \
                     (node {} among them): every node needs its own source address, since \
                     that is how the proxy tells senders apart",
                    node.id
                ));
            }
        }
        let main_ports: HashSet<u16> = self.nodes.iter().map(|n| n.upstream.port()).collect();
        let mut more = HashSet::new();
        for extra in &self.more_ports {
            if main_ports.contains(&extra.port) || !more.insert(extra.port) {
                return Err(format!(
                    "proxy configuration lists node port {} twice: every node-to-node port \
                     needs its own number",
                    extra.port
                ));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn framing_parses_its_four_names_and_round_trips_through_serde() {
        for framing in [
            Framing::Len32Json,
            Framing::Len32,
            Framing::Lines,
            Framing::Stream,
        ] {
            assert_eq!(framing.name().parse::<Framing>(), Ok(framing));
            let json = serde_json::to_string(&framing).unwrap();
            assert_eq!(json, format!("\"{}\"", framing.name()));
            assert_eq!(serde_json::from_str::<Framing>(&json).unwrap(), framing);
        }
    }

    #[test]
    fn unknown_framing_error_names_the_choices() {
        let err = "len16".parse::<Framing>().unwrap_err();
        assert!(err.contains("\"len16\""), "{err}");
        for name in ["len32-json", "len32", "lines", "stream"] {
            assert!(err.contains(name), "{err}");
        }
    }

    fn config(nodes: Vec<ProxyNode>) -> ProxyConfig {
        ProxyConfig {
            listen_ip: "127.0.0.1".parse().unwrap(),
            nodes,
            framing: Framing::Stream,
            seed: 0,
            run_start: Instant::now(),
            trace_path: None,
            interceptor: None,
            trace_limit: 0,
            more_ports: vec![],
            resolver: None,
        }
    }

    fn node(id: NodeId, source: &str) -> ProxyNode {
        ProxyNode {
            id,
            source_ip: source.parse().unwrap(),
            upstream: "127.0.0.1:1".parse().unwrap(),
        }
    }

    #[test]
    fn validate_rejects_shared_source_addresses_and_a_third_instance() {
        assert!(config(vec![node(0, "127.0.0.2"), node(1, "127.0.0.3")])
            .validate()
            .is_ok());
        let err = config(vec![node(0, "127.0.0.2"), node(1, "::ffff:127.0.0.2")])
            .validate()
            .unwrap_err();
        assert!(err.contains("127.0.0.2"), "{err}");
        assert!(
            config(vec![node(4, "127.0.0.2"), node(4, "127.0.0.3")])
                .validate()
                .is_ok(),
            "a node listed twice has a twin"
        );
        let err = config(vec![
            node(4, "127.0.0.2"),
            node(4, "127.0.0.3"),
            node(4, "127.0.0.4"),
        ])
        .validate()
        .unwrap_err();
        assert!(err.contains("node 4 3 times"), "{err}");
    }
}
