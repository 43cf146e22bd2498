//! Organizations and memberships as Clerk describes them: data written only when newer than what is
//! stored (Clerk's `updated_at`); a deletion (`deleted_at`) is never undone. Together these make the
//! final rows the same whatever order deliveries arrive in.

use diesel::prelude::*;

use super::change_feed::{self, Change};
use super::schema::{organization_memberships, organizations};
use super::{batch, DbConnection, DbError};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrganizationRecord {
    pub id: String,
    pub name: String,
    pub slug: Option<String>,
    pub image_url: Option<String>,
    pub public_metadata: String,
    pub private_metadata: String,
    pub max_allowed_memberships: Option<i32>,
    pub created_by: Option<String>,
    pub clerk_created_at: i64,
    pub clerk_updated_at: i64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MembershipRecord {
    pub id: String,
    pub organization_id: String,
    pub user_id: String,
    pub role: String,
    /// JSON array.
    pub permissions: String,
    pub public_metadata: String,
    pub private_metadata: String,
    pub clerk_created_at: i64,
    pub clerk_updated_at: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable)]
#[diesel(table_name = organizations)]
pub struct OrganizationRow {
    pub id: String,
    pub name: String,
    pub slug: Option<String>,
    pub image_url: Option<String>,
    pub public_metadata: String,
    pub private_metadata: String,
    pub max_allowed_memberships: Option<i32>,
    pub created_by: Option<String>,
    pub clerk_created_at: i64,
    pub clerk_updated_at: i64,
    pub deleted_at: Option<i64>,
}

/// Writes `org` unless what is stored is as new or newer; returns whether the row changed. See
/// [`upsert_organizations`].
pub fn write_organization(
    conn: &mut DbConnection,
    org: &OrganizationRecord,
    now_ms: i64,
) -> Result<bool, DbError> {
    Ok(upsert_organizations(conn, std::slice::from_ref(org), now_ms)? > 0)
}

/// Writes each organization unless what is stored is as new or newer: `INSERT … ON CONFLICT DO
/// UPDATE … WHERE stored.clerk_updated_at < excluded.clerk_updated_at` (multi-row on PostgreSQL:
/// see `batch::upsert_newer`). `deleted_at` is not written: a deletion is never undone. Returns how
/// many rows were created or changed.
pub fn upsert_organizations(
    conn: &mut DbConnection,
    records: &[OrganizationRecord],
    now_ms: i64,
) -> Result<usize, DbError> {
    change_feed::in_transaction(conn, |conn| {
        let written = upsert_organizations_unannounced(conn, records, now_ms)?;
        // Profiles show their organizations: any cached one may be stale.
        if written > 0 {
            change_feed::publish(conn, &Change::AllUsers)?;
        }
        Ok(written)
    })
}

fn upsert_organizations_unannounced(
    conn: &mut DbConnection,
    records: &[OrganizationRecord],
    now_ms: i64,
) -> Result<usize, DbError> {
    let written = batch::upsert_newer!(conn, organizations, records,
        |org| id: &org.id, version: org.clerk_updated_at,
        insert_only { created_at: now_ms }
        columns {
            name: &org.name,
            slug: &org.slug,
            image_url: &org.image_url,
            public_metadata: &org.public_metadata,
            private_metadata: &org.private_metadata,
            max_allowed_memberships: org.max_allowed_memberships,
            created_by: &org.created_by,
            clerk_created_at: org.clerk_created_at,
            clerk_updated_at: org.clerk_updated_at,
            synced_at: now_ms,
        }
    );
    Ok(written)
}

/// Marks an organization deleted (a tombstone if never seen), and its memberships.
pub fn tombstone_organization(
    conn: &mut DbConnection,
    id: &str,
    now_ms: i64,
) -> Result<(), DbError> {
    change_feed::in_transaction(conn, |conn| {
        tombstone_organization_unannounced(conn, id, now_ms)?;
        change_feed::publish(conn, &Change::OrganizationDeleted(id.to_owned()))
    })
}

