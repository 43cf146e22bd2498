//! Route guards: `.wrap(Require::role("org:admin"))`, `Require::permission(…)`, `Require::feature(…)`,
//! `Require::plan(…)` or any [`Requirement`] on a resource or scope. Checked with the semantics of
//! Clerk's `has()` (see `clerk::authorization`: prefixes normalised, every asked dimension must hold,
//! no active organization means no role or permission). A failure is 403 `insufficient-permissions`
//! naming what was required; no principal is 401. Guards judge the token's claims, after refusing, as
//! `OrgScope` does, a user removed from the token's active organization since the token was minted
//! (`membership-revoked`) or deleted (`user-deleted`): a route with a guard and no `OrgScope` is no
//! more lenient than one with. That standing is judged once per request (`request::standing`, from
//! the webhook-fed user cache: no database round trip when warm) and shared with `OrgScope`.

use std::future::{ready, Ready};
use std::rc::Rc;

use actix_web::body::EitherBody;
use actix_web::dev::{forward_ready, Service, ServiceRequest, ServiceResponse, Transform};
use actix_web::{Error, HttpMessage, HttpRequest};
use futures_util::future::LocalBoxFuture;

use crate::auth::principal::Principal;
use crate::clerk::authorization::Requirement;
use crate::clerk::claims::with_org_prefix;
use crate::clerk::reason::Reason;
use crate::http::error::ApiError;

use super::standing;

#[derive(Clone)]
pub struct Require(Rc<Requirement>);

impl Require {
    pub fn new(requirement: Requirement) -> Self {
        Self(Rc::new(requirement))
    }

    pub fn role(role: &str) -> Self {
        Self::new(Requirement::role(role))
    }

    pub fn permission(permission: &str) -> Self {
        Self::new(Requirement::permission(permission))
    }

    pub fn feature(feature: &str) -> Self {
        Self::new(Requirement::feature(feature))
    }

    pub fn plan(plan: &str) -> Self {
        Self::new(Requirement::plan(plan))
    }
}

/// Whether `principal` satisfies `requirement`. Keys and machine tokens have no role, features or
/// plans; their scopes are their permissions, within their organization.
pub fn allows(principal: &Principal, requirement: &Requirement) -> bool {
    let scopes = match principal {
        Principal::User(token) => return requirement.is_met_by(&token.claims),
        Principal::ServiceKey(key) => &key.scopes,
        Principal::MachineToken(machine) => &machine.info.scopes,
    };
    let only_permission = requirement.role.is_none()
        && requirement.feature.is_none()
        && requirement.plan.is_none()
        && requirement.reverification.is_none();
    let permission = requirement.permission.as_deref().map(with_org_prefix);
    only_permission
        && principal.organization_id().is_some()
        && permission.is_some_and(|p| scopes.iter().any(|s| with_org_prefix(s) == p))
}

/// The guard's verdict for the request's principal.
async fn judge(req: &HttpRequest, requirement: &Requirement) -> Result<(), ApiError> {
    let principal = req
        .extensions()
        .get::<Principal>()
        .cloned()
        .ok_or_else(|| ApiError::unauthenticated(Reason::SessionTokenMissing))?;
    if let Principal::User(token) = &principal {
        if token.claims.organization.is_some() {
            standing::of_request(req, &token.claims)
                .await?
                .require_member()?;
        }
    }
    if allows(&principal, requirement) {
        Ok(())
    } else {
        Err(ApiError::insufficient_permissions(describe(requirement)))
    }
}

fn describe(requirement: &Requirement) -> serde_json::Value {
    serde_json::to_value(requirement).unwrap_or_default()
}

impl<S, B> Transform<S, ServiceRequest> for Require
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = Error> + 'static,
    B: 'static,
{
    type Response = ServiceResponse<EitherBody<B>>;
    type Error = Error;
    type Transform = RequireService<S>;
    type InitError = ();
    type Future = Ready<Result<Self::Transform, Self::InitError>>;

    fn new_transform(&self, service: S) -> Self::Future {
        ready(Ok(RequireService {
            service: Rc::new(service),
            requirement: self.0.clone(),
        }))
    }
}

pub struct RequireService<S> {
    service: Rc<S>,
    requirement: Rc<Requirement>,
}

impl<S, B> Service<ServiceRequest> for RequireService<S>
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = Error> + 'static,
    B: 'static,
{
    type Response = ServiceResponse<EitherBody<B>>;
    type Error = Error;
    type Future = LocalBoxFuture<'static, Result<Self::Response, Self::Error>>;

    forward_ready!(service);

    fn call(&self, req: ServiceRequest) -> Self::Future {
        let requirement = self.requirement.clone();
        let service = self.service.clone();
        Box::pin(async move {
            let verdict = judge(req.request(), &requirement).await;
            match verdict {
                Ok(()) => service
                    .call(req)
                    .await
                    .map(ServiceResponse::map_into_left_body),
                Err(error) => Err(error.into()),
            }
        })
    }
}
