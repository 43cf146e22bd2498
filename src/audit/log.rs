//! The audit log: a bounded in-memory buffer, drained by one background writer in batches.
//!
//! Recording wakes no one: it encodes the event straight into the batch being filled, under a short
//! lock (a cross-thread wake-up per request would cost more than the request itself, and so did an
//! owned copy of every field: allocated by the request's thread, freed by the writer's).
//!
//! Room in the buffer is a semaphore of `queue_capacity` permits: an event holds one from the moment
//! its request reserves it until the writer has written its slice. With `audit.when_full = wait` (the
//! default) a request reserves its slot *before* it is handled ([`AuditLog::reserve`]): while the
//! buffer has room that is one atomic operation; when it is full the request waits, asynchronously
//! (its worker thread serves others meanwhile) and in arrival order, up to `full_wait` for the writer
//! to make room, and past that is refused (503, counted) without having been handled. So every
//! answered request has its row: the trail does not thin out exactly when traffic is abnormal. With
//! `when_full = drop` requests never wait, and an event that finds the buffer full is dropped and
//! counted (logged once a minute).
//!
//! Events are grouped, as they are recorded, into slices small enough to write in about half a
//! millisecond ([`pace`](super::pace)). The writer wakes every `linger`, takes the oldest slices (at
//! most `batch_size` events, about 20 ms of its time) and inserts them in one transaction, a statement
//! per slice, yielding the core between slices so that serving threads never wait long behind it.
//! While the database is unavailable it keeps the slices and retries with backoff, so nothing is lost
//! while the buffer has room (memory holds at most `queue_capacity` events, and one transaction more while one is retried); a slice
//! the database refuses for another reason is split so that one event never holds back the rest (see
//! [`batch_writer`](super::batch_writer)).
//! `flush` wakes the writer and waits until everything recorded before it is written (graceful
//! shutdown calls it; tests use it instead of sleeping).

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{mpsc, oneshot, Notify, Semaphore};

use super::batch_writer::{self, Refusals};
use super::limits;
use super::log_throttle::LogThrottle;
use super::pace::{Pace, SLICES_PER_TRANSACTION};
use crate::db::audit::{AuditEventRef, BatchFormat, EncodedBatch, SealedBatch};
use crate::db::Db;
pub use crate::settings::WhenFull;

#[derive(Debug, Clone, Copy)]
pub struct AuditConfig {
    pub queue_capacity: usize,
    pub batch_size: usize,
    /// How often the writer looks for events.
    pub linger: Duration,
    pub when_full: WhenFull,
    /// How long a request waits for room with [`WhenFull::Wait`].
    pub full_wait: Duration,
}

/// The buffer had no room for `full_wait`: the request is refused unhandled.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the audit queue stayed full")]
pub struct QueueFull;

/// A slot in the buffer held for one request's event ([`AuditLog::reserve`]); given back if the
/// request ends without recording (its future dropped when the client went away). It owns a handle
/// on the log (a reference count), so the request's future can hold it without borrowing the state.
pub struct Reservation {
    log: Arc<AuditLog>,
    held: bool,
}

impl Drop for Reservation {
    fn drop(&mut self) {
        if self.held {
            self.log.room.add_permits(1);
        }
    }
}

/// Events waiting for the writer, as encoded slices (oldest first; only the last one is filled).
struct Pending {
    batches: VecDeque<EncodedBatch>,
    events: usize,
    /// Buffers of slices written, reused by the next slices (at most [`SPARE_BUFFERS`]).
    spare: Vec<Vec<u8>>,
}

/// Buffers kept for reuse: one transaction's slices, so a busy writer allocates none.
const SPARE_BUFFERS: usize = SLICES_PER_TRANSACTION;

