//! When to ask Clerk again: `Retry-After` on 429, exponential back-off with jitter on 5xx and
//! transport failures, and a pacer that keeps requests under a rate. Pure arithmetic plus one sleep,
//! so the rules are unit-tested without a server.
//!
//! Invariants: every wait is bounded (`max_backoff`, `max_retry_after`); the number of attempts per
//! request is bounded (`max_attempts`, 429s included), so a server that never recovers ends the
//! listing with an error instead of holding it forever.

use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How often and how long to retry one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts per request, the first included.
    pub max_attempts: u32,
    /// Back-off ceiling before the first retry; it grows 1.5 times per retry.
    pub first_backoff: Duration,
    pub max_backoff: Duration,
    /// A 429 asking for a longer pause than this fails the request instead of waiting.
    pub max_retry_after: Duration,
}

impl Default for RetryPolicy {
    /// The spec's own retry advice (`x-speakeasy-retries`: 500 ms initial, ×1.5, 60 s at most), with
    /// ten attempts: about four minutes of waiting before a listing gives up.
    fn default() -> Self {
        Self {
            max_attempts: 10,
            first_backoff: Duration::from_millis(500),
            max_backoff: Duration::from_secs(60),
            max_retry_after: Duration::from_secs(300),
        }
    }
}

impl RetryPolicy {
    /// The back-off before retry number `retry` (1 for the first retry), before jitter: the first
    /// back-off times 1.5^(retry-1), capped.
    pub fn ceiling(&self, retry: u32) -> Duration {
        let mut wait = self.first_backoff;
        for _ in 1..retry {
            wait = wait.saturating_mul(3) / 2;
            if wait >= self.max_backoff {
                return self.max_backoff;
            }
        }
        wait.min(self.max_backoff)
    }

    /// "Equal jitter": half the ceiling for sure plus a random part of the other half, so that
    /// clients that failed together do not come back together, and none retries at once.
    pub fn backoff(&self, retry: u32, random: u64) -> Duration {
        let ceiling = self.ceiling(retry);
        let half = ceiling / 2;
        let spread = u64::try_from(half.as_millis()).unwrap_or(u64::MAX);
        let extra = if spread == 0 {
            0
        } else {
            random % (spread + 1)
        };
        half + Duration::from_millis(extra)
    }
}

/// A 429's `Retry-After` in delta-seconds (the form Clerk sends). `None` when absent or in another
/// form (an HTTP date), and the caller backs off as for a 5xx instead.
pub fn retry_after(header: Option<&str>) -> Option<Duration> {
    let value = header?.trim();
    // Bounded: at most ten digits are read, so a hostile header cannot overflow the parse.
    if value.is_empty() || value.len() > 10 || !value.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    value.parse::<u64>().ok().map(Duration::from_secs)
}

/// Random bits for jitter (not a secret: the operating system's generator, falling back to the clock).
pub fn jitter_seed() -> u64 {
    getrandom::u64().unwrap_or_else(|_| {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| u64::from(d.subsec_nanos()))
            .unwrap_or(0)
    })
}

/// Spaces request starts at least `1 / rate` apart (`--max-rps`), whoever calls.
#[derive(Debug)]
pub struct Pacer {
    interval: Option<Duration>,
    next_start: Mutex<Option<Instant>>,
}

impl Pacer {
    /// `None`: no limit.
    pub fn new(max_per_second: Option<u32>) -> Self {
        Self {
            interval: max_per_second
                .filter(|rate| *rate > 0)
                .map(|rate| Duration::from_secs(1) / rate),
            next_start: Mutex::new(None),
        }
    }

    /// How long the caller must wait before starting a request at `now`; reserves that slot.
    pub fn reserve(&self, now: Instant) -> Duration {
        let Some(interval) = self.interval else {
            return Duration::ZERO;
        };
        let mut next = self
            .next_start
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let start = next.map_or(now, |at| at.max(now));
        *next = Some(start + interval);
        start - now
    }

    /// Waits for the next free slot.
    pub async fn wait(&self) {
        let wait = self.reserve(Instant::now());
        if !wait.is_zero() {
            actix_web::rt::time::sleep(wait).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_by_half_and_stops_at_the_ceiling() {
        let policy = RetryPolicy::default();
        assert_eq!(policy.ceiling(1), Duration::from_millis(500));
        assert_eq!(policy.ceiling(2), Duration::from_millis(750));
        assert_eq!(policy.ceiling(3), Duration::from_millis(1125));
        assert_eq!(policy.ceiling(40), Duration::from_secs(60));
        assert_eq!(policy.ceiling(u32::MAX), Duration::from_secs(60));
    }

    #[test]
    fn jitter_stays_between_half_and_the_whole_ceiling() {
        let policy = RetryPolicy::default();
        for random in [0, 1, 249, 250, 251, u64::MAX] {
            let wait = policy.backoff(1, random);
            assert!(wait >= Duration::from_millis(250), "{wait:?}");
            assert!(wait <= Duration::from_millis(500), "{wait:?}");
        }
        assert_eq!(policy.backoff(1, 0), Duration::from_millis(250));
        assert_eq!(policy.backoff(1, 250), Duration::from_millis(500));
        let flat = RetryPolicy {
            first_backoff: Duration::ZERO,
            ..policy
        };
        assert_eq!(flat.backoff(3, 12345), Duration::ZERO);
    }

    #[test]
    fn retry_after_reads_delta_seconds_only() {
        assert_eq!(retry_after(Some("3")), Some(Duration::from_secs(3)));
        assert_eq!(retry_after(Some(" 0 ")), Some(Duration::ZERO));
        assert_eq!(retry_after(None), None);
        assert_eq!(retry_after(Some("")), None);
        assert_eq!(retry_after(Some("-1")), None);
        assert_eq!(retry_after(Some("1.5")), None);
        assert_eq!(retry_after(Some("Wed, 21 Oct 2026 07:28:00 GMT")), None);
        assert_eq!(retry_after(Some("99999999999999999999999")), None);
    }

    #[test]
    fn the_pacer_spaces_starts_by_the_interval() {
        let pacer = Pacer::new(Some(4));
        let t0 = Instant::now();
        assert_eq!(pacer.reserve(t0), Duration::ZERO);
        assert_eq!(pacer.reserve(t0), Duration::from_millis(250));
        assert_eq!(pacer.reserve(t0), Duration::from_millis(500));
        // After a quiet second the next request may start at once.
        assert_eq!(pacer.reserve(t0 + Duration::from_secs(2)), Duration::ZERO);
        let unlimited = Pacer::new(None);
        assert_eq!(unlimited.reserve(t0), Duration::ZERO);
        assert_eq!(unlimited.reserve(t0), Duration::ZERO);
        assert_eq!(Pacer::new(Some(0)).reserve(t0), Duration::ZERO);
    }
}
