//! Writing and pruning the audit trail.

use std::ops::Range;

use diesel::pg::Pg;
use diesel::prelude::*;
use diesel::sqlite::Sqlite;

use super::schema::audit_events;
use super::{jsonb, Backend, DbConnection, DbError};

mod principal_type;

pub use principal_type::PrincipalType;

/// One audit event, as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewAuditEvent {
    pub occurred_at: i64,
    pub request_id: Option<String>,
    pub principal_type: PrincipalType,
    pub user_id: Option<String>,
    pub organization_id: Option<String>,
    pub session_id: Option<String>,
    pub method: String,
    pub path: String,
    pub route: Option<String>,
    pub status: i32,
    pub duration_us: i64,
    pub client_ip: Option<String>,
    pub user_agent: Option<String>,
    pub reason: Option<String>,
    pub detail: Option<String>,
}

impl NewAuditEvent {
    pub fn as_ref(&self) -> AuditEventRef<'_> {
        AuditEventRef {
            occurred_at: self.occurred_at,
            request_id: self.request_id.as_deref(),
            principal_type: self.principal_type,
            user_id: self.user_id.as_deref(),
            organization_id: self.organization_id.as_deref(),
            session_id: self.session_id.as_deref(),
            method: &self.method,
            path: &self.path,
            route: self.route.as_deref(),
            status: self.status,
            duration_us: self.duration_us,
            client_ip: self.client_ip.as_deref(),
            user_agent: self.user_agent.as_deref(),
            reason: self.reason.as_deref(),
            detail: self.detail.as_deref(),
        }
    }
}

/// One audit event borrowed from wherever its fields live (the request, the principal): the audit
/// middleware encodes it straight into a batch, so recording an event allocates nothing per field.
#[derive(Debug, Clone, Copy)]
pub struct AuditEventRef<'a> {
    pub occurred_at: i64,
    pub request_id: Option<&'a str>,
    pub principal_type: PrincipalType,
    pub user_id: Option<&'a str>,
    pub organization_id: Option<&'a str>,
    pub session_id: Option<&'a str>,
    pub method: &'a str,
    pub path: &'a str,
    pub route: Option<&'a str>,
    pub status: i32,
    pub duration_us: i64,
    pub client_ip: Option<&'a str>,
    pub user_agent: Option<&'a str>,
    pub reason: Option<&'a str>,
    pub detail: Option<&'a str>,
}

/// How a batch is encoded for the database that will unpack it (see [`insert_sealed`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BatchFormat {
    /// SQLite's binary JSON, for `jsonb_each`.
    SqliteJsonb,
    /// JSON text, for PostgreSQL's `jsonb_array_elements`.
    JsonText,
}

impl BatchFormat {
    pub fn for_backend(backend: Backend) -> Self {
        match backend {
            Backend::Sqlite => Self::SqliteJsonb,
            Backend::Postgres => Self::JsonText,
        }
    }
}

/// Room kept in front of a JSONB batch for its array header, whose size is known only at the end.
const JSONB_HEADER_ROOM: usize = 9;

/// Events encoded as they are recorded, ready to be sealed into one statement's parameter: an
/// array of rows, each row an array in the column order of the insert statements below. Where each
/// row lies is kept, so that a batch the database refuses can be split to find the row it refuses.
#[derive(Debug)]
pub struct EncodedBatch {
    format: BatchFormat,
    bytes: Vec<u8>,
    rows: Vec<Range<usize>>,
}

impl EncodedBatch {
    /// An empty batch that reuses `buffer`'s allocation (a batch's buffer is handed back after it
    /// is written, so a busy writer does not allocate and free a megabyte per batch).
    pub fn new(format: BatchFormat, mut buffer: Vec<u8>) -> Self {
        buffer.clear();
        match format {
            BatchFormat::SqliteJsonb => buffer.resize(JSONB_HEADER_ROOM, 0),
            BatchFormat::JsonText => buffer.push(b'['),
        }
        Self {
            format,
            bytes: buffer,
            rows: Vec::new(),
        }
    }

