//! The sizes of seed 002: OM(3) holds with 10 generals and 3 traitors, breaks with 9.

use std::time::Instant;

use generals_node::general::Algo;
use generals_node::messages::GeneralId;
use generals_node::messages::Plan::Attack;

use crate::sim::{run_one, Scenario, Sim, Verdict};
use crate::traitors::{Garbler, Strategy};

fn om3(n: u32, traitors: [GeneralId; 3], strategy: Strategy, seed: u64) -> Verdict {
    let mut scenario = Scenario::new(n, Algo::Om, 3, seed);
    for traitor in traitors {
        scenario = scenario.with_traitor(traitor, strategy);
    }
    run_one(scenario, Attack)
}

#[test]
fn om3_ten_generals_three_traitors_hold() {
    let started = Instant::now();
    let cases: [([GeneralId; 3], Strategy, u64); 6] = [
        ([3, 4, 7], Strategy::SplitByParity, 1),
        ([3, 4, 7], Strategy::Random, 2),
        ([0, 4, 7], Strategy::SplitByParity, 3),
        ([0, 1, 2], Strategy::Chaos, 4),
        ([1, 5, 9], Strategy::SplitByHalf(10), 5),
        ([0, 8, 9], Strategy::Random, 6),
    ];
    for (traitors, strategy, seed) in cases {
        let verdict = om3(10, traitors, strategy, seed);
        assert!(
            verdict.holds(),
            "traitors {traitors:?} {strategy:?} seed {seed}: {verdict:?}"
        );
    }
    eprintln!(
        "OM(3), n = 10: {} runs in {:?}",
        cases.len(),
        started.elapsed()
    );
}

/// What `equivocate-sign` does at instance 0 (invalid values to half of each traitor's
/// peers) is only missing messages to OM: the loyal generals must agree and obey.
#[test]
fn om3_ten_generals_hold_when_three_traitors_send_invalid_values() {
    for (traitors, seed) in [
        ([3, 4, 7], 1),
        ([0, 4, 7], 2),
        ([0, 1, 2], 3),
        ([1, 5, 9], 4),
    ] {
        let mut scenario = Scenario::new(10, Algo::Om, 3, seed);
        for traitor in traitors {
            let garbled_to = (0..10).filter(|g| (g + traitor) % 2 == 0).collect();
            scenario = scenario.with_traitor(traitor, Garbler { garbled_to });
        }
        let mut sim = Sim::new(scenario);
        sim.order(Attack);
        sim.run();
        let verdict = sim.verdict(0, Attack);
        assert!(verdict.holds(), "traitors {traitors:?}: {verdict:?}");
        assert!(
            sim.rejections
                .iter()
                .any(|(_, r)| r.reason.contains("attack~")),
            "the invalid values reached the generals"
        );
    }
}

#[test]
fn om3_nine_generals_three_traitors_break() {
    let started = Instant::now();
    let attempts: [([GeneralId; 3], Strategy, u64); 4] = [
        ([3, 4, 7], Strategy::SplitByParity, 1),
        ([3, 4, 7], Strategy::Flip, 1),
        ([0, 4, 7], Strategy::SplitByParity, 2),
        ([1, 2, 3], Strategy::SplitByHalf(9), 3),
    ];
    let broken: Vec<_> = attempts
        .iter()
        .map(|&(traitors, strategy, seed)| (traitors, strategy, om3(9, traitors, strategy, seed)))
        .filter(|(_, _, verdict)| !verdict.holds())
        .collect();
    eprintln!(
        "OM(3), n = 9: {} runs in {:?}",
        attempts.len(),
        started.elapsed()
    );
    for (traitors, strategy, verdict) in &broken {
        eprintln!(
            "  broken by {traitors:?} {strategy:?}: {:?}",
            verdict.decisions
        );
    }
    assert!(
        broken.iter().any(|(traitors, _, _)| *traitors == [3, 4, 7]),
        "n = 9 <= 3m: seed 002's traitors 3, 4, 7 must break OM(3)"
    );
}
