//! Who is making a request, as established by the authentication middleware, and the extractors
//! handlers use to get it.

use std::sync::Arc;

use actix_web::dev::Payload;
use actix_web::{FromRequest, HttpMessage, HttpRequest};

use super::machine_tokens::MachinePrincipal;
use super::service_keys::ServiceKeyPrincipal;
use crate::clerk::claims::SessionClaims;
use crate::clerk::jwt::VerifiedToken;
use crate::clerk::reason::Reason;
use crate::db::audit::PrincipalType;
use crate::http::error::ApiError;

/// An authenticated caller.
#[derive(Debug, Clone)]
pub enum Principal {
    /// A Clerk user, by a verified session token.
    User(Arc<VerifiedToken>),
    /// A server, by one of auth-core's service API keys.
    ServiceKey(Arc<ServiceKeyPrincipal>),
    /// A machine, by a Clerk API key, M2M token or OAuth access token.
    MachineToken(Arc<MachinePrincipal>),
}

impl Principal {
    /// What the audit trail and the access log call this kind of caller.
    pub fn kind(&self) -> PrincipalType {
        match self {
            Self::User(_) => PrincipalType::User,
            Self::ServiceKey(_) => PrincipalType::ServiceKey,
            Self::MachineToken(_) => PrincipalType::MachineToken,
        }
    }

    pub fn user_id(&self) -> Option<&str> {
        match self {
            Self::User(token) => Some(&token.claims.user_id),
            Self::ServiceKey(_) => None,
            Self::MachineToken(m) => {
                Some(m.info.subject.as_str()).filter(|s| s.starts_with("user_"))
            }
        }
    }

    /// What a key or machine token was granted (users' permissions come from their token's claims).
    pub fn scopes(&self) -> &[String] {
        match self {
            Self::User(_) => &[],
            Self::ServiceKey(key) => &key.scopes,
            Self::MachineToken(machine) => &machine.info.scopes,
        }
    }

    /// The organization the principal acts in, if any.
    pub fn organization_id(&self) -> Option<&str> {
        match self {
            Self::User(token) => token.claims.organization.as_ref().map(|o| o.id.as_str()),
            Self::ServiceKey(key) => key.organization_id.as_deref(),
            Self::MachineToken(m) => m.organization_id(),
        }
    }

    pub fn session(&self) -> Option<&SessionClaims> {
        match self {
            Self::User(token) => Some(&token.claims),
            Self::ServiceKey(_) | Self::MachineToken(_) => None,
        }
    }
}

/// Required: a handler taking `Principal` answers 401 when the request is not authenticated.
/// Take `Option<Principal>` where authentication is optional.
impl FromRequest for Principal {
    type Error = ApiError;
    type Future = std::future::Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        std::future::ready(
            req.extensions()
                .get::<Principal>()
                .cloned()
                .ok_or_else(|| ApiError::unauthenticated(Reason::SessionTokenMissing)),
        )
    }
}
