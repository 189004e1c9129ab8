//! Argon2id password hashing. Both calls take ~15 ms of CPU in an optimized build, so callers
//! run them on the blocking pool (inside `Database::read`/`write` closures or `web::block`).

use argon2::Argon2;
use argon2::password_hash::phc::PasswordHash;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};

use crate::domain::Password;

pub fn hash_password(password: &Password) -> anyhow::Result<String> {
    Argon2::default()
        .hash_password(password.expose().as_bytes())
        .map(|hash| hash.to_string())
        .map_err(|e| anyhow::anyhow!("could not hash password: {e}"))
}

/// True when `candidate` matches the stored PHC string. A malformed hash never matches.
pub fn verify_password(candidate: &str, phc: &str) -> bool {
    match PasswordHash::new(phc) {
        Ok(parsed) => Argon2::default().verify_password(candidate.as_bytes(), &parsed).is_ok(),
        Err(_) => false,
    }
}

/// A fixed hash to verify against when an email is unknown, so that sign-in takes the same
/// time whether or not the account exists (no account enumeration by timing).
pub fn dummy_hash() -> &'static str {
    static DUMMY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DUMMY.get_or_init(|| {
        let password = Password::parse("dummy-password-never-matches").expect("constant is valid");
        hash_password(&password).unwrap_or_default()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_verify_and_reject() {
        let pw = Password::parse("correct horse battery").unwrap();
        let phc = hash_password(&pw).unwrap();
        assert!(phc.starts_with("$argon2id$"));
        assert!(verify_password("correct horse battery", &phc));
        assert!(!verify_password("wrong horse battery", &phc));
        assert!(!verify_password("anything", "not a phc string"));
    }
}
