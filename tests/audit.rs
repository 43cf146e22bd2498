//! The audit trail over real HTTP: one row per authenticated request and per failure class, with
//! every field; nothing lost through a database outage while the queue has room; a flood waits for
//! room and loses no row, past the wait it is refused with 503 (counted); with `when_full = drop`
//! overflow is counted and requests never blocked; everything written on SIGTERM; retention.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::type_complexity)]

mod common;

use std::future::Future;
use std::pin::Pin;
use std::task::Poll;
use std::time::Duration;

use actix_web::dev::ServiceResponse;

use auth_core::clock::Clock;
use auth_core::db::audit::{NewAuditEvent, PrincipalType};
use auth_core::db::schema::audit_events as ae;
use common::clerk::{session_claims, ClerkStandIn, Minter, ISSUER};
use common::{client, Response, TestApp, TestDb};
use diesel::prelude::*;
use serde_json::json;

const NOW_S: i64 = 1_800_000_000;

async fn app_on(db: &TestDb, clerk: &ClerkStandIn, extra: &[(&str, &str)]) -> TestApp {
    let jwks = clerk.jwks_url();
    let mut env = vec![
        ("CLERK_JWKS_URL", jwks.as_str()),
        ("AUTH_CORE__AUTH__ISSUER", ISSUER),
    ];
    env.extend_from_slice(extra);
    let (clock, _) = Clock::manual(NOW_S * 1000);
    TestApp::spawn_with_clock(db.settings(&env), clock).await
}

async fn get(app: &TestApp, token: Option<&str>, path: &str) -> Response {
    let mut req = client()
        .get(app.url(path))
        .insert_header(("User-Agent", "audit-test/1.0"));
    if let Some(token) = token {
        req = req.insert_header(("Authorization", format!("Bearer {token}")));
    }
    Response::from(req.send().await.unwrap()).await
}

type Row = (
    String,
    Option<String>,
    Option<String>,
    Option<String>,
    String,
    String,
    Option<String>,
    i32,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
    i64,
);

async fn rows(app: &TestApp) -> Vec<Row> {
    app.state
        .db
        .run(|c| {
            Ok(ae::table
                .order(ae::id)
                .select((
                    ae::principal_type,
                    ae::user_id,
                    ae::organization_id,
                    ae::session_id,
                    ae::method,
                    ae::path,
                    ae::route,
                    ae::status,
                    ae::client_ip,
                    ae::user_agent,
                    ae::reason,
                    ae::request_id,
                    ae::occurred_at,
                ))
                .load(c)?)
        })
        .await
        .unwrap()
}

/// A success and each failure class, each one row with every field.
async fn one_row_per_request_with_every_field(db: TestDb) {
    let clerk = ClerkStandIn::start(&["a"]);
    let app = app_on(&db, &clerk, &[]).await;
    let user = Minter::a().mint(&session_claims(NOW_S, json!({})));
    let no_org = Minter::a().mint(&session_claims(
        NOW_S,
        json!({"o": null, "sid": "sess_noorg"}),
    ));
    let expired = Minter::a().mint(&session_claims(NOW_S, json!({"exp": NOW_S - 60})));
    let requests: Vec<(Option<&str>, &str, u16, Option<&str>)> = vec![
        (Some(&user), "/api/auth/me?debug=secret", 200, None),
        (None, "/api/auth/me", 401, Some("session-token-missing")),
        (Some(&expired), "/api/auth/me", 401, Some("token-expired")),
        (
            Some(&no_org),
            "/api/orgs/current",
            403,
            Some("organization-required"),
        ),
        (Some(&user), "/api/orgs/org_foreign", 404, Some("not-found")),
    ];
    let mut ids = Vec::new();
    for (token, path, status, _) in &requests {
        let res = get(&app, *token, path).await;
        assert_eq!(res.status, *status, "{path}");
        ids.push(res.header("x-request-id").unwrap().to_owned());
    }
    // Not audited: health and liveness.
    get(&app, None, "/api/auth/health").await;
    get(&app, None, "/healthz").await;
    app.state.audit.flush().await;
    let rows = rows(&app).await;
    assert_eq!(
        rows.len(),
        requests.len(),
        "{:?}",
        rows.iter().map(|r| (&r.5, r.7)).collect::<Vec<_>>()
    );
    for (row, ((_, _, status, reason), id)) in rows.iter().zip(requests.iter().zip(&ids)) {
        assert_eq!(row.7, i32::from(*status));
        assert_eq!(row.10.as_deref(), *reason);
        assert_eq!(row.11.as_deref(), Some(id.as_str()));
        assert_eq!(row.8.as_deref(), Some("127.0.0.1"));
        assert_eq!(row.9.as_deref(), Some("audit-test/1.0"));
        assert_eq!(row.4, "GET");
        assert_eq!(row.12, NOW_S * 1000);
    }
    let ok = &rows[0];
    assert_eq!(
        (
            ok.0.as_str(),
            ok.1.as_deref(),
            ok.2.as_deref(),
            ok.3.as_deref()
        ),
        (
            "user",
            Some("user_2test"),
            Some("org_2test"),
            Some("sess_2test")
        )
    );
    assert_eq!(ok.5, "/api/auth/me", "no query string");
    assert_eq!(ok.6.as_deref(), Some("/api/auth/me"), "matched route");
    assert_eq!(rows[1].0, "anonymous");
    assert_eq!(rows[3].0, "user");
    assert_eq!(rows[3].3.as_deref(), Some("sess_noorg"));
}

