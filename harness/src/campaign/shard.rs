//! Shards: one campaign spread over machines that do not talk to each other (a CI matrix,
//! a Kubernetes Indexed Job). Shard K of N takes the runs whose id hashes to K-1 modulo
//! N, so every run lands in exactly one shard, the same one on every machine and on every
//! resume, and adding seeds never moves a run to another shard. `traitor campaign merge`
//! puts the shards' folders back together.

use serde::{Deserialize, Serialize};
use std::str::FromStr;

/// Kubernetes sets this in each pod of an Indexed Job: the pod's index, from 0.
pub const INDEX_VARIABLE: &str = "JOB_COMPLETION_INDEX";
/// How many shards there are, for `--shard-from-env` (the Job's `completions`).
pub const COUNT_VARIABLE: &str = "TRAITOR_SHARD_COUNT";

/// Shard `index` (from 1) of `count`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Shard {
    pub index: u32,
    pub count: u32,
}

impl FromStr for Shard {
    type Err = String;

    /// `K/N`, with 1 <= K <= N.
    fn from_str(text: &str) -> Result<Self, String> {
        let bad = || format!("{text:?}: expected K/N, shard K of N with 1 <= K <= N (e.g. 2/3)");
        let (index, count) = text.split_once('/').ok_or_else(bad)?;
        let shard = Shard {
            index: index.trim().parse().map_err(|_| bad())?,
            count: count.trim().parse().map_err(|_| bad())?,
        };
        if shard.index == 0 || shard.index > shard.count {
            return Err(bad());
        }
        Ok(shard)
    }
}

impl std::fmt::Display for Shard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

impl Shard {
    /// The shard a Kubernetes Indexed Job pod runs: `JOB_COMPLETION_INDEX` (from 0) and
    /// `TRAITOR_SHARD_COUNT`.
    pub fn from_env(read: impl Fn(&str) -> Option<String>) -> Result<Self, String> {
        let value = |name: &str| {
            read(name).ok_or_else(|| {
                format!(
                    "--shard-from-env: {name} is not set (an Indexed Job sets \
                     {INDEX_VARIABLE}; set {COUNT_VARIABLE} to its completions)"
                )
            })
        };
        let index: u32 = value(INDEX_VARIABLE)?
            .trim()
            .parse()
            .map_err(|_| format!("--shard-from-env: {INDEX_VARIABLE} is not a number from 0"))?;
        format!("{}/{}", index + 1, value(COUNT_VARIABLE)?.trim())
            .parse()
            .map_err(|e| format!("--shard-from-env: {e}"))
    }

    /// Whether the run `id` belongs to this shard.
    pub fn holds(&self, id: &str) -> bool {
        fnv1a(id.as_bytes()) % u64::from(self.count) == u64::from(self.index - 1)
    }
}

/// FNV-1a, 64 bits: a hash that is the same on every machine and every Rust version.
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, &b| {
        (hash ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

/// What a shard's folder records about itself (`shard.json`), so that a merge can check
/// the shards belong together.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ShardRecord {
    pub shard: Shard,
    pub traitor_version: String,
    /// The ids of the runs this shard holds.
    pub runs: Vec<String>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn parses_k_of_n_and_names_what_is_wrong() {
        assert_eq!("2/3".parse(), Ok(Shard { index: 2, count: 3 }));
        for bad in ["0/3", "4/3", "3", "a/b", "1/0"] {
            assert!(bad.parse::<Shard>().unwrap_err().contains("K/N"), "{bad}");
        }
        let env = |name: &str| match name {
            INDEX_VARIABLE => Some("0".to_string()),
            COUNT_VARIABLE => Some("3".to_string()),
            _ => None,
        };
        assert_eq!(Shard::from_env(env), Ok(Shard { index: 1, count: 3 }));
        let err = Shard::from_env(|_| None).unwrap_err();
        assert!(err.contains(INDEX_VARIABLE), "{err}");
    }

    proptest! {
        #[test]
        fn every_run_is_in_exactly_one_shard(ids in prop::collection::vec("[a-z0-9-]{1,40}", 1..50), count in 1u32..8) {
            for id in &ids {
                let holders = (1..=count).filter(|&index| Shard { index, count }.holds(id)).count();
                prop_assert_eq!(holders, 1);
            }
        }
    }
}
