//! Users for the console: search, status, sort, keyset pages; one user's details.

use diesel::dsl::sql;
use diesel::prelude::*;
use diesel::sql_types::Text;
use diesel::Connection;

use super::{contains_pattern, lower};
use crate::db::page::{Cursor, MalformedCursor, Page};
use crate::db::schema::{audit_events, revoked_sessions, users};
use crate::db::{DbConnection, DbError};

#[derive(Debug, Clone, PartialEq, Eq, Queryable)]
pub struct UserListRow {
    pub id: String,
    pub email: Option<String>,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub username: Option<String>,
    pub banned: bool,
    pub clerk_created_at: i64,
    pub last_sign_in_at: Option<i64>,
    pub deleted_at: Option<i64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Status {
    #[default]
    Active,
    Deleted,
    All,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Sort {
    #[default]
    Newest,
    Oldest,
    Email,
}

/// Where the next page starts: the sort key and id of the last row shown; the key is its creation
/// time, or its email (`''` for none) for [`Sort::Email`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum After {
    Time(Cursor<(i64, String)>),
    Email(Cursor<(String, String)>),
}

impl After {
    /// The values of its query parameters: the key, then the id.
    pub fn values(&self) -> Vec<String> {
        match self {
            After::Time(cursor) => cursor.values(),
            After::Email(cursor) => cursor.values(),
        }
    }
}

impl Sort {
    /// The cursor in a query string's key and id, for this order (whose key is a time or a text).
    pub fn parse_after(self, values: &[Option<&str>]) -> Result<Option<After>, MalformedCursor> {
        Ok(match self {
            Sort::Newest | Sort::Oldest => Cursor::parse(values)?.map(After::Time),
            Sort::Email => Cursor::parse(values)?.map(After::Email),
        })
    }

    /// Where the page after `page` starts in this order, `None` on the last page.
    pub fn next(self, page: &Page<UserListRow>) -> Option<After> {
        match self {
            Sort::Newest | Sort::Oldest => page
                .next(|u| (u.clerk_created_at, u.id.clone()))
                .map(After::Time),
            Sort::Email => page
                .next(|u| (u.email.clone().unwrap_or_default(), u.id.clone()))
                .map(After::Email),
        }
    }
}

#[derive(Debug, Clone, Default)]
pub struct UserFilter {
    pub query: Option<String>,
    pub status: Status,
    pub sort: Sort,
    pub after: Option<After>,
}

/// The email sort key: an expression the `users_email_sort_idx` index is built on.
fn email_key() -> diesel::expression::SqlLiteral<Text> {
    sql::<Text>("COALESCE(users.email, '')")
}

pub fn list(
    conn: &mut DbConnection,
    filter: &UserFilter,
    size: i64,
) -> Result<Page<UserListRow>, DbError> {
    let mut query = users::table
        .select((
            users::id,
            users::email,
            users::first_name,
            users::last_name,
            users::username,
            users::banned,
            users::clerk_created_at,
            users::last_sign_in_at,
            users::deleted_at,
        ))
        .into_boxed();
    query = match filter.status {
        Status::Active => query.filter(users::deleted_at.is_null()),
        Status::Deleted => query.filter(users::deleted_at.is_not_null()),
        Status::All => query,
    };
    if let Some(text) = filter
        .query
        .as_deref()
        .map(str::trim)
        .filter(|t| !t.is_empty())
    {
        if text.starts_with("user_") {
            query = query.filter(users::id.eq(text.to_owned()));
        } else {
            let pattern = contains_pattern(text);
            query = query.filter(
                lower(users::email.nullable())
                    .like(pattern.clone())
                    .escape('\\')
                    .or(lower(users::first_name).like(pattern.clone()).escape('\\'))
                    .or(lower(users::last_name).like(pattern.clone()).escape('\\'))
                    .or(lower(users::username).like(pattern).escape('\\')),
            );
        }
    }
    query = match (filter.sort, &filter.after) {
        (Sort::Newest, Some(After::Time(Cursor((t, id))))) => query.filter(
            users::clerk_created_at
                .lt(*t)
                .or(users::clerk_created_at.eq(*t).and(users::id.lt(id.clone()))),
        ),
        (Sort::Oldest, Some(After::Time(Cursor((t, id))))) => query.filter(
            users::clerk_created_at
                .gt(*t)
                .or(users::clerk_created_at.eq(*t).and(users::id.gt(id.clone()))),
        ),
        (Sort::Email, Some(After::Email(Cursor((key, id))))) => query.filter(
            email_key()
                .gt(key.clone())
                .or(email_key().eq(key.clone()).and(users::id.gt(id.clone()))),
        ),
        _ => query,
    };
    query = match filter.sort {
        Sort::Newest => query.order((users::clerk_created_at.desc(), users::id.desc())),
        Sort::Oldest => query.order((users::clerk_created_at.asc(), users::id.asc())),
        Sort::Email => query.order((email_key().asc(), users::id.asc())),
    };
    let searching = filter
        .query
        .as_deref()
        .is_some_and(|t| !t.trim().is_empty());
    conn.transaction(|conn| {
        if searching {
            if let DbConnection::Postgresql(pg) = conn {
                // Diesel keeps this statement prepared (its text is the same for every search term),
                // and after a few runs PostgreSQL may switch to a generic plan that cannot use the
                // trigram index for a `LIKE $1`: a rare term would then read every user again.
                diesel::sql_query("SET LOCAL plan_cache_mode = force_custom_plan").execute(pg)?;
            }
        }
        Page::load(conn, query, size)
    })
}

/// Sessions of a user that webhooks revoked, newest first.
pub fn revoked_sessions_of(
    conn: &mut DbConnection,
    user_id: &str,
) -> Result<Vec<(String, String, i64)>, DbError> {
    revoked_sessions::table
        .filter(revoked_sessions::user_id.eq(user_id))
        .order(revoked_sessions::revoked_at.desc())
        .limit(50)
        .select((
            revoked_sessions::session_id,
            revoked_sessions::reason,
            revoked_sessions::revoked_at,
        ))
        .load(conn)
        .map_err(DbError::from)
}

/// The full stored profile's metadata columns (public, private, unsafe), as JSON text.
pub fn metadata_of(
    conn: &mut DbConnection,
    user_id: &str,
) -> Result<Option<(String, String, String)>, DbError> {
    users::table
        .find(user_id)
        .select((
            users::public_metadata,
            users::private_metadata,
            users::unsafe_metadata,
        ))
        .first(conn)
        .optional()
        .map_err(DbError::from)
}

/// Ids of a user's most recent audit events (the audit listing shows them).
pub fn has_audit_events(conn: &mut DbConnection, user_id: &str) -> Result<bool, DbError> {
    diesel::select(diesel::dsl::exists(
        audit_events::table.filter(audit_events::user_id.eq(user_id)),
    ))
    .get_result(conn)
    .map_err(DbError::from)
}
