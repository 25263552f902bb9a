//! Plugins as real child processes: their actions applied, and every way a plugin can fail
//! (hanging, crashing, answering garbage) reported as fatal within the time limit.

use ed25519_dalek::{Signature, SigningKey, Verifier};
use rand::rngs::StdRng;
use rand::SeedableRng;
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};
use tempfile::TempDir;
use traitor_adversaries::canonical::signed_bytes;
use traitor_adversaries::plugin::Plugin;
use traitor_adversaries::{Chain, RunInfo};
use traitor_model::wire::{Envelope, Fate, Injection};

const LIMIT: Duration = Duration::from_secs(1);

fn key() -> SigningKey {
    SigningKey::from_bytes(&[3; 32])
}

/// Four nodes; node 0 (the pbft primary of view 0) is Byzantine.
fn run() -> RunInfo {
    RunInfo {
        n: 4,
        f: 1,
        byzantine: vec![0],
        keys: [(0, key())].into(),
    }
}

fn examples() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/plugins/python")
}

fn chain(path: &Path) -> Result<Chain, String> {
    Chain::start(
        vec![Box::new(Plugin::new(path, LIMIT))],
        run(),
        StdRng::seed_from_u64(1),
    )
}

/// An executable Python script in a fresh folder.
fn script(body: &str) -> (TempDir, PathBuf) {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("plugin.py");
    let text = format!("#!/usr/bin/env python3\nimport json, sys\n{body}");
    std::fs::write(&path, text).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    (dir, path)
}

/// A plugin that greets, then answers each request with `answer(request)`.
fn answering(answer: &str) -> (TempDir, PathBuf) {
    script(&format!(
        "def answer(r):\n    {answer}\n\
         for line in sys.stdin:\n    r = json.loads(line)\n    \
         a = {{'ok': True}} if r['type'] == 'hello' else answer(r)\n    \
         sys.stdout.write(a if isinstance(a, str) else json.dumps(a))\n    \
         sys.stdout.write('\\n')\n    sys.stdout.flush()\n"
    ))
}

fn envelope(from: u32, to: u32, payload: Value) -> Envelope {
    Envelope {
        from,
        to,
        time: 1_000,
        payload: payload.to_string().into_bytes(),
    }
}

/// A pbft pre-prepare signed by node 0, ordering the client's request `req` at `seq`.
fn pre_prepare(seq: u64, req: u64) -> Value {
    let request = json!({"client": "c1", "req": req, "op": {"f": "write", "key": "k", "value": 5}});
    let Value::Object(mut m) = json!({"from": 0, "type": "pre-prepare", "view": 0, "seq": seq, "digest": "d", "request": request, "sig": ""})
    else {
        unreachable!()
    };
    traitor_adversaries::canonical::resign(&mut m, 0, &run());
    Value::Object(m)
}

/// The fatal error of the chain's answer to a message from node 0, and how long it took.
fn fatal_of(chain: &mut Chain) -> (String, Duration) {
    let asked = Instant::now();
    let actions = chain.on_message(&envelope(0, 1, json!({"type": "prepare"})));
    let fatal = actions.fatal.expect("the plugin's failure is fatal");
    (fatal, asked.elapsed())
}

#[test]
fn the_python_example_signs_a_conflicting_pre_prepare_for_its_victim() {
    let mut chain = chain(&examples().join("equivocating_primary.py")).unwrap();
    // The first pre-prepare reaches everyone unchanged: there is no earlier request to lie with.
    let first = pre_prepare(1, 1);
    assert_eq!(
        chain.on_message(&envelope(0, 3, first.clone())),
        Default::default(),
        "nothing to lie with yet"
    );
    let honest = pre_prepare(2, 2);
    let to_one = chain.on_message(&envelope(0, 1, honest.clone()));
    assert_eq!(to_one, Default::default(), "replica 1 hears the truth");
    let to_three = chain.on_message(&envelope(0, 3, honest.clone()));
    assert_eq!(to_three.fatal, None);
    let Some(Fate::Replace { payload }) = to_three.fate else {
        panic!("the victim's pre-prepare is replaced: {to_three:?}")
    };
    let Value::Object(lie) = serde_json::from_slice::<Value>(&payload).unwrap() else {
        panic!("the replacement is a JSON object")
    };
    assert_eq!((&lie["view"], &lie["seq"]), (&json!(0), &json!(2)));
    assert_eq!(
        lie["request"], first["request"],
        "the victim is told the earlier, client-signed request"
    );
    assert_ne!(lie["digest"], honest["digest"]);
    let sig = hex::decode(lie["sig"].as_str().unwrap()).unwrap();
    let sig = Signature::from_slice(&sig).unwrap();
    assert!(
        key()
            .verifying_key()
            .verify(&signed_bytes(&lie), &sig)
            .is_ok(),
        "the Python signature verifies with the traitor's public key"
    );
    let actions: Vec<&str> = to_three
        .notes
        .iter()
        .map(|n| n["action"].as_str().unwrap())
        .collect();
    assert_eq!(
        actions,
        ["replace", "note"],
        "every action and the plugin's note are noted"
    );
    assert_eq!(
        to_three.notes[0]["adversary"],
        json!(format!(
            "plugin:{}",
            examples().join("equivocating_primary.py").display()
        ))
    );
    assert_eq!(to_three.notes[1]["detail"]["lie"], "pre-prepare");

    // The truth about the lied-about seq is committed at the witness (node 1) alone, and
    // nobody gets the traitor's help to catch up.
    let commit =
        json!({"from": 0, "type": "commit", "view": 0, "seq": 2, "digest": honest["digest"]});
    let dropped = Some(Fate::Drop);
    assert_eq!(chain.on_message(&envelope(0, 1, commit.clone())).fate, None);
    assert_eq!(
        chain.on_message(&envelope(0, 2, commit.clone())).fate,
        dropped
    );
    assert_eq!(chain.on_message(&envelope(0, 3, commit)).fate, dropped);
    let entries = json!({"from": 0, "type": "entries", "view": 0, "normal": true, "committed": 2, "entries": []});
    assert_eq!(chain.on_message(&envelope(0, 2, entries)).fate, dropped);
}

