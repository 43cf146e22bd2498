//! `/api/orgs/…`: the caller's active organization, its members and (for its admins) its audit
//! trail. Every handler takes an [`OrgScope`]; queries are built from its tenant only.

use actix_web::{web, HttpResponse};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::{IntoParams, ToSchema};

use crate::api::responses::{
    BadRequest, Forbidden, MethodNotAllowed, NotFound, ServiceUnavailable, TooManyRequests,
    Unauthorized,
};
use crate::db::audit_query::AuditFilter;
use crate::db::page::Cursor;
use crate::db::status_range::StatusRange;
use crate::db::tenant::{self, AuditView, MemberView};
use crate::http::error::ApiError;
use crate::request::OrgScope;
use crate::state::AppState;

/// The active organization, the caller's role in it and its permissions.
#[derive(Serialize, ToSchema)]
pub struct CurrentOrganization {
    pub organization: OrganizationDetails,
    /// `org:admin`, `org:member`, … (null for a key or machine token without a role).
    #[schema(required = true)]
    pub role: Option<String>,
    pub permissions: Vec<String>,
}

/// The organization as mirrored from Clerk. Until its webhook has arrived (`synced: false`) only `id`
/// is known, from the credential, and every other field is null.
#[derive(Serialize, ToSchema)]
pub struct OrganizationDetails {
    pub id: String,
    #[schema(required = true)]
    pub name: Option<String>,
    #[schema(required = true)]
    pub slug: Option<String>,
    #[schema(required = true)]
    pub image_url: Option<String>,
    pub public_metadata: Value,
    #[schema(required = true)]
    pub max_allowed_memberships: Option<i32>,
    /// Clerk's `created_at`, Unix milliseconds.
    #[schema(required = true)]
    pub created_at: Option<i64>,
    pub synced: bool,
}

/// A page of members, by membership id; `next` is the `after` of the next page, null on the last.
#[derive(Serialize, ToSchema)]
pub struct MembersPage {
    pub data: Vec<MemberView>,
    #[schema(required = true)]
    pub next: Option<String>,
}

/// A page of audit events, newest first; `next` is the `before` of the next page, null on the last.
#[derive(Serialize, ToSchema)]
pub struct AuditPage {
    pub data: Vec<AuditView>,
    #[schema(required = true)]
    pub next: Option<i64>,
}

const DEFAULT_PAGE: i64 = 50;
const MAX_PAGE: i64 = 100;

fn page_size(limit: Option<i64>) -> Result<i64, ApiError> {
    match limit {
        None => Ok(DEFAULT_PAGE),
        Some(n) if (1..=MAX_PAGE).contains(&n) => Ok(n),
        Some(_) => Err(ApiError::bad_request("limit must be between 1 and 100")),
    }
}

/// The active organization.
///
/// The caller's active organization (from the session token, or the organization a service key or
/// machine token belongs to), the caller's role and permissions.
#[utoipa::path(get, path = "/api/orgs/current", tag = "organizations",
    security(("session_token" = []), ("session_cookie" = []), ("service_key" = []), ("machine_token" = [])),
    responses(
        (status = 200, description = "The active organization", body = CurrentOrganization),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 405, response = MethodNotAllowed),
        (status = 429, response = TooManyRequests),
        (status = 503, response = ServiceUnavailable),
    )
)]
pub async fn current(
    state: web::Data<AppState>,
    scope: OrgScope,
) -> Result<HttpResponse, ApiError> {
    let tenant = scope.tenant().clone();
    let stored = state
        .db
        .run(move |conn| tenant::organization(conn, &tenant))
        .await?;
    let organization = match stored {
        Some(org) => OrganizationDetails {
            id: org.id,
            name: Some(org.name),
            slug: org.slug,
            image_url: org.image_url,
            public_metadata: serde_json::from_str::<Value>(&org.public_metadata)
                .unwrap_or(Value::Null),
            max_allowed_memberships: org.max_allowed_memberships,
            created_at: Some(org.clerk_created_at),
            synced: true,
        },
        // Not mirrored yet (its webhook has not arrived): what the token says.
        None => OrganizationDetails {
            id: scope.organization_id().to_owned(),
            name: None,
            slug: None,
            image_url: None,
            public_metadata: Value::Null,
            max_allowed_memberships: None,
            created_at: None,
            synced: false,
        },
    };
    Ok(HttpResponse::Ok().json(CurrentOrganization {
        organization,
        role: scope.role().map(str::to_owned),
        permissions: scope.permissions().to_vec(),
    }))
}

