//! The traitor node API over HTTP: /health, /ops (orders, on the commander), /log, /status.

use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use generals_node::effects::Decision;
use generals_node::messages::{Origin, Plan};
use serde::Deserialize;
use serde_json::{json, Value};

use crate::node::Node;

/// The API routes of `node`.
pub fn router(node: Arc<Node>) -> Router {
    Router::new()
        .route("/health", get(health))
        .route("/ops", post(post_op))
        .route("/log", get(get_log))
        .route("/status", get(get_status))
        .with_state(node)
}

/// How long the commander holds an order while a peer link has never been up.
const ORDER_WAITS_FOR_LINKS: Duration = Duration::from_secs(2);

/// `ok` once every peer link has been up; 503 before, naming the peers still missing, so
/// that whoever starts the cluster waits for it before giving the first order.
async fn health(State(node): State<Arc<Node>>) -> (StatusCode, String) {
    if node.links().all_up() {
        return (StatusCode::OK, "ok".into());
    }
    (
        StatusCode::SERVICE_UNAVAILABLE,
        format!(
            "connecting: no link yet to general(s) {:?}",
            node.links().never_up()
        ),
    )
}

#[derive(Deserialize)]
struct OpRequest {
    client: String,
    req: u64,
    op: Op,
}

#[derive(Deserialize)]
struct Op {
    f: String,
    value: Option<String>,
}

fn bad_request(error: String) -> (StatusCode, Json<Value>) {
    (
        StatusCode::BAD_REQUEST,
        Json(json!({"status": "fail", "error": error})),
    )
}

async fn post_op(State(node): State<Arc<Node>>, body: Bytes) -> (StatusCode, Json<Value>) {
    let request: OpRequest = match serde_json::from_slice(&body) {
        Ok(request) => request,
        Err(e) => return bad_request(format!("malformed request: {e}")),
    };
    if request.op.f != "order" {
        return bad_request(format!(
            "unknown op {:?}: generals only take \"order\"",
            request.op.f
        ));
    }
    let Some(value) = request.op.value.as_deref().and_then(Plan::parse) else {
        return bad_request("an order's value is \"attack\" or \"retreat\"".into());
    };
    let origin = Origin {
        client: request.client,
        req: request.req,
    };
    // OM and SM assume every loyal general's message arrives within a round: an order sent
    // before every link is up could be lost or late, so it waits (nothing is sent if not).
    let commands = {
        let core = node.core();
        core.config().id == core.config().commander
    };
    if commands && !node.links().wait_all_up(ORDER_WAITS_FOR_LINKS).await {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({
                "status": "fail",
                "error": format!(
                    "not connected yet to general(s) {:?}; no order was given",
                    node.links().never_up()
                ),
            })),
        );
    }
    let outcome = node.core().order(origin, value);
    match outcome {
        Ok((decision, effects)) => {
            node.apply(effects);
            let value = json!({"instance": decision.instance, "decision": decision.value.as_str()});
            (
                StatusCode::OK,
                Json(json!({"status": "ok", "value": value})),
            )
        }
        Err(not) => (
            StatusCode::OK,
            Json(json!({
                "status": "fail",
                "error": format!("not the commander; send orders to node {}", not.commander),
            })),
        ),
    }
}

#[derive(Deserialize)]
struct LogQuery {
    from: Option<u64>,
}

/// A decision as a log entry of the node API.
fn log_entry(decision: &Decision) -> Value {
    json!({
        "seq": decision.instance,
        "view": 0,
        "digest": decision.value.digest_hex(),
        "client": decision.origin.as_ref().map(|o| o.client.clone()),
        "req": decision.origin.as_ref().map(|o| o.req),
        "op": {"f": "order", "value": decision.value.as_str()},
    })
}

async fn get_log(State(node): State<Arc<Node>>, Query(query): Query<LogQuery>) -> Json<Value> {
    let core = node.core();
    let entries: Vec<Value> = core
        .decided()
        .range(query.from.unwrap_or(0)..)
        .map(|(_, decision)| log_entry(decision))
        .collect();
    Json(json!({"entries": entries, "committed": core.decided().len()}))
}

async fn get_status(State(node): State<Arc<Node>>) -> Json<Value> {
    let core = node.core();
    let config = core.config();
    Json(json!({
        "id": config.id,
        "n": config.n,
        "f": config.m,
        "view": 0,
        "primary": config.commander,
        "committed": core.decided().len(),
        "algo": match config.algo {
            generals_node::general::Algo::Om => "om",
            generals_node::general::Algo::Sm => "sm",
        },
        "m": config.m,
        "rounds": config.rounds(),
    }))
}
