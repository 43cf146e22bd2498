//! Several instances on one PostgreSQL database behave as one: two real `auth-core` binaries, a
//! change made through A (signed webhooks, the console) is refused by B within a second, although
//! B's polling is set to an hour and its caches to an hour; B's listening connection killed on the
//! server (`pg_terminate_backend`) is reopened, with every cache dropped, so that a change B could
//! not hear while it was gone is refused too. And a SQLite file is served by one process only.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use auth_core::db::DbConnection;
use common::admin::{Browser, PASSWORD};
use common::binary::{self, RunningServer};
use common::clerk::{session_claims, ClerkStandIn, Minter, ISSUER};
use common::webhooks::{example, sign, WEBHOOK_SECRET};
use common::{client, Response, TestDb};
use diesel::{Connection, PgConnection, RunQueryDsl};
use serde_json::{json, Value};

/// The issue's promise; measured figures are printed by the test and in docs/performance.md.
const PROPAGATION_BOUND: Duration = Duration::from_secs(1);

fn now_s() -> i64 {
    i64::try_from(
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs(),
    )
    .unwrap()
}

fn org_event(id: &str) -> Value {
    let mut e = example("organization.created");
    e["data"]["id"] = id.into();
    e["data"]["name"] = format!("Name of {id}").into();
    e["data"]["slug"] = id.replace('_', "-").into();
    e
}

fn membership_event(id: &str, org: &str, user: &str, kind: &str) -> Value {
    let mut e = example("organizationMembership.created");
    e["type"] = kind.into();
    e["data"]["id"] = id.into();
    e["data"]["role"] = "org:member".into();
    e["data"]["organization"] = org_event(org)["data"].clone();
    e["data"]["public_user_data"]["user_id"] = user.into();
    e["data"]["public_user_data"]["identifier"] = format!("{user}@example.com").into();
    e
}

fn token(user: &str, session: &str, org: Option<&str>) -> String {
    let o = org.map_or(
        Value::Null,
        |org| json!({"id": org, "rol": "member", "slg": org, "per": "read", "fpm": "1"}),
    );
    let claims = json!({"sub": user, "sid": session, "fea": null, "o": o, "exp": now_s() + 600});
    Minter::a().mint(&session_claims(now_s(), claims))
}

struct Instances {
    a: RunningServer,
    b: RunningServer,
    db: TestDb,
    _clerk: ClerkStandIn,
    next_msg: std::cell::Cell<u32>,
}

impl Instances {
    fn start(db: TestDb, clerk: ClerkStandIn) -> Self {
        let jwks = clerk.jwks_url();
        let data = db.dir.path().join("data").display().to_string();
        let env = [
            ("DATABASE_URL", db.url.as_str()),
            ("SECRET_KEY", binary::TEST_SECRET_KEY),
            ("AUTH_CORE__DATABASE__DATA_DIR", data.as_str()),
            ("CLERK_JWKS_URL", jwks.as_str()),
            ("CLERK_WEBHOOK_SECRET", WEBHOOK_SECRET),
            ("AUTH_CORE__AUTH__ISSUER", ISSUER),
            // Polling and cache lifetimes far past the test: only the change feed can propagate.
            ("AUTH_CORE__AUTH__REVOCATION_SYNC_SECS", "3600"),
            ("AUTH_CORE__AUTH__SERVICE_KEY_CACHE_SECS", "3600"),
            ("AUTH_CORE__AUTH__USER_CACHE_TTL_SECS", "3600"),
            ("AUTH_CORE__LOG__LEVEL", "info"),
        ];
        // One after the other: A applies the migrations, B finds them applied.
        let a = RunningServer::start(db.dir.path(), &env);
        let b = RunningServer::start(db.dir.path(), &env);
        Self {
            a,
            b,
            db,
            _clerk: clerk,
            next_msg: std::cell::Cell::new(0),
        }
    }

