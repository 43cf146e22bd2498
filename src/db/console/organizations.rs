//! Organizations for the console: search and keyset pages by name; one organization's members.

use diesel::dsl::count_star;
use diesel::prelude::*;

use super::{contains_pattern, lower};
use crate::db::organizations::OrganizationRow;
use crate::db::page::{Cursor, Page};
use crate::db::schema::{organization_memberships as om, organizations as orgs, users};
use crate::db::{DbConnection, DbError};

#[derive(Debug, Clone, PartialEq, Eq, Queryable)]
pub struct OrgListRow {
    pub id: String,
    pub name: String,
    pub slug: Option<String>,
    pub clerk_created_at: i64,
    pub deleted_at: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Eq, Queryable)]
pub struct MemberRow {
    pub membership_id: String,
    pub user_id: String,
    pub email: Option<String>,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub role: String,
    pub clerk_created_at: i64,
}

/// `after`: the (name, id) of the last row shown.
pub fn list(
    conn: &mut DbConnection,
    query_text: Option<&str>,
    after: Option<&Cursor<(String, String)>>,
    size: i64,
) -> Result<Page<OrgListRow>, DbError> {
    let mut query = orgs::table
        .filter(orgs::deleted_at.is_null())
        .select((
            orgs::id,
            orgs::name,
            orgs::slug,
            orgs::clerk_created_at,
            orgs::deleted_at,
        ))
        .into_boxed();
    if let Some(text) = query_text.map(str::trim).filter(|t| !t.is_empty()) {
        if text.starts_with("org_") {
            query = query.filter(orgs::id.eq(text.to_owned()));
        } else {
            let pattern = contains_pattern(text);
            query = query.filter(
                lower(orgs::name.nullable())
                    .like(pattern.clone())
                    .escape('\\')
                    .or(lower(orgs::slug).like(pattern).escape('\\')),
            );
        }
    }
    if let Some((name, id)) = after.map(Cursor::key) {
        query = query.filter(
            orgs::name
                .gt(name.clone())
                .or(orgs::name.eq(name.clone()).and(orgs::id.gt(id.clone()))),
        );
    }
    Page::load(conn, query.order((orgs::name.asc(), orgs::id.asc())), size)
}

/// Live member counts of the given organizations.
pub fn member_counts(
    conn: &mut DbConnection,
    ids: &[String],
) -> Result<Vec<(String, i64)>, DbError> {
    om::table
        .filter(om::organization_id.eq_any(ids))
        .filter(om::deleted_at.is_null())
        .group_by(om::organization_id)
        .select((om::organization_id, count_star()))
        .load(conn)
        .map_err(DbError::from)
}

/// One organization, whatever its state (the console shows deleted ones too).
pub fn find(conn: &mut DbConnection, id: &str) -> Result<Option<OrganizationRow>, DbError> {
    orgs::table
        .find(id)
        .select(OrganizationRow::as_select())
        .first(conn)
        .optional()
        .map_err(DbError::from)
}

/// Live members, by role then email: the first `size` (the page shows no more).
pub fn members(
    conn: &mut DbConnection,
    organization_id: &str,
    size: i64,
) -> Result<Page<MemberRow>, DbError> {
    let query = om::table
        .inner_join(users::table)
        .filter(om::organization_id.eq(organization_id))
        .filter(om::deleted_at.is_null())
        .order((om::role.asc(), users::email.asc(), om::id.asc()))
        .select((
            om::id,
            om::user_id,
            users::email,
            users::first_name,
            users::last_name,
            om::role,
            om::clerk_created_at,
        ));
    Page::load(conn, query, size)
}