/// The database goes away while requests keep coming (served from memory): once it is back, every
/// event is written; the requests themselves never waited for it.
async fn nothing_is_lost_through_a_database_outage(db: TestDb) {
    let clerk = ClerkStandIn::start(&["a"]);
    let app = app_on(
        &db,
        &clerk,
        &[
            ("AUTH_CORE__DATABASE__MAX_CONNECTIONS", "1"),
            ("AUTH_CORE__DATABASE__ACQUIRE_TIMEOUT_MS", "200"),
        ],
    )
    .await;
    let token = Minter::a().mint(&session_claims(NOW_S, json!({})));
    assert_eq!(
        get(&app, Some(&token), "/api/auth/me").await.status,
        200,
        "warms the user cache"
    );
    app.state.audit.flush().await;
    let pool = app.state.db.clone();
    let held = actix_web::rt::task::spawn_blocking(move || pool.get().unwrap())
        .await
        .unwrap();
    for _ in 0..25 {
        let res = tokio::time::timeout(
            Duration::from_secs(5),
            get(&app, Some(&token), "/api/auth/me"),
        )
        .await;
        assert_eq!(res.expect("not blocked by the audit writer").status, 200);
    }
    drop(held);
    app.state.audit.flush().await;
    assert_eq!(rows(&app).await.len(), 26);
    assert_eq!(app.state.audit.dropped(), 0);
}

/// A full queue drops (and counts) events instead of blocking requests; every event is either
/// written or counted.
async fn overflow_is_counted_and_requests_never_block(db: TestDb) {
    let clerk = ClerkStandIn::start(&["a"]);
    let app = app_on(
        &db,
        &clerk,
        &[
            ("AUTH_CORE__AUDIT__QUEUE_CAPACITY", "3"),
            ("AUTH_CORE__AUDIT__BATCH_SIZE", "2"),
            ("AUTH_CORE__AUDIT__LINGER_MS", "1"),
            ("AUTH_CORE__AUDIT__WHEN_FULL", "drop"),
            ("AUTH_CORE__DATABASE__MAX_CONNECTIONS", "1"),
            ("AUTH_CORE__DATABASE__ACQUIRE_TIMEOUT_MS", "200"),
        ],
    )
    .await;
    let token = Minter::a().mint(&session_claims(NOW_S, json!({})));
    assert_eq!(get(&app, Some(&token), "/api/auth/me").await.status, 200);
    app.state.audit.flush().await;
    let pool = app.state.db.clone();
    let held = actix_web::rt::task::spawn_blocking(move || pool.get().unwrap())
        .await
        .unwrap();
    for _ in 0..20 {
        let res = tokio::time::timeout(
            Duration::from_secs(5),
            get(&app, Some(&token), "/api/auth/me"),
        )
        .await;
        assert_eq!(
            res.expect("a full queue never blocks a request").status,
            200
        );
    }
    // In memory: the queue (3) and the batch the stalled writer holds (2); the rest is dropped.
    let dropped = app.state.audit.dropped();
    assert!(dropped >= 20 - 3 - 2, "dropped {dropped}");
    drop(held);
    app.state.audit.flush().await;
    let written = u64::try_from(rows(&app).await.len()).unwrap();
    assert_eq!(
        written + dropped,
        21,
        "written {written} + dropped {dropped}"
    );
}

/// 503 `audit-queue-full`, as overload answers it: `Retry-After: 1`, the error body's code.
fn assert_refused_for_overload(res: &Response) {
    assert_eq!(res.status, 503, "{}", String::from_utf8_lossy(&res.body));
    assert_eq!(res.header("retry-after"), Some("1"));
    assert_eq!(res.json()["error"]["code"], "audit-queue-full");
}

fn refused_metric(text: &str) -> u64 {
    let line = text
        .lines()
        .find(|l| l.starts_with("auth_core_audit_refused_requests_total "))
        .unwrap_or_else(|| panic!("no refused counter in {text}"));
    line.rsplit(' ').next().unwrap().parse().unwrap()
}

