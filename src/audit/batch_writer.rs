//! Writing the audit trail's slices, so that no event can hold back the others.
//!
//! - The slices of one transaction ([`write_slices`]) are written a statement each, the writer's
//!   thread yielding the core between them ([`pace`](super::pace)); if the transaction is refused,
//!   each slice is written on its own, as below.
//! - While the database is unavailable ([`DbError::is_unavailable`]: no connection, a connection
//!   lost under the statement, a locked SQLite file) the batch is kept and tried again with backoff:
//!   nothing is lost and nothing is written twice.
//! - Any other failure is a refusal of something in the batch: the batch is halved until the
//!   refused events stand alone (the others are written, in order), and each refused event is
//!   written in a reduced form ([`limits::reduced`]); if even that is refused, the event is counted as
//!   rejected and logged without its contents.
//!
//! Capture bounds every field (`audit::limits`), so refusals should not happen at all; this is what
//! keeps the trail moving if one does (a constraint added by an operator, a field the bounds missed).

use std::future::Future;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use log::Level;

use super::limits;
use super::log_throttle::LogThrottle;
use super::pace::{self, Pace};
use crate::bounds::fit;
use crate::db::audit::{self, BatchFormat, EncodedBatch, NewAuditEvent, SealedBatch};
use crate::db::{Db, DbError};
use crate::logging::fields::RequestFields;

/// Events the database refused as recorded, by what became of them.
#[derive(Default)]
pub struct Refusals {
    reduced: AtomicU64,
    rejected: AtomicU64,
    // One throttle per message, so that a batch's warning cannot silence the error of the event
    // it then rejects.
    refused_logged: LogThrottle,
    reduced_logged: LogThrottle,
    rejected_logged: LogThrottle,
}

impl Refusals {
    /// Events written in the reduced form.
    pub fn reduced(&self) -> u64 {
        self.reduced.load(Ordering::Relaxed)
    }

    /// Events not written at all.
    pub fn rejected(&self) -> u64 {
        self.rejected.load(Ordering::Relaxed)
    }
}

/// Gives back the queue slots of `n` events once they are written (called from the database's
/// thread, slice by slice).
pub type Release = Arc<dyn Fn(usize) + Send + Sync>;

/// Writes `slices` in one transaction, a statement each, yielding the core between them and
/// teaching `pace` how long a slice takes; hands back the buffers of the slices written whole, for
/// the next slices. A transaction the database refuses is written again a slice at a time, each
/// slice as [`write`] writes it, so only the refused events are set apart.
///
/// Each slice's events are handed to `release` once, as soon as its statement has run (or, after a
/// refusal, once it is written on its own), so waiting requests are let in at the pace the writer
/// works rather than a transaction at a time. A transaction rolled back after some slices were
/// released keeps those events in memory until they are written again: memory then holds at most
/// one transaction beyond the queue's capacity.
pub async fn write_slices(
    db: &Db,
    slices: Vec<SealedBatch>,
    refusals: &Refusals,
    pace: &Arc<Pace>,
    release: &Release,
) -> Vec<Vec<u8>> {
    let group: Arc<Vec<Arc<SealedBatch>>> = Arc::new(slices.into_iter().map(Arc::new).collect());
    let events = group.iter().map(|slice| slice.len()).sum();
    // Slices whose events were released (a prefix: slices are written in order), across attempts.
    let released = Arc::new(AtomicUsize::new(0));
    let outcome = while_unavailable(events, || {
        let (group, pace, release, released) = (
            group.clone(),
            pace.clone(),
            release.clone(),
            released.clone(),
        );
        db.run(move |conn| {
            let last = group.len().saturating_sub(1);
            let mut written = 0;
            let mut started = Instant::now();
            audit::insert_sealed_slices(conn, &group, |slice| {
                pace.observe(slice.len(), started.elapsed());
                if written >= released.load(Ordering::Relaxed) {
                    release(slice.len());
                    released.store(written + 1, Ordering::Relaxed);
                }
                if written < last {
                    pace::yield_core();
                }
                written += 1;
                started = Instant::now();
            })
        })
    })
    .await;
    // The database task has finished with its clone, so this is normally the last one.
    let slices = Arc::try_unwrap(group).unwrap_or_else(|shared| (*shared).clone());
    let mut buffers = Vec::with_capacity(slices.len());
    match outcome {
        Ok(_) => buffers.extend(
            slices
                .into_iter()
                .filter_map(|slice| Arc::try_unwrap(slice).ok())
                .map(SealedBatch::into_buffer),
        ),
        Err(error) => {
            if refusals.refused_logged.ready() {
                log::warn!(target: "auth_core::audit", "a transaction of {events} audit events was refused ({}); writing its slices one by one", short(&error));
            }
            let released = released.load(Ordering::Relaxed);
            for (index, slice) in slices.into_iter().enumerate() {
                let len = slice.len();
                buffers.extend(write(db, slice, refusals).await);
                if index >= released {
                    release(len);
                }
            }
        }
    }
    buffers
}

/// Writes `batch`; hands back its buffer for the next batch when it was written whole.
pub async fn write(db: &Db, batch: Arc<SealedBatch>, refusals: &Refusals) -> Option<Vec<u8>> {
    match insert(db, batch).await {
        // The database task has finished with its clone, so this is normally the last one.
        Ok(batch) => Arc::try_unwrap(batch).ok().map(SealedBatch::into_buffer),
        Err((batch, error)) => {
            if refusals.refused_logged.ready() {
                log::warn!(target: "auth_core::audit", "a batch of {} audit events was refused ({}); writing the others and isolating the refused ones", batch.len(), short(&error));
            }
            isolate(db, batch, refusals).await;
            None
        }
    }
}

