//! Password hashing with argon2id (OWASP's first choice) at the argon2 crate's defaults (19 MiB, 2 passes),
//! and what a password must be (NIST SP 800-63B, ASVS 2.1.1 and 2.1.7: at least 12 characters, no
//! composition rules, and not guessable: common and breached passwords, names, keyboard walks, repeats and
//! the account's own name are found by zxcvbn, the estimator Dropbox wrote from how crackers guess).

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};

use crate::secret::random_bytes;
use crate::{AccessError, AccessResult};

pub const MIN_PASSWORD_CHARS: usize = 12;
/// Longer passwords cost hashing time without adding strength that matters.
const MAX_PASSWORD_CHARS: usize = 256;

/// The fewest guesses a cracker must expect to need: zxcvbn's score 3 ("safely unguessable", over 10^8
/// guesses). Below it are `password1234`, `qwertyuiop12`, a name and a year, the account name repeated.
const MIN_SCORE: zxcvbn::Score = zxcvbn::Score::Three;

/// Refuses a password too short, too long, blank, or guessable; `user` (the account's name) counts as
/// something a guesser knows.
pub fn check_strength(password: &str, user: &str) -> AccessResult<()> {
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
    if password.trim().is_empty() {
        return Err(AccessError::invalid(
            "a password of only spaces is refused; a phrase of a few uncommon words is strong and easy to remember",
        ));
    }
    // Judged as a cracker sees it: full-width `ｐａｓｓｗｏｒｄ１２３４` is `password1234` to anyone who
    // normalises (NFKC) their guesses, and zxcvbn's dictionaries only know the plain forms.
    let plain: String = unicode_normalization::UnicodeNormalization::nfkc(password).collect();
    let estimate = zxcvbn::zxcvbn(&plain, &[user, "geoconsole"]);
    if estimate.score() < MIN_SCORE {
        let why = estimate.feedback().and_then(|f| f.warning()).map_or_else(
            || "it is among what crackers try first".to_string(),
            |w| w.to_string(),
        );
        return Err(AccessError::invalid(format!(
            "this password is too easy to guess ({}); a phrase of a few uncommon words is strong and easy to remember",
            why.trim_end_matches('.').to_lowercase()
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

    /// Issue 18: `password1234` and twelve spaces were accepted, length being the only rule.
    #[test]
    fn common_blank_and_guessable_passwords_are_refused() {
        for weak in [
            "password1234",
            "ｐａｓｓｗｏｒｄ１２３４",
            "            ",
            "\t\t\t\t\t\t\t\t\t\t\t\t",
            "qwertyuiop12",
            "123456789012",
            "aaaaaaaaaaaa",
            "Password2024!",
            "annann123456",
            "iloveyou2024",
            "geoconsole2024",
        ] {
            assert!(check_strength(weak, "ann").is_err(), "{weak:?}");
        }
        for strong in [
            "correct horse battery staple",
            "tidal quince ember lattice",
            "a long enough passphrase",
            "Vq8#mZ2!rT9p",
        ] {
            assert!(check_strength(strong, "ann").is_ok(), "{strong:?}");
        }
        let message = check_strength("password1234", "ann")
            .expect_err("common")
            .to_string();
        assert!(message.contains("too easy to guess"), "{message}");
    }

    #[test]
    fn short_and_huge_passwords_are_refused() {
        assert!(check_strength("elevenchars", "ann").is_err());
        assert!(check_strength(&"x".repeat(257), "ann").is_err());
        assert!(
            check_strength("ñandú grúa ñoqui vértigo", "ann").is_ok(),
            "characters, not bytes"
        );
    }
}