pub struct AuditLog {
    pending: Mutex<Pending>,
    /// One permit per free slot of the buffer; a queued event's permit is given back when the writer
    /// has written its slice.
    room: Semaphore,
    format: BatchFormat,
    config: AuditConfig,
    dropped: AtomicU64,
    refused: AtomicU64,
    drop_logged: LogThrottle,
    refused_logged: LogThrottle,
    refusals: Refusals,
    pace: Arc<Pace>,
    /// Wakes the writer before its `linger` is up: the queue is half full, or an event found it full.
    urge: Notify,
    flushes: mpsc::Sender<oneshot::Sender<()>>,
    flush_receiver: Mutex<Option<mpsc::Receiver<oneshot::Sender<()>>>>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl AuditLog {
    /// `format` is the encoding the writer's database reads ([`BatchFormat::for_backend`]).
    pub fn new(config: AuditConfig, format: BatchFormat) -> Self {
        let (flushes, flush_receiver) = mpsc::channel(64);
        Self {
            pending: Mutex::new(Pending {
                batches: VecDeque::new(),
                events: 0,
                spare: Vec::new(),
            }),
            room: Semaphore::new(config.queue_capacity.min(Semaphore::MAX_PERMITS)),
            format,
            config,
            dropped: AtomicU64::new(0),
            refused: AtomicU64::new(0),
            drop_logged: LogThrottle::default(),
            refused_logged: LogThrottle::default(),
            refusals: Refusals::default(),
            pace: Arc::new(Pace::new(config.batch_size)),
            urge: Notify::new(),
            flushes,
            flush_receiver: Mutex::new(Some(flush_receiver)),
        }
    }

    /// Holds a slot for the event of a request about to be handled. With [`WhenFull::Wait`]: at once
    /// while the buffer has room, otherwise after waiting (asynchronously, in arrival order) up to
    /// `full_wait` for the writer to make room, or [`QueueFull`] (counted in
    /// [`refused`](Self::refused)). With [`WhenFull::Drop`] it holds nothing and never waits: the
    /// event takes its chance in [`record`](Self::record).
    pub async fn reserve(self: &Arc<Self>) -> Result<Reservation, QueueFull> {
        if let Some(reservation) = self.try_reserve() {
            return Ok(reservation);
        }
        // The timer is set only when there is no room (the common case costs one atomic).
        match tokio::time::timeout(self.config.full_wait, self.room.acquire()).await {
            Ok(Ok(permit)) => Ok(self.held(permit)),
            // Timed out, or (never: the semaphore is not closed) closed.
            _ => {
                let refused = self.refused.fetch_add(1, Ordering::Relaxed) + 1;
                if self.refused_logged.ready() {
                    log::warn!(target: "auth_core::audit", "audit queue full for {} ms: {refused} requests refused with 503 so far", self.config.full_wait.as_millis());
                }
                Err(QueueFull)
            }
        }
    }

    /// [`reserve`](Self::reserve) when it needs no waiting: with [`WhenFull::Drop`], or while the
    /// buffer has room. `None` when the request must wait for room, so that the middleware's future
    /// stays unboxed unless the queue is full.
    pub fn try_reserve(self: &Arc<Self>) -> Option<Reservation> {
        if self.config.when_full == WhenFull::Drop {
            return Some(Reservation {
                log: Arc::clone(self),
                held: false,
            });
        }
        match self.room.try_acquire() {
            Ok(permit) => Some(self.held(permit)),
            Err(_) => {
                self.urge.notify_one();
                None
            }
        }
    }

    fn held(self: &Arc<Self>, permit: tokio::sync::SemaphorePermit<'_>) -> Reservation {
        // The permit now belongs to the slot; the writer gives it back once its slice is written.
        permit.forget();
        Reservation {
            log: Arc::clone(self),
            held: true,
        }
    }

    /// Buffers the event of a request that reserved its slot (with [`WhenFull::Drop`]: if the buffer
    /// has room, else it is dropped and counted), its fields cut to their bounds ([`limits`]).
    pub fn record_reserved(&self, mut reservation: Reservation, event: &AuditEventRef<'_>) {
        let held = std::mem::replace(&mut reservation.held, false);
        self.record_with(held, event);
    }

    /// Buffers an event without waiting, its fields cut to their bounds ([`limits`]); a full
    /// buffer drops it (counted).
    pub fn record(&self, event: &AuditEventRef<'_>) {
        self.record_with(false, event);
    }

    fn record_with(&self, held: bool, event: &AuditEventRef<'_>) {
        if !held {
            match self.room.try_acquire() {
                Ok(permit) => permit.forget(),
                Err(_) => {
                    self.urge.notify_one();
                    let dropped = self.dropped.fetch_add(1, Ordering::Relaxed) + 1;
                    if self.drop_logged.ready() {
                        log::warn!(target: "auth_core::audit", "audit queue full: {dropped} events dropped so far");
                    }
                    return;
                }
            }
        }
        if limits::fits(event) {
            self.enqueue(event);
        } else {
            // Rare (a huge path or header, a NUL): the cut copy is made before taking the lock.
            self.enqueue(&limits::bounded(event).as_ref());
        }
    }

    /// Appends an event whose slot is already held.
    fn enqueue(&self, event: &AuditEventRef<'_>) {
        let mut guard = lock(&self.pending);
        let pending = &mut *guard;
        let slice_events = self.pace.slice_events();
        let full = |b: &EncodedBatch| b.len() >= slice_events;
        if pending.batches.back().is_none_or(full) {
            let buffer = pending.spare.pop().unwrap_or_default();
            pending
                .batches
                .push_back(EncodedBatch::new(self.format, buffer));
        }
        if let Some(batch) = pending.batches.back_mut() {
            batch.push(event);
            pending.events += 1;
        }
        // Half full: the writer starts now rather than at its next tick. Waiting for the tick, a
        // queue filled faster than `linger` made every request wait for the rest of it (a p99 of
        // 30-40 ms at 57,000 requests/s with the default 10,000 slots and 200 ms).
        let half_full = pending.events == self.config.queue_capacity.div_ceil(2);
        drop(guard);
        if half_full {
            self.urge.notify_one();
        }
    }

    /// Requests refused unhandled because the buffer stayed full for `full_wait`
    /// ([`WhenFull::Wait`]). Their events are not in the trail (there was no room for them), which
    /// is why they are counted here.
    pub fn refused(&self) -> u64 {
        self.refused.load(Ordering::Relaxed)
    }

    /// Events dropped because the buffer was full.
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }

