//! The report in a real browser: headless Chromium opens a generated run's report from
//! `file://`, and the page must run its script without a console error, show its key
//! elements, show attack strings as text without running them, and screenshot cleanly.
//! Chromium is required: without it this test fails (it never skips).

mod common;

use common::{write_run, Spec};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Where screenshots are kept for people to look at.
const SHOTS: &str = "/tmp/report-shots";
/// One browser run at most; a hung browser fails the test rather than stalling it.
const BROWSER_LIMIT: Duration = Duration::from_secs(25);

fn chromium() -> PathBuf {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .map(|dir| dir.join("chromium"))
        .find(|p| p.is_file())
        .unwrap_or_else(|| {
            panic!(
                "chromium is not installed (not found on PATH): the browser test of the HTML \
                 report needs it and does not skip; install it with `apt-get install -y chromium`"
            )
        })
}

/// What the browser printed: the DOM after the scripts ran, and its log.
struct Page {
    dom: String,
    log: String,
    took: Duration,
}

/// Runs headless Chromium on `url` with `extra` arguments, in a fresh profile.
fn browse(url: &str, extra: &[String]) -> Page {
    let profile = tempfile::tempdir().unwrap();
    let started = Instant::now();
    let mut child = Command::new(chromium())
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--no-first-run",
            "--enable-logging=stderr",
            "--v=0",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .args(extra)
        .arg(url)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("starting chromium");
    let mut stdout = child.stdout.take().unwrap();
    let mut stderr = child.stderr.take().unwrap();
    let out = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = stdout.read_to_string(&mut s);
        s
    });
    let err = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = stderr.read_to_string(&mut s);
        s
    });
    loop {
        if child.try_wait().unwrap().is_some() {
            break;
        }
        if started.elapsed() > BROWSER_LIMIT {
            let _ = child.kill();
            let _ = child.wait();
            panic!("chromium did not finish {url} within {BROWSER_LIMIT:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    Page {
        dom: out.join().unwrap(),
        log: err.join().unwrap(),
        took: started.elapsed(),
    }
}

fn dump(url: &str) -> Page {
    browse(url, &["--dump-dom".into()])
}

/// Everything wrong with a loaded report page.
fn problems(page: &Page) -> Vec<String> {
    let mut found: Vec<String> = page
        .log
        .lines()
        .filter(|l| l.contains(":CONSOLE"))
        .map(|l| format!("console: {l}"))
        .collect();
    if page.dom.contains("class=\"js-error\"") {
        found.push("the page's error hook caught a script error".into());
    }
    if !page.dom.contains("data-report-ready=") {
        found.push("the report's script did not finish".into());
    }
    if page.dom.contains("id=\"pwned\"") {
        found.push("an injected script ran".into());
    }
    found
}

fn url(path: &Path) -> String {
    format!("file://{}", path.display())
}

fn screenshot(page_url: &str, name: &str) -> PathBuf {
    std::fs::create_dir_all(SHOTS).unwrap();
    let shot = Path::new(SHOTS).join(name);
    let _ = std::fs::remove_file(&shot);
    browse(
        page_url,
        &[
            format!("--screenshot={}", shot.display()),
            "--window-size=1400,2000".into(),
        ],
    );
    let bytes =
        std::fs::read(&shot).unwrap_or_else(|e| panic!("no screenshot {}: {e}", shot.display()));
    assert!(
        bytes.starts_with(b"\x89PNG") && bytes.len() > 20_000,
        "{} looks empty",
        shot.display()
    );
    shot
}

#[test]
fn a_violation_report_runs_clean_and_shows_attacks_as_text() {
    let dir = tempfile::tempdir().unwrap();
    write_run(dir.path(), &Spec::full(300));
    let report = traitor_reports::write_run_report(dir.path()).unwrap();
    let page = dump(&url(&report));
    assert_eq!(problems(&page), Vec::<String>::new(), "{}", page.log);
    for id in [
        "header",
        "overall",
        "verdicts",
        "violations",
        "violation-0-svg",
        "timeline-svg",
        "details",
        "latency-svg",
        "throughput-svg",
        "heat-sent",
        "heat-memory",
        "faults",
        "logs",
    ] {
        assert!(
            page.dom.contains(&format!("id=\"{id}\"")),
            "#{id} is not on the page"
        );
    }
    // The blocked op is selected on load: the script filled the details panel.
    assert!(page.dom.contains("this op cannot be linearized"));
    // Attack strings from the logs and the history, as text (serialised escaped).
    for text in [
        "&lt;script&gt;alert(1)&lt;/script&gt;",
        "\"&gt;&lt;img src=x onerror=alert(1)&gt;",
        "document.createElement('p')).id='pw'+'ned'",
    ] {
        assert!(page.dom.contains(text), "{text:?} is not shown as text");
    }
    let shot = screenshot(&url(&report), "browser-violation-300.png");
    println!("screenshot: {}", shot.display());
}

/// A link to an op opens its details; values are written as text.
#[test]
fn an_op_link_opens_its_details() {
    let dir = tempfile::tempdir().unwrap();
    write_run(dir.path(), &Spec::full(120));
    let report = traitor_reports::write_run_report(dir.path()).unwrap();
    let history = std::fs::read_to_string(dir.path().join("history.jsonl")).unwrap();
    let attacked: serde_json::Value = history
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .find(|e| e["type"] == "invoke" && e["value"] == common::ATTR_ATTACK)
        .unwrap();
    let page = dump(&format!("{}#op={}", url(&report), attacked["index"]));
    assert_eq!(problems(&page), Vec::<String>::new(), "{}", page.log);
    let details = &page.dom[page.dom.find("id=\"details-body\"").unwrap()..];
    assert!(
        details.contains(&format!("#{} p901 write kx", attacked["index"])),
        "{}",
        &details[..400.min(details.len())]
    );
}

/// The checks above can fail: a script error and an executed injection are both caught.
#[test]
fn the_page_checks_catch_errors_and_executed_injections() {
    let dir = tempfile::tempdir().unwrap();
    let broken = dir.path().join("broken.html");
    std::fs::write(
        &broken,
        "<html><body><ul id=\"js-errors\"></ul><script>null.x</script></body></html>",
    )
    .unwrap();
    let found = problems(&dump(&url(&broken)));
    assert!(
        found.iter().any(|p| p.contains("Uncaught TypeError")),
        "{found:?}"
    );
    let injected = dir.path().join("injected.html");
    std::fs::write(
        &injected,
        format!(
            "<html data-report-ready=\"1\"><body>{}</body></html>",
            common::MARKER_SCRIPT
        ),
    )
    .unwrap();
    let found = problems(&dump(&url(&injected)));
    assert_eq!(found, vec!["an injected script ran".to_string()]);
}

/// A 10,000-op run's report loads quickly: printed for the record, bounded loosely.
#[test]
fn a_ten_thousand_op_report_loads() {
    let dir = tempfile::tempdir().unwrap();
    write_run(dir.path(), &Spec::full(10_000));
    let report = traitor_reports::write_run_report(dir.path()).unwrap();
    let size = std::fs::metadata(&report).unwrap().len();
    let blank = dir.path().join("blank.html");
    std::fs::write(&blank, "<html><body><p>blank</p></body></html>").unwrap();
    let baseline = dump(&url(&blank)).took;
    let page = dump(&url(&report));
    assert_eq!(problems(&page), Vec::<String>::new(), "{}", page.log);
    assert!(page.dom.contains("timeline aggregated"));
    println!(
        "10,000-op report: {size} bytes; headless load + dump {:?} (a blank page: {baseline:?})",
        page.took
    );
    assert!(page.took < Duration::from_secs(15), "{:?}", page.took);
    screenshot(&url(&report), "browser-10000.png");
}

/// The campaign report: loads clean, shows the matrix, the false negatives and positives
/// with links to their runs, and the evidence's attack strings as text.
#[test]
fn a_campaign_report_with_a_false_negative_runs_clean() {
    let dir = tempfile::tempdir().unwrap();
    common::campaign::write_summary(dir.path());
    let report = traitor_reports::write_campaign_report(dir.path()).unwrap();
    let page = dump(&url(&report));
    assert_eq!(problems(&page), Vec::<String>::new(), "{}", page.log);
    for id in [
        "header",
        "matrix",
        "false-positives",
        "false-negatives",
        "confusion",
        "detectors",
        "runs",
        "outcome-filter",
    ] {
        assert!(
            page.dom.contains(&format!("id=\"{id}\"")),
            "#{id} is not on the page"
        );
    }
    assert!(page
        .dom
        .contains("href=\"pbft-viewchange-drops-prepared-crash-primary-n4-s2/report.html\""));
    assert!(page.dom.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
    let shot = screenshot(&url(&report), "campaign-false-negative.png");
    println!("screenshot: {}", shot.display());
}

/// Measures the laid-out page: per plot, the adversary marks outside their lanes, the
/// marks meeting an op, a client lane or a rate line, the actions the marks count, the
/// fault bands, and the most bands stacked under one op. Run with the report's nonce, as
/// the page's own scripts are.
const PROBE: &str = r#"(function () {
  function box(e) { return e.getBoundingClientRect(); }
  function meets(a, b) { return a.left < b.right && b.left < a.right && a.top < b.bottom && b.top < a.bottom; }
  function within(a, b) { return a.left >= b.left - 0.5 && a.right <= b.right + 0.5 && a.top >= b.top - 0.5 && a.bottom <= b.bottom + 0.5; }
  var found = [];
  ['timeline-svg', 'latency-svg', 'throughput-svg'].forEach(function (id) {
    var svg = document.getElementById(id);
    var all = function (sel) { return Array.prototype.slice.call(svg.querySelectorAll(sel)); };
    var lanes = all('.adv-lane').map(box);
    var marks = all('.act rect').map(box);
    var ops = all('.op, .pt, .rate, .lane').map(box);
    var bands = all('.fault').map(box);
    var outside = marks.filter(function (m) { return !lanes.some(function (l) { return within(m, l); }); }).length;
    var covering = marks.filter(function (m) { return ops.some(function (o) { return meets(m, o); }); }).length;
    var counted = all('.act').reduce(function (n, g) { return n + Number(g.getAttribute('data-count')); }, 0);
    var stacked = all('.op, .pt').reduce(function (most, o) {
      var b = box(o), x = (b.left + b.right) / 2, y = (b.top + b.bottom) / 2;
      var under = bands.filter(function (f) { return f.left <= x && x <= f.right && f.top <= y && y <= f.bottom; }).length;
      return Math.max(most, under);
    }, 0);
    found.push(id + ' lanes=' + lanes.length + ' marks=' + marks.length + ' outside=' + outside +
      ' covering=' + covering + ' counted=' + counted + ' bands=' + bands.length + ' stacked=' + stacked);
  });
  document.documentElement.setAttribute('data-probe', found.join(';'));
  document.querySelector('.act').dispatchEvent(new MouseEvent('click', { bubbles: true }));
})();"#;

