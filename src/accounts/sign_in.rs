//! Signing in to the console: the throttle, the password check on the password threads and the new
//! server-side session, decided here; the handler only turns the [`SignIn`] into a page or a
//! redirect (and writes the cookie).

use std::net::IpAddr;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use diesel::Connection;
use sha2::{Digest, Sha256};

use super::password_workers::PasswordWorkers;
use super::{check_password, normalize_email, throttle, AccountError, PasswordCheck};
use crate::client_ip::ClientNetwork;
use crate::db::{admin_accounts, admin_sessions, Db};
use crate::settings::AdminSettings;

/// Longest email kept from the form (the longest valid address; a longer one cannot be an account).
const MAX_TYPED_EMAIL_CHARS: usize = 254;
/// Longest `User-Agent` stored with a session.
const MAX_USER_AGENT_CHARS: usize = 512;

/// What a sign-in came to.
#[derive(Debug)]
pub enum SignIn {
    /// Too many failures for the account or the client's network: the password was not checked.
    Locked { retry_after_secs: u64 },
    /// A wrong password, or no such enabled account (not told apart).
    Refused,
    /// A new server-side session exists; `session_id` is for the cookie (the database holds only
    /// its hash, [`hash_session_id`]).
    Accepted { session_id: String },
}

/// A sign-in as the form sent it, with where it came from. No `Debug`: it holds the password.
pub struct Credentials<'a> {
    /// As made by [`typed_email`].
    pub email: &'a str,
    pub password: String,
    pub client_ip: Option<IpAddr>,
    pub user_agent: Option<&'a str>,
    pub now_ms: i64,
}

/// The email typed on the form as accounts are looked up, throttled and shown back: normalized when
/// it is an address, else as typed (trimmed, lower-cased, bounded), so that a mistyped one is still
/// counted against itself.
pub fn typed_email(typed: &str) -> String {
    let typed: String = typed
        .trim()
        .to_lowercase()
        .chars()
        .take(MAX_TYPED_EMAIL_CHARS)
        .collect();
    normalize_email(&typed).unwrap_or(typed)
}

/// Checks the credentials under the throttle ([`check_password`]: the attempt is recorded before
/// the hash runs) and, when they are right, settles the attempt as a success and opens a session,
/// in one transaction.
pub async fn sign_in(
    db: &Db,
    workers: &PasswordWorkers,
    policy: &AdminSettings,
    credentials: Credentials<'_>,
) -> Result<SignIn, AccountError> {
    let Credentials {
        email,
        password,
        client_ip,
        user_agent,
        now_ms,
    } = credentials;
    let client = client_ip.map(ClientNetwork::of);
    let check = check_password(db, workers, policy, email, client, password, now_ms).await?;
    let (account, attempt) = match check {
        PasswordCheck::Accepted { account, attempt } => (account, attempt),
        PasswordCheck::Locked { retry_after_secs } => {
            return Ok(SignIn::Locked { retry_after_secs })
        }
        PasswordCheck::Refused => return Ok(SignIn::Refused),
    };
    let session_id = new_session_id().ok_or(AccountError::NoRandomSource)?;
    let id_hash = hash_session_id(&session_id);
    let admin_id = account.id;
    let session_ip = client_ip.map(|ip| ip.to_string());
    let user_agent: Option<String> =
        user_agent.map(|ua| ua.chars().take(MAX_USER_AGENT_CHARS).collect());
    db.run(move |conn| {
        conn.transaction(|conn| {
            throttle::succeeded(conn, attempt)?;
            admin_accounts::record_login(conn, admin_id, now_ms)?;
            admin_sessions::insert(
                conn,
                &id_hash,
                admin_id,
                session_ip.as_deref(),
                user_agent.as_deref(),
                now_ms,
            )
        })
    })
    .await?;
    Ok(SignIn::Accepted { session_id })
}

/// 32 random bytes, base64url: the id the browser's cookie holds.
fn new_session_id() -> Option<String> {
    let mut id_bytes = [0u8; 32];
    getrandom::fill(&mut id_bytes).ok()?;
    Some(URL_SAFE_NO_PAD.encode(id_bytes))
}

/// SHA-256 (hex) of a session id: the key of its server-side record, so that a copy of the table is
/// no use for signing in.
pub fn hash_session_id(id: &str) -> String {
    Sha256::digest(id.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}