    /// Events the database refused as recorded and that were written in a reduced form.
    pub fn reduced(&self) -> u64 {
        self.refusals.reduced()
    }

    /// Events the database refused even in the reduced form: not written.
    pub fn rejected(&self) -> u64 {
        self.refusals.rejected()
    }

    /// Events waiting to be written.
    pub fn depth(&self) -> usize {
        lock(&self.pending).events
    }

    /// Waits until everything recorded before this call has been written. Returns at once when no
    /// writer was started.
    pub async fn flush(&self) {
        let (done, written) = oneshot::channel();
        if self.flushes.send(done).await.is_ok() {
            let _ = written.await;
        }
    }

    /// Starts the writer on the current Actix system (once; later calls do nothing).
    pub fn start_writer(self: &Arc<Self>, db: Db) {
        if let Some(flushes) = lock(&self.flush_receiver).take() {
            actix_web::rt::spawn(write_loop(self.clone(), flushes, db));
        }
    }

    /// Takes the oldest slices for one transaction: up to [`SLICES_PER_TRANSACTION`] of them and
    /// `batch_size` events (always at least one slice when there is one).
    fn take_slices(&self) -> Vec<SealedBatch> {
        let mut pending = lock(&self.pending);
        let mut slices = Vec::new();
        let mut events = 0;
        while slices.len() < SLICES_PER_TRANSACTION {
            let Some(next) = pending.batches.front() else {
                break;
            };
            if !slices.is_empty() && events + next.len() > self.pace.max_events() {
                break;
            }
            let Some(slice) = pending.batches.pop_front() else {
                break;
            };
            events += slice.len();
            slices.push(slice);
        }
        pending.events -= events;
        drop(pending);
        // Their slots are given back as each slice is written (`release`), not here: given back in
        // one go, a transaction's 5,000 slots let a burst of requests in at once, and under overload
        // every request then waited for the whole transaction (a p99 of 20-35 ms at 57,000 req/s).
        slices.into_iter().map(EncodedBatch::seal).collect()
    }

    /// Keeps written slices' buffers for the next slices.
    fn recycle(&self, buffers: Vec<Vec<u8>>) {
        let mut pending = lock(&self.pending);
        let room = SPARE_BUFFERS.saturating_sub(pending.spare.len());
        pending.spare.extend(buffers.into_iter().take(room));
    }
}

async fn write_loop(log: Arc<AuditLog>, mut flushes: mpsc::Receiver<oneshot::Sender<()>>, db: Db) {
    let mut tick = actix_web::rt::time::interval(log.config.linger);
    loop {
        let waiter = tokio::select! {
            _ = tick.tick() => None,
            _ = log.urge.notified() => None,
            waiter = flushes.recv() => match waiter {
                Some(waiter) => Some(waiter),
                // The log itself is gone: write what is left and stop.
                None => {
                    drain(&log, &db).await;
                    return;
                }
            },
        };
        drain(&log, &db).await;
        if let Some(waiter) = waiter {
            let _ = waiter.send(());
        }
    }
}

/// Writes slices until the buffer is empty.
async fn drain(log: &Arc<AuditLog>, db: &Db) {
    loop {
        let slices = log.take_slices();
        if slices.is_empty() {
            return;
        }
        let release = log.clone();
        let release: batch_writer::Release =
            Arc::new(move |events| release.room.add_permits(events));
        let buffers =
            batch_writer::write_slices(db, slices, &log.refusals, &log.pace, &release).await;
        log.recycle(buffers);
    }
}
