//! OM(1): four generals tolerate one traitor; three do not.

use generals_node::general::Algo;
use generals_node::messages::Plan::{self, Attack, Retreat};

use crate::sim::{run_one, Scenario};
use crate::traitors::{Strategy, TwoFacedCommander};

const LIEUTENANT_STRATEGIES: [Strategy; 5] = [
    Strategy::Flip,
    Strategy::SplitByParity,
    Strategy::Silent,
    Strategy::Random,
    Strategy::Chaos,
];

#[test]
fn om1_four_generals_loyal_lieutenants_obey_a_loyal_commander_despite_a_traitor() {
    for traitor in 1..4 {
        for strategy in LIEUTENANT_STRATEGIES {
            for (seed, order) in [(1, Attack), (2, Retreat), (3, Attack)] {
                let scenario = Scenario::new(4, Algo::Om, 1, seed).with_traitor(traitor, strategy);
                let verdict = run_one(scenario, order);
                assert!(
                    verdict.holds(),
                    "traitor {traitor} {strategy:?} seed {seed} order {order:?}: {verdict:?}"
                );
                for (g, decision) in verdict.decisions.iter().enumerate() {
                    if g as u32 != traitor {
                        assert_eq!(*decision, Some(order), "general {g} must obey");
                    }
                }
            }
        }
    }
}

#[test]
fn om1_four_generals_loyal_lieutenants_agree_under_a_traitorous_commander() {
    let two_faced = |attack_to: Vec<u32>, silent_to: Vec<u32>| TwoFacedCommander {
        attack_to,
        silent_to,
    };
    let commanders = [
        (
            "parity",
            Scenario::new(4, Algo::Om, 1, 7).with_traitor(0, Strategy::SplitByParity),
        ),
        (
            "random",
            Scenario::new(4, Algo::Om, 1, 8).with_traitor(0, Strategy::Random),
        ),
        (
            "chaos",
            Scenario::new(4, Algo::Om, 1, 9).with_traitor(0, Strategy::Chaos),
        ),
        (
            "two-faced, silent to 3",
            Scenario::new(4, Algo::Om, 1, 10).with_traitor(0, two_faced(vec![1], vec![3])),
        ),
        (
            "two-faced, attack to two",
            Scenario::new(4, Algo::Om, 1, 11).with_traitor(0, two_faced(vec![1, 2], vec![])),
        ),
    ];
    for (name, scenario) in commanders {
        let verdict = run_one(scenario, Attack);
        assert!(
            verdict.agreement && verdict.termination,
            "{name}: {verdict:?}"
        );
    }
}

/// Lamport's three-general argument: with a loyal commander ordering "attack" and a
/// lieutenant lying "retreat", lieutenant 1 sees {attack from the commander, retreat from 2}
/// -- exactly what it sees when the commander is the traitor and 2 is loyal -- so it cannot
/// both obey a loyal commander and agree with a loyal 2. OM(1) with n = 3 <= 3m breaks.
#[test]
fn om1_three_generals_one_liar_breaks_validity() {
    let lying_lieutenant = Scenario::new(3, Algo::Om, 1, 1).with_traitor(2, Strategy::Flip);
    let verdict = run_one(lying_lieutenant, Attack);
    assert!(!verdict.validity, "validity must be violated: {verdict:?}");
    assert_eq!(
        verdict.decisions[0],
        Some(Attack),
        "the loyal commander decides its order"
    );
    assert_eq!(
        verdict.decisions[1],
        Some(Retreat),
        "the loyal lieutenant does not"
    );

    let two_faced_commander = Scenario::new(3, Algo::Om, 1, 1).with_traitor(
        0,
        TwoFacedCommander {
            attack_to: vec![1],
            silent_to: vec![],
        },
    );
    let other_world = run_one(two_faced_commander, Attack);
    assert_eq!(
        other_world.decisions[1], verdict.decisions[1],
        "lieutenant 1 cannot tell the two worlds apart"
    );
}

#[test]
fn om1_with_all_loyal_decides_fast_without_waiting_for_round_ends() {
    let mut sim = crate::sim::Sim::new(Scenario::new(4, Algo::Om, 1, 5));
    sim.order(Plan::Attack);
    sim.run();
    assert_eq!(sim.decisions(0), vec![Some(Attack); 4]);
    assert_eq!(sim.delivered, 3 + 3 * 2, "n-1 orders and (n-1)(n-2) relays");
    assert!(sim.rejections.is_empty(), "{:?}", sim.rejections);
}
