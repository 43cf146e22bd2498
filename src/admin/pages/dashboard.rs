//! The dashboard: what is synced, how authentication went over the last day, webhook health, keys.

use actix_web::{web, HttpResponse};
use askama::Template;

use crate::admin::chart::{self, Chart};
use crate::admin::guard::SignedIn;
use crate::admin::view::{format_ms, page, AdminError, Chrome};
use crate::clerk::key_store::KeyStoreStatus;
use crate::db::dashboard::{self, Counts, WebhookHealth};
use crate::state::AppState;

const HOUR_MS: i64 = 3_600_000;
const BUCKETS: usize = 24;

#[derive(Template)]
#[template(path = "admin/dashboard.html")]
struct DashboardPage {
    chrome: Chrome,
    counts: Counts,
    chart: Chart,
    failures_by_reason: Vec<(String, i64)>,
    webhooks: WebhookHealth,
    last_webhook: Option<String>,
    keys: Option<KeyStoreStatus>,
    keys_fetched: Option<String>,
    width: u32,
    height: u32,
    baseline: u32,
}

pub async fn show(admin: SignedIn, state: web::Data<AppState>) -> Result<HttpResponse, AdminError> {
    let now = state.clock.now_ms();
    // 24 whole hours ending with the current one.
    let start = (now.div_euclid(HOUR_MS) - (BUCKETS as i64 - 1)) * HOUR_MS;
    let (counts, totals, failures, by_reason, webhooks) = state
        .db
        .run(move |conn| {
            Ok((
                dashboard::counts(conn)?,
                dashboard::audit_per_bucket(conn, start, HOUR_MS, false)?,
                dashboard::audit_per_bucket(conn, start, HOUR_MS, true)?,
                dashboard::failures_by_reason(conn, start)?,
                dashboard::webhook_health(conn, start)?,
            ))
        })
        .await?;
    let keys = state.verifier.key_store().map(|k| k.status());
    Ok(page(&DashboardPage {
        chrome: admin.chrome("dashboard"),
        counts,
        chart: chart::build(BUCKETS, start, HOUR_MS, &totals, &failures),
        failures_by_reason: by_reason,
        last_webhook: webhooks.last_received_at.map(format_ms),
        webhooks,
        keys_fetched: keys.as_ref().and_then(|k| k.fetched_at_ms).map(format_ms),
        keys,
        width: chart::WIDTH,
        height: chart::HEIGHT,
        baseline: chart::BASELINE,
    }))
}
