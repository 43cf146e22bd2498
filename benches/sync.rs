//! `auth-core sync` end to end: users, organizations and memberships from the local stand-in of
//! Clerk's listings (tests/common/clerk_listing.rs, real HTTP on loopback, pages of 500) into SQLite
//! and into PostgreSQL, through the real engine. Prints rows/s and the process's resident memory
//! before and after each run (the stand-in's data set is built before; a run that held whole listings
//! would grow it by their size).
//!
//! Run: `cargo bench --bench sync`. BENCH_USERS (default 100000), BENCH_ORGS (5000),
//! BENCH_MEMBERS (members per organization, 40), BENCH_BACKENDS (`sqlite,postgres`). PostgreSQL from
//! TEST_DATABASE_URL or postgres://postgres@127.0.0.1:5432/postgres (a scratch database per run).
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "../tests/common/mod.rs"]
mod common;

use std::time::{Duration, Instant};

use auth_core::clerk::listing::{ListingClient, ListingOptions, MAX_PAGE_SIZE};
use auth_core::clerk::retry::RetryPolicy;
use auth_core::clock::Clock;
use auth_core::db::Db;
use auth_core::secret::Secret;
use auth_core::sync::backfill::{Backfill, Plan, Quiet};
use auth_core::sync::progress::Kind;
use common::clerk::SECRET_KEY;
use common::clerk_listing::{Dataset, ListingStandIn};
use common::TestDb;

fn env_or(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Resident and peak resident memory of this process, in MiB (Linux).
fn memory_mib() -> (u64, u64) {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|kb| kb.parse::<u64>().ok())
            .map_or(0, |kb| kb / 1024)
    };
    (field("VmRSS:"), field("VmHWM:"))
}

fn main() {
    let users = env_or("BENCH_USERS", 100_000);
    let orgs = env_or("BENCH_ORGS", 5_000);
    let members = env_or("BENCH_MEMBERS", 40);
    let backends = std::env::var("BENCH_BACKENDS").unwrap_or_else(|_| "sqlite,postgres".into());
    actix_web::rt::System::new().block_on(async move {
        let started = Instant::now();
        let data = Dataset::generate(users, orgs, members);
        let rows = data.users.len() + data.organizations.len() + data.memberships.len();
        println!(
            "data set: {} users, {} organizations, {} memberships ({rows} rows) generated in {:.1} s",
            data.users.len(),
            data.organizations.len(),
            data.memberships.len(),
            started.elapsed().as_secs_f64()
        );
        let clerk = ListingStandIn::start(data);
        let api = ListingClient::new(
            &url::Url::parse(&clerk.base).unwrap(),
            Secret::new(SECRET_KEY),
            ListingOptions {
                page_size: MAX_PAGE_SIZE,
                max_per_second: None,
                timeout: Duration::from_secs(60),
                retry: RetryPolicy::default(),
            },
        );
        for backend in backends.split(',') {
            let db = match backend.trim() {
                "sqlite" => TestDb::sqlite(),
                "postgres" => TestDb::postgres("bench_sync").expect("PostgreSQL"),
                other => panic!("unknown backend {other}"),
            };
            let handle = Db::open(&db.settings(&[]).database).unwrap();
            handle.migrate().unwrap();
            let (rss_before, _) = memory_mib();
            let plan = Plan {
                kinds: Kind::ALL.to_vec(),
                dry_run: false,
                resume: false,
                started_by: "bench".to_owned(),
                max_tombstone_percent: 10,
            };
            let clock = Clock::system();
            let started = Instant::now();
            let report = Backfill {
                db: &handle,
                api: &api,
                clock: &clock,
                observer: &Quiet,
            }
            .run(&plan)
            .await
            .unwrap();
            let seconds = started.elapsed().as_secs_f64();
            let (rss_after, peak) = memory_mib();
            assert!(report.failures().is_empty(), "{:?}", report.failures());
            for kind in &report.progress.kinds {
                assert_eq!(kind.counts.created, kind.listed, "{kind:?}");
            }
            println!(
                "{backend}: {rows} rows in {seconds:.1} s = {:.0} rows/s; resident memory {rss_before} MiB before, {rss_after} MiB after (peak {peak} MiB)",
                rows as f64 / seconds
            );
        }
    });
}
