//! Loopback addresses for the process backend, one /24 of 127.0.0.0/8 per run, so runs side
//! by side (a campaign's parallel runs, a test beside a measurement) never share a node
//! address or port. A lease is a lock file in the system temp dir, created atomically; a
//! lock left by a killed run (its process gone) is taken over.

use crate::{ClusterError, Result};
use std::net::{IpAddr, Ipv4Addr};
use std::path::PathBuf;

/// Candidate /24s: 127.A.B.0 with A in 1..=250 (127.0.0.0/24 is left to everything else).
const CANDIDATES: u32 = 250 * 256;

/// One run's /24 of loopback, held until dropped.
#[derive(Debug)]
pub(crate) struct LoopbackLease {
    a: u8,
    b: u8,
    lock: PathBuf,
}

impl LoopbackLease {
    /// Leases a /24, starting the search at a place derived from `run_id`.
    pub fn take(run_id: &str) -> Result<Self> {
        let start = run_id.bytes().fold(0x811c_9dc5u32, |h, b| {
            (h ^ u32::from(b)).wrapping_mul(0x0100_0193)
        });
        for k in 0..CANDIDATES {
            let n = (start.wrapping_add(k)) % CANDIDATES;
            let (a, b) = ((1 + n / 256) as u8, (n % 256) as u8);
            let lock = std::env::temp_dir().join(format!("traitor-loopback-{a}-{b}.lock"));
            // A stale lock is removed once and the same /24 tried again.
            for _ in 0..2 {
                let created = std::fs::OpenOptions::new()
                    .write(true)
                    .create_new(true)
                    .open(&lock);
                match created {
                    Ok(_) => {
                        let pid = std::process::id().to_string();
                        std::fs::write(&lock, pid).map_err(|e| {
                            let what = format!("{}: {e}", lock.display());
                            ClusterError::new("leasing loopback addresses", what)
                        })?;
                        return Ok(Self { a, b, lock });
                    }
                    Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists && stale(&lock) => {
                        let _ = std::fs::remove_file(&lock);
                    }
                    Err(_) => break,
                }
            }
        }
        Err(ClusterError::new(
            "leasing loopback addresses",
            "every 127.A.B.0/24 is taken by another run",
        ))
    }

    /// The address of host `host` in this /24.
    pub fn ip(&self, host: u8) -> IpAddr {
        IpAddr::V4(Ipv4Addr::new(127, self.a, self.b, host))
    }
}

impl Drop for LoopbackLease {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.lock);
    }
}

/// A lock whose writer process is gone.
fn stale(lock: &std::path::Path) -> bool {
    std::fs::read_to_string(lock)
        .ok()
        .and_then(|pid| pid.trim().parse::<u32>().ok())
        .is_some_and(|pid| !std::path::Path::new(&format!("/proc/{pid}")).exists())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn two_leases_never_share_a_subnet() {
        let a = LoopbackLease::take("run-x").unwrap();
        let b = LoopbackLease::take("run-x").unwrap();
        assert_ne!(a.ip(10), b.ip(10));
        let again = a.ip(10);
        drop(a);
        let c = LoopbackLease::take("run-x").unwrap();
        assert_eq!(c.ip(10), again, "a released lease is free again");
    }

    #[test]
    fn a_dead_runs_lease_is_taken_over() {
        let a = LoopbackLease::take("run-dead").unwrap();
        std::fs::write(&a.lock, "4000000000").unwrap();
        let ip = a.ip(10);
        std::mem::forget(a);
        let b = LoopbackLease::take("run-dead").unwrap();
        assert_eq!(b.ip(10), ip);
    }
}
