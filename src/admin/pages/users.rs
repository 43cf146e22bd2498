//! Users: search, filter, sort, page; one user's profile, metadata, memberships, sessions, events.

use actix_web::{web, HttpResponse};
use askama::Template;
use serde::Deserialize;

use super::query::{cursor_link, display_name, field, link, pretty_json};
use crate::admin::guard::SignedIn;
use crate::admin::view::{format_ms, page, AdminError, Chrome};
use crate::db::audit_query::AuditFilter;
use crate::db::console::audit as audit_db;
use crate::db::console::users::{self as users_db, Sort, Status, UserFilter, UserListRow};
use crate::db::console::PAGE_SIZE;
use crate::db::users::{find_user, memberships_of, MembershipRow};
use crate::state::AppState;

#[derive(Debug, Deserialize, Default)]
pub struct UsersQuery {
    q: Option<String>,
    status: Option<String>,
    sort: Option<String>,
    after_key: Option<String>,
    after_id: Option<String>,
}

pub struct UserItem {
    pub id: String,
    pub name: String,
    pub email: String,
    pub created: String,
    pub last_sign_in: String,
    pub deleted: bool,
    pub banned: bool,
}

#[derive(Template)]
#[template(path = "admin/users.html")]
struct UsersPage {
    chrome: Chrome,
    q: String,
    status: &'static str,
    sort: &'static str,
    users: Vec<UserItem>,
    next: Option<String>,
    first_page: Option<String>,
}

pub async fn list(
    admin: SignedIn,
    state: web::Data<AppState>,
    query: web::Query<UsersQuery>,
) -> Result<HttpResponse, AdminError> {
    let q = field(&query.q);
    let (status, status_name) = match field(&query.status).as_deref() {
        Some("deleted") => (Status::Deleted, "deleted"),
        Some("all") => (Status::All, "all"),
        _ => (Status::Active, "active"),
    };
    let (sort, sort_name) = match field(&query.sort).as_deref() {
        Some("oldest") => (Sort::Oldest, "oldest"),
        Some("email") => (Sort::Email, "email"),
        _ => (Sort::Newest, "newest"),
    };
    // A malformed cursor (a link edited by hand) is ignored: the first page.
    let (after_key, after_id) = (field(&query.after_key), field(&query.after_id));
    let after = sort
        .parse_after(&[after_key.as_deref(), after_id.as_deref()])
        .ok()
        .flatten();
    let paged = after.is_some();
    let filter = UserFilter {
        query: q.clone(),
        status,
        sort,
        after,
    };
    let found = state
        .db
        .run(move |conn| users_db::list(conn, &filter, PAGE_SIZE))
        .await?;
    let next = sort.next(&found).map(|after| {
        cursor_link(
            "/admin/users",
            &[
                ("q", q.as_deref()),
                ("status", Some(status_name)),
                ("sort", Some(sort_name)),
            ],
            &["after_key", "after_id"],
            &after.values(),
        )
    });
    let first_page = paged.then(|| {
        link(
            "/admin/users",
            &[
                ("q", q.as_deref()),
                ("status", Some(status_name)),
                ("sort", Some(sort_name)),
            ],
        )
    });
    let users = found.rows.into_iter().map(user_item).collect();
    Ok(page(&UsersPage {
        chrome: admin.chrome("users"),
        q: q.unwrap_or_default(),
        status: status_name,
        sort: sort_name,
        users,
        next,
        first_page,
    }))
}

/// One row of the listing as the page shows it.
fn user_item(u: UserListRow) -> UserItem {
    UserItem {
        name: display_name(
            u.first_name.as_deref(),
            u.last_name.as_deref(),
            u.username.as_deref(),
            None,
            &u.id,
        ),
        email: u.email.unwrap_or_default(),
        created: if u.clerk_created_at > 0 {
            format_ms(u.clerk_created_at)
        } else {
            "not synced yet".to_owned()
        },
        last_sign_in: u.last_sign_in_at.map_or("never".to_owned(), format_ms),
        deleted: u.deleted_at.is_some(),
        banned: u.banned,
        id: u.id,
    }
}

