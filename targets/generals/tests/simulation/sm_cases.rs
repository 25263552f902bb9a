//! SM(m): signatures let three generals tolerate one traitor.

use generals_node::general::Algo;
use generals_node::messages::Plan::{Attack, Retreat};

use crate::sim::{run_one, Scenario, Sim};
use crate::traitors::{Strategy, TwoFacedCommander};

#[test]
fn sm1_three_generals_agree_under_a_two_faced_commander() {
    for seed in 0..4 {
        let scenario = Scenario::new(3, Algo::Sm, 1, seed).with_traitor(
            0,
            TwoFacedCommander {
                attack_to: vec![1],
                silent_to: vec![],
            },
        );
        let verdict = run_one(scenario, Attack);
        assert!(verdict.holds(), "seed {seed}: {verdict:?}");
        assert_eq!(
            verdict.decisions[1],
            Some(Retreat),
            "V = {{attack, retreat}} gives the default"
        );
    }
}

#[test]
fn sm1_three_generals_agree_when_the_commander_skips_one() {
    let scenario = Scenario::new(3, Algo::Sm, 1, 3).with_traitor(
        0,
        TwoFacedCommander {
            attack_to: vec![1, 2],
            silent_to: vec![2],
        },
    );
    let verdict = run_one(scenario, Attack);
    assert!(verdict.holds(), "{verdict:?}");
    assert_eq!(
        verdict.decisions[2],
        Some(Attack),
        "2 learns the signed order from 1"
    );
}

#[test]
fn sm1_three_generals_a_lying_lieutenant_is_caught_by_the_signature() {
    let mut sim = Sim::new(Scenario::new(3, Algo::Sm, 1, 2).with_traitor(2, Strategy::Flip));
    sim.order(Attack);
    sim.run();
    let verdict = sim.verdict(0, Attack);
    assert!(verdict.holds(), "{verdict:?}");
    assert!(
        sim.rejections
            .iter()
            .any(|(g, r)| *g == 1 && r.reason.contains("bad signature")),
        "the altered order is refused: {:?}",
        sim.rejections
    );
}

#[test]
fn sm_default_m_tolerates_many_traitors() {
    // n = 6, SM(4): four traitorous lieutenants, one loyal lieutenant, loyal commander.
    for seed in 0..3 {
        let mut scenario = Scenario::new(6, Algo::Sm, 4, seed);
        for traitor in 2..6 {
            scenario = scenario.with_traitor(traitor, Strategy::Chaos);
        }
        let verdict = run_one(scenario, Attack);
        assert!(verdict.holds(), "seed {seed}: {verdict:?}");
    }
    // n = 6, SM(4): a two-faced commander and three chaotic lieutenants.
    for seed in 0..3 {
        let mut scenario = Scenario::new(6, Algo::Sm, 4, seed).with_traitor(
            0,
            TwoFacedCommander {
                attack_to: vec![1, 3],
                silent_to: vec![5],
            },
        );
        for traitor in [2, 4, 5] {
            scenario = scenario.with_traitor(traitor, Strategy::Chaos);
        }
        let verdict = run_one(scenario, Attack);
        assert!(
            verdict.agreement && verdict.termination,
            "seed {seed}: {verdict:?}"
        );
    }
}