/// `audit.when_full = wait` (the default): a flood of concurrent requests far above the writer's
/// rate (a queue of one event, one event per statement, so nearly every request finds it full) waits
/// for room instead of dropping events: every 2xx answer has exactly its row, nothing is dropped,
/// and anything else is the overload's 503 (counted).
async fn a_flood_loses_no_audit_row(db: TestDb) {
    let clerk = ClerkStandIn::start(&["a"]);
    let app = app_on(
        &db,
        &clerk,
        &[
            ("AUTH_CORE__AUDIT__QUEUE_CAPACITY", "1"),
            ("AUTH_CORE__AUDIT__BATCH_SIZE", "1"),
            ("AUTH_CORE__AUDIT__LINGER_MS", "1"),
            ("AUTH_CORE__AUDIT__FULL_WAIT_MS", "2000"),
        ],
    )
    .await;
    let token = Minter::a().mint(&session_claims(NOW_S, json!({})));
    let clients = 32;
    let each = 20;
    let tasks = (0..clients).map(|_| {
        let (app, token) = (&app, &token);
        async move {
            let mut answers = Vec::new();
            for _ in 0..each {
                answers.push(get(app, Some(token), "/api/auth/me").await);
            }
            answers
        }
    });
    let answers: Vec<Response> = futures_util::future::join_all(tasks)
        .await
        .into_iter()
        .flatten()
        .collect();
    assert_eq!(answers.len(), clients * each);
    let ok = answers.iter().filter(|r| r.status == 200).count();
    for refused in answers.iter().filter(|r| r.status != 200) {
        assert_refused_for_overload(refused);
    }
    assert!(ok > 0);
    flush(&app).await;
    assert_eq!(rows_count(&app).await, i64::try_from(ok).unwrap());
    assert_eq!(app.state.audit.dropped(), 0);
    let refused = u64::try_from(answers.len() - ok).unwrap();
    assert_eq!(app.state.audit.refused(), refused);
    let text = String::from_utf8(app.get("/metrics").await.body).unwrap();
    assert_eq!(refused_metric(&text), refused);
}

/// With the writer stalled (its only database connection held), the queue (one event) fills and
/// stays full: a request waits `audit.full_wait_ms` and is then refused with 503 unhandled (no row,
/// counted); once the writer moves again, requests are answered and recorded again. No row is
/// missing for any 200.
async fn past_the_wait_a_request_is_refused_unhandled(db: TestDb) {
    let clerk = ClerkStandIn::start(&["a"]);
    let app = app_on(
        &db,
        &clerk,
        &[
            ("AUTH_CORE__AUDIT__QUEUE_CAPACITY", "1"),
            ("AUTH_CORE__AUDIT__BATCH_SIZE", "1"),
            ("AUTH_CORE__AUDIT__LINGER_MS", "1"),
            ("AUTH_CORE__AUDIT__FULL_WAIT_MS", "100"),
            ("AUTH_CORE__DATABASE__MAX_CONNECTIONS", "1"),
            ("AUTH_CORE__DATABASE__ACQUIRE_TIMEOUT_MS", "200"),
        ],
    )
    .await;
    let text = String::from_utf8(app.get("/metrics").await.body).unwrap();
    assert_eq!(refused_metric(&text), 0);
    let token = Minter::a().mint(&session_claims(NOW_S, json!({})));
    assert_eq!(get(&app, Some(&token), "/api/auth/me").await.status, 200);
    flush(&app).await;
    let pool = app.state.db.clone();
    let held = actix_web::rt::task::spawn_blocking(move || pool.get().unwrap())
        .await
        .unwrap();
    // At most two are answered: one event in the queue and one in the stalled writer's hands.
    let mut ok = 1;
    let refused = loop {
        let res = get(&app, Some(&token), "/api/auth/me").await;
        if res.status == 200 {
            ok += 1;
            assert!(ok <= 3, "{ok} answered with the writer stalled");
        } else {
            break res;
        }
    };
    assert_refused_for_overload(&refused);
    assert_eq!(app.state.audit.refused(), 1);
    drop(held);
    flush(&app).await;
    assert_eq!(get(&app, Some(&token), "/api/auth/me").await.status, 200);
    flush(&app).await;
    let rows = rows(&app).await;
    assert_eq!(rows.len(), ok + 1);
    assert!(rows.iter().all(|r| r.7 == 200 && r.5 == "/api/auth/me"));
    assert_eq!(app.state.audit.dropped(), 0);
    let text = String::from_utf8(app.get("/metrics").await.body).unwrap();
    assert_eq!(refused_metric(&text), 1);
}

