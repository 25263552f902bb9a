//! The Rust example plugin run by the real plugin host: commits of the Byzantine node are
//! dropped and noted, everything else passes.

use rand::rngs::StdRng;
use rand::SeedableRng;
use traitor_adversaries::plugin::Plugin;
use traitor_adversaries::{Chain, RunInfo};
use traitor_model::wire::{Envelope, Fate};

#[test]
fn the_byzantine_node_never_sends_commits() {
    let plugin = Plugin::new(
        env!("CARGO_BIN_EXE_selfish-committer"),
        std::time::Duration::from_secs(1),
    );
    let run = RunInfo {
        n: 4,
        f: 1,
        byzantine: vec![2],
        keys: Default::default(),
    };
    let mut chain = Chain::start(vec![Box::new(plugin)], run, StdRng::seed_from_u64(0)).unwrap();
    let message = |from: u32, kind: &str| Envelope {
        from,
        to: 0,
        time: 5,
        payload: format!(r#"{{"from":{from},"type":"{kind}","view":0,"seq":1}}"#).into_bytes(),
    };
    let commit = chain.on_message(&message(2, "commit"));
    assert_eq!(commit.fate, Some(Fate::Drop));
    assert_eq!(commit.notes[0]["action"], "drop");
    assert_eq!(
        commit.notes[1]["detail"]["selfish"],
        "saved sending a commit"
    );
    assert_eq!(chain.on_message(&message(2, "prepare")), Default::default());
    assert_eq!(
        chain.on_message(&message(1, "commit")),
        Default::default(),
        "a correct node's commits pass"
    );
    assert_eq!(
        chain.on_tick(std::time::Duration::from_millis(100)),
        Default::default()
    );
}
