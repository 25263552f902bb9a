//! The connection to the Docker engine.

use std::time::Duration;

use bollard::Docker;

use crate::error::{ClusterError, Context, Result};

/// How long a ping or the version negotiation may take before Docker counts as unavailable.
const PING_TIMEOUT: Duration = Duration::from_secs(3);

/// Connects to the local engine (`DOCKER_HOST` or the default socket) and settles on the
/// engine's API version when it is older than bollard's, so older engines (API 1.41) work.
pub(crate) async fn connect() -> Result<Docker> {
    let action =
        || "connecting to the Docker engine (DOCKER_HOST or /var/run/docker.sock)".to_string();
    let docker = Docker::connect_with_local_defaults().context(action)?;
    match tokio::time::timeout(PING_TIMEOUT, docker.negotiate_version()).await {
        Ok(negotiated) => negotiated.context(|| {
            format!(
                "{}: is the engine running and may this user use its socket?",
                action()
            )
        }),
        Err(_) => Err(ClusterError::new(
            action(),
            format!("no answer within {PING_TIMEOUT:?}; is the engine running?"),
        )),
    }
}

/// Whether a Docker engine answers a ping within a few seconds: lets the harness choose the
/// process backend on machines without Docker instead of failing later.
pub async fn docker_available() -> bool {
    let Ok(docker) = connect().await else {
        return false;
    };
    matches!(
        tokio::time::timeout(PING_TIMEOUT, docker.ping()).await,
        Ok(Ok(_))
    )
}
