//! Administrators: list, add, disable (never oneself), and change one's own password.

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;
use serde::Deserialize;

use super::query::field;
use crate::admin::accounts::{self, AccountError};
use crate::admin::guard::SignedIn;
use crate::admin::password;
use crate::admin::view::{format_ms, html, redirect, AdminError, Chrome};
use crate::app::AppState;
use crate::audit;
use crate::db::admin_accounts;

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
            chrome: Chrome::new(Some(admin.email), admin.csrf, "admins"),
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
    let email = form.email.clone();
    let result = state
        .db
        .run(move |conn| Ok(accounts::create(conn, &form.email, &form.password, now)))
        .await?;
    match result {
        Ok(_) => {
            let email = accounts::normalize_email(&email).unwrap_or(email);
            audit::note(&req, |n| {
                n.detail = Some(format!("added administrator {email}"))
            });
            Ok(redirect("/admin/admins?done=added"))
        }
        Err(AccountError::Database(e)) => Err(e.into()),
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
            chrome: Chrome::new(Some(admin.email), admin.csrf, "admins"),
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
    let fail = |admin: SignedIn, message: String| {
        html(
            StatusCode::BAD_REQUEST,
            &PasswordPage {
                chrome: Chrome::new(Some(admin.email), admin.csrf, "admins"),
                error: Some(message),
                min_length: password::MIN_LENGTH,
            },
        )
    };
    if form.new != form.confirm {
        return Ok(fail(admin, "The new passwords do not match.".to_owned()));
    }
    let id = admin.admin_id;
    let account = state
        .db
        .run(move |conn| admin_accounts::find(conn, id))
        .await?
        .ok_or(AdminError::NotFound)?;
    let current = form.current;
    let stored = account.password_hash;
    let matches = web::block(move || password::verify(&current, &stored))
        .await
        .unwrap_or(false);
    if !matches {
        audit::note(&req, |n| n.reason = Some("admin-password-wrong"));
        return Ok(fail(admin, "The current password is not right.".to_owned()));
    }
    let now = state.clock.now_ms();
    let keep = admin.session_hash.clone();
    let new = form.new;
    let result = state
        .db
        .run(move |conn| Ok(accounts::change_password(conn, id, &new, Some(&keep), now)))
        .await?;
    match result {
        Ok(()) => {
            audit::note(&req, |n| n.detail = Some("changed own password".to_owned()));
            Ok(redirect("/admin/admins?done=password"))
        }
        Err(AccountError::Database(e)) => Err(e.into()),
        Err(problem) => Ok(fail(admin, problem.to_string())),
    }
}
