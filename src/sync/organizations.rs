//! Clerk organizations and memberships as database records.

use std::collections::HashSet;

use crate::clerk::organization::{ClerkMembership, ClerkOrganization};
use crate::clerk::user::metadata_json;
use crate::db::organizations::{self, MembershipRecord, OrganizationRecord};
use crate::db::reconcile::{self, Mirrored};
use crate::db::users::{self, UserStub};
use crate::db::{DbConnection, DbError};

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
/// membership of a deleted user or organization is written as a tombstone. Returns whether the
/// membership's row changed. See [`write_memberships`].
pub fn write_membership(
    conn: &mut DbConnection,
    membership: &ClerkMembership,
    deleted: bool,
    now_ms: i64,
) -> Result<bool, DbError> {
    Ok(write_memberships(conn, std::slice::from_ref(membership), deleted, now_ms)? > 0)
}

/// Memberships, with their organizations and users created (or, organizations, updated when newer)
/// from the payloads; all deleted when `deleted` (`organizationMembership.deleted`), and those of a
/// deleted user or organization written as tombstones. Webhooks and backfill both come here: a
/// handful of statements whatever the number of memberships. Returns how many membership rows
/// changed.
pub fn write_memberships(
    conn: &mut DbConnection,
    memberships: &[ClerkMembership],
    deleted: bool,
    now_ms: i64,
) -> Result<usize, DbError> {
    let orphaned = orphaned_memberships(conn, memberships)?;
    write_memberships_knowing(conn, memberships, &orphaned, deleted, now_ms)
}

/// [`write_memberships`], for a caller that has already read [`orphaned_memberships`] (in the same
/// transaction: writing the payloads' organizations and user stubs deletes neither).
pub fn write_memberships_knowing(
    conn: &mut DbConnection,
    memberships: &[ClerkMembership],
    orphaned: &HashSet<String>,
    deleted: bool,
    now_ms: i64,
) -> Result<usize, DbError> {
    if memberships.is_empty() {
        return Ok(0);
    }
    let organizations: Vec<OrganizationRecord> = memberships
        .iter()
        .map(|m| organization_record(&m.organization))
        .collect();
    organizations::upsert_organizations(conn, &organizations, now_ms)?;
    let stubs: Vec<UserStub> = memberships.iter().map(user_stub).collect();
    users::insert_user_stubs(conn, &stubs, now_ms)?;
    let rows: Vec<(MembershipRecord, Option<i64>)> = memberships
        .iter()
        .map(|m| {
            let tombstone = deleted || orphaned.contains(&m.id);
            (membership_record(m), tombstone.then_some(now_ms))
        })
        .collect();
    organizations::upsert_memberships(conn, &rows, now_ms)
}

/// The ids of the memberships whose user or organization is stored as deleted: they are written as
/// tombstones, as a `*.deleted` webhook left the rest of that user's or organization's.
pub fn orphaned_memberships(
    conn: &mut DbConnection,
    memberships: &[ClerkMembership],
) -> Result<HashSet<String>, DbError> {
    if memberships.is_empty() {
        return Ok(HashSet::new());
    }
    let user_ids: Vec<&str> = memberships
        .iter()
        .map(|m| m.public_user_data.user_id.as_str())
        .collect();
    let org_ids: Vec<&str> = memberships
        .iter()
        .map(|m| m.organization.id.as_str())
        .collect();
    let deleted_users = reconcile::deleted_among(conn, Mirrored::Users, &user_ids)?;
    let deleted_orgs = reconcile::deleted_among(conn, Mirrored::Organizations, &org_ids)?;
    Ok(memberships
        .iter()
        .filter(|m| {
            deleted_users.contains(&m.public_user_data.user_id)
                || deleted_orgs.contains(&m.organization.id)
        })
        .map(|m| m.id.clone())
        .collect())
}

/// The user a membership payload describes (`public_user_data`); its identifier is their email when
/// it looks like one.
fn user_stub(membership: &ClerkMembership) -> UserStub {
    let user = &membership.public_user_data;
    UserStub {
        id: user.user_id.clone(),
        email: user
            .identifier
            .as_deref()
            .filter(|i| i.contains('@'))
            .map(str::to_lowercase),
        first_name: user.first_name.clone(),
        last_name: user.last_name.clone(),
        image_url: user.image_url.clone(),
    }
}
