//! Migrations up, down and up again on both backends; the schema Diesel knows matches the tables the
//! migrations create; per-backend connection settings are in force.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use auth_core::db::schema::*;
use auth_core::db::{migrations, Backend, Db, DbConnection};
use common::TestDb;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Bool, Text};

const TABLES: [&str; 13] = [
    "users",
    "organizations",
    "organization_memberships",
    "webhook_deliveries",
    "audit_events",
    "service_api_keys",
    "admin_accounts",
    "revoked_sessions",
    "admin_sessions",
    "admin_login_attempts",
    "sync_runs",
    "generated_secret_key",
    "assertion_keys",
];

const INDEXES: [&str; 27] = [
    "users_email_idx",
    "users_clerk_created_at_idx",
    "organizations_slug_idx",
    "organization_memberships_org_user_idx",
    "organization_memberships_user_idx",
    "webhook_deliveries_received_at_idx",
    "webhook_deliveries_status_idx",
    "webhook_deliveries_event_type_idx",
    "audit_events_occurred_at_idx",
    "audit_events_user_idx",
    "audit_events_org_idx",
    "service_api_keys_org_idx",
    "revoked_sessions_expires_at_idx",
    "admin_sessions_admin_idx",
    "admin_login_attempts_email_idx",
    "admin_login_attempts_ip_idx",
    "audit_events_reason_idx",
    "audit_events_errors_idx",
    "audit_events_path_idx",
    "users_email_sort_idx",
    "users_created_idx",
    "users_deleted_at_idx",
    "organization_memberships_live_org_idx",
    "audit_events_failures_idx",
    "organizations_name_idx",
    "organization_memberships_role_idx",
    "sync_runs_started_at_idx",
];

const ALL: [&str; 7] = [
    "20261126000001",
    "20261126000002",
    "20261130000001",
    "20261130000002",
    "20261130000003",
    "20261201000001",
    "20261201000002",
];

#[derive(QueryableByName)]
struct Name {
    #[diesel(sql_type = Text)]
    name: String,
}

fn table_names(conn: &mut DbConnection) -> Vec<String> {
    let sql = match conn {
        DbConnection::Postgresql(_) => {
            "SELECT tablename AS name FROM pg_tables WHERE schemaname = 'public' ORDER BY 1"
        }
        DbConnection::Sqlite(_) => {
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY 1"
        }
    };
    names(conn, sql)
}

fn index_names(conn: &mut DbConnection) -> Vec<String> {
    let sql = match conn {
        DbConnection::Postgresql(_) => {
            "SELECT indexname AS name FROM pg_indexes WHERE schemaname = 'public' ORDER BY 1"
        }
        DbConnection::Sqlite(_) => "SELECT name FROM sqlite_master WHERE type = 'index' ORDER BY 1",
    };
    names(conn, sql)
}

fn names(conn: &mut DbConnection, sql: &str) -> Vec<String> {
    match conn {
        DbConnection::Postgresql(c) => diesel::sql_query(sql).load::<Name>(c),
        DbConnection::Sqlite(c) => diesel::sql_query(sql).load::<Name>(c),
    }
    .unwrap()
    .into_iter()
    .map(|n| n.name)
    .collect()
}

/// Selects every column the Diesel schema declares, so a column missing or misnamed in either
/// backend's migration fails here.
macro_rules! select_every_column {
    ($conn:expr, $($table:ident),+) => {$(
        $table::table
            .select($table::all_columns)
            .limit(0)
            .execute($conn)
            .unwrap_or_else(|e| panic!("{}: {e}", stringify!($table)));
    )+};
}

fn select_every_declared_column(conn: &mut DbConnection) {
    select_every_column!(
        conn,
        users,
        organizations,
        organization_memberships,
        webhook_deliveries,
        audit_events,
        service_api_keys,
        admin_accounts,
        revoked_sessions,
        admin_sessions,
        admin_login_attempts,
        sync_runs,
        generated_secret_key,
        assertion_keys
    );
}

fn open(db: &TestDb, env: &[(&str, &str)]) -> Db {
    Db::open(&db.settings(env).database).unwrap()
}

