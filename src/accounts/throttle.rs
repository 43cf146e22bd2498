//! Password-guessing throttle for the console (sign-in and changing one's own password): too many
//! failures for one account, or from one client network (an IPv4 address or an IPv6 /64), within
//! the window lock further attempts until the oldest counted failure leaves the window. While
//! locked, the password is not even checked, so a locked account cannot be probed for the right one.
//!
//! Invariants:
//! - an attempt is recorded (as a failure) *before* its password is checked, and only a right
//!   password turns it into a success ([`succeeded`]): attempts in flight count, so a burst of N
//!   counts as N, and a request that dies half-way stays counted;
//! - of any number of attempts arriving at once, at most the limit get their password checked, on
//!   every instance (the count is in the database; see [`reserve`] for why no lock is needed);
//! - when already locked, nothing is written: a flood against a locked account costs reads only.

use crate::client_ip::ClientNetwork;
use crate::db::{login_attempts, DbConnection, DbError};
use crate::settings::AdminSettings;

/// An attempt recorded before its password is checked: a failure unless passed to [`succeeded`].
#[derive(Debug)]
#[must_use = "an attempt is a failure unless it is marked as succeeded"]
pub struct Attempt {
    id: i64,
}

#[derive(Debug)]
pub enum Verdict {
    /// Check the password; pass the attempt to [`succeeded`] if it is right.
    Allowed(Attempt),
    /// Locked; attempts are accepted again after this many seconds.
    Locked { retry_after_secs: u64 },
}

/// Records an attempt for `email` from `client`, unless they are locked already.
///
/// Why this is exact without a lock: each attempt's row is committed before the attempt counts
/// the rows, so of any two attempts the one that counts last sees the other. Ordered by when they
/// count, the k-th attempt of a burst sees at least k - 1 rows besides its own; only those seeing
/// fewer than the limit go on, so at most the limit do, however many arrive at once and on however many instances. Under a
/// burst some may be refused that a slower arrival would have let through: that errs closed.
/// Hence `conn` must not be inside a transaction: the row has to be committed before the count.
pub fn reserve(
    conn: &mut DbConnection,
    policy: &AdminSettings,
    email: &str,
    client: Option<ClientNetwork>,
    now_ms: i64,
) -> Result<Verdict, DbError> {
    let network = client.map(|c| c.to_string());
    let network = network.as_deref();
    if let Some(verdict) = lock(conn, policy, email, network, now_ms, None)? {
        return Ok(verdict);
    }
    let id = login_attempts::insert_failed(conn, email, network, now_ms)?;
    if let Some(verdict) = lock(conn, policy, email, network, now_ms, Some(id))? {
        return Ok(verdict);
    }
    Ok(Verdict::Allowed(Attempt { id }))
}

/// The password was right: the attempt is a success, and the account's earlier failures stop
/// counting (its client network's do not).
pub fn succeeded(conn: &mut DbConnection, attempt: Attempt) -> Result<(), DbError> {
    login_attempts::mark_succeeded(conn, attempt.id)
}

/// `Some(Locked)` when the failures counted, other than this attempt's own row, reach a limit.
fn lock(
    conn: &mut DbConnection,
    policy: &AdminSettings,
    email: &str,
    network: Option<&str>,
    now_ms: i64,
    own: Option<i64>,
) -> Result<Option<Verdict>, DbError> {
    let window_ms = i64::try_from(policy.login_window.as_millis()).unwrap_or(i64::MAX);
    let since = now_ms.saturating_sub(window_ms);
    let mut unlock_at: Option<i64> = None;
    let (failures, oldest) = login_attempts::account_failures(conn, email, since, own)?;
    if failures >= i64::from(policy.login_max_failures) {
        unlock_at = oldest.map(|t| t + window_ms);
    }
    if let Some(network) = network {
        let (failures, oldest) = login_attempts::network_failures(conn, network, since, own)?;
        if failures >= i64::from(policy.login_ip_max_failures) {
            unlock_at = unlock_at.max(oldest.map(|t| t + window_ms));
        }
    }
    Ok(unlock_at.map(|at| Verdict::Locked {
        retry_after_secs: u64::try_from((at - now_ms).max(1_000) / 1_000).unwrap_or(1),
    }))
}

/// "15 minutes", "1 minute": how long a lock lasts, for pages.
pub fn wait_text(retry_after_secs: u64) -> String {
    let minutes = retry_after_secs.div_ceil(60);
    format!("{minutes} minute{}", if minutes == 1 { "" } else { "s" })
}
