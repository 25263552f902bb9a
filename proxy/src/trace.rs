//! The bounded traffic record (`trace.jsonl`), Maelstrom's message journal with a cap.
//!
//! Forwarding tasks only reserve a slot (one atomic add) and hand a small record to a
//! writer thread, so file I/O never runs on the async workers. After `limit` records one
//! `{"truncated":true,...}` line is written and nothing more.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::sync::Mutex;
use std::thread::JoinHandle;
use std::time::Instant;

use crate::NodeId;

/// What the proxy did with a message, as written in the trace.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub(crate) enum Action {
    Deliver,
    Drop,
    Delay,
    Duplicate,
    Reorder,
    Hold,
}

#[derive(serde::Serialize)]
struct Record {
    time: u64,
    from: NodeId,
    to: NodeId,
    size: usize,
    kind: Option<String>,
    action: Action,
}

#[derive(serde::Serialize)]
struct Truncated {
    truncated: bool,
    time: u64,
    limit: usize,
}

enum Line {
    Record(Record),
    Truncated(Truncated),
    Close,
}

/// The trace of one proxy; disabled (counting nothing, writing nothing) without a path.
pub(crate) struct Trace {
    run_start: Instant,
    limit: usize,
    used: AtomicUsize,
    sender: Option<mpsc::Sender<Line>>,
    writer: Mutex<Option<JoinHandle<std::io::Result<()>>>>,
}

impl Trace {
    /// Creates the trace file (truncating an old one) and starts its writer thread.
    pub fn open(path: Option<&Path>, run_start: Instant, limit: usize) -> std::io::Result<Trace> {
        let Some(path) = path else {
            return Ok(Trace {
                run_start,
                limit,
                used: AtomicUsize::new(0),
                sender: None,
                writer: Mutex::new(None),
            });
        };
        let file = File::create(path).map_err(|e| {
            std::io::Error::new(
                e.kind(),
                format!(
                    "creating the proxy trace {}: {e} (the run folder must exist and be writable)",
                    path.display()
                ),
            )
        })?;
        let (sender, receiver) = mpsc::channel();
        let shown = path.display().to_string();
        let writer = std::thread::Builder::new()
            .name("traitor-proxy-trace".into())
            .spawn(move || write_lines(BufWriter::new(file), receiver, &shown))?;
        Ok(Trace {
            run_start,
            limit,
            used: AtomicUsize::new(0),
            sender: Some(sender),
            writer: Mutex::new(Some(writer)),
        })
    }

    /// Whether a record would still be written; lets callers skip work (reading a
    /// message's kind) once the trace is full.
    pub fn wants(&self) -> bool {
        self.sender.is_some() && self.used.load(Ordering::Relaxed) <= self.limit
    }

    /// Records one message, or the truncation marker once the limit is reached.
    pub fn record(
        &self,
        from: NodeId,
        to: NodeId,
        size: usize,
        kind: Option<String>,
        action: Action,
    ) {
        if !self.wants() {
            return;
        }
        let slot = self.used.fetch_add(1, Ordering::Relaxed);
        let time = self.run_start.elapsed().as_nanos() as u64;
        let line = if slot < self.limit {
            Line::Record(Record {
                time,
                from,
                to,
                size,
                kind,
                action,
            })
        } else if slot == self.limit {
            Line::Truncated(Truncated {
                truncated: true,
                time,
                limit: self.limit,
            })
        } else {
            return;
        };
        self.send(line);
    }

    fn send(&self, line: Line) {
        if let Some(sender) = &self.sender {
            // The writer only stops after Close or a write error it has already logged.
            let _ = sender.send(line);
        }
    }

    /// Writes out everything recorded so far and closes the file.
    pub async fn close(&self) {
        self.send(Line::Close);
        let writer = self
            .writer
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .take();
        if let Some(writer) = writer {
            match tokio::task::spawn_blocking(move || writer.join()).await {
                Ok(Ok(Ok(()))) => {}
                Ok(Ok(Err(e))) => tracing::warn!("proxy: {e}"),
                Ok(Err(_)) | Err(_) => tracing::warn!("proxy: the trace writer thread panicked"),
            }
        }
    }
}

fn write_lines(
    mut out: BufWriter<File>,
    lines: mpsc::Receiver<Line>,
    path: &str,
) -> std::io::Result<()> {
    let failed = |e: std::io::Error| {
        std::io::Error::new(e.kind(), format!("writing the proxy trace {path}: {e}"))
    };
    while let Ok(line) = lines.recv() {
        let written = match line {
            Line::Record(record) => serde_json::to_writer(&mut out, &record),
            Line::Truncated(marker) => serde_json::to_writer(&mut out, &marker),
            Line::Close => break,
        };
        written.map_err(std::io::Error::from).map_err(failed)?;
        out.write_all(b"\n").map_err(failed)?;
    }
    out.flush().map_err(failed)
}