    async fn webhook_to_a(&self, event: &Value) {
        let n = self.next_msg.get() + 1;
        self.next_msg.set(n);
        let svix_id = format!("msg_several_{n}");
        let body = serde_json::to_vec(event).unwrap();
        let ts = now_s();
        let res = Response::from(
            client()
                .post(self.a.url("/api/auth/webhooks/clerk"))
                .content_type("application/json")
                .insert_header(("svix-id", svix_id.as_str()))
                .insert_header(("svix-timestamp", ts.to_string()))
                .insert_header(("svix-signature", sign(WEBHOOK_SECRET, &svix_id, ts, &body)))
                .send_body(body)
                .await
                .unwrap(),
        )
        .await;
        assert_eq!(res.status, 200, "{}", String::from_utf8_lossy(&res.body));
        assert_eq!(res.json()["status"], "applied", "{event}");
    }

    /// A connection of the test's own to the instances' database.
    fn conn(&self) -> DbConnection {
        DbConnection::Postgresql(PgConnection::establish(&self.db.url).unwrap())
    }

    async fn health_of_b(&self) -> Value {
        get(&self.b, "/api/auth/health", None).await.json()
    }

    /// Waits (bounded) until B's change feed is listening with `reconnects` reconnections.
    async fn b_listening(&self, reconnects: u64) -> Value {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let health = self.health_of_b().await;
            let feed = health["checks"]["change_feed"].clone();
            if feed["status"] == "listening" && feed["reconnects"] == reconnects {
                return feed;
            }
            assert!(Instant::now() < deadline, "B not listening: {health}");
            actix_web::rt::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

async fn get(server: &RunningServer, path: &str, bearer: Option<&str>) -> Response {
    let mut req = client().get(server.url(path));
    if let Some(bearer) = bearer {
        req = req.insert_header(("Authorization", format!("Bearer {bearer}")));
    }
    Response::from(req.send().await.unwrap()).await
}

/// Polls `path` on `server` with `bearer` until it is refused (bounded by 10 s); returns how long
/// that took and the refusal (status, code).
async fn until_refused(
    server: &RunningServer,
    path: &str,
    bearer: &str,
    since: Instant,
) -> (Duration, u16, String) {
    loop {
        let res = get(server, path, Some(bearer)).await;
        if res.status != 200 {
            let code = res.json()["error"]["code"]
                .as_str()
                .unwrap_or("")
                .to_owned();
            return (since.elapsed(), res.status, code);
        }
        assert!(
            since.elapsed() < Duration::from_secs(10),
            "{path} still allowed after 10 s"
        );
    }
}

/// Each change is made through A and then refused by B; B had the credential in its caches.
#[actix_web::test]
async fn changes_through_one_instance_are_refused_by_the_other_within_a_second() {
    let Some(db) = TestDb::postgres("several_instances") else {
        return;
    };
    let w = Instances::start(db, ClerkStandIn::start(&["a"]));
    w.b_listening(0).await;
    for org in ["org_alpha", "org_gamma"] {
        w.webhook_to_a(&org_event(org)).await;
    }
    let memberships = [
        ("orgmem_1", "org_alpha", "user_removed"),
        ("orgmem_2", "org_alpha", "user_deleted"),
        ("orgmem_3", "org_gamma", "user_of_gamma"),
    ];
    for (id, org, user) in memberships {
        let event = membership_event(id, org, user, "organizationMembership.created");
        w.webhook_to_a(&event).await;
    }
    let mut conn = w.conn();
    let mut key_of = |org: &str| {
        auth_core::auth::service_keys::create(
            &mut conn,
            "several",
            Some(org),
            &[],
            None,
            None,
            now_s() * 1000,
        )
        .unwrap()
    };
    let alpha_key = key_of("org_alpha");
    let gamma_key = key_of("org_gamma");

    // (what, the credential, the route B refuses it on, the change made through A)
    let removed = token("user_removed", "sess_removed", Some("org_alpha"));
    let deleted = token("user_deleted", "sess_deleted", None);
    let revoked = token("user_revoked", "sess_revoked", None);
    let of_gamma = token("user_of_gamma", "sess_gamma", Some("org_gamma"));
    let cases: [(&str, &str, &str); 6] = [
        ("membership removed", removed.as_str(), "/api/orgs/current"),
        ("user deleted", deleted.as_str(), "/api/auth/me"),
        ("session revoked", revoked.as_str(), "/api/auth/me"),
        (
            "organization deleted (member)",
            of_gamma.as_str(),
            "/api/orgs/current",
        ),
        (
            "organization deleted (key)",
            gamma_key.secret.as_str(),
            "/api/orgs/current",
        ),
        (
            "key revoked in the console",
            alpha_key.secret.as_str(),
            "/api/orgs/current",
        ),
    ];
    // B has seen every credential: its caches hold them.
    for (what, credential, path) in cases {
        let res = get(&w.b, path, Some(credential)).await;
        assert_eq!(
            res.status,
            200,
            "{what}: {}",
            String::from_utf8_lossy(&res.body)
        );
    }
    let admin_email = "ops@example.com";
    auth_core::accounts::create(&mut w.conn(), admin_email, PASSWORD, now_s() * 1000).unwrap();
    let mut console = Browser::at(&w.a.base);
    assert_eq!(console.sign_in(admin_email, PASSWORD).await.status, 303);

    let mut figures = Vec::new();
    let mut refusals = Vec::new();
    for (what, credential, path) in cases {
        let since = Instant::now();
        match what {
            "membership removed" => {
                let event = membership_event(
                    "orgmem_1",
                    "org_alpha",
                    "user_removed",
                    "organizationMembership.deleted",
                );
                w.webhook_to_a(&event).await;
            }
            "user deleted" => {
                let event = json!({"type": "user.deleted", "object": "event",
                    "data": {"object": "user", "id": "user_deleted", "deleted": true}});
                w.webhook_to_a(&event).await;
            }
            "session revoked" => {
                let mut event = example("session.revoked");
                event["data"]["id"] = "sess_revoked".into();
                event["data"]["user_id"] = "user_revoked".into();
                w.webhook_to_a(&event).await;
            }
            "organization deleted (member)" => {
                let event = json!({"type": "organization.deleted", "object": "event",
                    "data": {"object": "organization", "id": "org_gamma", "deleted": true}});
                w.webhook_to_a(&event).await;
            }
            "organization deleted (key)" => {} // the same deletion, seen through a key
            _ => {
                let action = format!("/admin/keys/{}/revoke", alpha_key.id);
                let res = console.submit("/admin/keys", &action, &[]).await;
                assert_eq!(res.status, 303, "{}", common::admin::text(&res));
            }
        }
        let (took, status, code) = until_refused(&w.b, path, credential, since).await;
        figures.push(format!("{what}: {} ms", took.as_millis()));
        refusals.push((what, status, code));
        assert!(took <= PROPAGATION_BOUND, "{what} took {took:?} to reach B");
    }
    println!("propagation A→B (change made through A until B refuses): {figures:?}");
    assert_eq!(
        refusals,
        [
            ("membership removed", 403, "membership-revoked".to_owned()),
            ("user deleted", 401, "user-deleted".to_owned()),
            ("session revoked", 401, "session-revoked".to_owned()),
            (
                "organization deleted (member)",
                403,
                "membership-revoked".to_owned()
            ),
            (
                "organization deleted (key)",
                401,
                "organization-deleted".to_owned()
            ),
            (
                "key revoked in the console",
                401,
                "service-key-revoked".to_owned()
            ),
        ]
    );
    // The console's session, made on A, works on B: nothing sticky is needed in front.
    let mut on_b = Browser::at(&w.b.base);
    on_b.cookie.clone_from(&console.cookie);
    assert_eq!(on_b.get("/admin/keys").await.status, 200);
}

/// B's listening connection is killed on the server: B says so in its health and metrics, opens a
/// new one, and drops its caches, so that a change announced while it was gone is refused too.
#[actix_web::test]
async fn a_killed_listener_reconnects_and_forgets_what_it_may_have_missed() {
    let Some(db) = TestDb::postgres("several_instances") else {
        return;
    };
    let w = Instances::start(db, ClerkStandIn::start(&["a"]));
    w.b_listening(0).await;
    let database =
        w.db.url
            .rsplit('/')
            .next()
            .unwrap()
            .split('?')
            .next()
            .unwrap()
            .to_owned();
    let b_listener = format!("auth-core listener {}", w.b.child.id());
    let mut admin = PgConnection::establish(&common::postgres_admin_url()).unwrap();
    let mut conn = w.conn();
    for user in ["user_missed", "user_after"] {
        w.webhook_to_a(&membership_event(
            &format!("orgmem_{user}"),
            "org_alpha",
            user,
            "organizationMembership.created",
        ))
        .await;
    }
    let missed = token("user_missed", "sess_missed", None);
    let after = token("user_after", "sess_after", None);
    for credential in [&missed, &after] {
        assert_eq!(
            get(&w.b, "/api/auth/me", Some(credential)).await.status,
            200
        );
    }

    // No new connection to the database (the test's and the instances' pools stay), then B's
    // listener killed: B cannot listen again until connections are allowed.
    let sql = |admin: &mut PgConnection, sql: String| {
        diesel::sql_query(sql).execute(admin).unwrap();
    };
    sql(
        &mut admin,
        format!("ALTER DATABASE {database} ALLOW_CONNECTIONS false"),
    );
    let terminated: Vec<Terminated> = diesel::sql_query(format!(
        "SELECT pg_terminate_backend(pid) AS done FROM pg_stat_activity \
         WHERE datname = '{database}' AND application_name = '{b_listener}'"
    ))
    .load(&mut admin)
    .unwrap();
    assert_eq!(terminated.len(), 1, "B's listener is one connection");
    assert!(terminated[0].done);
    let deadline = Instant::now() + Duration::from_secs(10);
    let gap = loop {
        let feed = w.health_of_b().await["checks"]["change_feed"].clone();
        if feed["status"] == "reconnecting" {
            break feed;
        }
        assert!(Instant::now() < deadline, "B did not notice: {feed}");
        actix_web::rt::time::sleep(Duration::from_millis(20)).await;
    };
    assert_eq!(gap["reconnects"], 0);
    let metrics = get(&w.b, "/metrics", None).await;
    let metrics = String::from_utf8_lossy(&metrics.body).into_owned();
    assert!(
        metrics.contains("\nauth_core_change_feed_listening 0\n"),
        "{metrics}"
    );

    // Deleted while B is not listening: the announcement is lost to B, whose cache still has
    // the user (its TTL and polling are an hour).
    auth_core::db::users::tombstone_user(&mut conn, "user_missed", now_s() * 1000).unwrap();
    assert_eq!(get(&w.b, "/api/auth/me", Some(&missed)).await.status, 200);

    sql(
        &mut admin,
        format!("ALTER DATABASE {database} ALLOW_CONNECTIONS true"),
    );
    let feed = w.b_listening(1).await;
    assert!(
        feed["total_without_listener_ms"].as_u64().unwrap() > 0,
        "{feed}"
    );
    assert_eq!(feed["without_listener_ms"], 0);
    let res = get(&w.b, "/api/auth/me", Some(&missed)).await;
    assert_eq!(res.status, 401);
    assert_eq!(res.json()["error"]["code"], "user-deleted");
    let metrics = get(&w.b, "/metrics", None).await;
    let metrics = String::from_utf8_lossy(&metrics.body).into_owned();
    for line in [
        "\nauth_core_change_feed_listening 1\n",
        "\nauth_core_change_feed_reconnects_total 1\n",
    ] {
        assert!(metrics.contains(line), "{line:?} in {metrics}");
    }

    // And changes made through A reach B again through the new connection.
    let since = Instant::now();
    w.webhook_to_a(&json!({"type": "user.deleted", "object": "event",
        "data": {"object": "user", "id": "user_after", "deleted": true}}))
        .await;
    let (took, status, code) = until_refused(&w.b, "/api/auth/me", &after, since).await;
    assert_eq!((status, code.as_str()), (401, "user-deleted"));
    assert!(
        took <= PROPAGATION_BOUND,
        "took {took:?} after reconnecting"
    );
}

#[derive(diesel::QueryableByName)]
struct Terminated {
    #[diesel(sql_type = diesel::sql_types::Bool)]
    done: bool,
}

/// A second `auth-core serve` on the same SQLite file refuses to start, naming PostgreSQL; other
/// commands still work beside the running server; the lock goes with the first server.
#[test]
fn a_second_server_on_one_sqlite_file_refuses_to_start() {
    let db = TestDb::sqlite();
    let env = [
        ("DATABASE_URL", db.url.as_str()),
        ("SECRET_KEY", binary::TEST_SECRET_KEY),
    ];
    let mut first = RunningServer::start(db.dir.path(), &env);
    let second = binary::run(
        db.dir.path(),
        &env,
        &["serve", "--bind", "127.0.0.1:0", "--workers", "1"],
    );
    assert_eq!(second.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&second.stderr);
    assert!(
        stderr.contains("another auth-core is already serving the SQLite database")
            && stderr.contains("to run several instances, use PostgreSQL"),
        "{stderr}"
    );
    for command in [&["migrate"][..], &["keys", "list"][..]] {
        let out = binary::run(db.dir.path(), &env, command);
        assert!(
            out.status.success(),
            "{command:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let backup = db.dir.path().join("backup.sqlite3");
    let out = binary::run(db.dir.path(), &env, &["backup", backup.to_str().unwrap()]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    first.signal("TERM");
    assert!(first.wait_exit(Duration::from_secs(30)).success());
    let mut again = RunningServer::start(db.dir.path(), &env);
    again.signal("TERM");
    assert!(again.wait_exit(Duration::from_secs(30)).success());
}

/// A change is announced with its transaction: a rolled-back write announces nothing, a committed one
/// its kind and id (a marker committed afterwards bounds the wait: notifications arrive in commit
/// order).
#[test]
fn only_committed_changes_are_announced() {
    use auth_core::db::change_feed::CHANNEL;
    use auth_core::db::DbError;
    use diesel::connection::SimpleConnection;
    let Some(db) = TestDb::postgres("several_instances") else {
        return;
    };
    let settings = db.settings(&[]);
    auth_core::db::Db::open(&settings.database)
        .unwrap()
        .migrate()
        .unwrap();
    let mut listening = PgConnection::establish(&db.url).unwrap();
    listening
        .batch_execute(&format!("LISTEN {CHANNEL}"))
        .unwrap();
    let mut writer = DbConnection::Postgresql(PgConnection::establish(&db.url).unwrap());
    let rolled_back = writer.transaction::<(), DbError, _>(|conn| {
        auth_core::db::users::tombstone_user(conn, "user_rolled_back", 1)?;
        Err(DbError::Cancelled)
    });
    assert!(matches!(rolled_back, Err(DbError::Cancelled)));
    auth_core::db::users::tombstone_user(&mut writer, "user_committed", 1).unwrap();
    auth_core::db::users::tombstone_user(&mut writer, "user_marker", 1).unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut heard = Vec::new();
    while !heard.iter().any(|p| p == "user:user_marker") {
        for notification in listening.notifications_iter() {
            heard.push(notification.unwrap().payload);
        }
        assert!(Instant::now() < deadline, "heard only {heard:?}");
        // Nothing to wait on but the socket: a query reads what has arrived.
        listening.batch_execute("SELECT 1").unwrap();
    }
    assert_eq!(heard, ["user:user_committed", "user:user_marker"]);
}
