//! How the audit writer cuts its work so that a serving thread is never kept waiting behind it.
//!
//! On a machine where the writer shares a core with the threads that serve requests (the embedded
//! default: SQLite's work runs in this process), one statement of 5,000 events held the core for
//! 20–25 ms at a time, and the scheduler shares a core between two busy threads in slices of a
//! millisecond or more: requests in flight waited behind the writer, which is what the p99 showed
//! (5.4 ms audited against 2.3 ms unaudited, issue 19). So the writer works in **slices**:
//!
//! - a slice is one statement of as many events as take about [`SLICE`] of the writer's time,
//!   learnt from the slices before it (events are grouped into slices as they are recorded, so the
//!   writer only takes them);
//! - after each slice the writer's thread yields the core (`sched_yield`), so a serving thread that
//!   is ready runs before the next slice, and a request waits behind at most one slice;
//! - slices are committed together, up to [`SLICES_PER_TRANSACTION`] of them (about 20 ms of the
//!   writer's time, or `audit.batch_size` events, whichever comes first): a transaction bounded by
//!   time, not count, so the commit's cost (on SQLite, rewriting every index page it touched) is
//!   still shared by thousands of events, and SQLite's write lock is held for a bounded time.
//!
//! Yielding is free when no other thread is ready (the call returns at once), so the writer keeps its
//! full speed on an idle core; with every core busy it takes what the scheduler gives it, and a
//! writer that falls behind fills the queue, where requests wait for room (`audit.when_full`), never
//! losing an event.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

/// The writer's time per statement it aims for: short against a request's latency budget (a p99 of
/// 2 ms), long against a statement's fixed cost (about 50 µs on SQLite, a round trip on PostgreSQL).
pub const SLICE: Duration = Duration::from_micros(500);

/// Slices per transaction: about 20 ms of the writer's time.
pub const SLICES_PER_TRANSACTION: usize = 40;

/// Fewest events in a slice, so that a slow moment (the writer preempted mid-statement, a cold page
/// cache) cannot shrink slices to single events, whose fixed cost would slow the writer down.
const MIN_SLICE_EVENTS: usize = 16;

/// Events per slice before the first slice is measured: about 0.5 ms at SQLite's 3–5 µs per event.
const FIRST_SLICE_EVENTS: usize = 128;

/// The size of a slice, learnt from the time slices take.
#[derive(Debug)]
pub struct Pace {
    slice_events: AtomicUsize,
    max_events: usize,
}

impl Pace {
    /// `max_events` caps a slice (and a transaction): `audit.batch_size`.
    pub fn new(max_events: usize) -> Self {
        let max_events = max_events.max(1);
        Self {
            slice_events: AtomicUsize::new(FIRST_SLICE_EVENTS.min(max_events)),
            max_events,
        }
    }

    /// Events the next slice should hold (one relaxed load: recording reads it for every event).
    pub fn slice_events(&self) -> usize {
        self.slice_events.load(Ordering::Relaxed)
    }

    /// Most events in one transaction.
    pub fn max_events(&self) -> usize {
        self.max_events
    }

    /// Learns from a slice of `events` that took `took`: the next slices aim at [`SLICE`], moving a
    /// quarter of the way from the current size (one odd slice does not swing it).
    pub fn observe(&self, events: usize, took: Duration) {
        if events == 0 {
            return;
        }
        let per_event_ns = (took.as_nanos() / events as u128).max(1);
        let target = (SLICE.as_nanos() / per_event_ns).min(usize::MAX as u128) as usize;
        let current = self.slice_events();
        let next = (current * 3 + target) / 4;
        let next = next.clamp(MIN_SLICE_EVENTS.min(self.max_events), self.max_events);
        self.slice_events.store(next, Ordering::Relaxed);
    }
}

/// Gives the core to any thread that is ready to run; returns at once when none is.
pub fn yield_core() {
    std::thread::yield_now();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slices_grow_when_events_are_cheap_and_shrink_when_they_are_dear() {
        let pace = Pace::new(5_000);
        assert_eq!(pace.slice_events(), 128);
        // 1 µs per event: 500 fit in a slice; each observation moves a quarter of the way.
        for _ in 0..40 {
            pace.observe(100, Duration::from_micros(100));
        }
        assert!(
            (495..=500).contains(&pace.slice_events()),
            "{}",
            pace.slice_events()
        );
        // 25 µs per event: 20 fit.
        for _ in 0..40 {
            pace.observe(100, Duration::from_micros(2_500));
        }
        assert!(
            (20..=25).contains(&pace.slice_events()),
            "{}",
            pace.slice_events()
        );
    }

    #[test]
    fn slices_stay_within_their_bounds() {
        let pace = Pace::new(5_000);
        for _ in 0..40 {
            pace.observe(10, Duration::from_secs(1));
        }
        assert_eq!(pace.slice_events(), MIN_SLICE_EVENTS);
        for _ in 0..80 {
            pace.observe(10_000, Duration::from_nanos(1));
        }
        assert_eq!(pace.slice_events(), 5_000);
        // A batch size below the floor wins over it.
        let small = Pace::new(4);
        assert_eq!(small.slice_events(), 4);
        small.observe(4, Duration::from_secs(1));
        assert_eq!(small.slice_events(), 4);
        // Nothing observed, nothing learnt.
        small.observe(0, Duration::ZERO);
        assert_eq!(small.slice_events(), 4);
    }
}
