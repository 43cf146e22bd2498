//! auth-core's own Ed25519 keys for identity assertions (`auth::assertion`): stored rows, ordered by
//! `generation`. The first key is written insert-if-absent, so instances starting together on one
//! PostgreSQL agree on it; a rotation inserts the next generation and schedules the retirement of
//! the ones before it.

use diesel::prelude::*;

use super::schema::assertion_keys as keys;
use super::{DbConnection, DbError};

#[derive(Debug, Clone, PartialEq, Eq, Queryable)]
pub struct StoredKey {
    pub generation: i32,
    pub kid: String,
    pub private_key: String,
    pub public_key: String,
    pub created_at: i64,
    pub activates_at: i64,
    pub retires_at: Option<i64>,
}

/// A key to store: made by the caller (the database knows no cryptography).
pub struct NewKey<'a> {
    pub kid: &'a str,
    pub private_key: &'a str,
    pub public_key: &'a str,
}

/// Stores `candidate` as generation 1 when there is no key at all, active since ever (`activates_at`
/// 0: an instance whose clock is behind the writer's must not find it not yet active). Whether this
/// call wrote it: the second of two instances starting together waits for the first insert's commit
/// and does nothing.
pub fn insert_first_if_absent(
    conn: &mut DbConnection,
    candidate: &NewKey<'_>,
    now_ms: i64,
) -> Result<bool, DbError> {
    let row = (
        keys::generation.eq(1),
        keys::kid.eq(candidate.kid),
        keys::private_key.eq(candidate.private_key),
        keys::public_key.eq(candidate.public_key),
        keys::created_at.eq(now_ms),
        keys::activates_at.eq(0),
    );
    let inserted = crate::per_backend!(conn, |c| diesel::insert_into(keys::table)
        .values(row)
        .on_conflict(keys::generation)
        .do_nothing()
        .execute(c))?;
    Ok(inserted == 1)
}

/// Every key still published at `now_ms` (not retired yet), oldest generation first.
pub fn published(conn: &mut DbConnection, now_ms: i64) -> Result<Vec<StoredKey>, DbError> {
    Ok(keys::table
        .filter(keys::retires_at.is_null().or(keys::retires_at.gt(now_ms)))
        .order(keys::generation.asc())
        .load(conn)?)
}

/// Every stored key, newest first (for `auth-core assertion-keys list`).
pub fn all(conn: &mut DbConnection) -> Result<Vec<StoredKey>, DbError> {
    Ok(keys::table.order(keys::generation.desc()).load(conn)?)
}

/// Inserts `key` as the next generation, signing from `activates_at`; every key before it is retired
/// at `retire_previous_at` (unless already retired sooner), and keys retired before `now_ms` are
/// deleted. One transaction; the generation's primary key makes two concurrent rotations collide
/// rather than both win. Returns the new generation.
pub fn rotate(
    conn: &mut DbConnection,
    key: &NewKey<'_>,
    now_ms: i64,
    activates_at: i64,
    retire_previous_at: i64,
) -> Result<i32, DbError> {
    conn.transaction(|conn| {
        let newest: Option<i32> = keys::table
            .select(diesel::dsl::max(keys::generation))
            .first(conn)?;
        let generation = newest.unwrap_or(0) + 1;
        diesel::delete(keys::table.filter(keys::retires_at.le(now_ms))).execute(conn)?;
        diesel::update(
            keys::table.filter(
                keys::retires_at
                    .is_null()
                    .or(keys::retires_at.gt(retire_previous_at)),
            ),
        )
        .set(keys::retires_at.eq(retire_previous_at))
        .execute(conn)?;
        diesel::insert_into(keys::table)
            .values((
                keys::generation.eq(generation),
                keys::kid.eq(key.kid),
                keys::private_key.eq(key.private_key),
                keys::public_key.eq(key.public_key),
                keys::created_at.eq(now_ms),
                keys::activates_at.eq(activates_at),
            ))
            .execute(conn)?;
        Ok(generation)
    })
}
