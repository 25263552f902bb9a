//! Time and memory limits for a check, after which the honest answer is "unknown", and how
//! far a check goes once its verdict is known.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// Limits shared by every search of one check (keys are searched in parallel, so memory is
/// counted across them). The memory limit bounds the whole process: what it held when the
/// check began (measured) plus what the searches hold (counted as allocated).
#[derive(Debug)]
pub struct Budget {
    deadline: Instant,
    time_limit: Duration,
    max_bytes: usize,
    /// Resident memory of the process when the check began.
    resident_bytes: AtomicUsize,
    used_bytes: AtomicUsize,
    every_key: bool,
}

/// Why a search stopped before an answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Exhausted(pub String);

impl Budget {
    /// A budget starting now.
    pub fn new(time_limit: Duration, max_bytes: usize) -> Self {
        Self {
            deadline: Instant::now() + time_limit,
            time_limit,
            max_bytes,
            resident_bytes: AtomicUsize::new(0),
            used_bytes: AtomicUsize::new(0),
            every_key: false,
        }
    }

    /// Decides every key even once one is violated (`--all-keys`): for a user who wants to
    /// know which keys hold, at the cost of searches that cannot change the verdict.
    pub fn deciding_every_key(mut self) -> Self {
        self.every_key = true;
        self
    }

    /// Whether every key is decided, or the check stops at the first violation.
    pub fn every_key(&self) -> bool {
        self.every_key
    }

    /// Fails once the time limit has passed.
    pub fn check_time(&self) -> Result<(), Exhausted> {
        if Instant::now() > self.deadline {
            return Err(Exhausted(format!(
                "time budget of {:.1} s spent before the search finished",
                self.time_limit.as_secs_f64()
            )));
        }
        Ok(())
    }

    /// Measures what the process holds now (the history read, the program): the searches
    /// get the rest of the limit. Where it cannot be measured, it counts as nothing.
    pub fn measure_resident(&self) {
        self.resident_bytes
            .store(resident_bytes().unwrap_or(0), Ordering::Relaxed);
    }

    /// Records `bytes` more held by a search; fails when the process would pass the limit.
    /// A failed charge is not recorded.
    pub fn charge(&self, bytes: usize) -> Result<(), Exhausted> {
        let used = self.used_bytes.fetch_add(bytes, Ordering::Relaxed) + bytes;
        let resident = self.resident_bytes.load(Ordering::Relaxed);
        if resident + used > self.max_bytes {
            self.used_bytes.fetch_sub(bytes, Ordering::Relaxed);
            return Err(Exhausted(format!(
                "memory limit of {} MiB spent before the search finished (the process held {} MiB \
                 when the check began; the searches needed more than the remaining {} MiB)",
                self.max_bytes >> 20,
                resident >> 20,
                self.max_bytes.saturating_sub(resident) >> 20
            )));
        }
        Ok(())
    }

    /// Gives back memory charged by a search that has freed it.
    pub fn release(&self, bytes: usize) {
        self.used_bytes.fetch_sub(bytes, Ordering::Relaxed);
    }
}

impl Default for Budget {
    /// 60 s and 1 GiB: enough for a million-op multi-key history, bounded for a pathological one.
    fn default() -> Self {
        Self::new(Duration::from_secs(60), 1 << 30)
    }
}

/// What a heap allocation of `bytes` costs the process: the allocator's header and
/// alignment on top (glibc: 8 bytes of header, 16-byte granules, 32 bytes at least).
pub fn allocated(bytes: usize) -> usize {
    if bytes == 0 {
        0
    } else {
        (bytes + 8).next_multiple_of(16).max(32)
    }
}

/// The process's resident memory (VmRSS), where /proc tells it.
fn resident_bytes() -> Option<usize> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kib: usize = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib << 10)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failed_charge_is_not_kept() {
        let budget = Budget::new(Duration::from_secs(1), 1000);
        assert!(budget.charge(600).is_ok());
        assert!(budget.charge(600).is_err());
        assert!(budget.charge(400).is_ok(), "the failed 600 was given back");
        budget.release(1000);
        assert!(budget.charge(1000).is_ok());
    }

    #[test]
    #[cfg(target_os = "linux")]
    fn what_the_process_holds_counts_against_the_limit() {
        let budget = Budget::new(Duration::from_secs(1), 1 << 40);
        budget.measure_resident();
        // A test process holds more than a few bytes.
        let resident = budget.resident_bytes.load(Ordering::Relaxed);
        assert!(resident > 0);
        assert!(budget.charge((1 << 40) - resident + 1).is_err());
    }

    #[test]
    fn allocations_cost_their_header_and_granule() {
        assert_eq!(allocated(0), 0);
        assert_eq!(allocated(1), 32);
        assert_eq!(allocated(24), 32);
        assert_eq!(allocated(25), 48);
    }
}
