//! The traitor node HTTP API: `/health`, `/ops`, `/log`, `/status`.

use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{Query as UrlQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::json;
use tokio::sync::{mpsc, oneshot};

use crate::crypto::ClientAuthority;
use crate::messages::{Op, Request};
use crate::node::{NodeHandle, Query};
use crate::transport::Links;

/// How long `POST /ops` waits for execution before answering 504 "unknown".
pub const OP_WAIT: Duration = Duration::from_secs(5);

/// What the handlers share: the channel to the core task, the state of the peer links and
/// the client authority, if requests must be signed.
#[derive(Clone)]
struct ApiState {
    core: mpsc::Sender<Query>,
    links: Arc<Links>,
    client_authority: Option<ClientAuthority>,
}

/// The routes of `node`. With a `client_authority`, `POST /ops` refuses requests it did
/// not sign before they reach the core.
pub fn router(node: NodeHandle, client_authority: Option<ClientAuthority>) -> Router {
    Router::new()
        .route("/health", get(health))
        .route("/ops", post(submit))
        .route("/log", get(log))
        .route("/status", get(status))
        .with_state(ApiState {
            core: node.core,
            links: node.links,
            client_authority,
        })
}

/// `ok` once the link to every peer has been up; before that 503, naming the peers still
/// missing. Whoever starts the cluster (the harness, `pbft-bench`) waits for 200 before
/// sending requests: a frame for a peer whose link is not up yet waits in its queue (see
/// `transport`), and meanwhile backups timing a request would suspect the primary.
async fn health(State(state): State<ApiState>) -> (StatusCode, String) {
    let missing = state.links.never_up();
    if missing.is_empty() {
        return (StatusCode::OK, "ok".into());
    }
    (
        StatusCode::SERVICE_UNAVAILABLE,
        format!("connecting: no link yet to replica(s) {missing:?}"),
    )
}

fn bad_request(error: String) -> Response {
    (
        StatusCode::BAD_REQUEST,
        Json(json!({"status": "fail", "error": error})),
    )
        .into_response()
}

fn unavailable() -> Response {
    (
        StatusCode::SERVICE_UNAVAILABLE,
        Json(json!({"status": "unknown", "error": "replica core stopped"})),
    )
        .into_response()
}

async fn submit(State(state): State<ApiState>, body: Bytes) -> Response {
    let request: Request = match serde_json::from_slice(&body) {
        Ok(r) => r,
        Err(e) => return bad_request(format!("malformed request: {e}")),
    };
    if request.op == Op::Noop {
        return bad_request("noop is not a client operation".into());
    }
    if state
        .client_authority
        .is_some_and(|authority| !authority.signed(&request))
    {
        return bad_request("request not signed by the client authority".into());
    }
    let (answer, result) = oneshot::channel();
    let submitted = state.core.send(Query::Submit { request, answer }).await;
    if submitted.is_err() {
        return unavailable();
    }
    match tokio::time::timeout(OP_WAIT, result).await {
        Ok(Ok(result)) => Json(result).into_response(),
        _ => (
            StatusCode::GATEWAY_TIMEOUT,
            Json(json!({"status": "unknown", "error": "timeout"})),
        )
            .into_response(),
    }
}

#[derive(Deserialize)]
struct LogParams {
    from: Option<u64>,
}

async fn log(State(state): State<ApiState>, UrlQuery(p): UrlQuery<LogParams>) -> Response {
    let (answer, report) = oneshot::channel();
    let from = p.from.unwrap_or(1);
    if state.core.send(Query::Log { from, answer }).await.is_err() {
        return unavailable();
    }
    match report.await {
        Ok(report) => Json(report).into_response(),
        Err(_) => unavailable(),
    }
}

async fn status(State(state): State<ApiState>) -> Response {
    let (answer, report) = oneshot::channel();
    if state.core.send(Query::Status(answer)).await.is_err() {
        return unavailable();
    }
    match report.await {
        Ok(report) => Json(report).into_response(),
        Err(_) => unavailable(),
    }
}