    pub fn len(&self) -> usize {
        self.rows.len()
    }

    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// Appends one event.
    pub fn push(&mut self, event: &AuditEventRef<'_>) {
        let start = self.start_row();
        match self.format {
            BatchFormat::SqliteJsonb => jsonb::push_array(&mut self.bytes, &jsonb_row(event)),
            // Writing plain strings, integers and nulls into a Vec cannot fail.
            BatchFormat::JsonText => {
                let _ = serde_json::to_writer(&mut self.bytes, &JsonRow::from(event));
            }
        }
        self.rows.push(start..self.bytes.len());
    }

    /// Appends one row encoded by another batch of the same format.
    fn push_encoded(&mut self, row: &[u8]) {
        let start = self.start_row();
        self.bytes.extend_from_slice(row);
        self.rows.push(start..self.bytes.len());
    }

    /// Where the next row begins (after the separator JSON text needs).
    fn start_row(&mut self) -> usize {
        if self.format == BatchFormat::JsonText && !self.rows.is_empty() {
            self.bytes.push(b',');
        }
        self.bytes.len()
    }

    /// Closes the array: no event can be added after this.
    pub fn seal(mut self) -> SealedBatch {
        let start = match self.format {
            BatchFormat::SqliteJsonb => {
                jsonb::write_array_header(&mut self.bytes, JSONB_HEADER_ROOM)
            }
            BatchFormat::JsonText => {
                self.bytes.push(b']');
                0
            }
        };
        SealedBatch {
            format: self.format,
            bytes: self.bytes,
            start,
            rows: self.rows,
        }
    }
}

/// A batch ready to insert; it can be inserted again after a failure, or split.
#[derive(Debug)]
pub struct SealedBatch {
    format: BatchFormat,
    bytes: Vec<u8>,
    start: usize,
    rows: Vec<Range<usize>>,
}

impl SealedBatch {
    pub fn len(&self) -> usize {
        self.rows.len()
    }

    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// The buffer, for the next batch.
    pub fn into_buffer(self) -> Vec<u8> {
        self.bytes
    }

    /// The first half of the rows and the rest, as two batches (copies; for finding the row a
    /// database refuses, which is rare).
    pub fn split(&self) -> (SealedBatch, SealedBatch) {
        let middle = self.rows.len() / 2;
        (self.part(0..middle), self.part(middle..self.rows.len()))
    }

    fn part(&self, rows: Range<usize>) -> SealedBatch {
        let mut batch = EncodedBatch::new(self.format, Vec::new());
        for row in &self.rows[rows] {
            batch.push_encoded(&self.bytes[row.clone()]);
        }
        batch.seal()
    }

    /// The events, decoded again (for the reduced form of a refused event). `None` for a row this
    /// module did not encode, which cannot happen.
    pub fn events(&self) -> Vec<Option<NewAuditEvent>> {
        self.rows
            .iter()
            .map(|row| {
                let row = &self.bytes[row.clone()];
                let values = match self.format {
                    BatchFormat::SqliteJsonb => jsonb::read_array(row),
                    BatchFormat::JsonText => serde_json::from_slice(row).ok(),
                };
                values.and_then(decode_row)
            })
            .collect()
    }
}

/// One row (as [`jsonb_row`] or [`JsonRow`] wrote it) as the event it holds.
fn decode_row(row: Vec<serde_json::Value>) -> Option<NewAuditEvent> {
    let [occurred_at, request_id, principal_type, user_id, organization_id, session_id, method, path, route, status, duration_us, client_ip, user_agent, reason, detail] =
        <[serde_json::Value; 15]>::try_from(row).ok()?;
    let text = |value: serde_json::Value| match value {
        serde_json::Value::String(s) => Some(s),
        _ => None,
    };
    Some(NewAuditEvent {
        occurred_at: occurred_at.as_i64()?,
        request_id: text(request_id),
        principal_type: PrincipalType::parse(principal_type.as_str()?)?,
        user_id: text(user_id),
        organization_id: text(organization_id),
        session_id: text(session_id),
        method: text(method)?,
        path: text(path)?,
        route: text(route),
        status: i32::try_from(status.as_i64()?).ok()?,
        duration_us: duration_us.as_i64()?,
        client_ip: text(client_ip),
        user_agent: text(user_agent),
        reason: text(reason),
        detail: text(detail),
    })
}

