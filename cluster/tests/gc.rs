//! `gc` against a real engine. Alone in its test binary: it sweeps every `traitor.run`
//! object, so it must not run beside other Docker tests of this crate.

mod common;

use std::time::Duration;

use common::*;
use traitor_cluster::{gc, ClusterBackend, DockerBackend};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gc_removes_what_a_vanished_harness_left_and_nothing_else() {
    let docker = require_docker().await;

    let run = run_id("gc");
    let _sweep = SweepOnPanic(run.clone());
    {
        let mut cluster = DockerBackend::connect(spec(&run, probe_source()))
            .await
            .expect("connect");
        let addressing = cluster.prepare(2).await.expect("prepare");
        for (i, ip) in addressing.node_ips.iter().enumerate() {
            cluster
                .start_node(i as u32, probe_args(*ip, i as u32).into())
                .await
                .expect("start");
        }
        wait_healthy(&addressing.node_ips, Duration::from_secs(15)).await;
        // The harness vanishes: no teardown.
    }
    assert_eq!(
        labelled(&docker, &run).await,
        (2, 1),
        "the dead run's objects are left over"
    );

    // Something gc must never touch: a network without the label. Removed before any
    // assertion, so a failure does not leak it.
    let bystander = format!("bystander-{run}");
    docker
        .create_network(bollard::models::NetworkCreateRequest {
            name: bystander.clone(),
            ..Default::default()
        })
        .await
        .expect("creating an unlabelled network");
    let report = gc().await;
    let left = labelled(&docker, &run).await;
    let second = gc().await;
    let bystander_kept = docker.inspect_network(&bystander, None).await.is_ok();
    let _ = docker.remove_network(&bystander).await;

    let report = report.expect("gc");
    assert!(report.containers >= 2 && report.networks >= 1, "{report:?}");
    assert_eq!(left, (0, 0), "gc left objects of the dead run");
    assert_eq!(
        second.expect("second gc"),
        Default::default(),
        "gc is idempotent"
    );
    assert!(bystander_kept, "gc removed an unlabelled network");
}
