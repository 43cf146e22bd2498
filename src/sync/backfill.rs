//! Backfill and reconcile from Clerk's Backend API (`auth-core sync`): every listed row applied through
//! the webhooks' upserts, then the rows Clerk no longer has tombstoned.
//!
//! Invariants:
//! - One real run at a time on a database ([`super::lease`]).
//! - A page's rows, their `synced_at` mark and the run's checkpoint are written in one transaction
//!   (a handful of statements per page on PostgreSQL, the upsert a row at a time on SQLite): a
//!   stopped run resumes after the last page applied, and nothing is applied twice. Each of the run's transactions writes first
//!   ([`sync_runs::touch`]), so on SQLite it holds the write lock before it reads.
//! - Reconcile runs for a kind only after its listing was read to the end and could not have
//!   skipped a row: the users' cursor walk came up with at least `/users/count` users; an offset
//!   listing kept its `total_count` and each page began with the last row of the page before (it is
//!   asked for from one row earlier). Otherwise nothing of that kind is tombstoned.
//! - Reconcile tombstones only live rows that no listing confirmed since the run started, less
//!   [`CLOCK_SKEW_ALLOWANCE_MS`]: a row a webhook or a sign-in wrote during the run is kept.
//! - Memory stays flat on real runs: a page at a time, the "seen" marks live in the database. A dry
//!   run writes nothing, so it keeps the ids it saw in memory to count what reconcile would do.

use std::collections::HashSet;

use crate::clerk::listing::{ListingClient, ListingError};
use crate::clock::Clock;
use crate::db::reconcile;
use crate::db::sync_runs::{self, Claim, RunStatus, SyncRunRow};
use crate::db::{organizations, users, Db, DbError};

use super::lease::{self, Lease};
use super::pages::{self, Page};
use super::progress::{Counts, Kind, KindProgress, RunProgress};

/// How far behind the clock of another instance (writing webhooks) may be: rows it wrote that
/// recently before this run started are not tombstoned by it.
pub const CLOCK_SKEW_ALLOWANCE_MS: i64 = 60_000;

/// Rows tombstoned per transaction by reconcile.
const RECONCILE_BATCH: i64 = 500;

/// Reconcile may always tombstone this many rows of a kind, whatever the share (a small instance).
const TOMBSTONE_FLOOR: u64 = 10;

/// Whether tombstoning `stale` of `live` rows stays within `max_percent` (or the floor). A secret
/// key of another Clerk instance lists other users: without this bound, its complete listing would
/// tombstone every row.
fn within_tombstone_limit(stale: u64, live: u64, max_percent: u8) -> bool {
    stale <= TOMBSTONE_FLOOR
        || stale.saturating_mul(100) <= live.saturating_mul(u64::from(max_percent))
}

#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    #[error("{0}")]
    Db(#[from] DbError),
    #[error("no unfinished sync run to resume")]
    NothingToResume,
    #[error("sync run {0} cannot be resumed: its checkpoint is unreadable ({1})")]
    Checkpoint(i64, String),
    /// Another run holds the lease (see [`super::lease`]): its row, when it is recorded.
    #[error("another sync is running on this database")]
    Busy(Option<Box<SyncRunRow>>),
}

/// What to do.
#[derive(Debug, Clone)]
pub struct Plan {
    pub kinds: Vec<Kind>,
    pub dry_run: bool,
    /// Continue the newest unfinished run instead of starting one (its kinds, its start time).
    pub resume: bool,
    /// Recorded with the run ("cli", an administrator's email).
    pub started_by: String,
    /// Reconcile tombstones at most this share of a kind's live rows (more than
    /// [`TOMBSTONE_FLOOR`]); above it, nothing of that kind is tombstoned.
    pub max_tombstone_percent: u8,
}

/// Told of each step, for progress bars and logs.
pub trait Observer {
    fn update(&self, progress: &KindProgress);
}

/// Observes nothing.
pub struct Quiet;

