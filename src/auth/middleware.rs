//! Authenticates every request of the protected scopes: finds the token, classifies it (session
//! token, auth-core service key, Clerk machine token), refuses types the route does not accept
//! (`token-type-mismatch`, as Clerk's `acceptsToken`), verifies it and puts the [`Principal`] into
//! the request, or answers 401 with the reason code.

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;
use actix_web::{web, Error, HttpMessage};

use super::org_scope;
use super::principal::Principal;
use super::service_keys::KEY_PREFIX;
use super::token_source;
use crate::app::AppState;
use crate::clerk::reason::Reason;
use crate::error::ApiError;

/// The kinds of credential a route accepts. Session tokens only, unless a route says otherwise.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Accepts {
    pub session_token: bool,
    pub service_key: bool,
}

impl Accepts {
    pub const SESSION_TOKENS: Self = Self {
        session_token: true,
        service_key: false,
    };
    pub const SESSION_TOKENS_AND_SERVICE_KEYS: Self = Self {
        session_token: true,
        service_key: true,
    };
}

/// What a presented credential is, from its form.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    SessionToken,
    ServiceKey,
    /// Clerk's API keys, M2M tokens and opaque OAuth access tokens: not verified by auth-core yet, so
    /// no route accepts them.
    ClerkMachineToken,
}

fn classify(token: &str) -> Kind {
    if token.starts_with(KEY_PREFIX) {
        Kind::ServiceKey
    } else if ["ak_", "mt_", "oat_"].iter().any(|p| token.starts_with(p)) {
        Kind::ClerkMachineToken
    } else {
        Kind::SessionToken
    }
}

pub async fn authenticate(
    accepts: Accepts,
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, Error> {
    let Some(state) = req.app_data::<web::Data<AppState>>().cloned() else {
        return Err(ApiError::internal().into());
    };
    let found = token_source::find(req.request(), state.cookie_suffix.as_deref());
    let (token, carrier) = match found {
        Ok(Some(found)) => found,
        Ok(None) => return Err(refuse(Reason::SessionTokenMissing, None)),
        Err(reason) => return Err(refuse(reason, Some(token_source::Carrier::Header))),
    };
    let kind = classify(&token);
    let accepted = match kind {
        Kind::SessionToken => accepts.session_token,
        // A key in a cookie is not how servers call: only the Authorization header carries one.
        Kind::ServiceKey => accepts.service_key && carrier == token_source::Carrier::Header,
        Kind::ClerkMachineToken => false,
    };
    if !accepted {
        return Err(refuse(Reason::TokenTypeMismatch, Some(carrier)));
    }
    let principal = match kind {
        Kind::ServiceKey => state
            .service_keys
            .verify(&token)
            .await
            .map(Principal::ServiceKey),
        _ => state.verifier.verify(&token).await.map(Principal::User),
    };
    match principal {
        Ok(principal) => {
            org_scope::reject_foreign_ids(req.request(), principal.organization_id())?;
            req.extensions_mut().insert(principal);
            next.call(req).await
        }
        Err(reason) => Err(refuse(reason, Some(carrier))),
    }
}

fn refuse(reason: Reason, carrier: Option<token_source::Carrier>) -> Error {
    log::info!(
        target: "auth_core::auth",
        "authentication refused: {reason} (credential from {})",
        carrier.map_or("nowhere", token_source::Carrier::as_str)
    );
    ApiError::unauthenticated(reason).into()
}
