//! A database connection lost under a statement (a failover, a restart, `pg_terminate_backend`) is
//! "the database is unavailable": 503 with `Retry-After`, never 500; the dead connection leaves the
//! pool; the audit writer keeps its batch and retries. PostgreSQL only: SQLite has no connections
//! to lose.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use auth_core::db::schema::{audit_events, webhook_deliveries};
use auth_core::db::{Db, DbConnection, DbError};
use common::replay::{app_on, deliver_in_order, history, shuffled_with_duplicates, state, NOW_S};
use common::webhooks::deliver;
use common::{postgres_admin_url, TestApp, TestDb};
use diesel::prelude::*;
use diesel::sql_types::{Bool, Integer, Text};
use futures_util::StreamExt;

#[derive(QueryableByName)]
struct Pid {
    #[diesel(sql_type = Integer)]
    pid: i32,
}

#[derive(QueryableByName)]
struct Terminated {
    #[diesel(sql_type = Bool)]
    terminated: bool,
}

/// The name of a test's PostgreSQL database (the path of its URL).
fn database_name(db: &TestDb) -> String {
    let url = url::Url::parse(&db.url).unwrap();
    url.path().trim_start_matches('/').to_owned()
}

/// A connection killed by the server while the pool has it out: the next statement on it fails
/// as `Unavailable` (503 for a handler, a retry for the audit writer), and the pool, one
/// connection large, replaces it, so the next piece of work succeeds.
#[actix_web::test]
async fn a_connection_lost_under_a_statement_is_unavailable_and_replaced() {
    let Some(db) = TestDb::postgres("connection lost") else {
        return;
    };
    let settings = db.settings(&[("AUTH_CORE__DATABASE__MAX_CONNECTIONS", "1")]);
    let handle = Db::open(&settings.database).unwrap();
    handle.migrate().unwrap();
    let mut conn = handle.get().unwrap();
    let DbConnection::Postgresql(pg) = &mut *conn else {
        panic!("not PostgreSQL");
    };
    let Pid { pid } = diesel::sql_query("SELECT pg_backend_pid() AS pid")
        .get_result(pg)
        .unwrap();
    let mut admin = PgConnection::establish(&postgres_admin_url()).unwrap();
    // Waits (up to 10 s) until the backend has exited, so the failure below is certain.
    let Terminated { terminated } =
        diesel::sql_query("SELECT pg_terminate_backend($1, 10000) AS terminated")
            .bind::<Integer, _>(pid)
            .get_result(&mut admin)
            .unwrap();
    assert!(terminated);
    let error = DbError::from(diesel::sql_query("SELECT 1").execute(pg).unwrap_err());
    assert!(error.is_unavailable(), "{error:?}");
    drop(conn);
    let one: i32 = handle
        .run(|c| Ok(diesel::select(1.into_sql::<Integer>()).get_result(c)?))
        .await
        .unwrap();
    assert_eq!(one, 1);
    assert_eq!(handle.pool_state().0, 1);
}

/// Terminates every connection to one database every 150 ms from its own thread (as a failover
/// or restart does), until stopped; bounded in rounds and time.
struct Killer {
    stop: Arc<AtomicBool>,
    thread: std::thread::JoinHandle<(u32, u32)>,
}

impl Killer {
    const EVERY: Duration = Duration::from_millis(150);
    const MAX_ROUNDS: u32 = 1_000;
    const MAX_TIME: Duration = Duration::from_secs(120);

    fn start(database: String) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let stopped = stop.clone();
        let thread = std::thread::spawn(move || {
            let mut admin = PgConnection::establish(&postgres_admin_url()).unwrap();
            let started = Instant::now();
            let (mut rounds, mut killed) = (0, 0);
            while !stopped.load(Ordering::Relaxed)
                && rounds < Self::MAX_ROUNDS
                && started.elapsed() < Self::MAX_TIME
            {
                let terminated: Vec<Terminated> = diesel::sql_query(
                    "SELECT pg_terminate_backend(pid) AS terminated FROM pg_stat_activity \
                     WHERE datname = $1 AND pid <> pg_backend_pid()",
                )
                .bind::<Text, _>(&database)
                .load(&mut admin)
                .unwrap();
                killed +=
                    u32::try_from(terminated.iter().filter(|t| t.terminated).count()).unwrap();
                rounds += 1;
                // Pacing, not synchronisation: how often a failover strikes.
                std::thread::sleep(Self::EVERY);
            }
            (rounds, killed)
        });
        Self { stop, thread }
    }

    /// Stops the thread; returns (rounds, connections killed).
    fn stop(self) -> (u32, u32) {
        self.stop.store(true, Ordering::Relaxed);
        self.thread.join().unwrap()
    }
}

