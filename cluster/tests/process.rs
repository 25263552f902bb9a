//! The process backend with the probe node program as local processes on 127.0.0.x.

mod common;

use std::time::{Duration, Instant};

use common::*;
use traitor_cluster::{backend, BackendKind, ClusterBackend, ImageSource, ProcessBackend};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn four_local_nodes_start_sample_log_and_tear_down() {
    let run = run_id("proc4");
    let mut cluster = backend(BackendKind::Process, spec(&run, probe_source()))
        .await
        .expect("process backend");
    assert_eq!(cluster.name(), "process");
    let started = Instant::now();
    let addressing = cluster.prepare(4).await.expect("prepare");
    assert_eq!(addressing.proxy_ip.to_string(), "127.0.0.1");
    let ips: Vec<String> = addressing
        .node_ips
        .iter()
        .map(|ip| ip.to_string())
        .collect();
    // Four consecutive addresses of one loopback /24 of the run's own (never 127.0.0.x).
    let prefix = ips[0].rsplit_once('.').unwrap().0.to_string();
    assert!(prefix.starts_with("127.") && prefix != "127.0.0", "{ips:?}");
    assert_eq!(
        ips,
        (10..14)
            .map(|h| format!("{prefix}.{h}"))
            .collect::<Vec<_>>()
    );
    for (i, ip) in addressing.node_ips.iter().enumerate() {
        cluster
            .start_node(i as u32, probe_args(*ip, i as u32).into())
            .await
            .expect("start");
    }
    wait_healthy(&addressing.node_ips, Duration::from_secs(10)).await;
    println!(
        "process 4-node start (binary built): {:?}",
        started.elapsed()
    );
    assert!(
        cluster.start_node(0, vec![].into()).await.is_err(),
        "a node starts once"
    );
    assert!(
        cluster.start_node(4, vec![].into()).await.is_err(),
        "only prepared nodes start"
    );

    let samples = cluster.sample().await.expect("sample");
    assert_eq!(samples.len(), 4);
    for s in &samples {
        assert!(s.running && s.memory_bytes > 0, "{s:?}");
        assert_eq!((s.rx_bytes, s.tx_bytes), (0, 0), "not measured per process");
    }

    let logs = tempdir(&run);
    cluster.collect_logs(&logs).await.expect("collect_logs");
    for i in 0..4 {
        let log = std::fs::read_to_string(logs.join(format!("{i}.log"))).expect("node log");
        assert!(
            log.contains("probe listening on"),
            "stdout missing from {log:?}"
        );
        assert!(
            log.contains(&format!("--node {i}")),
            "stderr missing from {log:?}"
        );
    }
    let _ = std::fs::remove_dir_all(&logs);

    let started = Instant::now();
    cluster.teardown().await.expect("teardown");
    println!("process 4-node teardown: {:?}", started.elapsed());
    for ip in &addressing.node_ips {
        assert!(!healthy(*ip), "{ip} still answers after teardown");
    }
    cluster
        .teardown()
        .await
        .expect("a second teardown finds nothing to do");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_pause_resume_and_restart_act_on_one_process() {
    let run = run_id("procfaults");
    let mut cluster = ProcessBackend::new(spec(&run, probe_source())).expect("backend");
    // Addresses of their own, so this test can run beside the four-node one.
    let addressing = cluster.prepare(6).await.expect("prepare");
    let (a, b) = (addressing.node_ips[4], addressing.node_ips[5]);
    // Node ids 0 and 1 on the addresses of nodes 4 and 5.
    cluster
        .start_node(0, probe_args(a, 0).into())
        .await
        .expect("start");
    cluster
        .start_node(1, probe_args(b, 1).into())
        .await
        .expect("start");
    wait_healthy(&[a, b], Duration::from_secs(10)).await;
    faults_behave(&mut cluster, a, b).await;
    cluster.teardown().await.expect("teardown");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropping_the_backend_kills_its_processes() {
    let run = run_id("procdrop");
    let mut cluster = ProcessBackend::new(spec(&run, probe_source())).expect("backend");
    let addressing = cluster.prepare(8).await.expect("prepare");
    let ip = addressing.node_ips[7];
    cluster
        .start_node(7, probe_args(ip, 7).into())
        .await
        .expect("start");
    wait_healthy(&[ip], Duration::from_secs(10)).await;
    cluster.pause(7).await.expect("pause");
    drop(cluster); // as a panicking harness would
    assert!(!healthy(ip), "the node outlived its backend");
}

#[tokio::test]
async fn images_that_are_not_binaries_are_refused_clearly() {
    let mut cluster =
        ProcessBackend::new(spec(&run_id("procimg"), ImageSource::Image("x:y".into())))
            .expect("backend");
    let err = cluster
        .prepare(1)
        .await
        .expect_err("an image cannot run as a process");
    assert!(
        err.to_string().contains("needs the docker backend"),
        "{err}"
    );
    assert!(
        ProcessBackend::new(spec("bad/id", ImageSource::Image("x:y".into()))).is_err(),
        "run ids with a slash cannot name containers"
    );
}