/// A run under an adversary that acted thousands of times: its actions sit in their lane
/// above each plot, all counted, touching no op, client lane or rate line; only the two
/// nemesis faults are bands. Drawn as bands (as before), every plot would be a block of
/// thousands of stacked bands with no mark in any lane, and this fails.
#[test]
fn adversary_actions_stay_in_their_lanes_off_the_ops() {
    const ACTIONS: usize = 3000;
    let dir = tempfile::tempdir().unwrap();
    write_run(
        dir.path(),
        &Spec {
            adversary_actions: ACTIONS,
            ..Spec::full(1500)
        },
    );
    let report = traitor_reports::write_run_report(dir.path()).unwrap();
    let html = std::fs::read_to_string(&report).unwrap();
    let nonce = html
        .split("nonce=\"")
        .nth(1)
        .and_then(|s| s.split('"').next())
        .expect("the report's scripts carry a nonce");
    let probed = dir.path().join("probed.html");
    std::fs::write(
        &probed,
        html.replace(
            "</body>",
            &format!("<script nonce=\"{nonce}\">{PROBE}</script></body>"),
        ),
    )
    .unwrap();
    let page = dump(&url(&probed));
    assert_eq!(problems(&page), Vec::<String>::new(), "{}", page.log);
    let probe = page
        .dom
        .split("data-probe=\"")
        .nth(1)
        .and_then(|s| s.split('"').next())
        .expect("the probe ran");
    println!("{probe}");
    for plot in probe.split(';') {
        let value = |name: &str| -> usize {
            plot.split(' ')
                .find_map(|kv| kv.strip_prefix(&format!("{name}=")))
                .and_then(|v| v.parse().ok())
                .unwrap_or_else(|| panic!("{name} missing in {plot}"))
        };
        assert_eq!(value("bands"), common::NEMESIS_FAULTS, "bands: {plot}");
        assert!(value("stacked") <= 1, "bands stacked over an op: {plot}");
        assert_eq!(value("lanes"), 1, "one lane for node 3: {plot}");
        assert!(value("marks") > 50, "{plot}");
        assert_eq!(value("outside"), 0, "marks outside their lane: {plot}");
        assert_eq!(value("covering"), 0, "marks over the ops: {plot}");
        assert_eq!(
            value("counted"),
            ACTIONS + 1,
            "every action and the split: {plot}"
        );
    }
    // Tooltips and the table show the actions' attack strings as text; a click on a mark
    // lists its actions in the details panel.
    assert!(page
        .dom
        .contains("payload=&lt;script&gt;alert(1)&lt;/script&gt;"));
    let details = &page.dom[page.dom.find("id=\"details-body\"").unwrap()..];
    assert!(
        details.starts_with("id=\"details-body\"><h4>traitor n3 ")
            && details.contains("<pre class=\"actions\">"),
        "{}",
        &details[..300.min(details.len())]
    );
    let shot = screenshot(&url(&report), "browser-adversary-3000.png");
    println!("screenshot: {}", shot.display());
}
