//! Sweeping what runs left behind: every container and network labelled `traitor.run`, and
//! nothing else.

use std::collections::HashMap;

use bollard::query_parameters::{
    ListContainersOptionsBuilder, ListNetworksOptionsBuilder, RemoveContainerOptionsBuilder,
};
use bollard::Docker;

use crate::error::{collected, Context, Result};
use crate::RUN_LABEL;

/// What `gc` removed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct GcReport {
    pub containers: usize,
    pub networks: usize,
}

/// Removes every container and network labelled `traitor.run` (any run): what a harness
/// killed with -9 left behind. Never selects anything without that label. Removal goes on
/// past a failure; the failures are reported together.
pub async fn gc() -> Result<GcReport> {
    let docker = crate::engine::connect().await?;
    sweep(&docker, RUN_LABEL).await
}

/// Removes the containers and the network of one run (`traitor.run=<run_id>`): what
/// teardown does, for a run whose backend is gone (a failed test, a crashed harness whose run
/// id is known) without touching other runs that may be live.
pub async fn gc_run(run_id: &str) -> Result<GcReport> {
    let docker = crate::engine::connect().await?;
    sweep(&docker, &format!("{RUN_LABEL}={run_id}")).await
}

/// Force-removes the containers, then the networks, matching the label filter `label`
/// (`traitor.run` or `traitor.run=<id>`). Containers go first: a network with endpoints
/// cannot be removed.
pub(crate) async fn sweep(docker: &Docker, label: &str) -> Result<GcReport> {
    let filters = HashMap::from([("label".to_string(), vec![label.to_string()])]);
    let containers = docker
        .list_containers(Some(
            ListContainersOptionsBuilder::default()
                .all(true)
                .filters(&filters)
                .build(),
        ))
        .await
        .context(|| format!("listing containers labelled {label}"))?;
    let mut failures = Vec::new();
    let mut report = GcReport::default();
    let force = RemoveContainerOptionsBuilder::default().force(true).build();
    // All at once: the engine stops and removes them in parallel.
    let removals = containers.into_iter().filter_map(|c| c.id).map(|id| {
        let force = force.clone();
        async move { (docker.remove_container(&id, Some(force)).await, id) }
    });
    for (removed, id) in futures_util::future::join_all(removals).await {
        match removed {
            Ok(()) => report.containers += 1,
            Err(bollard::errors::Error::DockerResponseServerError {
                status_code: 404, ..
            }) => {}
            Err(e) => failures.push(format!("removing container {id}: {e}")),
        }
    }
    let networks = docker
        .list_networks(Some(
            ListNetworksOptionsBuilder::default()
                .filters(&filters)
                .build(),
        ))
        .await
        .context(|| format!("listing networks labelled {label}"))?;
    for network in networks {
        let Some(name) = network.name else { continue };
        match crate::network::remove(docker, &name).await {
            Ok(()) => report.networks += 1,
            Err(e) => failures.push(e.to_string()),
        }
    }
    collected(&format!("removing what is labelled {label}"), failures)?;
    Ok(report)
}
