//! The bounded traffic record (`trace.jsonl`), Maelstrom's message journal with a cap.
//!
//! Forwarding tasks only reserve a slot (one atomic add) and push a small record onto a
//! shared batch; a writer thread takes the batch every [`FLUSH_EVERY`] and writes it, so
//! file I/O and thread wake-ups stay off the per-message path. After `limit` records one
//! `{"truncated":true,...}` line is written and nothing more.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::sync::Arc;
use std::sync::Mutex;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::observe::Content;
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
    /// An adversary replaced the message.
    Replace,
    /// An adversary added the message.
    Inject,
}

#[derive(serde::Serialize)]
struct Record {
    time: u64,
    from: NodeId,
    /// Which instance of `from` sent it when `from` runs twins (1 for the twin); omitted
    /// for instance 0, so a detector sees one identity at two addresses.
    #[serde(skip_serializing_if = "Option::is_none")]
    instance: Option<u8>,
    to: NodeId,
    size: usize,
    /// What an observer of the wire reads in the message (kind, round, claims, digest).
    #[serde(flatten)]
    content: Content,
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
}

/// How often the writer thread writes out what was recorded.
const FLUSH_EVERY: Duration = Duration::from_millis(50);

/// Lines recorded since the writer's last pass.
type Batch = Arc<Mutex<Vec<Line>>>;

/// The trace of one proxy; disabled (counting nothing, writing nothing) without a path.
pub(crate) struct Trace {
    run_start: Instant,
    limit: usize,
    used: AtomicUsize,
    /// The batch and the writer's close signal; `None` when the trace is off.
    output: Option<(Batch, mpsc::Sender<()>)>,
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
                output: None,
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
        let (close, closed) = mpsc::channel();
        let batch = Batch::default();
        let shown = path.display().to_string();
        let taken = Arc::clone(&batch);
        let writer = std::thread::Builder::new()
            .name("traitor-proxy-trace".into())
            .spawn(move || write_lines(BufWriter::new(file), &taken, &closed, &shown))?;
        Ok(Trace {
            run_start,
            limit,
            used: AtomicUsize::new(0),
            output: Some((batch, close)),
            writer: Mutex::new(Some(writer)),
        })
    }

    /// Whether a record would still be written; lets callers skip work (reading a
    /// message's content) once the trace is full.
    pub fn wants(&self) -> bool {
        self.output.is_some() && self.used.load(Ordering::Relaxed) <= self.limit
    }

    /// Records one message, or the truncation marker once the limit is reached. The slot
    /// is taken under the batch lock, so lines reach the file in slot order and nothing
    /// follows the marker.
    pub fn record(
        &self,
        from: NodeId,
        to: NodeId,
        size: usize,
        content: Content,
        action: Action,
        instance: Option<u8>,
    ) {
        let Some((batch, _)) = &self.output else {
            return;
        };
        if !self.wants() {
            return;
        }
        let mut batch = lock(batch);
        let slot = self.used.fetch_add(1, Ordering::Relaxed);
        let time = self.run_start.elapsed().as_nanos() as u64;
        if slot < self.limit {
            batch.push(Line::Record(Record {
                time,
                from,
                instance,
                to,
                size,
                content,
                action,
            }));
        } else if slot == self.limit {
            batch.push(Line::Truncated(Truncated {
                truncated: true,
                time,
                limit: self.limit,
            }));
        }
    }

    /// Writes out everything recorded so far and closes the file.
    pub async fn close(&self) {
        if let Some((_, close)) = &self.output {
            // An error means the writer already stopped on a write error it reports below.
            let _ = close.send(());
        }
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

fn lock(batch: &Mutex<Vec<Line>>) -> std::sync::MutexGuard<'_, Vec<Line>> {
    batch
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Writes each batch as it comes, until told to close (or the trace is dropped).
fn write_lines(
    mut out: BufWriter<File>,
    batch: &Mutex<Vec<Line>>,
    close: &mpsc::Receiver<()>,
    path: &str,
) -> std::io::Result<()> {
    let failed = |e: std::io::Error| {
        std::io::Error::new(e.kind(), format!("writing the proxy trace {path}: {e}"))
    };
    loop {
        let last = !matches!(
            close.recv_timeout(FLUSH_EVERY),
            Err(mpsc::RecvTimeoutError::Timeout)
        );
        let lines = std::mem::take(&mut *lock(batch));
        for line in lines {
            let written = match line {
                Line::Record(record) => serde_json::to_writer(&mut out, &record),
                Line::Truncated(marker) => serde_json::to_writer(&mut out, &marker),
            };
            written.map_err(std::io::Error::from).map_err(failed)?;
            out.write_all(b"\n").map_err(failed)?;
        }
        out.flush().map_err(failed)?;
        if last {
            return Ok(());
        }
    }
}
