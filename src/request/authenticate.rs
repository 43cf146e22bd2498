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

mod middleware;

use std::borrow::Cow;
use std::net::IpAddr;
use std::sync::Arc;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;
use actix_web::{web, Error, HttpMessage};

use crate::auth::failed_credentials::Refusal;
use crate::auth::machine_tokens::MachinePrincipal;
use crate::auth::principal::Principal;
use crate::auth::service_keys::{self, KEY_PREFIX};
use crate::auth::token_source;
use crate::clerk::jwt::{self, VerifiedToken};
use crate::clerk::key_source::NO_KEY_SOURCE_RETRY_AFTER_SECS;
use crate::clerk::machine_token::MachineKind;
use crate::clerk::reason::Reason;
use crate::http::error::ApiError;
use crate::request::org_scope;
use crate::state::AppState;

pub use middleware::{Authenticate, AuthenticateFuture, AuthenticateService};

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

/// Authentication for `middleware::from_fn` (`|req, next| authenticate(accepts, req, next)`), as
/// a team's backend may wrap a scope of its own; auth-core's scopes use [`Authenticate`].
pub async fn authenticate(
    accepts: Accepts,
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, Error> {
    judge(accepts, &req).await?;
    next.call(req).await
}

/// Judges the request's credential: its [`Principal`] put into the request, or the refusal.
async fn judge(accepts: Accepts, req: &ServiceRequest) -> Result<(), Error> {
    let state = app_state(req)?;
    let presented = present(state, accepts, req)?;
    let outcome = verify(state, accepts, &presented, req).await;
    admit(state, req, &presented, outcome)
}

/// [`judge`] when no waiting is needed: a refusal from the credential's form, or a principal from
/// the caches. `None` when the credential must be verified or looked up.
fn judge_now(accepts: Accepts, req: &ServiceRequest) -> Option<Result<(), Error>> {
    let state = match app_state(req) {
        Ok(state) => state,
        Err(error) => return Some(Err(error)),
    };
    let presented = match present(state, accepts, req) {
        Ok(presented) => presented,
        Err(error) => return Some(Err(error)),
    };
    let outcome = cached(state, accepts, &presented)?;
    Some(admit(state, req, &presented, outcome))
}

fn app_state(req: &ServiceRequest) -> Result<&AppState, Error> {
    req.app_data::<web::Data<AppState>>()
        .map(|state| &***state)
        .ok_or_else(|| ApiError::internal().into())
}

/// A credential found in the request and of a kind the route accepts, not verified yet.
struct Presented<'r> {
    token: Cow<'r, str>,
    carrier: token_source::Carrier,
    kind: Kind,
    /// Whether a JWT may be a Clerk machine token (accepted here, and sent in the header).
    machine_jwts: bool,
}

/// Finds the request's credential and refuses a kind the route does not accept.
fn present<'r>(
    state: &AppState,
    accepts: Accepts,
    req: &'r ServiceRequest,
) -> Result<Presented<'r>, Error> {
    let found = token_source::find(req.request(), state.cookie_suffix.as_deref());
    let (token, carrier) = match found {
        Ok(Some(found)) => found,
        Ok(None) => return Err(refuse(state, Reason::SessionTokenMissing, None)),
        Err(reason) => return Err(refuse(state, reason, Some(token_source::Carrier::Header))),
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
        return Err(refuse(state, Reason::TokenTypeMismatch, Some(carrier)));
    }
    Ok(Presented {
        token,
        carrier,
        kind,
        machine_jwts,
    })
}

/// The principal behind a presented credential, or why there is none.
async fn verify(
    state: &AppState,
    accepts: Accepts,
    presented: &Presented<'_>,
    req: &ServiceRequest,
) -> Result<Principal, Refusal> {
    if let Some(outcome) = cached(state, accepts, presented) {
        return outcome;
    }
    let token = &*presented.token;
    match presented.kind {
        Kind::SessionToken => verify_jwt(state, accepts, presented.machine_jwts, token)
            .await
            .map_err(Refusal::Credential),
        Kind::ServiceKey | Kind::Machine(_) => look_up(state, req, presented.kind, token).await,
    }
}

