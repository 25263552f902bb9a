//! The CI and Kubernetes examples are not run here (no cluster, no GitHub): their shape is
//! checked instead, field by field where traitor relies on it, against the campaign they
//! shard.

mod common;

use common::{traitor, workspace};
use serde_yaml::Value;

fn yaml_documents(path: &str) -> Vec<Value> {
    let text = std::fs::read_to_string(workspace().join(path)).unwrap();
    serde_yaml::Deserializer::from_str(&text)
        .map(|doc| serde::Deserialize::deserialize(doc).unwrap())
        .collect()
}

/// The `name` of examples/ci-gate.toml: the folder each shard writes under its store.
fn gate_name() -> String {
    let text = std::fs::read_to_string(workspace().join("examples/ci-gate.toml")).unwrap();
    let file: toml::Value = toml::from_str(&text).unwrap();
    file["name"].as_str().unwrap().to_string()
}

fn job<'a>(docs: &'a [Value], name: &str) -> &'a Value {
    docs.iter()
        .find(|d| d["kind"] == "Job" && d["metadata"]["name"] == name)
        .unwrap_or_else(|| panic!("no Job {name}"))
}

#[test]
fn the_indexed_job_runs_every_shard_and_the_merge_joins_them_all() {
    let docs = yaml_documents("examples/kubernetes/campaign-job.yaml");
    let shards = job(&docs, "traitor-gate-shards");
    assert_eq!(shards["spec"]["completionMode"], "Indexed");
    let count = shards["spec"]["completions"].as_u64().unwrap();
    let pod = &shards["spec"]["template"]["spec"];
    let container = &pod["containers"][0];
    let env: Vec<&Value> = container["env"].as_sequence().unwrap().iter().collect();
    let shard_count = env
        .iter()
        .find(|e| e["name"] == "TRAITOR_SHARD_COUNT")
        .expect("TRAITOR_SHARD_COUNT is set");
    assert_eq!(
        shard_count["value"].as_str(),
        Some(count.to_string().as_str())
    );
    let script = container["args"][0].as_str().unwrap();
    assert!(
        script.contains("examples/ci-gate.toml --shard-from-env"),
        "{script}"
    );
    assert!(
        script.contains("--store /shards/$JOB_COMPLETION_INDEX"),
        "{script}"
    );
    assert_eq!(container["volumeMounts"][0]["mountPath"], "/shards");
    let claim = &pod["volumes"][0]["persistentVolumeClaim"]["claimName"];
    assert!(docs
        .iter()
        .any(|d| d["kind"] == "PersistentVolumeClaim" && &d["metadata"]["name"] == claim));

    let merge_docs = yaml_documents("examples/kubernetes/merge-job.yaml");
    let merge = job(&merge_docs, "traitor-gate-merge");
    let args: Vec<&str> = merge["spec"]["template"]["spec"]["containers"][0]["args"]
        .as_sequence()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap())
        .collect();
    let name = gate_name();
    let expected: Vec<String> = (0..count).map(|i| format!("/shards/{i}/{name}")).collect();
    assert_eq!(&args[..3], ["campaign", "merge", "/shards/gate"]);
    assert_eq!(
        args[3..],
        expected.iter().map(String::as_str).collect::<Vec<_>>()[..]
    );
}

#[test]
fn the_github_matrix_runs_every_shard_and_the_merge_job_joins_them_all() {
    let docs = yaml_documents("examples/ci/github-actions.yml");
    let workflow = &docs[0];
    let count = workflow["env"]["SHARDS"].as_u64().unwrap();
    let matrix: Vec<u64> = workflow["jobs"]["shard"]["strategy"]["matrix"]["shard"]
        .as_sequence()
        .unwrap()
        .iter()
        .map(|k| k.as_u64().unwrap())
        .collect();
    assert_eq!(matrix, (1..=count).collect::<Vec<_>>());
    let steps = workflow["jobs"]["shard"]["steps"].as_sequence().unwrap();
    let run = steps.iter().find_map(|s| s["run"].as_str()).unwrap();
    assert!(
        run.contains("--shard ${{ matrix.shard }}/${{ env.SHARDS }} --store shards"),
        "{run}"
    );
    let name = gate_name();
    assert!(steps
        .iter()
        .any(|s| s["with"]["path"].as_str() == Some(&format!("shards/{name}"))));
    let merge = &workflow["jobs"]["merge"];
    assert_eq!(merge["needs"], "shard");
    let merge_run = merge["steps"]
        .as_sequence()
        .unwrap()
        .iter()
        .find_map(|s| s["run"].as_str())
        .unwrap();
    let shards: Vec<String> = (1..=count).map(|k| format!("shards/shard-{k}")).collect();
    assert!(
        merge_run.contains(&format!("campaign merge gate {}", shards.join(" "))),
        "{merge_run}"
    );
}

#[test]
fn shard_from_env_without_the_index_is_a_usage_error() {
    let out = traitor()
        .args([
            "campaign",
            "examples/ci-gate.toml",
            "--shard-from-env",
            "--store",
        ])
        .arg(tempfile::tempdir().unwrap().path())
        .env_remove("JOB_COMPLETION_INDEX")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("JOB_COMPLETION_INDEX"), "{stderr}");
}
