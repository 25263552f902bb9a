//! generals-node: one Byzantine general (OM(m) or SM(m)) over TCP, with the traitor node API.

mod api;
mod cli;
mod node;
mod transport;

use std::process::ExitCode;

use clap::Parser;
use generals_node::general::General;
use tokio::net::TcpListener;

use crate::cli::Args;
use crate::node::Node;

fn main() -> ExitCode {
    let args = Args::parse();
    let (config, keys) = args.validate();
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(false)
        .init();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("generals-node: cannot start the async runtime: {e}");
            return ExitCode::from(1);
        }
    };
    runtime.block_on(async move {
        let peer_listener = match TcpListener::bind(args.listen).await {
            Ok(listener) => listener,
            Err(e) => {
                eprintln!("generals-node: --listen {}: {e}", args.listen);
                return ExitCode::from(1);
            }
        };
        let api_listener = match TcpListener::bind(args.api).await {
            Ok(listener) => listener,
            Err(e) => {
                eprintln!("generals-node: --api {}: {e}", args.api);
                return ExitCode::from(1);
            }
        };
        tracing::info!(?config, "starting");
        let (queues, links) = transport::spawn_dialers(config.id, &args.peers, args.listen.ip());
        let node = Node::new(General::new(config, keys), queues, links);
        tokio::spawn(transport::serve_peers(peer_listener, node.clone()));
        match axum::serve(api_listener, api::router(node)).await {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("generals-node: HTTP API stopped: {e}");
                ExitCode::from(1)
            }
        }
    })
}
