//! Time and memory limits for a search, after which the honest answer is "unknown".

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// Limits shared by every search of one check (keys are searched in parallel, so memory is
/// counted across them).
#[derive(Debug)]
pub struct Budget {
    deadline: Instant,
    time_limit: Duration,
    max_bytes: usize,
    used_bytes: AtomicUsize,
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
            used_bytes: AtomicUsize::new(0),
        }
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

    /// Records `bytes` more memoised state; fails when the total would pass the limit.
    pub fn charge(&self, bytes: usize) -> Result<(), Exhausted> {
        let total = self.used_bytes.fetch_add(bytes, Ordering::Relaxed) + bytes;
        if total > self.max_bytes {
            return Err(Exhausted(format!(
                "memory budget of {} MiB for memoised search states spent before the search finished",
                self.max_bytes >> 20
            )));
        }
        Ok(())
    }

    /// Gives back memory charged by a search that has ended.
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
