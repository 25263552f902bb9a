//! The command line: the harness contract's flags plus the generals' own, checked up front
//! so a bad value ends with a message naming the flag and exit code 2.

use std::net::SocketAddr;

use clap::error::ErrorKind;
use clap::{CommandFactory, Parser, ValueEnum};
use generals_node::general::{Algo, Bug, Config};
use generals_node::signing::Keyring;

/// `--algo` values.
#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum AlgoArg {
    /// Oral messages OM(m).
    Om,
    /// Signed messages SM(m).
    Sm,
}

/// `--bug` values: deliberate bugs for measuring the harness.
#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum BugArg {
    /// SM without verifying the signature chain.
    SmSkipSignatureCheck,
    /// OM running m rounds instead of m + 1.
    OmTooFewRounds,
}

/// A Byzantine generals node (Lamport's OM(m) and SM(m)) speaking the traitor node API.
/// The generals' own flags may be repeated, the last one winning, so a variant's args
/// can override the base args of target.toml.
#[derive(Debug, Parser)]
#[command(name = "generals-node", version)]
pub struct Args {
    /// This general's id, 0..n-1.
    #[arg(long)]
    pub id: u32,
    /// Number of generals.
    #[arg(long)]
    pub n: u32,
    /// Address to accept peer connections on (ip:port).
    #[arg(long)]
    pub listen: SocketAddr,
    /// Address of the HTTP API (ip:port).
    #[arg(long)]
    pub api: SocketAddr,
    /// Comma-separated ip:port of every general in id order (own entry ignored).
    #[arg(long, value_delimiter = ',', required = true)]
    pub peers: Vec<SocketAddr>,
    /// This general's ed25519 secret seed, 64 hex characters.
    #[arg(long, value_parser = parse_key)]
    pub key: [u8; 32],
    /// Comma-separated ed25519 public keys (64 hex characters each) in id order.
    #[arg(long, value_delimiter = ',', value_parser = parse_key, required = true)]
    pub pubkeys: Vec<[u8; 32]>,
    /// Which algorithm to run.
    #[arg(long, value_enum, default_value = "om", overrides_with = "algo")]
    pub algo: AlgoArg,
    /// Traitors to tolerate (default: the largest m with n > 3m for om, n - 2 for sm, at least 1).
    #[arg(long, overrides_with = "m")]
    pub m: Option<usize>,
    /// Length of a round in milliseconds; a message missing at its round's end counts as RETREAT.
    #[arg(long, default_value_t = 300, overrides_with = "round_ms")]
    pub round_ms: u64,
    /// Id of the commanding general.
    #[arg(long, default_value_t = 0, overrides_with = "commander")]
    pub commander: u32,
    /// Run with a known bug (for measuring the harness).
    #[arg(long, value_enum, overrides_with = "bug")]
    pub bug: Option<BugArg>,
}

fn parse_key(text: &str) -> Result<[u8; 32], String> {
    hex::decode(text)
        .ok()
        .and_then(|bytes| bytes.try_into().ok())
        .ok_or_else(|| "expected 64 hex characters (a 32-byte ed25519 key)".to_string())
}

fn usage_error(message: String) -> ! {
    Args::command()
        .error(ErrorKind::ValueValidation, message)
        .exit()
}

impl Args {
    /// Checks the flags against each other and builds the core's configuration and keys;
    /// exits with code 2 and a message naming the flag on any inconsistency.
    pub fn validate(&self) -> (Config, Keyring) {
        let n = self.n;
        if n < 3 {
            usage_error(format!(
                "--n {n}: at least 3 generals are needed (a commander and two lieutenants)"
            ));
        }
        if self.id >= n {
            usage_error(format!("--id {}: must be below --n {n}", self.id));
        }
        if self.commander >= n {
            usage_error(format!(
                "--commander {}: must be below --n {n}",
                self.commander
            ));
        }
        if self.peers.len() != n as usize {
            usage_error(format!(
                "--peers: {} addresses given, --n {n} needs exactly {n}",
                self.peers.len()
            ));
        }
        if self.pubkeys.len() != n as usize {
            usage_error(format!(
                "--pubkeys: {} keys given, --n {n} needs exactly {n}",
                self.pubkeys.len()
            ));
        }
        if self.round_ms == 0 {
            usage_error("--round-ms: must be at least 1".into());
        }
        let algo = match self.algo {
            AlgoArg::Om => Algo::Om,
            AlgoArg::Sm => Algo::Sm,
        };
        let m = self.m.unwrap_or_else(|| Config::default_m(algo, n));
        if m == 0 || m as u32 + 2 > n {
            usage_error(format!("--m {m}: must be between 1 and n - 2 = {}", n - 2));
        }
        let bug = match (self.bug, algo) {
            (None, _) => None,
            (Some(BugArg::SmSkipSignatureCheck), Algo::Sm) => Some(Bug::SmSkipSignatureCheck),
            (Some(BugArg::OmTooFewRounds), Algo::Om) => Some(Bug::OmTooFewRounds),
            (Some(BugArg::SmSkipSignatureCheck), Algo::Om) => {
                usage_error("--bug sm-skip-signature-check: needs --algo sm".into())
            }
            (Some(BugArg::OmTooFewRounds), Algo::Sm) => {
                usage_error("--bug om-too-few-rounds: needs --algo om".into())
            }
        };
        let keys = Keyring::new(self.id, self.key, &self.pubkeys)
            .unwrap_or_else(|e| usage_error(format!("--key/--pubkeys: {e}")));
        let config = Config {
            id: self.id,
            n,
            commander: self.commander,
            algo,
            m,
            round_ms: self.round_ms,
            bug,
        };
        (config, keys)
    }
}
