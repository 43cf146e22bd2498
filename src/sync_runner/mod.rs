//! The server's own sync runs — the periodic reconcile (`sync.reconcile_interval`, [`periodic`]) and
//! the runs an administrator starts from the console — carried out by `sync::backfill` as
//! `auth-core sync` carries out its own, with the same lease: one real run at a time on a database,
//! whichever instance or command started it. What a run changed is followed by this instance's
//! caches (the webhooks' path, [`AppState::apply_webhook_effects`]); how it went is counted in the
//! metrics.
//!
//! Choices the issue leaves open:
//! - the server's runs use `auth-core sync`'s defaults: every kind, pages of 500, at most 10
//!   requests a second, at most 10 % of a kind's rows tombstoned;
//! - a run is never resumed by the server: each starts afresh (a fresh run re-lists everything; an
//!   interrupted run's pages stay applied, and `auth-core sync --resume` remains for large instances);
//! - a dry run from the console is recorded (`sync_runs.dry_run`) so the page can show its progress
//!   and what it would change; one dry run at a time on a database, so repeated clicks cannot pile up
//!   listings of Clerk. Dry runs are not in the metrics (they change nothing).

pub mod periodic;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use crate::clerk::listing::{ListingClient, ListingOptions};
use crate::clerk::retry::RetryPolicy;
use crate::db::sync_runs::{self, Claim, RunStatus, SyncRunRow};
use crate::db::DbError;
use crate::http::metrics::SyncRunFigures;
use crate::state::AppState;
use crate::sync::backfill::{Backfill, Claimed, Observer, Plan, Quiet, Report, SyncError};
use crate::sync::lease::{KEEP_ALIVE, LEASE_TTL_MS};
use crate::sync::progress::{Kind, KindProgress, RunProgress};
use crate::sync::webhooks::Effects;

/// `auth-core sync`'s defaults (its `--max-rps`, `--max-tombstone-percent`, `--page-size`).
const MAX_REQUESTS_PER_SECOND: u32 = 10;
const MAX_TOMBSTONE_PERCENT: u8 = 10;
const PAGE_SIZE: u32 = 500;

/// How often a dry run's recorded progress is brought up to date while it changes.
const DRY_RUN_SAVE_EVERY: Duration = Duration::from_secs(1);

/// Who started a run: recorded in `sync_runs.started_by` (`schedule`, or the administrator's email;
/// `auth-core sync` records `cli`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Trigger {
    Schedule,
    Console { email: String },
}

impl Trigger {
    fn started_by(&self) -> String {
        match self {
            Self::Schedule => "schedule".to_owned(),
            Self::Console { email } => email.clone(),
        }
    }

    /// The metrics' label.
    fn label(&self) -> &'static str {
        match self {
            Self::Schedule => "schedule",
            Self::Console { .. } => "console",
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("sync needs CLERK_SECRET_KEY (clerk.secret_key): it reads Clerk's Backend API, and none is configured")]
    NoSecretKey,
    /// Another real run holds the lease: its row, when it is recorded.
    #[error("another sync run is under way on this database{}; start one when it has ended", holder(.0.as_deref()))]
    Busy(Option<Box<SyncRunRow>>),
    #[error("another dry run is under way on this database{}; start one when it has ended", holder(Some(.0)))]
    DryRunBusy(Box<SyncRunRow>),
    #[error("{0}")]
    Sync(SyncError),
}

impl From<SyncError> for StartError {
    fn from(error: SyncError) -> Self {
        match error {
            SyncError::Busy(holder) => Self::Busy(holder),
            other => Self::Sync(other),
        }
    }
}

impl From<DbError> for StartError {
    fn from(error: DbError) -> Self {
        Self::Sync(SyncError::Db(error))
    }
}

fn holder(run: Option<&SyncRunRow>) -> String {
    match run {
        Some(run) => format!(" (run {}, started by {})", run.id, run.started_by),
        None => String::new(),
    }
}

/// The Backend API client of the server's runs; `None` without a secret key.
fn listing_client(state: &AppState) -> Option<ListingClient> {
    let secret = state.settings.clerk.secret_key.clone()?;
    Some(ListingClient::new(
        &state.settings.clerk.api_url,
        secret,
        ListingOptions {
            page_size: PAGE_SIZE,
            max_per_second: Some(MAX_REQUESTS_PER_SECOND),
            timeout: state.settings.clerk.api_timeout,
            retry: RetryPolicy::default(),
        },
    ))
}