async fn migrations_go_up_down_and_up_again(db: TestDb) {
    let handle = open(&db, &[]);
    let mut conn = handle.get().unwrap();
    assert_eq!(migrations::pending(&mut conn).unwrap(), ALL);

    assert_eq!(migrations::run_pending(&mut conn).unwrap(), ALL);
    assert!(migrations::pending(&mut conn).unwrap().is_empty());
    assert_eq!(
        migrations::applied(&mut conn).unwrap(),
        [
            "20261201000002",
            "20261201000001",
            "20261130000003",
            "20261130000002",
            "20261130000001",
            "20261126000002",
            "20261126000001"
        ],
        "newest first"
    );
    let tables = table_names(&mut conn);
    for table in TABLES {
        assert!(
            tables.iter().any(|t| t == table),
            "{table} missing from {tables:?}"
        );
    }
    let indexes = index_names(&mut conn);
    for index in INDEXES {
        assert!(
            indexes.iter().any(|i| i == index),
            "{index} missing from {indexes:?}"
        );
    }
    select_every_declared_column(&mut conn);
    // Running again applies nothing.
    assert!(migrations::run_pending(&mut conn).unwrap().is_empty());

    assert_eq!(
        migrations::revert_all(&mut conn).unwrap(),
        [
            "20261201000002",
            "20261201000001",
            "20261130000003",
            "20261130000002",
            "20261130000001",
            "20261126000002",
            "20261126000001"
        ]
    );
    let left: Vec<String> = table_names(&mut conn)
        .into_iter()
        .filter(|t| TABLES.contains(&t.as_str()))
        .collect();
    assert!(left.is_empty(), "tables left after down: {left:?}");

    assert_eq!(migrations::run_pending(&mut conn).unwrap(), ALL);
    select_every_declared_column(&mut conn);
}

/// Rows round-trip with the types the schema declares (BIGINT milliseconds, booleans, text).
async fn rows_round_trip_and_foreign_keys_hold(db: TestDb) {
    let handle = open(&db, &[]);
    handle.migrate().unwrap();
    let mut conn = handle.get().unwrap();
    let now: i64 = 1_764_150_000_123;
    diesel::insert_into(users::table)
        .values((
            users::id.eq("user_29w83sxmDNGwOuEthce5gg56FcC"),
            users::email.eq("ada@example.com"),
            users::banned.eq(true),
            users::clerk_created_at.eq(now),
            users::clerk_updated_at.eq(now + 1),
            users::created_at.eq(now),
            users::synced_at.eq(now),
        ))
        .execute(&mut *conn)
        .unwrap();
    let (email, banned, updated, metadata): (Option<String>, bool, i64, String) = users::table
        .select((
            users::email,
            users::banned,
            users::clerk_updated_at,
            users::public_metadata,
        ))
        .first(&mut *conn)
        .unwrap();
    assert_eq!(email.as_deref(), Some("ada@example.com"));
    assert!(banned);
    assert_eq!(updated, now + 1);
    assert_eq!(metadata, "{}", "column default");

    // A membership naming an organization that does not exist is refused on both backends
    // (SQLite enforces foreign keys only when the connection switches them on).
    let orphan = diesel::insert_into(organization_memberships::table)
        .values((
            organization_memberships::id.eq("orgmem_1"),
            organization_memberships::organization_id.eq("org_missing"),
            organization_memberships::user_id.eq("user_29w83sxmDNGwOuEthce5gg56FcC"),
            organization_memberships::role.eq("org:member"),
            organization_memberships::clerk_created_at.eq(now),
            organization_memberships::clerk_updated_at.eq(now),
            organization_memberships::created_at.eq(now),
            organization_memberships::synced_at.eq(now),
        ))
        .execute(&mut *conn);
    assert!(
        matches!(
            orphan,
            Err(diesel::result::Error::DatabaseError(
                diesel::result::DatabaseErrorKind::ForeignKeyViolation,
                _
            ))
        ),
        "{orphan:?}"
    );

    // Audit ids increase monotonically (keyset pagination relies on it).
    for i in 0..3 {
        diesel::insert_into(audit_events::table)
            .values((
                audit_events::occurred_at.eq(now + i),
                audit_events::principal_type.eq("anonymous"),
                audit_events::method.eq("GET"),
                audit_events::path.eq("/api/auth/me"),
                audit_events::status.eq(401),
                audit_events::duration_us.eq(120_i64),
            ))
            .execute(&mut *conn)
            .unwrap();
    }
    let ids: Vec<i64> = audit_events::table
        .select(audit_events::id)
        .order(audit_events::id)
        .load(&mut *conn)
        .unwrap();
    assert_eq!(ids.len(), 3);
    assert!(ids.windows(2).all(|w| w[0] < w[1]), "{ids:?}");
}

db_test!(
    migrations_go_up_down_and_up_again,
    rows_round_trip_and_foreign_keys_hold
);

#[derive(QueryableByName, Debug)]
struct Pragmas {
    #[diesel(sql_type = Text)]
    journal_mode: String,
    #[diesel(sql_type = BigInt)]
    foreign_keys: i64,
    #[diesel(sql_type = BigInt)]
    busy_timeout: i64,
    #[diesel(sql_type = BigInt)]
    page_size: i64,
}