/// Retention deletes old events in batches and keeps recent ones.
async fn retention_deletes_old_events_only(db: TestDb) {
    let clerk = ClerkStandIn::start(&["a"]);
    // The background purge is off here: the test runs it itself.
    let app = app_on(&db, &clerk, &[("AUTH_CORE__AUDIT__RETENTION_DAYS", "0")]).await;
    let now = NOW_S * 1000;
    let day = 86_400_000;
    let events: Vec<NewAuditEvent> = (0..2_500)
        .map(|i| NewAuditEvent {
            occurred_at: if i < 2_400 {
                now - 100 * day + i
            } else {
                now - day
            },
            request_id: None,
            principal_type: PrincipalType::Anonymous,
            user_id: None,
            organization_id: None,
            session_id: None,
            method: "GET".into(),
            path: "/api/auth/me".into(),
            route: None,
            status: 401,
            duration_us: 1,
            client_ip: None,
            user_agent: None,
            reason: Some("session-token-missing".into()),
            detail: None,
        })
        .collect();
    app.state
        .db
        .run(move |c| {
            for chunk in events.chunks(500) {
                auth_core::db::audit::insert_batch(c, chunk)?;
            }
            Ok(())
        })
        .await
        .unwrap();
    let db_handle = app.state.db.clone();
    let deleted = actix_web::rt::task::spawn_blocking(move || {
        auth_core::audit::retention::purge(&db_handle, now, Duration::from_secs(90 * 86_400))
    })
    .await
    .unwrap()
    .unwrap();
    assert_eq!(deleted, 2_400);
    assert_eq!(rows(&app).await.len(), 100);
}

/// Batches go through the databases' JSON functions: every value comes back exactly, in order.
async fn batches_round_trip_exactly_in_order(db: TestDb) {
    use auth_core::db::audit::{insert_batch, NewAuditEvent};
    let settings = db.settings(&[]);
    let handle = auth_core::db::Db::open(&settings.database).unwrap();
    handle.migrate().unwrap();
    let tricky = [
        "plain",
        "quote \" and backslash \\ and \\u0000-looking text",
        "ünïcödé ✓ 🚀",
        "line\nbreak\ttab",
        "NULL",
        "",
    ];
    let events: Vec<NewAuditEvent> = (0..1200)
        .map(|i| {
            let text = tricky[i % tricky.len()].to_owned();
            NewAuditEvent {
                occurred_at: i64::MAX - i as i64,
                request_id: (i % 2 == 0).then(|| text.clone()),
                principal_type: PrincipalType::User,
                user_id: Some(format!("user_{i}")),
                organization_id: None,
                session_id: Some(text.clone()),
                method: "GET".into(),
                path: format!("/api/{i}"),
                route: None,
                status: i32::try_from(i).unwrap(),
                duration_us: -1,
                client_ip: Some("::1".into()),
                user_agent: Some(text.clone()),
                reason: (i % 3 == 0).then(|| "token-expired".into()),
                detail: Some(text),
            }
        })
        .collect();
    let mut conn = handle.get().unwrap();
    assert_eq!(insert_batch(&mut conn, &events[..700]).unwrap(), 700);
    assert_eq!(insert_batch(&mut conn, &events[700..]).unwrap(), 500);
    assert_eq!(insert_batch(&mut conn, &[]).unwrap(), 0);
    let back: Vec<NewAuditEvent> = ae::table
        .order(ae::id.asc())
        .select((
            ae::occurred_at,
            ae::request_id,
            ae::principal_type,
            ae::user_id,
            ae::organization_id,
            ae::session_id,
            ae::method,
            ae::path,
            ae::route,
            ae::status,
            ae::duration_us,
            ae::client_ip,
            ae::user_agent,
            ae::reason,
            ae::detail,
        ))
        .load::<(
            i64,
            Option<String>,
            String,
            Option<String>,
            Option<String>,
            Option<String>,
            String,
            String,
            Option<String>,
            i32,
            i64,
            Option<String>,
            Option<String>,
            Option<String>,
            Option<String>,
        )>(&mut conn)
        .unwrap()
        .into_iter()
        .map(|r| NewAuditEvent {
            occurred_at: r.0,
            request_id: r.1,
            principal_type: PrincipalType::parse(&r.2).unwrap(),
            user_id: r.3,
            organization_id: r.4,
            session_id: r.5,
            method: r.6,
            path: r.7,
            route: r.8,
            status: r.9,
            duration_us: r.10,
            client_ip: r.11,
            user_agent: r.12,
            reason: r.13,
            detail: r.14,
        })
        .collect();
    assert_eq!(back, events);
    // On SQLite the connection that wrote the batches now has the writer's larger page cache.
    if let auth_core::db::DbConnection::Sqlite(sqlite) = &mut *conn {
        #[derive(diesel::QueryableByName)]
        struct CacheSize {
            #[diesel(sql_type = diesel::sql_types::BigInt)]
            cache_size: i64,
        }
        let cache: CacheSize = diesel::sql_query("SELECT cache_size FROM pragma_cache_size")
            .get_result(sqlite)
            .unwrap();
        assert_eq!(cache.cache_size, -65_536);
    }
}

