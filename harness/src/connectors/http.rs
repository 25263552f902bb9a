//! The traitor node API behind the connector traits: `POST /ops`, `GET /log`, `GET /status`
//! on every node's `api_port`.

use super::{LogReader, NodeAddresses, OpClient, PrimaryLookup};
use crate::node_api::{LogPage, NodeApi, Reply};
use serde_json::Value;
use std::collections::HashMap;
use std::time::Duration;
use traitor_model::NodeId;

/// Every node of the run, reached over HTTP.
pub struct HttpNodes {
    api: NodeApi,
    addresses: NodeAddresses,
}

impl HttpNodes {
    pub fn new(api: NodeApi, addresses: NodeAddresses) -> Self {
        Self { api, addresses }
    }
}

#[async_trait::async_trait]
impl OpClient for HttpNodes {
    async fn submit(
        &self,
        node: NodeId,
        client: &str,
        req: u64,
        op: Value,
        timeout: Duration,
    ) -> Reply {
        let api = self.addresses.api(node);
        self.api.submit(api, client, req, op, timeout).await
    }
}

#[async_trait::async_trait]
impl LogReader for HttpNodes {
    async fn log(&self, node: NodeId, from: u64) -> Result<LogPage, String> {
        self.api.log(self.addresses.api(node), from).await
    }
}

#[async_trait::async_trait]
impl PrimaryLookup for HttpNodes {
    /// The primary as most nodes report it on `/status`; none when no node answers.
    async fn primary(&self) -> Option<NodeId> {
        let mut votes = HashMap::new();
        for node in 0..self.addresses.ips.len() as NodeId {
            if let Ok(status) = self.api.status(self.addresses.api(node)).await {
                *votes.entry(status.primary).or_insert(0) += 1;
            }
        }
        votes
            .into_iter()
            .max_by_key(|&(node, count)| (count, std::cmp::Reverse(node)))
            .map(|(node, _)| node)
    }
}
