//! `target.toml`: how to start a target's nodes, talk to them, and what its known-bug
//! variants break.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// A target: one folder with `target.toml`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TargetSpec {
    pub name: String,
    /// Sets the default fault budget: bft f = (n-1)/3, cft f = (n-1)/2.
    pub kind: FaultKind,
    /// Default cluster size.
    pub n: u32,
    pub image: ImageSpec,
    pub node: NodeSpec,
    pub client: ClientSpec,
    /// How the harness reads committed logs and finds the primary.
    #[serde(default)]
    pub observe: ObserveSpec,
    #[serde(default)]
    pub variants: Vec<Variant>,
}

/// Which failures the target claims to tolerate.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FaultKind {
    Bft,
    Cft,
}

impl FaultKind {
    /// The largest number of faulty nodes `n` nodes tolerate.
    pub fn budget(self, n: u32) -> u32 {
        match self {
            FaultKind::Bft => n.saturating_sub(1) / 3,
            FaultKind::Cft => n.saturating_sub(1) / 2,
        }
    }
}

/// Where the node program comes from: exactly one of the four.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ImageSpec {
    pub cargo_bin: Option<String>,
    pub host_bin: Option<String>,
    pub dockerfile: Option<String>,
    pub image: Option<String>,
}

/// How nodes are started and how their traffic is framed.
///
/// `args`, the values of `env` and every file of `files` are templates (minijinja, over the
/// context `docs/bring-your-own-cluster.md` lists: `id`, `n`, `f`, `ip`, each port by name,
/// `peers`, key material, `data_dir`). Today's `{id}`-style placeholders keep working.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NodeSpec {
    pub args: Vec<String>,
    /// Environment variables of every node, values templated.
    #[serde(default)]
    pub env: BTreeMap<String, String>,
    /// Files rendered per node and written before it starts.
    #[serde(default)]
    pub files: Vec<NodeFile>,
    /// The node-to-node port: every link to it crosses the proxy.
    pub peer_port: u16,
    /// The port clients and observers reach directly; `GET /health` on it answers 200 once
    /// the node is ready.
    pub api_port: u16,
    /// How the proxy cuts messages on `peer_port`: `len32-json`, `len32`, `lines` or `stream`.
    pub framing: String,
    /// More named ports: with a `framing` another node-to-node port (proxied on every link,
    /// cut by its own framing), without one a client port reached directly.
    #[serde(default)]
    pub ports: Vec<PortSpec>,
}

/// A file written into a node's data folder before it starts.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NodeFile {
    /// Where it goes, relative to the node's data folder (`data_dir`).
    pub path: String,
    /// The template it is rendered from, relative to the target folder.
    pub template: String,
}

/// One more named port of every node.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PortSpec {
    /// Its name in templates (`{{ name }}` is the port number).
    pub name: String,
    pub port: u16,
    /// Set for a node-to-node port: how the proxy cuts its messages.
    pub framing: Option<String>,
}

/// How clients talk to the nodes.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClientSpec {
    /// `traitor-http` (the node API of DESIGN) or `exec:PATH [ARGS]`, an adapter program on
    /// the harness host speaking JSON lines (PATH relative to the target folder).
    pub protocol: String,
    /// Workload models the target serves; the first is the default.
    pub models: Vec<String>,
}

/// Where committed logs and the primary come from.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ObserveSpec {
    /// `traitor-http` (`GET /log`), `exec:PATH [ARGS]` or `none` (agreement and validity
    /// answer unknown, saying why).
    #[serde(default = "traitor_http")]
    pub log: String,
    /// `traitor-http` (`GET /status`), `exec:PATH [ARGS]` or `none` (crash-primary and
    /// isolate-primary are refused before the run starts).
    #[serde(default = "traitor_http")]
    pub primary: String,
    /// When a started node counts as ready: `health` (`GET /health` on `api_port` answers
    /// 200) or `tcp` (`api_port` accepts connections).
    #[serde(default = "health")]
    pub ready: String,
}

impl Default for ObserveSpec {
    fn default() -> Self {
        Self {
            log: traitor_http(),
            primary: traitor_http(),
            ready: health(),
        }
    }
}

fn health() -> String {
    "health".into()
}

fn traitor_http() -> String {
    Protocol::TRAITOR_HTTP.into()
}

/// How the harness reaches a client, log or primary endpoint of the target.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Protocol {
    /// The traitor node API on every node's `api_port`.
    TraitorHttp,
    /// An adapter program: its path (relative to the target folder) and arguments.
    Exec { program: String, args: Vec<String> },
    /// Not observed at all.
    None,
}

