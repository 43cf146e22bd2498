//! The organization a request acts in. Handlers of org-scoped routes take an [`OrgScope`]; it is the
//! only source of the [`Tenant`] that org-scoped queries require.
//!
//! Built from the principal: a user's active organization (from the token, v1 or v2 claims), checked
//! against memberships that webhooks have since removed (`membership-revoked`) and a deleted user
//! (`user-deleted`): the request's standing (`request::standing`), judged once per request from the
//! cached user profile, so no database round trip when warm. Without an active organization: 403
//! `organization-required`. (An organization id anywhere in the path or query other than the active
//! one is answered 404 by the authentication middleware, exactly like a route that does not exist.)

use std::future::Future;
use std::pin::Pin;

use actix_web::dev::Payload;
use actix_web::{FromRequest, HttpMessage, HttpRequest};

use crate::auth::principal::Principal;
use crate::clerk::reason::Reason;
use crate::db::tenant::Tenant;
use crate::http::error::ApiError;

use super::standing;

#[derive(Debug, Clone)]
pub struct OrgScope {
    tenant: Tenant,
    role: Option<String>,
    permissions: Vec<String>,
    principal: Principal,
}

impl OrgScope {
    pub fn tenant(&self) -> &Tenant {
        &self.tenant
    }

    pub fn organization_id(&self) -> &str {
        self.tenant.organization_id()
    }

    pub fn role(&self) -> Option<&str> {
        self.role.as_deref()
    }

    pub fn permissions(&self) -> &[String] {
        &self.permissions
    }

    pub fn principal(&self) -> &Principal {
        &self.principal
    }

    async fn resolve(req: HttpRequest) -> Result<Self, ApiError> {
        let principal = req
            .extensions()
            .get::<Principal>()
            .cloned()
            .ok_or_else(|| ApiError::unauthenticated(Reason::SessionTokenMissing))?;
        let scope = match &principal {
            Principal::User(token) => {
                let org = token
                    .claims
                    .organization
                    .clone()
                    .ok_or_else(ApiError::organization_required)?;
                standing::of_request(&req, &token.claims)
                    .await?
                    .require_member()?;
                Self {
                    tenant: Tenant::new(&org.id),
                    role: org.role,
                    permissions: org.permissions,
                    principal: principal.clone(),
                }
            }
            // A key acts in the organization it is bound to (a global key has none); a machine token
            // in the organization that is its subject. Their scopes are their permissions.
            Principal::ServiceKey(_) | Principal::MachineToken(_) => {
                let org = principal
                    .organization_id()
                    .ok_or_else(ApiError::organization_required)?;
                Self {
                    tenant: Tenant::new(org),
                    role: None,
                    permissions: principal
                        .scopes()
                        .iter()
                        .map(|s| crate::clerk::claims::with_org_prefix(s))
                        .collect(),
                    principal: principal.clone(),
                }
            }
        };
        Ok(scope)
    }
}

/// 404 for any `org_…` value in the path or query that is not the principal's active organization
/// (with none active, every one is foreign). Run by the authentication middleware before any guard,
/// so a foreign id is answered like a missing resource whatever else the request lacks. Path
/// segments are compared percent-decoded, as a handler's `web::Path` sees them (`%6Frg_…` is an
/// `org_…` id); only segments with a `%` are decoded, so the usual request allocates nothing here.
pub(crate) fn reject_foreign_ids(req: &HttpRequest, own: Option<&str>) -> Result<(), ApiError> {
    let foreign = |value: &str| value.starts_with("org_") && Some(value) != own;
    let in_path = req.path().split('/').any(|segment| {
        if segment.contains('%') {
            foreign(&percent_encoding::percent_decode_str(segment).decode_utf8_lossy())
        } else {
            foreign(segment)
        }
    });
    let in_query = || {
        url::form_urlencoded::parse(req.query_string().as_bytes())
            .any(|(key, value)| foreign(&key) || foreign(&value))
    };
    if in_path || in_query() {
        return Err(ApiError::not_found());
    }
    Ok(())
}

impl FromRequest for OrgScope {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, ApiError>>>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        Box::pin(Self::resolve(req.clone()))
    }
}