/// [`verify`]'s outcome when it needs no waiting: a credential of the wrong shape, or one the caches
/// remember. `None` when it must be verified or looked up.
fn cached(
    state: &AppState,
    accepts: Accepts,
    presented: &Presented<'_>,
) -> Option<Result<Principal, Refusal>> {
    let token = &*presented.token;
    match (presented.kind, &state.machine_tokens) {
        (Kind::SessionToken, _) => {
            // A remembered session token is looked up first: it passed the session checks, so it
            // is no machine token, and a warm session token pays for no machine lookup.
            if let Some(verified) = state.verifier.verify_cached(token) {
                return Some(as_session(accepts, verified).map_err(Refusal::Credential));
            }
            // A machine JWT fails the session checks only after an RSA verification, and failures
            // are not cached; so a remembered machine JWT is looked up before verifying. On
            // session-only routes nothing.
            if presented.machine_jwts {
                if let Some(machine) = state.verifier.cached_machine_jwt(token) {
                    return Some(accepted_machine(accepts, machine).map_err(Refusal::Credential));
                }
            }
            None
        }
        (Kind::ServiceKey, _) => {
            if let Err(reason) = service_keys::check_shape(token) {
                return Some(Err(reason.into()));
            }
            let key = state.service_keys.cached(token)?;
            Some(Ok(Principal::ServiceKey(key)))
        }
        (Kind::Machine(machine), Some(verifier)) => {
            if let Err(reason) = machine.check_shape(token) {
                return Some(Err(reason.into()));
            }
            let principal = verifier.cached(token)?;
            Some(Ok(Principal::MachineToken(principal)))
        }
        // Refused before: machine tokens are accepted only with a verifier.
        (Kind::Machine(_), None) => Some(Err(Reason::TokenTypeMismatch.into())),
    }
}

/// A verified credential's principal in the request, or the refusal answered (401, or 429 for a
/// spent budget).
fn admit(
    state: &AppState,
    req: &ServiceRequest,
    presented: &Presented<'_>,
    outcome: Result<Principal, Refusal>,
) -> Result<(), Error> {
    match outcome {
        Ok(principal) => {
            state.metrics.record_auth("ok");
            org_scope::reject_foreign_ids(req.request(), principal.organization_id())?;
            req.extensions_mut().insert(principal);
            Ok(())
        }
        Err(refusal) => {
            let detail = match refusal {
                Refusal::Credential(Reason::TokenInvalidIssuer) => {
                    issuer_mismatch(state, &presented.token)
                }
                _ => None,
            };
            Err(refuse_with(state, refusal, Some(presented.carrier), detail))
        }
    }
}

/// A service key or an opaque Clerk machine token that no cache knows (and of the right shape:
/// [`cached`] answered first), looked up through `failed_credentials`.
async fn look_up(
    state: &AppState,
    req: &ServiceRequest,
    kind: Kind,
    token: &str,
) -> Result<Principal, Refusal> {
    let guard = &state.failed_credentials;
    match (kind, &state.machine_tokens) {
        (Kind::ServiceKey, _) => {
            let lookup = state.service_keys.look_up(token);
            let key = guard.look_up(token, client_ip(state, req), lookup).await?;
            Ok(Principal::ServiceKey(key))
        }
        (Kind::Machine(machine), Some(verifier)) => {
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

/// A JWT no cache remembers: a session token, or where the route accepts them a machine token in
/// JWT form.
async fn verify_jwt(
    state: &AppState,
    accepts: Accepts,
    machine_jwts: bool,
    token: &str,
) -> Result<Principal, Reason> {
    match state.verifier.verify(token).await {
        Err(Reason::TokenTypeMismatch) if machine_jwts => state
            .verifier
            .verify_machine_jwt(token)
            .await
            .and_then(|machine| accepted_machine(accepts, machine)),
        verified => as_session(accepts, verified),
    }
}

/// A verified session token's principal where the route accepts session tokens.
fn as_session(
    accepts: Accepts,
    verified: Result<Arc<VerifiedToken>, Reason>,
) -> Result<Principal, Reason> {
    match verified {
        Ok(user) if accepts.session_token => Ok(Principal::User(user)),
        Ok(_) => Err(Reason::TokenTypeMismatch),
        Err(reason) => Err(reason),
    }
}

/// A verified machine token's principal where the route accepts its kind.
fn accepted_machine(accepts: Accepts, machine: Arc<MachinePrincipal>) -> Result<Principal, Reason> {
    if accepts.machine(machine.kind) {
        Ok(Principal::MachineToken(machine))
    } else {
        Err(Reason::TokenTypeMismatch)
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
