//! The plugin's process: started once, fed one JSON line at a time on stdin, answered one
//! line at a time on stdout, each answer awaited for a bounded time.
//!
//! The proxy asks synchronously on its forwarding path, so nothing here may block without
//! a bound: a dedicated thread does the pipe I/O (a write to a plugin that stopped reading
//! blocks, and so does a read from one that stopped answering) and the caller waits on a
//! channel with a deadline. A second thread keeps the last lines the plugin wrote to
//! stderr (each cut to a bounded length, terminal escape sequences and control characters
//! removed), so a crash can be reported with its own words. The plugin leads its own
//! process group; dropping the handle kills the whole group, so processes the plugin forked
//! do not outlive the run, and that ends both threads (their pipes close).

use nix::sys::signal::{killpg, Signal};
use nix::unistd::Pid;
use std::collections::VecDeque;
use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Longest answer line accepted: a plugin streaming bytes without a newline is garbage.
const MAX_ANSWER: u64 = 16 << 20;
/// Lines of the plugin's stderr kept for error messages.
const STDERR_KEPT: usize = 5;
/// Bytes of one stderr line kept; the rest of a longer line is read and dropped.
const STDERR_LINE: u64 = 1024;
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
        // The group carries the plugin's pid (it leads it); killing the group also ends
        // whatever it forked. The plugin itself is killed as well in case the group is gone.
        if let Ok(pid) = i32::try_from(self.process.id()) {
            let _ = killpg(Pid::from_raw(pid), Signal::SIGKILL);
        }
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

/// Keeps the last few lines the plugin writes to stderr, each cut to [`STDERR_LINE`] bytes,
/// so a plugin writing one endless line costs a bounded amount of memory.
fn keep_stderr(mut stderr: impl BufRead, kept: Arc<Mutex<VecDeque<String>>>) {
    loop {
        let mut line = Vec::new();
        match (&mut stderr).take(STDERR_LINE).read_until(b'\n', &mut line) {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
        let cut = line.last() != Some(&b'\n') && line.len() as u64 == STDERR_LINE;
        if cut && skip_line(&mut stderr).is_err() {
            return;
        }
        let mut text = printable(&line);
        if cut {
            text.push_str(" [cut]");
        }
        let mut kept = kept.lock().unwrap_or_else(|p| p.into_inner());
        kept.push_back(text);
        if kept.len() > STDERR_KEPT {
            kept.pop_front();
        }
    }
}

/// Reads and drops the rest of a line.
fn skip_line(reader: &mut impl BufRead) -> std::io::Result<()> {
    loop {
        let buf = reader.fill_buf()?;
        if buf.is_empty() {
            return Ok(());
        }
        match buf.iter().position(|&b| b == b'\n') {
            Some(end) => {
                reader.consume(end + 1);
                return Ok(());
            }
            None => {
                let len = buf.len();
                reader.consume(len);
            }
        }
    }
}

/// A stderr line as it may be quoted on a terminal: escape sequences stripped (a plugin
/// must not recolour, move the cursor or retitle the user's terminal), and any other control
/// character dropped.
fn printable(line: &[u8]) -> String {
    let text = String::from_utf8_lossy(&strip_ansi_escapes::strip(line)).into_owned();
    text.chars()
        .filter(|c| !c.is_control() || *c == '\t')
        .collect::<String>()
        .trim_end()
        .to_string()
}

/// Starts `path`, retrying briefly while it is "text file busy": a plugin written just
/// before the run (by a build step, or by another thread of this process) can still be open
/// for writing in a child that another thread forked and has not yet exec'd.
fn spawn_retrying_busy(path: &Path) -> std::io::Result<std::process::Child> {
    let mut tries = 0;
    loop {
        let spawned = Command::new(path)
            .process_group(0)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stderr_lines_are_bounded_and_stripped() {
        let long = "x".repeat(10 * STDERR_LINE as usize);
        let input = format!("\x1b[31mred\x1b[0m \x1b]0;title\x07ok\r\n{long}\nlast\n");
        let kept = Arc::new(Mutex::new(VecDeque::new()));
        keep_stderr(input.as_bytes(), Arc::clone(&kept));
        let kept: Vec<String> = kept.lock().unwrap().iter().cloned().collect();
        assert_eq!(kept[0], "red ok");
        assert!(kept[1].ends_with("[cut]") && kept[1].len() < STDERR_LINE as usize + 10);
        assert_eq!(kept[2], "last");
    }
}
