//! `auth-core sync` against a stand-in of Clerk's Backend API listings, on both databases: a fresh
//! backfill (the real binary) leaves the database equal to the data set; a second run changes
//! nothing; a webhook applied during the run with a newer `updated_at` survives; a user deleted in
//! Clerk is tombstoned; a run stopped by failures resumes to the same state; a failed or moving
//! listing tombstones nothing; a dry run counts and writes nothing; a second run is refused while
//! one is under way; on a terminal the binary draws a progress bar per kind.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::BTreeMap;
use std::time::Duration;

use auth_core::admin::view::format_ms;
use auth_core::clerk::listing::{ListingClient, ListingOptions};
use auth_core::clerk::retry::RetryPolicy;
use auth_core::clock::{Clock, ManualClock};
use auth_core::db::schema::{organization_memberships, organizations, sync_runs, users};
use auth_core::db::Db;
use auth_core::secret::Secret;
use auth_core::sync::backfill::{Backfill, Plan, Quiet, Report};
use auth_core::sync::progress::{Counts, Kind};
use auth_core::sync::webhooks::{self, Delivery, SyncOptions};
use auth_core::sync_runner::periodic::{self, Round};
use common::admin::{create_admin, csrf_of, text as page_text, Browser, PASSWORD};
use common::clerk::{ClerkStandIn, SECRET_KEY};
use common::clerk_listing::{Dataset, Fault, ListingStandIn};
use common::{binary, TestDb};
use diesel::prelude::*;
use serde_json::{json, Value};

/// Small pages, so a few hundred rows make many of them.
const PAGE: u32 = 40;

/// Retries without real waits (a 429's Retry-After is still honoured).
fn fast_retries(max_attempts: u32) -> RetryPolicy {
    RetryPolicy {
        max_attempts,
        first_backoff: Duration::from_millis(10),
        max_backoff: Duration::from_millis(20),
        max_retry_after: Duration::from_secs(5),
    }
}

fn client(clerk: &ListingStandIn, retry: RetryPolicy) -> ListingClient {
    ListingClient::new(
        &url::Url::parse(&clerk.base).unwrap(),
        Secret::new(SECRET_KEY),
        ListingOptions {
            page_size: PAGE,
            max_per_second: None,
            timeout: Duration::from_secs(10),
            retry,
        },
    )
}

fn open(db: &TestDb) -> Db {
    let handle = Db::open(&db.settings(&[]).database).unwrap();
    handle.migrate().unwrap();
    handle
}

fn plan(dry_run: bool, resume: bool) -> Plan {
    Plan {
        kinds: Kind::ALL.to_vec(),
        dry_run,
        resume,
        started_by: "test".to_owned(),
        max_tombstone_percent: 10,
    }
}

async fn sync(db: &Db, api: &ListingClient, clock: &Clock, plan: &Plan) -> Report {
    Backfill {
        db,
        api,
        clock,
        observer: &Quiet,
    }
    .run(plan)
    .await
    .unwrap()
}

const T0: i64 = 1_800_000_000_000;

fn manual_clock() -> (Clock, ManualClock) {
    Clock::manual(T0)
}

type Text = Option<String>;
/// (email, first name, last name, username, created, updated, deleted)
type UserFields = (Text, Text, Text, Text, i64, i64, bool);
type OrganizationRow = (String, String, Text, i64, Option<i64>);

/// The mirrored rows, as comparable tuples.
#[derive(Debug, PartialEq, Eq)]
struct Mirror {
    /// id → its fields
    users: BTreeMap<String, UserFields>,
    /// id → (name, slug, updated, deleted)
    organizations: BTreeMap<String, (String, Option<String>, i64, bool)>,
    /// id → (organization, user, role, updated, deleted)
    memberships: BTreeMap<String, (String, String, String, i64, bool)>,
}

fn mirror(db: &Db) -> Mirror {
    let mut conn = db.get().unwrap();
    type UserRow = (String, Text, Text, Text, Text, i64, i64, Option<i64>);
    let rows: Vec<UserRow> = users::table
        .select((
            users::id,
            users::email,
            users::first_name,
            users::last_name,
            users::username,
            users::clerk_created_at,
            users::clerk_updated_at,
            users::deleted_at,
        ))
        .load(&mut *conn)
        .unwrap();
    let users = rows
        .into_iter()
        .map(|(id, e, f, l, u, c, up, d)| (id, (e, f, l, u, c, up, d.is_some())))
        .collect();
    let rows: Vec<OrganizationRow> = organizations::table
        .select((
            organizations::id,
            organizations::name,
            organizations::slug,
            organizations::clerk_updated_at,
            organizations::deleted_at,
        ))
        .load(&mut *conn)
        .unwrap();
    let organizations = rows
        .into_iter()
        .map(|(id, n, s, u, d)| (id, (n, s, u, d.is_some())))
        .collect();
    let rows: Vec<(String, String, String, String, i64, Option<i64>)> =
        organization_memberships::table
            .select((
                organization_memberships::id,
                organization_memberships::organization_id,
                organization_memberships::user_id,
                organization_memberships::role,
                organization_memberships::clerk_updated_at,
                organization_memberships::deleted_at,
            ))
            .load(&mut *conn)
            .unwrap();
    let memberships = rows
        .into_iter()
        .map(|(id, o, u, r, up, d)| (id, (o, u, r, up, d.is_some())))
        .collect();
    Mirror {
        users,
        organizations,
        memberships,
    }
}

fn text(v: &Value) -> Option<String> {
    v.as_str().map(str::to_owned)
}

/// Each row of a listing by its id.
fn by_id<T>(rows: &[Value], fields: impl Fn(&Value) -> T) -> BTreeMap<String, T> {
    rows.iter()
        .map(|row| (text(&row["id"]).unwrap(), fields(row)))
        .collect()
}

