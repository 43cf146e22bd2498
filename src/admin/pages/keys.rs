//! Service API keys: list with last use, create (the secret is shown once, on the response to the
//! form, and never again), revoke (this instance forgets cached verifications at once).

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;
use serde::Deserialize;

use super::query::field;
use crate::admin::guard::SignedIn;
use crate::admin::view::{format_ms, html, redirect, AdminError, Chrome};
use crate::audit;
use crate::auth::service_keys::{self, parse_lifetime, KeyError, KeyState};
use crate::clerk::organization;
use crate::db::service_keys as stored;
use crate::state::AppState;

pub struct KeyItem {
    pub id: String,
    pub name: String,
    pub organization: String,
    pub scopes: String,
    pub state: &'static str,
    pub created: String,
    pub created_by: String,
    pub expires: String,
    pub last_used: String,
}

#[derive(Template)]
#[template(path = "admin/keys.html")]
struct KeysPage {
    chrome: Chrome,
    keys: Vec<KeyItem>,
    new_secret: Option<String>,
    new_id: String,
    error: Option<String>,
    notice: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct KeysQuery {
    revoked: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct NewKeyForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    org: String,
    #[serde(default)]
    scopes: String,
    #[serde(default)]
    expires: String,
}

async fn render(
    admin: SignedIn,
    state: &AppState,
    status: StatusCode,
    created: Option<(String, String)>,
    error: Option<String>,
    notice: Option<String>,
) -> Result<HttpResponse, AdminError> {
    let now = state.clock.now_ms();
    let rows = state.db.run(stored::list).await?;
    let keys = rows
        .into_iter()
        .map(|k| KeyItem {
            state: KeyState::of(&k, now).as_str(),
            organization: k.organization_id.unwrap_or_else(|| "(global)".to_owned()),
            scopes: serde_json::from_str::<Vec<String>>(&k.scopes)
                .map(|s| s.join(" "))
                .unwrap_or(k.scopes),
            created: format_ms(k.created_at),
            created_by: k.created_by.unwrap_or_default(),
            expires: k.expires_at.map_or("never".to_owned(), format_ms),
            last_used: k.last_used_at.map_or("never".to_owned(), format_ms),
            id: k.id,
            name: k.name,
        })
        .collect();
    let (new_id, new_secret) = created.map_or((String::new(), None), |(id, s)| (id, Some(s)));
    Ok(html(
        status,
        &KeysPage {
            chrome: admin.chrome("keys"),
            keys,
            new_secret,
            new_id,
            error,
            notice,
        },
    ))
}

pub async fn list(
    admin: SignedIn,
    state: web::Data<AppState>,
    query: web::Query<KeysQuery>,
) -> Result<HttpResponse, AdminError> {
    let notice = field(&query.revoked).map(|id| format!("Key {id} revoked."));
    render(admin, &state, StatusCode::OK, None, None, notice).await
}

/// A checked key request: name, organization, scopes, expiry.
type KeyRequest = (String, Option<String>, Vec<String>, Option<i64>);

fn parse_form(form: &NewKeyForm, now: i64) -> Result<KeyRequest, String> {
    let name = form.name.trim();
    if name.is_empty() || name.chars().count() > 100 {
        return Err("Give the key a name of 1 to 100 characters.".to_owned());
    }
    let org = Some(form.org.trim()).filter(|o| !o.is_empty());
    if let Some(org) = org {
        if !organization::is_valid_id(org) {
            return Err("The organization must be a Clerk organization id (org_…).".to_owned());
        }
    }
    let scopes: Vec<String> = form
        .scopes
        .split([',', ' ', '\n'])
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect();
    if scopes.len() > 50 || scopes.iter().any(|s| s.len() > 100) {
        return Err("Too many or too long scopes.".to_owned());
    }
    let expires = Some(form.expires.trim())
        .filter(|e| !e.is_empty())
        .map(|e| parse_lifetime(e).map(|ms| now + ms))
        .transpose()
        .map_err(|e| format!("Lifetime {e}"))?;
    Ok((name.to_owned(), org.map(str::to_owned), scopes, expires))
}

pub async fn create(
    req: HttpRequest,
    admin: SignedIn,
    state: web::Data<AppState>,
    form: web::Form<NewKeyForm>,
) -> Result<HttpResponse, AdminError> {
    let now = state.clock.now_ms();
    let (name, org, scopes, expires) = match parse_form(&form, now) {
        Ok(parsed) => parsed,
        Err(problem) => {
            return render(
                admin,
                &state,
                StatusCode::BAD_REQUEST,
                None,
                Some(problem),
                None,
            )
            .await
        }
    };
    let created_by = format!("admin:{}", admin.email);
    let key_name = name.clone();
    let created = state
        .db
        .run(move |conn| {
            service_keys::create(
                conn,
                &key_name,
                org.as_deref(),
                &scopes,
                expires,
                Some(&created_by),
                now,
            )
            .map_err(|e| match e {
                KeyError::Database(db) => db,
                KeyError::Random(r) => crate::db::DbError::Unavailable(r),
            })
        })
        .await?;
    audit::note(&req, |n| {
        n.detail = Some(format!("created service key {} ({name})", created.id))
    });
    render(
        admin,
        &state,
        StatusCode::OK,
        Some((created.id, created.secret)),
        None,
        None,
    )
    .await
}

pub async fn revoke(
    req: HttpRequest,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, AdminError> {
    let id = id.into_inner();
    let now = state.clock.now_ms();
    let target = id.clone();
    let revoked = state
        .db
        .run(move |conn| stored::revoke(conn, &target, now))
        .await?;
    if !revoked {
        return Err(AdminError::NotFound);
    }
    state.service_keys.forget_all();
    audit::note(&req, |n| {
        n.detail = Some(format!("revoked service key {id}"))
    });
    Ok(redirect(&super::query::link(
        "/admin/keys",
        &[("revoked", Some(&id))],
    )))
}