/// `audit.enabled=false` (for measuring its cost) records nothing at all.
async fn the_trail_can_be_switched_off(db: TestDb) {
    let clerk = ClerkStandIn::start(&["a"]);
    let app = app_on(&db, &clerk, &[("AUTH_CORE__AUDIT__ENABLED", "false")]).await;
    assert_eq!(get(&app, None, "/api/auth/me").await.status, 401);
    app.state.audit.flush().await;
    assert!(rows(&app).await.is_empty());
    assert_eq!(app.state.audit.depth(), 0);
}

/// A path of `len` characters under `/api/`, from a deterministic generator of the characters a
/// path may hold unescaped.
fn long_path(len: usize) -> String {
    const CHARS: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~";
    let mut state: u64 = 0x2545_f491_4f6c_dd1d;
    let mut path = String::from("/api/");
    while path.len() < len {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        path.push(char::from(
            CHARS[usize::try_from(state % CHARS.len() as u64).unwrap()],
        ));
    }
    path
}

async fn get_as(app: &TestApp, user_agent: &str, path: &str) -> Response {
    let req = client()
        .get(app.url(path))
        .insert_header(("User-Agent", user_agent));
    Response::from(req.send().await.unwrap()).await
}

/// Waits for the writer, failing (instead of hanging) if it never catches up.
async fn flush(app: &TestApp) {
    tokio::time::timeout(Duration::from_secs(30), app.state.audit.flush())
        .await
        .expect("the audit writer caught up");
}

/// One anonymous request with a 6,000-character path and an 8,000-character user agent once made
/// PostgreSQL refuse every later batch (`index row size … exceeds btree maximum 2704`): now both
/// are stored cut to their bounds and marked, and the ordinary requests after it are written.
async fn a_huge_path_cannot_jam_the_trail(db: TestDb) {
    use auth_core::bounds::{self, CUT_MARK};
    let clerk = ClerkStandIn::start(&["a"]);
    let app = app_on(&db, &clerk, &[]).await;
    let path = long_path(6_000);
    let user_agent = "A".repeat(8_000);
    let res = get_as(&app, &user_agent, &path).await;
    assert_eq!(res.status, 404);
    assert_eq!(res.json()["error"]["code"], "not-found");
    for _ in 0..5 {
        assert_eq!(get(&app, None, "/api/auth/me").await.status, 401);
    }
    flush(&app).await;
    let rows = rows(&app).await;
    assert_eq!(rows.len(), 6);
    let (stored_path, stored_ua) = (&rows[0].5, rows[0].9.as_deref().unwrap());
    assert!(stored_path.len() <= bounds::PATH, "{}", stored_path.len());
    assert!(stored_path.len() >= bounds::PATH - CUT_MARK.len());
    assert!(stored_path.ends_with(CUT_MARK));
    assert!(path.starts_with(stored_path.trim_end_matches(CUT_MARK)));
    assert!(stored_ua.len() <= bounds::USER_AGENT && stored_ua.ends_with(CUT_MARK));
    for row in &rows[1..] {
        assert_eq!((row.5.as_str(), row.7), ("/api/auth/me", 401));
    }
    assert_eq!(
        (app.state.audit.reduced(), app.state.audit.rejected()),
        (0, 0)
    );
}

/// A trigger that makes the database refuse some rows, as a constraint an operator adds would
/// (independent of the capture bounds): a user agent of `refuse-me` or the path `/api/refuse-always`.
async fn refuse_marked_rows(app: &TestApp) {
    use diesel::connection::SimpleConnection;
    let sql = match app.state.db.backend() {
        auth_core::db::Backend::Sqlite => {
            "CREATE TRIGGER refuse_marked BEFORE INSERT ON audit_events \
             WHEN NEW.user_agent = 'refuse-me' OR NEW.path = '/api/refuse-always' \
             BEGIN SELECT RAISE(ABORT, 'refused by the test trigger'); END;"
        }
        auth_core::db::Backend::Postgres => {
            "CREATE FUNCTION refuse_marked() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN \
             IF NEW.user_agent = 'refuse-me' OR NEW.path = '/api/refuse-always' THEN \
             RAISE EXCEPTION 'refused by the test trigger'; END IF; RETURN NEW; END $$; \
             CREATE TRIGGER refuse_marked BEFORE INSERT ON audit_events \
             FOR EACH ROW EXECUTE FUNCTION refuse_marked();"
        }
    };
    app.state
        .db
        .run(move |c| c.batch_execute(sql).map_err(auth_core::db::DbError::Query))
        .await
        .unwrap();
}