impl Protocol {
    pub const TRAITOR_HTTP: &'static str = "traitor-http";

    /// Parses `traitor-http`, `exec:PATH [ARGS]` or (where `none_allowed`) `none`.
    pub fn parse(text: &str, none_allowed: bool) -> Result<Self, String> {
        let expected = if none_allowed {
            "expected traitor-http, exec:PATH [ARGS] or none"
        } else {
            "expected traitor-http or exec:PATH [ARGS]"
        };
        match text.trim() {
            Self::TRAITOR_HTTP => Ok(Protocol::TraitorHttp),
            "none" if none_allowed => Ok(Protocol::None),
            other => {
                let Some(command) = other.strip_prefix("exec:") else {
                    return Err(format!("{text:?}: {expected}"));
                };
                let mut words = command.split_whitespace().map(String::from);
                let program = words
                    .next()
                    .ok_or_else(|| format!("{text:?}: exec: needs a program path"))?;
                Ok(Protocol::Exec {
                    program,
                    args: words.collect(),
                })
            }
        }
    }
}

/// A known-bug variant (or a configuration beyond the fault budget).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Variant {
    pub name: String,
    #[serde(default)]
    pub args: Vec<String>,
    /// Arguments appended to the client adapter's command line (a client-side bug).
    #[serde(default)]
    pub client_args: Vec<String>,
    /// Environment added to every node's (templated like `[node] env`).
    #[serde(default)]
    pub env: BTreeMap<String, String>,
    /// Values templates see as `variant.<name>` (and `variant.name` is the variant's name).
    #[serde(default)]
    pub values: BTreeMap<String, serde_json::Value>,
    /// Properties a strong enough adversary must expose: agreement, validity, termination,
    /// linearizability.
    #[serde(default)]
    pub violates: Vec<String>,
    #[serde(default)]
    pub description: String,
    /// Cluster size this variant needs, when not the target's.
    pub n: Option<u32>,
    /// Traitors the variant is meant to run against.
    pub byzantine: Option<u32>,
    /// The configuration exceeds the fault budget: a violation is theory, not a code bug.
    #[serde(default)]
    pub fault_budget_exceeded: bool,
    /// Faults declared able to expose the bug: nemesis fault kinds (`crash-primary`) or
    /// adversary names (`equivocate-sign`, `plugin:NAME.py` matched by file name), with
    /// `@primary` when the primary must be the traitor (`equivocate-sign@primary`), or
    /// several joined by `+` when only together they expose it
    /// (`plugin:split_commit.py+partition-mute-one`). A campaign run of this variant with one
    /// of them is expected to catch a `violates` property.
    #[serde(default)]
    pub exposed_by: Vec<String>,
}

/// Property names a variant may declare.
pub const PROPERTIES: [&str; 4] = ["agreement", "validity", "termination", "linearizability"];

impl TargetSpec {
    /// Checks what serde cannot: one image source, ports that can all be told apart,
    /// protocols that parse, known properties, unique variant names, placeholders that
    /// exist. Errors name the field and what would be right. Template variables are
    /// checked by rendering, where the context is known (the harness).
    pub fn validate(&self) -> Result<(), String> {
        let sources = [
            &self.image.cargo_bin,
            &self.image.host_bin,
            &self.image.dockerfile,
            &self.image.image,
        ];
        if sources.iter().filter(|s| s.is_some()).count() != 1 {
            return Err(
                "[image] must set exactly one of cargo_bin, host_bin, dockerfile, image".into(),
            );
        }
        check_name("name", &self.name)?;
        if !(1..=MAX_NODES).contains(&self.n) {
            return Err(format!(
                "n = {}: expected a cluster size from 1 to {MAX_NODES}",
                self.n
            ));
        }
        if let Some(bin) = &self.image.cargo_bin {
            let valid = !bin.starts_with('-')
                && !bin.is_empty()
                && bin
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
            if !valid {
                return Err(format!(
                    "[image] cargo_bin = {bin:?}: expected a binary name of this workspace \
                     (letters, digits, '-' and '_', not starting with '-')"
                ));
            }
        }
        check_framing("[node] framing", &self.node.framing)?;
        self.check_ports()?;
        Protocol::parse(&self.client.protocol, false)
            .map_err(|e| format!("[client] protocol = {e}"))?;
        Protocol::parse(&self.observe.log, true).map_err(|e| format!("[observe] log = {e}"))?;
        Protocol::parse(&self.observe.primary, true)
            .map_err(|e| format!("[observe] primary = {e}"))?;
        if !["health", "tcp"].contains(&self.observe.ready.as_str()) {
            return Err(format!(
                "[observe] ready = {:?}: expected health (GET /health answers 200) or tcp (api_port \
                 accepts connections)",
                self.observe.ready
            ));
        }
        for arg in &self.node.args {
            check_arg("[node] args", arg)?;
        }
        check_env("[node] env", &self.node.env)?;
        for file in &self.node.files {
            check_relative("[[node.files]] path", &file.path)?;
            check_relative("[[node.files]] template", &file.template)?;
        }
        let mut names = std::collections::HashSet::new();
        for v in &self.variants {
            check_name("[[variants]] name", &v.name)?;
            if !names.insert(v.name.as_str()) {
                return Err(format!("[[variants]] name {:?} appears twice", v.name));
            }
            if let Some(bad) = v
                .violates
                .iter()
                .find(|p| !PROPERTIES.contains(&p.as_str()))
            {
                return Err(format!(
                    "[[variants]] {:?}: violates {bad:?} is not a property; expected one of {}",
                    v.name,
                    PROPERTIES.join(", ")
                ));
            }
            for arg in v.args.iter().chain(&v.client_args) {
                check_arg(&format!("[[variants]] {:?} args", v.name), arg)?;
            }
            check_env(&format!("[[variants]] {:?} env", v.name), &v.env)?;
        }
        Ok(())
    }