fn tombstone_organization_unannounced(
    conn: &mut DbConnection,
    id: &str,
    now_ms: i64,
) -> Result<(), DbError> {
    crate::per_backend!(&mut *conn, |c| diesel::insert_into(organizations::table)
        .values((
            organizations::id.eq(id),
            organizations::name.eq(""),
            organizations::clerk_created_at.eq(0_i64),
            organizations::clerk_updated_at.eq(0_i64),
            organizations::deleted_at.eq(now_ms),
            organizations::created_at.eq(now_ms),
            organizations::synced_at.eq(now_ms),
        ))
        .on_conflict(organizations::id)
        .do_nothing()
        .execute(c))?;
    diesel::update(
        organizations::table
            .filter(organizations::id.eq(id))
            .filter(organizations::deleted_at.is_null()),
    )
    .set((
        organizations::deleted_at.eq(now_ms),
        organizations::synced_at.eq(now_ms),
    ))
    .execute(conn)?;
    diesel::update(
        organization_memberships::table
            .filter(organization_memberships::organization_id.eq(id))
            .filter(organization_memberships::deleted_at.is_null()),
    )
    .set(organization_memberships::deleted_at.eq(now_ms))
    .execute(conn)?;
    Ok(())
}

/// Whether the organization has been mirrored here (deleted ones included).
pub fn organization_is_known(conn: &mut DbConnection, id: &str) -> Result<bool, DbError> {
    let found: Option<String> = organizations::table
        .find(id)
        .select(organizations::id)
        .first(conn)
        .optional()?;
    Ok(found.is_some())
}

pub fn organization_is_deleted(conn: &mut DbConnection, id: &str) -> Result<bool, DbError> {
    let deleted: Option<Option<i64>> = organizations::table
        .find(id)
        .select(organizations::deleted_at)
        .first(conn)
        .optional()?;
    Ok(matches!(deleted, Some(Some(_))))
}

/// Writes memberships, each with the time it is deleted at when it is (or becomes) a tombstone (a
/// delete, or a membership of a deleted user or organization): data only when newer (`INSERT … ON
/// CONFLICT DO UPDATE … WHERE stored.clerk_updated_at < excluded.clerk_updated_at`, multi-row on
/// PostgreSQL: see `batch::upsert_newer`), then the live ones among those to delete marked deleted
/// (one `UPDATE` per deletion time). A stored tombstone is never brought back. Returns how many rows
/// were created or changed (data and deletion each counted).
pub fn upsert_memberships(
    conn: &mut DbConnection,
    memberships: &[(MembershipRecord, Option<i64>)],
    now_ms: i64,
) -> Result<usize, DbError> {
    change_feed::in_transaction(conn, |conn| {
        let written = upsert_memberships_unannounced(conn, memberships, now_ms)?;
        if written > 0 {
            let members = memberships.iter().map(|(m, _)| m.user_id.as_str());
            change_feed::publish_users(conn, members)?;
        }
        Ok(written)
    })
}

fn upsert_memberships_unannounced(
    conn: &mut DbConnection,
    memberships: &[(MembershipRecord, Option<i64>)],
    now_ms: i64,
) -> Result<usize, DbError> {
    let mut written = batch::upsert_newer!(conn, organization_memberships, memberships,
        |(m, deleted_at)| id: &m.id, version: m.clerk_updated_at,
        insert_only { created_at: now_ms, deleted_at: *deleted_at }
        columns {
            organization_id: &m.organization_id,
            user_id: &m.user_id,
            role: &m.role,
            permissions: &m.permissions,
            public_metadata: &m.public_metadata,
            private_metadata: &m.private_metadata,
            clerk_created_at: m.clerk_created_at,
            clerk_updated_at: m.clerk_updated_at,
            synced_at: now_ms,
        }
    );
    let mut deletions: Vec<(i64, Vec<&str>)> = Vec::new();
    for (m, deleted_at) in memberships {
        let Some(at) = *deleted_at else { continue };
        match deletions.iter_mut().find(|(time, _)| *time == at) {
            Some((_, ids)) => ids.push(&m.id),
            None => deletions.push((at, vec![&m.id])),
        }
    }
    for (at, ids) in deletions {
        for chunk in ids.chunks(batch::MAX_ROWS) {
            written += diesel::update(
                organization_memberships::table
                    .filter(organization_memberships::id.eq_any(chunk))
                    .filter(organization_memberships::deleted_at.is_null()),
            )
            .set(organization_memberships::deleted_at.eq(at))
            .execute(conn)?;
        }
    }
    Ok(written)
}