#[test]
fn the_python_example_falls_silent_after_three_lies_but_still_proposes_what_it_lied_about() {
    let mut chain = chain(&examples().join("equivocating_primary.py")).unwrap();
    chain.on_message(&envelope(0, 3, pre_prepare(1, 1)));
    for seq in 2..=4 {
        let lie = chain.on_message(&envelope(0, 3, pre_prepare(seq, seq)));
        assert!(
            matches!(lie.fate, Some(Fate::Replace { .. })),
            "seq {seq}: {lie:?}"
        );
    }
    let beyond = chain.on_message(&envelope(0, 1, pre_prepare(5, 5)));
    assert_eq!(
        beyond.fate,
        Some(Fate::Drop),
        "no proposal after the third lie"
    );
    assert_eq!(beyond.notes[1]["detail"], json!({"silent": "from now on"}));
    // A slower link still hears the truth about the lied-about seqs, so the witness's
    // peers can prepare them; everything else is dropped.
    let late = chain.on_message(&envelope(0, 2, pre_prepare(3, 3)));
    assert_eq!(late.fate, None, "seq 3 still reaches node 2");
    let checkpoint = json!({"from": 0, "type": "checkpoint", "seq": 16, "state": "s"});
    assert_eq!(
        chain.on_message(&envelope(0, 2, checkpoint)).fate,
        Some(Fate::Drop)
    );
}

#[test]
fn every_action_of_the_protocol_is_applied_and_noted() {
    let (_dir, path) = answering(
        "return {'actions': [{'action': 'inject', 'to': 2, 'payload': 'hi'}]} if r['type'] == 'tick' \
         else {'actions': [{'action': json.loads(r['payload'])['do'], 'ms': 50},\n        \
         {'action': 'inject', 'to': 3, 'payload_base64': 'AAE='}]}",
    );
    let mut chain = chain(&path).unwrap();
    let mut fate = |what: &str| {
        let actions = chain.on_message(&envelope(0, 1, json!({"do": what})));
        assert_eq!(actions.fatal, None);
        assert_eq!(
            actions.inject,
            [Injection {
                from: 0,
                to: 3,
                payload: vec![0, 1]
            }],
            "bytes given as base64 are injected from the sender"
        );
        assert_eq!(actions.notes.len(), if what == "deliver" { 1 } else { 2 });
        actions.fate.unwrap()
    };
    assert_eq!(fate("drop"), Fate::Drop);
    assert_eq!(fate("duplicate"), Fate::Duplicate);
    assert_eq!(
        fate("delay"),
        Fate::Delay {
            by: Duration::from_millis(50)
        }
    );
    assert_eq!(fate("deliver"), Fate::Deliver);
    let tick = chain.on_tick(Duration::from_millis(100));
    assert_eq!(tick.fatal, None);
    assert_eq!(
        tick.inject,
        [Injection {
            from: 0,
            to: 2,
            payload: b"hi".to_vec()
        }],
        "on a tick, the sole Byzantine node speaks"
    );
    assert_eq!(tick.notes[0]["action"], "inject");
}

#[test]
fn a_plugin_that_hangs_is_fatal_within_the_limit_and_stays_failed() {
    let mut chain = chain(&examples().join("hang.py")).unwrap();
    let (fatal, took) = fatal_of(&mut chain);
    assert!(took >= LIMIT, "it waited the limit: {took:?}");
    assert!(took < Duration::from_secs(3), "the limit is kept: {took:?}");
    assert!(
        fatal.contains("hang.py did not answer within the limit of 1s"),
        "{fatal}"
    );
    assert!(fatal.contains("a message 0->1"), "{fatal}");
    let (again, took) = fatal_of(&mut chain);
    assert_eq!(again, fatal, "a stopped plugin is not asked again");
    assert!(took < Duration::from_millis(100), "{took:?}");
}

