//! `/api/orgs/…`: the caller's active organization, its members and (for its admins) its audit
//! trail. Every handler takes an [`OrgScope`]; queries are built from its tenant only.

use actix_web::{web, HttpResponse};
use serde::Deserialize;
use serde_json::{json, Value};

use crate::app::AppState;
use crate::auth::OrgScope;
use crate::db::tenant::{self, AuditFilter};
use crate::error::ApiError;

const DEFAULT_PAGE: i64 = 50;
const MAX_PAGE: i64 = 100;

fn page_size(limit: Option<i64>) -> Result<i64, ApiError> {
    match limit {
        None => Ok(DEFAULT_PAGE),
        Some(n) if (1..=MAX_PAGE).contains(&n) => Ok(n),
        Some(_) => Err(ApiError::bad_request("limit must be between 1 and 100")),
    }
}

/// `GET /api/orgs/current` (and `GET /api/orgs/{id}` for the active organization's own id).
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
        Some(org) => json!({
            "id": org.id, "name": org.name, "slug": org.slug, "image_url": org.image_url,
            "public_metadata": serde_json::from_str::<Value>(&org.public_metadata).unwrap_or(Value::Null),
            "max_allowed_memberships": org.max_allowed_memberships, "created_at": org.clerk_created_at,
            "synced": true,
        }),
        // Not mirrored yet (its webhook has not arrived): what the token says.
        None => json!({ "id": scope.organization_id(), "synced": false }),
    };
    Ok(HttpResponse::Ok().json(json!({
        "organization": organization,
        "role": scope.role(),
        "permissions": scope.permissions(),
    })))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MembersQuery {
    limit: Option<i64>,
    after: Option<String>,
}

/// `GET /api/orgs/current/members?limit=&after=`: keyset-paginated by membership id.
pub async fn members(
    state: web::Data<AppState>,
    scope: OrgScope,
    query: web::Query<MembersQuery>,
) -> Result<HttpResponse, ApiError> {
    let limit = page_size(query.limit)?;
    let tenant = scope.tenant().clone();
    let after = query.after.clone();
    let rows = state
        .db
        .run(move |conn| tenant::members(conn, &tenant, after.as_deref(), limit + 1))
        .await?;
    let more = rows.len() > usize::try_from(limit).unwrap_or(usize::MAX);
    let page: Vec<Value> = rows
        .iter()
        .take(usize::try_from(limit).unwrap_or(0))
        .map(|m| {
            json!({"membership_id": m.membership_id, "user_id": m.user_id, "email": m.email,
                "first_name": m.first_name, "last_name": m.last_name, "image_url": m.image_url,
                "role": m.role, "joined_at": m.joined_at})
        })
        .collect();
    let next = more
        .then(|| page.last().map(|m| m["membership_id"].clone()))
        .flatten();
    Ok(HttpResponse::Ok().json(json!({ "data": page, "next": next })))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuditQuery {
    limit: Option<i64>,
    before: Option<i64>,
    user_id: Option<String>,
    /// Milliseconds since the epoch, inclusive.
    from: Option<i64>,
    /// Milliseconds since the epoch, exclusive.
    to: Option<i64>,
    /// An exact status (`403`) or a class (`4xx`).
    status: Option<String>,
}

fn status_range(status: &str) -> Result<(i32, i32), ApiError> {
    let bad = || ApiError::bad_request("status must be a code (403) or a class (4xx)");
    match status.strip_suffix("xx") {
        Some(class) => {
            let class: i32 = class.parse().map_err(|_| bad())?;
            if !(1..=5).contains(&class) {
                return Err(bad());
            }
            Ok((class * 100, class * 100 + 99))
        }
        None => {
            let code: i32 = status.parse().map_err(|_| bad())?;
            if !(100..=599).contains(&code) {
                return Err(bad());
            }
            Ok((code, code))
        }
    }
}

/// `GET /api/orgs/current/audit`: the organization's audit events, newest first (admins only).
pub async fn audit(
    state: web::Data<AppState>,
    scope: OrgScope,
    query: web::Query<AuditQuery>,
) -> Result<HttpResponse, ApiError> {
    let limit = page_size(query.limit)?;
    let filter = AuditFilter {
        user_id: query.user_id.clone(),
        from_ms: query.from,
        to_ms: query.to,
        status: query.status.as_deref().map(status_range).transpose()?,
        before_id: query.before,
    };
    let tenant = scope.tenant().clone();
    let rows = state
        .db
        .run(move |conn| tenant::audit_events(conn, &tenant, &filter, limit + 1))
        .await?;
    let more = rows.len() > usize::try_from(limit).unwrap_or(usize::MAX);
    let page: Vec<Value> = rows
        .iter()
        .take(usize::try_from(limit).unwrap_or(0))
        .map(|e| {
            json!({"id": e.id, "occurred_at": e.occurred_at, "request_id": e.request_id,
                "principal_type": e.principal_type, "user_id": e.user_id, "session_id": e.session_id,
                "method": e.method, "path": e.path, "status": e.status, "duration_us": e.duration_us,
                "client_ip": e.client_ip, "reason": e.reason})
        })
        .collect();
    let next = more.then(|| page.last().map(|e| e["id"].clone())).flatten();
    Ok(HttpResponse::Ok().json(json!({ "data": page, "next": next })))
}
