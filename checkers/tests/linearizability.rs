//! The linearizability checker on classic anomalies and on generated histories.

use proptest::prelude::*;
use serde_json::{json, Value};
use traitor_checkers::input::load_history;
use traitor_checkers::linearizability::check;
use traitor_checkers::synth::{
    concurrent_appends, generate, generate_with_faults, impossible_read, Faults, SynthConfig,
};
use traitor_checkers::{Budget, CheckResult, Model, Validity};
use traitor_model::Event;

/// Checks EDN or JSONL history lines against a model.
fn verdict(model: Model, text: &str) -> CheckResult {
    let loaded = load_history(text, model).expect("test histories parse");
    check(&loaded.operations, model, &Budget::default())
}

fn jsonl(events: &[Event]) -> String {
    events
        .iter()
        .map(|e| serde_json::to_string(e).unwrap() + "\n")
        .collect()
}

#[test]
fn sequential_write_then_read_holds() {
    let r = verdict(
        Model::Register,
        "{:process 0 :type :invoke :f :write :value 1}\n{:process 0 :type :ok :f :write :value 1}\n\
         {:process 1 :type :invoke :f :read :value nil}\n{:process 1 :type :ok :f :read :value 1}\n",
    );
    assert_eq!(r.valid, Validity::Holds, "{r:?}");
}

#[test]
fn stale_read_is_caught_and_explained() {
    let r = verdict(
        Model::Register,
        "{:process 0 :type :invoke :f :write :value 1}\n{:process 0 :type :ok :f :write :value 1}\n\
         {:process 0 :type :invoke :f :write :value 2}\n{:process 0 :type :ok :f :write :value 2}\n\
         {:process 1 :type :invoke :f :read :value nil}\n{:process 1 :type :ok :f :read :value 1}\n",
    );
    assert_eq!(r.valid, Validity::Violated);
    let v = &r.evidence["violations"][0];
    assert!(v["op"].as_str().unwrap().contains("p1 read -> ok 1"), "{v}");
    assert_eq!(v["longest_linearizable_prefix"]["ops"], json!(2));
    assert_eq!(v["longest_linearizable_prefix"]["state"], json!(2));
    assert!(r.summary.contains("cannot be linearized"), "{}", r.summary);
    let tail = v["longest_linearizable_prefix"]["tail"].as_array().unwrap();
    assert!(
        tail.iter()
            .all(|t| !t.as_str().unwrap().contains("p1 read -> ok")),
        "{tail:?}"
    );
}

#[test]
fn a_pending_op_in_the_prefix_is_shown_as_pending() {
    // The read of 2 is blocked; the write of 3 is still running when it returns, and the
    // last read (of 1) is what cannot be linearized.
    let r = verdict(
        Model::Register,
        "{:process 0 :type :invoke :f :write :value 1}\n{:process 0 :type :ok :f :write :value 1}\n\
         {:process 1 :type :invoke :f :write :value 3}\n\
         {:process 2 :type :invoke :f :read :value nil}\n{:process 2 :type :ok :f :read :value 3}\n\
         {:process 2 :type :invoke :f :read :value nil}\n{:process 2 :type :ok :f :read :value 1}\n\
         {:process 1 :type :ok :f :write :value 3}\n",
    );
    assert_eq!(r.valid, Validity::Violated);
    let v = &r.evidence["violations"][0];
    let tail: Vec<&str> = v["longest_linearizable_prefix"]["tail"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t.as_str().unwrap())
        .collect();
    assert!(
        tail.contains(&"#2 p1 write 3 -> (pending at this point)"),
        "{tail:?}"
    );
}

#[test]
fn a_read_concurrent_with_a_write_may_see_either() {
    for seen in ["nil", "1"] {
        let r = verdict(
            Model::Register,
            &format!(
                "{{:process 0 :type :invoke :f :write :value 1}}\n{{:process 1 :type :invoke :f :read :value nil}}\n\
                 {{:process 1 :type :ok :f :read :value {seen}}}\n{{:process 0 :type :ok :f :write :value 1}}\n"
            ),
        );
        assert_eq!(r.valid, Validity::Holds, "read {seen}: {r:?}");
    }
}