#[test]
fn sqlite_connections_use_wal_busy_timeout_and_foreign_keys() {
    let db = TestDb::sqlite();
    let handle = open(
        &db,
        &[("AUTH_CORE__DATABASE__SQLITE_BUSY_TIMEOUT_MS", "1234")],
    );
    assert_eq!(handle.backend(), Backend::Sqlite);
    let mut conn = handle.get().unwrap();
    let DbConnection::Sqlite(sqlite) = &mut *conn else {
        panic!("expected SQLite")
    };
    let p: Pragmas = diesel::sql_query(
        "SELECT (SELECT journal_mode FROM pragma_journal_mode) AS journal_mode, \
                (SELECT foreign_keys FROM pragma_foreign_keys) AS foreign_keys, \
                (SELECT timeout FROM pragma_busy_timeout) AS busy_timeout, \
                (SELECT page_size FROM pragma_page_size) AS page_size",
    )
    .get_result(sqlite)
    .unwrap();
    assert_eq!(p.journal_mode, "wal");
    assert_eq!(p.foreign_keys, 1);
    assert_eq!(p.busy_timeout, 1234);
    assert_eq!(p.page_size, 16_384);
    // The database file was created under the test's directory on first use.
    assert!(db.dir.path().join("auth-core.sqlite3").is_file());
}

/// A database created elsewhere (or by an earlier version) with SQLite's default 4 KiB pages keeps
/// them: the page-size pragma only shapes new files, and migrating such a database works.
#[test]
fn an_existing_sqlite_database_keeps_its_page_size() {
    use diesel::connection::SimpleConnection;
    let db = TestDb::sqlite();
    let file = db.dir.path().join("auth-core.sqlite3");
    let mut existing = SqliteConnection::establish(file.to_str().unwrap()).unwrap();
    existing
        .batch_execute("PRAGMA page_size = 4096; CREATE TABLE earlier (x INTEGER);")
        .unwrap();
    drop(existing);

    let handle = open(&db, &[]);
    handle.migrate().unwrap();
    let mut conn = handle.get().unwrap();
    let DbConnection::Sqlite(sqlite) = &mut *conn else {
        panic!("expected SQLite")
    };
    #[derive(QueryableByName)]
    struct PageSize {
        #[diesel(sql_type = BigInt)]
        page_size: i64,
    }
    let p: PageSize = diesel::sql_query("SELECT page_size FROM pragma_page_size")
        .get_result(sqlite)
        .unwrap();
    assert_eq!(p.page_size, 4096);
    assert!(table_names(&mut conn).contains(&"audit_events".to_owned()));
}

#[derive(QueryableByName)]
struct Ssl {
    #[diesel(sql_type = Bool)]
    ssl: bool,
}

/// `sslmode=require` in DATABASE_URL gives a TLS connection (libpq negotiates it).
#[test]
fn postgres_connection_can_require_tls() {
    let Some(db) = TestDb::postgres("postgres_connection_can_require_tls") else {
        return;
    };
    let mut url = url::Url::parse(&db.url).unwrap();
    let others: Vec<(String, String)> = url
        .query_pairs()
        .filter(|(k, _)| k != "sslmode")
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    url.query_pairs_mut()
        .clear()
        .extend_pairs(others)
        .append_pair("sslmode", "require");
    let url = url.to_string();
    let handle = open(&db, &[("DATABASE_URL", &url)]);
    let mut conn = handle.get().unwrap();
    let DbConnection::Postgresql(pg) = &mut *conn else {
        panic!("expected PostgreSQL")
    };
    let row: Ssl = diesel::sql_query("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()")
        .get_result(pg)
        .unwrap();
    assert!(row.ssl, "connection is not encrypted");
}

/// Two instances starting at once each try to migrate; the advisory lock makes that safe.
#[test]
fn concurrent_migrations_apply_once() {
    let Some(db) = TestDb::postgres("concurrent_migrations_apply_once") else {
        return;
    };
    let a = open(&db, &[]);
    let b = open(&db, &[]);
    let (ra, rb) = std::thread::scope(|s| {
        let ta = s.spawn(|| a.migrate());
        let tb = s.spawn(|| b.migrate());
        (ta.join().unwrap(), tb.join().unwrap())
    });
    let mut applied = [ra.unwrap(), rb.unwrap()];
    applied.sort();
    assert_eq!(applied, [vec![], ALL.map(str::to_owned).to_vec()]);
}
