//! The one place where the fate of a message is decided.
//!
//! Message-level Byzantine adversaries will hook in here: today a link's rule is the only
//! decider; later a chain of deciders sees the same [`Message`] and the first non-pass
//! answer wins (as tower layers do). Partitions are not decided here: they are a state of
//! the network, applied at delivery time to whatever is waiting.

use std::time::Duration;

use rand::rngs::StdRng;
use rand::RngExt;

use crate::links::LinkRule;
use crate::NodeId;

/// A message as the deciders see it.
pub(crate) struct Message<'a> {
    pub from: NodeId,
    pub to: NodeId,
    /// The whole frame as it travels (length prefix or newline included).
    pub bytes: &'a [u8],
    /// Whether the link has message boundaries; drop, duplicate and reorder need them.
    pub framed: bool,
}

/// What happens to one message.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Verdict {
    pub drop: bool,
    pub duplicate: bool,
    pub reorder: bool,
    /// Extra time before delivery (zero: deliver as soon as the link allows).
    pub delay: Duration,
}

/// Decides one message under `rule`, drawing from `rng` in a fixed order (drop, duplicate,
/// reorder, delay) and only for the rules that are set, so the same traffic under the
/// same rules and seed gives the same verdicts.
pub(crate) fn decide(rule: &LinkRule, rng: &mut StdRng, message: &Message<'_>) -> Verdict {
    let mut verdict = Verdict::default();
    if message.framed {
        verdict.drop = rule.drop > 0.0 && rng.random_bool(rule.drop);
        if verdict.drop {
            return verdict;
        }
        verdict.duplicate = rule.duplicate > 0.0 && rng.random_bool(rule.duplicate);
        verdict.reorder = rule.reorder > 0.0 && rng.random_bool(rule.reorder);
    }
    if let Some(delay) = rule.delay {
        let low = delay.mean.saturating_sub(delay.jitter);
        let high = delay.mean.saturating_add(delay.jitter);
        verdict.delay = if high > low {
            let nanos = rng.random_range(low.as_nanos() as u64..=high.as_nanos() as u64);
            Duration::from_nanos(nanos)
        } else {
            low
        };
    }
    tracing::trace!(
        from = message.from,
        to = message.to,
        size = message.bytes.len(),
        ?verdict,
        "proxy: message decided"
    );
    verdict
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::links::DelayRule;
    use rand::SeedableRng;

    fn message(framed: bool) -> Message<'static> {
        Message {
            from: 0,
            to: 1,
            bytes: b"\0\0\0\x02{}",
            framed,
        }
    }

    #[test]
    fn message_faults_apply_only_to_framed_links() {
        let rule = LinkRule {
            drop: 1.0,
            ..LinkRule::default()
        };
        let mut rng = StdRng::seed_from_u64(1);
        assert!(decide(&rule, &mut rng, &message(true)).drop);
        assert!(!decide(&rule, &mut rng, &message(false)).drop);
    }

    #[test]
    fn delays_stay_within_mean_plus_minus_jitter() {
        let rule = LinkRule {
            delay: Some(DelayRule {
                mean: Duration::from_millis(10),
                jitter: Duration::from_millis(4),
            }),
            ..LinkRule::default()
        };
        let mut rng = StdRng::seed_from_u64(2);
        let delays: Vec<Duration> = (0..1000)
            .map(|_| decide(&rule, &mut rng, &message(false)).delay)
            .collect();
        assert!(delays.iter().all(|d| (6..=14).contains(&d.as_millis())));
        assert!(
            delays.iter().any(|d| d.as_millis() < 8) && delays.iter().any(|d| d.as_millis() >= 12)
        );
    }

    #[test]
    fn same_seed_same_verdicts() {
        let rule = LinkRule {
            drop: 0.3,
            duplicate: 0.3,
            reorder: 0.3,
            ..LinkRule::default()
        };
        let run = |seed| {
            let mut rng = StdRng::seed_from_u64(seed);
            (0..200)
                .map(|_| decide(&rule, &mut rng, &message(true)))
                .collect::<Vec<_>>()
        };
        assert_eq!(run(9), run(9));
        assert_ne!(run(9), run(10));
    }
}
