//! Sign-in throttling: too many failures for one account, or from one client IP, within the window
//! lock further attempts until the oldest counted failure leaves the window. While locked, the
//! password is not even checked, so a locked account cannot be probed for the right one.

use crate::db::{login_attempts, DbConnection, DbError};
use crate::settings::AdminSettings;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Allowed,
    /// Locked; sign-ins are accepted again after this many seconds.
    Locked {
        retry_after_secs: u64,
    },
}

pub fn check(
    conn: &mut DbConnection,
    policy: &AdminSettings,
    email: &str,
    client_ip: Option<&str>,
    now_ms: i64,
) -> Result<Verdict, DbError> {
    let window_ms = i64::try_from(policy.login_window.as_millis()).unwrap_or(i64::MAX);
    let since = now_ms.saturating_sub(window_ms);
    let mut unlock_at: Option<i64> = None;
    let (failures, oldest) = login_attempts::account_failures(conn, email, since)?;
    if failures >= i64::from(policy.login_max_failures) {
        unlock_at = oldest.map(|t| t + window_ms);
    }
    if let Some(ip) = client_ip {
        let (failures, oldest) = login_attempts::ip_failures(conn, ip, since)?;
        if failures >= i64::from(policy.login_ip_max_failures) {
            let at = oldest.map(|t| t + window_ms);
            unlock_at = unlock_at.max(at);
        }
    }
    Ok(match unlock_at {
        None => Verdict::Allowed,
        Some(at) => Verdict::Locked {
            retry_after_secs: u64::try_from((at - now_ms).max(1_000) / 1_000).unwrap_or(1),
        },
    })
}