/// Writes every event of a refused batch that the database accepts, halving the batch until each
/// refused event stands alone; those are reduced or rejected. Halves are written in order, so ids
/// still follow recording order. A batch of n events with one refused costs about 2·log2(n)
/// statements.
async fn isolate(db: &Db, refused: Arc<SealedBatch>, refusals: &Refusals) {
    // The parts still to write, the next one last.
    let mut parts = Vec::new();
    let mut refused = Some(refused);
    loop {
        if let Some(part) = refused.take() {
            if part.len() > 1 {
                let (first, second) = part.split();
                parts.push(Arc::new(second));
                parts.push(Arc::new(first));
            } else {
                reduce_or_reject(db, &part, refusals).await;
            }
        }
        let Some(part) = parts.pop() else {
            return;
        };
        if let Err((part, _)) = insert(db, part).await {
            refused = Some(part);
        }
    }
}

/// Writes the reduced form of each event in `refused` (one, in practice), or counts it rejected.
async fn reduce_or_reject(db: &Db, refused: &SealedBatch, refusals: &Refusals) {
    for event in refused.events() {
        // `None`: the event could not be decoded to reduce it (it was encoded here, so this does not
        // happen); `Some`: the database refused the reduced form too.
        let outcome: Result<(), Option<DbError>> = match &event {
            Some(event) => {
                let format = BatchFormat::for_backend(db.backend());
                let mut batch = EncodedBatch::new(format, Vec::new());
                batch.push(&limits::reduced(&event.as_ref()).as_ref());
                match insert(db, Arc::new(batch.seal())).await {
                    Ok(_) => Ok(()),
                    Err((_, error)) => Err(Some(error)),
                }
            }
            None => Err(None),
        };
        let path = event.as_ref().map_or("?", |e| e.path.as_str());
        // A short prefix of the path only: the rest of the event may hold what a client sent.
        let path = fit(path, 32);
        let fields = fields_of(event.as_ref(), &path);
        match outcome {
            Ok(()) => {
                let n = refusals.reduced.fetch_add(1, Ordering::Relaxed) + 1;
                if refusals.reduced_logged.ready() {
                    fields.log(Level::Warn, TARGET, format_args!("an audit event ({path:?}) was refused as recorded and written reduced; {n} so far"));
                }
            }
            Err(error) => {
                let n = refusals.rejected.fetch_add(1, Ordering::Relaxed) + 1;
                if refusals.rejected_logged.ready() {
                    let why = error
                        .as_ref()
                        .map_or_else(|| "undecodable".to_owned(), short);
                    fields.log(Level::Error, TARGET, format_args!("an audit event ({path:?}) was refused even reduced ({why}) and is not written; {n} rejected so far"));
                }
            }
        }
    }
}

type Refused = (Arc<SealedBatch>, DbError);

/// Inserts `batch`, retrying while the database is unavailable; hands back the batch either way,
/// with the error when it was refused.
async fn insert(db: &Db, batch: Arc<SealedBatch>) -> Result<Arc<SealedBatch>, Refused> {
    let outcome = while_unavailable(batch.len(), || {
        let events = batch.clone();
        db.run(move |conn| audit::insert_sealed(conn, &events))
    })
    .await;
    match outcome {
        Ok(_) => Ok(batch),
        Err(error) => Err((batch, error)),
    }
}

/// Runs `attempt` (a write of `events` events) until it succeeds or fails for another reason than
/// the database being unavailable, waiting between attempts with backoff (up to 5 s): while the
/// database is away, events are kept, not lost, and not written twice.
async fn while_unavailable<F, Fut>(events: usize, mut attempt: F) -> Result<usize, DbError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<usize, DbError>>,
{
    let mut wait = Duration::from_millis(100);
    let mut failures = 0u32;
    loop {
        match attempt().await {
            Ok(written) => {
                if failures > 0 {
                    log::info!(target: "auth_core::audit", "audit events written again after {failures} failed attempts");
                }
                return Ok(written);
            }
            Err(error) if error.is_unavailable() => {
                if failures == 0 {
                    log::warn!(target: "auth_core::audit", "audit events not written ({}); retrying, {events} kept", short(&error));
                }
                failures += 1;
                actix_web::rt::time::sleep(wait).await;
                wait = (wait * 2).min(Duration::from_secs(5));
            }
            Err(error) => return Err(error),
        }
    }
}

/// An error as logged: one line, bounded (a database's message may quote what it refused).
fn short(error: &DbError) -> String {
    fit(&error.to_string(), 200).into_owned()
}

const TARGET: &str = "auth_core::audit";

/// The request fields of a refused event for its log line, with `path` (already shortened) in place
/// of the event's own.
fn fields_of<'a>(event: Option<&'a NewAuditEvent>, path: &'a str) -> RequestFields<'a> {
    RequestFields {
        request_id: event.and_then(|e| e.request_id.as_deref()),
        method: event.map_or("?", |e| e.method.as_str()),
        path,
        status: event.and_then(|e| u16::try_from(e.status).ok()),
        duration_ms: event.map(|e| e.duration_us as f64 / 1000.0),
        user: event.and_then(|e| e.user_id.as_deref()),
        org: event.and_then(|e| e.organization_id.as_deref()),
        principal: event.map_or("?", |e| e.principal_type.as_str()),
    }
}
