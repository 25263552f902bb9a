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

use crate::messages::{Op, Request};
use crate::node::Query;

/// How long `POST /ops` waits for execution before answering 504 "unknown".
pub const OP_WAIT: Duration = Duration::from_secs(5);

/// The routes, talking to the core task through `core`.
pub fn router(core: mpsc::Sender<Query>) -> Router {
    Router::new()
        .route("/health", get(|| async { "ok" }))
        .route("/ops", post(submit))
        .route("/log", get(log))
        .route("/status", get(status))
        .with_state(core)
}

fn unavailable() -> Response {
    (
        StatusCode::SERVICE_UNAVAILABLE,
        Json(json!({"status": "unknown", "error": "replica core stopped"})),
    )
        .into_response()
}

async fn submit(State(core): State<mpsc::Sender<Query>>, body: Bytes) -> Response {
    let request: Request = match serde_json::from_slice(&body) {
        Ok(r) => r,
        Err(e) => {
            return (
                StatusCode::BAD_REQUEST,
                Json(json!({"status": "fail", "error": format!("malformed request: {e}")})),
            )
                .into_response()
        }
    };
    if request.op == Op::Noop {
        return (
            StatusCode::BAD_REQUEST,
            Json(json!({"status": "fail", "error": "noop is not a client operation"})),
        )
            .into_response();
    }
    let (answer, result) = oneshot::channel();
    if core.send(Query::Submit { request, answer }).await.is_err() {
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

async fn log(
    State(core): State<mpsc::Sender<Query>>,
    UrlQuery(p): UrlQuery<LogParams>,
) -> Response {
    let (answer, report) = oneshot::channel();
    let from = p.from.unwrap_or(1);
    if core.send(Query::Log { from, answer }).await.is_err() {
        return unavailable();
    }
    match report.await {
        Ok(report) => Json(report).into_response(),
        Err(_) => unavailable(),
    }
}

async fn status(State(core): State<mpsc::Sender<Query>>) -> Response {
    let (answer, report) = oneshot::channel();
    if core.send(Query::Status(answer)).await.is_err() {
        return unavailable();
    }
    match report.await {
        Ok(report) => Json(report).into_response(),
        Err(_) => unavailable(),
    }
}
