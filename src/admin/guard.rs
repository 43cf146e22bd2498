//! The console's gatekeeper, run before every `/admin` handler:
//!
//! 1. every browser session gets a CSRF token (kept in the encrypted session cookie);
//! 2. every POST must come from our own origin (`Origin`/`Sec-Fetch-Site`) and carry that token in
//!    its form body — checked here, once, so no handler can forget it;
//! 3. every page except sign-in needs a live server-side session: not ended, not idle too long, not
//!    past its absolute lifetime, its account not disabled. Otherwise the browser is sent to sign in.
//!
//! The signed-in administrator is then in the request's extensions as [`SignedIn`].

use actix_session::{Session, SessionExt};
use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{Payload, ServiceRequest, ServiceResponse};
use actix_web::http::{header, Method};
use actix_web::middleware::Next;
use actix_web::{web, Error, FromRequest, HttpMessage, HttpRequest};

use super::csrf;
use super::view::{redirect, AdminError, Chrome};
use crate::accounts::sign_in::hash_session_id;
use crate::audit::{self, AuditNote};
use crate::db::admin_sessions;
use crate::state::AppState;

/// Session cookie keys.
pub const SESSION_ID_KEY: &str = "sid";

/// Largest form body the console accepts.
pub const MAX_FORM_BYTES: usize = 64 * 1024;

/// Writes to `last_seen_at` at most this often per session (idle expiry is coarse anyway).
const TOUCH_INTERVAL_MS: i64 = 60_000;

/// The administrator behind a request, put there by [`guard`].
#[derive(Debug, Clone)]
pub struct SignedIn {
    pub admin_id: i64,
    pub email: String,
    /// SHA-256 (hex) of the session id: the server-side session's key.
    pub session_hash: String,
    pub csrf: String,
}

impl SignedIn {
    /// What the layout shows around a page of this administrator, `section` marked as current in
    /// the navigation.
    pub fn chrome(&self, section: &'static str) -> Chrome {
        Chrome::new(Some(self.email.clone()), self.csrf.clone(), section)
    }
}

/// The browser session's CSRF token, for forms (also on the sign-in page).
#[derive(Debug, Clone)]
pub struct CsrfToken(pub String);

impl CsrfToken {
    /// What the layout shows around a page for no one signed in (the sign-in page).
    pub fn chrome(&self, section: &'static str) -> Chrome {
        Chrome::new(None, self.0.clone(), section)
    }
}

impl FromRequest for SignedIn {
    type Error = AdminError;
    type Future = std::future::Ready<Result<Self, AdminError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        std::future::ready(
            req.extensions()
                .get::<SignedIn>()
                .cloned()
                .ok_or_else(|| AdminError::Forbidden("not signed in".into())),
        )
    }
}

impl FromRequest for CsrfToken {
    type Error = AdminError;
    type Future = std::future::Ready<Result<Self, AdminError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        std::future::ready(
            req.extensions()
                .get::<CsrfToken>()
                .cloned()
                // Only a route mounted outside the guard lacks it: a fault of the server.
                .ok_or_else(|| AdminError::Internal("the console guard did not run".into())),
        )
    }
}

/// Paths reachable without signing in.
fn public(path: &str) -> bool {
    path == "/admin/login"
}

