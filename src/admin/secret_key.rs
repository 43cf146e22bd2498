//! The key of the console's session cookies, derived from `SECRET_KEY`.
//!
//! In development (`DEBUG=true`) without a `SECRET_KEY`, one is generated once and kept in the data
//! directory (mode 0600) so that sessions survive restarts; in production a missing key stops
//! start-up rather than signing cookies with something guessable.

use std::io::Write;
use std::path::{Path, PathBuf};

use actix_web::cookie::Key;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::settings::Settings;

const GENERATED_KEY_FILE: &str = "secret_key";

#[derive(Debug, thiserror::Error)]
pub enum SecretKeyError {
    #[error(
        "SECRET_KEY is not set: the admin console keys its session cookies with it. Set SECRET_KEY \
         (at least 32 characters), or AUTH_CORE__ADMIN__ENABLED=false to run without the console \
         (in development, DEBUG=true generates one in the data directory)"
    )]
    Missing,
    #[error("cannot keep a generated SECRET_KEY in {path}: {error}")]
    Io {
        path: PathBuf,
        error: std::io::Error,
    },
    #[error("the operating system's random source failed: {0}")]
    Random(String),
}

/// The cookie key for these settings.
pub fn cookie_key(settings: &Settings) -> Result<Key, SecretKeyError> {
    let secret = match &settings.security.secret_key {
        Some(secret) => secret.expose().to_owned(),
        None if settings.server.debug => generated(&settings.database.data_dir)?,
        None => return Err(SecretKeyError::Missing),
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

fn generated(data_dir: &Path) -> Result<String, SecretKeyError> {
    let path = data_dir.join(GENERATED_KEY_FILE);
    let io = |error| SecretKeyError::Io {
        path: path.clone(),
        error,
    };
    match std::fs::read_to_string(&path) {
        Ok(existing) if existing.trim().len() >= 32 => return Ok(existing.trim().to_owned()),
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(io(e)),
    }
    let mut bytes = [0u8; 48];
    getrandom::fill(&mut bytes).map_err(|e| SecretKeyError::Random(e.to_string()))?;
    let secret = URL_SAFE_NO_PAD.encode(bytes);
    std::fs::create_dir_all(data_dir).map_err(io)?;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(&path).map_err(io)?;
    file.write_all(secret.as_bytes()).map_err(io)?;
    log::warn!(
        "SECRET_KEY is not set: generated one for development in {}",
        path.display()
    );
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

    #[test]
    fn a_generated_key_is_kept_and_reused() {
        let dir = tempfile::tempdir().unwrap();
        let first = generated(dir.path()).unwrap();
        let second = generated(dir.path()).unwrap();
        assert_eq!(first, second);
        assert!(first.len() >= 64);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dir.path().join(GENERATED_KEY_FILE))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }
}
