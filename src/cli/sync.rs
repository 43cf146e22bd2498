//! `auth-core sync`: backfill and reconcile users, organizations and memberships from Clerk's Backend
//! API. A progress bar per kind on a terminal, plain lines otherwise; a summary table at the end;
//! exit code 1 with the failures listed when any listing failed, [`BUSY_EXIT_CODE`] when another
//! run holds the lease.

use std::io::IsTerminal;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressState, ProgressStyle};

use crate::admin::view::format_ms;
use crate::clerk::listing::{ListingClient, ListingOptions};
use crate::clerk::retry::RetryPolicy;
use crate::clock::Clock;
use crate::db::sync_runs::SyncRunRow;
use crate::db::DbError;
use crate::settings::Settings;
use crate::sync::backfill::{Backfill, Observer, Plan, Report, SyncError};
use crate::sync::progress::{Kind, KindProgress};

use super::SyncArgs;

#[derive(Debug, thiserror::Error)]
pub enum SyncCliError {
    #[error("sync needs CLERK_SECRET_KEY (clerk.secret_key): it reads Clerk's Backend API")]
    NoSecretKey,
    #[error("{0}")]
    Database(#[from] DbError),
    #[error("{0}")]
    Sync(SyncError),
    /// Another run holds the lease; exit code [`BUSY_EXIT_CODE`].
    #[error("another sync is running on this database ({}); try again when it has ended", holder(.0.as_deref()))]
    Busy(Option<Box<SyncRunRow>>),
    #[error("{count} of the listings failed (see above); nothing of those kinds was tombstoned. `auth-core sync --resume` continues where they stopped")]
    Failed { count: usize },
    #[error("cannot start the async runtime: {0}")]
    Runtime(std::io::Error),
}

/// The exit code of a run refused because another holds the lease: sysexits' EX_TEMPFAIL, "try
/// again later" (a scheduler can tell it from a failed run, 1, and a configuration mistake, 2).
pub const BUSY_EXIT_CODE: u8 = 75;

impl From<SyncError> for SyncCliError {
    fn from(error: SyncError) -> Self {
        match error {
            SyncError::Busy(holder) => Self::Busy(holder),
            other => Self::Sync(other),
        }
    }
}

/// Which run holds the lease, for the message of the run it refuses.
fn holder(run: Option<&SyncRunRow>) -> String {
    match run {
        Some(run) => format!(
            "run {}, started {} by {}",
            run.id,
            format_ms(run.started_at),
            run.started_by
        ),
        // PostgreSQL: the lock is taken just before the run's row is written.
        None => "its run is not recorded yet".to_owned(),
    }
}

pub fn run(settings: &Settings, args: &SyncArgs) -> Result<(), SyncCliError> {
    let secret = settings
        .clerk
        .secret_key
        .clone()
        .ok_or(SyncCliError::NoSecretKey)?;
    let db = super::open_database(settings)?;
    let api = ListingClient::new(
        &settings.clerk.api_url,
        secret,
        ListingOptions {
            page_size: args.page_size,
            max_per_second: Some(args.max_rps),
            timeout: settings.clerk.api_timeout,
            retry: RetryPolicy::default(),
        },
    );
    let kinds: Vec<Kind> = if args.only.is_empty() {
        Kind::ALL.to_vec()
    } else {
        Kind::ALL
            .into_iter()
            .filter(|k| args.only.iter().any(|o| o == k.name()))
            .collect()
    };
    let plan = Plan {
        kinds,
        dry_run: args.dry_run,
        resume: args.resume,
        started_by: "cli".to_owned(),
        max_tombstone_percent: args.max_tombstone_percent,
    };
    let observer = Display::new();
    let clock = Clock::system();
    let report = actix_web::rt::System::new().block_on(async {
        Backfill {
            db: &db,
            api: &api,
            clock: &clock,
            observer: &observer,
        }
        .run(&plan)
        .await
    })?;
    observer.finish();
    print!("{}", summary(&report, args.dry_run));
    let failures = report.failures();
    for (kind, error) in &failures {
        eprintln!("auth-core: sync {}: {error}", kind.name());
    }
    if failures.is_empty() {
        Ok(())
    } else {
        Err(SyncCliError::Failed {
            count: failures.len(),
        })
    }
}

/// The table printed at the end.
pub fn summary(report: &Report, dry_run: bool) -> String {
    let mut out = String::new();
    if dry_run {
        out.push_str("dry run: nothing was written; counts are what a run would do\n");
    } else if let Some(id) = report.run_id {
        out.push_str(&format!("sync run {id}\n"));
    }
    out.push_str(&format!(
        "{:<14} {:>9} {:>9} {:>10} {:>11} {:>17}  {}\n",
        "kind", "created", "updated", "unchanged", "tombstoned", "read/total", "result"
    ));
    for kind in &report.progress.kinds {
        let c = kind.counts;
        let total = kind.total.map_or("?".to_owned(), |t| t.to_string());
        out.push_str(&format!(
            "{:<14} {:>9} {:>9} {:>10} {:>11} {:>17}  {}\n",
            kind.kind.name(),
            c.created,
            c.updated,
            c.unchanged,
            c.tombstoned,
            format!("{}/{total}", kind.listed),
            result(kind)
        ));
    }
    out
}

fn result(kind: &KindProgress) -> String {
    match (&kind.error, &kind.not_reconciled) {
        (Some(_), _) => "FAILED".to_owned(),
        (None, Some(why)) => format!("not reconciled: {why}"),
        (None, None) if kind.reconciled => "reconciled".to_owned(),
        (None, None) => "listed".to_owned(),
    }
}

/// Progress bars on a terminal (standard error), else a plain line per kind at most every few
/// seconds and when the kind ends.
struct Display {
    bars: Option<Bars>,
    /// When each kind last printed a plain line, and when it started.
    lines: Mutex<Vec<(Kind, Instant, Instant)>>,
}

/// One bar per kind, drawn together.
struct Bars {
    multi: MultiProgress,
    by_kind: Mutex<Vec<(Kind, ProgressBar)>>,
}

const LINE_INTERVAL: Duration = Duration::from_secs(5);

impl Display {
    fn new() -> Self {
        let bars = std::io::stderr().is_terminal().then(|| Bars {
            multi: MultiProgress::with_draw_target(ProgressDrawTarget::stderr()),
            by_kind: Mutex::new(Vec::new()),
        });
        Self {
            bars,
            lines: Mutex::new(Vec::new()),
        }
    }

