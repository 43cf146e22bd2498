//! What a backfill needs beyond the webhook upserts: the stored versions of a page's rows, marking
//! rows confirmed by a listing (`synced_at`), and finding live rows no listing confirmed since a
//! time (deleted in Clerk while webhooks were missed).

use std::collections::{HashMap, HashSet};

use diesel::prelude::*;

use super::schema::{organization_memberships, organizations, users};
use super::{DbConnection, DbError};

/// A table mirrored from Clerk.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Mirrored {
    Users,
    Organizations,
    Memberships,
}

/// The same query on whichever mirrored table `$which` names: the three have the columns used here
/// (`id`, `clerk_updated_at`, `deleted_at`, `synced_at`) with the same types.
macro_rules! on_table {
    ($which:expr, |$t:ident| $body:expr) => {
        match $which {
            Mirrored::Users => {
                use users as $t;
                $body
            }
            Mirrored::Organizations => {
                use organizations as $t;
                $body
            }
            Mirrored::Memberships => {
                use organization_memberships as $t;
                $body
            }
        }
    };
}

/// A stored row's `clerk_updated_at` and whether it is a tombstone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StoredVersion {
    pub clerk_updated_at: i64,
    pub deleted: bool,
}

/// The stored versions of the rows among `ids` (absent ids are not stored).
pub fn stored_versions(
    conn: &mut DbConnection,
    which: Mirrored,
    ids: &[String],
) -> Result<HashMap<String, StoredVersion>, DbError> {
    let rows: Vec<(String, i64, Option<i64>)> = on_table!(which, |t| t::table
        .filter(t::id.eq_any(ids))
        .select((t::id, t::clerk_updated_at, t::deleted_at))
        .load(conn))?;
    Ok(rows
        .into_iter()
        .map(|(id, clerk_updated_at, deleted_at)| {
            (
                id,
                StoredVersion {
                    clerk_updated_at,
                    deleted: deleted_at.is_some(),
                },
            )
        })
        .collect())
}

/// The tombstones among `ids`.
pub fn deleted_among(
    conn: &mut DbConnection,
    which: Mirrored,
    ids: &[&str],
) -> Result<HashSet<String>, DbError> {
    let deleted: Vec<String> = on_table!(which, |t| t::table
        .filter(t::id.eq_any(ids))
        .filter(t::deleted_at.is_not_null())
        .select(t::id)
        .load(conn))?;
    Ok(deleted.into_iter().collect())
}

/// Records that a listing at `now_ms` confirmed these rows exist in Clerk.
pub fn mark_synced(
    conn: &mut DbConnection,
    which: Mirrored,
    ids: &[String],
    now_ms: i64,
) -> Result<(), DbError> {
    if ids.is_empty() {
        return Ok(());
    }
    on_table!(which, |t| diesel::update(
        t::table.filter(t::id.eq_any(ids))
    )
    .set(t::synced_at.eq(now_ms))
    .execute(conn))?;
    Ok(())
}

/// Live rows that nothing confirmed since `synced_before`, in id order after `after`, at most
/// `limit` of them.
pub fn stale_ids(
    conn: &mut DbConnection,
    which: Mirrored,
    synced_before: i64,
    after: Option<&str>,
    limit: i64,
) -> Result<Vec<String>, DbError> {
    let after = after.unwrap_or("");
    on_table!(which, |t| t::table
        .filter(t::deleted_at.is_null())
        .filter(t::synced_at.lt(synced_before))
        .filter(t::id.gt(after))
        .order(t::id.asc())
        .select(t::id)
        .limit(limit)
        .load(conn))
    .map_err(DbError::from)
}

/// Live rows, or only those that nothing confirmed since `synced_before`.
pub fn count_live(
    conn: &mut DbConnection,
    which: Mirrored,
    synced_before: Option<i64>,
) -> Result<i64, DbError> {
    let before = synced_before.unwrap_or(i64::MAX);
    on_table!(which, |t| t::table
        .filter(t::deleted_at.is_null())
        .filter(t::synced_at.lt(before))
        .count()
        .get_result(conn))
    .map_err(DbError::from)
}

/// Marks a membership deleted (a live one only: a tombstone keeps its first deletion time).
pub fn tombstone_membership(conn: &mut DbConnection, id: &str, now_ms: i64) -> Result<(), DbError> {
    diesel::update(
        organization_memberships::table
            .filter(organization_memberships::id.eq(id))
            .filter(organization_memberships::deleted_at.is_null()),
    )
    .set((
        organization_memberships::deleted_at.eq(now_ms),
        organization_memberships::synced_at.eq(now_ms),
    ))
    .execute(conn)?;
    Ok(())
}
