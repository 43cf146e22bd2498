//! Whether this instance is listening to the change feed, and for how long it has not been: read by
//! `/api/auth/health` and `/metrics`, written by [`super::follow`]. Times are monotonic (an instant
//! at start-up), so a clock moved by a test or NTP cannot make a gap negative.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Instant;

#[derive(Debug)]
pub struct FeedStatus {
    /// False on SQLite: one instance, nothing to listen to.
    used: bool,
    started: Instant,
    listening: AtomicBool,
    listened_once: AtomicBool,
    /// Milliseconds after `started` when the current gap began (meaningful while not listening).
    gap_began_ms: AtomicU64,
    /// Milliseconds without a listener in gaps that have ended.
    closed_gaps_ms: AtomicU64,
    /// Listening connections opened after the first.
    reconnects: AtomicU64,
    notifications: AtomicU64,
}

/// A reading of [`FeedStatus`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FeedReading {
    pub used: bool,
    pub listening: bool,
    /// Whether a listening connection was ever up (a gap after it is a reconnection).
    pub ever_listened: bool,
    /// How long the current gap has lasted (0 while listening).
    pub current_gap_ms: u64,
    /// Every gap since start, the current one included (start-up until the first listen counts).
    pub total_gap_ms: u64,
    pub reconnects: u64,
    pub notifications: u64,
}

impl FeedStatus {
    pub fn new(used: bool) -> Self {
        Self {
            used,
            started: Instant::now(),
            listening: AtomicBool::new(false),
            listened_once: AtomicBool::new(false),
            gap_began_ms: AtomicU64::new(0),
            closed_gaps_ms: AtomicU64::new(0),
            reconnects: AtomicU64::new(0),
            notifications: AtomicU64::new(0),
        }
    }

    fn now_ms(&self) -> u64 {
        u64::try_from(self.started.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    /// A listening connection is up (and every cache was dropped after it).
    pub(super) fn listening(&self) {
        if self.listening.swap(true, Ordering::SeqCst) {
            return;
        }
        let gap = self
            .now_ms()
            .saturating_sub(self.gap_began_ms.load(Ordering::SeqCst));
        self.closed_gaps_ms.fetch_add(gap, Ordering::SeqCst);
        // The first listen ends the start-up gap, which is not a reconnect.
        if self.listened_once.swap(true, Ordering::SeqCst) {
            self.reconnects.fetch_add(1, Ordering::SeqCst);
        }
    }

    /// The listening connection was lost.
    pub(super) fn lost(&self) {
        if self.listening.swap(false, Ordering::SeqCst) {
            self.gap_began_ms.store(self.now_ms(), Ordering::SeqCst);
        }
    }

    pub(super) fn received(&self, count: u64) {
        self.notifications.fetch_add(count, Ordering::Relaxed);
    }

    pub fn read(&self) -> FeedReading {
        let listening = self.listening.load(Ordering::SeqCst);
        let current_gap_ms = if listening || !self.used {
            0
        } else {
            self.now_ms()
                .saturating_sub(self.gap_began_ms.load(Ordering::SeqCst))
        };
        FeedReading {
            used: self.used,
            listening,
            ever_listened: self.listened_once.load(Ordering::SeqCst),
            current_gap_ms,
            total_gap_ms: self.closed_gaps_ms.load(Ordering::SeqCst) + current_gap_ms,
            reconnects: self.reconnects.load(Ordering::SeqCst),
            notifications: self.notifications.load(Ordering::Relaxed),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_listen_is_not_a_reconnect_and_gaps_add_up() {
        let status = FeedStatus::new(true);
        assert!(!status.read().listening);
        status.listening();
        status.listening();
        assert_eq!(status.read().reconnects, 0);
        assert_eq!(status.read().current_gap_ms, 0);
        status.lost();
        status.lost();
        assert!(!status.read().listening);
        status.listening();
        let reading = status.read();
        assert_eq!((reading.listening, reading.reconnects), (true, 1));
        assert!(reading.total_gap_ms >= reading.current_gap_ms);
        assert_eq!(FeedStatus::new(false).read().current_gap_ms, 0);
    }
}
