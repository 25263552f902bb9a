//! The traitor node API (DESIGN "The traitor node API"), as the harness calls it.

use serde::Deserialize;
use serde_json::{json, Value};
use std::net::SocketAddr;
use std::time::Duration;
use traitor_model::LogEntry;

/// How a client op ended, in Jepsen's terms.
#[derive(Clone, Debug, PartialEq)]
pub enum Reply {
    /// Committed and executed, with the value it returned.
    Ok(Value),
    /// Definitely did not take effect.
    Fail(String),
    /// Unknown: it may or may not have taken effect.
    Info(String),
}

/// `GET /log` as served.
#[derive(Clone, Debug, Deserialize)]
pub struct LogPage {
    pub entries: Vec<LogEntry>,
    pub committed: u64,
}

/// `GET /status` as served.
#[derive(Clone, Debug, Deserialize)]
pub struct Status {
    pub view: u64,
    pub primary: u32,
}

/// An HTTP client for nodes. Plain HTTP on the run's own addresses only.
#[derive(Clone)]
pub struct NodeApi {
    http: reqwest::Client,
    /// Signs client requests, when the run has a client authority.
    authority: Option<ed25519_dalek::SigningKey>,
}

impl NodeApi {
    pub fn new() -> Self {
        // Nodes sit on loopback or the run's own network: never go through a proxy.
        let http = reqwest::Client::builder()
            .no_proxy()
            .build()
            .unwrap_or_default();
        Self {
            http,
            authority: None,
        }
    }

    /// The same client, signing every request it submits with the client authority: the
    /// `sig` of `POST /ops` covers the canonical JSON (sorted keys) of client, req and op.
    pub fn signing_requests(mut self, authority: ed25519_dalek::SigningKey) -> Self {
        self.authority = Some(authority);
        self
    }

    /// Submits one op. Errors are classified the Jepsen way: a refused connection means the
    /// request never arrived (fail); a timeout or a cut connection may have taken effect (info).
    pub async fn submit(
        &self,
        api: SocketAddr,
        client: &str,
        req: u64,
        op: Value,
        timeout: Duration,
    ) -> Reply {
        let mut body = json!({"client": client, "req": req, "op": op});
        if let Some(authority) = &self.authority {
            use ed25519_dalek::Signer;
            // serde_json's map is ordered by key: this is the canonical form.
            let signed = serde_json::to_vec(&body).unwrap_or_default();
            body["sig"] = json!(hex::encode(authority.sign(&signed).to_bytes()));
        }
        let sent = self
            .http
            .post(format!("http://{api}/ops"))
            .json(&body)
            .timeout(timeout)
            .send()
            .await;
        let response = match sent {
            Ok(r) => r,
            Err(e) if e.is_connect() => return Reply::Fail(format!("connection refused: {e}")),
            Err(e) if e.is_timeout() => return Reply::Info("timeout".into()),
            Err(e) => return Reply::Info(format!("request failed: {e}")),
        };
        let status = response.status();
        let Ok(answer) = response.json::<Value>().await else {
            return Reply::Info(format!("unreadable answer (HTTP {status})"));
        };
        let error = answer
            .get("error")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        match answer.get("status").and_then(Value::as_str) {
            Some("ok") => Reply::Ok(answer.get("value").cloned().unwrap_or(Value::Null)),
            Some("fail") => Reply::Fail(error),
            // A malformed request never took effect.
            _ if status == reqwest::StatusCode::BAD_REQUEST => {
                Reply::Fail(format!("rejected: {error}"))
            }
            _ => Reply::Info(if error.is_empty() {
                format!("HTTP {status}")
            } else {
                error
            }),
        }
    }

    /// `GET /log?from=K`.
    pub async fn log(&self, api: SocketAddr, from: u64) -> Result<LogPage, String> {
        let url = format!("http://{api}/log?from={from}");
        let r = self
            .http
            .get(url)
            .timeout(Duration::from_secs(5))
            .send()
            .await
            .map_err(|e| e.to_string())?;
        r.json().await.map_err(|e| format!("bad /log answer: {e}"))
    }

    /// `GET /status`.
    pub async fn status(&self, api: SocketAddr) -> Result<Status, String> {
        let url = format!("http://{api}/status");
        let r = self
            .http
            .get(url)
            .timeout(Duration::from_secs(1))
            .send()
            .await
            .map_err(|e| e.to_string())?;
        r.json()
            .await
            .map_err(|e| format!("bad /status answer: {e}"))
    }
}

impl Default for NodeApi {
    fn default() -> Self {
        Self::new()
    }
}
