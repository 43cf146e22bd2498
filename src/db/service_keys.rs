//! Service API keys: only a SHA-256 hash of each secret is stored, found by the key's public prefix.

use diesel::prelude::*;

use super::change_feed::{self, Change};
use super::schema::service_api_keys as keys;
use super::{DbConnection, DbError};

#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable)]
#[diesel(table_name = keys)]
pub struct ServiceKeyRow {
    pub id: String,
    pub name: String,
    pub prefix: String,
    pub secret_hash: String,
    pub organization_id: Option<String>,
    /// JSON array.
    pub scopes: String,
    pub created_by: Option<String>,
    pub created_at: i64,
    pub expires_at: Option<i64>,
    pub revoked_at: Option<i64>,
    pub last_used_at: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewServiceKey {
    pub id: String,
    pub name: String,
    pub prefix: String,
    pub secret_hash: String,
    pub organization_id: Option<String>,
    pub scopes: String,
    pub created_by: Option<String>,
    pub expires_at: Option<i64>,
}

pub fn insert(conn: &mut DbConnection, key: &NewServiceKey, now_ms: i64) -> Result<(), DbError> {
    change_feed::in_transaction(conn, |conn| {
        insert_unannounced(conn, key, now_ms)?;
        change_feed::publish(conn, &Change::ServiceKeyCreated(key.id.clone()))
    })
}

fn insert_unannounced(
    conn: &mut DbConnection,
    key: &NewServiceKey,
    now_ms: i64,
) -> Result<(), DbError> {
    diesel::insert_into(keys::table)
        .values((
            keys::id.eq(&key.id),
            keys::name.eq(&key.name),
            keys::prefix.eq(&key.prefix),
            keys::secret_hash.eq(&key.secret_hash),
            keys::organization_id.eq(&key.organization_id),
            keys::scopes.eq(&key.scopes),
            keys::created_by.eq(&key.created_by),
            keys::created_at.eq(now_ms),
            keys::expires_at.eq(key.expires_at),
        ))
        .execute(conn)?;
    Ok(())
}

pub fn find_by_prefix(
    conn: &mut DbConnection,
    prefix: &str,
) -> Result<Option<ServiceKeyRow>, DbError> {
    keys::table
        .filter(keys::prefix.eq(prefix))
        .select(ServiceKeyRow::as_select())
        .first(conn)
        .optional()
        .map_err(DbError::from)
}

pub fn list(conn: &mut DbConnection) -> Result<Vec<ServiceKeyRow>, DbError> {
    keys::table
        .order(keys::created_at.desc())
        .select(ServiceKeyRow::as_select())
        .load(conn)
        .map_err(DbError::from)
}

/// Revokes by id or prefix, and announces it; `false` when no live key matched.
pub fn revoke(conn: &mut DbConnection, id_or_prefix: &str, now_ms: i64) -> Result<bool, DbError> {
    change_feed::in_transaction(conn, |conn| {
        let changed = diesel::update(
            keys::table
                .filter(keys::id.eq(id_or_prefix).or(keys::prefix.eq(id_or_prefix)))
                .filter(keys::revoked_at.is_null()),
        )
        .set(keys::revoked_at.eq(now_ms))
        .execute(conn)?;
        if changed > 0 {
            let change = Change::ServiceKeyRevoked(id_or_prefix.to_owned());
            change_feed::publish(conn, &change)?;
        }
        Ok(changed > 0)
    })
}

pub fn touch(conn: &mut DbConnection, id: &str, now_ms: i64) -> Result<(), DbError> {
    diesel::update(keys::table.find(id))
        .set(keys::last_used_at.eq(now_ms))
        .execute(conn)?;
    Ok(())
}