fn ms(v: &Value) -> i64 {
    v.as_i64().unwrap()
}

/// What the database must hold after syncing `data` (every row live).
fn expected(data: &Dataset) -> Mirror {
    Mirror {
        users: by_id(&data.users, |u| {
            let email = text(&u["email_addresses"][0]["email_address"]);
            let names = (text(&u["first_name"]), text(&u["last_name"]));
            let (created, updated) = (ms(&u["created_at"]), ms(&u["updated_at"]));
            (
                email,
                names.0,
                names.1,
                text(&u["username"]),
                created,
                updated,
                false,
            )
        }),
        organizations: by_id(&data.organizations, |o| {
            let name = text(&o["name"]).unwrap();
            (name, text(&o["slug"]), ms(&o["updated_at"]), false)
        }),
        memberships: by_id(&data.memberships, |m| {
            let organization = text(&m["organization"]["id"]).unwrap();
            let user = text(&m["public_user_data"]["user_id"]).unwrap();
            let role = text(&m["role"]).unwrap();
            (organization, user, role, ms(&m["updated_at"]), false)
        }),
    }
}

/// The stand-in serving [`dataset`], the database after a first full sync, and the clock to move.
struct Synced {
    clerk: ListingStandIn,
    handle: Db,
    clock: Clock,
    time: ManualClock,
    api: ListingClient,
}

async fn synced_once(db: &TestDb) -> Synced {
    let clerk = ListingStandIn::start(dataset());
    let handle = open(db);
    let (clock, time) = manual_clock();
    let api = client(&clerk, fast_retries(3));
    sync(&handle, &api, &clock, &plan(false, false)).await;
    Synced {
        clerk,
        handle,
        clock,
        time,
        api,
    }
}

fn counts(report: &Report, kind: Kind) -> Counts {
    report
        .progress
        .kinds
        .iter()
        .find(|k| k.kind == kind)
        .unwrap()
        .counts
}

fn created(n: u64) -> Counts {
    Counts {
        created: n,
        ..Counts::default()
    }
}

fn dataset() -> Dataset {
    // 130 users, 12 organizations with 9 members each: 4 user pages, 1 organization page, 3
    // membership pages of 40.
    Dataset::generate(130, 12, 9)
}

/// `auth-core sync --page-size 40 --max-rps 1000` against `clerk`, on `db`.
async fn sync_by_binary(db: &TestDb, clerk: &ListingStandIn) -> std::process::Output {
    let dir = db.dir.path().to_owned();
    let data_dir = dir.join("data").display().to_string();
    let env = [
        ("DATABASE_URL", db.url.as_str()),
        ("AUTH_CORE__DATABASE__DATA_DIR", data_dir.as_str()),
        ("CLERK_SECRET_KEY", SECRET_KEY),
        ("AUTH_CORE__CLERK__API_URL", clerk.base.as_str()),
    ];
    let env: Vec<(String, String)> = env
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    actix_web::rt::task::spawn_blocking(move || {
        let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        binary::run(
            &dir,
            &env,
            &["sync", "--page-size", "40", "--max-rps", "1000"],
        )
    })
    .await
    .unwrap()
}

async fn fresh_backfill_by_the_binary_equals_the_data_set(db: TestDb) {
    let clerk = ListingStandIn::start(dataset());
    // Request 1 is /users/count; the second users page is refused once with a 429 (Retry-After: 1)
    // and the third fails once with a 500: both are retried, nothing lost or doubled.
    clerk.fault_at(3, Fault::TooMany { retry_after_s: 1 });
    clerk.fault_at(5, Fault::ServerError);
    let output = sync_by_binary(&db, &clerk).await;
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "stdout: {stdout}\nstderr: {stderr}"
    );
    assert_eq!(mirror(&open(&db)), expected(&clerk.data()));
    let lines: Vec<Vec<&str>> = stdout
        .lines()
        .map(|l| l.split_whitespace().collect())
        .collect();
    assert!(
        lines.contains(&vec![
            "users",
            "130",
            "0",
            "0",
            "0",
            "130/130",
            "reconciled"
        ]),
        "{stdout}"
    );
    assert!(
        lines.contains(&vec![
            "organizations",
            "12",
            "0",
            "0",
            "0",
            "12/12",
            "reconciled"
        ]),
        "{stdout}"
    );
    assert!(
        lines.contains(&vec![
            "memberships",
            "108",
            "0",
            "0",
            "0",
            "108/108",
            "reconciled"
        ]),
        "{stdout}"
    );
    // Not a terminal: plain progress lines, no bar.
    assert!(
        stderr.contains("sync users: 130/130 read, created 130"),
        "{stderr}"
    );
    let log = clerk.log();
    assert_eq!(log[2].status, 429);
    assert!(
        log[3].at.duration_since(log[2].at) >= Duration::from_secs(1),
        "Retry-After honoured"
    );
    assert_eq!(
        log[3].query, log[2].query,
        "the refused page is asked for again"
    );
    assert_eq!(log[4].status, 500);
    assert_eq!(log[5].query, log[4].query);
    // The secret key never reaches the output.
    assert!(!stdout.contains(SECRET_KEY) && !stderr.contains(SECRET_KEY));
}