pub async fn guard(
    mut req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, Error> {
    let Some(state) = req.app_data::<web::Data<AppState>>().cloned() else {
        return Err(AdminError::NotFound.into());
    };
    let session = req.get_session();
    let csrf_token = match session.get::<String>(csrf::FIELD) {
        Ok(Some(token)) => token,
        _ => {
            let token =
                csrf::new_token().ok_or_else(|| AdminError::Internal("no random source".into()))?;
            session.insert(csrf::FIELD, &token).map_err(|_| {
                AdminError::Internal("the session cookie could not be written".into())
            })?;
            token
        }
    };
    req.extensions_mut().insert(CsrfToken(csrf_token.clone()));

    if req.method() != Method::GET && req.method() != Method::HEAD {
        if let Err(why) = same_origin(&req) {
            audit::note(req.request(), |n| n.reason = Some("csrf-origin"));
            return Ok(req.error_response(AdminError::Forbidden(why.into())));
        }
        let mut payload = req.take_payload();
        let body = web::Bytes::from_request(req.request(), &mut payload).await?;
        let submitted = csrf::from_form(&body).unwrap_or_default();
        if !csrf::matches(&csrf_token, &submitted) {
            audit::note(req.request(), |n| n.reason = Some("csrf-invalid"));
            return Ok(req.error_response(AdminError::Forbidden(
                "The form's security token is missing or out of date. Go back, reload the page \
                 and try again."
                    .into(),
            )));
        }
        req.set_payload(Payload::from(body));
    }

    if !public(req.path()) {
        match signed_in(&state, &session, &csrf_token).await? {
            Some(admin) => {
                let email = admin.email.clone();
                req.extensions_mut().insert(admin);
                req.extensions_mut().insert(AuditNote {
                    admin: Some(email),
                    ..AuditNote::default()
                });
            }
            None => {
                let back = match req.method() {
                    &Method::GET => {
                        let target = req
                            .uri()
                            .path_and_query()
                            .map_or("/admin", |pq| pq.as_str());
                        format!(
                            "/admin/login?next={}",
                            url::form_urlencoded::byte_serialize(target.as_bytes())
                                .collect::<String>()
                        )
                    }
                    _ => "/admin/login".to_owned(),
                };
                return Ok(req.into_response(redirect(&back)));
            }
        }
    }
    next.call(req)
        .await
        .map(ServiceResponse::map_into_boxed_body)
}

/// The live server-side session behind this browser session, if any; a dead one is forgotten.
async fn signed_in(
    state: &AppState,
    session: &Session,
    csrf_token: &str,
) -> Result<Option<SignedIn>, Error> {
    let Ok(Some(id)) = session.get::<String>(SESSION_ID_KEY) else {
        return Ok(None);
    };
    let id_hash = hash_session_id(&id);
    let now = state.clock.now_ms();
    let idle = i64::try_from(state.settings.admin.session_idle.as_millis()).unwrap_or(i64::MAX);
    let lifetime =
        i64::try_from(state.settings.admin.session_lifetime.as_millis()).unwrap_or(i64::MAX);
    let lookup_hash = id_hash.clone();
    let found = state
        .db
        .run(move |conn| {
            let Some((row, admin)) = admin_sessions::find_with_admin(conn, &lookup_hash)? else {
                return Ok(None);
            };
            let live = row.ended_at.is_none()
                && !admin.is_disabled()
                && now - row.last_seen_at <= idle
                && now - row.created_at <= lifetime;
            if !live {
                admin_sessions::end(conn, &lookup_hash, now)?;
                return Ok(None);
            }
            if now - row.last_seen_at >= TOUCH_INTERVAL_MS {
                admin_sessions::touch(conn, &lookup_hash, now)?;
            }
            Ok(Some(admin))
        })
        .await
        .map_err(AdminError::from)?;
    match found {
        Some(admin) => Ok(Some(SignedIn {
            admin_id: admin.id,
            email: admin.email,
            session_hash: id_hash,
            csrf: csrf_token.to_owned(),
        })),
        None => {
            session.remove(SESSION_ID_KEY);
            Ok(None)
        }
    }
}

/// A state-changing request must come from a page of ours: a cross-site `Sec-Fetch-Site`, or an
/// `Origin` whose host is not the one the request was sent to, is refused.
fn same_origin(req: &ServiceRequest) -> Result<(), &'static str> {
    let header = |name: &str| req.headers().get(name).and_then(|v| v.to_str().ok());
    if header("sec-fetch-site").is_some_and(|site| site == "cross-site" || site == "same-site") {
        return Err("Cross-site form posts are refused.");
    }
    let Some(origin) = header(header::ORIGIN.as_str()) else {
        return Ok(());
    };
    // Under `Referrer-Policy: no-referrer` (sent on every response) browsers post `Origin: null`;
    // the browser's own `Sec-Fetch-Site` then says whether the form was ours.
    if origin == "null" {
        return if header("sec-fetch-site") == Some("same-origin") {
            Ok(())
        } else {
            Err("Form posts from an opaque origin are refused.")
        };
    }
    let host = header(header::HOST.as_str()).unwrap_or_default();
    let origin_host = url::Url::parse(origin).ok().map(|u| {
        let mut h = u.host_str().unwrap_or_default().to_owned();
        if let Some(port) = u.port() {
            h.push_str(&format!(":{port}"));
        }
        h
    });
    if origin_host.as_deref() == Some(host) {
        Ok(())
    } else {
        Err("Form posts from another origin are refused.")
    }
}
