//! A warning repeated by a flood (dropped events, refused rows) reaches the log at most once a
//! minute, so the flood cannot also flood the log.

use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Lets a repeated warning through at most once a minute.
#[derive(Default)]
pub(super) struct LogThrottle(Mutex<Option<Instant>>);

impl LogThrottle {
    /// Whether to log now (and, if so, not again for a minute).
    pub(super) fn ready(&self) -> bool {
        // A poisoned lock still holds a usable time: a panic elsewhere must not silence warnings.
        let mut logged_at = self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let ready = logged_at.is_none_or(|at| at.elapsed() >= Duration::from_secs(60));
        if ready {
            *logged_at = Some(Instant::now());
        }
        ready
    }
}
