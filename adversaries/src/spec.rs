//! `--adversary NAME[:key=value,...]`: parsing an adversary from the command line.

use crate::builtin::{Corrupt, EquivocateSign, EquivocateTwins, Impersonate, Mutate, Omit, Replay};
use crate::plugin::{Plugin, DEFAULT_LIMIT};
use crate::Adversary;
use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

/// The adversaries, their parameters and what they do (for help and errors): the built-ins,
/// then `plugin`, which is given as `plugin:PATH[,timeout=1s]`.
pub const CATALOGUE: [(&str, &str, &str); 8] = [
    (
        "corrupt",
        "p=0.2 bits=false",
        "garbage: one JSON field changed by type, or bit flips (bits=true), not re-signed",
    ),
    (
        "mutate",
        "p=0.3 rounds=3",
        "ByzzFuzz small-scope: a round field moved by one or an earlier value replayed, re-signed",
    ),
    (
        "replay",
        "p=0.1",
        "earlier messages re-sent later, possibly to other peers",
    ),
    (
        "impersonate",
        "p=0.2",
        "messages claiming a correct sender, signed with the traitor's own key",
    ),
    (
        "omit",
        "peers=1 types=",
        "selfish (BAR): never sends to some peers, or some message types (types=commit+prepare)",
    ),
    (
        "equivocate-sign",
        "",
        "conflicting, validly signed values (digest, value, ...) to half of the peers",
    ),
    (
        "equivocate-twins",
        "every=",
        "a second instance of each traitor (same id, key); peers split between the two, re-split every=5s",
    ),
    (
        "plugin",
        "PATH timeout=1s",
        "plugin:PATH: an executable speaking JSON lines (docs/writing-an-adversary.md)",
    ),
];

/// An `--adversary` value cut into its name and its parameters: `NAME[:PARAMS]`.
pub fn name_and_params(spec: &str) -> (&str, &str) {
    spec.split_once(':').unwrap_or((spec, ""))
}

/// A plugin's parameters cut into its path and its own options: `PATH[,timeout=1s]`.
pub fn plugin_path_and_options(params: &str) -> (&str, &str) {
    params.split_once(',').unwrap_or((params, ""))
}

/// Parses one `--adversary` value. Errors name the adversary or parameter and what is right.
pub fn parse(spec: &str) -> Result<Box<dyn Adversary>, String> {
    let (name, params) = name_and_params(spec);
    if name == "plugin" {
        return plugin(params);
    }
    let mut params = Params::parse(name, params)?;
    let adversary: Box<dyn Adversary> = match name {
        "corrupt" => Box::new(Corrupt {
            probability: params.probability("p", 0.2)?,
            bits: params.flag("bits")?,
        }),
        "mutate" => Box::new(Mutate::new(
            params.probability("p", 0.3)?,
            params.count("rounds", 3)?,
        )),
        "replay" => Box::new(Replay::new(
            params.probability("p", 0.1)?,
            params.flag("as_own")?,
        )),
        "impersonate" => Box::new(Impersonate {
            probability: params.probability("p", 0.2)?,
        }),
        "omit" => {
            let types = params.take("types").map(|t| {
                t.split('+')
                    .filter(|s| !s.is_empty())
                    .map(str::to_string)
                    .collect()
            });
            Box::new(Omit::new(
                params.count("peers", 1)?,
                types.unwrap_or_default(),
            ))
        }
        "equivocate-sign" => Box::new(EquivocateSign::new()),
        "equivocate-twins" => Box::new(EquivocateTwins {
            every: params.optional_duration("every")?,
        }),
        other => {
            let names: Vec<&str> = CATALOGUE
                .iter()
                .map(|(n, _, _)| *n)
                .filter(|n| *n != "plugin")
                .collect();
            return Err(format!(
                "unknown adversary {other:?}; built in: {}, or plugin:PATH",
                names.join(", ")
            ));
        }
    };
    params.finish()?;
    Ok(adversary)
}

/// `plugin:PATH[,timeout=1s]`: the path must name an executable file.
fn plugin(params: &str) -> Result<Box<dyn Adversary>, String> {
    let (path, params) = plugin_path_and_options(params);
    if path.is_empty() {
        return Err("plugin needs the path of an executable: plugin:PATH[,timeout=1s]".into());
    }
    let mut params = Params::parse("plugin", params)?;
    let limit = params.duration("timeout", DEFAULT_LIMIT)?;
    params.finish()?;
    let meta = std::fs::metadata(path).map_err(|e| {
        format!(
            "plugin:{path}: {e} (give the path of an executable, relative to where traitor runs)"
        )
    })?;
    if !meta.is_file() || !is_executable(&meta) {
        return Err(format!(
            "plugin:{path}: not an executable file (a script needs a #! line and chmod +x)"
        ));
    }
    Ok(Box::new(Plugin::new(Path::new(path), limit)))
}

#[cfg(unix)]
fn is_executable(meta: &std::fs::Metadata) -> bool {
    use std::os::unix::fs::PermissionsExt;
    meta.permissions().mode() & 0o111 != 0
}

#[cfg(not(unix))]
fn is_executable(_meta: &std::fs::Metadata) -> bool {
    true
}

struct Params {
    adversary: String,
    values: BTreeMap<String, String>,
}

impl Params {
    fn parse(adversary: &str, text: &str) -> Result<Self, String> {
        let mut values = BTreeMap::new();
        for pair in text.split(',').filter(|p| !p.is_empty()) {
            let (key, value) = pair.split_once('=').ok_or_else(|| {
                format!("adversary {adversary}: parameter {pair:?} must be key=value")
            })?;
            values.insert(key.to_string(), value.to_string());
        }
        Ok(Self {
            adversary: adversary.to_string(),
            values,
        })
    }

