//! The node: one task owns the replica core and turns its outputs into TCP frames, timers
//! and answers to waiting HTTP requests.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;
use tokio::net::TcpListener;
use tokio::sync::{mpsc, oneshot};

use crate::cli::Settings;
use crate::history::LogEntry;
use crate::messages::{encode_frame, Envelope, NodeId, Request};
use crate::replica::{Output, Replica, Timer};
use crate::state_machine::OpResult;
use crate::transport::{serve_peers, spawn_peer_links, Links, PeerLink};

/// `GET /status` answer.
#[derive(Clone, Debug, Serialize)]
pub struct StatusReport {
    pub id: NodeId,
    pub n: usize,
    pub f: usize,
    pub view: u64,
    pub primary: NodeId,
    pub committed: u64,
    pub normal: bool,
    pub stable_checkpoint: u64,
}

/// `GET /log` answer.
#[derive(Clone, Debug, Serialize)]
pub struct LogReport {
    pub entries: Vec<LogEntry>,
    pub committed: u64,
}

/// What the HTTP side asks of the core task.
pub enum Query {
    Submit {
        request: Request,
        answer: oneshot::Sender<OpResult>,
    },
    Status(oneshot::Sender<StatusReport>),
    Log {
        from: u64,
        answer: oneshot::Sender<LogReport>,
    },
}

enum Input {
    Peer(Envelope),
    Timer(Timer),
    Query(Query),
}

struct Core {
    replica: Replica,
    links: Vec<Option<PeerLink>>,
    waiters: HashMap<(String, u64), Vec<oneshot::Sender<OpResult>>>,
    timers: mpsc::Sender<Timer>,
}

impl Core {
    fn dispatch(&mut self, outputs: Vec<Output>) {
        for output in outputs {
            match output {
                Output::Send { to, env } => {
                    if let Some(Some(link)) = self.links.get(to as usize) {
                        link.send(Arc::new(encode_frame(&env)));
                    }
                }
                Output::Broadcast { env } => {
                    let body = Arc::new(encode_frame(&env));
                    for link in self.links.iter().flatten() {
                        link.send(body.clone());
                    }
                }
                Output::Reply {
                    client,
                    req,
                    result,
                } => {
                    for waiter in self.waiters.remove(&(client, req)).unwrap_or_default() {
                        let _ = waiter.send(result.clone());
                    }
                }
                Output::SetTimer { timer, after_ms } => {
                    let timers = self.timers.clone();
                    tokio::spawn(async move {
                        tokio::time::sleep(Duration::from_millis(after_ms)).await;
                        let _ = timers.send(timer).await;
                    });
                }
            }
        }
    }

    fn handle(&mut self, input: Input) {
        let outputs = match input {
            Input::Peer(env) => self.replica.on_message(env),
            Input::Timer(timer) => self.replica.on_timer(timer),
            Input::Query(Query::Submit { request, answer }) => {
                let waiters = self.waiters.entry(request.key()).or_default();
                waiters.retain(|w| !w.is_closed());
                waiters.push(answer);
                self.waiters.retain(|_, ws| !ws.is_empty());
                self.replica.on_request(request)
            }
            Input::Query(Query::Status(answer)) => {
                let r = &self.replica;
                let _ = answer.send(StatusReport {
                    id: r.id(),
                    n: r.rules().n,
                    f: r.rules().f,
                    view: r.view(),
                    primary: r.primary(),
                    committed: r.committed(),
                    normal: r.is_normal(),
                    stable_checkpoint: r.stable_checkpoint(),
                });
                Vec::new()
            }
            Input::Query(Query::Log { from, answer }) => {
                let _ = answer.send(LogReport {
                    entries: self.replica.log_from(from.max(1)),
                    committed: self.replica.committed(),
                });
                Vec::new()
            }
        };
        self.dispatch(outputs);
    }
}

/// What the API holds of a started node.
#[derive(Clone)]
pub struct NodeHandle {
    /// The channel to the core task.
    pub core: mpsc::Sender<Query>,
    /// Which peer links have been up: the node is not ready until all have.
    pub links: Arc<Links>,
}

/// Binds the peer listener, starts the peer links and the core task; returns what the API
/// uses.
pub async fn start(settings: Settings) -> std::io::Result<NodeHandle> {
    let listener = TcpListener::bind(settings.listen).await?;
    let (links, link_state) =
        spawn_peer_links(settings.config.id, &settings.peers, settings.listen.ip());
    let (peer_tx, mut peer_rx) = mpsc::channel::<Envelope>(8192);
    let (timer_tx, mut timer_rx) = mpsc::channel::<Timer>(1024);
    let (query_tx, mut query_rx) = mpsc::channel::<Query>(1024);
    tokio::spawn(serve_peers(listener, peer_tx));
    let mut core = Core {
        replica: Replica::new(settings.config, settings.keys),
        links,
        waiters: HashMap::new(),
        timers: timer_tx,
    };
    let outputs = core.replica.start();
    core.dispatch(outputs);
    tokio::spawn(async move {
        loop {
            let input = tokio::select! {
                Some(env) = peer_rx.recv() => Input::Peer(env),
                Some(timer) = timer_rx.recv() => Input::Timer(timer),
                Some(query) = query_rx.recv() => Input::Query(query),
                else => return,
            };
            core.handle(input);
        }
    });
    Ok(NodeHandle {
        core: query_tx,
        links: link_state,
    })
}
