//! `examples/plugins/python/backup_proposes.py`, driven message by message as the proxy
//! drives it (no cluster): the traitor (node 3) plants its own pre-prepare and prepare on
//! the victim (node 2) in place of its next messages, starves the next primary (node 1) of
//! its commit, stops answering fetches, and votes in the view change with a certificate
//! built from its pre-prepare, the victim's prepare and its own, all validly signed. When
//! the victim prepares the primary's request instead (a correct pbft), it tries again.

mod pbft_plugin;

use pbft_plugin::{cert, note, plugin, pre_prepare, request, send, signed, vote};
use serde_json::{json, Value};
use traitor_model::wire::Fate;

const TRAITOR: u32 = 3;
const VICTIM: u32 = 2;
const HOLDOUT: u32 = 1;

fn replacement(actions: &traitor_model::wire::Actions) -> serde_json::Map<String, Value> {
    pbft_plugin::replacement(actions, TRAITOR)
}

#[test]
fn the_traitor_plants_starves_and_votes_with_its_own_certificate() {
    let mut chain = plugin("backup_proposes.py", TRAITOR);
    // The primary proposes seq 1: the traitor picks a later seq t and its victim.
    let planned = send(&mut chain, 0, TRAITOR, &pre_prepare(0, 1, "d1", request(1)));
    assert_eq!(planned.fate, None);
    let plan = note(&planned);
    assert_eq!(
        (plan["victim"].clone(), plan["holdout"].clone()),
        (json!(VICTIM), json!(HOLDOUT))
    );
    let t = plan["seq"].as_u64().unwrap();
    assert!(t > 1, "a seq the primary has not used: {plan}");
    let y = plan["digest"].as_str().unwrap().to_string();

    // Its next two messages to the victim carry its pre-prepare and prepare of the earlier
    // request, in place of what it sent; the third goes through.
    let pp = replacement(&send(
        &mut chain,
        TRAITOR,
        VICTIM,
        &vote(TRAITOR, "prepare", 1, "d1"),
    ));
    assert_eq!(
        (
            &pp["type"],
            &pp["view"],
            &pp["seq"],
            &pp["digest"],
            &pp["request"]
        ),
        (
            &json!("pre-prepare"),
            &json!(0),
            &json!(t),
            &json!(y),
            &request(1)
        )
    );
    let prepare = replacement(&send(
        &mut chain,
        TRAITOR,
        VICTIM,
        &vote(TRAITOR, "commit", 1, "d1"),
    ));
    assert_eq!(
        (&prepare["type"], &prepare["seq"], &prepare["digest"]),
        (&json!("prepare"), &json!(t), &json!(y))
    );
    let honest = send(
        &mut chain,
        TRAITOR,
        VICTIM,
        &vote(TRAITOR, "prepare", 2, "d2"),
    );
    assert_eq!(honest.fate, None);

    // The buggy victim prepares the traitor's request: planted.
    let victim_prepare = vote(VICTIM, "prepare", t, &y);
    let planted = send(&mut chain, VICTIM, 0, &victim_prepare);
    assert_eq!(
        (planted.fate.clone(), note(&planted)["planted"].clone()),
        (None, json!(t))
    );

    // The primary's request X at t: the victim never hears the traitor's votes for it, the
    // holdout misses its commit, the primary gets everything.
    let x = "dx";
    for (kind, to, fate) in [
        ("prepare", VICTIM, Some(Fate::Drop)),
        ("commit", VICTIM, Some(Fate::Drop)),
        ("prepare", HOLDOUT, None),
        ("commit", HOLDOUT, Some(Fate::Drop)),
        ("prepare", 0, None),
        ("commit", 0, None),
    ] {
        let actions = send(&mut chain, TRAITOR, to, &vote(TRAITOR, kind, t, x));
        assert_eq!(actions.fate, fate, "{kind} of X at t to {to}");
    }
    let entries = signed(
        TRAITOR,
        json!({"type": "entries", "view": 0, "normal": true, "committed": 9, "entries": []}),
    );
    assert_eq!(
        send(&mut chain, TRAITOR, HOLDOUT, &entries).fate,
        Some(Fate::Drop)
    );

    // The first correct view-change for view 1: the traitor's own goes out in place of its
    // next message to each peer, a copy carrying the traitor's certificate for t.
    let other = cert(t - 1, "dw", 2, [1, 2]);
    let honest_cert = cert(t, x, 3, [1, 3]);
    let view_change = signed(
        HOLDOUT,
        json!({"type": "view-change", "new_view": 1, "stable_seq": 0, "stable_proof": [],
               "prepared": [other.clone(), honest_cert]}),
    );
    let seen = send(&mut chain, HOLDOUT, 0, &view_change);
    assert_eq!(
        (seen.fate.clone(), note(&seen)["view-change"].clone()),
        (None, json!(1))
    );
    let ours = replacement(&send(
        &mut chain,
        TRAITOR,
        HOLDOUT,
        &vote(TRAITOR, "commit", 3, "d3"),
    ));
    assert_eq!(
        (&ours["type"], &ours["new_view"]),
        (&json!("view-change"), &json!(1))
    );
    let prepared = ours["prepared"].as_array().unwrap();
    assert_eq!(prepared.len(), 2);
    assert_eq!(
        prepared[0], other,
        "the other certificates are copied as they are"
    );
    let forged = &prepared[1];
    assert_eq!(
        forged["pre_prepare"],
        Value::Object(pp),
        "its own pre-prepare of Y"
    );
    assert_eq!(
        forged["prepares"],
        json!([victim_prepare, Value::Object(prepare)]),
        "the victim's prepare, captured off the wire, and its own"
    );
    // Its honest view-change is dropped where its vote went, replaced where it is due.
    let own = signed(
        TRAITOR,
        json!({
            "type": "view-change", "new_view": 1, "stable_seq": 0, "stable_proof": [],
            "prepared": [],
        }),
    );
    assert_eq!(
        send(&mut chain, TRAITOR, HOLDOUT, &own).fate,
        Some(Fate::Drop)
    );
    assert_eq!(replacement(&send(&mut chain, TRAITOR, 0, &own)), ours);
}