impl Observer for Quiet {
    fn update(&self, _: &KindProgress) {}
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Report {
    /// `None` for a dry run (nothing is recorded).
    pub run_id: Option<i64>,
    pub progress: RunProgress,
}

impl Report {
    /// Each failed kind with its error.
    pub fn failures(&self) -> Vec<(Kind, &str)> {
        self.progress
            .kinds
            .iter()
            .filter_map(|k| k.error.as_deref().map(|e| (k.kind, e)))
            .collect()
    }
}

/// A run whose lease is taken and whose row is recorded, not yet walked ([`Backfill::claim`]).
pub struct Claimed {
    lease: Option<Lease>,
    run_id: Option<i64>,
    progress: RunProgress,
}

impl Claimed {
    /// The run's row (`None` for a dry run, which records none).
    pub fn run_id(&self) -> Option<i64> {
        self.run_id
    }

    /// Where the run starts from.
    pub fn progress(&self) -> &RunProgress {
        &self.progress
    }
}

pub struct Backfill<'a> {
    pub db: &'a Db,
    pub api: &'a ListingClient,
    pub clock: &'a Clock,
    pub observer: &'a dyn Observer,
}

/// Where one kind's walk is, between pages.
struct Walk {
    /// The kind's ids seen so far (dry runs only).
    seen: Option<HashSet<String>>,
}