/// Inserts a batch in one statement.
pub fn insert_batch(conn: &mut DbConnection, events: &[NewAuditEvent]) -> Result<usize, DbError> {
    let format = match conn {
        DbConnection::Postgresql(_) => BatchFormat::JsonText,
        DbConnection::Sqlite(_) => BatchFormat::SqliteJsonb,
    };
    let mut batch = EncodedBatch::new(format, Vec::new());
    for event in events {
        batch.push(&event.as_ref());
    }
    insert_sealed(conn, &batch.seal())
}

/// Inserts a sealed batch in one statement whose only parameter is the batch, unpacked by the
/// database's own JSON functions, in the batch's order (ids follow recording order).
///
/// Binding fifteen parameters per event through Diesel cost more CPU than SQLite's inserts
/// themselves (the audit trail runs on every request, so this is the hot write path); one
/// parameter per batch leaves the per-row work to the database's C code, on both backends.
///
/// On SQLite the batch is SQLite's binary JSON (see [`jsonb`]), written as events are recorded and
/// unpacked by `jsonb_each` (SQLite 3.51): text JSON was rendered here and parsed there, and
/// `json_each` rendered each row back to text for every `->>` to parse again; each step showed in
/// `cargo bench --bench audit_write`. PostgreSQL gets text JSON (its `jsonb` is another format).
pub fn insert_sealed(conn: &mut DbConnection, batch: &SealedBatch) -> Result<usize, DbError> {
    if batch.is_empty() {
        return Ok(0);
    }
    let bytes = &batch.bytes[batch.start..];
    let inserted = match (conn, batch.format) {
        (DbConnection::Postgresql(pg), BatchFormat::JsonText) => {
            let json = std::str::from_utf8(bytes).map_err(|e| {
                DbError::Query(diesel::result::Error::SerializationError(Box::new(e)))
            })?;
            BatchInsert::<Pg, _>::new(json).execute(pg)?
        }
        (DbConnection::Sqlite(sqlite), BatchFormat::SqliteJsonb) => {
            use diesel::connection::SimpleConnection;
            sqlite.batch_execute(SQLITE_WRITER_CACHE)?;
            BatchInsert::<Sqlite, _>::new(bytes).execute(sqlite)?
        }
        (_, format) => {
            return Err(DbError::Query(diesel::result::Error::QueryBuilderError(
                format!("an audit batch encoded as {format:?} was given to another database")
                    .into(),
            )))
        }
    };
    Ok(inserted)
}

/// Inserts `slices` in one transaction, one statement each, in order, and calls `after_each` with
/// each slice once its statement has run (the audit writer uses it to pace itself: see
/// `audit::pace`). A single slice is one statement without a transaction of its own. On an error
/// nothing of the group is written (the transaction is rolled back) and the error is returned.
pub fn insert_sealed_slices<S: AsRef<SealedBatch>>(
    conn: &mut DbConnection,
    slices: &[S],
    mut after_each: impl FnMut(&SealedBatch),
) -> Result<usize, DbError> {
    match slices {
        [] => Ok(0),
        [only] => {
            let inserted = insert_sealed(conn, only.as_ref())?;
            after_each(only.as_ref());
            Ok(inserted)
        }
        _ => conn.transaction(|conn| {
            let mut inserted = 0;
            for slice in slices {
                inserted += insert_sealed(conn, slice.as_ref())?;
                after_each(slice.as_ref());
            }
            Ok(inserted)
        }),
    }
}

/// The page cache of a SQLite connection that writes audit batches: 64 MiB instead of SQLite's
/// 2 MiB. With many active users a batch adds index entries on as many pages as there are users;
/// once the changed pages outgrow the cache, SQLite spills them to the WAL mid-transaction and reads
/// them back (perf: a quarter of the writer's time, with 1,000 users). The pragma stays with the
/// connection, so memory is 64 MiB per pooled connection that has written a batch (the pool hands
/// out the most recently returned connection first, so usually one); pages are allocated as used.
const SQLITE_WRITER_CACHE: &str = "PRAGMA cache_size = -65536";

