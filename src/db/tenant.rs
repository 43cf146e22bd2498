//! Queries on one organization's data. Each takes a [`Tenant`], which only `request::OrgScope` hands
//! out (its constructor is private to the crate): a handler that forgot the tenant has nothing to
//! pass, so the omission does not compile.

use diesel::prelude::*;

use super::audit_query::{self, AuditFilter};
use super::page::{Cursor, Page};
use super::schema::{audit_events, organization_memberships as om, organizations, users};
use super::{DbConnection, DbError};

/// The organization a request may see. Code outside auth-core cannot make one up; it gets it from
/// an `OrgScope` extractor:
///
/// ```compile_fail,E0624
/// let tenant = auth_core::db::tenant::Tenant::new("org_someone_else");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tenant(String);

impl Tenant {
    /// For `request::OrgScope` only: anything else building a tenant bypasses the request's scope.
    pub(crate) fn new(organization_id: &str) -> Self {
        Self(organization_id.to_owned())
    }

    pub fn organization_id(&self) -> &str {
        &self.0
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Queryable)]
pub struct OrganizationView {
    pub id: String,
    pub name: String,
    pub slug: Option<String>,
    pub image_url: Option<String>,
    pub public_metadata: String,
    pub max_allowed_memberships: Option<i32>,
    pub clerk_created_at: i64,
}

/// The organization, unless deleted (or not synced yet).
pub fn organization(
    conn: &mut DbConnection,
    tenant: &Tenant,
) -> Result<Option<OrganizationView>, DbError> {
    organizations::table
        .find(&tenant.0)
        .filter(organizations::deleted_at.is_null())
        .select((
            organizations::id,
            organizations::name,
            organizations::slug,
            organizations::image_url,
            organizations::public_metadata,
            organizations::max_allowed_memberships,
            organizations::clerk_created_at,
        ))
        .first(conn)
        .optional()
        .map_err(DbError::from)
}

/// A live member of the organization (serialized as is by `GET /api/orgs/current/members`).
#[derive(Debug, Clone, PartialEq, Eq, Queryable, serde::Serialize, utoipa::ToSchema)]
#[schema(as = Member)]
pub struct MemberView {
    pub membership_id: String,
    pub user_id: String,
    #[schema(required = true)]
    pub email: Option<String>,
    #[schema(required = true)]
    pub first_name: Option<String>,
    #[schema(required = true)]
    pub last_name: Option<String>,
    #[schema(required = true)]
    pub image_url: Option<String>,
    pub role: String,
    /// Clerk's `created_at` of the membership, Unix milliseconds.
    pub joined_at: i64,
}

/// Live members (membership and user not deleted), by membership id, after the cursor (the
/// membership id of the last member shown).
pub fn members(
    conn: &mut DbConnection,
    tenant: &Tenant,
    after: Option<&Cursor<String>>,
    size: i64,
) -> Result<Page<MemberView>, DbError> {
    let mut query = om::table
        .inner_join(users::table)
        .filter(om::organization_id.eq(&tenant.0))
        .filter(om::deleted_at.is_null())
        .filter(users::deleted_at.is_null())
        .into_boxed();
    if let Some(after) = after {
        query = query.filter(om::id.gt(after.key().clone()));
    }
    let query = query.order(om::id.asc()).select((
        om::id,
        om::user_id,
        users::email,
        users::first_name,
        users::last_name,
        users::image_url,
        om::role,
        om::clerk_created_at,
    ));
    Page::load(conn, query, size)
}

/// One audit event (serialized as is by `GET /api/orgs/current/audit`).
#[derive(Debug, Clone, PartialEq, Eq, Queryable, serde::Serialize, utoipa::ToSchema)]
#[schema(as = AuditEvent)]
pub struct AuditView {
    pub id: i64,
    pub occurred_at: i64,
    #[schema(required = true)]
    pub request_id: Option<String>,
    pub principal_type: String,
    #[schema(required = true)]
    pub user_id: Option<String>,
    #[schema(required = true)]
    pub session_id: Option<String>,
    pub method: String,
    pub path: String,
    pub status: i32,
    pub duration_us: i64,
    #[schema(required = true)]
    pub client_ip: Option<String>,
    #[schema(required = true)]
    pub reason: Option<String>,
}

/// The organization's audit events matching `filter` (whatever organization it names: the tenant's
/// replaces it), older than `before`, newest first: a page of `size`.
pub fn audit_events(
    conn: &mut DbConnection,
    tenant: &Tenant,
    filter: &AuditFilter,
    before: Option<&Cursor<i64>>,
    size: i64,
) -> Result<Page<AuditView>, DbError> {
    let scoped = AuditFilter {
        organization_id: Some(tenant.0.clone()),
        ..filter.clone()
    };
    let query = audit_query::events(&scoped, before).select((
        audit_events::id,
        audit_events::occurred_at,
        audit_events::request_id,
        audit_events::principal_type,
        audit_events::user_id,
        audit_events::session_id,
        audit_events::method,
        audit_events::path,
        audit_events::status,
        audit_events::duration_us,
        audit_events::client_ip,
        audit_events::reason,
    ));
    Page::load(conn, query, size)
}
