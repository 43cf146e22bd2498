//! Clerk organizations and memberships as database records.

use crate::clerk::organization::{ClerkMembership, ClerkOrganization};
use crate::clerk::user::metadata_json;
use crate::db::organizations::{MembershipRecord, OrganizationRecord};

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
