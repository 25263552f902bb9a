//! The run's own bridge network: inter-container traffic off, a /24 that collides with no
//! other network, fixed addresses.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr};

use bollard::models::{Ipam, IpamConfig, NetworkCreateRequest};
use bollard::Docker;

use crate::error::{ClusterError, Context, Result};
use crate::RUN_LABEL;

/// Candidate subnets are `10.213.<k>.0/24`.
const PREFIX: [u8; 2] = [10, 213];
/// Node `i` gets host address `FIRST_NODE_HOST + i` (`.1` is the gateway, the proxy's side).
const FIRST_NODE_HOST: usize = 10;
/// The largest node count one /24 leaves room for.
pub(crate) const MAX_NODES: usize = 254 - FIRST_NODE_HOST;

/// A created network and the addresses decided in it.
#[derive(Clone, Debug)]
pub(crate) struct RunNetwork {
    pub name: String,
    pub gateway: Ipv4Addr,
    third_octet: u8,
}

impl RunNetwork {
    /// Node `i`'s fixed address.
    pub fn node_ip(&self, i: usize) -> IpAddr {
        let [a, b] = PREFIX;
        IpAddr::V4(Ipv4Addr::new(
            a,
            b,
            self.third_octet,
            (FIRST_NODE_HOST + i) as u8,
        ))
    }
}

/// Creates network `name` labelled `traitor.run=<run_id>`, trying `10.213.k.0/24` from a
/// start derived from the run id until the engine accepts one that overlaps nothing.
/// Options: `enable_icc=false` (containers reach only the gateway, where the proxy listens,
/// never each other) and no masquerading (nodes cannot send traffic off the host).
pub(crate) async fn create(docker: &Docker, name: &str, run_id: &str) -> Result<RunNetwork> {
    let action = || format!("creating network {name}");
    let start = run_id
        .bytes()
        .fold(0u8, |h, b| h.wrapping_mul(31).wrapping_add(b));
    let mut last_error = String::new();
    for step in 0..=u8::MAX {
        let third_octet = start.wrapping_add(step);
        let [a, b] = PREFIX;
        let gateway = Ipv4Addr::new(a, b, third_octet, 1);
        let request = NetworkCreateRequest {
            name: name.to_string(),
            driver: Some("bridge".into()),
            ipam: Some(Ipam {
                driver: Some("default".into()),
                config: Some(vec![IpamConfig {
                    subnet: Some(format!("{a}.{b}.{third_octet}.0/24")),
                    gateway: Some(gateway.to_string()),
                    ..Default::default()
                }]),
                ..Default::default()
            }),
            options: Some(HashMap::from([
                (
                    "com.docker.network.bridge.enable_icc".into(),
                    "false".into(),
                ),
                (
                    "com.docker.network.bridge.enable_ip_masquerade".into(),
                    "false".into(),
                ),
            ])),
            labels: Some(HashMap::from([(RUN_LABEL.into(), run_id.into())])),
            ..Default::default()
        };
        match docker.create_network(request).await {
            Ok(_) => {
                tracing::debug!(network = name, subnet = %gateway, "run network created");
                return Ok(RunNetwork {
                    name: name.to_string(),
                    gateway,
                    third_octet,
                });
            }
            Err(e) if overlaps(&e.to_string()) => last_error = e.to_string(),
            Err(e) => return Err(e).context(action),
        }
    }
    Err(ClusterError::new(
        action(),
        format!(
            "every 10.213.k.0/24 overlaps an existing network (last: {last_error}); \
             run `traitor gc` to remove networks of dead runs"
        ),
    ))
}

/// Whether the engine refused a subnet because another network already has it.
fn overlaps(message: &str) -> bool {
    message.contains("overlaps")
}

/// Removes the network; a network already gone counts as removed.
pub(crate) async fn remove(docker: &Docker, name: &str) -> Result<()> {
    match docker.remove_network(name).await {
        Ok(()) => Ok(()),
        Err(bollard::errors::Error::DockerResponseServerError {
            status_code: 404, ..
        }) => Ok(()),
        Err(e) => Err(e).context(|| format!("removing network {name}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nodes_start_at_dot_ten_and_the_gateway_is_dot_one() {
        let net = RunNetwork {
            name: "n".into(),
            gateway: Ipv4Addr::new(10, 213, 7, 1),
            third_octet: 7,
        };
        assert_eq!(net.node_ip(0).to_string(), "10.213.7.10");
        assert_eq!(net.node_ip(MAX_NODES - 1).to_string(), "10.213.7.253");
    }
}
