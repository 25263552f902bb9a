//! What the tests that talk to a pbft-node API over HTTP share: a client request, its JSON
//! body, and `POST /ops` and `GET` against a node.

use pbft_node::messages::{Op, Request};
use reqwest::StatusCode;
use serde_json::{json, Value};

/// Request 1 of `client`: write `value` to key `k`, unsigned.
pub fn write(client: &str, value: i64) -> Request {
    Request {
        client: client.into(),
        req: 1,
        op: Op::Write {
            key: "k".into(),
            value: json!(value),
        },
        sig: None,
    }
}

/// `request` as the JSON body of `POST /ops`.
pub fn body(request: &Request) -> Value {
    serde_json::to_value(request).unwrap()
}

/// `POST /ops` at the node whose API is at `base` (`http://ip:port`): status and JSON answer.
pub async fn post(base: &str, body: &Value) -> (StatusCode, Value) {
    let answer = reqwest::Client::new()
        .post(format!("{base}/ops"))
        .json(body)
        .send()
        .await
        .unwrap();
    (answer.status(), answer.json().await.unwrap())
}

/// `GET path` at the node at `base`: status and body, or `None` if nothing answers.
pub async fn get(base: &str, path: &str) -> Option<(StatusCode, String)> {
    let answer = reqwest::get(format!("{base}{path}")).await.ok()?;
    Some((answer.status(), answer.text().await.ok()?))
}

/// `GET path` at the node at `base`, which must answer 200 with JSON.
pub async fn get_json(base: &str, path: &str) -> Value {
    let (status, text) = get(base, path).await.expect("the node answers");
    assert_eq!(status, StatusCode::OK, "GET {path}: {text}");
    serde_json::from_str(&text).unwrap()
}
