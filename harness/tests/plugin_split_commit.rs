//! `examples/plugins/python/split_commit.py`, driven message by message as the proxy drives
//! it (no cluster): the traitor (node 2) sends its prepares and commits to the victim
//! (node 3) only, leaves out of its view-change the certificate of the lowest seq no other
//! correct replica was seen committing (re-signed, the rest kept as they are), and never
//! leads a view.

mod pbft_plugin;

use pbft_plugin::{cert, note, plugin, pre_prepare, replacement, request, send, signed, vote};
use serde_json::{json, Value};
use traitor_model::wire::Fate;

const TRAITOR: u32 = 2;
const VICTIM: u32 = 3;

fn view_change(prepared: Vec<Value>) -> Value {
    signed(
        TRAITOR,
        json!({"type": "view-change", "new_view": 1, "stable_seq": 0, "stable_proof": [],
               "prepared": prepared}),
    )
}

#[test]
fn the_traitor_votes_for_the_victim_only_and_forgets_what_the_victim_committed_alone() {
    let mut chain = plugin("split_commit.py", TRAITOR);
    for kind in ["prepare", "commit"] {
        for (to, fate) in [(0, Some(Fate::Drop)), (1, Some(Fate::Drop)), (VICTIM, None)] {
            let actions = send(&mut chain, TRAITOR, to, &vote(TRAITOR, kind, 1, "d1"));
            assert_eq!(actions.fate, fate, "its {kind} to {to}");
        }
    }
    // Everything else it sends goes through.
    let proposal = pre_prepare(2, 5, "d5", request(5));
    assert_eq!(send(&mut chain, TRAITOR, 0, &proposal).fate, None);

    // Node 1 commits seq 1; only the victim commits seq 2.
    assert_eq!(
        send(&mut chain, 1, 0, &vote(1, "commit", 1, "d1")).fate,
        None
    );
    send(&mut chain, VICTIM, 0, &vote(VICTIM, "commit", 2, "d2"));

    let certs = vec![
        cert(1, "d1", 1, [1, TRAITOR]),
        cert(2, "d2", 2, [1, TRAITOR]),
        cert(3, "d3", 3, [1, TRAITOR]),
    ];
    let honest = view_change(certs.clone());
    let to_0 = send(&mut chain, TRAITOR, 0, &honest);
    assert_eq!(
        note(&to_0),
        json!({"view-change": 1, "forgot": 2, "kept": [1, 3]})
    );
    let lie = replacement(&to_0, TRAITOR);
    assert_eq!(
        lie["prepared"],
        json!([certs[0], certs[2]]),
        "seq 2's certificate left out, the others kept as they are"
    );
    for field in ["type", "new_view", "stable_seq", "stable_proof"] {
        assert_eq!(lie[field], honest[field], "{field} kept");
    }
    // Every peer gets the same lie.
    for to in [1, VICTIM] {
        assert_eq!(
            replacement(&send(&mut chain, TRAITOR, to, &honest), TRAITOR),
            lie
        );
    }

    // As the next primary it declines to lead.
    let new_view = signed(
        TRAITOR,
        json!({"type": "new-view", "view": 2, "view_changes": [], "pre_prepares": []}),
    );
    assert_eq!(
        send(&mut chain, TRAITOR, 0, &new_view).fate,
        Some(Fate::Drop)
    );
}

#[test]
fn a_view_change_with_nothing_the_victim_committed_alone_goes_out_as_it_is() {
    let mut chain = plugin("split_commit.py", TRAITOR);
    send(&mut chain, 0, 1, &vote(0, "commit", 1, "d1"));
    let honest = view_change(vec![cert(1, "d1", 1, [1, TRAITOR])]);
    let actions = send(&mut chain, TRAITOR, 1, &honest);
    assert_eq!((note(&actions), actions.fate), (Value::Null, None));
}
