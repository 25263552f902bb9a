//! The HTML report through its public face: escaping, self-containment, sections,
//! tolerance of damaged folders, aggregation of large runs.

mod common;

use common::{write_run, Spec, ATTR_ATTACK, MARKER_SCRIPT, SCRIPT_ATTACK};
use std::time::Instant;
use traitor_reports::html::AGGREGATE_ABOVE;
use traitor_reports::{render_run_report, write_run_report, ReportError};

fn report(spec: &Spec) -> (tempfile::TempDir, String) {
    let dir = tempfile::tempdir().unwrap();
    write_run(dir.path(), spec);
    let html = render_run_report(dir.path()).unwrap();
    (dir, html)
}

#[test]
fn attack_strings_in_logs_and_history_values_are_escaped() {
    let (_dir, html) = report(&Spec::full(200));
    for raw in [
        SCRIPT_ATTACK,
        ATTR_ATTACK,
        MARKER_SCRIPT,
        "<img src=x",
        "onerror=\"",
    ] {
        assert!(!html.contains(raw), "raw {raw:?} reached the page");
    }
    // In the logs (text) and in the timeline titles and violation (history values).
    let escaped_script = "&lt;script&gt;alert(1)&lt;/script&gt;";
    let escaped_attr = "&quot;&gt;&lt;img src=x onerror=alert(1)&gt;";
    let logs = &html[html.find("id=\"logs\"").unwrap()..];
    assert!(logs.contains(escaped_script) && logs.contains(escaped_attr));
    let timeline =
        &html[html.find("id=\"timeline-svg\"").unwrap()..html.find("id=\"plots\"").unwrap()];
    assert!(
        timeline.contains("&amp;quot;")
            || timeline.contains(escaped_attr)
            || timeline.contains("&quot;&amp;gt;"),
        "the history value shows up escaped in the op titles"
    );
    assert!(timeline.contains("&lt;script&gt;") || timeline.contains("&amp;lt;script"));
    // Only our two scripts and the data block open a <script> tag.
    assert_eq!(html.matches("<script").count(), 3);
    let data_start = html.find("id=\"report-data\">").unwrap();
    let data = &html[data_start..html[data_start..].find("</script>").unwrap() + data_start];
    assert!(data.contains("\\u003cscript\\u003ealert(1)\\u003c/script\\u003e"));
}

#[test]
fn no_external_url_and_no_external_resource() {
    let (_dir, html) = report(&Spec::full(300));
    assert!(!html.contains("http://") && !html.contains("https://"));
    assert!(!html.contains("src=\""), "nothing is loaded from anywhere");
    for (at, _) in html.match_indices("href=\"") {
        assert_eq!(&html[at + 6..at + 7], "#", "links stay in the page");
    }
    assert!(html.contains("Content-Security-Policy") && html.contains("default-src 'none'"));
}

#[test]
fn sections_are_present() {
    let (_dir, html) = report(&Spec::full(300));
    for id in [
        "header",
        "overall",
        "verdicts",
        "violations",
        "violation-0-svg",
        "timeline",
        "timeline-svg",
        "details",
        "plots",
        "latency-svg",
        "throughput-svg",
        "heatmaps",
        "heat-sent",
        "heat-received",
        "heat-altered",
        "heat-memory",
        "heat-cpu",
        "faults",
        "logs",
        "report-data",
    ] {
        assert!(html.contains(&format!("id=\"{id}\"")), "missing #{id}");
    }
    assert!(html.contains("check violated") && html.contains("linearizability"));
    assert!(html.contains("partition-halves n0,n1") && html.contains("crash-primary n0"));
    assert!(
        html.contains("reached its bound"),
        "the trace's truncation is said"
    );
    assert!(
        html.contains("the first 502 left out"),
        "node 3's long log is cut with a note"
    );
    assert!(
        !html.contains("id=\"detectors\""),
        "no detector section without findings"
    );
    assert!(
        html.contains("class=\"op ok blocked\"")
            || html.contains("class=\"op ok blocked selected\"")
    );
    assert!(
        html.matches(" window\"").count() >= 2,
        "the window's ops are highlighted"
    );
}

#[test]
fn detector_findings_are_shown_beside_the_truth() {
    let dir = tempfile::tempdir().unwrap();
    write_run(dir.path(), &Spec::full(100));
    std::fs::write(
        dir.path().join("detectors.json"),
        r#"{"findings":[{"detector":"crash","nodes":[0],"time":5000000000,"summary":"node 0 silent <b>"}]}"#,
    )
    .unwrap();
    let html = render_run_report(dir.path()).unwrap();
    let section = &html[html.find("id=\"detectors\"").unwrap()..];
    assert!(section.contains("node 0 silent &lt;b&gt;") && section.contains("Injected (truth)"));
    assert!(!section.contains("Score against"), "no score without one");
}