impl Backfill<'_> {
    /// Runs `plan`. A real run first takes the lease ([`super::lease`]): while another run holds it,
    /// this one fails with [`SyncError::Busy`] before reading or writing anything.
    pub async fn run(&self, plan: &Plan) -> Result<Report, SyncError> {
        let claimed = self.claim(plan).await?;
        self.run_claimed(claimed, plan).await
    }

    /// The first half of [`Backfill::run`]: takes the lease and records the run (a dry run, neither).
    /// The server's console answers as soon as this is done, and leaves the rest to a task of its own.
    pub async fn claim(&self, plan: &Plan) -> Result<Claimed, SyncError> {
        let lease = if plan.dry_run {
            None
        } else {
            Some(Lease::take(self.db).await?)
        };
        let fresh_since = lease
            .as_ref()
            .and_then(|l| l.row_fresh_since(self.clock.now_ms()));
        match self.open_run(plan, fresh_since).await {
            Ok((run_id, progress)) => Ok(Claimed {
                lease,
                run_id,
                progress,
            }),
            Err(error) => {
                if let Some(lease) = lease {
                    lease.release().await;
                }
                Err(error)
            }
        }
    }

    /// The second half of [`Backfill::run`]: the walk of a claimed run, then its end recorded and its
    /// lease released. Dropped part-way (a server stopping), nothing is half-applied: each page and
    /// its checkpoint commit together, the lock's connection closes with the lease, and the row of
    /// the run is left `running` until its lease goes stale (SQLite) — the next run starts afresh.
    pub async fn run_claimed(&self, claimed: Claimed, plan: &Plan) -> Result<Report, SyncError> {
        let Claimed {
            lease,
            run_id,
            progress,
        } = claimed;
        let outcome = match run_id {
            None => self.walk(None, progress, plan).await,
            Some(id) => {
                let outcome = tokio::select! {
                    outcome = self.walk(Some(id), progress, plan) => outcome,
                    never = lease::keep_alive(self.db, self.clock, id) => match never {},
                };
                self.close_run(id, outcome).await
            }
        };
        if let Some(lease) = lease {
            lease.release().await;
        }
        outcome
    }

    /// Each kind listed, applied and reconciled in turn.
    async fn walk(
        &self,
        run_id: Option<i64>,
        mut progress: RunProgress,
        plan: &Plan,
    ) -> Result<Report, SyncError> {
        for index in 0..progress.kinds.len() {
            let mut kind = progress.kinds[index].clone();
            if kind.finished() {
                continue;
            }
            kind.error = None;
            let mut walk = Walk {
                seen: plan.dry_run.then(HashSet::new),
            };
            let outcome = self.list(run_id, &mut progress, &mut kind, &mut walk).await;
            if let Err(error) = outcome {
                kind.error = Some(error);
            } else if kind.not_reconciled.is_none() {
                self.reconcile(
                    run_id,
                    &mut progress,
                    &mut kind,
                    &walk,
                    plan.max_tombstone_percent,
                )
                .await?;
            }
            progress.kinds[index] = kind.clone();
            self.observer.update(&kind);
        }
        Ok(Report { run_id, progress })
    }

    /// Records the run's end: completed, or failed (resumable) when a listing failed or the run
    /// stopped on an error. Either way its row no longer holds the lease.
    async fn close_run(
        &self,
        id: i64,
        outcome: Result<Report, SyncError>,
    ) -> Result<Report, SyncError> {
        let now = self.clock.now_ms();
        let report = match outcome {
            Ok(report) => report,
            Err(error) => {
                if let Err(e) = self
                    .db
                    .run(move |conn| sync_runs::abandon(conn, id, now))
                    .await
                {
                    log::warn!(target: "auth_core::sync", "sync run {id}: cannot record that it stopped: {e}");
                }
                return Err(error);
            }
        };
        let status = if report.progress.failed() {
            RunStatus::Failed
        } else {
            RunStatus::Completed
        };
        let json = report.progress.to_json();
        self.db
            .run(move |conn| sync_runs::finish(conn, id, status, &json, now))
            .await?;
        Ok(report)
    }

    /// Starts the run's record, or takes up the newest unfinished one (`--resume`); on SQLite only
    /// when no running run updated since `lease_fresh_since` holds the lease.
    async fn open_run(
        &self,
        plan: &Plan,
        lease_fresh_since: Option<i64>,
    ) -> Result<(Option<i64>, RunProgress), SyncError> {
        let now = self.clock.now_ms();
        if plan.resume {
            let run = self
                .db
                .run(sync_runs::latest_unfinished)
                .await?
                .ok_or(SyncError::NothingToResume)?;
            let progress: RunProgress = serde_json::from_str(&run.progress)
                .map_err(|e| SyncError::Checkpoint(run.id, e.to_string()))?;
            let id = run.id;
            let claim = self
                .db
                .run(move |conn| sync_runs::reopen(conn, id, now, lease_fresh_since))
                .await?;
            return Ok((Some(started(claim)?), progress));
        }
        let progress = RunProgress::new(now, &plan.kinds);
        if plan.dry_run {
            return Ok((None, progress));
        }
        let (by, kinds, json) = (
            plan.started_by.clone(),
            progress.kind_names(),
            progress.to_json(),
        );
        let claim = self
            .db
            .run(move |conn| sync_runs::start(conn, &by, &kinds, &json, now, lease_fresh_since))
            .await?;
        Ok((Some(started(claim)?), progress))
    }

    /// Reads the kind's listing to its end (or first failure), applying each page.
    async fn list(
        &self,
        run_id: Option<i64>,
        run: &mut RunProgress,
        kind: &mut KindProgress,
        walk: &mut Walk,
    ) -> Result<(), String> {
        let page_size = u64::from(self.api.page_size());
        if !kind.listed_all {
            let mut fetched = Some(self.fetch(kind).await);
            while let Some(result) = fetched.take() {
                let (page, total) = result.map_err(|e| e.to_string())?;
                let (mut next, page) = advance(kind, page, total, page_size);
                check_advances(kind, &next, page_size)?;
                let counts = if next.listed_all {
                    self.apply(run_id, run, &next, page, walk).await
                } else {
                    // The next page is read while this one is written: its cursor is known.
                    let (applied, prefetched) = futures_util::future::join(
                        self.apply(run_id, run, &next, page, walk),
                        self.fetch(&next),
                    )
                    .await;
                    fetched = Some(prefetched);
                    applied
                }
                .map_err(|e| e.to_string())?;
                next.counts.add(counts);
                *kind = next;
                self.observer.update(kind);
            }
        }
        self.check_complete(kind).await.map_err(|e| e.to_string())?;
        Ok(())
    }

    /// The next page of the kind's listing, and the listing's size when known.
    async fn fetch(&self, kind: &KindProgress) -> Result<(Page, Option<u64>), ListingError> {
        let from = kind.listed.saturating_sub(1);
        match kind.kind {
            Kind::Users => {
                let total = match kind.total {
                    Some(total) => Some(total),
                    None => Some(self.api.user_count().await?),
                };
                let users = self.api.users_after(kind.last_id.as_deref()).await?;
                Ok((Page::Users(users), total))
            }
            Kind::Organizations => {
                let page = self.api.organizations_at(from).await?;
                Ok((Page::Organizations(page.items), Some(page.total_count)))
            }
            Kind::Memberships => {
                let page = self.api.memberships_at(from).await?;
                Ok((Page::Memberships(page.items), Some(page.total_count)))
            }
        }
    }

    /// A listing read to its end is complete only if it holds as many rows as Clerk says exist.
    async fn check_complete(&self, kind: &mut KindProgress) -> Result<(), ListingError> {
        let total = match kind.kind {
            // Users created after the walk began are at its end (ascending order), so a count taken
            // now is at most what a complete walk saw, unless users were created after its last page.
            Kind::Users => Some(self.api.user_count().await?),
            _ => kind.total,
        };
        if let Some(total) = total {
            if kind.listed < total && kind.not_reconciled.is_none() {
                kind.not_reconciled =
                    Some(format!("read {} of {total} rows Clerk counts", kind.listed));
            }
        }
        Ok(())
    }

    /// Applies (or, dry, counts) a page and stores the checkpoint in the same transaction.
    async fn apply(
        &self,
        run_id: Option<i64>,
        run: &RunProgress,
        kind: &KindProgress,
        page: Page,
        walk: &mut Walk,
    ) -> Result<Counts, DbError> {
        let now = self.clock.now_ms();
        let Some(id) = run_id else {
            if let Some(seen) = walk.seen.as_mut() {
                seen.extend(page.versions().into_iter().map(|(id, _)| id));
            }
            return self
                .db
                .run(move |conn| pages::preview_page(conn, &page))
                .await;
        };
        let mut checkpoint = run.clone();
        let mut after = kind.clone();
        self.db
            .run(move |conn| {
                diesel::Connection::transaction(conn, |conn| {
                    sync_runs::touch(conn, id, now)?;
                    let counts = pages::write_page(conn, &page, now)?;
                    after.counts.add(counts);
                    store(&mut checkpoint, &after);
                    sync_runs::save_progress(conn, id, &checkpoint.to_json(), now)?;
                    Ok(counts)
                })
            })
            .await
    }

    /// Tombstones the kind's live rows no listing confirmed since the run started (a dry run counts
    /// them), unless more than `max_percent` of them would go.
    async fn reconcile(
        &self,
        run_id: Option<i64>,
        run: &mut RunProgress,
        kind: &mut KindProgress,
        walk: &Walk,
        max_percent: u8,
    ) -> Result<(), SyncError> {
        let cutoff = run.started_at - CLOCK_SKEW_ALLOWANCE_MS;
        let refused = match run_id {
            Some(id) => {
                self.tombstone_stale(id, run, kind, cutoff, max_percent)
                    .await?
            }
            None => self.count_stale(kind, walk, cutoff, max_percent).await?,
        };
        match refused {
            Some(why) => kind.not_reconciled = Some(why),
            None => kind.reconciled = true,
        }
        store(run, kind);
        Ok(())
    }

    /// A real run: checks the limit first, then tombstones the stale rows in batches, each in one
    /// transaction with its checkpoint. `Some(why)` when the limit refused it.
    async fn tombstone_stale(
        &self,
        id: i64,
        run: &RunProgress,
        kind: &mut KindProgress,
        cutoff: i64,
        max_percent: u8,
    ) -> Result<Option<String>, SyncError> {
        let table = kind.kind.table();
        let (stale, live) = self
            .db
            .run(move |conn| {
                Ok((
                    reconcile::count_live(conn, table, Some(cutoff))?,
                    reconcile::count_live(conn, table, None)?,
                ))
            })
            .await?;
        let (stale, live) = (stale.max(0) as u64, live.max(0) as u64);
        if !within_tombstone_limit(stale, live, max_percent) {
            return Ok(Some(too_many(stale, live, max_percent)));
        }
        loop {
            let now = self.clock.now_ms();
            let which = kind.kind;
            let mut checkpoint = run.clone();
            let mut state = kind.clone();
            let done = self
                .db
                .run(move |conn| {
                    diesel::Connection::transaction(conn, |conn| {
                        sync_runs::touch(conn, id, now)?;
                        let stale =
                            reconcile::stale_ids(conn, table, cutoff, None, RECONCILE_BATCH)?;
                        for row in &stale {
                            match which {
                                Kind::Users => users::tombstone_user(conn, row, now)?,
                                Kind::Organizations => {
                                    organizations::tombstone_organization(conn, row, now)?
                                }
                                Kind::Memberships => {
                                    reconcile::tombstone_membership(conn, row, now)?
                                }
                            }
                        }
                        state.counts.tombstoned += stale.len() as u64;
                        state.reconciled = stale.is_empty();
                        store(&mut checkpoint, &state);
                        sync_runs::save_progress(conn, id, &checkpoint.to_json(), now)?;
                        Ok::<_, DbError>(state)
                    })
                })
                .await?;
            *kind = done;
            self.observer.update(kind);
            if kind.reconciled {
                return Ok(None);
            }
        }
    }

    /// A dry run: nothing was marked, so the stale rows are those this walk did not see (told apart
    /// in memory); counted, then held against the limit. `Some(why)` when the limit refused it.
    async fn count_stale(
        &self,
        kind: &mut KindProgress,
        walk: &Walk,
        cutoff: i64,
        max_percent: u8,
    ) -> Result<Option<String>, SyncError> {
        let table = kind.kind.table();
        let mut after: Option<String> = None;
        loop {
            let from = after.clone();
            let stale = self
                .db
                .run(move |conn| {
                    reconcile::stale_ids(conn, table, cutoff, from.as_deref(), RECONCILE_BATCH)
                })
                .await?;
            let Some(last) = stale.last().cloned() else {
                break;
            };
            let seen = walk.seen.as_ref();
            kind.counts.tombstoned += stale
                .iter()
                .filter(|id| !seen.is_some_and(|s| s.contains(*id)))
                .count() as u64;
            after = Some(last);
        }
        let live = self
            .db
            .run(move |conn| reconcile::count_live(conn, table, None))
            .await?
            .max(0) as u64;
        let stale = kind.counts.tombstoned;
        if !within_tombstone_limit(stale, live, max_percent) {
            kind.counts.tombstoned = 0;
            return Ok(Some(too_many(stale, live, max_percent)));
        }
        Ok(None)
    }
}

