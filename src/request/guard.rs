//! Route guards: `.wrap(Require::role("org:admin"))`, `Require::permission(…)`, `Require::feature(…)`,
//! `Require::plan(…)`, `Require::reverification(…)` or any [`Requirement`] on a resource or scope.
//! Checked with the semantics of Clerk's `has()` (see `clerk::authorization`: prefixes normalised,
//! every asked dimension must hold, no active organization means no role or permission). A failure is
//! 403 `insufficient-permissions` naming what was required; no principal is 401. Guards judge the
//! token's claims, after refusing, as `OrgScope` does, a user removed from the token's active
//! organization since the token was minted (`membership-revoked`) or deleted (`user-deleted`): a route
//! with a guard and no `OrgScope` is no more lenient than one with. That standing is judged once per
//! request (`request::standing`, from the webhook-fed user cache: no database round trip when warm)
//! and shared with `OrgScope`.
//!
//! A reverification (step-up) requirement is judged after the others and, unmet, answers 403 in the
//! body shape of @clerk/shared's `reverificationError`, which Clerk's `useReverification()`
//! recognises: it opens the step-up dialog and retries. `/api/auth/verify` judges the requirements of
//! its query with the same [`check`], so the rule lives here once.

use std::borrow::Cow;
use std::future::{ready, Ready};
use std::rc::Rc;

use actix_web::body::EitherBody;
use actix_web::dev::{forward_ready, Service, ServiceRequest, ServiceResponse, Transform};
use actix_web::{Error, HttpMessage, HttpRequest};
use futures_util::future::LocalBoxFuture;

use crate::auth::principal::Principal;
use crate::clerk::authorization::{Requirement, Reverification};
use crate::clerk::claims::without_org_prefix;
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

    /// A recent factor verification, as Clerk's `has({ reverification })`: a preset
    /// (`Reverification::Strict`, …) or `Reverification::Custom { level, after_minutes }`.
    pub fn reverification(reverification: Reverification) -> Self {
        Self::new(Requirement::reverification(reverification))
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
    let permission = requirement.permission.as_deref().map(without_org_prefix);
    only_permission
        && principal.organization_id().is_some()
        && permission.is_some_and(|p| scopes.iter().any(|s| without_org_prefix(s) == p))
}

/// The guard's verdict for the request's principal.
async fn judge(req: &HttpRequest, requirement: &Requirement) -> Result<(), ApiError> {
    check(req, std::slice::from_ref(requirement)).await
}

/// Whether the request's principal meets every one of `requirements`: 401 without a principal,
/// `membership-revoked`/`user-deleted` for a user no longer in the token's organization, 403
/// `insufficient-permissions` naming the first requirement unmet (reverification aside), then the
/// reverification error for the first unmet reverification.
pub async fn check(req: &HttpRequest, requirements: &[Requirement]) -> Result<(), ApiError> {
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
    for requirement in requirements {
        // Copied only when there is a reverification to leave out.
        let base = if requirement.reverification.is_some() {
            Cow::Owned(requirement.without_reverification())
        } else {
            Cow::Borrowed(requirement)
        };
        let base_met = !requirement.asks_beyond_reverification() || allows(&principal, &base);
        // Keys and machine tokens have verified no factor: a step-up is not theirs to give.
        let machine_asked_step_up =
            requirement.reverification.is_some() && principal.session().is_none();
        if !base_met || machine_asked_step_up {
            return Err(ApiError::insufficient_permissions(describe(requirement)));
        }
    }
    for wanted in requirements.iter().filter_map(|r| r.reverification) {
        let met = principal
            .session()
            .is_some_and(|claims| Requirement::reverification(wanted).is_met_by(claims));
        if !met {
            let (level, after_minutes) = wanted.level_and_minutes();
            return Err(ApiError::reverification_required(
                level.as_str(),
                after_minutes,
            ));
        }
    }
    Ok(())
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