/// An organization by id: the active organization's own id only.
///
/// As `/api/orgs/current` when `organization_id` (percent-decoded, compared exactly: ids are
/// case-sensitive) is the active organization's; any other value is 404 (whether or not such an
/// organization exists), so ids of other tenants cannot be probed.
#[utoipa::path(get, path = "/api/orgs/{organization_id}", tag = "organizations",
    params(("organization_id" = String, Path, description = "An organization id (`org_…`)")),
    security(("session_token" = []), ("session_cookie" = []), ("service_key" = []), ("machine_token" = [])),
    responses(
        (status = 200, description = "The active organization", body = CurrentOrganization),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
        (status = 405, response = MethodNotAllowed),
        (status = 429, response = TooManyRequests),
        (status = 503, response = ServiceUnavailable),
    )
)]
pub async fn by_id(
    state: web::Data<AppState>,
    scope: OrgScope,
    organization_id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    if organization_id.as_str() != scope.organization_id() {
        return Err(ApiError::not_found());
    }
    current(state, scope).await
}

/// Query of `GET /api/orgs/current/members`; unknown parameters are refused (400).
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct MembersQuery {
    /// Page size, 1 to 100 (default 50).
    #[param(minimum = 1, maximum = 100)]
    limit: Option<i64>,
    /// Keyset cursor: the `next` of the previous page (a membership id); members after it.
    #[param(value_type = Option<String>)]
    after: Option<Cursor<String>>,
}

/// The organization's live members.
///
/// Members with their roles, ordered by membership id and keyset-paginated.
#[utoipa::path(get, path = "/api/orgs/current/members", tag = "organizations",
    params(MembersQuery),
    security(("session_token" = []), ("session_cookie" = []), ("service_key" = []), ("machine_token" = [])),
    responses(
        (status = 200, description = "A page of members", body = MembersPage),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 405, response = MethodNotAllowed),
        (status = 429, response = TooManyRequests),
        (status = 503, response = ServiceUnavailable),
    )
)]
pub async fn members(
    state: web::Data<AppState>,
    scope: OrgScope,
    query: web::Query<MembersQuery>,
) -> Result<HttpResponse, ApiError> {
    let limit = page_size(query.limit)?;
    let tenant = scope.tenant().clone();
    let after = query.into_inner().after;
    let page = state
        .db
        .run(move |conn| tenant::members(conn, &tenant, after.as_ref(), limit))
        .await?;
    let next = page.next(|m| m.membership_id.clone()).map(Cursor::into_key);
    Ok(HttpResponse::Ok().json(MembersPage {
        data: page.rows,
        next,
    }))
}

/// Query of `GET /api/orgs/current/audit`; filters combine with AND; unknown parameters are
/// refused (400).
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct AuditQuery {
    /// Page size, 1 to 100 (default 50).
    #[param(minimum = 1, maximum = 100)]
    limit: Option<i64>,
    /// Keyset cursor: the `next` of the previous page (an event id); events older than it.
    #[param(value_type = Option<i64>)]
    before: Option<Cursor<i64>>,
    /// Only this user's events (`user_…`).
    user_id: Option<String>,
    /// Milliseconds since the epoch, inclusive.
    from: Option<i64>,
    /// Milliseconds since the epoch, exclusive.
    to: Option<i64>,
    /// An exact status (`403`, 100 to 599) or a class (`4xx`, 1xx to 5xx).
    #[param(pattern = "^([1-5]xx|[1-5][0-9]{2})$")]
    status: Option<String>,
}

/// The organization's audit trail.
///
/// Its audit events, newest first, keyset-paginated; organization admins (`org:admin`) only.
#[utoipa::path(get, path = "/api/orgs/current/audit", tag = "organizations",
    params(AuditQuery),
    security(("session_token" = []), ("session_cookie" = []), ("service_key" = []), ("machine_token" = [])),
    responses(
        (status = 200, description = "A page of audit events", body = AuditPage),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 405, response = MethodNotAllowed),
        (status = 429, response = TooManyRequests),
        (status = 503, response = ServiceUnavailable),
    )
)]
pub async fn audit(
    state: web::Data<AppState>,
    scope: OrgScope,
    query: web::Query<AuditQuery>,
) -> Result<HttpResponse, ApiError> {
    let limit = page_size(query.limit)?;
    let query = query.into_inner();
    let status = query
        .status
        .as_deref()
        .map(StatusRange::parse)
        .transpose()
        .map_err(|_| ApiError::bad_request("status must be a code (403) or a class (4xx)"))?;
    // The organization is the tenant's: `tenant::audit_events` sets it.
    let filter = AuditFilter {
        user_id: query.user_id,
        from_ms: query.from,
        to_ms: query.to,
        status,
        ..AuditFilter::default()
    };
    let tenant = scope.tenant().clone();
    let before = query.before;
    let page = state
        .db
        .run(move |conn| tenant::audit_events(conn, &tenant, &filter, before.as_ref(), limit))
        .await?;
    let next = page.next(|e| e.id).map(Cursor::into_key);
    Ok(HttpResponse::Ok().json(AuditPage {
        data: page.rows,
        next,
    }))
}
