//! Administrator accounts: creation, disabling, password checks and changes, shared by the command
//! line (`auth-core admin …`) and the console, and signing in to the console ([`sign_in`]). In the
//! server every argon2 hash runs on the password threads ([`PasswordWorkers`]), never on the
//! blocking pool the database work uses.

pub mod housekeeping;
pub mod password;
pub mod password_workers;
pub mod secret_key;
pub mod sign_in;
pub mod throttle;

use crate::client_ip::ClientNetwork;
use crate::db::admin_accounts::AdminRow;
use crate::db::{admin_accounts, admin_sessions, Db, DbConnection, DbError};
use crate::settings::AdminSettings;
use diesel::Connection;

use self::password::PasswordError;
use self::password_workers::{PasswordWorkError, PasswordWorkers};
use self::throttle::{Attempt, Verdict};

#[derive(Debug, thiserror::Error)]
pub enum AccountError {
    #[error("{0:?} is not an email address")]
    InvalidEmail(String),
    #[error("an administrator with email {0} already exists")]
    Exists(String),
    #[error("{0}")]
    Password(#[from] PasswordError),
    #[error("{0}")]
    Database(#[from] DbError),
    #[error("{0}")]
    Work(#[from] PasswordWorkError),
    /// The operating system gave no random bytes for a session id.
    #[error("no random source")]
    NoRandomSource,
}

const MAX_EMAIL: usize = 254;

/// Emails are compared lower-cased and trimmed, so `Alice@Example.com` is one account.
pub fn normalize_email(email: &str) -> Result<String, AccountError> {
    let email = email.trim().to_lowercase();
    let valid = email.len() <= MAX_EMAIL
        && email.split_once('@').is_some_and(|(local, domain)| {
            !local.is_empty() && domain.contains('.') && !domain.starts_with('.')
        })
        && !email.chars().any(|c| c.is_whitespace() || c.is_control());
    if valid {
        Ok(email)
    } else {
        Err(AccountError::InvalidEmail(email))
    }
}

/// Creates an account, hashing here (for the command line and tests); returns its id.
pub fn create(
    conn: &mut DbConnection,
    email: &str,
    password: &str,
    now_ms: i64,
) -> Result<i64, AccountError> {
    let email = normalize_email(email)?;
    let hash = password::hash(password)?;
    create_hashed(conn, &email, &hash, now_ms)
}

/// Creates an account for a normalized email and a hash made by [`hash_on`]; returns its id.
pub fn create_hashed(
    conn: &mut DbConnection,
    email: &str,
    password_hash: &str,
    now_ms: i64,
) -> Result<i64, AccountError> {
    admin_accounts::insert(conn, email, password_hash, now_ms)?
        .ok_or_else(|| AccountError::Exists(email.to_owned()))
}

/// Hashes a new password on the password threads, after the policy check (which is cheap).
pub async fn hash_on(
    workers: &PasswordWorkers,
    new_password: String,
) -> Result<String, AccountError> {
    password::check_policy(&new_password)?;
    Ok(workers.run(move || password::hash(&new_password)).await??)
}

/// What a password check under the throttle found.
#[derive(Debug)]
pub enum PasswordCheck {
    Locked {
        retry_after_secs: u64,
    },
    /// A wrong password, or no such enabled account: the attempt stays counted as a failure.
    Refused,
    /// The password is right; `attempt` is settled with what it allows ([`throttle::succeeded`]).
    Accepted {
        account: AdminRow,
        attempt: Attempt,
    },
}

/// Checks `password` for the account `email` from `client`, under the throttle: the attempt is
/// recorded before the hash runs, so every attempt of a burst counts. An unknown email costs the
/// same hash as a known one (no account enumeration by timing).
pub async fn check_password(
    db: &Db,
    workers: &PasswordWorkers,
    policy: &AdminSettings,
    email: &str,
    client: Option<ClientNetwork>,
    password: String,
    now_ms: i64,
) -> Result<PasswordCheck, AccountError> {
    let (policy, email) = (policy.clone(), email.to_owned());
    let (verdict, account) = db
        .run(move |conn| {
            let verdict = throttle::reserve(conn, &policy, &email, client, now_ms)?;
            let account = match verdict {
                Verdict::Allowed(_) => admin_accounts::find_by_email(conn, &email)?,
                Verdict::Locked { .. } => None,
            };
            Ok((verdict, account))
        })
        .await?;
    let attempt = match verdict {
        Verdict::Allowed(attempt) => attempt,
        Verdict::Locked { retry_after_secs } => {
            return Ok(PasswordCheck::Locked { retry_after_secs })
        }
    };
    let stored = account.as_ref().map(|a| a.password_hash.clone());
    let matches = workers
        .run(move || match stored {
            Some(hash) => password::verify(&password, &hash),
            None => {
                password::verify_against_nothing(&password);
                false
            }
        })
        .await?;
    Ok(match account.filter(|a| matches && !a.is_disabled()) {
        Some(account) => PasswordCheck::Accepted { account, attempt },
        None => PasswordCheck::Refused,
    })
}

/// Disables an account and ends its sessions; `false` when it was already disabled or unknown.
pub fn disable(conn: &mut DbConnection, id: i64, now_ms: i64) -> Result<bool, DbError> {
    conn.transaction(|conn| {
        let disabled = admin_accounts::disable(conn, id, now_ms)?;
        admin_sessions::end_all_of(conn, id, None, now_ms)?;
        Ok(disabled)
    })
}

/// Sets a password chosen by an operator (the command line: the administrator forgot theirs), and
/// ends every session of the account, so whoever held one signs in with the new password.
pub fn reset_password(
    conn: &mut DbConnection,
    id: i64,
    new_password: &str,
    now_ms: i64,
) -> Result<(), AccountError> {
    let hash = password::hash(new_password)?;
    conn.transaction(|conn| {
        admin_accounts::set_password(conn, id, &hash, now_ms)?;
        admin_sessions::end_all_of(conn, id, None, now_ms)
    })?;
    Ok(())
}

/// Sets a new password (hashed by [`hash_on`]) after the current one was accepted as `attempt`,
/// and ends the account's other sessions (the current one, `keep_session`, stays).
pub fn change_password(
    conn: &mut DbConnection,
    attempt: Attempt,
    id: i64,
    new_password_hash: &str,
    keep_session: &str,
    now_ms: i64,
) -> Result<(), DbError> {
    conn.transaction(|conn| {
        throttle::succeeded(conn, attempt)?;
        admin_accounts::set_password(conn, id, new_password_hash, now_ms)?;
        admin_sessions::end_all_of(conn, id, Some(keep_session), now_ms)?;
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn emails_are_normalized_and_checked() {
        assert_eq!(
            normalize_email("  Alice@Example.COM ").unwrap(),
            "alice@example.com"
        );
        for bad in [
            "",
            "alice",
            "@example.com",
            "alice@example",
            "a b@example.com",
            "alice@.com",
        ] {
            assert!(normalize_email(bad).is_err(), "{bad:?}");
        }
        assert!(normalize_email(&format!("{}@example.com", "a".repeat(250))).is_err());
    }
}
