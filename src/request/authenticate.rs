//! Authenticates every request of the protected scopes: finds the token, classifies it (session
//! token, auth-core service key, Clerk machine token), refuses types the route does not accept
//! (`token-type-mismatch`, as Clerk's `acceptsToken`), verifies it and puts the [`Principal`] into
//! the request, or answers 401 with the reason code.
//!
//! Clerk's machine tokens in JWT form (M2M and OAuth access tokens) look like session tokens: on a
//! route that accepts them they are recognised when the session checks answer `token-type-mismatch`
//! (an `at+jwt` type, an M2M category or an `mch_` subject), then verified networkless with the same
//! keys; a warm one is a cache hit. Session tokens pay nothing for this.
//!
//! Service keys and opaque machine tokens cost a database query or a call to Clerk when no cache
//! knows them, so they are checked for shape first and looked up only through `failed_credentials`
//! (refusals remembered, a budget of failed lookups per client). Session tokens and machine JWTs
//! are not counted there: a refused one costs a signature check and no call or query (unknown key
//! ids are bounded by the JWKS refetch cooldown), so counting them would throttle without saving
//! anything.

use std::net::IpAddr;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;
use actix_web::{web, Error, HttpMessage};

use crate::auth::failed_credentials::Refusal;
use crate::auth::principal::Principal;
use crate::auth::service_keys::{self, KEY_PREFIX};
use crate::auth::token_source;
use crate::clerk::jwt;
use crate::clerk::key_source::NO_KEY_SOURCE_RETRY_AFTER_SECS;
use crate::clerk::machine_token::MachineKind;
use crate::clerk::reason::Reason;
use crate::http::error::ApiError;
use crate::request::org_scope;
use crate::state::AppState;

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
    let principal = match kind {
        Kind::SessionToken => verify_jwt(&state, accepts, machine_jwts, &token)
            .await
            .map_err(Refusal::Credential),
        Kind::ServiceKey | Kind::Machine(_) => verify_looked_up(&state, &req, kind, &token).await,
    };
    match principal {
        Ok(principal) => {
            state.metrics.record_auth("ok");
            org_scope::reject_foreign_ids(req.request(), principal.organization_id())?;
            req.extensions_mut().insert(principal);
            next.call(req).await
        }
        Err(refusal) => {
            let detail = match refusal {
                Refusal::Credential(Reason::TokenInvalidIssuer) => issuer_mismatch(&state, &token),
                _ => None,
            };
            Err(refuse_with(&state, refusal, Some(carrier), detail))
        }
    }
}

/// A service key or an opaque Clerk machine token: from the verifier's cache, else, when of the right
/// shape, looked up through `failed_credentials`.
async fn verify_looked_up(
    state: &AppState,
    req: &ServiceRequest,
    kind: Kind,
    token: &str,
) -> Result<Principal, Refusal> {
    let guard = &state.failed_credentials;
    match (kind, &state.machine_tokens) {
        (Kind::ServiceKey, _) => {
            service_keys::check_shape(token)?;
            if let Some(key) = state.service_keys.cached(token) {
                return Ok(Principal::ServiceKey(key));
            }
            let lookup = state.service_keys.look_up(token);
            let key = guard.look_up(token, client_ip(state, req), lookup).await?;
            Ok(Principal::ServiceKey(key))
        }
        (Kind::Machine(machine), Some(verifier)) => {
            machine.check_shape(token)?;
            if let Some(principal) = verifier.cached(token) {
                return Ok(Principal::MachineToken(principal));
            }
            let lookup = verifier.look_up(machine, token);
            let principal = guard.look_up(token, client_ip(state, req), lookup).await?;
            Ok(Principal::MachineToken(principal))
        }
        // Refused before: machine tokens are accepted only with a verifier; session tokens are JWTs.
        (Kind::Machine(_), None) | (Kind::SessionToken, _) => Err(Reason::TokenTypeMismatch.into()),
    }
}

/// The client's address as the audit trail records it (the peer, or behind a trusted proxy the
/// `X-Forwarded-For` hop it names). The one place this module asks for it.
fn client_ip(state: &AppState, req: &ServiceRequest) -> Option<IpAddr> {
    crate::client_ip::of_request(req.head(), &state.settings.server.trusted_proxies)
}

/// A JWT: a session token, or where the route accepts them a machine token in JWT form.
async fn verify_jwt(
    state: &AppState,
    accepts: Accepts,
    machine_jwts: bool,
    token: &str,
) -> Result<Principal, Reason> {
    let accepted_machine =
        |machine: std::sync::Arc<crate::auth::machine_tokens::MachinePrincipal>| {
            if accepts.machine(machine.kind) {
                Ok(Principal::MachineToken(machine))
            } else {
                Err(Reason::TokenTypeMismatch)
            }
        };
    // A machine JWT fails the session checks only after an RSA verification, and failures are not
    // cached; so a remembered machine JWT is looked up before a token is verified. A remembered
    // session token is looked up before that (it passed the session checks, so it is no machine
    // token): a warm session token pays for no machine lookup, and a warm machine JWT for one
    // session lookup. On session-only routes (`machine_jwts` false) neither is asked first.
    if machine_jwts {
        if accepts.session_token {
            if let Some(user) = state.verifier.cached_session(token) {
                return Ok(Principal::User(user));
            }
        }
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

/// Which issuer was expected and which the token names, so an operator (and a developer reading the
/// response) sees at once which setting differs. The claimed issuer is shown quoted and escaped
/// (`{:?}`): it is the sender's text, and must not forge log lines.
fn issuer_mismatch(state: &AppState, token: &str) -> Option<String> {
    let expected = state.verifier.policy().issuer.as_deref()?;
    let received = jwt::claimed_issuer(token)
        .map_or_else(|| "no iss claim".to_owned(), |iss| format!("{iss:?}"));
    Some(format!(
        "expected {expected} (auth.issuer, or from CLERK_PUBLISHABLE_KEY), received {received}"
    ))
}

fn refuse(
    state: &AppState,
    refusal: impl Into<Refusal>,
    carrier: Option<token_source::Carrier>,
) -> Error {
    refuse_with(state, refusal, carrier, None)
}

/// As [`refuse`], with `detail` appended to the reason's message, in the response and the log.
fn refuse_with(
    state: &AppState,
    refusal: impl Into<Refusal>,
    carrier: Option<token_source::Carrier>,
    detail: Option<String>,
) -> Error {
    let (reason, mut error) = match refusal.into() {
        Refusal::Credential(reason) => {
            let mut error = ApiError::unauthenticated(reason);
            if reason == Reason::JwkFailedToResolve && state.verifier.key_store().is_none() {
                // No key source: nothing changes until an operator acts; a long wait keeps
                // frontends from spinning on it.
                error.retry_after_secs = Some(NO_KEY_SOURCE_RETRY_AFTER_SECS);
            }
            (reason, error)
        }
        Refusal::BudgetSpent { retry_after_secs } => (
            Reason::TooManyFailedCredentials,
            ApiError::too_many_failed_credentials(retry_after_secs),
        ),
    };
    state.metrics.record_auth(reason.as_str());
    let detail = detail.map_or_else(String::new, |detail| {
        error.message = format!("{}: {detail}", reason.message()).into();
        format!("; {detail}")
    });
    log::info!(
        target: "auth_core::auth",
        "authentication refused: {reason} (credential from {}){detail}",
        carrier.map_or("nowhere", token_source::Carrier::as_str)
    );
    error.into()
}
