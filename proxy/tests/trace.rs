//! The bounded trace, and what it records of each message.

mod common;

use common::*;
use traitor_proxy::Framing;

#[tokio::test]
async fn the_trace_is_bounded_and_ends_with_a_truncation_marker() {
    let path =
        std::env::temp_dir().join(format!("traitor-proxy-trace-{}.jsonl", std::process::id()));
    let mut options = Options::framing(Framing::Len32Json);
    options.trace_path = Some(path.clone());
    options.trace_limit = 5;
    let cluster = Cluster::start(2, options).await;
    let (mut a, mut b) = cluster.connect(0, 1).await;
    cluster.proxy.links().drop(0, 1, 1.0);
    send_all(&mut a, &[json_message("prepare", 0)]).await;
    cluster.seen(0, 1, 1).await;
    cluster.proxy.links().drop(0, 1, 0.0);
    let frames: Vec<Vec<u8>> = (1..20).map(|i| json_message("commit", i)).collect();
    send_all(&mut a, &frames).await;
    for _ in 1..20 {
        read_len32(&mut b, PATIENCE).await.unwrap();
    }
    let stats = cluster.proxy.stats();
    cluster.proxy.shutdown().await;

    let text = std::fs::read_to_string(&path).unwrap();
    std::fs::remove_file(&path).unwrap();
    let lines: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 6, "{text}");
    assert_eq!(lines[0]["action"], "drop");
    assert_eq!(lines[0]["kind"], "prepare");
    assert_eq!(lines[0]["from"], 0);
    assert_eq!(lines[0]["to"], 1);
    assert_eq!(lines[0]["size"], json_message("prepare", 0).len());
    assert_eq!(lines[0]["round"], "seq=0");
    assert_eq!(lines[0]["claims"], 0);
    assert_eq!(lines[0]["digest"].as_str().map(str::len), Some(16));
    assert!(lines[0].get("malformed").is_none());
    for line in &lines[1..5] {
        assert_eq!(line["action"], "deliver");
        assert_eq!(line["kind"], "commit");
        assert!(line["time"].as_u64().unwrap() > 0);
    }
    assert_ne!(
        lines[1]["digest"], lines[2]["digest"],
        "seq 1 and seq 2 differ"
    );
    assert_eq!(lines[5]["truncated"], true);
    // The counters are never truncated.
    let link = stats.iter().find(|s| s.from == 0 && s.to == 1).unwrap();
    assert_eq!((link.messages, link.dropped), (20, 1));
}
