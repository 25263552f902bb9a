//! A node's arguments, environment and files, rendered from `target.toml`'s templates
//! (minijinja) over one context per node, so a system configured by files and environment
//! runs unmodified. Templates are checked when the plan is made, by rendering them over a
//! sample context: a typo fails the run before anything starts, naming the field.

use crate::exit::Failure;
use crate::target::Target;
use minijinja::{Environment, UndefinedBehavior};
use serde::Serialize;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use traitor_cluster::NodeLaunch;
use traitor_model::target::{template_text, Variant};
use traitor_model::NodeId;

/// A peer as this node must dial it: through the proxy's endpoints for it.
#[derive(Clone, Debug, Serialize)]
pub struct Peer {
    pub id: NodeId,
    pub host: String,
    /// The endpoint for its `peer_port`.
    pub port: u16,
    /// The endpoint for each of its other node-to-node ports, by name.
    #[serde(flatten)]
    pub ports: BTreeMap<String, u16>,
}

/// What templates see (documented in `docs/bring-your-own-cluster.md`).
#[derive(Clone, Debug, Serialize)]
pub struct NodeContext {
    pub id: NodeId,
    pub n: u32,
    pub f: u32,
    /// The node's own address: where its ports listen.
    pub ip: String,
    /// `peer_port`, `api_port` and every `[[node.ports]]` name, as numbers.
    #[serde(flatten)]
    pub ports: BTreeMap<String, u16>,
    /// Every node (this one included), as this node dials it.
    pub peers: Vec<Peer>,
    pub secret_key: String,
    pub public_keys: Vec<String>,
    pub client_public_key: String,
    /// The node's own writable folder (its working directory).
    pub data_dir: String,
    /// `name` (empty for the correct code) and the variant's `values`.
    pub variant: Value,
}

/// The templates of one run: the target's, then the variant's additions.
#[derive(Clone, Debug)]
pub struct NodeTemplates {
    args: Vec<(String, String)>,
    env: Vec<(String, String)>,
    files: Vec<(String, String)>,
    variant: Value,
}