/// One event as a row of SQLite JSONB, in the column order of [`SQLITE_INSERT_HEAD`].
fn jsonb_row<'a>(e: &AuditEventRef<'a>) -> [jsonb::Value<'a>; 15] {
    use jsonb::Value;
    [
        Value::int(e.occurred_at),
        Value::opt_text(e.request_id),
        Value::text(e.principal_type.as_str()),
        Value::opt_text(e.user_id),
        Value::opt_text(e.organization_id),
        Value::opt_text(e.session_id),
        Value::text(e.method),
        Value::text(e.path),
        Value::opt_text(e.route),
        Value::int(i64::from(e.status)),
        Value::int(e.duration_us),
        Value::opt_text(e.client_ip),
        Value::opt_text(e.user_agent),
        Value::opt_text(e.reason),
        Value::opt_text(e.detail),
    ]
}

/// One event as a JSON array, in the column order of [`POSTGRES_INSERT_HEAD`].
#[derive(serde::Serialize)]
struct JsonRow<'a>(
    i64,
    Option<&'a str>,
    &'a str,
    Option<&'a str>,
    Option<&'a str>,
    Option<&'a str>,
    &'a str,
    &'a str,
    Option<&'a str>,
    i32,
    i64,
    Option<&'a str>,
    Option<&'a str>,
    Option<&'a str>,
    Option<&'a str>,
);

impl<'a> From<&AuditEventRef<'a>> for JsonRow<'a> {
    fn from(e: &AuditEventRef<'a>) -> Self {
        Self(
            e.occurred_at,
            e.request_id,
            e.principal_type.as_str(),
            e.user_id,
            e.organization_id,
            e.session_id,
            e.method,
            e.path,
            e.route,
            e.status,
            e.duration_us,
            e.client_ip,
            e.user_agent,
            e.reason,
            e.detail,
        )
    }
}

/// The insert of a sealed batch as a query whose text never changes, so that Diesel prepares it once
/// per connection and reuses it (its statement cache is keyed by the query's type). `sql_query`
/// cannot be cached, so the batch statement was parsed and planned anew for every statement: once a
/// batch was cut into slices of about 0.5 ms (`audit::pace`), about 40 times per transaction.
struct BatchInsert<DB, T> {
    batch: T,
    backend: std::marker::PhantomData<DB>,
}

impl<DB, T> BatchInsert<DB, T> {
    fn new(batch: T) -> Self {
        Self {
            batch,
            backend: std::marker::PhantomData,
        }
    }
}

impl<DB: 'static, T> diesel::query_builder::QueryId for BatchInsert<DB, T> {
    type QueryId = BatchInsert<DB, ()>;
    const HAS_STATIC_QUERY_ID: bool = true;
}

impl diesel::query_builder::QueryFragment<Pg> for BatchInsert<Pg, &str> {
    fn walk_ast<'b>(
        &'b self,
        mut out: diesel::query_builder::AstPass<'_, 'b, Pg>,
    ) -> diesel::QueryResult<()> {
        out.push_sql(POSTGRES_INSERT_HEAD);
        out.push_bind_param::<diesel::sql_types::Text, _>(self.batch)?;
        out.push_sql(POSTGRES_INSERT_TAIL);
        Ok(())
    }
}

impl diesel::query_builder::QueryFragment<Sqlite> for BatchInsert<Sqlite, &[u8]> {
    fn walk_ast<'b>(
        &'b self,
        mut out: diesel::query_builder::AstPass<'_, 'b, Sqlite>,
    ) -> diesel::QueryResult<()> {
        out.push_sql(SQLITE_INSERT_HEAD);
        out.push_bind_param::<diesel::sql_types::Binary, _>(self.batch)?;
        out.push_sql(SQLITE_INSERT_TAIL);
        Ok(())
    }
}

impl<Conn, DB, T> RunQueryDsl<Conn> for BatchInsert<DB, T> {}

const POSTGRES_INSERT_HEAD: &str =
    "INSERT INTO audit_events (occurred_at, request_id, principal_type, \
    user_id, organization_id, session_id, method, path, route, status, duration_us, client_ip, \
    user_agent, reason, detail) \
    SELECT (e->>0)::bigint, e->>1, e->>2, e->>3, e->>4, e->>5, e->>6, e->>7, e->>8, \
    (e->>9)::integer, (e->>10)::bigint, e->>11, e->>12, e->>13, e->>14 \
    FROM jsonb_array_elements(";
