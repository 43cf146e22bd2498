//! Sign-in and sign-out.

use actix_session::Session;
use actix_web::http::{header, StatusCode};
use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;
use serde::Deserialize;

use crate::accounts::sign_in::{self, Credentials, SignIn};
use crate::accounts::throttle;
use crate::admin::csrf;
use crate::admin::guard::{CsrfToken, SignedIn, SESSION_ID_KEY};
use crate::admin::view::{html, redirect, with_retry_after, AdminError, Chrome};
use crate::audit;
use crate::client_ip;
use crate::db::admin_sessions;
use crate::state::AppState;

#[derive(Template)]
#[template(path = "admin/login.html")]
struct LoginPage<'a> {
    chrome: Chrome,
    email: &'a str,
    next: &'a str,
    error: Option<String>,
    notice: Option<&'a str>,
}

#[derive(Debug, Deserialize)]
pub struct LoginQuery {
    #[serde(default)]
    next: String,
    #[serde(default)]
    signed_out: Option<String>,
}

#[derive(Deserialize)]
pub struct LoginForm {
    #[serde(default)]
    email: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    next: String,
}

/// Only console pages are acceptable targets after sign-in (no open redirect).
fn safe_next(next: &str) -> &str {
    let local = (next == "/admin" || next.starts_with("/admin/") || next.starts_with("/admin?"))
        && !next.contains("//")
        && !next.contains('\\')
        && !next.chars().any(char::is_control);
    if local {
        next
    } else {
        "/admin"
    }
}

pub async fn form(
    csrf: CsrfToken,
    query: web::Query<LoginQuery>,
    signed_in: Option<SignedIn>,
) -> HttpResponse {
    if signed_in.is_some() {
        return redirect(safe_next(&query.next));
    }
    html(
        StatusCode::OK,
        &LoginPage {
            chrome: csrf.chrome("login"),
            email: "",
            next: safe_next(&query.next),
            error: None,
            notice: query.signed_out.as_ref().map(|_| "You have signed out."),
        },
    )
}

pub async fn submit(
    req: HttpRequest,
    state: web::Data<AppState>,
    session: Session,
    csrf_token: CsrfToken,
    form: web::Form<LoginForm>,
) -> Result<HttpResponse, AdminError> {
    let form = form.into_inner();
    let email = sign_in::typed_email(&form.email);
    let next = safe_next(&form.next).to_owned();
    let credentials = Credentials {
        email: &email,
        password: form.password,
        client_ip: client_ip::of_request(req.head(), &state.settings.server.trusted_proxies),
        user_agent: req
            .headers()
            .get(header::USER_AGENT)
            .and_then(|v| v.to_str().ok()),
        now_ms: state.clock.now_ms(),
    };
    let outcome = sign_in::sign_in(
        &state.db,
        &state.password_workers,
        &state.settings.admin,
        credentials,
    )
    .await?;
    let failed_page = |status: StatusCode, error: String| {
        html(
            status,
            &LoginPage {
                chrome: csrf_token.chrome("login"),
                email: &email,
                next: &next,
                error: Some(error),
                notice: None,
            },
        )
    };
    match outcome {
        SignIn::Locked { retry_after_secs } => {
            audit::note(&req, |n| {
                n.reason = Some("admin-login-locked");
                n.detail = Some(format!("sign-in refused while locked: {email}"));
            });
            let page = failed_page(
                StatusCode::TOO_MANY_REQUESTS,
                format!(
                    "Too many failed sign-ins. Try again in {}.",
                    throttle::wait_text(retry_after_secs)
                ),
            );
            Ok(with_retry_after(page, retry_after_secs))
        }
        SignIn::Refused => {
            audit::note(&req, |n| {
                n.reason = Some("admin-login-failed");
                n.detail = Some(format!("failed sign-in for {email}"));
            });
            Ok(failed_page(
                StatusCode::UNAUTHORIZED,
                "The email or password is not right.".to_owned(),
            ))
        }
        SignIn::Accepted { session_id } => {
            start_cookie_session(&session, &session_id)?;
            audit::note(&req, |n| {
                n.admin = Some(email.clone());
                n.detail = Some("signed in".to_owned());
            });
            Ok(redirect(&next))
        }
    }
}

/// A new cookie for the new privilege level: anything an attacker planted before sign-in (session
/// fixation) is dropped, and the form token changes too.
fn start_cookie_session(session: &Session, session_id: &str) -> Result<(), AdminError> {
    let unwritable = |_| AdminError::Internal("the session cookie could not be written".into());
    session.renew();
    session
        .insert(SESSION_ID_KEY, session_id)
        .map_err(unwritable)?;
    if let Some(token) = csrf::new_token() {
        session.insert(csrf::FIELD, token).map_err(unwritable)?;
    }
    Ok(())
}

pub async fn logout(
    state: web::Data<AppState>,
    session: Session,
    admin: SignedIn,
    req: HttpRequest,
) -> Result<HttpResponse, AdminError> {
    let now = state.clock.now_ms();
    let id_hash = admin.session_hash.clone();
    state
        .db
        .run(move |conn| admin_sessions::end(conn, &id_hash, now))
        .await?;
    session.purge();
    audit::note(&req, |n| n.detail = Some("signed out".to_owned()));
    Ok(redirect("/admin/login?signed_out=1"))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::safe_next;

    #[test]
    fn only_console_paths_are_followed_after_sign_in() {
        assert_eq!(safe_next("/admin/users?q=a"), "/admin/users?q=a");
        assert_eq!(safe_next("/admin"), "/admin");
        for bad in [
            "https://evil.example/admin",
            "//evil.example",
            "/admin//evil.example",
            "/administrator",
            "/admin/\\evil",
            "",
            "/api/auth/me",
        ] {
            assert_eq!(safe_next(bad), "/admin", "{bad:?}");
        }
    }
}
