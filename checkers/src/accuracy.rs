//! Can the answer be trusted? Each campaign run carries what theory expects of every checker
//! (from the variant's `violates`, its declared exposing faults and the fault budget); the
//! recorded verdict is judged against it, and over a campaign each checker gets a confusion
//! matrix: expected and found, expected and missed, found but not expected, neither.

use crate::verdict::Validity;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// What one checker is expected to answer on one run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Expect {
    /// A correct target within its fault budget: the property must hold.
    Holds,
    /// A known bug under a fault declared able to expose it: the property should break.
    Violated,
    /// Theory promises nothing (outside the budget, or a bug without an exposing fault).
    Either,
}

/// Everything a run is expected to show, with the reason in words.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Expectation {
    /// Per checker (agreement, validity, termination, linearizability).
    pub checks: BTreeMap<String, Expect>,
    /// The run counts as caught when any checker expected `Violated` finds a violation.
    pub caught_expected: bool,
    pub reason: String,
}

/// The facts expectations are derived from.
#[derive(Clone, Debug, Default)]
pub struct RunFacts<'a> {
    /// The variant's `violates`; `None` for the correct code.
    pub violates: Option<&'a [String]>,
    /// The variant declares itself outside the fault budget (a violation is theory).
    pub fault_budget_exceeded: bool,
    /// One of the run's faults is declared able to expose the variant.
    pub exposed: bool,
    /// r <= f: safety must hold for correct code.
    pub safety_expected: bool,
    /// u + r <= f: liveness must hold for correct code.
    pub liveness_expected: bool,
    /// Termination is held to theory; when false (a campaign's `expect_liveness = false`)
    /// it is reported but promises nothing.
    pub liveness_gated: bool,
    /// The checkers the run's target is judged by.
    pub checkers: &'a [&'a str],
}

/// Safety properties; every other checker (termination) is liveness.
const SAFETY: [&str; 3] = ["agreement", "validity", "linearizability"];

impl Expectation {
    /// Derives the expectation of every checker from the facts of one run.
    ///
    /// - Correct code, or a variant that declares no violation (a configuration that must
    ///   hold), within budget: safety holds; liveness holds while u + r <= f.
    /// - A variant with `violates` under an exposing fault: those properties should break;
    ///   the others promise nothing (a buggy node may break them too).
    /// - Otherwise (outside the budget, or no exposing fault): nothing is promised.
    pub fn derive(facts: &RunFacts) -> Self {
        let bug = facts.violates.filter(|v| !v.is_empty());
        let must_hold = bug.is_none() && !facts.fault_budget_exceeded;
        // A variant declaring `violates = []` is a configuration its authors say is safe
        // (SM(m) tolerates any number of traitors): its safety does not depend on r <= f.
        let declared_safe = facts.violates.is_some_and(<[String]>::is_empty);
        let safety_promised = facts.safety_expected || declared_safe;
        let mut checks = BTreeMap::new();
        for &checker in facts.checkers {
            let safety = SAFETY.contains(&checker);
            let expect = match bug {
                Some(violates) if facts.exposed && violates.iter().any(|p| p == checker) => {
                    Expect::Violated
                }
                Some(_) => Expect::Either,
                None if must_hold && safety && safety_promised => Expect::Holds,
                None if must_hold && !safety && facts.liveness_expected && facts.liveness_gated => {
                    Expect::Holds
                }
                None => Expect::Either,
            };
            checks.insert(checker.to_string(), expect);
        }
        let caught_expected = checks.values().any(|e| *e == Expect::Violated);
        let reason = match (bug, facts.exposed) {
            (Some(v), true) => format!(
                "known bug exposed by its faults: {} should break",
                v.join(" or ")
            ),
            (Some(_), false) => {
                "known bug, but no fault declared able to expose it: nothing promised".into()
            }
            (None, _) if facts.fault_budget_exceeded => {
                "outside the fault budget: nothing promised".into()
            }
            (None, _) if !safety_promised => {
                "r > f: outside the fault budget, nothing promised".into()
            }
            (None, _) if !facts.liveness_gated => {
                "safety must hold; termination is reported, not gated (expect_liveness = false)"
                    .into()
            }
            (None, _) if !facts.liveness_expected => {
                "r <= f: safety must hold; u + r > f, so liveness is not promised".into()
            }
            (None, _) => "within the fault budget: safety and liveness must hold".into(),
        };
        Self {
            checks,
            caught_expected,
            reason,
        }
    }
}

