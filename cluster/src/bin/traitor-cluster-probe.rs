//! A tiny node program for testing backends, using only std (so it builds static in a
//! second, and the tests can also build it as a workspace of its own).
//!
//! `traitor-cluster-probe --api IP:PORT [ANY...]` serves HTTP/1.0 on `--api`:
//! - `GET /health` -> `200 ok`
//! - `GET /args` -> its arguments, space separated (to check a restart keeps them)
//! - `GET /connect/IP:PORT` -> `200 connected` if a TCP connection to IP:PORT opens within
//!   one second, else `503 unreachable: <why>` (to check which links the network allows)
//!
//! It writes one line to stdout and one to stderr at start, for the log tests.

use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::time::Duration;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let api = args
        .iter()
        .position(|a| a == "--api")
        .and_then(|i| args.get(i + 1))
        .and_then(|a| a.parse::<SocketAddr>().ok());
    let Some(api) = api else {
        eprintln!("usage: traitor-cluster-probe --api IP:PORT [ANY...]");
        std::process::exit(2);
    };
    let listener = match TcpListener::bind(api) {
        Ok(l) => l,
        Err(e) => {
            eprintln!("probe: cannot listen on {api}: {e}");
            std::process::exit(1);
        }
    };
    println!("probe listening on {api}");
    eprintln!("probe stderr: args {}", args.join(" "));
    let joined = args.join(" ");
    for stream in listener.incoming().flatten() {
        let joined = joined.clone();
        std::thread::spawn(move || serve(stream, &joined));
    }
}

fn serve(mut stream: TcpStream, args: &str) {
    let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
    let mut line = String::new();
    if BufReader::new(&stream).read_line(&mut line).is_err() {
        return;
    }
    let path = line.split_whitespace().nth(1).unwrap_or("");
    let (status, body) = match path {
        "/health" => ("200 OK", "ok".to_string()),
        "/args" => ("200 OK", args.to_string()),
        _ => match path.strip_prefix("/connect/").map(str::parse::<SocketAddr>) {
            Some(Ok(addr)) => match TcpStream::connect_timeout(&addr, Duration::from_secs(1)) {
                Ok(_) => ("200 OK", "connected".to_string()),
                Err(e) => ("503 Service Unavailable", format!("unreachable: {e}")),
            },
            Some(Err(e)) => ("400 Bad Request", format!("bad address: {e}")),
            None => ("404 Not Found", "no such path".to_string()),
        },
    };
    let _ = write!(
        stream,
        "HTTP/1.0 {status}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
}