/// A batch with rows the database refuses is split until they stand alone: the other rows are
/// written in order, a refused row is written reduced (user agent dropped, detail saying so) or, if
/// the database refuses that too, counted as rejected; the writer moves on and flush returns.
async fn refused_rows_are_isolated_and_the_rest_written(db: TestDb) {
    use auth_core::audit::limits::REDUCED_DETAIL;
    let clerk = ClerkStandIn::start(&["a"]);
    // One batch for all the requests: the writer only writes when flushed.
    let app = app_on(&db, &clerk, &[("AUTH_CORE__AUDIT__LINGER_MS", "60000")]).await;
    refuse_marked_rows(&app).await;
    let requests = [
        ("audit-test/1.0", "/api/auth/me", 401),
        ("refuse-me", "/api/auth/me", 401),
        ("audit-test/1.0", "/api/orgs/current", 401),
        ("audit-test/1.0", "/api/refuse-always", 404),
        ("audit-test/1.0", "/api/auth/me?last", 401),
    ];
    for (user_agent, path, status) in requests {
        assert_eq!(
            get_as(&app, user_agent, path).await.status,
            status,
            "{path}"
        );
    }
    flush(&app).await;
    let rows = rows(&app).await;
    let got: Vec<(&str, Option<&str>)> = rows
        .iter()
        .map(|r| (r.5.as_str(), r.9.as_deref()))
        .collect();
    assert_eq!(
        got,
        [
            ("/api/auth/me", Some("audit-test/1.0")),
            ("/api/auth/me", None),
            ("/api/orgs/current", Some("audit-test/1.0")),
            ("/api/auth/me", Some("audit-test/1.0")),
        ]
    );
    let reduced = &rows[1];
    assert_eq!(
        (reduced.7, reduced.10.as_deref()),
        (401, Some("session-token-missing"))
    );
    let details: Vec<Option<String>> = app
        .state
        .db
        .run(|c| Ok(ae::table.order(ae::id).select(ae::detail).load(c)?))
        .await
        .unwrap();
    assert_eq!(details, [None, Some(REDUCED_DETAIL.to_owned()), None, None]);
    assert_eq!(
        (app.state.audit.reduced(), app.state.audit.rejected()),
        (1, 1)
    );
    let metrics = app.get("/metrics").await;
    let text = String::from_utf8(metrics.body).unwrap();
    assert!(
        text.contains("\nauth_core_audit_rejected_events_total 1\n"),
        "{text}"
    );
    assert!(
        text.contains("\nauth_core_audit_reduced_events_total 1\n"),
        "{text}"
    );
    // The writer is not stuck: later events are written.
    assert_eq!(get(&app, None, "/api/auth/me").await.status, 401);
    flush(&app).await;
    assert_eq!(rows_count(&app).await, 5);
}

/// Events are written in slices of about 0.5 ms each (128 events before the writer has measured
/// one), several slices to a transaction. A refused row in one slice rolls back the transaction;
/// its slices are then written one by one and only the refused row is set apart: every other row is
/// written once, in order.
async fn a_refused_row_in_a_transaction_of_slices_costs_only_itself(db: TestDb) {
    let clerk = ClerkStandIn::start(&["a"]);
    // Everything in one transaction: the writer only writes when flushed.
    let app = app_on(&db, &clerk, &[("AUTH_CORE__AUDIT__LINGER_MS", "60000")]).await;
    refuse_marked_rows(&app).await;
    const REQUESTS: usize = 300;
    const REFUSED: usize = 200;
    for i in 0..REQUESTS {
        let user_agent = if i == REFUSED {
            "refuse-me"
        } else {
            "audit-test/1.0"
        };
        let path = format!("/api/ordered/{i}");
        assert_eq!(get_as(&app, user_agent, &path).await.status, 404);
    }
    flush(&app).await;
    let rows = rows(&app).await;
    let got: Vec<(String, Option<&str>)> =
        rows.iter().map(|r| (r.5.clone(), r.9.as_deref())).collect();
    let want: Vec<(String, Option<&str>)> = (0..REQUESTS)
        .map(|i| {
            let user_agent = (i != REFUSED).then_some("audit-test/1.0");
            (format!("/api/ordered/{i}"), user_agent)
        })
        .collect();
    assert_eq!(got, want);
    assert_eq!(
        (app.state.audit.reduced(), app.state.audit.rejected()),
        (1, 0)
    );
}

