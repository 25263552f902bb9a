//! Adapter programs behind the connector traits: a program in any language on the harness
//! host, speaking JSON lines on stdin/stdout, many requests in flight, matched by `id`
//! (`docs/bring-your-own-cluster.md` has the protocol). Errors are data: an op the adapter
//! cannot complete is `fail` or `info` in its answer. An adapter that exits, answers
//! garbage or does not answer within its limit has failed: its ops in flight turn `info`,
//! and the run ends as a harness failure naming it. Never a hang.

use super::{LogReader, OpClient, PrimaryLookup};
use crate::exit::Failure;
use crate::node_api::{LogPage, Reply};
use nix::sys::signal::{killpg, Signal};
use nix::unistd::Pid;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::path::Path;
use std::process::Stdio;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::process::{Child, ChildStdin, ChildStdout, Command};
use tokio::sync::{oneshot, watch};
use traitor_model::NodeId;

/// How much longer than an op's own timeout an adapter may take to answer it: past that
/// it hangs.
pub const ADAPTER_GRACE: Duration = Duration::from_secs(5);
/// How long a log read or a primary lookup may take.
const OBSERVE_LIMIT: Duration = Duration::from_secs(15);
/// The longest answer line read (a log page may be large; garbage may be endless).
const LINE_LIMIT: u64 = 64 << 20;

type Pending = Arc<Mutex<HashMap<u64, oneshot::Sender<Value>>>>;

/// One running adapter program.
pub struct ExecAdapter {
    name: String,
    stdin: tokio::sync::Mutex<ChildStdin>,
    pending: Pending,
    next_id: AtomicU64,
    /// Why it failed, once it has: every later request fails at once with this.
    failure: Arc<Mutex<Option<String>>>,
    fatal: watch::Sender<Option<String>>,
    /// Every node's addresses, sent with each request.
    nodes: Value,
    /// The adapter's process group, killed when the adapter is dropped.
    group: Pid,
    _child: Child,
}

impl ExecAdapter {
    /// Starts `program args` in its own process group, stderr to `log`.
    pub fn start(
        program: &Path,
        args: &[String],
        role: &str,
        nodes: Value,
        log: &Path,
        fatal: watch::Sender<Option<String>>,
    ) -> Result<Self, Failure> {
        let name = format!("adapter {} ({role})", program.display());
        let harness =
            |what: &str, e: std::io::Error| Failure::harness(format!("{name}: {what}: {e}"));
        if let Some(folder) = log.parent() {
            std::fs::create_dir_all(folder).map_err(|e| harness("creating its log folder", e))?;
        }
        let stderr = std::fs::File::create(log).map_err(|e| harness("creating its log", e))?;
        let mut child = Command::new(program)
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(stderr)
            .process_group(0)
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| {
                Failure::usage(format!(
                    "{name}: cannot start it ({e}); exec: takes an executable path relative to \
                     the target folder"
                ))
            })?;
        let (Some(stdin), Some(stdout), Some(pid)) =
            (child.stdin.take(), child.stdout.take(), child.id())
        else {
            return Err(Failure::harness(format!(
                "{name}: its pipes were not set up"
            )));
        };
        let adapter = Self {
            name,
            stdin: tokio::sync::Mutex::new(stdin),
            pending: Pending::default(),
            next_id: AtomicU64::new(1),
            failure: Arc::default(),
            fatal,
            nodes,
            group: Pid::from_raw(pid as i32),
            _child: child,
        };
        tokio::spawn(read_answers(
            stdout,
            adapter.name.clone(),
            adapter.pending.clone(),
            adapter.failure.clone(),
            adapter.fatal.clone(),
        ));
        Ok(adapter)
    }

    /// Sends one request and waits up to `limit` for its answer.
    async fn call(&self, mut request: Value, limit: Duration) -> Result<Value, String> {
        if let Some(why) = self.failed() {
            return Err(why);
        }
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        request["id"] = json!(id);
        request["nodes"] = self.nodes.clone();
        let (tx, rx) = oneshot::channel();
        lock(&self.pending).insert(id, tx);
        let mut line = request.to_string();
        line.push('\n');
        let written = {
            let mut stdin = self.stdin.lock().await;
            match stdin.write_all(line.as_bytes()).await {
                Ok(()) => stdin.flush().await,
                Err(e) => Err(e),
            }
        };
        if let Err(e) = written {
            return Err(self.fail(format!("{}: writing request {id} failed: {e}", self.name)));
        }
        match tokio::time::timeout(limit, rx).await {
            Ok(Ok(answer)) => Ok(answer),
            Ok(Err(_)) => Err(self
                .failed()
                .unwrap_or_else(|| format!("{} failed", self.name))),
            Err(_) => Err(self.fail(format!(
                "{} did not answer request {id} within {}",
                self.name,
                humantime::format_duration(limit)
            ))),
        }
    }

    fn failed(&self) -> Option<String> {
        lock(&self.failure).clone()
    }

    fn fail(&self, why: String) -> String {
        fail(&self.failure, &self.pending, &self.fatal, why)
    }
}

