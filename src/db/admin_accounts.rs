//! Local administrator accounts of the admin console. Only argon2id hashes of passwords are stored.

use diesel::prelude::*;

use super::change_feed::{self, Change};
use super::schema::admin_accounts as admins;
use super::{DbConnection, DbError};

#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable)]
#[diesel(table_name = admins)]
pub struct AdminRow {
    pub id: i64,
    pub email: String,
    pub password_hash: String,
    pub disabled_at: Option<i64>,
    pub last_login_at: Option<i64>,
    pub password_changed_at: i64,
    pub created_at: i64,
    pub updated_at: i64,
}

impl AdminRow {
    pub fn is_disabled(&self) -> bool {
        self.disabled_at.is_some()
    }
}

/// Inserts an account; `Ok(None)` when the email is already taken.
pub fn insert(
    conn: &mut DbConnection,
    email: &str,
    password_hash: &str,
    now_ms: i64,
) -> Result<Option<i64>, DbError> {
    conn.transaction(|conn| {
        let taken = admins::table
            .filter(admins::email.eq(email))
            .count()
            .get_result::<i64>(conn)?;
        if taken > 0 {
            return Ok(None);
        }
        diesel::insert_into(admins::table)
            .values((
                admins::email.eq(email),
                admins::password_hash.eq(password_hash),
                admins::password_changed_at.eq(now_ms),
                admins::created_at.eq(now_ms),
                admins::updated_at.eq(now_ms),
            ))
            .execute(conn)?;
        admins::table
            .filter(admins::email.eq(email))
            .select(admins::id)
            .first(conn)
            .map(Some)
    })
    .map_err(DbError::from)
}

pub fn find_by_email(conn: &mut DbConnection, email: &str) -> Result<Option<AdminRow>, DbError> {
    admins::table
        .filter(admins::email.eq(email))
        .select(AdminRow::as_select())
        .first(conn)
        .optional()
        .map_err(DbError::from)
}

pub fn find(conn: &mut DbConnection, id: i64) -> Result<Option<AdminRow>, DbError> {
    admins::table
        .find(id)
        .select(AdminRow::as_select())
        .first(conn)
        .optional()
        .map_err(DbError::from)
}

pub fn list(conn: &mut DbConnection) -> Result<Vec<AdminRow>, DbError> {
    admins::table
        .order(admins::email.asc())
        .select(AdminRow::as_select())
        .load(conn)
        .map_err(DbError::from)
}

pub fn record_login(conn: &mut DbConnection, id: i64, now_ms: i64) -> Result<(), DbError> {
    diesel::update(admins::table.find(id))
        .set(admins::last_login_at.eq(now_ms))
        .execute(conn)?;
    Ok(())
}

/// Disables an enabled account, and announces it; `false` when there was none to disable.
pub fn disable(conn: &mut DbConnection, id: i64, now_ms: i64) -> Result<bool, DbError> {
    change_feed::in_transaction(conn, |conn| {
        let changed = diesel::update(admins::table.find(id).filter(admins::disabled_at.is_null()))
            .set((
                admins::disabled_at.eq(now_ms),
                admins::updated_at.eq(now_ms),
            ))
            .execute(conn)?;
        announce_if(conn, changed == 1, id)
    })
}

/// Publishes a change to account `id` when there was one; returns whether there was.
fn announce_if(conn: &mut DbConnection, changed: bool, id: i64) -> Result<bool, DbError> {
    if changed {
        change_feed::publish(conn, &Change::AdminAccount(id))?;
    }
    Ok(changed)
}

/// Enables a disabled account, and announces it; `false` when there was none to enable.
pub fn enable(conn: &mut DbConnection, id: i64, now_ms: i64) -> Result<bool, DbError> {
    change_feed::in_transaction(conn, |conn| enable_unannounced(conn, id, now_ms))
}

fn enable_unannounced(conn: &mut DbConnection, id: i64, now_ms: i64) -> Result<bool, DbError> {
    let changed = diesel::update(
        admins::table
            .find(id)
            .filter(admins::disabled_at.is_not_null()),
    )
    .set((
        admins::disabled_at.eq(None::<i64>),
        admins::updated_at.eq(now_ms),
    ))
    .execute(conn)?;
    announce_if(conn, changed == 1, id)
}

pub fn set_password(
    conn: &mut DbConnection,
    id: i64,
    password_hash: &str,
    now_ms: i64,
) -> Result<(), DbError> {
    change_feed::in_transaction(conn, |conn| {
        let changed = diesel::update(admins::table.find(id))
            .set((
                admins::password_hash.eq(password_hash),
                admins::password_changed_at.eq(now_ms),
                admins::updated_at.eq(now_ms),
            ))
            .execute(conn)?;
        announce_if(conn, changed == 1, id).map(|_| ())
    })
}
