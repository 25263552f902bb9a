//! Each known-bug variant broken by a scripted traitor, and the same scenario holding without the bug.

use generals_node::general::{Algo, Bug};
use generals_node::messages::Plan::{Attack, Retreat};

use crate::sim::{run_one, Scenario, Verdict};
use crate::traitors::{Forger, TwoFacedCommander};

/// SM(1), four generals, loyal commander ordering attack; lieutenant 3 forges the
/// commander's "retreat" to lieutenant 1.
fn forged_order(bug: Option<Bug>) -> Verdict {
    let mut scenario = Scenario::new(4, Algo::Sm, 1, 4).with_traitor(
        3,
        Forger {
            victim: 1,
            value: Retreat,
            commander: 0,
            done: false,
        },
    );
    scenario.bug = bug;
    run_one(scenario, Attack)
}

#[test]
fn sm_skip_signature_check_violates_agreement_and_validity() {
    let broken = forged_order(Some(Bug::SmSkipSignatureCheck));
    assert!(!broken.agreement, "agreement: {broken:?}");
    assert!(!broken.validity, "validity: {broken:?}");
    assert_eq!(
        broken.decisions[1],
        Some(Retreat),
        "the victim believed the forgery"
    );

    let correct = forged_order(None);
    assert!(correct.holds(), "{correct:?}");
}

/// OM(1), four generals, a commander ordering attack to 1 and 2 and retreat to 3.
fn two_faced(bug: Option<Bug>) -> Verdict {
    let mut scenario = Scenario::new(4, Algo::Om, 1, 6).with_traitor(
        0,
        TwoFacedCommander {
            attack_to: vec![1, 2],
            silent_to: vec![],
        },
    );
    scenario.bug = bug;
    run_one(scenario, Attack)
}

#[test]
fn om_too_few_rounds_violates_agreement() {
    let broken = two_faced(Some(Bug::OmTooFewRounds));
    assert!(!broken.agreement, "agreement: {broken:?}");
    assert_eq!(broken.decisions[3], Some(Retreat));

    let correct = two_faced(None);
    assert!(correct.holds(), "{correct:?}");
    assert_eq!(correct.decisions[1..], [Some(Attack); 3]);
}

#[test]
fn om_too_few_rounds_with_scenario_builder() {
    let verdict = run_one(
        Scenario::new(4, Algo::Om, 1, 6).with_bug(Bug::OmTooFewRounds),
        Attack,
    );
    assert!(
        verdict.holds(),
        "with no traitor even OM(0) works: {verdict:?}"
    );
}