/// How a run came out against its expectation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Outcome {
    /// Everything expected was found, nothing unexpected.
    AsExpected,
    /// A known bug was expected to be caught and no expected property broke.
    FalseNegative,
    /// A property that must hold was reported violated.
    FalsePositive,
    /// A property that must hold could not be decided (unknown is not a pass).
    Undecided,
    /// The run did not finish (a harness or environment failure): no verdict to judge.
    Error,
}

impl Outcome {
    /// The word used in tables and JUnit.
    pub fn word(self) -> &'static str {
        match self {
            Outcome::AsExpected => "as expected",
            Outcome::FalseNegative => "FALSE NEGATIVE",
            Outcome::FalsePositive => "FALSE POSITIVE",
            Outcome::Undecided => "UNDECIDED",
            Outcome::Error => "ERROR",
        }
    }
}

/// Judges a finished run's verdict (checker -> answer) against its expectation.
pub fn judge(expectation: &Expectation, found: &BTreeMap<String, Validity>) -> Outcome {
    let answer = |checker: &str| found.get(checker).copied().unwrap_or(Validity::Unknown);
    let must_hold = || {
        expectation
            .checks
            .iter()
            .filter(|(_, e)| **e == Expect::Holds)
    };
    if must_hold().any(|(c, _)| answer(c) == Validity::Violated) {
        return Outcome::FalsePositive;
    }
    if must_hold().any(|(c, _)| answer(c) == Validity::Unknown) {
        return Outcome::Undecided;
    }
    let caught = expectation
        .checks
        .iter()
        .any(|(c, e)| *e == Expect::Violated && answer(c) == Validity::Violated);
    if expectation.caught_expected && !caught {
        return Outcome::FalseNegative;
    }
    Outcome::AsExpected
}

/// One checker's results over a campaign, against expectations.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Confusion {
    /// Expected to break, and found violated.
    pub expected_found: u32,
    /// Expected to break, found holding or undecided.
    pub expected_missed: u32,
    /// Expected to hold, found violated.
    pub unexpected_found: u32,
    /// Expected to hold, and held.
    pub neither: u32,
    /// Expected to hold, undecided.
    pub undecided: u32,
    /// Nothing promised: violated (a finding theory allows).
    pub free_found: u32,
    /// Nothing promised: held or undecided.
    pub free_quiet: u32,
}

impl Confusion {
    /// Adds one run's (expected, found) pair.
    pub fn add(&mut self, expect: Expect, found: Validity) {
        let cell = match (expect, found) {
            (Expect::Violated, Validity::Violated) => &mut self.expected_found,
            (Expect::Violated, _) => &mut self.expected_missed,
            (Expect::Holds, Validity::Violated) => &mut self.unexpected_found,
            (Expect::Holds, Validity::Holds) => &mut self.neither,
            (Expect::Holds, Validity::Unknown) => &mut self.undecided,
            (Expect::Either, Validity::Violated) => &mut self.free_found,
            (Expect::Either, _) => &mut self.free_quiet,
        };
        *cell += 1;
    }

    /// Of the violations expected, the share found; `None` when none was expected.
    pub fn recall(&self) -> Option<f64> {
        ratio(
            self.expected_found,
            self.expected_found + self.expected_missed,
        )
    }

    /// Of the runs that had to hold, the share wrongly reported violated.
    pub fn false_positive_rate(&self) -> Option<f64> {
        ratio(
            self.unexpected_found,
            self.unexpected_found + self.neither + self.undecided,
        )
    }
}

/// `num / den`, or `None` for an empty denominator.
pub fn ratio(num: u32, den: u32) -> Option<f64> {
    (den > 0).then(|| f64::from(num) / f64::from(den))
}

