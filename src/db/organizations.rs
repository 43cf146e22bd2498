//! Organizations and memberships as Clerk describes them: data written only when newer than what is
//! stored (Clerk's `updated_at`); a deletion (`deleted_at`) is never undone. Together these make the
//! final rows the same whatever order deliveries arrive in.

use diesel::prelude::*;

use super::schema::{organization_memberships, organizations};
use super::{DbConnection, DbError};

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

pub fn write_organization(
    conn: &mut DbConnection,
    org: &OrganizationRecord,
    now_ms: i64,
) -> Result<bool, DbError> {
    let values = (
        organizations::name.eq(&org.name),
        organizations::slug.eq(&org.slug),
        organizations::image_url.eq(&org.image_url),
        organizations::public_metadata.eq(&org.public_metadata),
        organizations::private_metadata.eq(&org.private_metadata),
        organizations::max_allowed_memberships.eq(org.max_allowed_memberships),
        organizations::created_by.eq(&org.created_by),
        organizations::clerk_created_at.eq(org.clerk_created_at),
        organizations::clerk_updated_at.eq(org.clerk_updated_at),
        organizations::synced_at.eq(now_ms),
    );
    let inserted = crate::per_backend!(&mut *conn, |c| diesel::insert_into(organizations::table)
        .values((
            organizations::id.eq(&org.id),
            organizations::created_at.eq(now_ms),
            values
        ))
        .on_conflict(organizations::id)
        .do_nothing()
        .execute(c))?;
    if inserted == 1 {
        return Ok(true);
    }
    let updated = diesel::update(
        organizations::table
            .filter(organizations::id.eq(&org.id))
            .filter(organizations::clerk_updated_at.lt(org.clerk_updated_at)),
    )
    .set(values)
    .execute(conn)?;
    Ok(updated == 1)
}

/// Marks an organization deleted (a tombstone if never seen), and its memberships.
pub fn tombstone_organization(
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

/// Writes a membership (data only when newer). `deleted_at` set makes it a tombstone (a delete, or a
/// membership of a deleted user or organization); a stored tombstone is never brought back.
pub fn write_membership(
    conn: &mut DbConnection,
    membership: &MembershipRecord,
    deleted_at: Option<i64>,
    now_ms: i64,
) -> Result<bool, DbError> {
    let values = (
        organization_memberships::organization_id.eq(&membership.organization_id),
        organization_memberships::user_id.eq(&membership.user_id),
        organization_memberships::role.eq(&membership.role),
        organization_memberships::permissions.eq(&membership.permissions),
        organization_memberships::public_metadata.eq(&membership.public_metadata),
        organization_memberships::private_metadata.eq(&membership.private_metadata),
        organization_memberships::clerk_created_at.eq(membership.clerk_created_at),
        organization_memberships::clerk_updated_at.eq(membership.clerk_updated_at),
        organization_memberships::synced_at.eq(now_ms),
    );
    let inserted = crate::per_backend!(&mut *conn, |c| diesel::insert_into(
        organization_memberships::table
    )
    .values((
        organization_memberships::id.eq(&membership.id),
        organization_memberships::created_at.eq(now_ms),
        organization_memberships::deleted_at.eq(deleted_at),
        values,
    ))
    .on_conflict(organization_memberships::id)
    .do_nothing()
    .execute(c))?;
    if inserted == 1 {
        return Ok(true);
    }
    let updated = diesel::update(
        organization_memberships::table
            .filter(organization_memberships::id.eq(&membership.id))
            .filter(organization_memberships::clerk_updated_at.lt(membership.clerk_updated_at)),
    )
    .set(values)
    .execute(conn)?;
    let deleted = match deleted_at {
        Some(at) => diesel::update(
            organization_memberships::table
                .filter(organization_memberships::id.eq(&membership.id))
                .filter(organization_memberships::deleted_at.is_null()),
        )
        .set(organization_memberships::deleted_at.eq(at))
        .execute(conn)?,
        None => 0,
    };
    Ok(updated + deleted > 0)
}
