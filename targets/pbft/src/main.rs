//! `pbft-node`: one PBFT replica with the traitor node API.

use clap::Parser;
use pbft_node::{api, cli::Args, node};

#[tokio::main]
async fn main() {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(false)
        .init();
    let settings = match Args::parse().validate() {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: {e}");
            std::process::exit(2);
        }
    };
    let api_addr = settings.api;
    let id = settings.config.id;
    let client_authority = settings.client_authority;
    let node = match node::start(settings).await {
        Ok(node) => node,
        Err(e) => {
            eprintln!("error: cannot listen for peers: {e}");
            std::process::exit(3);
        }
    };
    let listener = match tokio::net::TcpListener::bind(api_addr).await {
        Ok(l) => l,
        Err(e) => {
            eprintln!("error: cannot listen on --api {api_addr}: {e}");
            std::process::exit(3);
        }
    };
    tracing::info!(id, %api_addr, "replica ready");
    if let Err(e) = axum::serve(listener, api::router(node, client_authority)).await {
        eprintln!("error: http server: {e}");
        std::process::exit(3);
    }
}
