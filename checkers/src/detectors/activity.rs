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

/// Bins of a day: a trace whose times claim more (a damaged or hostile `trace.jsonl`) is
/// judged over its first day, so the per-bin counts stay small.
const MAX_BINS: usize = 24 * 3600 * 10;

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
            end: usize::try_from(observed.trace_end() / BIN_NS)
                .unwrap_or(MAX_BINS)
                .min(MAX_BINS),
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

/// Per directed link, the times of messages that left the sender and were held by a
/// partition on the way.
pub fn held(observed: &Observed) -> BTreeMap<(NodeId, NodeId), Vec<u64>> {
    let mut out: BTreeMap<(NodeId, NodeId), Vec<u64>> = BTreeMap::new();
    for s in observed.sent.iter().filter(|s| !s.line.reached()) {
        out.entry((s.from, s.to)).or_default().push(s.line.time);
    }
    out
}

/// Who must be talking while a sender stays silent for it to count as a silence.
#[derive(Clone, Copy, Debug)]
pub struct Company<'a> {
    /// Nodes (or links) whose activity is compared with the silent one.
    pub talkers: &'a [Counts],
    /// How many of them must talk in the window.
    pub needed: usize,
    /// Someone who must talk too: a receiver that is itself down is owed nothing.
    pub alive: Option<&'a Counts>,
    /// Messages held by a partition on their way to the silent one, which must be none: a
    /// node cut off hears nothing and may have nothing to say.
    pub cut: Option<&'a Counts>,
}

/// The stretches in which `quiet` sent nothing for [`SILENCE_NS`] while its `company` talked
/// throughout: in each half of the window. A peer that only comes back (or is reconnected
/// to) at the end of the window, or a cluster going idle at its start, is not talking
/// throughout.
pub fn silences(quiet: &Counts, company: Company<'_>, span: Span) -> Vec<Silence> {
    let width = (SILENCE_NS / BIN_NS) as usize;
    let mut found: Vec<Silence> = Vec::new();
    let mut open = false;
    for end in (span.start + width)..=span.end {
        let from = end - width;
        let mid = from + width / 2;
        let talking = |c: &Counts| c.window(from, mid) > 0 && c.window(mid, end) > 0;
        let silent = quiet.window(from, end) == 0
            && company.alive.is_none_or(talking)
            && company.cut.is_none_or(|c| c.window(from, end) == 0)
            && company.talkers.iter().filter(|t| talking(t)).count() >= company.needed.max(1);
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

    fn every(step_ms: u64, from_ms: u64, to_ms: u64) -> Counts {
        let times = (from_ms..to_ms)
            .step_by(step_ms as usize)
            .map(|ms| ms * 1_000_000);
        Counts::new(times, 100)
    }

    const SPAN: Span = Span { start: 1, end: 99 };

    #[test]
    fn a_trace_claiming_the_end_of_time_is_judged_over_a_day() {
        use crate::detectors::testing::{chatter, line, observed};
        let mut trace = chatter(4, 0, 1000);
        trace.push(line(u64::MAX, 1, 2, "commit", 99, "ff"));
        let span = Span::of(&observed(4, trace, Vec::new())).unwrap();
        assert_eq!(span.bins(), MAX_BINS + 1);
    }

    fn company(talkers: &[Counts], alive: Option<&Counts>) -> Vec<Silence> {
        let quiet = every(50, 0, 1000);
        let company = Company {
            talkers,
            needed: 1,
            alive,
            cut: None,
        };
        silences(&quiet, company, SPAN)
    }

    #[test]
    fn a_silence_among_talkers_is_found_once_and_known_after_the_window() {
        let quiet = Counts::new(
            (0..3000)
                .step_by(50)
                .chain((7000..10_000).step_by(50))
                .map(|ms| ms * 1_000_000),
            100,
        );
        let talkers = [every(50, 0, 10_000)];
        let company = Company {
            talkers: &talkers,
            needed: 1,
            alive: None,
            cut: None,
        };
        let found = silences(&quiet, company, SPAN);
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0].from, 3_000_000_000);
        assert_eq!(found[0].known, 5_000_000_000);
        assert_eq!(found[0].until, 7_000_000_000);
    }

    #[test]
    fn silence_toward_a_receiver_that_is_down_is_no_silence() {
        let talkers = [every(50, 0, 10_000)];
        let down = every(50, 0, 1000);
        assert!(company(&talkers, Some(&down)).is_empty());
        assert_eq!(company(&talkers, Some(&talkers[0])).len(), 1);
    }

    #[test]
    fn talking_throughout_means_in_both_halves_of_the_window() {
        // The talker falls quiet at 1.5 s: windows after it talk in one half at most.
        assert!(company(&[every(50, 0, 1500)], None).is_empty());
        assert_eq!(company(&[every(50, 0, 3500)], None).len(), 1);
    }

    #[test]
    fn a_node_cut_off_is_not_silent() {
        let talkers = [every(50, 0, 10_000)];
        let held = every(500, 0, 10_000);
        let company = Company {
            talkers: &talkers,
            needed: 1,
            alive: None,
            cut: Some(&held),
        };
        assert!(silences(&every(50, 0, 1000), company, SPAN).is_empty());
    }

    #[test]
    fn everyone_quiet_is_no_silence() {
        assert!(company(&[every(50, 0, 1000)], None).is_empty());
    }
}
