//! `target.toml`: how to start a target's nodes, talk to them, and what its known-bug
//! variants break.

use serde::{Deserialize, Serialize};

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
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NodeSpec {
    /// Arguments with placeholders: `{id}`, `{n}`, `{f}`, `{ip}`, `{peer_port}`, `{api_port}`,
    /// `{peers}`, `{secret_key}`, `{public_keys}`, `{client_public_key}` (the key clients
    /// sign their requests with; only the harness holds its secret).
    pub args: Vec<String>,
    pub peer_port: u16,
    pub api_port: u16,
    /// `len32-json`, `len32`, `lines` or `stream`.
    pub framing: String,
}

/// How clients talk to the nodes.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClientSpec {
    /// `traitor-http` (the node API of DESIGN).
    pub protocol: String,
    /// Workload models the target serves; the first is the default.
    pub models: Vec<String>,
}

/// A known-bug variant (or a configuration beyond the fault budget).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Variant {
    pub name: String,
    #[serde(default)]
    pub args: Vec<String>,
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
    /// Checks what serde cannot: one image source, known properties, unique variant names,
    /// placeholders that exist. Errors name the field and what would be right.
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
        if self.n == 0 {
            return Err("n must be at least 1".into());
        }
        if !["len32-json", "len32", "lines", "stream"].contains(&self.node.framing.as_str()) {
            return Err(format!(
                "[node] framing = {:?}: expected len32-json, len32, lines or stream",
                self.node.framing
            ));
        }
        if self.client.protocol != "traitor-http" {
            return Err(format!(
                "[client] protocol = {:?}: only traitor-http is supported",
                self.client.protocol
            ));
        }
        for arg in &self.node.args {
            check_placeholders(arg)?;
        }
        let mut names = std::collections::HashSet::new();
        for v in &self.variants {
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
        }
        Ok(())
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

const PLACEHOLDERS: [&str; 10] = [
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
];

fn check_placeholders(arg: &str) -> Result<(), String> {
    let mut rest = arg;
    while let Some(open) = rest.find('{') {
        let close = rest[open..]
            .find('}')
            .ok_or_else(|| format!("[node] args: unclosed `{{` in {arg:?}"))?;
        let name = &rest[open + 1..open + close];
        if !PLACEHOLDERS.contains(&name) {
            return Err(format!(
                "[node] args: unknown placeholder {{{name}}} in {arg:?}; known: {}",
                PLACEHOLDERS.map(|p| format!("{{{p}}}")).join(" ")
            ));
        }
        rest = &rest[open + close + 1..];
    }
    Ok(())
}

/// Fills the placeholders of one argument.
pub fn fill(arg: &str, values: &[(&str, String)]) -> String {
    values.iter().fold(arg.to_string(), |acc, (name, value)| {
        acc.replace(&format!("{{{name}}}"), value)
    })
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
                peer_port: 7000,
                api_port: 8080,
                framing: "len32-json".into(),
            },
            client: ClientSpec {
                protocol: "traitor-http".into(),
                models: vec!["kv".into()],
            },
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
    fn fills_placeholders() {
        let got = fill(
            "{ip}:{peer_port}",
            &[("ip", "10.0.0.2".into()), ("peer_port", "7000".into())],
        );
        assert_eq!(got, "10.0.0.2:7000");
        assert_eq!(FaultKind::Bft.budget(4), 1);
        assert_eq!(FaultKind::Cft.budget(5), 2);
    }
}