#[test]
fn lost_write_is_caught() {
    let r = verdict(
        Model::Register,
        "{:process 0 :type :invoke :f :write :value 1}\n{:process 0 :type :ok :f :write :value 1}\n\
         {:process 1 :type :invoke :f :read :value nil}\n{:process 1 :type :ok :f :read :value nil}\n",
    );
    assert_eq!(r.valid, Validity::Violated);
}

#[test]
fn cas_anomalies_are_caught() {
    // Two sequential cas [0 1] cannot both succeed.
    let double = "{:process 0 :type :invoke :f :write :value 0}\n{:process 0 :type :ok :f :write :value 0}\n\
                  {:process 0 :type :invoke :f :cas :value [0 1]}\n{:process 0 :type :ok :f :cas :value [0 1]}\n\
                  {:process 1 :type :invoke :f :cas :value [0 1]}\n{:process 1 :type :ok :f :cas :value [0 1]}\n";
    assert_eq!(
        verdict(Model::CasRegister, double).valid,
        Validity::Violated
    );
    // A cas that succeeded from a value the register never held.
    let phantom = "{:process 0 :type :invoke :f :cas :value [5 6]}\n{:process 0 :type :ok :f :cas :value [5 6]}\n";
    assert_eq!(
        verdict(Model::CasRegister, phantom).valid,
        Validity::Violated
    );
    // A failed cas took no effect: reading its new value is wrong.
    let failed = "{:process 0 :type :invoke :f :cas :value [nil 6]}\n{:process 0 :type :fail :f :cas :value [nil 6]}\n\
                  {:process 0 :type :invoke :f :read :value nil}\n{:process 0 :type :ok :f :read :value 6}\n";
    assert_eq!(
        verdict(Model::CasRegister, failed).valid,
        Validity::Violated
    );
}

#[test]
fn a_crashed_write_may_take_effect_late_but_only_once() {
    // The write never completed (info); a much later read may still see it.
    let late = "{:process 0 :type :invoke :f :write :value 1}\n{:process 0 :type :info :f :write :value :timed-out}\n\
                {:process 1 :type :invoke :f :read :value nil}\n{:process 1 :type :ok :f :read :value nil}\n\
                {:process 1 :type :invoke :f :read :value nil}\n{:process 1 :type :ok :f :read :value 1}\n";
    assert_eq!(verdict(Model::Register, late).valid, Validity::Holds);
    // Same with no completion at all.
    let open = "{:process 0 :type :invoke :f :write :value 1}\n\
                {:process 1 :type :invoke :f :read :value nil}\n{:process 1 :type :ok :f :read :value 1}\n";
    assert_eq!(verdict(Model::Register, open).valid, Validity::Holds);
    // But once seen it cannot be undone.
    let flicker = format!(
        "{late}{{:process 1 :type :invoke :f :read :value nil}}\n{{:process 1 :type :ok :f :read :value nil}}\n"
    );
    assert_eq!(verdict(Model::Register, &flicker).valid, Validity::Violated);
}

