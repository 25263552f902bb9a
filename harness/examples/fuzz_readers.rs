//! A mutation fuzzer for every reader of outside input: history lines (JSONL and EDN), run
//! folders (what `traitor check` reads) and campaign files. Inputs are valid files mutated
//! byte-wise and spliced with the hostile shapes of issue 20 (deep nesting, long numbers,
//! tag chains, huge sizes, endless lines). A panic, or an input taking over a second, is a
//! finding: it is counted and saved beside the current folder.
//!
//! Run (each reader, one million inputs or 30 minutes; peak memory from GNU time):
//!
//! ```text
//! cargo build --release -p traitor-harness --example fuzz_readers
//! for r in jsonl edn run-folder campaign; do
//!   nice -n 10 /usr/bin/time -v target/release/examples/fuzz_readers $r 1000000 1800
//! done
//! ```

use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};
use traitor_checkers::run_folder::RunFolder;
use traitor_checkers::Budget;
use traitor_harness::campaign::{file::CampaignFile, plan::plan};
use traitor_model::read::{parse_history, parse_line, parse_records, HistoryFormat};
use traitor_model::{CommitRead, FaultRecord};

/// One reader under test, fed one input at a time.
type Reader = Box<dyn FnMut(&[u8])>;

/// An input slower than this is reported as a hang.
const SLOW: Duration = Duration::from_secs(1);

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let reader = args.get(1).map(String::as_str).unwrap_or("");
    let inputs: u64 = args
        .get(2)
        .and_then(|n| n.parse().ok())
        .unwrap_or(1_000_000);
    // On a shared machine a time budget ends the run too (the issue's "or 30 minutes").
    let budget = args
        .get(3)
        .and_then(|s| s.parse().ok())
        .map_or(Duration::MAX, Duration::from_secs);
    let seed: u64 = args.get(4).and_then(|n| n.parse().ok()).unwrap_or(1);
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    // In memory where the machine has it: the run-folder reader writes a file per input.
    let work = tempfile::tempdir_in("/dev/shm")
        .or_else(|_| tempfile::tempdir())
        .expect("a temporary folder");
    let mut target: Reader = match reader {
        "jsonl" => Box::new(|input| history(input, HistoryFormat::Jsonl)),
        "edn" => Box::new(|input| history(input, HistoryFormat::Edn)),
        "run-folder" => run_folder(&repo, work.path()),
        "campaign" => campaign(&repo, work.path()),
        _ => {
            eprintln!(
                "usage: fuzz_readers jsonl|edn|run-folder|campaign [INPUTS] [SECONDS] [SEED]"
            );
            std::process::exit(2);
        }
    };
    let corpus = corpus(&repo, reader);
    std::panic::set_hook(Box::new(|_| {}));
    let mut rng = StdRng::seed_from_u64(seed);
    let (mut crashes, mut hangs, mut slowest) = (0u64, 0u64, Duration::ZERO);
    let started = Instant::now();
    let mut done = 0;
    for i in 0..inputs {
        if started.elapsed() > budget {
            break;
        }
        if i % 100_000 == 0 {
            eprintln!("{reader}: {i} inputs after {:.0?}", started.elapsed());
        }
        let input = mutate(&corpus[rng.random_range(0..corpus.len())], &mut rng);
        let at = Instant::now();
        let crashed = catch_unwind(AssertUnwindSafe(|| target(&input))).is_err();
        let took = at.elapsed();
        slowest = slowest.max(took);
        if crashed || took > SLOW {
            let kind = if crashed { "crash" } else { "hang" };
            *if crashed { &mut crashes } else { &mut hangs } += 1;
            let _ = std::fs::write(format!("fuzz-{reader}-{kind}-{i}"), &input);
        }
        done += 1;
    }
    let secs = started.elapsed().as_secs_f64();
    println!(
        "{reader}: {done} inputs in {secs:.1} s ({:.0}/s), crashes {crashes}, hangs (> {SLOW:?}) {hangs}, slowest {slowest:?}",
        done as f64 / secs
    );
    if crashes + hangs > 0 {
        std::process::exit(1);
    }
}

/// A history line reader on the whole input, as `traitor check` reads a file.
fn history(input: &[u8], format: HistoryFormat) {
    let text = String::from_utf8_lossy(input);
    let _ = parse_history(&text);
    for line in text.lines().take(4) {
        let _ = parse_line(format, line);
    }
    let _ = parse_records::<CommitRead>(&text);
}