/// The run's id once claimed, or who holds the lease.
fn started(claim: Claim) -> Result<i64, SyncError> {
    match claim {
        Claim::Started(id) => Ok(id),
        Claim::Held(holder) => Err(SyncError::Busy(Some(holder))),
    }
}

/// The kind's state once `page` (read from where `kind` stands) is applied, and the page's rows
/// still to apply.
fn advance(
    kind: &KindProgress,
    mut page: Page,
    total: Option<u64>,
    page_size: u64,
) -> (KindProgress, Page) {
    let mut next = kind.clone();
    // A page shorter than asked for ends the listing.
    let full = page.len() as u64 >= page_size;
    // Offset listings are asked for from one row back: that row must be the last one read.
    if next.kind != Kind::Users && next.listed > 0 {
        let first = page.versions().first().map(|(id, _)| id.clone());
        if first.is_some() && first == next.last_id {
            page.skip_first(1);
        } else {
            next.not_reconciled
                .get_or_insert_with(|| "the listing moved while it was read".to_owned());
        }
    }
    if let (Some(before), Some(now)) = (next.total, total) {
        if next.kind != Kind::Users && before != now {
            next.not_reconciled.get_or_insert_with(|| {
                format!("total_count changed from {before} to {now} while listing")
            });
        }
    }
    next.total = total.or(next.total);
    next.listed += page.len() as u64;
    if let Some((id, _)) = page.versions().last() {
        next.last_id = Some(id.clone());
    }
    next.listed_all = !full;
    (next, page)
}

