//! Memberships: filter by organization, user and role.

use actix_web::{web, HttpResponse};
use askama::Template;
use serde::Deserialize;

use super::query::{cursor_field, cursor_link, field};
use crate::admin::guard::SignedIn;
use crate::admin::view::{format_ms, page, AdminError, Chrome};
use crate::db::console::memberships::{self as memberships_db, MembershipFilter};
use crate::db::console::PAGE_SIZE;
use crate::state::AppState;

#[derive(Debug, Deserialize)]
pub struct MembershipsQuery {
    org: Option<String>,
    user: Option<String>,
    role: Option<String>,
    after: Option<String>,
}

pub struct MembershipItem {
    pub organization_id: String,
    pub organization_name: String,
    pub user_id: String,
    pub email: String,
    pub role: String,
    pub since: String,
}

#[derive(Template)]
#[template(path = "admin/memberships.html")]
struct MembershipsPage {
    chrome: Chrome,
    org: String,
    user: String,
    role: String,
    rows: Vec<MembershipItem>,
    next: Option<String>,
}

pub async fn list(
    admin: SignedIn,
    state: web::Data<AppState>,
    query: web::Query<MembershipsQuery>,
) -> Result<HttpResponse, AdminError> {
    let filter = MembershipFilter {
        organization_id: field(&query.org),
        user_id: field(&query.user),
        role: field(&query.role),
        after: cursor_field(&[&query.after]),
    };
    let shown = filter.clone();
    let found = state
        .db
        .run(move |conn| memberships_db::list(conn, &filter, PAGE_SIZE))
        .await?;
    let next = found.next(|m| m.id.clone()).map(|after| {
        cursor_link(
            "/admin/memberships",
            &[
                ("org", shown.organization_id.as_deref()),
                ("user", shown.user_id.as_deref()),
                ("role", shown.role.as_deref()),
            ],
            &["after"],
            &after.values(),
        )
    });
    Ok(page(&MembershipsPage {
        chrome: admin.chrome("memberships"),
        org: shown.organization_id.unwrap_or_default(),
        user: shown.user_id.unwrap_or_default(),
        role: shown.role.unwrap_or_default(),
        rows: found
            .rows
            .into_iter()
            .map(|m| MembershipItem {
                organization_id: m.organization_id,
                organization_name: m.organization_name,
                user_id: m.user_id,
                email: m.email.unwrap_or_default(),
                role: m.role,
                since: format_ms(m.clerk_created_at),
            })
            .collect(),
        next,
    }))
}