#[test]
fn a_refused_plant_changes_nothing_more_and_is_tried_again_later() {
    let mut chain = plugin("backup_proposes.py", TRAITOR);
    let first = note(&send(
        &mut chain,
        0,
        TRAITOR,
        &pre_prepare(0, 1, "d1", request(1)),
    ));
    let t = first["seq"].as_u64().unwrap();
    replacement(&send(
        &mut chain,
        TRAITOR,
        VICTIM,
        &vote(TRAITOR, "prepare", 1, "d1"),
    ));
    replacement(&send(
        &mut chain,
        TRAITOR,
        VICTIM,
        &vote(TRAITOR, "commit", 1, "d1"),
    ));
    // A correct victim prepares the primary's request X at t.
    let refused = send(&mut chain, VICTIM, 0, &vote(VICTIM, "prepare", t, "dx"));
    assert_eq!(note(&refused)["refused"], json!(t));
    for (kind, to) in [
        ("commit", HOLDOUT),
        ("prepare", VICTIM),
        ("entries", HOLDOUT),
    ] {
        let message = vote(TRAITOR, kind, t, "dx");
        assert_eq!(
            send(&mut chain, TRAITOR, to, &message).fate,
            None,
            "{kind} to {to}"
        );
    }
    // The next proposal starts a new attempt on a later seq; in view 1 (primary 1) the
    // victim is still the highest correct backup, the holdout is node 0.
    let again = note(&send(
        &mut chain,
        1,
        0,
        &pre_prepare(1, 2, "d2", request(2)),
    ));
    assert_eq!(
        (
            &again["attempt"],
            &again["view"],
            &again["victim"],
            &again["holdout"]
        ),
        (&json!(2), &json!(1), &json!(VICTIM), &json!(0))
    );
    assert!(again["seq"].as_u64().unwrap() > t, "{again}");
    // View 2 ends that attempt and starts none: the traitor is the next primary.
    let skipped = send(&mut chain, 2, 0, &pre_prepare(2, 3, "d3", request(3)));
    assert_eq!(
        (skipped.fate, skipped.notes.len()),
        (None, 0),
        "no attempt in view 2"
    );
}