#[test]
fn the_detectors_score_is_a_table() {
    let dir = tempfile::tempdir().unwrap();
    write_run(dir.path(), &Spec::full(100));
    std::fs::write(
        dir.path().join("detectors.json"),
        r#"{"findings":[{"detector":"crash","nodes":[2],"time":5000000000,"summary":"node 2 stopped"}],
            "score":{"run":"r","nodes":4,"faulty":[],"detectors":[{"detector":"crash","true_positives":[2],
            "false_positives":[0],"false_negatives":[],"excused":[],"latencies":[{"node":2,"ns":1500000000}]}]}}"#,
    )
    .unwrap();
    let html = render_run_report(dir.path()).unwrap();
    let section = &html[html.find("id=\"detectors\"").unwrap()..];
    let table = &section[section.find("Score against").expect("a score table")..];
    assert!(
        table.contains("<td>crash</td><td>[2]</td><td>[0]</td><td>-</td>"),
        "{table}"
    );
    assert!(table.contains("node 2: 1.50 s"), "{table}");
}

#[test]
fn missing_and_cut_files_are_named_and_the_rest_renders() {
    let dir = tempfile::tempdir().unwrap();
    write_run(
        dir.path(),
        &Spec {
            ops: 50,
            violation: false,
            logs: false,
            trace: false,
            adversary_actions: 0,
        },
    );
    for gone in ["verdict.json", "metrics.jsonl", "faults.jsonl"] {
        std::fs::remove_file(dir.path().join(gone)).unwrap();
    }
    let history = dir.path().join("history.jsonl");
    let mut text = std::fs::read_to_string(&history).unwrap();
    text.push_str("{\"process\":1,\"type\":\"inv");
    std::fs::write(&history, text).unwrap();
    let html = render_run_report(dir.path()).unwrap();
    for said in [
        "verdict.json</code>: missing",
        "metrics.jsonl</code>: missing",
        "faults.jsonl</code>: missing",
        "trace.jsonl</code>: missing",
        "logs/</code>: missing",
        "truncated last line dropped",
        "not checked",
    ] {
        assert!(html.contains(said), "the page should say {said:?}");
    }
    assert!(
        html.contains("id=\"timeline-svg\""),
        "the history still draws"
    );

    std::fs::remove_file(&history).unwrap();
    std::fs::write(dir.path().join("manifest.json"), "{\"run_id\": \"cut").unwrap();
    std::fs::write(dir.path().join("history.jsonl"), "").unwrap();
    let html = render_run_report(dir.path()).unwrap();
    assert!(html.contains("manifest.json</code>: unreadable"));
}

#[test]
fn a_folder_that_is_no_run_is_an_error_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let err = render_run_report(dir.path()).unwrap_err();
    assert!(matches!(err, ReportError::NotARun { .. }));
    assert!(err.to_string().contains("not a run folder"));
}

#[test]
fn write_puts_report_html_in_the_folder() {
    let dir = tempfile::tempdir().unwrap();
    write_run(dir.path(), &Spec::full(40));
    let path = write_run_report(dir.path()).unwrap();
    assert_eq!(path, dir.path().join("report.html"));
    assert!(std::fs::read_to_string(path)
        .unwrap()
        .starts_with("<!DOCTYPE html>"));
}

/// Below the threshold every op is an element; above it lanes are binned.
#[test]
fn aggregation_kicks_in_beyond_the_threshold() {
    let spec = |ops| Spec {
        ops,
        violation: false,
        logs: false,
        trace: false,
        adversary_actions: 0,
    };
    let (_small, small) = report(&spec(AGGREGATE_ABOVE - 100));
    let timeline = |html: &str| {
        let start = html.find("id=\"timeline-svg\"").unwrap();
        html[start..start + html[start..].find("</svg>").unwrap()].to_string()
    };
    let small_ops = timeline(&small).matches("data-op=").count();
    assert!(
        small_ops >= AGGREGATE_ABOVE - 100,
        "{small_ops} op elements"
    );
    assert!(!small.contains("timeline aggregated"));

    let (_big, big) = report(&spec(AGGREGATE_ABOVE + 500));
    let t = timeline(&big);
    assert!(big.contains("timeline aggregated"));
    // Only the unknown ops' tails (about 1% of ops) remain elements of their own.
    let singles = t.matches("data-op=").count();
    assert!(
        singles < (AGGREGATE_ABOVE + 500) / 20,
        "{singles} op elements when binned"
    );
    assert!(t.matches("data-bin=").count() > 0);
    assert!(!big[big.find("id=\"latency-svg\"").unwrap()..].contains("<circle"));
}

/// The figures for a 10,000-op run: size and render time, bounded and printed.
#[test]
fn a_ten_thousand_op_run_stays_small_and_quick() {
    let dir = tempfile::tempdir().unwrap();
    write_run(dir.path(), &Spec::full(10_000));
    let started = Instant::now();
    let html = render_run_report(dir.path()).unwrap();
    let elapsed = started.elapsed();
    println!(
        "10,000-op report: {} bytes ({:.2} MiB), rendered in {:?}",
        html.len(),
        html.len() as f64 / 1048576.0,
        elapsed
    );
    assert!(html.len() < 4 * 1024 * 1024, "{} bytes", html.len());
    assert!(elapsed.as_secs() < 10, "{elapsed:?}");
}

/// Writes example reports for people to open (`REPORT_SAMPLES=dir`); a no-op otherwise.
#[test]
fn write_samples_when_asked() {
    let Ok(out) = std::env::var("REPORT_SAMPLES") else {
        return;
    };
    for ops in [300, 10_000] {
        let dir = std::path::Path::new(&out).join(format!("run-{ops}"));
        std::fs::create_dir_all(&dir).unwrap();
        write_run(&dir, &Spec::full(ops));
        write_run_report(&dir).unwrap();
    }
}