    /// Every port is non-zero and distinct, and every extra port has a usable name.
    fn check_ports(&self) -> Result<(), String> {
        let node = &self.node;
        let mut seen = vec![("peer_port", node.peer_port), ("api_port", node.api_port)];
        for port in &node.ports {
            let valid_name = port.name.starts_with(|c: char| c.is_ascii_alphabetic())
                && port
                    .name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_');
            if !valid_name || CONTEXT_NAMES.contains(&port.name.as_str()) {
                return Err(format!(
                    "[[node.ports]] name {:?}: use letters, digits and _, starting with a letter, \
                     and none of the template names ({})",
                    port.name,
                    CONTEXT_NAMES.join(", ")
                ));
            }
            if let Some(framing) = &port.framing {
                check_framing(&format!("[[node.ports]] {:?} framing", port.name), framing)?;
            }
            seen.push((port.name.as_str(), port.port));
        }
        for (i, (name, port)) in seen.iter().enumerate() {
            if *port == 0 {
                return Err(format!(
                    "[node] {name} = 0: give the port the node really listens on"
                ));
            }
            if let Some((other, _)) = seen[..i].iter().find(|(_, p)| p == port) {
                return Err(format!(
                    "[node] {name} and {other} are both {port}: every port needs its own number"
                ));
            }
        }
        Ok(())
    }

    /// The named ports of every node: `peer_port`, `api_port`, then `[[node.ports]]`.
    pub fn named_ports(&self) -> Vec<(String, u16)> {
        let node = &self.node;
        [("peer_port", node.peer_port), ("api_port", node.api_port)]
            .into_iter()
            .chain(node.ports.iter().map(|p| (p.name.as_str(), p.port)))
            .map(|(name, port)| (name.to_string(), port))
            .collect()
    }

    /// The variant named `name`, or an error listing the ones there are.
    pub fn variant(&self, name: &str) -> Result<&Variant, String> {
        self.variants
            .iter()
            .find(|v| v.name == name)
            .ok_or_else(|| {
                let names: Vec<&str> = self.variants.iter().map(|v| v.name.as_str()).collect();
                format!(
                    "target {} has no variant {name:?}; it has: {}",
                    self.name,
                    names.join(", ")
                )
            })
    }
}

/// The largest cluster a target may ask for.
pub const MAX_NODES: u32 = 1000;
/// The longest argument Linux passes to a program (MAX_ARG_STRLEN).
const MAX_ARG: usize = 128 * 1024;

/// Whether `name` is usable in folder, container and network names (what Docker
/// accepts): 1 to 64 letters, digits, `-`, `_` and `.`, starting with a letter or digit.
pub fn is_container_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name.starts_with(|c: char| c.is_ascii_alphanumeric())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

/// A target or variant name: it ends up in run ids, folder and container names.
fn check_name(field: &str, name: &str) -> Result<(), String> {
    if is_container_name(name) {
        Ok(())
    } else {
        Err(format!(
            "{field} = {name:?}: use 1 to 64 letters, digits, '-', '_' and '.', starting with a \
             letter or digit (it names run folders and containers)"
        ))
    }
}