impl Drop for ExecAdapter {
    /// The harness is done with it: its exit is no failure.
    fn drop(&mut self) {
        lock(&self.failure).get_or_insert_with(|| format!("{} was closed", self.name));
        let _ = killpg(self.group, Signal::SIGKILL);
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|p| p.into_inner())
}

/// Records the first failure, passes it on to the run, and drops every request in flight
/// (their callers see the failure). Returns the failure in force. Once the adapter has
/// failed or been closed, nothing more is passed on.
fn fail(
    failure: &Mutex<Option<String>>,
    pending: &Pending,
    fatal: &watch::Sender<Option<String>>,
    why: String,
) -> String {
    let mut slot = lock(failure);
    if let Some(earlier) = slot.as_ref() {
        return earlier.clone();
    }
    *slot = Some(why.clone());
    drop(slot);
    fatal.send_if_modified(|run| run.is_none() && run.replace(why.clone()).is_none());
    lock(pending).clear();
    why
}

/// Reads answers and hands each to its request, until the adapter exits or misbehaves.
async fn read_answers(
    stdout: ChildStdout,
    name: String,
    pending: Pending,
    failure: Arc<Mutex<Option<String>>>,
    fatal: watch::Sender<Option<String>>,
) {
    let mut reader = BufReader::new(stdout);
    let mut line = Vec::new();
    let why = loop {
        line.clear();
        let read = (&mut reader)
            .take(LINE_LIMIT)
            .read_until(b'\n', &mut line)
            .await;
        match read {
            Err(e) => break format!("{name}: reading its answers failed: {e}"),
            Ok(0) => break format!("{name} exited (its stdout closed)"),
            Ok(_) if !line.ends_with(b"\n") && line.len() as u64 >= LINE_LIMIT => {
                break format!("{name} answered a line longer than {LINE_LIMIT} bytes")
            }
            Ok(_) => {}
        }
        let text = String::from_utf8_lossy(&line);
        if text.trim().is_empty() {
            continue;
        }
        let Some((id, answer)) = serde_json::from_str::<Value>(&text)
            .ok()
            .and_then(|v| Some((v.get("id")?.as_u64()?, v)))
        else {
            break format!(
                "{name} answered garbage (not a JSON object with an integer id): {}",
                excerpt(&text)
            );
        };
        let Some(waiting) = lock(&pending).remove(&id) else {
            break format!("{name} answered id {id}, which no request in flight has");
        };
        let _ = waiting.send(answer);
    };
    fail(&failure, &pending, &fatal, why);
}

/// The start of an untrusted line, printable, for an error message.
fn excerpt(text: &str) -> String {
    let cleaned: String = text
        .trim()
        .chars()
        .map(|c| if c.is_control() { '?' } else { c })
        .take(200)
        .collect();
    format!("{cleaned:?}")
}

#[async_trait::async_trait]
impl OpClient for ExecAdapter {
    async fn submit(
        &self,
        node: NodeId,
        client: &str,
        req: u64,
        op: Value,
        timeout: Duration,
    ) -> Reply {
        let request = json!({
            "op": op, "node": node, "client": client, "req": req,
            "timeout_ms": timeout.as_millis() as u64,
        });
        let answer = match self.call(request, timeout + ADAPTER_GRACE).await {
            Ok(answer) => answer,
            Err(why) => return Reply::Info(why),
        };
        let error = answer
            .get("error")
            .map(|e| e.as_str().map_or_else(|| e.to_string(), String::from))
            .unwrap_or_default();
        match answer.get("type").and_then(Value::as_str) {
            Some("ok") => Reply::Ok(answer.get("value").cloned().unwrap_or(Value::Null)),
            Some("fail") => Reply::Fail(error),
            Some("info") => Reply::Info(error),
            other => Reply::Info(self.fail(format!(
                "{} answered type {other:?} for an op; expected ok, fail or info",
                self.name
            ))),
        }
    }
}

