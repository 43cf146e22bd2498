//! Queries on users, organizations and memberships needed to serve a signed-in user.

use std::collections::HashSet;

use diesel::prelude::*;

use super::change_feed::{self, Change};
use super::schema::{organization_memberships, organizations, users};
use super::{batch, DbConnection, DbError};

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

/// A user as a membership payload (`public_user_data`) describes them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserStub {
    pub id: String,
    pub email: Option<String>,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub image_url: Option<String>,
}

/// Creates the users known only from membership payloads that are absent (the first payload of an id
/// wins; a stored user is left as it is). Clerk's timestamps stay 0 so that the real
/// `user.created`/`user.updated` overwrites them.
pub fn insert_user_stubs(
    conn: &mut DbConnection,
    stubs: &[UserStub],
    now_ms: i64,
) -> Result<(), DbError> {
    let distinct = batch::newest_per_id(stubs, |s| &s.id, |_| 0);
    for chunk in distinct.chunks(batch::MAX_ROWS) {
        let rows: Vec<_> = chunk
            .iter()
            .map(|stub| {
                (
                    users::id.eq(&stub.id),
                    users::email.eq(&stub.email),
                    users::first_name.eq(&stub.first_name),
                    users::last_name.eq(&stub.last_name),
                    users::image_url.eq(&stub.image_url),
                    users::clerk_created_at.eq(0_i64),
                    users::clerk_updated_at.eq(0_i64),
                    users::created_at.eq(now_ms),
                    users::synced_at.eq(now_ms),
                )
            })
            .collect();
        crate::per_backend!(&mut *conn, |c| diesel::insert_into(users::table)
            .values(&rows)
            .on_conflict(users::id)
            .do_nothing()
            .execute(c))?;
    }
    Ok(())
}

/// Marks a user deleted (creating the tombstone if the user was never seen), and their memberships.
pub fn tombstone_user(conn: &mut DbConnection, id: &str, now_ms: i64) -> Result<(), DbError> {
    change_feed::in_transaction(conn, |conn| {
        tombstone_user_unannounced(conn, id, now_ms)?;
        change_feed::publish(conn, &Change::User(id.to_owned()))
    })
}

fn tombstone_user_unannounced(
    conn: &mut DbConnection,
    id: &str,
    now_ms: i64,
) -> Result<(), DbError> {
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

/// Writes `user` unless what is stored is as new or newer; returns whether the row changed. See
/// [`upsert_users`].
pub fn write_user(
    conn: &mut DbConnection,
    user: &UserRecord,
    now_ms: i64,
) -> Result<bool, DbError> {
    Ok(upsert_users(conn, std::slice::from_ref(user), now_ms)? > 0)
}

/// Writes each user unless what is stored is as new or newer (Clerk's `updated_at` orders updates;
/// deliveries, fetches and listings arrive in any order): `INSERT … ON CONFLICT DO UPDATE … WHERE
/// stored.clerk_updated_at < excluded.clerk_updated_at`, atomic for each row (multi-row on
/// PostgreSQL: see `batch::upsert_newer`). A deleted user stays deleted (`deleted_at` is not among
/// the columns written: Clerk never reuses an id), while its data still converges to the newest
/// version. Returns how many rows were created or changed.
pub fn upsert_users(
    conn: &mut DbConnection,
    records: &[UserRecord],
    now_ms: i64,
) -> Result<usize, DbError> {
    change_feed::in_transaction(conn, |conn| {
        let written = upsert_users_unannounced(conn, records, now_ms)?;
        if written > 0 {
            change_feed::publish_users(conn, records.iter().map(|user| user.id.as_str()))?;
        }
        Ok(written)
    })
}

fn upsert_users_unannounced(
    conn: &mut DbConnection,
    records: &[UserRecord],
    now_ms: i64,
) -> Result<usize, DbError> {
    let written = batch::upsert_newer!(conn, users, records,
        |user| id: &user.id, version: user.clerk_updated_at,
        insert_only { created_at: now_ms }
        columns {
            email: &user.email,
            email_addresses: &user.email_addresses,
            first_name: &user.first_name,
            last_name: &user.last_name,
            username: &user.username,
            image_url: &user.image_url,
            public_metadata: &user.public_metadata,
            private_metadata: &user.private_metadata,
            unsafe_metadata: &user.unsafe_metadata,
            banned: user.banned,
            last_sign_in_at: user.last_sign_in_at,
            clerk_created_at: user.clerk_created_at,
            clerk_updated_at: user.clerk_updated_at,
            synced_at: now_ms,
        }
    );
    Ok(written)
}
