//! Password hashing with argon2id (OWASP's first choice) at the argon2 crate's defaults (19 MiB, 2 passes),
//! and the length rule (NIST SP 800-63B, ASVS 2.1.1: at least 12 characters, no composition rules).

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};

use crate::secret::random_bytes;
use crate::{AccessError, AccessResult};

pub const MIN_PASSWORD_CHARS: usize = 12;
/// Longer passwords cost hashing time without adding strength that matters.
const MAX_PASSWORD_CHARS: usize = 256;

pub fn check_strength(password: &str) -> AccessResult<()> {
    let chars = password.chars().count();
    if chars < MIN_PASSWORD_CHARS {
        return Err(AccessError::invalid(format!(
            "a password needs at least {MIN_PASSWORD_CHARS} characters (this one has {chars})"
        )));
    }
    if chars > MAX_PASSWORD_CHARS {
        return Err(AccessError::invalid(format!(
            "a password may have at most {MAX_PASSWORD_CHARS} characters"
        )));
    }
    Ok(())
}

pub fn hash(password: &str) -> AccessResult<String> {
    let salt = SaltString::encode_b64(&random_bytes::<16>())
        .map_err(|e| AccessError::invalid(format!("cannot make a salt: {e}")))?;
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| AccessError::invalid(format!("cannot hash the password: {e}")))
}

/// Whether `password` matches the stored PHC string; a malformed stored hash never matches.
pub fn verify(stored: &str, password: &str) -> bool {
    PasswordHash::new(stored)
        .map(|parsed| {
            Argon2::default()
                .verify_password(password.as_bytes(), &parsed)
                .is_ok()
        })
        .unwrap_or(false)
}

/// A hash of nothing anyone knows, verified against when the account does not exist, so an unknown name
/// takes as long to refuse as a wrong password (ASVS 2.2.1: no account enumeration by timing).
pub fn decoy() -> &'static str {
    static DECOY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DECOY.get_or_init(|| {
        let random = hex(&random_bytes::<24>());
        hash(&random).unwrap_or_default()
    })
}

pub(crate) fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    bytes
        .iter()
        .fold(String::with_capacity(bytes.len() * 2), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_verify_and_differ_per_salt() {
        let a = hash("correct horse battery").expect("hash");
        let b = hash("correct horse battery").expect("hash");
        assert!(a.starts_with("$argon2id$"), "{a}");
        assert_ne!(a, b, "each hash has its own salt");
        assert!(verify(&a, "correct horse battery"));
        assert!(!verify(&a, "correct horse batterY"));
        assert!(!verify("not a hash", "correct horse battery"));
        assert!(!verify(decoy(), ""));
    }

    #[test]
    fn short_and_huge_passwords_are_refused() {
        assert!(check_strength("elevenchars").is_err());
        assert!(check_strength("twelve chars").is_ok());
        assert!(
            check_strength("ñandú ñandú ñ").is_ok(),
            "characters, not bytes"
        );
        assert!(check_strength(&"x".repeat(257)).is_err());
    }
}
