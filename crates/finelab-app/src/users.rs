//! The people who may sign in to a shared `finelab serve` of a project (`finelab user`): added
//! with a role and a generated password, which only its argon2id hash outlives.

use crate::{AppError, Result};
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use finelab_store::{Role, Store, User};
use std::path::Path;

/// A user and the password made for them, shown once.
#[derive(Debug, Clone, serde::Serialize, ts_rs::TS)]
pub struct NewPassword {
    /// Who.
    pub user: User,
    /// The password to hand them; only its hash is kept.
    pub password: String,
}

/// Letters and digits without the ones people misread (0/O, 1/l/I).
const ALPHABET: &[u8] = b"abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";

/// 20 characters of that alphabet: about 115 random bits.
fn generate_password() -> Result<String> {
    let mut bytes = [0u8; 20];
    getrandom::fill(&mut bytes)
        .map_err(|e| AppError::Unsupported(format!("this system gives no random numbers for a password: {e}")))?;
    // 256 is not a multiple of the alphabet's size, so bytes at or above the largest multiple
    // are drawn again (no bias).
    let limit = 256 - 256 % ALPHABET.len();
    let mut out = String::with_capacity(bytes.len());
    for mut b in bytes {
        while usize::from(b) >= limit {
            let mut one = [0u8; 1];
            getrandom::fill(&mut one)
                .map_err(|e| AppError::Unsupported(format!("this system gives no random numbers: {e}")))?;
            b = one[0];
        }
        out.push(ALPHABET[usize::from(b) % ALPHABET.len()] as char);
    }
    Ok(out)
}

/// The argon2id PHC string of `password` with a fresh salt (the crate's default cost: 19 MiB,
/// 2 passes, as OWASP recommends).
pub fn hash_password(password: &str) -> Result<String> {
    let mut salt = [0u8; 16];
    getrandom::fill(&mut salt)
        .map_err(|e| AppError::Unsupported(format!("this system gives no random numbers for a salt: {e}")))?;
    let salt = SaltString::encode_b64(&salt).map_err(|e| AppError::Invalid(format!("cannot make a salt: {e}")))?;
    Ok(Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map_err(|e| AppError::Invalid(format!("cannot hash a password: {e}")))?
        .to_string())
}

/// Whether `password` is the one `hash` was made from.
pub fn verify_password(password: &str, hash: &str) -> bool {
    PasswordHash::new(hash).is_ok_and(|parsed| Argon2::default().verify_password(password.as_bytes(), &parsed).is_ok())
}

/// Adds `name` with `role` and a generated password.
pub fn add(dir: &Path, name: &str, role: Role) -> Result<NewPassword> {
    let store = Store::open(dir)?;
    let password = generate_password()?;
    let user = store.add_user(name, role, &hash_password(&password)?)?;
    Ok(NewPassword { user, password })
}

/// Gives `name` a new generated password; their sessions end.
pub fn reset(dir: &Path, name: &str) -> Result<NewPassword> {
    let store = Store::open(dir)?;
    let password = generate_password()?;
    let user = store.set_password(name, &hash_password(&password)?)?;
    Ok(NewPassword { user, password })
}

/// Every user of the project.
pub fn list(dir: &Path) -> Result<Vec<User>> {
    Ok(Store::open(dir)?.users()?)
}

/// Removes `name` (their annotations stay).
pub fn remove(dir: &Path, name: &str) -> Result<()> {
    Ok(Store::open(dir)?.remove_user(name)?)
}

/// A valid argon2 hash of nothing anyone signs in with: checked for an unknown name, so that the
/// time a failed sign-in takes does not tell whether the name exists.
pub fn unknown_user_hash() -> &'static str {
    static HASH: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    HASH.get_or_init(|| hash_password("\u{0}no such user\u{0}").unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_hash_and_verify() {
        let password = generate_password().unwrap();
        assert_eq!(password.len(), 20);
        assert!(password.bytes().all(|b| ALPHABET.contains(&b)));
        assert_ne!(password, generate_password().unwrap());
        let hash = hash_password(&password).unwrap();
        assert!(hash.starts_with("$argon2id$"), "{hash}");
        assert!(!hash.contains(&password));
        assert!(verify_password(&password, &hash));
        assert!(!verify_password("wrong", &hash));
        assert!(!verify_password(&password, "not a hash"));
        assert_ne!(hash, hash_password(&password).unwrap(), "a fresh salt every time");
    }
}
