//! The generated `SECRET_KEY`: one row, written by whichever instance starts first.

use diesel::prelude::*;

use super::schema::generated_secret_key as stored;
use super::{DbConnection, DbError};

/// The only row's id (the table refuses any other).
const ROW_ID: i32 = 1;

/// Whether the key returned was written by this call or found already stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    Generated,
    Stored,
}

/// The stored key, storing `candidate` first when there is none. Insert-if-absent, then read: two
/// instances starting together on one PostgreSQL both end up with the row the first insert wrote
/// (the second insert waits for the first's commit, then does nothing).
pub fn stored_or_insert(
    conn: &mut DbConnection,
    candidate: &str,
    now_ms: i64,
) -> Result<(String, Origin), DbError> {
    let row = (
        stored::id.eq(ROW_ID),
        stored::secret.eq(candidate),
        stored::created_at.eq(now_ms),
    );
    let inserted = crate::per_backend!(conn, |c| diesel::insert_into(stored::table)
        .values(row)
        .on_conflict(stored::id)
        .do_nothing()
        .execute(c))?;
    let secret: String = stored::table
        .find(ROW_ID)
        .select(stored::secret)
        .first(conn)?;
    let origin = if inserted == 1 {
        Origin::Generated
    } else {
        Origin::Stored
    };
    Ok((secret, origin))
}