#[test]
fn a_plugin_that_crashes_is_fatal_with_its_exit_status_and_last_words() {
    let (_dir, path) = script(
        "json.loads(sys.stdin.readline())\nprint('{\"ok\": true}', flush=True)\n\
         sys.stdin.readline()\nsys.stderr.write('Traceback: boom\\n')\nsys.exit(7)\n",
    );
    let mut chain = chain(&path).unwrap();
    let (fatal, took) = fatal_of(&mut chain);
    assert!(
        took < Duration::from_secs(1),
        "a crash is seen at once: {took:?}"
    );
    assert!(
        fatal.contains("closed its stdout without answering"),
        "{fatal}"
    );
    assert!(fatal.contains("exit status: 7"), "{fatal}");
    assert!(fatal.contains("Traceback: boom"), "{fatal}");
}

#[test]
fn garbage_answers_are_fatal_and_say_what_was_wrong() {
    let cases = [
        ("return 'not json'", "which is not JSON"),
        ("return {'verdict': 'drop'}", "no \"actions\" list"),
        (
            "return {'actions': [{'action': 'explode'}]}",
            "unknown action \"explode\"",
        ),
        (
            "return {'actions': [{'action': 'inject', 'to': 9, 'payload': 'x'}]}",
            "not a node of this run",
        ),
        (
            "return {'actions': [{'action': 'inject', 'to': 2, 'from': 1, 'payload': 'x'}]}",
            "node 1, which is correct",
        ),
        (
            "return {'actions': [{'action': 'delay'}]}",
            "delay needs \"ms\"",
        ),
        (
            "return {'actions': [{'action': 'drop'}, {'action': 'duplicate'}]}",
            "both drop and duplicate",
        ),
        (
            "return {'actions': [{'action': 'replace'}]}",
            "exactly one of \"payload\"",
        ),
    ];
    for (answer, expected) in cases {
        let (_dir, path) = answering(answer);
        let (fatal, _) = fatal_of(&mut chain(&path).unwrap());
        assert!(fatal.contains(expected), "{answer}: {fatal}");
        assert!(fatal.starts_with("adversary plugin:"), "{fatal}");
    }
    let (_dir, path) = answering("return {'actions': [{'action': 'drop'}]}");
    let mut chain = chain(&path).unwrap();
    let correct = chain.on_message(&envelope(2, 1, json!({"type": "commit"})));
    assert!(
        correct
            .fatal
            .unwrap()
            .contains("from node 2, which is correct"),
        "a plugin may not act for a correct node"
    );
}

#[test]
fn a_plugin_that_refuses_the_hello_does_not_start() {
    let (_dir, path) = script("sys.stdin.readline()\nprint('{\"ok\": false}', flush=True)\n");
    let err = chain(&path).err().unwrap();
    assert!(err.contains("answered the hello with"), "{err}");
    assert!(err.contains("expected {\"ok\":true}"), "{err}");
}

#[test]
fn a_plugins_forked_children_end_with_it_and_its_stderr_is_quoted_plain_and_bounded() {
    let dir = tempfile::tempdir().unwrap();
    let pid_file = dir.path().join("child.pid");
    let (_plugin_dir, path) = script(&format!(
        "import subprocess\n\
         child = subprocess.Popen(['sleep', '600'])\n\
         open({pid_file:?}, 'w').write(str(child.pid))\n\
         json.loads(sys.stdin.readline())\nprint('{{\"ok\": true}}', flush=True)\n\
         sys.stdin.readline()\n\
         sys.stderr.write('x' * (8 << 20) + '\\n')\n\
         sys.stderr.write('\\x1b[2J\\x1b]0;pwned\\x07boom\\n')\nsys.stderr.flush()\nsys.exit(7)\n",
    ));
    let mut chain = chain(&path).unwrap();
    let (fatal, _) = fatal_of(&mut chain);
    assert!(fatal.contains("boom"), "{fatal}");
    assert!(
        !fatal.contains('\x1b') && !fatal.contains("pwned"),
        "{fatal:?}"
    );
    assert!(
        fatal.len() < 10_000,
        "stderr quoted whole: {} bytes",
        fatal.len()
    );
    let child: i32 = std::fs::read_to_string(&pid_file).unwrap().parse().unwrap();
    drop(chain);
    let deadline = Instant::now() + Duration::from_secs(5);
    // Gone, or a zombie waiting for init to reap it: either way no longer running.
    let running = || {
        std::fs::read_to_string(format!("/proc/{child}/stat"))
            .is_ok_and(|stat| !stat.contains(") Z "))
    };
    while running() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(!running(), "the plugin's child {child} outlived it");
}
