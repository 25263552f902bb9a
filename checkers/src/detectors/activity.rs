//! Messages counted over time, and stretches in which one sender (or one link) stays silent
//! while its peers talk: the shared sensor of the crash and muteness detectors.
//!
//! Silence alone proves nothing (a cluster with no work is quiet); silence while the other
//! nodes keep sending is what a crashed, frozen or mute node looks like from outside.

use super::Observed;
use std::collections::BTreeMap;
use traitor_model::NodeId;

/// The width of one counting bin.
pub const BIN_NS: u64 = 100_000_000;

/// How long one sender must stay silent, while its peers talk, to be suspected: longer
/// than any pause of a busy correct node (retransmission timers, a slow disk), short
/// enough to see a crash of a few seconds.
pub const SILENCE_NS: u64 = 2_000_000_000;

/// Messages per bin, summed so any window's count is one subtraction.
#[derive(Clone, Debug)]
pub struct Counts {
    /// `prefix[i]`: messages in bins `0..i`.
    prefix: Vec<u32>,
}

impl Counts {
    /// Counts the messages at `times` over bins `0..bins`; later times are left out.
    pub fn new(times: impl Iterator<Item = u64>, bins: usize) -> Self {
        let mut per_bin = vec![0u32; bins];
        for t in times {
            if let Some(bin) = per_bin.get_mut((t / BIN_NS) as usize) {
                *bin += 1;
            }
        }
        let mut prefix = Vec::with_capacity(bins + 1);
        prefix.push(0);
        for c in per_bin {
            prefix.push(prefix.last().copied().unwrap_or(0) + c);
        }
        Self { prefix }
    }

    /// Messages in bins `from..to`.
    pub fn window(&self, from: usize, to: usize) -> u32 {
        let at = |i: usize| self.prefix[i.min(self.prefix.len() - 1)];
        at(to) - at(from)
    }
}

/// One stretch of silence.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Silence {
    /// The start of its first silent window.
    pub from: u64,
    /// The end of its last silent window.
    pub until: u64,
    /// When an observer could first tell: the end of the first silent window.
    pub known: u64,
}

/// Where silence can be judged on one run: from the time most nodes have spoken (before,
/// nodes are still starting) to the end of the trace, in bins.
#[derive(Clone, Copy, Debug)]
pub struct Span {
    pub start: usize,
    pub end: usize,
}

impl Span {
    /// The span of `observed`; `None` when fewer than two nodes ever spoke.
    pub fn of(observed: &Observed) -> Option<Self> {
        let mut first_seen: Vec<u64> = observed
            .nodes
            .iter()
            .filter_map(|&n| {
                observed
                    .sent
                    .iter()
                    .find(|s| s.from == n)
                    .map(|s| s.line.time)
            })
            .collect();
        first_seen.sort_unstable();
        let majority = observed.nodes.len() / 2 + 1;
        if first_seen.len() < majority.max(2) {
            return None;
        }
        Some(Span {
            start: (first_seen[majority.max(2) - 1] / BIN_NS) as usize + 1,
            end: (observed.trace_end() / BIN_NS) as usize,
        })
    }

    /// Bins to count over.
    pub fn bins(&self) -> usize {
        self.end + 1
    }
}

/// What each node sent (to anyone) over the span.
pub fn by_sender(observed: &Observed, span: Span) -> BTreeMap<NodeId, Counts> {
    let mut times: BTreeMap<NodeId, Vec<u64>> =
        observed.nodes.iter().map(|&n| (n, Vec::new())).collect();
    for s in &observed.sent {
        times.entry(s.from).or_default().push(s.line.time);
    }
    times
        .into_iter()
        .map(|(n, t)| (n, Counts::new(t.into_iter(), span.bins())))
        .collect()
}

/// The stretches in which `quiet` sent nothing for [`SILENCE_NS`] while at least `needed` of
/// `talkers` sent something in each half of the same window, and so did `alive` when given
/// (a receiver that is itself down is owed nothing). Both halves: a peer that only comes
/// back (or is only reconnected to) at the end of the window was not talking throughout.
pub fn silences(
    quiet: &Counts,
    talkers: &[Counts],
    needed: usize,
    alive: Option<&Counts>,
    span: Span,
) -> Vec<Silence> {
    let width = (SILENCE_NS / BIN_NS) as usize;
    let mut found: Vec<Silence> = Vec::new();
    let mut open = false;
    for end in (span.start + width)..=span.end {
        let from = end - width;
        let mid = from + width / 2;
        let throughout = |c: &Counts| c.window(from, mid) > 0 && c.window(mid, end) > 0;
        let silent = quiet.window(from, end) == 0
            && alive.is_none_or(throughout)
            && talkers.iter().filter(|t| throughout(t)).count() >= needed.max(1);
        let end_ns = end as u64 * BIN_NS;
        match (silent, open, found.last_mut()) {
            (true, true, Some(last)) => last.until = end_ns,
            (true, _, _) => found.push(Silence {
                from: from as u64 * BIN_NS,
                until: end_ns,
                known: end_ns,
            }),
            (false, _, _) => {}
        }
        open = silent || (open && quiet.window(end - 1, end) == 0);
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    fn every(step_ms: u64, from_ms: u64, to_ms: u64) -> Vec<u64> {
        (from_ms..to_ms)
            .step_by(step_ms as usize)
            .map(|ms| ms * 1_000_000)
            .collect()
    }

    #[test]
    fn a_silence_among_talkers_is_found_once_and_known_after_the_window() {
        let bins = 100;
        let quiet: Vec<u64> = every(50, 0, 3000)
            .into_iter()
            .chain(every(50, 7000, 10_000))
            .collect();
        let quiet = Counts::new(quiet.into_iter(), bins);
        let talkers = vec![Counts::new(every(50, 0, 10_000).into_iter(), bins)];
        let span = Span { start: 1, end: 99 };
        let found = silences(&quiet, &talkers, 1, None, span);
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0].from, 3_000_000_000);
        assert_eq!(found[0].known, 5_000_000_000);
        assert_eq!(found[0].until, 7_000_000_000);
    }

    #[test]
    fn silence_toward_a_receiver_that_is_down_is_no_silence() {
        let bins = 100;
        let quiet = Counts::new(every(50, 0, 1000).into_iter(), bins);
        let talkers = vec![Counts::new(every(50, 0, 10_000).into_iter(), bins)];
        let down = Counts::new(every(50, 0, 1000).into_iter(), bins);
        let span = Span { start: 1, end: 99 };
        assert!(silences(&quiet, &talkers, 1, Some(&down), span).is_empty());
        assert_eq!(
            silences(&quiet, &talkers, 1, Some(&talkers[0]), span).len(),
            1
        );
    }

    #[test]
    fn everyone_quiet_is_no_silence() {
        let bins = 100;
        let quiet = Counts::new(every(50, 0, 1000).into_iter(), bins);
        let talkers = vec![Counts::new(every(50, 0, 1000).into_iter(), bins)];
        assert!(silences(&quiet, &talkers, 1, None, Span { start: 1, end: 99 }).is_empty());
    }
}
