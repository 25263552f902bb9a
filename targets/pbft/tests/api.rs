//! `POST /ops` over loopback against a one-replica cluster: with `--client-key` only requests
//! signed by the client authority are accepted; without it unsigned requests still work.
//! Such a replica has no peer link to wait for, so `GET /health` is ok at once.

mod common;

use clap::Parser;
use common::{body, get, get_json, post, write};
use pbft_node::cli::Args;
use pbft_node::crypto::{public_key_hex, sign_request};
use pbft_node::{api, node};
use reqwest::StatusCode;
use serde_json::json;

const REPLICA_SECRET: [u8; 32] = [3; 32];
const AUTHORITY_SECRET: [u8; 32] = [4; 32];

fn args(extra: &[&str]) -> Result<Args, clap::Error> {
    let key = hex::encode(REPLICA_SECRET);
    let pubkey = public_key_hex(&REPLICA_SECRET);
    let mut argv = vec![
        "pbft-node",
        "--id",
        "0",
        "--n",
        "1",
        "--listen",
        "127.0.0.1:0",
        "--api",
        "127.0.0.1:0",
        "--peers",
        "127.0.0.1:1",
        "--key",
        &key,
        "--pubkeys",
        &pubkey,
    ];
    argv.extend_from_slice(extra);
    Args::try_parse_from(argv)
}

/// Starts a one-replica node with `extra` flags and returns its API base URL.
async fn start_node(extra: &[&str]) -> String {
    let settings = args(extra).unwrap().validate().unwrap();
    let client_authority = settings.client_authority;
    let node = node::start(settings).await.unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, api::router(node, client_authority)).await });
    format!("http://{addr}")
}

#[tokio::test]
async fn ops_need_the_client_authority_signature_when_a_client_key_is_set() {
    let authority = public_key_hex(&AUTHORITY_SECRET);
    let base = start_node(&["--client-key", &authority]).await;
    let refused = json!({"status": "fail", "error": "request not signed by the client authority"});

    let unsigned = body(&write("c0", 1));
    assert_eq!(unsigned.get("sig"), None);
    assert_eq!(
        post(&base, &unsigned).await,
        (StatusCode::BAD_REQUEST, refused.clone())
    );

    let by_someone_else = sign_request(&[5; 32], write("c0", 1));
    assert_eq!(
        post(&base, &body(&by_someone_else)).await,
        (StatusCode::BAD_REQUEST, refused.clone())
    );

    let mut moved_to_another_op = sign_request(&AUTHORITY_SECRET, write("c0", 1));
    moved_to_another_op.op = write("c0", 2).op;
    assert_eq!(
        post(&base, &body(&moved_to_another_op)).await,
        (StatusCode::BAD_REQUEST, refused.clone())
    );

    let mut not_hex = body(&write("c0", 1));
    not_hex["sig"] = json!("zz");
    assert_eq!(
        post(&base, &not_hex).await,
        (StatusCode::BAD_REQUEST, refused)
    );

    let signed = sign_request(&AUTHORITY_SECRET, write("c0", 1));
    assert_eq!(
        post(&base, &body(&signed)).await,
        (StatusCode::OK, json!({"status": "ok", "value": 1}))
    );
    let log = get_json(&base, "/log?from=1").await;
    assert_eq!(
        log["committed"], 1,
        "only the signed request executed: {log}"
    );
    assert_eq!(log["entries"][0]["op"]["value"], 1);
}

#[tokio::test]
async fn ops_need_no_signature_without_a_client_key() {
    let base = start_node(&[]).await;
    // A lone replica has no peer link to wait for.
    assert_eq!(
        get(&base, "/health").await,
        Some((StatusCode::OK, "ok".into()))
    );
    assert_eq!(
        post(&base, &body(&write("c0", 7))).await,
        (StatusCode::OK, json!({"status": "ok", "value": 7}))
    );
}

#[test]
fn a_bad_client_key_is_refused_naming_the_flag() {
    for bad in ["xyz", "abcd"] {
        let err = args(&["--client-key", bad])
            .unwrap()
            .validate()
            .err()
            .unwrap();
        assert!(err.starts_with("--client-key: "), "{err}");
    }
}