/// A queue that fills before the writer's next tick wakes the writer (half full, or an event that
/// finds no room): requests wait for a slice to be written, not for `linger` (a minute here), so none
/// is refused and every one has its row.
async fn a_filling_queue_wakes_the_writer_before_its_tick(db: TestDb) {
    let clerk = ClerkStandIn::start(&["a"]);
    let app = app_on(
        &db,
        &clerk,
        &[
            ("AUTH_CORE__AUDIT__LINGER_MS", "60000"),
            ("AUTH_CORE__AUDIT__QUEUE_CAPACITY", "8"),
            ("AUTH_CORE__AUDIT__FULL_WAIT_MS", "20000"),
        ],
    )
    .await;
    for _ in 0..40 {
        assert_eq!(get(&app, None, "/api/auth/me").await.status, 401);
    }
    flush(&app).await;
    assert_eq!(rows_count(&app).await, 40);
    assert_eq!(app.state.audit.refused(), 0);
}

async fn rows_count(app: &TestApp) -> i64 {
    app.state
        .db
        .run(|c| Ok(ae::table.count().get_result(c)?))
        .await
        .unwrap()
}

/// The real binary: a huge path, then ordinary requests, then SIGTERM: the shutdown's flush
/// completes (it never did on PostgreSQL while the writer retried a refused batch) and every event
/// is written.
async fn shutdown_completes_after_a_huge_path(db: TestDb) {
    let pem = std::fs::read_to_string(common::target_dir_file(
        "tests/fixtures/keys/rsa-2048-a.pub.pem",
    ))
    .unwrap();
    let mut server = common::binary::RunningServer::start(
        db.dir.path(),
        &[
            ("DATABASE_URL", db.url.as_str()),
            ("CLERK_JWT_KEY", pem.as_str()),
            ("AUTH_CORE__AUTH__ISSUER", ISSUER),
        ],
    );
    let path = long_path(6_000);
    let (status, _) = common::binary::http_get(&server.base, &path);
    assert_eq!(status, 404);
    for _ in 0..10 {
        assert_eq!(
            common::binary::http_get(&server.base, "/api/auth/me").0,
            401
        );
    }
    server.signal("TERM");
    assert!(server.wait_exit(Duration::from_secs(30)).success());
    let handle = auth_core::db::Db::open(&db.settings(&[]).database).unwrap();
    let paths: Vec<String> = ae::table
        .order(ae::id)
        .select(ae::path)
        .load(&mut handle.get().unwrap())
        .unwrap();
    assert_eq!(paths.len(), 11);
    assert!(paths[0].len() <= auth_core::bounds::PATH);
    assert!(paths[1..].iter().all(|p| p == "/api/auth/me"));
}

/// A console sign-in with the longest email the form keeps (254 characters, here of four bytes
/// each): the event's detail, which quotes it, is stored cut to its bound and marked.
async fn console_details_are_bounded(db: TestDb) {
    use auth_core::bounds::{self, CUT_MARK};
    let clerk = ClerkStandIn::start(&["a"]);
    let app = app_on(&db, &clerk, &[]).await;
    let mut browser = common::admin::Browser::new(&app);
    let email = format!("{}@example.com", "\u{1d51e}".repeat(300));
    let res = browser.sign_in(&email, "not the password").await;
    assert_eq!(res.status, 401);
    flush(&app).await;
    let details: Vec<Option<String>> = app
        .state
        .db
        .run(|c| {
            Ok(ae::table
                .filter(ae::reason.eq("admin-login-failed"))
                .select(ae::detail)
                .load(c)?)
        })
        .await
        .unwrap();
    let [Some(detail)] = &details[..] else {
        panic!("{details:?}");
    };
    assert!(detail.len() <= bounds::DETAIL, "{}", detail.len());
    assert!(detail.len() >= bounds::DETAIL - CUT_MARK.len() - 3);
    assert!(detail.ends_with(CUT_MARK) && detail.contains("\u{1d51e}"));
}

/// One poll of a request's future, as the server gives it before the client goes away.
async fn poll_once<F: Future>(mut future: Pin<&mut F>) -> Poll<F::Output> {
    std::future::poll_fn(|cx| Poll::Ready(future.as_mut().poll(cx))).await
}

/// The status a request is answered with (an error from the middleware stack is answered with its
/// rendered response, as the server does).
fn status_of<B>(result: Result<ServiceResponse<B>, actix_web::Error>) -> u16 {
    match result {
        Ok(res) => res.status().as_u16(),
        Err(error) => error.error_response().status().as_u16(),
    }
}