impl NodeTemplates {
    /// Gathers the templates (translating `{id}`-style placeholders) and checks each by
    /// rendering it over a sample context of `n` nodes.
    pub fn new(target: &Target, variant: Option<&Variant>, n: u32) -> Result<Self, Failure> {
        let node = &target.spec.node;
        let translate = |field: String, text: &str| {
            template_text(text)
                .map(|t| (field.clone(), t))
                .map_err(|e| Failure::usage(format!("target.toml {field}: {e}")))
        };
        let variant_args = variant.iter().flat_map(|v| v.args.iter());
        let args = node
            .args
            .iter()
            .chain(variant_args)
            .enumerate()
            .map(|(i, a)| translate(format!("args[{i}]"), a))
            .collect::<Result<Vec<_>, _>>()?;
        let variant_env = variant.iter().flat_map(|v| v.env.iter());
        let env = node
            .env
            .iter()
            .chain(variant_env)
            .map(|(name, value)| {
                translate(format!("env {name}"), value).map(|(_, t)| (name.clone(), t))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let files = target
            .files
            .iter()
            .map(|(path, text)| (path.clone(), text.clone()))
            .collect();
        let mut values = json!({"name": variant.map_or("", |v| v.name.as_str())});
        for (name, value) in variant.iter().flat_map(|v| v.values.iter()) {
            values[name] = value.clone();
        }
        let templates = Self {
            args,
            env,
            files,
            variant: values,
        };
        templates
            .render(&templates.sample_context(target, n))
            .map_err(|e| Failure::usage(format!("{}: {e}", target.dir.display())))?;
        Ok(templates)
    }

    /// A context with every name set, for checking templates before the run.
    fn sample_context(&self, target: &Target, n: u32) -> NodeContext {
        let ports: BTreeMap<String, u16> = target.spec.named_ports().into_iter().collect();
        NodeContext {
            id: 0,
            n,
            f: target.spec.kind.budget(n),
            ip: "127.0.0.1".into(),
            ports,
            peers: (0..n)
                .map(|id| Peer {
                    id,
                    host: "127.0.0.1".into(),
                    port: 1,
                    ports: target
                        .spec
                        .node
                        .ports
                        .iter()
                        .filter(|p| p.framing.is_some())
                        .map(|p| (p.name.clone(), 1))
                        .collect(),
                })
                .collect(),
            secret_key: String::new(),
            public_keys: vec![String::new(); n as usize],
            client_public_key: String::new(),
            data_dir: "/data".into(),
            variant: self.variant.clone(),
        }
    }

    /// The variant values templates see, to complete a node's context.
    pub fn variant(&self) -> &Value {
        &self.variant
    }

    /// Renders everything for one node; an error names the field or file.
    pub fn render(&self, context: &NodeContext) -> Result<NodeLaunch, String> {
        let mut env = Environment::new();
        env.set_undefined_behavior(UndefinedBehavior::Strict);
        env.set_keep_trailing_newline(true);
        let render = |field: &str, text: &str| {
            env.render_str(text, context)
                .map_err(|e| format!("target.toml {field}: {e:#}"))
        };
        let args = self
            .args
            .iter()
            .map(|(field, text)| render(field, text))
            .collect::<Result<_, _>>()?;
        let vars = self
            .env
            .iter()
            .map(|(name, text)| Ok((name.clone(), render(&format!("env {name}"), text)?)))
            .collect::<Result<_, String>>()?;
        let files = self
            .files
            .iter()
            .map(|(path, text)| Ok((path.clone(), render(&format!("file {path}"), text)?.into())))
            .collect::<Result<_, String>>()?;
        Ok(NodeLaunch {
            args,
            env: vars,
            files,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn target(extra: &str) -> (tempfile::TempDir, Target) {
        let dir = tempfile::tempdir().unwrap();
        let toml = format!(
            r#"name = "t"
kind = "cft"
n = 3
[image]
host_bin = "/bin/true"
[node]
args = ["--name", "n{{{{ id }}}}", "--peers", "{{peers}}"]
env = {{ DATA = "{{{{ data_dir }}}}/x", EXTRA = "{{{{ variant.name }}}}" }}
peer_port = 2380
api_port = 2379
framing = "stream"
[client]
protocol = "traitor-http"
models = ["register"]
{extra}"#
        );
        std::fs::write(dir.path().join("target.toml"), toml).unwrap();
        std::fs::write(
            dir.path().join("hosts.j2"),
            "{% for p in peers %}{{ p.id }} {{ p.host }} {{ p.port }}\n{% endfor %}",
        )
        .unwrap();
        let target = Target::load(dir.path()).unwrap();
        (dir, target)
    }

    fn context(templates: &NodeTemplates) -> NodeContext {
        NodeContext {
            id: 1,
            n: 2,
            f: 0,
            ip: "10.0.0.3".into(),
            ports: BTreeMap::from([("peer_port".into(), 2380), ("api_port".into(), 2379)]),
            peers: vec![
                Peer {
                    id: 0,
                    host: "10.0.0.1".into(),
                    port: 40000,
                    ports: BTreeMap::new(),
                },
                Peer {
                    id: 1,
                    host: "10.0.0.1".into(),
                    port: 40001,
                    ports: BTreeMap::new(),
                },
            ],
            secret_key: "ab".into(),
            public_keys: vec!["k0".into(), "k1".into()],
            client_public_key: "c".into(),
            data_dir: "/data".into(),
            variant: templates.variant().clone(),
        }
    }

    #[test]
    fn args_env_and_files_render_over_one_context() {
        let (_dir, target) = target(
            "[[node.files]]\npath = \"conf/hosts\"\ntemplate = \"hosts.j2\"\n[[variants]]\nname = \"v\"\nargs = [\"--mode\", \"{{ variant.mode }}\"]\nvalues = { mode = \"fast\" }\n",
        );
        let templates = NodeTemplates::new(&target, target.spec.variants.first(), 3).unwrap();
        let launch = templates.render(&context(&templates)).unwrap();
        assert_eq!(
            launch.args,
            [
                "--name",
                "n1",
                "--peers",
                "10.0.0.1:40000,10.0.0.1:40001",
                "--mode",
                "fast"
            ]
        );
        assert!(launch.env.contains(&("DATA".into(), "/data/x".into())));
        assert!(launch.env.contains(&("EXTRA".into(), "v".into())));
        assert_eq!(
            launch.files,
            [(
                "conf/hosts".to_string(),
                b"0 10.0.0.1 40000\n1 10.0.0.1 40001\n".to_vec()
            )]
        );
    }

    #[test]
    fn an_unknown_name_fails_before_the_run_naming_the_field() {
        let (_dir, mut target) = target("");
        target.spec.node.args.push("{{ nodes_list }}".into());
        let err = NodeTemplates::new(&target, None, 3)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("args[4]") && err.contains("undefined"),
            "{err}"
        );
        assert!(Path::new(&target.dir).is_dir());
    }
}
