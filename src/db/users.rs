//! Queries on users, organizations and memberships needed to serve a signed-in user.

use std::collections::HashSet;

use diesel::prelude::*;

use super::schema::{organization_memberships, organizations, users};
use super::{DbConnection, DbError};

#[derive(Debug, Clone, PartialEq, Queryable, Selectable)]
#[diesel(table_name = users)]
pub struct UserRow {
    pub id: String,
    pub email: Option<String>,
    pub email_addresses: String,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub username: Option<String>,
    pub image_url: Option<String>,
    pub public_metadata: String,
    pub banned: bool,
    pub clerk_created_at: i64,
    pub clerk_updated_at: i64,
    pub deleted_at: Option<i64>,
}

impl UserRow {
    pub fn is_deleted(&self) -> bool {
        self.deleted_at.is_some()
    }
}

/// A membership of a user, with its organization's name and slug.
#[derive(Debug, Clone, PartialEq, Queryable)]
pub struct MembershipRow {
    pub id: String,
    pub organization_id: String,
    pub organization_name: String,
    pub organization_slug: Option<String>,
    pub role: String,
    pub permissions: String,
}

pub fn find_user(conn: &mut DbConnection, id: &str) -> Result<Option<UserRow>, DbError> {
    users::table
        .find(id)
        .select(UserRow::as_select())
        .first(conn)
        .optional()
        .map_err(DbError::from)
}

/// What a signed-in request needs of a user's memberships, read by one query.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Memberships {
    /// Live memberships (neither the membership nor its organization deleted), oldest first.
    pub live: Vec<MembershipRow>,
    /// Organizations the user has been removed from (every membership there deleted) or that were
    /// deleted, sorted: a token still naming one of them as active is refused.
    pub revoked_organizations: Vec<String>,
}

/// Every membership of the user (deleted ones too, which is what tells a revoked organization from
/// one the user never joined), split into [`Memberships`].
pub fn memberships(conn: &mut DbConnection, user_id: &str) -> Result<Memberships, DbError> {
    let rows: Vec<(MembershipRow, Option<i64>, Option<i64>)> = organization_memberships::table
        .inner_join(organizations::table)
        .filter(organization_memberships::user_id.eq(user_id))
        .order(organization_memberships::clerk_created_at.asc())
        .select((
            (
                organization_memberships::id,
                organization_memberships::organization_id,
                organizations::name,
                organizations::slug,
                organization_memberships::role,
                organization_memberships::permissions,
            ),
            organization_memberships::deleted_at,
            organizations::deleted_at,
        ))
        .load(conn)?;
    let is_live =
        |(_, membership_deleted, organization_deleted): &(_, Option<i64>, Option<i64>)| {
            membership_deleted.is_none() && organization_deleted.is_none()
        };
    let live_organizations: HashSet<&str> = rows
        .iter()
        .filter(|row| is_live(row))
        .map(|(m, _, _)| m.organization_id.as_str())
        .collect();
    let mut revoked_organizations: Vec<String> = rows
        .iter()
        .map(|(m, _, _)| m.organization_id.as_str())
        .filter(|org| !live_organizations.contains(org))
        .map(str::to_owned)
        .collect();
    revoked_organizations.sort();
    revoked_organizations.dedup();
    let live = rows
        .into_iter()
        .filter(|row| is_live(row))
        .map(|(m, _, _)| m)
        .collect();
    Ok(Memberships {
        live,
        revoked_organizations,
    })
}

/// Live memberships (neither the membership nor its organization deleted), oldest first.
pub fn memberships_of(
    conn: &mut DbConnection,
    user_id: &str,
) -> Result<Vec<MembershipRow>, DbError> {
    Ok(memberships(conn, user_id)?.live)
}

/// Creates a user known only by id (just in time, from a verified token); does nothing if the row
/// exists. Clerk's timestamps are 0 until the profile arrives from Clerk (a webhook or the Backend
/// API), so any real update is newer.
pub fn insert_placeholder_user(
    conn: &mut DbConnection,
    id: &str,
    now_ms: i64,
) -> Result<(), DbError> {
    let row = (
        users::id.eq(id),
        users::clerk_created_at.eq(0_i64),
        users::clerk_updated_at.eq(0_i64),
        users::created_at.eq(now_ms),
        users::synced_at.eq(now_ms),
    );
    crate::per_backend!(conn, |c| diesel::insert_into(users::table)
        .values(row)
        .on_conflict(users::id)
        .do_nothing()
        .execute(c))?;
    Ok(())
}

