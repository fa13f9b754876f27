//! Random secrets and their digests. Tokens and session ids carry 256 bits from the OS; the store keeps
//! only their SHA-256, so a copy of the database lets nobody in. SHA-256 rather than a slow hash is right
//! here: the secrets are random and long, so there is nothing to guess.

use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::password::hex;

pub fn random_bytes<const N: usize>() -> [u8; N] {
    let mut bytes = [0u8; N];
    // The OS random source failing is not something to serve through.
    getrandom::fill(&mut bytes).expect("the operating system's random source works");
    bytes
}

/// A random secret as URL-safe text (hex, so it survives headers, cookies and shells unquoted).
pub fn random_text<const N: usize>() -> String {
    hex(&random_bytes::<N>())
}

pub fn digest(secret: &str) -> String {
    hex(&Sha256::digest(secret.as_bytes()))
}

/// Compares without leaking, by timing, how much of the two matched.
pub fn same(a: &str, b: &str) -> bool {
    a.as_bytes().ct_eq(b.as_bytes()).into()
}