    fn take(&mut self, key: &str) -> Option<String> {
        self.values.remove(key)
    }

    fn probability(&mut self, key: &str, default: f64) -> Result<f64, String> {
        match self.take(key) {
            None => Ok(default),
            Some(v) => v
                .parse::<f64>()
                .ok()
                .filter(|p| (0.0..=1.0).contains(p))
                .ok_or_else(|| {
                    format!(
                        "adversary {}: {key}={v:?} must be a probability between 0 and 1",
                        self.adversary
                    )
                }),
        }
    }

    fn count(&mut self, key: &str, default: usize) -> Result<usize, String> {
        match self.take(key) {
            None => Ok(default),
            Some(v) => v.parse().map_err(|_| {
                format!(
                    "adversary {}: {key}={v:?} must be a whole number",
                    self.adversary
                )
            }),
        }
    }

    /// A positive duration up to a minute: `250ms`, `1s`, `1.5s`.
    fn duration(&mut self, key: &str, default: Duration) -> Result<Duration, String> {
        Ok(self.optional_duration(key)?.unwrap_or(default))
    }

    /// [`Params::duration`] without a default: `None` when not given.
    fn optional_duration(&mut self, key: &str) -> Result<Option<Duration>, String> {
        let Some(v) = self.take(key) else {
            return Ok(None);
        };
        let (number, unit) = match v.strip_suffix("ms") {
            Some(ms) => (ms, 1e-3),
            None => (v.strip_suffix('s').unwrap_or("?"), 1.0),
        };
        number
            .parse::<f64>()
            .ok()
            .map(|x| x * unit)
            .filter(|secs| *secs > 0.0 && *secs <= 60.0)
            .map(|secs| Some(Duration::from_secs_f64(secs)))
            .ok_or_else(|| {
                format!(
                    "adversary {}: {key}={v:?} must be a duration above 0 and at most 60s, like 500ms or 2s",
                    self.adversary
                )
            })
    }

    fn flag(&mut self, key: &str) -> Result<bool, String> {
        match self.take(key).as_deref() {
            None | Some("false") => Ok(false),
            Some("true") => Ok(true),
            Some(v) => Err(format!(
                "adversary {}: {key}={v:?} must be true or false",
                self.adversary
            )),
        }
    }

    fn finish(self) -> Result<(), String> {
        match self.values.keys().next() {
            None => Ok(()),
            Some(extra) => {
                let known = CATALOGUE
                    .iter()
                    .find(|(n, _, _)| *n == self.adversary)
                    .map_or("", |(_, p, _)| *p);
                Err(format!(
                    "adversary {}: unknown parameter {extra:?} (it takes: {known})",
                    self.adversary
                ))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_names_and_parameters() {
        assert_eq!(parse("corrupt:p=0.5,bits=true").unwrap().name(), "corrupt");
        assert_eq!(
            parse("omit:peers=2,types=commit+prepare").unwrap().name(),
            "omit"
        );
        for (name, _, _) in CATALOGUE.iter().filter(|(n, _, _)| *n != "plugin") {
            assert_eq!(parse(name).unwrap().name(), *name);
        }
    }

    #[test]
    fn errors_say_what_is_right() {
        let err = |s: &str| parse(s).err().unwrap();
        assert!(err("lie").contains("built in: corrupt"));
        assert!(err("corrupt:p=2").contains("between 0 and 1"));
        assert!(err("corrupt:q=1").contains("unknown parameter \"q\""));
        assert!(err("mutate:rounds").contains("key=value"));
        assert!(!err("lie").contains("plugin,"), "plugin is not a built-in");
        assert!(err("equivocate-twins:every=0s").contains("every=\"0s\""));
        assert!(err("equivocate-twins:every=5").contains("like 500ms or 2s"));
        assert!(err("equivocate-twins:p=1").contains("unknown parameter \"p\""));
    }

    #[test]
    fn twins_act_on_the_cluster_and_take_a_re_split_period() {
        let twins = parse("equivocate-twins:every=5s").unwrap();
        let schedule = twins.twins().expect("a cluster-level adversary");
        assert_eq!(schedule.every, Some(Duration::from_secs(5)));
        assert_eq!(
            parse("equivocate-twins").unwrap().twins().unwrap().every,
            None
        );
        assert!(parse("equivocate-sign").unwrap().twins().is_none());
    }

    #[test]
    fn plugins_need_an_executable_and_take_a_timeout() {
        let dir = tempfile::tempdir().unwrap();
        let script = dir.path().join("p.sh");
        std::fs::write(&script, "#!/bin/sh\n").unwrap();
        let spec = format!("plugin:{}", script.display());
        let err = |s: &str| parse(s).err().unwrap();
        assert!(err(&spec).contains("not an executable file"));
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
        assert_eq!(parse(&spec).unwrap().name(), spec);
        assert!(parse(&format!("{spec},timeout=250ms")).is_ok());
        assert!(err(&format!("{spec},timeout=0s")).contains("above 0"));
        assert!(err(&format!("{spec},timeout=1")).contains("like 500ms"));
        assert!(err(&format!("{spec},wait=1s")).contains("unknown parameter \"wait\""));
        assert!(err("plugin:").contains("needs the path"));
        assert!(err("plugin:/no/such/file").contains("No such file"));
    }
}
