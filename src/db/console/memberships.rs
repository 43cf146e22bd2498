//! Memberships for the console: filter by organization, user or role; keyset pages by id.

use diesel::prelude::*;

use crate::db::page::{Cursor, Page};
use crate::db::schema::{organization_memberships as om, organizations as orgs, users};
use crate::db::{DbConnection, DbError};

#[derive(Debug, Clone, PartialEq, Eq, Queryable)]
pub struct MembershipListRow {
    pub id: String,
    pub organization_id: String,
    pub organization_name: String,
    pub user_id: String,
    pub email: Option<String>,
    pub role: String,
    pub clerk_created_at: i64,
}

#[derive(Debug, Clone, Default)]
pub struct MembershipFilter {
    pub organization_id: Option<String>,
    pub user_id: Option<String>,
    pub role: Option<String>,
    /// The id of the last row shown.
    pub after: Option<Cursor<String>>,
}

pub fn list(
    conn: &mut DbConnection,
    filter: &MembershipFilter,
    size: i64,
) -> Result<Page<MembershipListRow>, DbError> {
    let mut query = om::table
        .inner_join(orgs::table)
        .inner_join(users::table)
        .filter(om::deleted_at.is_null())
        .select((
            om::id,
            om::organization_id,
            orgs::name,
            om::user_id,
            users::email,
            om::role,
            om::clerk_created_at,
        ))
        .into_boxed();
    if let Some(org) = &filter.organization_id {
        query = query.filter(om::organization_id.eq(org.clone()));
    }
    if let Some(user) = &filter.user_id {
        query = query.filter(om::user_id.eq(user.clone()));
    }
    if let Some(role) = &filter.role {
        query = query.filter(om::role.eq(role.clone()));
    }
    if let Some(after) = &filter.after {
        query = query.filter(om::id.gt(after.key().clone()));
    }
    Page::load(conn, query.order(om::id.asc()), size)
}