#[async_trait::async_trait]
impl LogReader for ExecAdapter {
    async fn log(&self, node: NodeId, from: u64) -> Result<LogPage, String> {
        let answer = self
            .call(json!({"log": {"node": node, "from": from}}), OBSERVE_LIMIT)
            .await?;
        if let Some(error) = answer.get("error") {
            return Err(format!("node {node}: {error}"));
        }
        serde_json::from_value(answer).map_err(|e| {
            self.fail(format!(
                "{} answered a log read with no `entries` and `committed` as /log has them: {e}",
                self.name
            ))
        })
    }
}

#[async_trait::async_trait]
impl PrimaryLookup for ExecAdapter {
    async fn primary(&self) -> Option<NodeId> {
        let answer = self
            .call(json!({"primary": {}}), OBSERVE_LIMIT)
            .await
            .ok()?;
        answer
            .get("node")
            .and_then(Value::as_u64)
            .and_then(|node| NodeId::try_from(node).ok())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;
    use std::os::unix::fs::PermissionsExt;

    /// An adapter from a Python script, in a temporary folder.
    fn start(
        script: &str,
    ) -> (
        tempfile::TempDir,
        ExecAdapter,
        watch::Receiver<Option<String>>,
    ) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("adapter.py");
        let mut file = std::fs::File::create(&path).unwrap();
        writeln!(
            file,
            "#!/usr/bin/env python3\nimport json, sys, time\n{script}"
        )
        .unwrap();
        drop(file);
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
        let (tx, rx) = watch::channel(None);
        let log = dir.path().join("logs/adapter.log");
        let adapter = ExecAdapter::start(&path, &[], "client", json!([]), &log, tx).unwrap();
        (dir, adapter, rx)
    }

    const ECHO: &str = r#"
for line in sys.stdin:
    r = json.loads(line)
    if "op" in r:
        print(json.dumps({"id": r["id"], "type": "ok", "value": r["op"].get("value")}), flush=True)
    elif "log" in r:
        print(json.dumps({"id": r["id"], "entries": [{"seq": 1, "op": {"f": "write"}}], "committed": 1}), flush=True)
    else:
        print(json.dumps({"id": r["id"], "node": 2}), flush=True)
"#;

    #[tokio::test]
    async fn answers_reach_their_requests() {
        let (_dir, adapter, fatal) = start(ECHO);
        let op = json!({"f": "write", "key": "k", "value": 3});
        let reply = adapter.submit(0, "c1", 1, op, Duration::from_secs(2)).await;
        assert_eq!(reply, Reply::Ok(json!(3)));
        assert_eq!(adapter.log(1, 0).await.unwrap().committed, 1);
        assert_eq!(adapter.primary().await, Some(2));
        assert!(fatal.borrow().is_none());
    }

    #[tokio::test]
    async fn garbage_turns_ops_info_and_fails_the_run() {
        let (_dir, adapter, fatal) =
            start("for line in sys.stdin:\n    print('\\x1b[31mnot json', flush=True)");
        let reply = adapter
            .submit(0, "c1", 1, json!({"f": "read"}), Duration::from_secs(2))
            .await;
        let Reply::Info(why) = reply else {
            panic!("{reply:?}")
        };
        assert!(why.contains("garbage") && !why.contains('\x1b'), "{why}");
        assert!(fatal
            .borrow()
            .as_deref()
            .is_some_and(|f| f.contains("adapter.py")));
    }

    #[tokio::test]
    async fn an_adapter_that_exits_or_hangs_is_named() {
        let (_dir, adapter, fatal) = start("sys.exit(0)");
        let reply = adapter
            .submit(0, "c1", 1, json!({"f": "read"}), Duration::from_secs(1))
            .await;
        assert!(
            matches!(reply, Reply::Info(ref why) if why.contains("exited")),
            "{reply:?}"
        );
        assert!(fatal.borrow().is_some());
        let (_dir, adapter, fatal) = start("time.sleep(60)");
        let limit = Duration::from_millis(100);
        let answer = adapter.call(json!({"primary": {}}), limit).await;
        assert!(answer.unwrap_err().contains("did not answer request 1"));
        assert!(fatal.borrow().is_some());
    }

    #[tokio::test]
    async fn closing_an_adapter_is_no_failure() {
        let (_dir, adapter, fatal) = start(ECHO);
        drop(adapter);
        // The reader sees the adapter's stdout close.
        tokio::time::sleep(Duration::from_millis(500)).await;
        assert_eq!(*fatal.borrow(), None);
    }
}