fn plan(trigger: &Trigger, dry_run: bool) -> Plan {
    Plan {
        kinds: Kind::ALL.to_vec(),
        dry_run,
        resume: false,
        started_by: trigger.started_by(),
        max_tombstone_percent: MAX_TOMBSTONE_PERCENT,
    }
}

/// Starts a run in the background (on the calling thread's runtime) once its claim succeeded, and
/// returns its id: a real run has taken the lease and written its row; a dry run has written its
/// row. Refused without a secret key, or while another run (another dry run) is under way.
pub async fn start(state: &AppState, trigger: Trigger, dry_run: bool) -> Result<i64, StartError> {
    let api = listing_client(state).ok_or(StartError::NoSecretKey)?;
    let plan = plan(&trigger, dry_run);
    if dry_run {
        return start_dry(state, api, plan).await;
    }
    let claimed = claim(state, &api, &plan).await?;
    // A real run's claim always records it (only a dry run's has no row).
    let id = claimed.run_id().unwrap_or_default();
    let state = state.clone();
    actix_web::rt::spawn(async move {
        let _ = finish(&state, &api, claimed, &plan, &trigger).await;
    });
    Ok(id)
}

async fn claim(state: &AppState, api: &ListingClient, plan: &Plan) -> Result<Claimed, SyncError> {
    Backfill {
        db: &state.db,
        api,
        clock: &state.clock,
        observer: &Quiet,
    }
    .claim(plan)
    .await
}

/// Carries a claimed real run to its end, then has the caches follow and the metrics count it.
async fn finish(
    state: &AppState,
    api: &ListingClient,
    claimed: Claimed,
    plan: &Plan,
    trigger: &Trigger,
) -> Result<Report, SyncError> {
    let started_ms = claimed.progress().started_at;
    let id = claimed.run_id();
    let outcome = Backfill {
        db: &state.db,
        api,
        clock: &state.clock,
        observer: &Quiet,
    }
    .run_claimed(claimed, plan)
    .await;
    let ended_ms = state.clock.now_ms();
    let run = id.map_or("?".to_owned(), |id| id.to_string());
    let (label, rows) = match &outcome {
        Ok(report) => {
            let failures = report.failures();
            if failures.is_empty() {
                log::info!(target: "auth_core::sync", "sync run {run} ({}) completed: {}", trigger.label(), summary(&report.progress));
            } else {
                for (kind, error) in &failures {
                    log::warn!(target: "auth_core::sync", "sync run {run} ({}): {} failed: {error}", trigger.label(), kind.name());
                }
            }
            let label = if failures.is_empty() {
                "completed"
            } else {
                "failed"
            };
            (label, rows(&report.progress))
        }
        Err(error) => {
            log::warn!(target: "auth_core::sync", "sync run {run} ({}) stopped: {error}", trigger.label());
            ("error", Vec::new())
        }
    };
    follow_changes(state, outcome.as_ref().ok());
    state.metrics.record_sync_run(&SyncRunFigures {
        trigger: trigger.label(),
        outcome: label,
        started_ms,
        ended_ms,
        rows,
    });
    outcome
}

/// Drops what this instance's caches may hold stale after a run: every cached profile when any
/// row changed, and every remembered service key and machine token when an organization was
/// tombstoned (as a webhook deleting it would). A run that stopped on an error may have applied
/// pages before: it is treated as having changed everything.
fn follow_changes(state: &AppState, report: Option<&Report>) {
    let changed = |kind: &KindProgress| {
        let c = kind.counts;
        c.created + c.updated + c.tombstoned > 0
    };
    let (any, organization_gone) = match report {
        Some(report) => (
            report.progress.kinds.iter().any(changed),
            report
                .progress
                .kinds
                .iter()
                .any(|k| k.kind == Kind::Organizations && k.counts.tombstoned > 0),
        ),
        None => (true, true),
    };
    if !any {
        return;
    }
    state.apply_webhook_effects(&Effects {
        all_users: true,
        deleted_organization: organization_gone.then(|| "(sync)".to_owned()),
        ..Effects::default()
    });
}

fn rows(progress: &RunProgress) -> Vec<(&'static str, [u64; 3])> {
    progress
        .kinds
        .iter()
        .map(|k| {
            (
                k.kind.name(),
                [k.counts.created, k.counts.updated, k.counts.tombstoned],
            )
        })
        .collect()
}