/// An argument a node or adapter can be given: no NUL byte, within Linux's limit, and a
/// template that parses.
fn check_arg(field: &str, arg: &str) -> Result<(), String> {
    if arg.contains('\0') {
        return Err(format!(
            "{field}: {arg:?} holds a NUL byte, which no program can receive"
        ));
    }
    if arg.len() > MAX_ARG {
        return Err(format!(
            "{field}: an argument of {} bytes; Linux passes at most {MAX_ARG} (use [[node.files]])",
            arg.len()
        ));
    }
    template_text(arg)
        .map(|_| ())
        .map_err(|e| format!("{field}: {e}"))
}

fn check_framing(field: &str, framing: &str) -> Result<(), String> {
    if ["len32-json", "len32", "lines", "stream"].contains(&framing) {
        Ok(())
    } else {
        Err(format!(
            "{field} = {framing:?}: expected len32-json, len32, lines or stream"
        ))
    }
}

fn check_env(field: &str, env: &BTreeMap<String, String>) -> Result<(), String> {
    for (name, value) in env {
        if name.is_empty() || name.contains(['=', '\0']) {
            return Err(format!(
                "{field}: {name:?} is not a variable name (no '=' or NUL, not empty)"
            ));
        }
        if value.contains('\0') {
            return Err(format!("{field}: {name} holds a NUL byte"));
        }
        template_text(value).map_err(|e| format!("{field}: {name}: {e}"))?;
    }
    Ok(())
}

/// A path inside a folder: relative, never climbing out with `..`.
fn check_relative(field: &str, path: &str) -> Result<(), String> {
    let p = std::path::Path::new(path);
    let climbs = p
        .components()
        .any(|c| !matches!(c, std::path::Component::Normal(_)));
    if path.is_empty() || climbs {
        return Err(format!(
            "{field} = {path:?}: give a relative path without `..` (it stays inside its folder)"
        ));
    }
    Ok(())
}

/// Names the template context gives every node, which a port may not take.
pub const CONTEXT_NAMES: [&str; 14] = [
    "id",
    "n",
    "f",
    "ip",
    "peer_port",
    "api_port",
    "peers",
    "secret_key",
    "public_keys",
    "client_public_key",
    "data_dir",
    "variant",
    "nodes",
    "ports",
];

/// Today's single-brace placeholders and the template each stands for.
const PLACEHOLDERS: [(&str, &str); 10] = [
    ("id", "{{ id }}"),
    ("n", "{{ n }}"),
    ("f", "{{ f }}"),
    ("ip", "{{ ip }}"),
    ("peer_port", "{{ peer_port }}"),
    ("api_port", "{{ api_port }}"),
    (
        "peers",
        "{% for p in peers %}{{ p.host }}:{{ p.port }}{% if not loop.last %},{% endif %}{% endfor %}",
    ),
    ("secret_key", "{{ secret_key }}"),
    ("public_keys", "{{ public_keys | join(\",\") }}"),
    ("client_public_key", "{{ client_public_key }}"),
];

