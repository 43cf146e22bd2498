//! Clerk organizations and memberships as database records.

use crate::clerk::organization::{ClerkMembership, ClerkOrganization};
use crate::clerk::user::metadata_json;
use crate::db::organizations::{self, MembershipRecord, OrganizationRecord};
use crate::db::{users, DbConnection, DbError};

pub fn organization_record(org: &ClerkOrganization) -> OrganizationRecord {
    OrganizationRecord {
        id: org.id.clone(),
        name: org.name.clone(),
        slug: org.slug.clone(),
        image_url: org.image_url.clone(),
        public_metadata: metadata_json(&org.public_metadata),
        private_metadata: metadata_json(&org.private_metadata),
        max_allowed_memberships: org.max_allowed_memberships,
        created_by: org.created_by.clone(),
        clerk_created_at: org.created_at,
        clerk_updated_at: org.updated_at,
    }
}

pub fn membership_record(m: &ClerkMembership) -> MembershipRecord {
    MembershipRecord {
        id: m.id.clone(),
        organization_id: m.organization.id.clone(),
        user_id: m.public_user_data.user_id.clone(),
        role: m.role.clone(),
        permissions: serde_json::to_string(&m.permissions).unwrap_or_else(|_| "[]".into()),
        public_metadata: metadata_json(&m.public_metadata),
        private_metadata: metadata_json(&m.private_metadata),
        clerk_created_at: m.created_at,
        clerk_updated_at: m.updated_at,
    }
}

/// A membership, with its organization and user created from the payload when not yet known. A
/// membership of a deleted user or organization is written as a tombstone. Webhooks and backfill
/// both come here. Returns whether the membership's row changed.
pub fn write_membership(
    conn: &mut DbConnection,
    membership: &ClerkMembership,
    deleted: bool,
    now_ms: i64,
) -> Result<bool, DbError> {
    organizations::write_organization(
        conn,
        &organization_record(&membership.organization),
        now_ms,
    )?;
    let user = &membership.public_user_data;
    let email = user
        .identifier
        .as_deref()
        .filter(|i| i.contains('@'))
        .map(str::to_lowercase);
    users::insert_user_stub(
        conn,
        &user.user_id,
        email.as_deref(),
        user.first_name.as_deref(),
        user.last_name.as_deref(),
        user.image_url.as_deref(),
        now_ms,
    )?;
    let orphaned = users::is_deleted(conn, &user.user_id)?
        || organizations::organization_is_deleted(conn, &membership.organization.id)?;
    let deleted_at = (deleted || orphaned).then_some(now_ms);
    organizations::write_membership(conn, &membership_record(membership), deleted_at, now_ms)
}
