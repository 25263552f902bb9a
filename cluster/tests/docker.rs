//! The Docker backend against a real engine, with the probe node program. These tests fail
//! (never skip) when Docker is unavailable.

mod common;

use std::net::{IpAddr, SocketAddr, TcpListener};
use std::time::{Duration, Instant};

use common::*;
use traitor_cluster::{
    backend, ensure_image, BackendKind, ClusterBackend, DockerBackend, ImageSource, IMAGE_LABEL,
};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cargo_bins_become_scratch_images_cached_by_binary_content() {
    let docker = require_docker().await;
    // A variant binary nobody else uses, so it can be removed to time an uncached build.
    let variant = ImageSource::CargoBin {
        bin: PROBE.into(),
        workspace: probe_workspace("probe-ws-variant", Some("variant-1")),
    };
    let first = ensure_image(&variant)
        .await
        .expect("building the variant image");
    let _ = docker
        .remove_image(
            &first.tag,
            Some(
                bollard::query_parameters::RemoveImageOptionsBuilder::default()
                    .force(true)
                    .build(),
            ),
            None,
        )
        .await;
    let uncached = ensure_image(&variant)
        .await
        .expect("rebuilding the variant image");
    let cached = ensure_image(&variant)
        .await
        .expect("finding the variant image");
    println!(
        "image build: uncached {:?} (cargo up-to-date check + engine build), cached {:?}",
        uncached.elapsed, cached.elapsed
    );
    assert!(
        !uncached.cached,
        "the image was removed, so it had to be built"
    );
    assert!(cached.cached, "the second call must find the tag");
    assert_eq!(uncached.tag, cached.tag);

    let base = ensure_image(&probe_source())
        .await
        .expect("building the probe image");
    assert_ne!(
        base.tag, cached.tag,
        "a different binary must get a different tag"
    );
    for tag in [&base.tag, &cached.tag] {
        assert!(tag.starts_with("traitor-probe-node:"), "{tag}");
        assert_eq!(tag.split(':').nth(1).map(str::len), Some(16), "{tag}");
        let image = docker
            .inspect_image(tag)
            .await
            .expect("inspecting the image");
        let config = image.config.expect("image config");
        assert_eq!(config.entrypoint, Some(vec!["/node".to_string()]));
        assert_eq!(
            config
                .labels
                .unwrap_or_default()
                .get(IMAGE_LABEL)
                .map(String::as_str),
            Some("probe-node")
        );
        let layers = image.root_fs.and_then(|r| r.layers).unwrap_or_default();
        assert_eq!(
            layers.len(),
            1,
            "FROM scratch plus one COPY is one layer: {layers:?}"
        );
    }

    let missing = ensure_image(&ImageSource::Image("traitor-not-here:none".into()))
        .await
        .expect_err("an absent image must not be pulled");
    assert!(
        missing.to_string().contains("nothing can be pulled"),
        "{missing}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn four_nodes_start_isolated_from_each_other_and_tear_down_completely() {
    let docker = require_docker().await;
    ensure_image(&probe_source())
        .await
        .expect("building the probe image");
    let run = run_id("four");
    let _sweep = SweepOnPanic(run.clone());
    let spec = spec(&run, probe_source());
    let mut cluster = backend(BackendKind::Docker, spec.clone())
        .await
        .expect("docker backend");
    assert_eq!(cluster.name(), "docker");

    let started = Instant::now();
    let addressing = cluster.prepare(4).await.expect("prepare");
    let prepared = started.elapsed();
    for (i, ip) in addressing.node_ips.iter().enumerate() {
        cluster
            .start_node(i as u32, probe_args(*ip, i as u32).into())
            .await
            .expect("start_node");
    }
    let launched = started.elapsed();
    wait_healthy(&addressing.node_ips, Duration::from_secs(15)).await;
    let healthy_after = started.elapsed();
    println!(
        "docker 4-node start (image cached): prepare {prepared:?}, all started {launched:?}, \
         every /health answered {healthy_after:?}"
    );

    // Addresses: the gateway is .1 of the run's /24, nodes have fixed distinct addresses.
    let IpAddr::V4(gateway) = addressing.proxy_ip else {
        panic!("IPv4 gateway expected")
    };
    assert_eq!(gateway.octets()[3], 1);
    for ip in &addressing.node_ips {
        let IpAddr::V4(ip) = ip else {
            panic!("IPv4 node address expected")
        };
        assert_eq!(
            ip.octets()[..3],
            gateway.octets()[..3],
            "{ip} outside {gateway}/24"
        );
    }

    // No direct container-to-container traffic; the gateway (where the proxy listens) is
    // reachable and sees the node's own address as the source.
    let (a, b) = (addressing.node_ips[0], addressing.node_ips[1]);
    let (status, body) = get(
        a,
        &format!("/connect/{b}:{API_PORT}"),
        Duration::from_secs(3),
    )
    .await
    .expect("node 0 answers");
    assert_eq!(status, 503, "node 0 reached node 1 directly: {body}");
    let listener =
        TcpListener::bind(SocketAddr::new(addressing.proxy_ip, 0)).expect("bind gateway");
    let port = listener.local_addr().expect("local addr").port();
    let (status, body) = get(
        a,
        &format!("/connect/{gateway}:{port}"),
        Duration::from_secs(3),
    )
    .await
    .expect("node 0 answers");
    assert_eq!(
        (status, body.as_str()),
        (200, "connected"),
        "node 0 cannot reach the gateway"
    );
    let (_, peer) = listener.accept().expect("the node's connection is queued");
    assert_eq!(
        peer.ip(),
        a,
        "the gateway listener must see the node's own address"
    );

    // Containers carry the run's limits and no privileges.
    let name = format!("traitor-{run}-n0");
    let host = docker
        .inspect_container(&name, None)
        .await
        .expect("inspect node 0")
        .host_config
        .expect("host config");
    assert_eq!(host.cap_drop, Some(vec!["ALL".to_string()]));
    assert_eq!(
        host.security_opt,
        Some(vec!["no-new-privileges".to_string()])
    );
    assert_eq!(host.memory, Some(spec.memory_limit as i64));
    assert_eq!(host.pids_limit, Some(spec.pids_limit));
    assert_eq!(host.privileged, Some(false));

    let samples = cluster.sample().await.expect("sample");
    assert_eq!(samples.len(), 4);
    for s in &samples {
        assert!(
            s.running && s.cpu_ns > 0 && s.memory_bytes > 0 && s.rx_bytes > 0,
            "{s:?}"
        );
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

    let started = Instant::now();
    cluster.teardown().await.expect("teardown");
    println!("docker 4-node teardown: {:?}", started.elapsed());
    assert_eq!(
        labelled(&docker, &run).await,
        (0, 0),
        "teardown left labelled objects"
    );
    cluster
        .teardown()
        .await
        .expect("a second teardown finds nothing to do");
    let _ = std::fs::remove_dir_all(&logs);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_pause_resume_and_restart_act_on_one_node() {
    let docker = require_docker().await;
    let run = run_id("faults");
    let _sweep = SweepOnPanic(run.clone());
    let mut cluster = DockerBackend::connect(spec(&run, probe_source()))
        .await
        .expect("connect");
    let addressing = cluster.prepare(2).await.expect("prepare");
    let (a, b) = (addressing.node_ips[0], addressing.node_ips[1]);
    for (i, ip) in [a, b].into_iter().enumerate() {
        cluster
            .start_node(i as u32, probe_args(ip, i as u32).into())
            .await
            .expect("start");
    }
    wait_healthy(&[a, b], Duration::from_secs(15)).await;
    faults_behave(&mut cluster, a, b).await;

    cluster.teardown().await.expect("teardown");
    assert_eq!(labelled(&docker, &run).await, (0, 0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn host_binaries_and_dockerfiles_become_images() {
    let docker = require_docker().await;
    // The test build of the probe is dynamically linked: its image needs ldd's libraries.
    let host_bin = ImageSource::HostBin(env!("CARGO_BIN_EXE_traitor-cluster-probe").into());
    let run = run_id("hostbin");
    let _sweep = SweepOnPanic(run.clone());
    let mut cluster = DockerBackend::connect(spec(&run, host_bin))
        .await
        .expect("connect");
    let addressing = cluster
        .prepare(1)
        .await
        .expect("prepare with a host binary");
    let ip = addressing.node_ips[0];
    cluster
        .start_node(0, probe_args(ip, 0).into())
        .await
        .expect("start");
    wait_healthy(&[ip], Duration::from_secs(15)).await;
    let host_image = cluster.image().expect("prepared image").tag.clone();
    cluster.teardown().await.expect("teardown");
    assert_eq!(labelled(&docker, &run).await, (0, 0));
    // Every test build of the probe is a new host binary: don't let their images pile up.
    docker
        .remove_image(
            &host_image,
            None::<bollard::query_parameters::RemoveImageOptions>,
            None,
        )
        .await
        .expect("removing the host-binary image");

    // A fixed folder name gives a stable tag, so reruns reuse one image.
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("dockerfile-probe");
    std::fs::create_dir_all(&dir).expect("creating the Dockerfile folder");
    let static_probe = probe_workspace("probe-ws", None)
        .join("target/static/x86_64-unknown-linux-gnu/release")
        .join(PROBE);
    ensure_image(&probe_source())
        .await
        .expect("static probe build");
    std::fs::copy(&static_probe, dir.join("probe")).expect("copying the probe");
    std::fs::write(
        dir.join("Dockerfile"),
        "FROM scratch\nCOPY probe /probe\nENTRYPOINT [\"/probe\"]\n",
    )
    .expect("writing a Dockerfile");
    let image = ensure_image(&ImageSource::Dockerfile(dir.join("Dockerfile")))
        .await
        .expect("building from a Dockerfile");
    let again = ensure_image(&ImageSource::Dockerfile(dir.join("Dockerfile")))
        .await
        .expect("rebuilding from a Dockerfile");
    assert!(
        again.cached && again.tag == image.tag,
        "{image:?} then {again:?}"
    );
    assert!(
        image.tag.starts_with("traitor-dockerfile-probe:"),
        "{}",
        image.tag
    );
    let inspected = docker.inspect_image(&image.tag).await.expect("inspect");
    assert_eq!(
        inspected.config.and_then(|c| c.entrypoint),
        Some(vec!["/probe".to_string()])
    );
}