/// A listing that returns full pages without new rows, or far more rows than Clerk counts, would
/// be walked forever: it fails instead (nothing of its kind is tombstoned).
fn check_advances(
    before: &KindProgress,
    after: &KindProgress,
    page_size: u64,
) -> Result<(), String> {
    if !after.listed_all && after.listed == before.listed {
        return Err(format!(
            "the {} listing returned a full page without new rows",
            after.kind.name()
        ));
    }
    if let Some(total) = after.total {
        let most = total.saturating_mul(2).saturating_add(page_size);
        if after.listed > most {
            return Err(format!(
                "the {} listing returned {} rows, more than twice the {total} Clerk counts",
                after.kind.name(),
                after.listed
            ));
        }
    }
    Ok(())
}

fn too_many(stale: u64, live: u64, max_percent: u8) -> String {
    format!(
        "would tombstone {stale} of {live} rows, more than {max_percent} %; check the secret key's instance, then allow it with --max-tombstone-percent"
    )
}

/// Puts a kind's progress into the run's.
fn store(run: &mut RunProgress, kind: &KindProgress) {
    if let Some(slot) = run.kinds.iter_mut().find(|k| k.kind == kind.kind) {
        *slot = kind.clone();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn users_page(ids: &[&str]) -> Page {
        let users = ids
            .iter()
            .map(|id| {
                serde_json::from_value(serde_json::json!({
                    "id": id, "primary_email_address_id": null, "first_name": null,
                    "last_name": null, "username": null, "image_url": null,
                    "last_sign_in_at": null, "created_at": 1, "updated_at": 2
                }))
                .unwrap_or_else(|e| panic!("{e}"))
            })
            .collect();
        Page::Users(users)
    }

    #[test]
    fn a_cursor_that_does_not_move_fails_the_listing() {
        let start = KindProgress::new(Kind::Users);
        let (first, _) = advance(&start, users_page(&["user_a", "user_b"]), Some(4), 2);
        assert_eq!(first.listed, 2);
        assert!(!first.listed_all);
        assert_eq!(check_advances(&start, &first, 2), Ok(()));
        // A full page that adds no row (say an offset page of nothing but the overlap row) would be
        // asked for again and again: the walk stops instead.
        let mut orgs = KindProgress::new(Kind::Organizations);
        orgs.listed = 2;
        orgs.last_id = Some("org_b".to_owned());
        let stuck = KindProgress {
            listed_all: false,
            ..orgs.clone()
        };
        assert_eq!(
            check_advances(&orgs, &stuck, 2),
            Err("the organizations listing returned a full page without new rows".to_owned())
        );
    }

    #[test]
    fn far_more_rows_than_counted_fails_the_listing() {
        let before = KindProgress::new(Kind::Users);
        let after = KindProgress {
            listed: 1_001,
            total: Some(250),
            ..before.clone()
        };
        assert_eq!(
            check_advances(&before, &after, 500),
            Err(
                "the users listing returned 1001 rows, more than twice the 250 Clerk counts"
                    .to_owned()
            )
        );
        let growing = KindProgress {
            listed: 1_000,
            ..after
        };
        assert_eq!(check_advances(&before, &growing, 500), Ok(()));
    }

    fn organizations_page(ids: &[&str]) -> Page {
        let organizations = ids
            .iter()
            .map(|id| {
                serde_json::from_value(serde_json::json!({
                    "id": id, "name": id, "slug": null, "image_url": null,
                    "max_allowed_memberships": null, "created_by": null,
                    "created_at": 1, "updated_at": 2
                }))
                .unwrap_or_else(|e| panic!("{e}"))
            })
            .collect();
        Page::Organizations(organizations)
    }

    #[test]
    fn an_offset_page_must_begin_with_the_last_row_read() {
        let mut read_two = KindProgress::new(Kind::Organizations);
        read_two.listed = 2;
        read_two.last_id = Some("org_b".to_owned());
        let (next, rows) = advance(
            &read_two,
            organizations_page(&["org_b", "org_c"]),
            Some(3),
            2,
        );
        assert_eq!(
            rows.versions().len(),
            1,
            "the overlap row is not applied twice"
        );
        assert_eq!((next.listed, next.last_id.as_deref()), (3, Some("org_c")));
        assert_eq!(next.not_reconciled, None);
        let (moved, rows) = advance(
            &read_two,
            organizations_page(&["org_c", "org_d"]),
            Some(3),
            2,
        );
        assert_eq!(rows.versions().len(), 2);
        assert_eq!(
            moved.not_reconciled.as_deref(),
            Some("the listing moved while it was read")
        );
        let (resized, _) = advance(&next, organizations_page(&["org_c"]), Some(4), 2);
        assert_eq!(
            resized.not_reconciled.as_deref(),
            Some("total_count changed from 3 to 4 while listing")
        );
        assert!(resized.listed_all);
    }
}
