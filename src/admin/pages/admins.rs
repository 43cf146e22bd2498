//! Administrators: list, add, disable (never oneself), and change one's own password.

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;
use serde::Deserialize;

use super::query::field;
use crate::accounts::{self, AccountError, PasswordCheck};
use crate::accounts::{password, throttle};
use crate::admin::guard::SignedIn;
use crate::admin::view::{format_ms, html, redirect, with_retry_after, AdminError, Chrome};
use crate::audit;
use crate::client_ip::{self, ClientNetwork};
use crate::db::admin_accounts;
use crate::state::AppState;

pub struct AdminItem {
    pub id: i64,
    pub email: String,
    pub active: bool,
    pub last_login: String,
    pub created: String,
    pub is_me: bool,
}

#[derive(Template)]
#[template(path = "admin/admins.html")]
struct AdminsPage {
    chrome: Chrome,
    admins: Vec<AdminItem>,
    error: Option<String>,
    notice: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct AdminsQuery {
    done: Option<String>,
}

async fn render(
    admin: SignedIn,
    state: &AppState,
    status: StatusCode,
    error: Option<String>,
    notice: Option<String>,
) -> Result<HttpResponse, AdminError> {
    let rows = state.db.run(admin_accounts::list).await?;
    let admins = rows
        .into_iter()
        .map(|a| AdminItem {
            is_me: a.id == admin.admin_id,
            active: !a.is_disabled(),
            last_login: a.last_login_at.map_or("never".to_owned(), format_ms),
            created: format_ms(a.created_at),
            id: a.id,
            email: a.email,
        })
        .collect();
    Ok(html(
        status,
        &AdminsPage {
            chrome: admin.chrome("admins"),
            admins,
            error,
            notice,
        },
    ))
}

pub async fn list(
    admin: SignedIn,
    state: web::Data<AppState>,
    query: web::Query<AdminsQuery>,
) -> Result<HttpResponse, AdminError> {
    let notice = match field(&query.done).as_deref() {
        Some("added") => Some("Administrator added.".to_owned()),
        Some("disabled") => Some("Administrator disabled; their sessions have ended.".to_owned()),
        Some("password") => Some("Password changed; your other sessions have ended.".to_owned()),
        _ => None,
    };
    render(admin, &state, StatusCode::OK, None, notice).await
}

#[derive(Deserialize)]
pub struct NewAdminForm {
    #[serde(default)]
    email: String,
    #[serde(default)]
    password: String,
}

pub async fn add(
    req: HttpRequest,
    admin: SignedIn,
    state: web::Data<AppState>,
    form: web::Form<NewAdminForm>,
) -> Result<HttpResponse, AdminError> {
    let form = form.into_inner();
    let now = state.clock.now_ms();
    let result = async {
        let email = accounts::normalize_email(&form.email)?;
        let hash = accounts::hash_on(&state.password_workers, form.password).await?;
        let created = email.clone();
        state
            .db
            .run(move |conn| Ok(accounts::create_hashed(conn, &created, &hash, now)))
            .await??;
        Ok::<_, AccountError>(email)
    }
    .await;
    match result {
        Ok(email) => {
            audit::note(&req, |n| {
                n.detail = Some(format!("added administrator {email}"))
            });
            Ok(redirect("/admin/admins?done=added"))
        }
        Err(error @ (AccountError::Database(_) | AccountError::Work(_))) => Err(error.into()),
        Err(problem) => {
            render(
                admin,
                &state,
                StatusCode::BAD_REQUEST,
                Some(problem.to_string()),
                None,
            )
            .await
        }
    }
}

pub async fn disable(
    req: HttpRequest,
    admin: SignedIn,
    state: web::Data<AppState>,
    id: web::Path<i64>,
) -> Result<HttpResponse, AdminError> {
    let id = id.into_inner();
    if id == admin.admin_id {
        return render(
            admin,
            &state,
            StatusCode::BAD_REQUEST,
            Some("You cannot disable your own account.".to_owned()),
            None,
        )
        .await;
    }
    let now = state.clock.now_ms();
    let target = state
        .db
        .run(move |conn| {
            let Some(target) = admin_accounts::find(conn, id)? else {
                return Ok(None);
            };
            accounts::disable(conn, id, now)?;
            Ok(Some(target.email))
        })
        .await?
        .ok_or(AdminError::NotFound)?;
    audit::note(&req, |n| {
        n.detail = Some(format!("disabled administrator {target}"))
    });
    Ok(redirect("/admin/admins?done=disabled"))
}

#[derive(Template)]
#[template(path = "admin/password.html")]
struct PasswordPage {
    chrome: Chrome,
    error: Option<String>,
    min_length: usize,
}

pub async fn password_form(admin: SignedIn) -> HttpResponse {
    html(
        StatusCode::OK,
        &PasswordPage {
            chrome: admin.chrome("admins"),
            error: None,
            min_length: password::MIN_LENGTH,
        },
    )
}

#[derive(Deserialize)]
pub struct PasswordForm {
    #[serde(default)]
    current: String,
    #[serde(default)]
    new: String,
    #[serde(default)]
    confirm: String,
}

pub async fn change_password(
    req: HttpRequest,
    admin: SignedIn,
    state: web::Data<AppState>,
    form: web::Form<PasswordForm>,
) -> Result<HttpResponse, AdminError> {
    let form = form.into_inner();
    let fail = |admin: SignedIn, status: StatusCode, message: String| {
        html(
            status,
            &PasswordPage {
                chrome: admin.chrome("admins"),
                error: Some(message),
                min_length: password::MIN_LENGTH,
            },
        )
    };
    if form.new != form.confirm {
        let message = "The new passwords do not match.".to_owned();
        return Ok(fail(admin, StatusCode::BAD_REQUEST, message));
    }
    // Checked before the current password is, so a too-short new one costs no attempt.
    if let Err(problem) = password::check_policy(&form.new) {
        return Ok(fail(admin, StatusCode::BAD_REQUEST, problem.to_string()));
    }
    let now = state.clock.now_ms();
    let client = client_ip::of_request(req.head(), &state.settings.server.trusted_proxies);
    let check = accounts::check_password(
        &state.db,
        &state.password_workers,
        &state.settings.admin,
        &admin.email,
        client.map(ClientNetwork::of),
        form.current,
        now,
    )
    .await?;
    let attempt = match check {
        PasswordCheck::Accepted { account, attempt } if account.id == admin.admin_id => attempt,
        PasswordCheck::Locked { retry_after_secs } => {
            audit::note(&req, |n| n.reason = Some("admin-password-locked"));
            let message = format!(
                "Too many wrong passwords. Try again in {}.",
                throttle::wait_text(retry_after_secs)
            );
            let page = fail(admin, StatusCode::TOO_MANY_REQUESTS, message);
            return Ok(with_retry_after(page, retry_after_secs));
        }
        PasswordCheck::Accepted { .. } | PasswordCheck::Refused => {
            audit::note(&req, |n| n.reason = Some("admin-password-wrong"));
            let message = "The current password is not right.".to_owned();
            return Ok(fail(admin, StatusCode::BAD_REQUEST, message));
        }
    };
    let hash = accounts::hash_on(&state.password_workers, form.new).await?;
    let (id, keep) = (admin.admin_id, admin.session_hash.clone());
    state
        .db
        .run(move |conn| accounts::change_password(conn, attempt, id, &hash, &keep, now))
        .await?;
    audit::note(&req, |n| n.detail = Some("changed own password".to_owned()));
    Ok(redirect("/admin/admins?done=password"))
}
