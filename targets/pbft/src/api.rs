//! The traitor node HTTP API: `/health`, `/ops`, `/log`, `/status`.

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
use crate::node::Query;

/// How long `POST /ops` waits for execution before answering 504 "unknown".
pub const OP_WAIT: Duration = Duration::from_secs(5);

/// What the handlers share: the channel to the core task and the client authority, if
/// requests must be signed.
#[derive(Clone)]
struct ApiState {
    core: mpsc::Sender<Query>,
    client_authority: Option<ClientAuthority>,
}

/// The routes, talking to the core task through `core`. With a `client_authority`,
/// `POST /ops` refuses requests it did not sign before they reach the core.
pub fn router(core: mpsc::Sender<Query>, client_authority: Option<ClientAuthority>) -> Router {
    Router::new()
        .route("/health", get(|| async { "ok" }))
        .route("/ops", post(submit))
        .route("/log", get(log))
        .route("/status", get(status))
        .with_state(ApiState {
            core,
            client_authority,
        })
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
