//! Node keys, generated per run from the seed: every run reproducible, no key reused across
//! seeds. The harness keeps the secrets; only Byzantine nodes' secrets are ever handed to
//! adversaries.

use ed25519_dalek::SigningKey;
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};

/// One keypair per node, as the hex strings node arguments take.
#[derive(Clone, Debug)]
pub struct Keys {
    pub secret_hex: Vec<String>,
    pub public_hex: Vec<String>,
    signing: Vec<SigningKey>,
    /// The client authority: clients sign their requests with it so that a Byzantine node
    /// cannot forge a request in a client's name. Only the harness's clients hold it.
    pub client_authority: SigningKey,
}

impl Keys {
    /// Keys for `n` nodes from `seed`.
    pub fn generate(n: usize, seed: u64) -> Self {
        // A stream of its own, so key generation never shifts other seeded choices.
        let mut rng = StdRng::seed_from_u64(seed ^ 0x6B65_7973_6B65_7973);
        let signing: Vec<SigningKey> = (0..n)
            .map(|_| SigningKey::from_bytes(&rng.random()))
            .collect();
        let client_authority = SigningKey::from_bytes(&rng.random());
        Self {
            secret_hex: signing.iter().map(|k| hex::encode(k.to_bytes())).collect(),
            public_hex: signing
                .iter()
                .map(|k| hex::encode(k.verifying_key().to_bytes()))
                .collect(),
            signing,
            client_authority,
        }
    }

    /// The client authority's public key, as `{client_public_key}` takes it.
    pub fn client_public_hex(&self) -> String {
        hex::encode(self.client_authority.verifying_key().to_bytes())
    }

    /// Node `node`'s signing key; handed only to adversaries, only for Byzantine nodes.
    pub fn signing_key(&self, node: u32) -> SigningKey {
        self.signing[node as usize].clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_reproducible_and_distinct() {
        let a = Keys::generate(4, 9);
        assert_eq!(a.public_hex, Keys::generate(4, 9).public_hex);
        assert_ne!(a.public_hex, Keys::generate(4, 10).public_hex);
        assert_eq!(a.secret_hex[0].len(), 64);
        assert_ne!(a.public_hex[0], a.public_hex[1]);
    }
}