/// Each input replaces one file of a copy of the example run folder, which is then loaded
/// and checked as `traitor check` does.
fn run_folder(repo: &Path, work: &Path) -> Reader {
    let sample = repo.join("examples/histories/pbft-sample-run");
    let dir = work.join("run");
    std::fs::create_dir_all(&dir).expect("run folder");
    let files = [
        "manifest.json",
        "history.jsonl",
        "commits.jsonl",
        "faults.jsonl",
    ];
    let mut turn = 0;
    let budget = Budget::new(Duration::from_millis(200), 64 << 20);
    let originals = files.map(|name| std::fs::read(sample.join(name)).expect("the sample"));
    for (name, text) in files.iter().zip(&originals) {
        std::fs::write(dir.join(name), text).expect("copying the sample");
    }
    Box::new(move |input| {
        // Restore the file the last input replaced, then replace the next one.
        let _ = std::fs::write(dir.join(files[turn]), &originals[turn]);
        turn = (turn + 1) % files.len();
        std::fs::write(dir.join(files[turn]), input).expect("writing the input");
        if let Ok(run) = RunFolder::load(&dir) {
            let _ = run.check(None, &budget);
            let _ = run.read_records::<FaultRecord>("faults.jsonl");
        }
    })
}

/// Each input is a campaign file beside copies of the example folders it names, read,
/// validated and planned as `traitor campaign` does before anything runs.
fn campaign(repo: &Path, work: &Path) -> Reader {
    let examples = work.join("examples");
    std::fs::create_dir_all(&examples).expect("examples folder");
    for (link, to) in [
        (work.join("targets"), repo.join("targets")),
        (examples.join("plugins"), repo.join("examples/plugins")),
        (examples.join("nemesis"), repo.join("examples/nemesis")),
    ] {
        std::os::unix::fs::symlink(to, link).expect("linking the examples");
    }
    let path = examples.join("campaign.toml");
    Box::new(move |input| {
        std::fs::write(&path, input).expect("writing the input");
        if let Ok(file) = CampaignFile::read(&path) {
            let _ = file.name(&path);
            let _ = file.timing();
            let _ = plan(&file, &path);
        }
    })
}

/// Valid inputs of the reader, to mutate from.
fn corpus(repo: &Path, reader: &str) -> Vec<Vec<u8>> {
    let read = |rel: &str| std::fs::read(repo.join(rel)).expect("a corpus file");
    let files: Vec<PathBuf> = match reader {
        "jsonl" => vec!["examples/histories/cas-register-ok.jsonl".into()],
        "edn" => vec![
            "examples/histories/jepsen-independent-ok.edn".into(),
            "examples/histories/stale-read.edn".into(),
        ],
        "run-folder" => [
            "manifest.json",
            "history.jsonl",
            "commits.jsonl",
            "faults.jsonl",
        ]
        .iter()
        .map(|f| format!("examples/histories/pbft-sample-run/{f}").into())
        .collect(),
        _ => ["ci-gate", "adversary-matrix", "detectors", "generals-table"]
            .iter()
            .map(|f| format!("examples/{f}.toml").into())
            .collect(),
    };
    files.iter().map(|f| read(&f.to_string_lossy())).collect()
}

/// Shapes that broke readers before: deep nesting of every kind, tag chains, long numbers,
/// huge counts, control bytes and unfinished strings.
const HOSTILE: &[&str] = &[
    "[",
    "{:a ",
    "(",
    "#{",
    "#t/x ",
    "{\"a\":",
    "[[",
    "\"",
    "\\",
    "999999999999999999999999",
    "-1",
    "1e999",
    "N",
    "M",
    "#inst \"x\"",
    "\0",
    "\u{1b}[2J",
    "n = 1000000000",
    "seeds = 18446744073709551615",
    "crash = 100",
    "time = \"0s\"",
    "\"n\": 4294967295",
    "\"byzantine\": [4294967295]",
    "\"f\": 99",
    "[[group]]",
    "[faults.x]",
    ":process -1",
    ":value ",
    "}",
    "]",
    ")",
    "\n",
    ",",
];

/// One to four mutations of `seed`: byte flips, insertions, deletions, repeats of a slice
/// (up to thousands of times, for depth and length) and hostile tokens.
fn mutate(seed: &[u8], rng: &mut StdRng) -> Vec<u8> {
    let mut data = seed.to_vec();
    for _ in 0..rng.random_range(1..=4) {
        let at = rng.random_range(0..=data.len());
        match rng.random_range(0..7) {
            0 if !data.is_empty() => {
                let i = rng.random_range(0..data.len());
                data[i] ^= 1 << rng.random_range(0..8);
            }
            1 => data.insert(at, rng.random()),
            2 => {
                let end = (at + rng.random_range(0..64)).min(data.len());
                data.drain(at..end);
            }
            3 => {
                let token = HOSTILE[rng.random_range(0..HOSTILE.len())].as_bytes();
                let times = if rng.random_bool(0.1) {
                    rng.random_range(1..20_000)
                } else {
                    1
                };
                let run: Vec<u8> = token.repeat(times);
                data.splice(at..at, run);
            }
            4 => {
                let end = (at + rng.random_range(1..32)).min(data.len());
                let piece = data[at..end].to_vec();
                let most = if rng.random_bool(0.05) { 5_000 } else { 8 };
                let times = rng.random_range(1..most);
                data.splice(at..at, piece.repeat(times));
            }
            5 => data.truncate(at),
            _ => {
                let token = HOSTILE[rng.random_range(0..HOSTILE.len())].as_bytes();
                data.splice(at..at, token.iter().copied());
            }
        }
    }
    data
}
