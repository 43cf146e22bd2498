//! Sync runs: every run of `auth-core sync`, of the periodic reconcile and of this page, newest
//! first; buttons to start a dry run or a real run in the background; the progress of runs under
//! way, the page reloading itself (a `<meta http-equiv="refresh">`, no script) while any is.

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;
use serde::Deserialize;

use super::query::{cursor_field, cursor_link};
use crate::admin::guard::SignedIn;
use crate::admin::view::{format_ms, html, page, redirect, AdminError, Chrome};
use crate::audit;
use crate::db::console::PAGE_SIZE;
use crate::db::sync_runs::{self, SyncRunRow};
use crate::state::AppState;
use crate::sync::backfill::SyncError;
use crate::sync::lease::LEASE_TTL_MS;
use crate::sync::progress::RunProgress;
use crate::sync_runner::{self, StartError, Trigger};

/// Seconds between reloads while a run is under way.
const REFRESH_SECS: u32 = 3;

#[derive(Debug, Deserialize)]
pub struct RunsQuery {
    before: Option<String>,
    started: Option<String>,
}

pub struct KindItem {
    pub name: &'static str,
    pub created: u64,
    pub updated: u64,
    pub unchanged: u64,
    pub tombstoned: u64,
    pub listed: u64,
    /// Clerk's count, when known ("?" before).
    pub total: String,
    /// For a `<progress>` bar: `listed` of `max`.
    pub max: u64,
    /// Why the kind was not reconciled, or its error.
    pub note: String,
}

pub struct RunItem {
    pub id: i64,
    pub dry_run: bool,
    pub started: String,
    pub ended: String,
    pub started_by: String,
    pub outcome: &'static str,
    pub outcome_class: &'static str,
    pub kinds: Vec<KindItem>,
    /// Under way (running, with a recent sign of life).
    pub live: bool,
}

#[derive(Template)]
#[template(path = "admin/sync.html")]
struct SyncPage {
    chrome: Chrome,
    runs: Vec<RunItem>,
    next: Option<String>,
    /// Whether runs can be started here (`CLERK_SECRET_KEY` is set).
    can_start: bool,
    notice: Option<String>,
    error: Option<String>,
    /// Reload every this many seconds (a run is under way), or 0.
    refresh: u32,
}

impl SyncPage {
    fn live_runs(&self) -> impl Iterator<Item = &RunItem> {
        self.runs.iter().filter(|r| r.live)
    }
}

fn item(run: SyncRunRow, now_ms: i64) -> RunItem {
    let live = run.status == "running" && run.updated_at >= now_ms.saturating_sub(LEASE_TTL_MS);
    let (outcome, outcome_class) = match run.status.as_str() {
        "completed" => ("completed", "ok"),
        "failed" => ("failed", "bad"),
        _ if live => ("running", "warn"),
        // Its process stopped (killed, or a server shut down) without recording the end.
        _ => ("interrupted", "bad"),
    };
    // The progress is the sync module's JSON; a row it cannot read still lists.
    let kinds = serde_json::from_str::<RunProgress>(&run.progress)
        .map(|p| {
            p.kinds
                .into_iter()
                .map(|k| KindItem {
                    name: k.kind.name(),
                    created: k.counts.created,
                    updated: k.counts.updated,
                    unchanged: k.counts.unchanged,
                    tombstoned: k.counts.tombstoned,
                    listed: k.listed,
                    total: k.total.map_or("?".to_owned(), |t| t.to_string()),
                    max: k.total.unwrap_or(0).max(k.listed).max(1),
                    note: match (k.error, k.not_reconciled) {
                        (Some(error), _) => format!("failed: {error}"),
                        (None, Some(why)) => format!("not reconciled: {why}"),
                        (None, None) => String::new(),
                    },
                })
                .collect()
        })
        .unwrap_or_default();
    RunItem {
        id: run.id,
        dry_run: run.dry_run,
        started: format_ms(run.started_at),
        ended: run.finished_at.map_or_else(String::new, format_ms),
        started_by: run.started_by,
        outcome,
        outcome_class,
        kinds,
        live,
    }
}

/// The page as of now, from the run `before` on.
async fn load(
    state: &AppState,
    admin: &SignedIn,
    before: Option<crate::db::page::Cursor<i64>>,
) -> Result<SyncPage, AdminError> {
    let found = state
        .db
        .run(move |conn| sync_runs::list(conn, before.as_ref(), PAGE_SIZE))
        .await?;
    let next = found
        .next(|r| r.id)
        .map(|before| cursor_link("/admin/sync", &[], &["before"], &before.values()));
    let now = state.clock.now_ms();
    let runs: Vec<RunItem> = found.rows.into_iter().map(|r| item(r, now)).collect();
    let refresh = if runs.iter().any(|r| r.live) {
        REFRESH_SECS
    } else {
        0
    };
    Ok(SyncPage {
        chrome: admin.chrome("sync"),
        runs,
        next,
        can_start: state.settings.clerk.secret_key.is_some(),
        notice: None,
        error: None,
        refresh,
    })
}

pub async fn list(
    admin: SignedIn,
    state: web::Data<AppState>,
    query: web::Query<RunsQuery>,
) -> Result<HttpResponse, AdminError> {
    let mut shown = load(&state, &admin, cursor_field(&[&query.before])).await?;
    // Only a number is shown back: the link is ours, but anyone can edit it.
    shown.notice = query
        .started
        .as_deref()
        .and_then(|id| id.parse::<i64>().ok())
        .map(|id| format!("Sync run {id} started."));
    Ok(page(&shown))
}

#[derive(Debug, Deserialize)]
pub struct StartForm {
    mode: String,
}

/// Starts a dry run (`mode=dry`) or a real run (`mode=real`) in the background, then shows the page
/// with it under way. Refused (409, the page with why) while another run holds the lease, or
/// without `CLERK_SECRET_KEY`.
pub async fn start(
    req: HttpRequest,
    admin: SignedIn,
    state: web::Data<AppState>,
    form: web::Form<StartForm>,
) -> Result<HttpResponse, AdminError> {
    let dry_run = match form.mode.as_str() {
        "dry" => true,
        "real" => false,
        _ => return Err(AdminError::BadRequest("mode: expected dry or real".into())),
    };
    let what = if dry_run { "dry run" } else { "sync run" };
    let trigger = Trigger::Console {
        email: admin.email.clone(),
    };
    match sync_runner::start(&state, trigger, dry_run).await {
        Ok(id) => {
            audit::note(&req, |n| n.detail = Some(format!("started {what} {id}")));
            Ok(redirect(&format!("/admin/sync?started={id}")))
        }
        Err(
            refused @ (StartError::NoSecretKey | StartError::Busy(_) | StartError::DryRunBusy(_)),
        ) => {
            let why = refused.to_string();
            audit::note(&req, |n| n.detail = Some(format!("{what} refused: {why}")));
            let mut shown = load(&state, &admin, None).await?;
            shown.error = Some(format!("Not started: {why}."));
            Ok(html(StatusCode::CONFLICT, &shown))
        }
        // A database that does not answer is a 503 worth retrying, as on every page.
        Err(StartError::Sync(SyncError::Db(error))) => Err(error.into()),
        Err(StartError::Sync(error)) => Err(AdminError::Internal(
            format!("sync run not started: {error}").into(),
        )),
    }
}