#[test]
fn kv_append_strings_and_keys_checked_apart() {
    let ok = "{\"process\":0,\"type\":\"invoke\",\"f\":\"append\",\"key\":\"x\",\"value\":\"a\"}\n\
              {\"process\":0,\"type\":\"ok\",\"f\":\"append\",\"key\":\"x\",\"value\":\"a\"}\n\
              {\"process\":0,\"type\":\"invoke\",\"f\":\"append\",\"key\":\"x\",\"value\":\"b\"}\n\
              {\"process\":0,\"type\":\"ok\",\"f\":\"append\",\"key\":\"x\",\"value\":\"b\"}\n\
              {\"process\":1,\"type\":\"invoke\",\"f\":\"get\",\"key\":\"y\"}\n\
              {\"process\":1,\"type\":\"ok\",\"f\":\"get\",\"key\":\"y\",\"value\":\"\"}\n\
              {\"process\":1,\"type\":\"invoke\",\"f\":\"get\",\"key\":\"x\"}\n";
    let good = format!(
        "{ok}{{\"process\":1,\"type\":\"ok\",\"f\":\"get\",\"key\":\"x\",\"value\":\"ab\"}}\n"
    );
    assert_eq!(verdict(Model::Kv, &good).valid, Validity::Holds);
    let bad = format!(
        "{ok}{{\"process\":1,\"type\":\"ok\",\"f\":\"get\",\"key\":\"x\",\"value\":\"ba\"}}\n"
    );
    let r = verdict(Model::Kv, &bad);
    assert_eq!(r.valid, Validity::Violated);
    assert_eq!(r.evidence["violated_keys"], json!(["\"x\""]));
}

#[test]
fn a_spent_budget_is_unknown_not_a_guess() {
    let events = generate(&SynthConfig {
        model: Model::CasRegister,
        ops: 400,
        keys: 1,
        processes: 30,
        info_rate: 0.3,
        fail_rate: 0.0,
        seed: 7,
    });
    let loaded = load_history(&jsonl(&events), Model::CasRegister).unwrap();
    let r = check(
        &loaded.operations,
        Model::CasRegister,
        &Budget::new(std::time::Duration::from_secs(5), 1),
    );
    assert_eq!(r.valid, Validity::Unknown);
    assert!(r.summary.contains("memory limit"), "{}", r.summary);
}