pub struct EventItem {
    pub at: String,
    pub method: String,
    pub path: String,
    pub status: i32,
    pub reason: String,
    pub organization: String,
}

#[derive(Template)]
#[template(path = "admin/user.html")]
struct UserPage {
    chrome: Chrome,
    id: String,
    name: String,
    email: String,
    emails: String,
    username: String,
    created: String,
    deleted: Option<String>,
    banned: bool,
    image_url: String,
    public_metadata: String,
    private_metadata: String,
    unsafe_metadata: String,
    memberships: Vec<MembershipRow>,
    revoked_sessions: Vec<(String, String, String)>,
    events: Vec<EventItem>,
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
            let Some(user) = find_user(conn, &lookup)? else {
                return Ok(None);
            };
            let metadata = users_db::metadata_of(conn, &lookup)?.unwrap_or_default();
            let memberships = memberships_of(conn, &lookup)?;
            let revoked = users_db::revoked_sessions_of(conn, &lookup)?;
            let events = audit_db::list(
                conn,
                &AuditFilter {
                    user_id: Some(lookup.clone()),
                    ..AuditFilter::default()
                },
                None,
                20,
            )?;
            Ok(Some((user, metadata, memberships, revoked, events.rows)))
        })
        .await?;
    let Some((user, (public, private, unsafe_), memberships, revoked, events)) = found else {
        return Err(AdminError::NotFound);
    };
    Ok(page(&UserPage {
        chrome: admin.chrome("users"),
        name: display_name(
            user.first_name.as_deref(),
            user.last_name.as_deref(),
            user.username.as_deref(),
            user.email.as_deref(),
            &user.id,
        ),
        email: user.email.clone().unwrap_or_default(),
        emails: email_list(&user.email_addresses),
        username: user.username.clone().unwrap_or_default(),
        created: if user.clerk_created_at > 0 {
            format_ms(user.clerk_created_at)
        } else {
            "not synced from Clerk yet".to_owned()
        },
        deleted: user.deleted_at.map(format_ms),
        banned: user.banned,
        image_url: user.image_url.clone().unwrap_or_default(),
        public_metadata: pretty_json(&public),
        private_metadata: pretty_json(&private),
        unsafe_metadata: pretty_json(&unsafe_),
        memberships,
        revoked_sessions: revoked
            .into_iter()
            .map(|(session, reason, at)| (session, reason, format_ms(at)))
            .collect(),
        events: events
            .into_iter()
            .map(|e| EventItem {
                at: format_ms(e.occurred_at),
                method: e.method,
                path: e.path,
                status: e.status,
                reason: e.reason.unwrap_or_default(),
                organization: e.organization_id.unwrap_or_default(),
            })
            .collect(),
        audit_link: link("/admin/audit", &[("user", Some(&id))]),
        id,
    }))
}

/// The stored `email_addresses` (Clerk's objects, or plain strings) as `a@x.io, b@y.io`.
fn email_list(stored: &str) -> String {
    let Ok(serde_json::Value::Array(items)) = serde_json::from_str(stored) else {
        return stored.to_owned();
    };
    items
        .iter()
        .filter_map(|item| {
            item.as_str()
                .or_else(|| item.get("email_address").and_then(|e| e.as_str()))
        })
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::email_list;

    #[test]
    fn emails_are_listed_from_either_shape() {
        assert_eq!(
            email_list(r#"[{"id":"idn_1","email_address":"a@x.io"},{"email_address":"b@y.io"}]"#),
            "a@x.io, b@y.io"
        );
        assert_eq!(email_list(r#"["a@x.io"]"#), "a@x.io");
        assert_eq!(email_list("not json"), "not json");
    }
}