/// A user's columns as Clerk last described them (metadata and addresses as JSON text).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserRecord {
    pub id: String,
    pub email: Option<String>,
    pub email_addresses: String,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub username: Option<String>,
    pub image_url: Option<String>,
    pub public_metadata: String,
    pub private_metadata: String,
    pub unsafe_metadata: String,
    pub banned: bool,
    pub last_sign_in_at: Option<i64>,
    pub clerk_created_at: i64,
    pub clerk_updated_at: i64,
}

/// Creates a user known only from a membership payload (`public_user_data`), if absent. Clerk's
/// timestamps stay 0 so that the real `user.created`/`user.updated` overwrites it.
pub fn insert_user_stub(
    conn: &mut DbConnection,
    id: &str,
    email: Option<&str>,
    first_name: Option<&str>,
    last_name: Option<&str>,
    image_url: Option<&str>,
    now_ms: i64,
) -> Result<(), DbError> {
    let row = (
        users::id.eq(id),
        users::email.eq(email),
        users::first_name.eq(first_name),
        users::last_name.eq(last_name),
        users::image_url.eq(image_url),
        users::clerk_created_at.eq(0_i64),
        users::clerk_updated_at.eq(0_i64),
        users::created_at.eq(now_ms),
        users::synced_at.eq(now_ms),
    );
    crate::per_backend!(conn, |c| diesel::insert_into(users::table)
        .values(row)
        .on_conflict(users::id)
        .do_nothing()
        .execute(c))?;
    Ok(())
}

/// Marks a user deleted (creating the tombstone if the user was never seen), and their memberships.
pub fn tombstone_user(conn: &mut DbConnection, id: &str, now_ms: i64) -> Result<(), DbError> {
    insert_placeholder_user(conn, id, now_ms)?;
    diesel::update(
        users::table
            .filter(users::id.eq(id))
            .filter(users::deleted_at.is_null()),
    )
    .set((users::deleted_at.eq(now_ms), users::synced_at.eq(now_ms)))
    .execute(conn)?;
    diesel::update(
        organization_memberships::table
            .filter(organization_memberships::user_id.eq(id))
            .filter(organization_memberships::deleted_at.is_null()),
    )
    .set(organization_memberships::deleted_at.eq(now_ms))
    .execute(conn)?;
    Ok(())
}

pub fn is_deleted(conn: &mut DbConnection, id: &str) -> Result<bool, DbError> {
    let deleted: Option<Option<i64>> = users::table
        .find(id)
        .select(users::deleted_at)
        .first(conn)
        .optional()?;
    Ok(matches!(deleted, Some(Some(_))))
}

/// Writes `user` unless what is stored is as new or newer (Clerk's `updated_at` orders updates;
/// deliveries and fetches arrive in any order). Returns whether the row changed. Two statements,
/// each atomic on its own: create if absent, else update only where the stored row is older. A
/// deleted user stays deleted.
pub fn write_user(
    conn: &mut DbConnection,
    user: &UserRecord,
    now_ms: i64,
) -> Result<bool, DbError> {
    let values = (
        users::email.eq(&user.email),
        users::email_addresses.eq(&user.email_addresses),
        users::first_name.eq(&user.first_name),
        users::last_name.eq(&user.last_name),
        users::username.eq(&user.username),
        users::image_url.eq(&user.image_url),
        users::public_metadata.eq(&user.public_metadata),
        users::private_metadata.eq(&user.private_metadata),
        users::unsafe_metadata.eq(&user.unsafe_metadata),
        users::banned.eq(user.banned),
        users::last_sign_in_at.eq(user.last_sign_in_at),
        users::clerk_created_at.eq(user.clerk_created_at),
        users::clerk_updated_at.eq(user.clerk_updated_at),
        users::synced_at.eq(now_ms),
    );
    let inserted = crate::per_backend!(&mut *conn, |c| diesel::insert_into(users::table)
        .values((users::id.eq(&user.id), users::created_at.eq(now_ms), values))
        .on_conflict(users::id)
        .do_nothing()
        .execute(c))?;
    if inserted == 1 {
        return Ok(true);
    }
    // deleted_at is not among the values: a tombstone stays one (Clerk never reuses an id), while its
    // data still converges to the newest version whatever order deliveries arrive in.
    let updated = diesel::update(
        users::table
            .filter(users::id.eq(&user.id))
            .filter(users::clerk_updated_at.lt(user.clerk_updated_at)),
    )
    .set(values)
    .execute(conn)?;
    Ok(updated == 1)
}