/// Delivers until the app accepts, as Svix does (bounded): every answer is 200, or 503 with
/// `Retry-After` and `database-unavailable`; returns how many 503s it took.
async fn deliver_until_accepted(app: &TestApp, svix_id: &str, event: &serde_json::Value) -> u32 {
    let mut unavailable = 0;
    for _ in 0..100 {
        let res = deliver(app, svix_id, NOW_S, event).await;
        match res.status {
            200 => return unavailable,
            503 => {
                assert_eq!(res.header("retry-after"), Some("1"));
                assert_eq!(res.json()["error"]["code"], "database-unavailable");
                unavailable += 1;
            }
            status => panic!("{svix_id}: {status} {}", String::from_utf8_lossy(&res.body)),
        }
    }
    panic!("{svix_id}: still 503 after 100 attempts");
}

const EVENTS: usize = 800;

/// A shuffled replay with duplicates (eight deliveries at a time) and audited requests between
/// them, while every connection of the database is killed every 150 ms: no delivery is answered
/// 500, the end state is the in-order replay's, every delivery is stored once and processed, and
/// every audited request is in the trail exactly once.
#[actix_web::test]
async fn replay_while_every_connection_is_killed() {
    let Some(in_order_db) = TestDb::postgres("killed replay, in order") else {
        return;
    };
    let killed_db = TestDb::postgres("killed replay").unwrap();
    let events = history(EVENTS);
    let in_order = app_on(&in_order_db).await;
    deliver_in_order(&in_order, &events).await;
    let expected = state(&in_order).await;

    let app = app_on(&killed_db).await;
    let order = shuffled_with_duplicates(events.len(), 7);
    let started = Instant::now();
    let killer = Killer::start(database_name(&killed_db));
    let outcomes: Vec<(u32, Option<String>)> = futures_util::stream::iter(order.iter().enumerate())
        .map(|(k, &i)| {
            let (app, event) = (&app, &events[i]);
            async move {
                // Every other delivery is accompanied by an audited request.
                let request_id = if k.is_multiple_of(2) {
                    let res = app.get("/api/auth/me").await;
                    assert_eq!(res.status, 401);
                    Some(res.header("x-request-id").unwrap().to_owned())
                } else {
                    None
                };
                let unavailable = deliver_until_accepted(app, &format!("msg_{i:05}"), event).await;
                (unavailable, request_id)
            }
        })
        .buffer_unordered(8)
        .collect()
        .await;
    let (rounds, killed) = killer.stop();
    let elapsed = started.elapsed();
    tokio::time::timeout(Duration::from_secs(60), app.state.audit.flush())
        .await
        .expect("the audit writer caught up");
    let unavailable: u32 = outcomes.iter().map(|o| o.0).sum();
    let mut sent_ids: Vec<String> = outcomes.into_iter().filter_map(|o| o.1).collect();
    // Written to stderr directly: the numbers are worth seeing in a passing run too.
    use std::io::Write;
    let _ = writeln!(
        std::io::stderr(),
        "killed replay: {} deliveries, {} audited requests in {elapsed:?}; {killed} connections \
         killed in {rounds} rounds; {unavailable} answers 503",
        order.len(),
        sent_ids.len()
    );
    assert!(killed >= 10, "only {killed} connections killed");

    assert_eq!(state(&app).await, expected);
    let (deliveries, mut written_ids): (Vec<String>, Vec<String>) = app
        .state
        .db
        .run(|c| {
            let deliveries = webhook_deliveries::table
                .order(webhook_deliveries::svix_id)
                .select(webhook_deliveries::status)
                .load(c)?;
            let ids = audit_events::table
                .select(audit_events::request_id.assume_not_null())
                .load(c)?;
            Ok((deliveries, ids))
        })
        .await
        .unwrap();
    assert_eq!(deliveries.len(), events.len());
    assert!(
        deliveries.iter().all(|s| s == "applied" || s == "ignored"),
        "{deliveries:?}"
    );
    sent_ids.sort();
    written_ids.sort();
    assert_eq!(written_ids, sent_ids);
    // Written as recorded: a lost connection is retried, not taken for a refused row.
    assert_eq!(
        (app.state.audit.reduced(), app.state.audit.rejected()),
        (0, 0)
    );
}