/// Per checker, the confusion matrix over every judged run (errors have no verdict and are
/// left out).
pub fn confusion<'a>(
    runs: impl IntoIterator<Item = (&'a Expectation, &'a BTreeMap<String, Validity>)>,
) -> BTreeMap<String, Confusion> {
    let mut out: BTreeMap<String, Confusion> = BTreeMap::new();
    for (expectation, found) in runs {
        for (checker, expect) in &expectation.checks {
            let answer = found.get(checker).copied().unwrap_or(Validity::Unknown);
            out.entry(checker.clone()).or_default().add(*expect, answer);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const CHECKERS: [&str; 4] = ["agreement", "linearizability", "termination", "validity"];

    fn facts(violates: Option<&[String]>) -> RunFacts<'_> {
        RunFacts {
            violates,
            fault_budget_exceeded: false,
            exposed: true,
            safety_expected: true,
            liveness_expected: true,
            liveness_gated: true,
            checkers: &CHECKERS,
        }
    }

    fn found(pairs: &[(&str, Validity)]) -> BTreeMap<String, Validity> {
        let mut all: BTreeMap<String, Validity> = CHECKERS
            .iter()
            .map(|c| (c.to_string(), Validity::Holds))
            .collect();
        for (c, v) in pairs {
            all.insert(c.to_string(), *v);
        }
        all
    }

    #[test]
    fn correct_code_within_budget_must_hold_everything() {
        let e = Expectation::derive(&facts(None));
        assert!(e.checks.values().all(|x| *x == Expect::Holds));
        assert!(!e.caught_expected);
        assert_eq!(judge(&e, &found(&[])), Outcome::AsExpected);
        assert_eq!(
            judge(&e, &found(&[("agreement", Validity::Violated)])),
            Outcome::FalsePositive
        );
        assert_eq!(
            judge(&e, &found(&[("termination", Validity::Unknown)])),
            Outcome::Undecided
        );
    }

    #[test]
    fn liveness_is_not_promised_beyond_u_plus_r() {
        let mut f = facts(None);
        f.liveness_expected = false;
        let e = Expectation::derive(&f);
        assert_eq!(e.checks["termination"], Expect::Either);
        assert_eq!(e.checks["agreement"], Expect::Holds);
        assert_eq!(
            judge(&e, &found(&[("termination", Validity::Violated)])),
            Outcome::AsExpected
        );
    }

    #[test]
    fn outside_the_safety_budget_nothing_is_promised() {
        let mut f = facts(None);
        f.safety_expected = false;
        f.liveness_expected = false;
        let e = Expectation::derive(&f);
        assert!(e.checks.values().all(|x| *x == Expect::Either));
        assert_eq!(
            judge(&e, &found(&[("agreement", Validity::Violated)])),
            Outcome::AsExpected
        );
    }

    #[test]
    fn an_exposed_bug_is_caught_by_any_property_it_declares() {
        let violates = vec!["agreement".to_string(), "linearizability".to_string()];
        let e = Expectation::derive(&facts(Some(&violates)));
        assert!(e.caught_expected);
        assert_eq!(e.checks["agreement"], Expect::Violated);
        assert_eq!(e.checks["validity"], Expect::Either);
        assert_eq!(judge(&e, &found(&[])), Outcome::FalseNegative);
        assert_eq!(
            judge(&e, &found(&[("linearizability", Validity::Violated)])),
            Outcome::AsExpected
        );
        // A property the bug does not declare breaking is not what catches it.
        assert_eq!(
            judge(&e, &found(&[("validity", Validity::Violated)])),
            Outcome::FalseNegative
        );
    }

    #[test]
    fn an_unexposed_bug_promises_nothing() {
        let violates = vec!["agreement".to_string()];
        let mut f = facts(Some(&violates));
        f.exposed = false;
        let e = Expectation::derive(&f);
        assert!(!e.caught_expected);
        assert!(e.checks.values().all(|x| *x == Expect::Either));
        assert_eq!(judge(&e, &found(&[])), Outcome::AsExpected);
    }

    #[test]
    fn a_configuration_with_no_declared_violation_must_hold_even_beyond_f() {
        // SM(m) with more traitors than (n-1)/3: the variant declares `violates = []`.
        let none: Vec<String> = Vec::new();
        let mut f = facts(Some(&none));
        f.safety_expected = false;
        f.liveness_expected = false;
        let e = Expectation::derive(&f);
        assert_eq!(e.checks["agreement"], Expect::Holds);
        assert_eq!(e.checks["termination"], Expect::Either);
        // The correct code in the same configuration has no such declaration.
        let mut f = facts(None);
        f.safety_expected = false;
        assert_eq!(Expectation::derive(&f).checks["agreement"], Expect::Either);
    }

    #[test]
    fn confusion_counts_each_cell() {
        let violates = vec!["agreement".to_string()];
        let bug = Expectation::derive(&facts(Some(&violates)));
        let correct = Expectation::derive(&facts(None));
        let caught = found(&[("agreement", Validity::Violated)]);
        let clean = found(&[]);
        let wrong = found(&[("agreement", Validity::Violated)]);
        let m = confusion([
            (&bug, &caught),
            (&bug, &clean),
            (&correct, &clean),
            (&correct, &wrong),
        ]);
        let a = m["agreement"];
        assert_eq!(
            (
                a.expected_found,
                a.expected_missed,
                a.unexpected_found,
                a.neither
            ),
            (1, 1, 1, 1)
        );
        assert_eq!(a.recall(), Some(0.5));
        assert_eq!(a.false_positive_rate(), Some(0.5));
        assert_eq!(m["validity"].free_quiet, 2);
        assert_eq!(m["validity"].neither, 2);
    }
}