const POSTGRES_INSERT_TAIL: &str = "::jsonb) WITH ORDINALITY AS rows(e, n) ORDER BY n";

const SQLITE_INSERT_HEAD: &str =
    "INSERT INTO audit_events (occurred_at, request_id, principal_type, \
    user_id, organization_id, session_id, method, path, route, status, duration_us, client_ip, \
    user_agent, reason, detail) \
    SELECT value->>0, value->>1, value->>2, value->>3, value->>4, value->>5, value->>6, \
    value->>7, value->>8, value->>9, value->>10, value->>11, value->>12, value->>13, value->>14 \
    FROM jsonb_each(";
const SQLITE_INSERT_TAIL: &str = ") ORDER BY key";

/// Deletes up to `batch` events older than `before_ms`; returns how many.
pub fn delete_older_than(
    conn: &mut DbConnection,
    before_ms: i64,
    batch: i64,
) -> Result<usize, DbError> {
    let ids: Vec<i64> = audit_events::table
        .filter(audit_events::occurred_at.lt(before_ms))
        .order(audit_events::id.asc())
        .limit(batch)
        .select(audit_events::id)
        .load(conn)?;
    if ids.is_empty() {
        return Ok(0);
    }
    diesel::delete(audit_events::table.filter(audit_events::id.eq_any(ids)))
        .execute(conn)
        .map_err(DbError::from)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(i: usize) -> NewAuditEvent {
        let text = ["plain", "quote \" \\ ünï ✓", "nul \0 inside", ""][i % 4].to_owned();
        NewAuditEvent {
            occurred_at: i64::MIN + i64::try_from(i).unwrap_or_default(),
            request_id: i.is_multiple_of(2).then(|| text.clone()),
            principal_type: PrincipalType::Anonymous,
            user_id: None,
            organization_id: Some(format!("org_{i}")),
            session_id: None,
            method: "GET".into(),
            path: format!("/api/{i}/{}", "x".repeat(i * 50)),
            route: None,
            status: 401,
            duration_us: i64::MAX,
            client_ip: Some("::1".into()),
            user_agent: Some(text.clone()),
            reason: Some("session-token-missing".into()),
            detail: Some(text),
        }
    }

    fn sealed(format: BatchFormat, events: &[NewAuditEvent]) -> SealedBatch {
        let mut batch = EncodedBatch::new(format, Vec::new());
        for e in events {
            batch.push(&e.as_ref());
        }
        batch.seal()
    }

    /// A batch splits into halves that hold exactly its rows, in order, and each half is a
    /// well-formed batch of its own (split again, down to single rows), in both formats.
    #[test]
    fn split_halves_hold_the_rows_in_order() {
        let events: Vec<NewAuditEvent> = (0..7).map(event).collect();
        for format in [BatchFormat::SqliteJsonb, BatchFormat::JsonText] {
            let batch = sealed(format, &events);
            let decoded: Vec<Option<NewAuditEvent>> = events.iter().cloned().map(Some).collect();
            assert_eq!(batch.events(), decoded, "{format:?}");
            let (first, second) = batch.split();
            assert_eq!((first.len(), second.len()), (3, 4));
            assert_eq!(first.events(), decoded[..3], "{format:?}");
            assert_eq!(second.events(), decoded[3..], "{format:?}");
            let (one, rest) = first.split();
            assert_eq!(one.events(), decoded[..1]);
            assert_eq!(rest.events(), decoded[1..3]);
            // A part is encoded exactly as a batch of its events would be.
            assert_eq!(
                second.into_buffer()[..],
                sealed(format, &events[3..]).into_buffer()[..]
            );
            if format == BatchFormat::JsonText {
                let (_, rest) = batch.split();
                let text = String::from_utf8(rest.into_buffer()).unwrap_or_default();
                assert!(
                    serde_json::from_str::<serde_json::Value>(&text).is_ok(),
                    "{text}"
                );
            }
        }
    }
}
