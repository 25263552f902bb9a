//! Command line of `pbft-node` (the harness contract) and its validation into settings.

use std::net::SocketAddr;

use clap::Parser;

use crate::bug::Bug;
use crate::crypto::{parse_key_hex, ClientAuthority, Keyring};
use crate::replica::ReplicaConfig;

/// One PBFT replica serving the traitor node API.
#[derive(Debug, Parser)]
#[command(name = "pbft-node", version, about)]
pub struct Args {
    /// This replica's id, 0..n-1.
    #[arg(long)]
    pub id: u32,
    /// Number of replicas.
    #[arg(long)]
    pub n: usize,
    /// Faults tolerated; default (n-1)/3. Refused unless n >= 3f+1.
    #[arg(long)]
    pub f: Option<usize>,
    /// Address to accept peer connections on; its IP is also the source of outgoing ones.
    #[arg(long)]
    pub listen: SocketAddr,
    /// Address of the HTTP API.
    #[arg(long)]
    pub api: SocketAddr,
    /// Comma-separated ip:port of every replica in id order (own entry ignored).
    #[arg(long, value_delimiter = ',')]
    pub peers: Vec<SocketAddr>,
    /// This replica's ed25519 secret key seed, 64 hex characters.
    #[arg(long)]
    pub key: String,
    /// Comma-separated 64-hex public keys in id order.
    #[arg(long, value_delimiter = ',')]
    pub pubkeys: Vec<String>,
    /// Public key (64 hex) of the client authority; when given, `POST /ops` bodies and every
    /// request replicas order must carry its signature (`sig`).
    #[arg(long)]
    pub client_key: Option<String>,
    /// Run with a known bug (for measuring the harness).
    #[arg(long, value_enum)]
    pub bug: Option<Bug>,
    /// Sequence numbers between checkpoints (K).
    #[arg(long, default_value_t = 16)]
    pub checkpoint_interval: u64,
    /// Milliseconds a backup waits for a request before suspecting the primary.
    #[arg(long, default_value_t = 1000)]
    pub request_timeout_ms: u64,
}

/// Validated settings the node runs with.
pub struct Settings {
    pub config: ReplicaConfig,
    pub keys: Keyring,
    pub listen: SocketAddr,
    pub api: SocketAddr,
    pub peers: Vec<SocketAddr>,
    /// The authority `POST /ops` checks requests against; `None` without `--client-key` and
    /// with `skip-signature-check`, which verifies no signatures.
    pub client_authority: Option<ClientAuthority>,
}

impl Args {
    /// Checks the arguments against each other; the error names the flag and what is expected.
    pub fn validate(self) -> Result<Settings, String> {
        let n = self.n;
        if n == 0 {
            return Err("--n must be at least 1".into());
        }
        let f = self.f.unwrap_or((n - 1) / 3);
        if n < 3 * f + 1 {
            return Err(format!(
                "--n {n} is too small for --f {f}: PBFT needs n >= 3f+1 = {}",
                3 * f + 1
            ));
        }
        if self.id as usize >= n {
            return Err(format!("--id {} must be below --n {n}", self.id));
        }
        if self.peers.len() != n {
            return Err(format!(
                "--peers has {} entries, expected --n {n}",
                self.peers.len()
            ));
        }
        if self.pubkeys.len() != n {
            return Err(format!(
                "--pubkeys has {} entries, expected --n {n}",
                self.pubkeys.len()
            ));
        }
        if self.checkpoint_interval == 0 {
            return Err("--checkpoint-interval must be at least 1".into());
        }
        if self.request_timeout_ms == 0 {
            return Err("--request-timeout-ms must be at least 1".into());
        }
        let secret = parse_key_hex(&self.key).map_err(|e| format!("--key: {e}"))?;
        let public = self
            .pubkeys
            .iter()
            .enumerate()
            .map(|(i, k)| parse_key_hex(k).map_err(|e| format!("--pubkeys entry {i}: {e}")))
            .collect::<Result<Vec<_>, _>>()?;
        let keys =
            Keyring::new(self.id, &secret, &public).map_err(|e| format!("--pubkeys: {e}"))?;
        if !keys.owns_listed_key() {
            return Err(format!(
                "--key does not match entry {} of --pubkeys",
                self.id
            ));
        }
        let client_authority = self
            .client_key
            .as_deref()
            .map(|k| parse_key_hex(k).and_then(|bytes| ClientAuthority::from_bytes(&bytes)))
            .transpose()
            .map_err(|e| format!("--client-key: {e}"))?;
        let keys = match client_authority {
            Some(authority) => keys.with_client_authority(authority),
            None => keys,
        };
        let checks_signatures = self.bug != Some(Bug::SkipSignatureCheck);
        Ok(Settings {
            config: ReplicaConfig {
                id: self.id,
                n,
                f,
                checkpoint_interval: self.checkpoint_interval,
                request_timeout_ms: self.request_timeout_ms,
                tick_ms: (self.request_timeout_ms / 4).max(10),
                bug: self.bug,
            },
            keys,
            listen: self.listen,
            api: self.api,
            peers: self.peers,
            client_authority: client_authority.filter(|_| checks_signatures),
        })
    }
}
