//! Prints deterministic ed25519 keys for a local cluster of generals, derived from a seed
//! word: `cargo run -p generals-node --example keygen -- 4 demo` prints one line per
//! general (`id secret public`) and then the comma-separated `--pubkeys` value.
//! For trying nodes by hand only: anyone who knows the seed word knows the secrets.

use ed25519_dalek::SigningKey;
use sha2::{Digest, Sha256};

fn main() {
    let mut args = std::env::args().skip(1);
    let n: u32 = match args.next().map(|a| a.parse()) {
        Some(Ok(n)) if n > 0 => n,
        _ => {
            eprintln!("usage: keygen N [SEED_WORD]   (N: number of generals, at least 1)");
            std::process::exit(2);
        }
    };
    let word = args.next().unwrap_or_else(|| "generals".into());
    let mut public = Vec::new();
    for id in 0..n {
        let secret: [u8; 32] = Sha256::digest(format!("{word}/{id}")).into();
        let key = hex::encode(SigningKey::from_bytes(&secret).verifying_key().to_bytes());
        println!("{id} {} {key}", hex::encode(secret));
        public.push(key);
    }
    println!("{}", public.join(","));
}