async fn a_second_run_changes_nothing(db: TestDb) {
    let clerk = ListingStandIn::start(dataset());
    let handle = open(&db);
    let api = client(&clerk, fast_retries(3));
    let (clock, time) = manual_clock();
    let first = sync(&handle, &api, &clock, &plan(false, false)).await;
    assert_eq!(counts(&first, Kind::Users), created(130));
    assert_eq!(counts(&first, Kind::Organizations), created(12));
    assert_eq!(counts(&first, Kind::Memberships), created(108));
    let after_first = mirror(&handle);
    assert_eq!(after_first, expected(&clerk.data()));
    time.advance_ms(3_600_000);
    let second = sync(&handle, &api, &clock, &plan(false, false)).await;
    for (kind, n) in [
        (Kind::Users, 130),
        (Kind::Organizations, 12),
        (Kind::Memberships, 108),
    ] {
        assert_eq!(
            counts(&second, kind),
            Counts {
                unchanged: n,
                ..Counts::default()
            },
            "{kind:?}"
        );
    }
    assert_eq!(mirror(&handle), after_first);
}

/// A `user.updated` delivery for `user`, newer than the listing's copy.
fn user_updated(user: &Value, updated_at: i64, first_name: &str) -> Vec<u8> {
    let mut data = user.clone();
    data["updated_at"] = updated_at.into();
    data["first_name"] = first_name.into();
    serde_json::to_vec(
        &json!({"type": "user.updated", "object": "event", "data": data,
        "timestamp": updated_at, "instance_id": "ins_test"}),
    )
    .unwrap()
}

async fn a_webhook_applied_mid_run_with_a_newer_updated_at_survives(db: TestDb) {
    let data = dataset();
    // The 60th user is on the second users page (request 3, after /users/count and page 1).
    let user = data.users[59].clone();
    let id = user["id"].as_str().unwrap().to_owned();
    let newer = user["updated_at"].as_i64().unwrap() + 10_000;
    let clerk = ListingStandIn::start(data);
    let handle = open(&db);
    let for_hook = handle.clone();
    let body = user_updated(&user, newer, "FromWebhook");
    clerk.hook_at(3, move |_| {
        let mut conn = for_hook.get().unwrap();
        let delivery = Delivery {
            svix_id: "msg_midrun",
            svix_timestamp: newer / 1000,
            body: &body,
        };
        let options = SyncOptions {
            revoked_session_retention: Duration::from_secs(3600),
        };
        let outcome = webhooks::receive(&mut conn, &delivery, newer, options).unwrap();
        assert_eq!(outcome.status(), "applied");
    });
    let api = client(&clerk, fast_retries(3));
    let (clock, _) = manual_clock();
    let report = sync(&handle, &api, &clock, &plan(false, false)).await;
    assert_eq!(
        counts(&report, Kind::Users),
        Counts {
            created: 129,
            unchanged: 1,
            ..Counts::default()
        }
    );
    let stored = &mirror(&handle).users[&id];
    assert_eq!(stored.1.as_deref(), Some("FromWebhook"));
    assert_eq!(stored.5, newer);
    assert!(!stored.6);
}

async fn a_user_deleted_in_clerk_is_tombstoned(db: TestDb) {
    let Synced {
        clerk,
        handle,
        clock,
        time,
        api,
    } = synced_once(&db).await;
    let gone = clerk.data().users[17]["id"].as_str().unwrap().to_owned();
    let memberships_of_gone: Vec<String> = clerk
        .data()
        .memberships
        .iter()
        .filter(|m| m["public_user_data"]["user_id"] == gone.as_str())
        .map(|m| m["id"].as_str().unwrap().to_owned())
        .collect();
    assert!(!memberships_of_gone.is_empty());
    clerk.change(|d| d.remove_user(&gone));
    time.advance_ms(3_600_000);
    let report = sync(&handle, &api, &clock, &plan(false, false)).await;
    assert_eq!(
        counts(&report, Kind::Users),
        Counts {
            unchanged: 129,
            tombstoned: 1,
            ..Counts::default()
        }
    );
    let now = mirror(&handle);
    assert!(now.users[&gone].6, "the user is a tombstone");
    for m in &memberships_of_gone {
        assert!(now.memberships[m].4, "{m} is a tombstone with its user");
    }
    let live_users = now.users.values().filter(|u| !u.6).count();
    assert_eq!(live_users, 129);
}

async fn an_interrupted_run_resumes_to_the_same_state(db: TestDb) {
    let clerk = ListingStandIn::start(dataset());
    let handle = open(&db);
    let api = client(&clerk, fast_retries(2));
    let (clock, _) = manual_clock();
    // Request 1 counts users, 2 and 3 are users pages 1 and 2; from 4 on Clerk fails.
    clerk.fail_from(Some(4));
    let stopped = sync(&handle, &api, &clock, &plan(false, false)).await;
    let failures: Vec<Kind> = stopped.failures().into_iter().map(|(k, _)| k).collect();
    assert_eq!(failures, Kind::ALL.to_vec());
    assert_eq!(counts(&stopped, Kind::Users), created(80));
    assert_eq!(mirror(&handle).users.len(), 80);
    let mut conn = handle.get().unwrap();
    let status: String = sync_runs::table
        .select(sync_runs::status)
        .first(&mut *conn)
        .unwrap();
    assert_eq!(status, "failed");
    drop(conn);
    let before_resume = clerk.requests();
    clerk.fail_from(None);
    let resumed = sync(&handle, &api, &clock, &plan(false, true)).await;
    assert!(resumed.failures().is_empty());
    assert_eq!(resumed.run_id, stopped.run_id, "the same run continues");
    assert_eq!(counts(&resumed, Kind::Users), created(130));
    assert_eq!(counts(&resumed, Kind::Memberships), created(108));
    assert_eq!(mirror(&handle), expected(&clerk.data()));
    // The resumed walk starts after the last user applied: pages 1 and 2 are not read again.
    let first_resumed = &clerk.log()[before_resume];
    assert_eq!(first_resumed.path, "/v1/users");
    let last_applied = clerk.data().users[79]["id"].as_str().unwrap().to_owned();
    assert!(
        first_resumed
            .query
            .contains(&format!("starting_after={last_applied}")),
        "{}",
        first_resumed.query
    );
}