fn summary(progress: &RunProgress) -> String {
    progress
        .kinds
        .iter()
        .map(|k| {
            let c = k.counts;
            format!(
                "{} created {} updated {} unchanged {} tombstoned {}",
                k.kind.name(),
                c.created,
                c.updated,
                c.unchanged,
                c.tombstoned
            )
        })
        .collect::<Vec<_>>()
        .join("; ")
}

/// Records a dry run and starts it in the background.
async fn start_dry(state: &AppState, api: ListingClient, plan: Plan) -> Result<i64, StartError> {
    let now = state.clock.now_ms();
    let progress = RunProgress::new(now, &plan.kinds);
    let (by, kinds, json) = (
        plan.started_by.clone(),
        progress.kind_names(),
        progress.to_json(),
    );
    let fresh_since = now.saturating_sub(LEASE_TTL_MS);
    let claim = state
        .db
        .run(move |conn| sync_runs::start_dry(conn, &by, &kinds, &json, now, fresh_since))
        .await?;
    let id = match claim {
        Claim::Started(id) => id,
        Claim::Held(holder) => return Err(StartError::DryRunBusy(holder)),
    };
    let state = state.clone();
    actix_web::rt::spawn(async move { run_dry(&state, &api, &plan, id, progress).await });
    Ok(id)
}

/// A dry run's progress as it goes, for its row.
struct Recorder {
    progress: Mutex<RunProgress>,
    changed: AtomicBool,
}

impl Observer for Recorder {
    fn update(&self, kind: &KindProgress) {
        let mut progress = self
            .progress
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(slot) = progress.kinds.iter_mut().find(|k| k.kind == kind.kind) {
            *slot = kind.clone();
        }
        self.changed.store(true, Ordering::Relaxed);
    }
}

async fn run_dry(state: &AppState, api: &ListingClient, plan: &Plan, id: i64, start: RunProgress) {
    let recorder = Recorder {
        progress: Mutex::new(start),
        changed: AtomicBool::new(false),
    };
    let backfill = Backfill {
        db: &state.db,
        api,
        clock: &state.clock,
        observer: &recorder,
    };
    let outcome = tokio::select! {
        outcome = backfill.run(plan) => outcome,
        never = save_progress(state, &recorder, id) => match never {},
    };
    let now = state.clock.now_ms();
    let written = match outcome {
        Ok(report) => {
            let status = if report.progress.failed() {
                RunStatus::Failed
            } else {
                RunStatus::Completed
            };
            let json = report.progress.to_json();
            state
                .db
                .run(move |conn| sync_runs::finish(conn, id, status, &json, now))
                .await
        }
        Err(error) => {
            log::warn!(target: "auth_core::sync", "dry run {id} stopped: {error}");
            state
                .db
                .run(move |conn| sync_runs::abandon(conn, id, now))
                .await
        }
    };
    if let Err(error) = written {
        log::warn!(target: "auth_core::sync", "dry run {id}: cannot record its end: {error}");
    }
}

/// Writes the dry run's progress every [`DRY_RUN_SAVE_EVERY`] while it changes, and renews its
/// row at least every [`KEEP_ALIVE`] (one dry run at a time holds while its row is fresh).
async fn save_progress(state: &AppState, recorder: &Recorder, id: i64) -> std::convert::Infallible {
    let mut last_write = state.clock.now_ms();
    let keep_alive = i64::try_from(KEEP_ALIVE.as_millis()).unwrap_or(i64::MAX);
    loop {
        actix_web::rt::time::sleep(DRY_RUN_SAVE_EVERY).await;
        let now = state.clock.now_ms();
        let json = recorder.changed.swap(false, Ordering::Relaxed).then(|| {
            recorder
                .progress
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .to_json()
        });
        if json.is_none() && now.saturating_sub(last_write) < keep_alive {
            continue;
        }
        let written = state
            .db
            .run(move |conn| match &json {
                Some(json) => sync_runs::save_progress(conn, id, json, now),
                None => sync_runs::touch(conn, id, now),
            })
            .await;
        match written {
            Ok(()) => last_write = now,
            Err(error) => {
                log::warn!(target: "auth_core::sync", "dry run {id}: cannot record its progress: {error}")
            }
        }
    }
}
