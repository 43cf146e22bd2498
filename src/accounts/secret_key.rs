//! The key of the console's session cookies, derived from `SECRET_KEY`.
//!
//! Without a `SECRET_KEY`, one is generated on first start and stored in the database, in every
//! mode: `cargo run` works with nothing set, and every instance on one database shares the key, so a
//! console session works on any of them. An explicit `SECRET_KEY` always wins. Replacing either
//! (setting a new `SECRET_KEY`, or deleting the stored row) signs every administrator out.

use actix_web::cookie::Key;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::db::secret_key::{self as stored, Origin};
use crate::db::{Db, DbError};
use crate::settings::Settings;

/// The shortest secret accepted, as for `SECRET_KEY` itself.
const MIN_SECRET_CHARS: usize = 32;

#[derive(Debug, thiserror::Error)]
pub enum SecretKeyError {
    #[error(
        "SECRET_KEY is not set and the generated key cannot be read or stored in the database \
         ({0}); set SECRET_KEY (at least 32 characters), or make the database reachable and migrated"
    )]
    Database(#[from] DbError),
    #[error(
        "the SECRET_KEY stored in the database is shorter than {MIN_SECRET_CHARS} characters: \
         delete the row of table generated_secret_key to generate a new one, or set SECRET_KEY"
    )]
    StoredTooShort,
    #[error("the operating system's random source failed: {0}")]
    Random(String),
}

/// The cookie key for these settings: from `SECRET_KEY` when set, else from the key stored in the
/// database (generated now when there is none).
pub fn cookie_key(settings: &Settings, db: &Db, now_ms: i64) -> Result<Key, SecretKeyError> {
    let secret = match &settings.security.secret_key {
        Some(secret) => secret.expose().to_owned(),
        None => generated(db, now_ms)?,
    };
    Ok(derive(secret.as_bytes()))
}

/// 64 bytes (signing and encryption halves, as `cookie::Key` wants) from HMAC-SHA256 of the secret
/// over two fixed labels: the cookie key is never the `SECRET_KEY` itself, so other uses of that
/// secret cannot be confused with it.
fn derive(secret: &[u8]) -> Key {
    let mut master = Vec::with_capacity(64);
    for label in [
        b"auth-core admin session cookie/1".as_slice(),
        b"auth-core admin session cookie/2".as_slice(),
    ] {
        let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(secret) else {
            unreachable!("HMAC accepts keys of any length");
        };
        mac.update(label);
        master.extend_from_slice(&mac.finalize().into_bytes());
    }
    Key::from(&master)
}

fn generated(db: &Db, now_ms: i64) -> Result<String, SecretKeyError> {
    let mut bytes = [0u8; 48];
    getrandom::fill(&mut bytes).map_err(|e| SecretKeyError::Random(e.to_string()))?;
    let candidate = URL_SAFE_NO_PAD.encode(bytes);
    let (secret, origin) = stored::stored_or_insert(&mut *db.get()?, &candidate, now_ms)?;
    if secret.chars().count() < MIN_SECRET_CHARS {
        return Err(SecretKeyError::StoredTooShort);
    }
    // The secret itself is never logged; only where it lives.
    match origin {
        Origin::Generated => log::info!(
            "SECRET_KEY is not set: generated a key for the admin console's sessions and stored it \
             in the database (shared by every instance on it; set SECRET_KEY to use your own)"
        ),
        Origin::Stored => log::info!(
            "SECRET_KEY is not set: the admin console's sessions use the key generated on first \
             start, stored in the database"
        ),
    }
    Ok(secret)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn derivation_is_stable_and_depends_on_the_secret() {
        let a = derive(b"0123456789abcdef0123456789abcdef");
        let b = derive(b"0123456789abcdef0123456789abcdef");
        let c = derive(b"0123456789abcdef0123456789abcdeF");
        assert_eq!(a.master(), b.master());
        assert_ne!(a.master(), c.master());
        assert_eq!(a.master().len(), 64);
    }
}
