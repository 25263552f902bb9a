//! The campaign outputs built from a summary: the HTML report (escaped, self-contained,
//! every false positive and negative listed with a link to its run) and the JUnit file
//! (read back by a JUnit parser).

mod common;

use common::campaign::{write_summary, ATTACK};

#[test]
fn the_report_lists_misses_and_false_alarms_with_links_and_escapes_evidence() {
    let dir = tempfile::tempdir().unwrap();
    let summary = write_summary(dir.path());
    let path = traitor_reports::write_campaign_report(dir.path()).unwrap();
    let html = std::fs::read_to_string(path).unwrap();
    assert!(html.contains("GATE FAILED"));
    assert!(!html.contains(ATTACK), "evidence must be escaped");
    assert!(
        !html.contains("<script>alert"),
        "no attack string reaches the page raw"
    );
    assert!(html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
    assert!(
        !html.contains("http://") && !html.contains("https://"),
        "no network reference"
    );
    for (section, run) in [
        (
            "false-negatives",
            "pbft-viewchange-drops-prepared-crash-primary-n4-s2",
        ),
        ("false-positives", "pbft-correct-crash-primary-n4-s1"),
        ("errors", "pbft-correct-quiet-n4-s3"),
    ] {
        let start = html.find(&format!("<section id=\"{section}\"")).unwrap();
        let end = start + html[start..].find("</section>").unwrap();
        assert!(
            html[start..end].contains(&format!("href=\"{run}/report.html\"")),
            "{section} should link {run}"
        );
    }
    assert!(
        html.contains("caught 1 / 2 (50%)"),
        "the cell's detection rate"
    );
    assert!(html.contains("<th>crash</th>"), "detector scores shown");
    assert_eq!(summary.gate.false_negatives, 1);
}

#[test]
fn junit_has_one_case_per_run_and_failures_carry_evidence_and_folder() {
    let dir = tempfile::tempdir().unwrap();
    let summary = write_summary(dir.path());
    let xml = traitor_reports::campaign::junit(&summary, dir.path()).unwrap();
    let parsed = junit_parser::from_reader(std::io::Cursor::new(xml.as_bytes())).unwrap();
    assert_eq!(parsed.tests, summary.runs.len() as u64);
    assert_eq!(parsed.failures, 2, "one false positive, one false negative");
    assert_eq!(parsed.errors, 1);
    let cases: Vec<_> = parsed.suites.iter().flat_map(|s| &s.cases).collect();
    let missed = cases
        .iter()
        .find(|c| c.original_name == "pbft-viewchange-drops-prepared-crash-primary-n4-s2")
        .unwrap();
    let junit_parser::TestStatus::Failure(failure) = &missed.status else {
        panic!("the miss is a failure: {:?}", missed.status);
    };
    assert!(failure.message.contains("FALSE NEGATIVE"), "{failure:?}");
    assert!(
        failure.text.contains(&dir.path().display().to_string()),
        "{failure:?}"
    );
    assert!(
        failure.message.contains(ATTACK),
        "evidence kept verbatim: {failure:?}"
    );
    assert!(!xml.contains("<script>"), "and escaped in the XML");
}