    fn bar(&self, kind: Kind) -> Option<ProgressBar> {
        let Bars { multi, by_kind } = self.bars.as_ref()?;
        let mut bars = by_kind
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some((_, bar)) = bars.iter().find(|(k, _)| *k == kind) {
            return Some(bar.clone());
        }
        let style = ProgressStyle::with_template(
            "{prefix:>13} [{bar:30}] {pos}/{len} {rate} eta {eta} {msg}",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .with_key(
            "rate",
            |state: &ProgressState, out: &mut dyn std::fmt::Write| {
                let _ = write!(out, "{:.0} rows/s", state.per_sec());
            },
        )
        .progress_chars("=> ");
        let bar = multi.add(
            ProgressBar::new(0)
                .with_style(style)
                .with_prefix(kind.name()),
        );
        bars.push((kind, bar.clone()));
        Some(bar)
    }

    fn finish(&self) {
        if let Some(bars) = &self.bars {
            for (_, bar) in bars
                .by_kind
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .iter()
            {
                bar.abandon();
            }
        }
    }
}

impl Observer for Display {
    fn update(&self, progress: &KindProgress) {
        let c = progress.counts;
        let changes = format!(
            "created {} updated {} unchanged {} tombstoned {}",
            c.created, c.updated, c.unchanged, c.tombstoned
        );
        if let Some(bar) = self.bar(progress.kind) {
            bar.set_length(progress.total.unwrap_or(0).max(progress.listed));
            bar.set_position(progress.listed);
            bar.set_message(changes);
            return;
        }
        let now = Instant::now();
        let mut lines = self
            .lines
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let (last, started) = match lines.iter_mut().find(|(k, _, _)| *k == progress.kind) {
            Some((_, last, started)) => {
                let done = progress.finished() || progress.error.is_some();
                if !done && now.duration_since(*last) < LINE_INTERVAL {
                    return;
                }
                *last = now;
                (*last, *started)
            }
            None => {
                lines.push((progress.kind, now, now));
                (now, now)
            }
        };
        let elapsed = last.duration_since(started).as_secs_f64();
        let rate = if elapsed > 0.0 {
            format!("{:.0} rows/s", progress.listed as f64 / elapsed)
        } else {
            "-".to_owned()
        };
        let total = progress.total.map_or("?".to_owned(), |t| t.to_string());
        eprintln!(
            "sync {}: {}/{total} read, {changes}, {rate}",
            progress.kind.name(),
            progress.listed
        );
    }
}
