//! The plugin's process: started once, fed one JSON line at a time on stdin, answered one
//! line at a time on stdout, each answer awaited for a bounded time.
//!
//! The proxy asks synchronously on its forwarding path, so nothing here may block without
//! a bound: a dedicated thread does the pipe I/O (a write to a plugin that stopped reading
//! blocks, and so does a read from one that stopped answering) and the caller waits on a
//! channel with a deadline. A second thread keeps the last lines the plugin wrote to
//! stderr, so a crash can be reported with its own words. Dropping the handle kills the
//! process, which also ends both threads (their pipes close).

use std::collections::VecDeque;
use std::io::{BufRead, BufReader, Read, Write};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Longest answer line accepted: a plugin streaming bytes without a newline is garbage.
const MAX_ANSWER: u64 = 16 << 20;
/// Lines of the plugin's stderr kept for error messages.
const STDERR_KEPT: usize = 5;
/// How long a plugin that closed its stdout gets to exit, so its exit status can be told.
const EXIT_GRACE: Duration = Duration::from_millis(200);

/// A running plugin process and the thread that talks to it.
pub(crate) struct Child {
    process: std::process::Child,
    requests: mpsc::Sender<String>,
    answers: mpsc::Receiver<Result<String, String>>,
    stderr: Arc<Mutex<VecDeque<String>>>,
    /// Disconnects when the plugin's stderr has been read to its end.
    stderr_done: mpsc::Receiver<()>,
}

impl Child {
    /// Starts the executable at `path` with piped stdin, stdout and stderr.
    pub fn spawn(path: &Path) -> Result<Child, String> {
        let mut process = spawn_retrying_busy(path).map_err(|e| {
            format!(
                "could not be started: {e} (it must be an executable file, with a #! line if it is a script)"
            )
        })?;
        let (Some(stdin), Some(stdout), Some(stderr)) = (
            process.stdin.take(),
            process.stdout.take(),
            process.stderr.take(),
        ) else {
            let _ = process.kill();
            let _ = process.wait();
            return Err("started without the pipes asked for".into());
        };
        let (requests, to_serve) = mpsc::channel::<String>();
        let (answered, answers) = mpsc::channel();
        std::thread::Builder::new()
            .name("adversary-plugin-io".into())
            .spawn(move || serve(stdin, BufReader::new(stdout), to_serve, answered))
            .map_err(|e| format!("could not get a thread for its pipes: {e}"))?;
        let kept = Arc::new(Mutex::new(VecDeque::new()));
        let keep = Arc::clone(&kept);
        let (read_to_end, stderr_done) = mpsc::channel::<()>();
        std::thread::Builder::new()
            .name("adversary-plugin-stderr".into())
            .spawn(move || {
                keep_stderr(BufReader::new(stderr), keep);
                drop(read_to_end);
            })
            .map_err(|e| format!("could not get a thread for its stderr: {e}"))?;
        Ok(Child {
            process,
            requests,
            answers,
            stderr: kept,
            stderr_done,
        })
    }

    /// Sends one request line and waits at most `limit` for the answer line. An error says
    /// what the plugin did (hung, exited, closed its output, wrote non-UTF-8), with the last
    /// lines of its stderr.
    pub fn ask(&mut self, request: String, limit: Duration) -> Result<String, String> {
        let asked = Instant::now();
        if self.requests.send(request).is_err() {
            return Err(self.gone("stopped talking"));
        }
        match self.answers.recv_timeout(limit) {
            Ok(Ok(answer)) => Ok(answer),
            Ok(Err(why)) => Err(self.gone(&why)),
            Err(RecvTimeoutError::Disconnected) => Err(self.gone("stopped talking")),
            Err(RecvTimeoutError::Timeout) => Err(self.with_stderr(format!(
                "did not answer within the limit of {limit:?} (waited {:?}): it hangs or is too slow (raise it with plugin:PATH,timeout=2s)",
                asked.elapsed()
            ))),
        }
    }

    /// Describes a plugin whose pipes failed: how it exited, if it did.
    fn gone(&mut self, what: &str) -> String {
        let deadline = Instant::now() + EXIT_GRACE;
        let status = loop {
            match self.process.try_wait() {
                Ok(Some(status)) => break Some(status),
                Ok(None) if Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(5))
                }
                _ => break None,
            }
        };
        let what = match status {
            Some(status) => {
                // Its last words may still be in the pipe.
                let left = deadline.saturating_duration_since(Instant::now());
                let _ = self.stderr_done.recv_timeout(left);
                format!("{what}: it exited ({status})")
            }
            None => what.to_string(),
        };
        self.with_stderr(what)
    }

    fn with_stderr(&self, what: String) -> String {
        let lines = self.stderr.lock().unwrap_or_else(|p| p.into_inner());
        if lines.is_empty() {
            what
        } else {
            let lines: Vec<&str> = lines.iter().map(String::as_str).collect();
            format!("{what}; its stderr ended with: {}", lines.join(" | "))
        }
    }
}

impl Drop for Child {
    fn drop(&mut self) {
        let _ = self.process.kill();
        let _ = self.process.wait();
    }
}

/// The I/O thread: one request written, one answer line read, until either side is gone.
fn serve(
    mut stdin: impl Write,
    mut stdout: impl BufRead,
    requests: mpsc::Receiver<String>,
    answers: mpsc::Sender<Result<String, String>>,
) {
    for request in requests {
        let written = stdin
            .write_all(request.as_bytes())
            .and_then(|()| stdin.write_all(b"\n"))
            .and_then(|()| stdin.flush());
        if let Err(e) = written {
            let _ = answers.send(Err(format!("stopped reading its stdin ({e})")));
            return;
        }
        let mut line = String::new();
        let answer = match (&mut stdout).take(MAX_ANSWER).read_line(&mut line) {
            Ok(0) => Err("closed its stdout without answering".to_string()),
            Ok(_) if !line.ends_with('\n') => Err(format!(
                "wrote an answer longer than {MAX_ANSWER} bytes, or an unfinished line"
            )),
            Ok(_) => Ok(line),
            Err(e) => Err(format!("wrote an answer that cannot be read ({e})")),
        };
        let failed = answer.is_err();
        if answers.send(answer).is_err() || failed {
            return;
        }
    }
}

/// Keeps the last few lines the plugin writes to stderr.
fn keep_stderr(stderr: impl BufRead, kept: Arc<Mutex<VecDeque<String>>>) {
    for line in stderr.split(b'\n') {
        let Ok(line) = line else { return };
        let mut kept = kept.lock().unwrap_or_else(|p| p.into_inner());
        kept.push_back(String::from_utf8_lossy(&line).trim_end().to_string());
        if kept.len() > STDERR_KEPT {
            kept.pop_front();
        }
    }
}

/// Starts `path`, retrying briefly while it is "text file busy": a plugin written just
/// before the run (by a build step, or by another thread of this process) can still be open
/// for writing in a child that another thread forked and has not yet exec'd.
fn spawn_retrying_busy(path: &Path) -> std::io::Result<std::process::Child> {
    let mut tries = 0;
    loop {
        let spawned = Command::new(path)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn();
        match spawned {
            Err(e) if e.kind() == std::io::ErrorKind::ExecutableFileBusy && tries < 50 => {
                tries += 1;
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
            other => return other,
        }
    }
}
