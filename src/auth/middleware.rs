//! Authenticates every request of the protected scopes: finds the token, classifies it (session
//! token, auth-core service key, Clerk machine token), refuses types the route does not accept
//! (`token-type-mismatch`, as Clerk's `acceptsToken`), verifies it and puts the [`Principal`] into
//! the request, or answers 401 with the reason code.
//!
//! Clerk's machine tokens in JWT form (M2M and OAuth access tokens) look like session tokens: on a
//! route that accepts them they are recognised when the session checks answer `token-type-mismatch`
//! (an `at+jwt` type, an M2M category or an `mch_` subject), then verified networkless with the same
//! keys; a warm one is a cache hit. Session tokens pay nothing for this.

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;
use actix_web::{web, Error, HttpMessage};

use super::org_scope;
use super::principal::Principal;
use super::service_keys::KEY_PREFIX;
use super::token_source;
use crate::app::AppState;
use crate::clerk::machine_token::MachineKind;
use crate::clerk::reason::Reason;
use crate::error::ApiError;

/// The kinds of credential a route accepts (Clerk's `acceptsToken`). Session tokens only, unless a
/// route says otherwise.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Accepts {
    pub session_token: bool,
    pub service_key: bool,
    pub api_key: bool,
    pub m2m_token: bool,
    pub oauth_token: bool,
}

impl Accepts {
    pub const SESSION_TOKENS: Self = Self {
        session_token: true,
        service_key: false,
        api_key: false,
        m2m_token: false,
        oauth_token: false,
    };
    pub const ANY: Self = Self {
        session_token: true,
        service_key: true,
        api_key: true,
        m2m_token: true,
        oauth_token: true,
    };

    fn machine(self, kind: MachineKind) -> bool {
        match kind {
            MachineKind::ApiKey => self.api_key,
            MachineKind::M2mToken => self.m2m_token,
            MachineKind::OAuthToken => self.oauth_token,
        }
    }
}

/// What a presented credential is, from its form.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    SessionToken,
    ServiceKey,
    Machine(MachineKind),
}

fn classify(token: &str) -> Kind {
    if token.starts_with(KEY_PREFIX) {
        Kind::ServiceKey
    } else if let Some(kind) = MachineKind::of(token) {
        Kind::Machine(kind)
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
        Ok(None) => return Err(refuse(&state, Reason::SessionTokenMissing, None)),
        Err(reason) => return Err(refuse(&state, reason, Some(token_source::Carrier::Header))),
    };
    let kind = classify(&token);
    let from_header = carrier == token_source::Carrier::Header;
    // Machine tokens in JWT form, like every machine credential, only from the header.
    let machine_jwts = from_header && (accepts.m2m_token || accepts.oauth_token);
    let accepted = match kind {
        Kind::SessionToken => accepts.session_token || machine_jwts,
        // Keys and machine tokens are how servers call: only the Authorization header carries them.
        Kind::ServiceKey => accepts.service_key && from_header,
        // Without CLERK_SECRET_KEY Clerk cannot be asked about them: not accepted anywhere.
        Kind::Machine(machine) => {
            accepts.machine(machine) && from_header && state.machine_tokens.is_some()
        }
    };
    if !accepted {
        return Err(refuse(&state, Reason::TokenTypeMismatch, Some(carrier)));
    }
    let principal = match (kind, &state.machine_tokens) {
        (Kind::SessionToken, _) => verify_jwt(&state, accepts, machine_jwts, &token).await,
        (Kind::ServiceKey, _) => state
            .service_keys
            .verify(&token)
            .await
            .map(Principal::ServiceKey),
        (Kind::Machine(machine), Some(verifier)) => verifier
            .verify(machine, &token)
            .await
            .map(Principal::MachineToken),
        // Refused above: machine tokens are accepted only with a verifier.
        (Kind::Machine(_), None) => Err(Reason::TokenTypeMismatch),
    };
    match principal {
        Ok(principal) => {
            state.metrics.record_auth("ok");
            org_scope::reject_foreign_ids(req.request(), principal.organization_id())?;
            req.extensions_mut().insert(principal);
            next.call(req).await
        }
        Err(reason) => Err(refuse(&state, reason, Some(carrier))),
    }
}

/// A JWT: a session token, or where the route accepts them a machine token in JWT form.
async fn verify_jwt(
    state: &AppState,
    accepts: Accepts,
    machine_jwts: bool,
    token: &str,
) -> Result<Principal, Reason> {
    let accepted_machine = |machine: std::sync::Arc<super::machine_tokens::MachinePrincipal>| {
        if accepts.machine(machine.kind) {
            Ok(Principal::MachineToken(machine))
        } else {
            Err(Reason::TokenTypeMismatch)
        }
    };
    // A machine JWT fails the session checks only after an RSA verification, and failures are not
    // cached; so a remembered machine JWT is looked up first. Session tokens on these routes pay one
    // hash lookup for it; on session-only routes (`machine_jwts` false) nothing.
    if machine_jwts {
        if let Some(machine) = state.verifier.cached_machine_jwt(token) {
            return accepted_machine(machine);
        }
    }
    match state.verifier.verify(token).await {
        Ok(user) if accepts.session_token => Ok(Principal::User(user)),
        Ok(_) => Err(Reason::TokenTypeMismatch),
        Err(Reason::TokenTypeMismatch) if machine_jwts => state
            .verifier
            .verify_machine_jwt(token)
            .await
            .and_then(accepted_machine),
        Err(reason) => Err(reason),
    }
}

fn refuse(state: &AppState, reason: Reason, carrier: Option<token_source::Carrier>) -> Error {
    state.metrics.record_auth(reason.as_str());
    log::info!(
        target: "auth_core::auth",
        "authentication refused: {reason} (credential from {})",
        carrier.map_or("nowhere", token_source::Carrier::as_str)
    );
    ApiError::unauthenticated(reason).into()
}