/// A request whose future is dropped before it is answered (the client went away) gives its audit
/// slot back, whether it was being handled or still waiting for room: with a queue of one event and
/// no writer, the slot is held while the first is handled (another request waits and gets 503), and
/// once both are dropped a request finds room (401, not 503 `audit-queue-full`).
async fn a_dropped_request_gives_its_slot_back(db: TestDb) {
    use actix_web::dev::Service;
    use actix_web::test::{self, TestRequest};
    use actix_web::{web, HttpResponse};
    let clerk = ClerkStandIn::start(&["a"]);
    let jwks = clerk.jwks_url();
    let settings = db.settings(&[
        ("CLERK_JWKS_URL", jwks.as_str()),
        ("AUTH_CORE__AUTH__ISSUER", ISSUER),
        ("AUTH_CORE__AUDIT__QUEUE_CAPACITY", "1"),
        ("AUTH_CORE__AUDIT__FULL_WAIT_MS", "100"),
    ]);
    let prepared = actix_web::rt::task::spawn_blocking(move || {
        auth_core::AuthCore::from_settings(settings)
            .public_routes(|cfg| {
                cfg.route(
                    "/api/never-answers",
                    web::get().to(std::future::pending::<HttpResponse>),
                );
            })
            .prepare()
    })
    .await
    .unwrap()
    .unwrap();
    // No background tasks: the audit writer does not run, so a queued event would keep its slot.
    let app = test::init_service(prepared.into_app()).await;
    let hanging = || TestRequest::get().uri("/api/never-answers").to_request();
    let me = || TestRequest::get().uri("/api/auth/me").to_request();

    let mut handled = Box::pin(app.call(hanging()));
    assert!(poll_once(handled.as_mut()).await.is_pending());
    assert_eq!(status_of(app.call(me()).await), 503, "the slot is held");
    let mut waiting = Box::pin(app.call(hanging()));
    assert!(poll_once(waiting.as_mut()).await.is_pending());
    // The slot passes to the waiting request, which is dropped before it is polled again.
    drop(handled);
    drop(waiting);
    assert_eq!(status_of(app.call(me()).await), 401);
}

db_test!(
    a_dropped_request_gives_its_slot_back,
    a_huge_path_cannot_jam_the_trail,
    console_details_are_bounded,
    refused_rows_are_isolated_and_the_rest_written,
    a_refused_row_in_a_transaction_of_slices_costs_only_itself,
    a_filling_queue_wakes_the_writer_before_its_tick,
    shutdown_completes_after_a_huge_path,
    one_row_per_request_with_every_field,
    the_trail_can_be_switched_off,
    batches_round_trip_exactly_in_order,
    nothing_is_lost_through_a_database_outage,
    overflow_is_counted_and_requests_never_block,
    a_flood_loses_no_audit_row,
    past_the_wait_a_request_is_refused_unhandled,
    retention_deletes_old_events_only,
);

/// The real binary: N requests, then SIGTERM: N rows, although the writer would have waited a
/// minute for more events (the shutdown flushes).
#[test]
fn every_queued_event_is_written_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let pem = std::fs::read_to_string(common::target_dir_file(
        "tests/fixtures/keys/rsa-2048-a.pub.pem",
    ))
    .unwrap();
    let mut server = common::binary::RunningServer::start(
        dir.path(),
        &[
            ("CLERK_JWT_KEY", pem.as_str()),
            ("AUTH_CORE__AUTH__ISSUER", ISSUER),
            ("AUTH_CORE__AUDIT__LINGER_MS", "60000"),
        ],
    );
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let token = Minter::a().mint(&session_claims(i64::try_from(now).unwrap(), json!({})));
    let n = 30;
    for i in 0..n {
        let path = if i % 3 == 0 {
            "/api/auth/me"
        } else {
            "/api/orgs/current"
        };
        let auth = if i % 5 == 0 {
            String::new()
        } else {
            format!("Authorization: Bearer {token}\r\n")
        };
        let addr = server.base.trim_start_matches("http://").to_owned();
        use std::io::{Read, Write};
        let mut stream = std::net::TcpStream::connect(&addr).unwrap();
        write!(
            stream,
            "GET {path} HTTP/1.1\r\nHost: {addr}\r\n{auth}Connection: close\r\n\r\n"
        )
        .unwrap();
        let mut response = String::new();
        stream.read_to_string(&mut response).unwrap();
        assert!(response.starts_with("HTTP/1.1 "), "{response}");
    }
    server.signal("TERM");
    assert!(server.wait_exit(Duration::from_secs(30)).success());
    let mut conn = diesel::SqliteConnection::establish(
        dir.path().join("data/auth-core.sqlite3").to_str().unwrap(),
    )
    .unwrap();
    let count: i64 = ae::table.count().get_result(&mut conn).unwrap();
    assert_eq!(count, n);
}
