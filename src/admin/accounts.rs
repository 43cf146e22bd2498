//! Administrator accounts: creation, disabling and password changes, shared by the command line
//! (`auth-core admin …`) and the console's administrators page.

use crate::db::{admin_accounts, admin_sessions, DbConnection, DbError};
use diesel::Connection;

use super::password::{self, PasswordError};

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

/// Creates an account; returns its id.
pub fn create(
    conn: &mut DbConnection,
    email: &str,
    password: &str,
    now_ms: i64,
) -> Result<i64, AccountError> {
    let email = normalize_email(email)?;
    let hash = password::hash(password)?;
    admin_accounts::insert(conn, &email, &hash, now_ms)?.ok_or(AccountError::Exists(email))
}

/// Disables an account and ends its sessions; `false` when it was already disabled or unknown.
pub fn disable(conn: &mut DbConnection, id: i64, now_ms: i64) -> Result<bool, DbError> {
    conn.transaction(|conn| {
        let disabled = admin_accounts::disable(conn, id, now_ms)?;
        admin_sessions::end_all_of(conn, id, None, now_ms)?;
        Ok(disabled)
    })
}

/// Sets a new password and ends the account's other sessions (the current one, `keep`, stays).
pub fn change_password(
    conn: &mut DbConnection,
    id: i64,
    new_password: &str,
    keep_session: Option<&str>,
    now_ms: i64,
) -> Result<(), AccountError> {
    let hash = password::hash(new_password)?;
    conn.transaction::<_, DbError, _>(|conn| {
        admin_accounts::set_password(conn, id, &hash, now_ms)?;
        admin_sessions::end_all_of(conn, id, keep_session, now_ms)?;
        Ok(())
    })?;
    Ok(())
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
