//! Organizations: search and page by name; one organization with its members and roles.

use actix_web::{web, HttpResponse};
use askama::Template;
use serde::Deserialize;

use super::query::{cursor_field, cursor_link, display_name, field, link, pretty_json};
use crate::admin::guard::SignedIn;
use crate::admin::view::{format_ms, page, AdminError, Chrome};
use crate::db::console::organizations::{self as orgs_db, MemberRow};
use crate::db::console::PAGE_SIZE;
use crate::db::organizations::OrganizationRow;
use crate::state::AppState;

const MEMBERS_SHOWN: i64 = 500;

#[derive(Debug, Deserialize)]
pub struct OrgsQuery {
    q: Option<String>,
    after_name: Option<String>,
    after_id: Option<String>,
}

pub struct OrgItem {
    pub id: String,
    pub name: String,
    pub slug: String,
    pub members: i64,
    pub created: String,
}

#[derive(Template)]
#[template(path = "admin/organizations.html")]
struct OrgsPage {
    chrome: Chrome,
    q: String,
    orgs: Vec<OrgItem>,
    next: Option<String>,
}

pub async fn list(
    admin: SignedIn,
    state: web::Data<AppState>,
    query: web::Query<OrgsQuery>,
) -> Result<HttpResponse, AdminError> {
    let q = field(&query.q);
    let after = cursor_field(&[&query.after_name, &query.after_id]);
    let text = q.clone();
    let (found, counts) = state
        .db
        .run(move |conn| {
            let found = orgs_db::list(conn, text.as_deref(), after.as_ref(), PAGE_SIZE)?;
            let ids: Vec<String> = found.rows.iter().map(|o| o.id.clone()).collect();
            let counts = orgs_db::member_counts(conn, &ids)?;
            Ok((found, counts))
        })
        .await?;
    let next = found.next(|o| (o.name.clone(), o.id.clone())).map(|after| {
        cursor_link(
            "/admin/organizations",
            &[("q", q.as_deref())],
            &["after_name", "after_id"],
            &after.values(),
        )
    });
    let orgs = found
        .rows
        .into_iter()
        .map(|o| OrgItem {
            members: counts
                .iter()
                .find(|(id, _)| *id == o.id)
                .map_or(0, |(_, n)| *n),
            slug: o.slug.unwrap_or_default(),
            created: format_ms(o.clerk_created_at),
            name: o.name,
            id: o.id,
        })
        .collect();
    Ok(page(&OrgsPage {
        chrome: admin.chrome("organizations"),
        q: q.unwrap_or_default(),
        orgs,
        next,
    }))
}

pub struct MemberItem {
    pub user_id: String,
    pub name: String,
    pub email: String,
    pub role: String,
    pub since: String,
}

#[derive(Template)]
#[template(path = "admin/organization.html")]
struct OrgPage {
    chrome: Chrome,
    org: OrganizationRow,
    created: String,
    deleted: Option<String>,
    public_metadata: String,
    private_metadata: String,
    members: Vec<MemberItem>,
    members_capped: bool,
    memberships_link: String,
    audit_link: String,
}

pub async fn show(
    admin: SignedIn,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, AdminError> {
    let id = id.into_inner();
    let lookup = id.clone();
    let found = state
        .db
        .run(move |conn| {
            let Some(org) = orgs_db::find(conn, &lookup)? else {
                return Ok(None);
            };
            let members = orgs_db::members(conn, &lookup, MEMBERS_SHOWN)?;
            Ok(Some((org, members)))
        })
        .await?;
    let Some((org, members)) = found else {
        return Err(AdminError::NotFound);
    };
    Ok(page(&OrgPage {
        chrome: admin.chrome("organizations"),
        created: format_ms(org.clerk_created_at),
        deleted: org.deleted_at.map(format_ms),
        public_metadata: pretty_json(&org.public_metadata),
        private_metadata: pretty_json(&org.private_metadata),
        members_capped: members.more,
        members: members.rows.into_iter().map(member_item).collect(),
        memberships_link: link("/admin/memberships", &[("org", Some(&id))]),
        audit_link: link("/admin/audit", &[("org", Some(&id))]),
        org,
    }))
}

fn member_item(m: MemberRow) -> MemberItem {
    MemberItem {
        name: display_name(
            m.first_name.as_deref(),
            m.last_name.as_deref(),
            None,
            m.email.as_deref(),
            &m.user_id,
        ),
        email: m.email.unwrap_or_default(),
        role: m.role,
        since: format_ms(m.clerk_created_at),
        user_id: m.user_id,
    }
}