async fn a_failed_listing_tombstones_nothing(db: TestDb) {
    let clerk = ListingStandIn::start(dataset());
    let handle = open(&db);
    let (clock, time) = manual_clock();
    sync(
        &handle,
        &client(&clerk, fast_retries(3)),
        &clock,
        &plan(false, false),
    )
    .await;
    let before = mirror(&handle);
    // Five users and an organization deleted in Clerk; then the users listing fails on its second
    // page (request numbers count from the stand-in's start).
    let data = clerk.data();
    clerk.change(|d| {
        for u in &data.users[100..105] {
            d.remove_user(u["id"].as_str().unwrap());
        }
        d.remove_organization(data.organizations[0]["id"].as_str().unwrap());
    });
    let done = clerk.requests();
    clerk.fault_at(done + 3, Fault::ServerError);
    clerk.fault_at(done + 4, Fault::ServerError);
    time.advance_ms(3_600_000);
    let report = sync(
        &handle,
        &client(&clerk, fast_retries(2)),
        &clock,
        &plan(false, false),
    )
    .await;
    let users = &report.progress.kinds[0];
    assert!(
        users.error.as_deref().unwrap().contains("HTTP 500"),
        "{users:?}"
    );
    assert_eq!(counts(&report, Kind::Users).tombstoned, 0);
    let after = mirror(&handle);
    assert_eq!(after.users, before.users, "no user tombstoned");
    // The organizations listing was complete: the deleted organization is a tombstone.
    let org = data.organizations[0]["id"].as_str().unwrap();
    assert!(after.organizations[org].3);
    assert_eq!(counts(&report, Kind::Organizations).tombstoned, 1);
}

async fn a_listing_that_moves_while_read_tombstones_nothing(db: TestDb) {
    let Synced {
        clerk,
        handle,
        clock,
        time,
        api,
    } = synced_once(&db).await;
    let data = clerk.data();
    let deleted_before = data.memberships[100]["id"].as_str().unwrap().to_owned();
    let moved = data.memberships[3]["id"].as_str().unwrap().to_owned();
    clerk.change(|d| d.memberships.retain(|m| m["id"] != deleted_before.as_str()));
    time.advance_ms(3_600_000);
    // Requests this run (numbered from the stand-in's start): users count, 4 users pages, count again, 1 organizations page, then
    // memberships: while its first page is answered, a membership already read is deleted and
    // another created, so total_count stays the same while every later row moves up one place.
    let done = clerk.requests();
    clerk.hook_at(done + 8, move |d| {
        d.memberships.retain(|m| m["id"] != moved.as_str());
        d.add_membership(1, 2);
    });
    let report = sync(&handle, &api, &clock, &plan(false, false)).await;
    let memberships = &report.progress.kinds[2];
    assert!(memberships.error.is_none(), "{memberships:?}");
    assert_eq!(
        memberships.not_reconciled.as_deref(),
        Some("the listing moved while it was read"),
        "{memberships:?}"
    );
    assert_eq!(memberships.counts.tombstoned, 0);
    assert!(
        !mirror(&handle).memberships[&deleted_before].4,
        "not tombstoned by a moving listing"
    );
}

async fn a_dry_run_counts_and_writes_nothing(db: TestDb) {
    let Synced {
        clerk,
        handle,
        clock,
        time,
        api,
    } = synced_once(&db).await;
    let before = mirror(&handle);
    let data = clerk.data();
    clerk.change(|d| {
        for u in &data.users[0..3] {
            let user = d.user_mut(u["id"].as_str().unwrap());
            user["updated_at"] = (user["updated_at"].as_i64().unwrap() + 1).into();
            user["first_name"] = "Changed".into();
        }
        d.users
            .retain(|u| u["id"] != data.users[50]["id"] && u["id"] != data.users[51]["id"]);
        let more = Dataset::generate(134, 0, 0);
        d.users.extend(more.users[130..].iter().cloned());
    });
    time.advance_ms(3_600_000);
    let runs_before: i64 = sync_runs::table
        .count()
        .get_result(&mut *handle.get().unwrap())
        .unwrap();
    let report = sync(&handle, &api, &clock, &plan(true, false)).await;
    assert_eq!(report.run_id, None);
    assert_eq!(
        counts(&report, Kind::Users),
        Counts {
            created: 4,
            updated: 3,
            unchanged: 125,
            tombstoned: 2,
        }
    );
    assert_eq!(mirror(&handle), before, "a dry run writes nothing");
    let runs_after: i64 = sync_runs::table
        .count()
        .get_result(&mut *handle.get().unwrap())
        .unwrap();
    assert_eq!(runs_after, runs_before);
}