/// Key `a`: two writes, then a read of the first (stale).
const STALE_A: &str = "\
{\"process\":0,\"type\":\"invoke\",\"f\":\"write\",\"key\":\"a\",\"value\":1}
{\"process\":0,\"type\":\"ok\",\"f\":\"write\",\"key\":\"a\",\"value\":1}
{\"process\":0,\"type\":\"invoke\",\"f\":\"write\",\"key\":\"a\",\"value\":2}
{\"process\":0,\"type\":\"ok\",\"f\":\"write\",\"key\":\"a\",\"value\":2}
{\"process\":0,\"type\":\"invoke\",\"f\":\"read\",\"key\":\"a\",\"value\":null}
{\"process\":0,\"type\":\"ok\",\"f\":\"read\",\"key\":\"a\",\"value\":1}
";

/// A check in a pool of `threads` threads, so that the order keys are decided in is known.
fn check_with_threads(threads: usize, text: &str, model: Model, budget: &Budget) -> CheckResult {
    let loaded = load_history(text, model).unwrap();
    rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .unwrap()
        .install(|| check(&loaded.operations, model, budget))
}

#[test]
fn a_violation_cancels_the_keys_not_yet_decided() {
    let good_b: String = (0..4)
        .map(|v| {
            format!(
                "{{\"process\":1,\"type\":\"invoke\",\"f\":\"write\",\"key\":\"b\",\"value\":{v}}}\n\
                 {{\"process\":1,\"type\":\"ok\",\"f\":\"write\",\"key\":\"b\",\"value\":{v}}}\n\
                 {{\"process\":1,\"type\":\"invoke\",\"f\":\"read\",\"key\":\"b\",\"value\":null}}\n\
                 {{\"process\":1,\"type\":\"ok\",\"f\":\"read\",\"key\":\"b\",\"value\":{v}}}\n"
            )
        })
        .collect();
    let text = format!("{STALE_A}{good_b}");
    // One thread: the smaller key `a` goes first, is violated, and `b` is never searched.
    let first = check_with_threads(1, &text, Model::Kv, &Budget::default());
    assert_eq!(first.valid, Validity::Violated);
    assert_eq!(first.evidence["violated_keys"], json!(["\"a\""]));
    assert_eq!(first.evidence["not_decided_keys"]["keys"], json!(["\"b\""]));
    assert_eq!(
        first.evidence["not_decided_keys"]["why"],
        "not decided: the history is already not linearizable"
    );
    assert!(
        first.summary.contains("1 other key(s) not decided"),
        "{}",
        first.summary
    );
    let every = check_with_threads(1, &text, Model::Kv, &Budget::default().deciding_every_key());
    assert_eq!(every.valid, Validity::Violated);
    assert_eq!(every.evidence["not_decided_keys"]["keys"], json!([]));
    assert!(!every.summary.contains("not decided"), "{}", every.summary);
}

/// Events as JSON lines with an impossible read planted on each key `broken` picks.
fn with_broken_keys(config: &SynthConfig, broken: &[bool]) -> String {
    let mut events = generate(config);
    for (key, _) in broken.iter().enumerate().filter(|(_, b)| **b) {
        let key = json!(format!("k{key}"));
        let read = events.iter().rposition(|e| {
            e.key.as_ref() == Some(&key)
                && e.kind == traitor_model::EventKind::Ok
                && (e.f == "read" || e.f == "get")
        });
        if let Some(at) = read {
            events[at].value = impossible_read(config.model, &events[at].f);
        }
    }
    jsonl(&events)
}

/// A kv history with a partition, where keys `k0` and `k1` serve a stale read (or not).
fn partitioned(seed: u64, stale_keys: usize) -> CheckResult {
    let config = SynthConfig {
        model: Model::Kv,
        ops: 300,
        keys: 6,
        processes: 20,
        info_rate: 0.02,
        fail_rate: 0.02,
        seed,
    };
    let faults = Faults {
        partition: Some(0.3..0.7),
        stale_keys,
        append_heavy: true,
    };
    let text = jsonl(&generate_with_faults(&config, &faults));
    let every = Budget::default().deciding_every_key();
    check(
        &load_history(&text, Model::Kv).unwrap().operations,
        Model::Kv,
        &every,
    )
}

#[test]
fn a_partition_breaks_only_the_keys_that_served_stale_reads() {
    let r = partitioned(9, 2);
    assert_eq!(r.valid, Validity::Violated, "{r:?}");
    let violated = r.evidence["violated_keys"].as_array().unwrap();
    assert!(
        violated.iter().all(|k| k == "\"k0\"" || k == "\"k1\""),
        "{violated:?}"
    );
    assert_eq!(partitioned(9, 0).valid, Validity::Holds);
}

#[test]
fn concurrent_appends_spend_a_memory_limit_and_say_so() {
    let text = jsonl(&concurrent_appends(30));
    let r = check(
        &load_history(&text, Model::Kv).unwrap().operations,
        Model::Kv,
        &Budget::new(std::time::Duration::from_secs(60), 64 << 20),
    );
    assert_eq!(r.valid, Validity::Unknown, "{r:?}");
    assert!(
        r.summary.contains("memory limit of 64 MiB"),
        "{}",
        r.summary
    );
    // With room enough, a few concurrent appends are linearizable.
    let text = jsonl(&concurrent_appends(4));
    let r = check(
        &load_history(&text, Model::Kv).unwrap().operations,
        Model::Kv,
        &Budget::default(),
    );
    assert_eq!(r.valid, Validity::Holds, "{r:?}");
}

fn model_strategy() -> impl Strategy<Value = Model> {
    prop_oneof![
        Just(Model::Register),
        Just(Model::CasRegister),
        Just(Model::Kv),
        Just(Model::Counter),
        Just(Model::Set)
    ]
}

fn config_strategy() -> impl Strategy<Value = SynthConfig> {
    (
        model_strategy(),
        1usize..60,
        1usize..4,
        1usize..8,
        0.0..0.3f64,
        0.0..0.2f64,
        any::<u64>(),
    )
        .prop_map(
            |(model, ops, keys, processes, info_rate, fail_rate, seed)| SynthConfig {
                model,
                ops,
                keys,
                processes,
                info_rate,
                fail_rate,
                seed,
            },
        )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn generated_histories_are_linearizable(config in config_strategy()) {
        let events = generate(&config);
        let loaded = load_history(&jsonl(&events), config.model).unwrap();
        let r = check(&loaded.operations, config.model, &Budget::default());
        // A history whose only ops failed or were unknown reads has nothing to check: unknown.
        prop_assert!(r.valid == Validity::Holds || loaded.operations.by_key.is_empty(), "{:?}\n{}", r, jsonl(&events));
    }

    #[test]
    fn an_impossible_read_is_always_caught(config in config_strategy(), pick in any::<prop::sample::Index>()) {
        let mut events = generate(&config);
        let reads: Vec<usize> = events
            .iter()
            .enumerate()
            .filter(|(_, e)| e.kind == traitor_model::EventKind::Ok && (e.f == "read" || e.f == "get"))
            .map(|(i, _)| i)
            .collect();
        prop_assume!(!reads.is_empty());
        let at = reads[pick.index(reads.len())];
        let impossible: Value = impossible_read(config.model, &events[at].f);
        events[at].value = impossible;
        let loaded = load_history(&jsonl(&events), config.model).unwrap();
        let r = check(&loaded.operations, config.model, &Budget::default());
        prop_assert_eq!(r.valid, Validity::Violated, "{:?}", r);
        prop_assert!(r.evidence["violations"][0]["window"].as_array().is_some_and(|w| !w.is_empty()));
    }

    #[test]
    fn stopping_at_the_first_violation_never_changes_the_verdict(
        config in config_strategy(),
        broken in prop::collection::vec(any::<bool>(), 4),
        threads in 1usize..4,
    ) {
        let text = with_broken_keys(&config, &broken);
        let every = check_with_threads(threads, &text, config.model, &Budget::default().deciding_every_key());
        let first = check_with_threads(threads, &text, config.model, &Budget::default());
        prop_assert_eq!(first.valid, every.valid, "{:?}\n{:?}", first, every);
        let keys = |r: &CheckResult, field: &str| -> Vec<String> {
            let list = if field == "not_decided_keys" { &r.evidence[field]["keys"] } else { &r.evidence[field] };
            list.as_array().map(|a| a.iter().map(|k| k.as_str().unwrap().to_string()).collect()).unwrap_or_default()
        };
        let violated = keys(&every, "violated_keys");
        let found = keys(&first, "violated_keys");
        let skipped = keys(&first, "not_decided_keys");
        // What stopping early reports as violated is violated; what it skips is never
        // reported as holding: every violated key is found or skipped.
        prop_assert!(found.iter().all(|k| violated.contains(k)), "{:?} {:?}", found, violated);
        prop_assert!(violated.iter().all(|k| found.contains(k) || skipped.contains(k)));
        prop_assert!(skipped.is_empty() || !found.is_empty());
    }

    #[test]
    fn edn_and_jsonl_give_the_same_verdict(config in config_strategy()) {
        let events = generate(&config);
        let edn: String = events.iter().map(to_edn).collect();
        let a = check(&load_history(&jsonl(&events), config.model).unwrap().operations, config.model, &Budget::default());
        let b = check(&load_history(&edn, config.model).unwrap().operations, config.model, &Budget::default());
        prop_assert_eq!(a.valid, b.valid);
    }
}

/// Writes an event as Jepsen would, with the key as an independent tuple.
fn to_edn(e: &Event) -> String {
    fn edn(v: &Value) -> String {
        match v {
            Value::Null => "nil".into(),
            Value::Array(items) => {
                format!("[{}]", items.iter().map(edn).collect::<Vec<_>>().join(" "))
            }
            other => other.to_string(),
        }
    }
    let kind = serde_json::to_value(e.kind).unwrap();
    let value = match &e.key {
        Some(k) => format!("[{} {}]", edn(k), edn(&e.value)),
        None => edn(&e.value),
    };
    format!(
        "{{:type :{}, :f :{}, :value {value}, :process {}}}\n",
        kind.as_str().unwrap(),
        e.f,
        e.process
    )
}