/// The template text of one argument or value: `{{ ... }}`, `{% ... %}` and `{# ... #}`
/// pass as they are, and each single-brace placeholder (`{id}`, `{peers}`, ...) becomes
/// its template. An unknown placeholder or an unclosed brace is an error naming it.
pub fn template_text(arg: &str) -> Result<String, String> {
    let mut out = String::with_capacity(arg.len());
    let mut rest = arg;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        rest = &rest[open..];
        let closing = match rest.as_bytes().get(1) {
            Some(b'{') => Some("}}"),
            Some(b'%') => Some("%}"),
            Some(b'#') => Some("#}"),
            _ => None,
        };
        if let Some(closing) = closing {
            let end = rest[2..]
                .find(closing)
                .ok_or_else(|| format!("unclosed `{}` in {arg:?}", &rest[..2]))?;
            let whole = 2 + end + closing.len();
            out.push_str(&rest[..whole]);
            rest = &rest[whole..];
            continue;
        }
        let close = rest
            .find('}')
            .ok_or_else(|| format!("unclosed `{{` in {arg:?}"))?;
        let name = &rest[1..close];
        let template = PLACEHOLDERS
            .iter()
            .find(|(known, _)| *known == name)
            .map(|(_, template)| *template)
            .ok_or_else(|| {
                format!(
                    "unknown placeholder {{{name}}} in {arg:?}; known: {} (or a template, \
                     `{{{{ name }}}}`)",
                    PLACEHOLDERS.map(|(p, _)| format!("{{{p}}}")).join(" ")
                )
            })?;
        out.push_str(template);
        rest = &rest[close + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec() -> TargetSpec {
        TargetSpec {
            name: "t".into(),
            kind: FaultKind::Bft,
            n: 4,
            image: ImageSpec {
                cargo_bin: Some("pbft-node".into()),
                ..Default::default()
            },
            node: NodeSpec {
                args: vec![
                    "--id".into(),
                    "{id}".into(),
                    "--listen".into(),
                    "{ip}:{peer_port}".into(),
                ],
                env: BTreeMap::new(),
                files: vec![],
                peer_port: 7000,
                api_port: 8080,
                framing: "len32-json".into(),
                ports: vec![],
            },
            client: ClientSpec {
                protocol: "traitor-http".into(),
                models: vec!["kv".into()],
            },
            observe: ObserveSpec::default(),
            variants: vec![],
        }
    }

    #[test]
    fn validates_and_names_the_field() {
        assert_eq!(spec().validate(), Ok(()));
        let mut s = spec();
        s.image.image = Some("x".into());
        assert!(s.validate().unwrap_err().contains("exactly one"));
        let mut s = spec();
        s.node.args.push("{nodes}".into());
        assert!(s
            .validate()
            .unwrap_err()
            .contains("unknown placeholder {nodes}"));
        let mut s = spec();
        s.node.framing = "json".into();
        assert!(s.validate().unwrap_err().contains("framing"));
    }

    #[test]
    fn ports_protocols_and_files_are_checked() {
        let mut s = spec();
        s.node.api_port = 7000;
        assert!(s.validate().unwrap_err().contains("both 7000"));
        let mut s = spec();
        s.node.peer_port = 0;
        assert!(s.validate().unwrap_err().contains("peer_port = 0"));
        let mut s = spec();
        s.node.ports.push(PortSpec {
            name: "id".into(),
            port: 9000,
            framing: None,
        });
        assert!(s.validate().unwrap_err().contains("[[node.ports]] name"));
        let mut s = spec();
        s.client.protocol = "grpc".into();
        assert!(s.validate().unwrap_err().contains("[client] protocol"));
        let mut s = spec();
        s.observe.primary = "none".into();
        assert_eq!(s.validate(), Ok(()));
        s.client.protocol = "none".into();
        assert!(s.validate().is_err(), "clients cannot be `none`");
        let mut s = spec();
        s.node.files.push(NodeFile {
            path: "../etc/passwd".into(),
            template: "a.j2".into(),
        });
        assert!(s.validate().unwrap_err().contains("without `..`"));
    }

    #[test]
    fn names_sizes_and_arguments_are_checked() {
        let mut s = spec();
        s.name = "a/b".into();
        assert!(s.validate().unwrap_err().contains("name = \"a/b\""));
        let mut s = spec();
        s.n = 1_000_000;
        assert!(s.validate().unwrap_err().contains("n = 1000000"));
        let mut s = spec();
        s.image.cargo_bin = Some("--config=x".into());
        assert!(s.validate().unwrap_err().contains("cargo_bin"));
        let mut s = spec();
        s.node.args.push("a\0b".into());
        assert!(s.validate().unwrap_err().contains("NUL"));
        let mut s = spec();
        s.node.args.push("x".repeat(MAX_ARG + 1));
        assert!(s.validate().unwrap_err().contains("at most"));
        let mut s = spec();
        s.variants.push(Variant {
            name: String::new(),
            args: vec![],
            client_args: vec![],
            env: BTreeMap::new(),
            values: BTreeMap::new(),
            violates: vec![],
            description: String::new(),
            n: None,
            byzantine: None,
            fault_budget_exceeded: false,
            exposed_by: vec![],
        });
        assert!(s.validate().unwrap_err().contains("[[variants]] name"));
    }

    #[test]
    fn exec_protocols_split_program_and_arguments() {
        assert_eq!(
            Protocol::parse("exec:adapter/etcd.py --serializable", false),
            Ok(Protocol::Exec {
                program: "adapter/etcd.py".into(),
                args: vec!["--serializable".into()],
            })
        );
        assert!(Protocol::parse("exec:", true).is_err());
        assert_eq!(Protocol::parse("none", true), Ok(Protocol::None));
    }

    #[test]
    fn placeholders_become_templates_and_templates_pass() {
        assert_eq!(
            template_text("{ip}:{peer_port}").unwrap(),
            "{{ ip }}:{{ peer_port }}"
        );
        let jinja = "n{{ id }}={% for p in peers %}{{ p.host }}{% endfor %}{# c #}";
        assert_eq!(template_text(jinja).unwrap(), jinja);
        assert!(template_text("{{ id").unwrap_err().contains("unclosed"));
        assert!(template_text("{id").unwrap_err().contains("unclosed"));
        assert_eq!(FaultKind::Bft.budget(4), 1);
        assert_eq!(FaultKind::Cft.budget(5), 2);
    }
}