/// On a terminal (a pseudo-terminal from util-linux `script`) the binary draws a bar per kind with
/// count/total, rate and ETA instead of plain lines.
#[actix_web::test]
async fn on_a_terminal_progress_is_a_bar_per_kind() {
    let db = TestDb::sqlite();
    let clerk = ListingStandIn::start(dataset());
    let dir = db.dir.path().to_owned();
    let data_dir = dir.join("data").display().to_string();
    let (url, base) = (db.url.clone(), clerk.base.clone());
    let output = actix_web::rt::task::spawn_blocking(move || {
        std::process::Command::new("script")
            .args([
                "-qec",
                &format!("{} sync --page-size 40 --max-rps 1000", binary::BIN),
                "/dev/null",
            ])
            .current_dir(&dir)
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("TERM", "xterm-256color")
            .env("SECRET_KEY", binary::TEST_SECRET_KEY)
            .env("DATABASE_URL", url)
            .env("AUTH_CORE__DATABASE__DATA_DIR", data_dir)
            .env("CLERK_SECRET_KEY", SECRET_KEY)
            .env("AUTH_CORE__CLERK__API_URL", base)
            .stdin(std::process::Stdio::null())
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    let screen = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{screen}");
    for bar in [
        "users [==============================] 130/130",
        "organizations [==============================] 12/12",
        "memberships [==============================] 108/108",
    ] {
        assert!(screen.contains(bar), "no {bar:?} in {screen:?}");
    }
    assert!(screen.contains(" rows/s eta "), "{screen:?}");
    assert!(
        !screen.contains("sync users: "),
        "no plain lines on a terminal: {screen:?}"
    );
}

async fn a_mass_deletion_is_not_reconciled_unless_allowed(db: TestDb) {
    let Synced {
        clerk,
        handle,
        clock,
        time,
        api,
    } = synced_once(&db).await;
    // 20 of 130 users gone (15 %): more like the wrong instance's key than deletions.
    let data = clerk.data();
    clerk.change(|d| {
        for u in &data.users[..20] {
            d.remove_user(u["id"].as_str().unwrap());
        }
    });
    time.advance_ms(3_600_000);
    let dry = sync(&handle, &api, &clock, &plan(true, false)).await;
    let refused = Some(
        "would tombstone 20 of 130 rows, more than 10 %; check the secret key's instance, then allow it with --max-tombstone-percent",
    );
    assert_eq!(dry.progress.kinds[0].not_reconciled.as_deref(), refused);
    assert_eq!(counts(&dry, Kind::Users).tombstoned, 0);
    let held = sync(&handle, &api, &clock, &plan(false, false)).await;
    assert_eq!(held.progress.kinds[0].not_reconciled.as_deref(), refused);
    assert_eq!(counts(&held, Kind::Users).tombstoned, 0);
    assert!(held.failures().is_empty());
    assert_eq!(mirror(&handle).users.values().filter(|u| u.6).count(), 0);
    time.advance_ms(3_600_000);
    let allowed = Plan {
        max_tombstone_percent: 20,
        ..plan(false, false)
    };
    let done = sync(&handle, &api, &clock, &allowed).await;
    assert_eq!(counts(&done, Kind::Users).tombstoned, 20);
    assert_eq!(mirror(&handle).users.values().filter(|u| u.6).count(), 20);
}

/// While one run is under way (held by the stand-in in its first users page), a second run is
/// refused before it reads or writes anything, with exit code 75 and the first run named; once the
/// first has ended, a run goes ahead. PostgreSQL refuses by its advisory lock, SQLite by the first
/// run's row.
async fn a_second_run_is_refused_while_one_is_under_way(db: TestDb) {
    let clerk = ListingStandIn::start(dataset());
    // Request 1 counts users; request 2 is the first users page.
    let mut held = clerk.hold_at(2);
    let handle = open(&db);
    let api = client(&clerk, fast_retries(3));
    // The system clock, as the second run's: on SQLite the lease is a recent `updated_at`.
    let clock = Clock::system();
    let real_run = plan(false, false);
    let first = sync(&handle, &api, &clock, &real_run);
    let second = async {
        held.arrived().await;
        let refused = sync_by_binary(&db, &clerk).await;
        let requests_while_held = clerk.requests();
        held.release();
        (refused, requests_while_held)
    };
    let (first, (refused, requests_while_held)) = futures_util::future::join(first, second).await;
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert_eq!(refused.status.code(), Some(75), "stderr: {stderr}");
    let run: (i64, i64, String) = sync_runs::table
        .find(first.run_id.unwrap())
        .select((sync_runs::id, sync_runs::started_at, sync_runs::started_by))
        .first(&mut *handle.get().unwrap())
        .unwrap();
    let message = format!(
        "auth-core: another sync is running on this database (run {}, started {} by test); try again when it has ended",
        run.0,
        format_ms(run.1)
    );
    assert!(stderr.lines().any(|line| line == message), "{stderr}");
    assert_eq!(
        requests_while_held, 2,
        "the refused run asked Clerk for nothing"
    );
    let runs: i64 = sync_runs::table
        .count()
        .get_result(&mut *handle.get().unwrap())
        .unwrap();
    assert_eq!(runs, 1, "the refused run recorded no run");
    assert!(first.failures().is_empty());
    assert_eq!(counts(&first, Kind::Users), created(130));
    assert_eq!(mirror(&handle), expected(&clerk.data()));
    let after = sync_by_binary(&db, &clerk).await;
    assert!(
        after.status.success(),
        "stderr: {}",
        String::from_utf8_lossy(&after.stderr)
    );
    let stdout = String::from_utf8_lossy(&after.stdout);
    assert!(stdout.contains("sync run 2\n"), "{stdout}");
}

/// The settings of a server whose runs read the stand-in. Its key set comes from a stand-in of its
/// own (started here, kept by the caller): a server fetches it at start, which the listing
/// stand-in would count as a request.
fn server_settings(
    db: &TestDb,
    clerk: &ListingStandIn,
) -> (auth_core::settings::Settings, ClerkStandIn) {
    let keys = ClerkStandIn::start(&["a"]);
    let settings = db.settings(&[
        ("CLERK_SECRET_KEY", SECRET_KEY),
        ("CLERK_JWKS_URL", keys.jwks_url().as_str()),
        ("AUTH_CORE__CLERK__API_URL", clerk.base.as_str()),
        ("AUTH_CORE__SYNC__RECONCILE_INTERVAL", "6h"),
    ]);
    (settings, keys)
}

/// The run's row: (status, started_by, dry_run).
fn run_row(db: &Db, id: i64) -> (String, String, bool) {
    sync_runs::table
        .find(id)
        .select((sync_runs::status, sync_runs::started_by, sync_runs::dry_run))
        .first(&mut *db.get().unwrap())
        .unwrap()
}

/// Polls until run `id` is no longer running (a deadline, no fixed sleep).
async fn ended(db: &Db, id: i64) -> (String, String, bool) {
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    loop {
        let row = run_row(db, id);
        if row.0 != "running" {
            return row;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "run {id} still running"
        );
        actix_web::rt::time::sleep(Duration::from_millis(20)).await;
    }
}

fn metric_lines(body: &str, prefix: &str) -> Vec<String> {
    let mut lines: Vec<String> = body
        .lines()
        .filter(|l| l.starts_with(prefix))
        .map(str::to_owned)
        .collect();
    lines.sort();
    lines
}

/// One round of the periodic reconcile (called directly: no interval is waited for) applies the
/// data set, records a run started by `schedule`, and shows in the metrics; the next round
/// changes nothing.
async fn the_periodic_reconcile_records_a_run_and_counts_it(db: TestDb) {
    let clerk = ListingStandIn::start(dataset());
    let (settings, _keys) = server_settings(&db, &clerk);
    let app = common::TestApp::spawn(settings).await;
    let Round::Ran(report) = periodic::round(&app.state).await else {
        panic!("the round did not run");
    };
    assert!(report.failures().is_empty());
    assert_eq!(counts(&report, Kind::Users), created(130));
    assert_eq!(mirror(&app.state.db), expected(&clerk.data()));
    let id = report.run_id.unwrap();
    assert_eq!(
        run_row(&app.state.db, id),
        ("completed".to_owned(), "schedule".to_owned(), false)
    );
    let body = String::from_utf8(app.get("/metrics").await.body.to_vec()).unwrap();
    assert_eq!(
        metric_lines(&body, "auth_core_sync_runs_total{"),
        [r#"auth_core_sync_runs_total{trigger="schedule",outcome="completed"} 1"#]
    );
    assert_eq!(
        metric_lines(&body, "auth_core_sync_last_run_rows{kind=\"users\""),
        [
            r#"auth_core_sync_last_run_rows{kind="users",change="created"} 130"#,
            r#"auth_core_sync_last_run_rows{kind="users",change="tombstoned"} 0"#,
            r#"auth_core_sync_last_run_rows{kind="users",change="updated"} 0"#,
        ]
    );
    assert_eq!(
        metric_lines(&body, "auth_core_sync_last_run_success "),
        ["auth_core_sync_last_run_success 1"]
    );
    assert_eq!(
        metric_lines(&body, "auth_core_sync_last_run_start_timestamp_seconds ").len(),
        1
    );
    // A round that changed nothing leaves the caches alone; one that did drops what they hold.
    let user_id = clerk.data().users[0]["id"].as_str().unwrap().to_owned();
    let cached = app.state.users.profile(&user_id).await.unwrap();
    let Round::Ran(again) = periodic::round(&app.state).await else {
        panic!("the second round did not run");
    };
    assert_eq!(
        counts(&again, Kind::Users),
        Counts {
            unchanged: 130,
            ..Counts::default()
        }
    );
    let same = app.state.users.profile(&user_id).await.unwrap();
    assert!(
        std::sync::Arc::ptr_eq(&cached, &same),
        "an unchanged round kept the cache"
    );
    clerk.change(|d| {
        let user = d.user_mut(&user_id);
        user["first_name"] = json!("Renamed");
        user["updated_at"] = json!(user["updated_at"].as_i64().unwrap() + 1);
    });
    let Round::Ran(third) = periodic::round(&app.state).await else {
        panic!("the third round did not run");
    };
    assert_eq!(counts(&third, Kind::Users).updated, 1);
    let fresh = app.state.users.profile(&user_id).await.unwrap();
    assert_eq!(fresh.user.first_name.as_deref(), Some("Renamed"));
}

/// While one instance's round holds the lease (its first users page held by the stand-in), another
/// instance's round on the same database skips, asks Clerk for nothing, records no run and counts
/// the skip; the first round then ends as usual.
async fn a_second_instance_skips_its_round_while_the_lock_is_held(db: TestDb) {
    let clerk = ListingStandIn::start(dataset());
    // Request 1 counts users; request 2 is the first users page.
    let mut held = clerk.hold_at(2);
    let (settings, _keys) = server_settings(&db, &clerk);
    let first = common::TestApp::spawn(settings).await;
    let (settings, _other_keys) = server_settings(&db, &clerk);
    let second = common::TestApp::spawn(settings).await;
    let other = async {
        held.arrived().await;
        let round = periodic::round(&second.state).await;
        let requests = clerk.requests();
        held.release();
        (round, requests)
    };
    let (ran, (skipped, requests_while_held)) =
        futures_util::future::join(periodic::round(&first.state), other).await;
    assert!(matches!(skipped, Round::Skipped), "{skipped:?}");
    assert_eq!(
        requests_while_held, 2,
        "the skipped round asked Clerk for nothing"
    );
    let Round::Ran(report) = ran else {
        panic!("the first round did not run: {ran:?}");
    };
    assert!(report.failures().is_empty());
    assert_eq!(mirror(&first.state.db), expected(&clerk.data()));
    let runs: i64 = sync_runs::table
        .count()
        .get_result(&mut *first.state.db.get().unwrap())
        .unwrap();
    assert_eq!(runs, 1);
    let body = String::from_utf8(second.get("/metrics").await.body.to_vec()).unwrap();
    assert_eq!(
        metric_lines(&body, "auth_core_sync_skipped_total"),
        [r#"auth_core_sync_skipped_total{trigger="schedule"} 1"#]
    );
    assert!(metric_lines(&body, "auth_core_sync_runs_total{").is_empty());
}

/// A server stopping mid-run drops the run between two commits: the next round (once the dropped
/// run's lease is stale on SQLite; at once on PostgreSQL, whose lock closed with its connection)
/// ends with the database equal to the data set, and the console shows the dropped run as
/// interrupted.
async fn a_round_dropped_mid_run_leaves_the_next_one_whole(db: TestDb) {
    let clerk = ListingStandIn::start(dataset());
    // 1 counts users, 2 is their only page, 3 counts them again; 4 is the organizations' page.
    let mut held = clerk.hold_at(4);
    let (settings, _keys) = server_settings(&db, &clerk);
    let (app, time) = common::TestApp::spawn_at(settings, T0).await;
    {
        let round = periodic::round(&app.state);
        futures_util::pin_mut!(round);
        let arrived = held.arrived();
        futures_util::pin_mut!(arrived);
        match futures_util::future::select(round, arrived).await {
            futures_util::future::Either::Left((round, _)) => panic!("ended: {round:?}"),
            futures_util::future::Either::Right(_) => {}
        }
    }
    drop(held);
    assert_eq!(run_row(&app.state.db, 1).0, "running");
    assert_eq!(
        mirror(&app.state.db).users.len(),
        130,
        "the users' page was applied"
    );
    time.advance_ms(auth_core::sync::lease::LEASE_TTL_MS + 1);
    // PostgreSQL ends the closed connection's session (and its lock) a moment after it closed.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    let report = loop {
        match periodic::round(&app.state).await {
            Round::Ran(report) => break report,
            Round::Skipped if std::time::Instant::now() < deadline => {
                actix_web::rt::time::sleep(Duration::from_millis(20)).await
            }
            other => panic!("the next round did not run: {other:?}"),
        }
    };
    assert!(report.failures().is_empty());
    assert_eq!(report.run_id, Some(2));
    assert_eq!(mirror(&app.state.db), expected(&clerk.data()));
    let mut browser = Browser::new(&app);
    create_admin(&app.state, "admin@example.com");
    browser.sign_in("admin@example.com", PASSWORD).await;
    let page = page_text(&browser.get("/admin/sync").await);
    assert!(
        page.contains(r#"<tr data-run="1">"#)
            && page.contains(r#"<span class="badge bad">interrupted</span>"#),
        "{page}"
    );
}

/// The console's Sync page: lists runs; its start button refuses a post without the CSRF token
/// (403, no run) and a browser not signed in (sent to sign in, no run); with the token it starts a
/// run in the background that ends with the database equal to the data set, audited, shown with
/// the administrator's email; a dry run is recorded and writes nothing; while a run holds the lease
/// a start is refused with 409 and why.
async fn the_console_lists_runs_and_starts_them(db: TestDb) {
    let clerk = ListingStandIn::start(dataset());
    let (settings, _keys) = server_settings(&db, &clerk);
    let app = common::TestApp::spawn(settings).await;
    let handle = app.state.db.clone();
    create_admin(&app.state, "admin@example.com");
    let mut stranger = Browser::new(&app);
    let login = stranger.get("/admin/sync").await;
    assert_eq!(login.status, 303);
    assert_eq!(
        login.header("location"),
        Some("/admin/login?next=%2Fadmin%2Fsync")
    );
    let mut browser = Browser::new(&app);
    browser.sign_in("admin@example.com", PASSWORD).await;
    let empty = browser.get("/admin/sync").await;
    assert_eq!(empty.status, 200);
    assert!(page_text(&empty).contains("No sync has run yet."));
    assert!(!page_text(&empty).contains("http-equiv=\"refresh\""));

    let no_token = browser.post("/admin/sync/start", &[("mode", "real")]).await;
    assert_eq!(no_token.status, 403);
    let stranger_token = csrf_of(&stranger.get("/admin/login").await);
    let not_signed_in = stranger
        .post(
            "/admin/sync/start",
            &[("csrf", &stranger_token), ("mode", "real")],
        )
        .await;
    assert_eq!(not_signed_in.status, 303);
    assert_eq!(not_signed_in.header("location"), Some("/admin/login"));
    let bad_mode = browser
        .submit(
            "/admin/sync",
            "/admin/sync/start",
            &[("mode", "everything")],
        )
        .await;
    assert_eq!(bad_mode.status, 400);
    let runs: i64 = sync_runs::table
        .count()
        .get_result(&mut *handle.get().unwrap())
        .unwrap();
    assert_eq!(runs, 0, "nothing refused started a run");

    let dry = browser
        .submit("/admin/sync", "/admin/sync/start", &[("mode", "dry")])
        .await;
    assert_eq!(dry.status, 303, "{}", page_text(&dry));
    assert_eq!(dry.header("location"), Some("/admin/sync?started=1"));
    assert_eq!(
        ended(&handle, 1).await,
        ("completed".to_owned(), "admin@example.com".to_owned(), true)
    );
    assert!(mirror(&handle).users.is_empty(), "a dry run writes nothing");

    let started = browser
        .submit("/admin/sync", "/admin/sync/start", &[("mode", "real")])
        .await;
    assert_eq!(started.status, 303, "{}", page_text(&started));
    assert_eq!(started.header("location"), Some("/admin/sync?started=2"));
    assert_eq!(
        ended(&handle, 2).await,
        (
            "completed".to_owned(),
            "admin@example.com".to_owned(),
            false
        )
    );
    assert_eq!(mirror(&handle), expected(&clerk.data()));
    let listed = page_text(&browser.get("/admin/sync?started=2").await);
    assert!(listed.contains("Sync run 2 started."), "{listed}");
    assert!(listed.contains(r#"<tr data-run="2">"#), "{listed}");
    assert!(
        listed.contains(r#"<div class="run-kind" data-kind="users">users: 130 / 0 / 0 / 0</div>"#),
        "{listed}"
    );
    assert!(
        listed.contains(r#"<tr data-run="1">"#) && listed.contains("dry run</span>"),
        "{listed}"
    );
    assert!(listed.contains("<td>admin@example.com</td>"), "{listed}");

    // Held in its first users page (requests so far, then a count, then the page).
    let mut held = clerk.hold_at(clerk.requests() + 2);
    let third = browser
        .submit("/admin/sync", "/admin/sync/start", &[("mode", "real")])
        .await;
    assert_eq!(third.status, 303);
    held.arrived().await;
    let live = page_text(&browser.get("/admin/sync").await);
    assert!(
        live.contains(r#"<meta http-equiv="refresh" content="3">"#),
        "{live}"
    );
    assert!(live.contains("Run 3 under way"), "{live}");
    let refused = browser
        .submit("/admin/sync", "/admin/sync/start", &[("mode", "real")])
        .await;
    assert_eq!(refused.status, 409);
    assert!(
        page_text(&refused).contains("Not started: another sync run is under way on this database (run 3, started by admin@example.com); start one when it has ended."),
        "{}",
        page_text(&refused)
    );
    held.release();
    assert_eq!(ended(&handle, 3).await.0, "completed");
    // Let the audit writer catch up, then look for the console actions.
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        let details: Vec<Option<String>> = auth_core::db::schema::audit_events::table
            .select(auth_core::db::schema::audit_events::detail)
            .load(&mut *handle.get().unwrap())
            .unwrap();
        let has = |text: &str| {
            details
                .iter()
                .any(|d| d.as_deref().is_some_and(|d| d.contains(text)))
        };
        if has("started dry run 1")
            && has("started sync run 2")
            && has("sync run refused: another sync run is under way")
        {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "{details:?}");
        actix_web::rt::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The Sync page pages by run id, 50 runs a page, newest first; a run whose progress cannot be read
/// still lists, and a running run with no sign of life for the lease's lifetime shows as
/// interrupted.
async fn the_sync_page_pages_through_runs(db: TestDb) {
    let app = common::TestApp::spawn(db.settings(&[])).await;
    {
        let mut conn = app.state.db.get().unwrap();
        for n in 0..51 {
            auth_core::db::sync_runs::start(
                &mut conn,
                "cli",
                "users",
                "not json",
                1_700_000_000_000 + n,
                None,
            )
            .unwrap();
        }
    }
    create_admin(&app.state, "admin@example.com");
    let mut browser = Browser::new(&app);
    browser.sign_in("admin@example.com", PASSWORD).await;
    let first = page_text(&browser.get("/admin/sync").await);
    assert_eq!(first.matches("<tr data-run=").count(), 50);
    assert!(first.contains(r#"<tr data-run="51">"#) && !first.contains(r#"<tr data-run="1">"#));
    assert!(
        first.contains(r#"<a href="/admin/sync?before=2" rel="next">Older</a>"#),
        "{first}"
    );
    assert_eq!(first.matches(">interrupted</span>").count(), 50);
    let second = page_text(&browser.get("/admin/sync?before=2").await);
    assert_eq!(second.matches("<tr data-run=").count(), 1);
    assert!(second.contains(r#"<tr data-run="1">"#));
    assert!(!second.contains("rel=\"next\""));
    // A cursor no link made starts at the first page.
    let edited = page_text(&browser.get("/admin/sync?before=x").await);
    assert_eq!(edited.matches("<tr data-run=").count(), 50);
}

/// Without CLERK_SECRET_KEY the page says runs cannot start here, and a start is refused (409).
async fn the_console_refuses_a_run_without_a_secret_key(db: TestDb) {
    let app = common::TestApp::spawn(db.settings(&[])).await;
    create_admin(&app.state, "admin@example.com");
    let mut browser = Browser::new(&app);
    browser.sign_in("admin@example.com", PASSWORD).await;
    let page = page_text(&browser.get("/admin/sync").await);
    assert!(
        page.contains(
            "Runs cannot be started here: <code>CLERK_SECRET_KEY</code> is not configured."
        ),
        "{page}"
    );
    let refused = browser
        .submit("/admin/sync", "/admin/sync/start", &[("mode", "dry")])
        .await;
    assert_eq!(refused.status, 409);
    assert!(page_text(&refused).contains("Not started: sync needs CLERK_SECRET_KEY (clerk.secret_key): it reads Clerk&#39;s Backend API, and none is configured."), "{}", page_text(&refused));
    assert!(matches!(periodic::round(&app.state).await, Round::Off));
}

db_test!(
    fresh_backfill_by_the_binary_equals_the_data_set,
    a_second_run_changes_nothing,
    a_webhook_applied_mid_run_with_a_newer_updated_at_survives,
    a_user_deleted_in_clerk_is_tombstoned,
    an_interrupted_run_resumes_to_the_same_state,
    a_failed_listing_tombstones_nothing,
    a_listing_that_moves_while_read_tombstones_nothing,
    a_dry_run_counts_and_writes_nothing,
    a_mass_deletion_is_not_reconciled_unless_allowed,
    a_second_run_is_refused_while_one_is_under_way,
    the_periodic_reconcile_records_a_run_and_counts_it,
    a_second_instance_skips_its_round_while_the_lock_is_held,
    a_round_dropped_mid_run_leaves_the_next_one_whole,
    the_console_lists_runs_and_starts_them,
    the_console_refuses_a_run_without_a_secret_key,
    the_sync_page_pages_through_runs,
);
