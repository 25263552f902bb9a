//! `pbft-keygen N`: prints N ed25519 key pairs, one `secret-hex public-hex` line per replica,
//! for starting a cluster by hand.

use pbft_node::crypto::public_key_hex;

fn main() {
    let arg = std::env::args().nth(1);
    let Some(n) = arg
        .as_deref()
        .and_then(|a| a.parse::<usize>().ok())
        .filter(|n| *n > 0)
    else {
        eprintln!("usage: pbft-keygen N   (N = number of replicas, at least 1)");
        std::process::exit(2);
    };
    for _ in 0..n {
        let secret: [u8; 32] = rand::random();
        println!("{} {}", hex::encode(secret), public_key_hex(&secret));
    }
}
