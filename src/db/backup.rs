//! A consistent copy of the embedded SQLite database while the service keeps writing to it, and the
//! integrity check of such a copy. SQLite only: PostgreSQL has `pg_dump`.
//!
//! `VACUUM INTO` reads the database inside one read transaction, so the copy is the database as of
//! one commit (WAL lets writers go on meanwhile), compacted, and without a WAL of its own: a single
//! file that can be copied back in place as it is.

use std::path::Path;

use diesel::connection::SimpleConnection;
use diesel::sql_types::Text;
use diesel::{Connection, QueryableByName, RunQueryDsl, SqliteConnection};

use super::{DbConnection, DbError};

/// Writes the copy to `destination`, which must not exist or be empty (SQLite refuses anything
/// else). Only a SQLite connection can: on PostgreSQL this is an error, never a silent no-op.
pub fn sqlite_copy_into(conn: &mut DbConnection, destination: &str) -> Result<(), DbError> {
    match conn {
        DbConnection::Sqlite(sqlite) => {
            diesel::sql_query("VACUUM INTO ?")
                .bind::<Text, _>(destination)
                .execute(sqlite)?;
            Ok(())
        }
        DbConnection::Postgresql(_) => Err(DbError::Open {
            url: destination.to_owned(),
            reason: "VACUUM INTO copies SQLite databases only".to_owned(),
        }),
    }
}

#[derive(QueryableByName)]
struct IntegrityRow {
    #[diesel(sql_type = Text)]
    integrity_check: String,
}

/// Most problems `PRAGMA integrity_check` lists; one is enough to reject a copy.
const MAX_PROBLEMS_REPORTED: u32 = 10;

/// `PRAGMA integrity_check` on the SQLite file at `path`: empty when the file is sound, else the
/// problems SQLite found (at most [`MAX_PROBLEMS_REPORTED`]). The file is opened read-only, so that
/// checking it neither changes it nor leaves a journal beside it.
pub fn sqlite_integrity_problems(path: &Path) -> Result<Vec<String>, DbError> {
    let open_error = |reason: String| DbError::Open {
        url: format!("sqlite://{}", path.display()),
        reason,
    };
    let path_text = path
        .to_str()
        .ok_or_else(|| open_error("path is not valid UTF-8".to_owned()))?;
    let mut conn = SqliteConnection::establish(&read_only_uri(path_text))
        .map_err(|e| open_error(e.to_string()))?;
    conn.batch_execute("PRAGMA query_only = ON;")?;
    let rows: Vec<IntegrityRow> =
        diesel::sql_query(format!("PRAGMA integrity_check({MAX_PROBLEMS_REPORTED})"))
            .load(&mut conn)?;
    Ok(rows
        .into_iter()
        .map(|row| row.integrity_check)
        .filter(|line| line != "ok")
        .collect())
}

/// A `file:` URI that opens `path` read-only. The characters with a meaning in URIs are escaped, so
/// any file name works (SQLite decodes %XX in the path).
fn read_only_uri(path: &str) -> String {
    let mut uri = String::from("file:");
    for ch in path.chars() {
        match ch {
            '%' | '?' | '#' => uri.push_str(&format!("%{:02X}", u32::from(ch))),
            _ => uri.push(ch),
        }
    }
    uri.push_str("?mode=ro");
    uri
}

#[cfg(test)]
mod tests {
    use super::read_only_uri;

    #[test]
    fn uri_escapes_what_uris_give_a_meaning() {
        assert_eq!(read_only_uri("/b/x.db"), "file:/b/x.db?mode=ro");
        assert_eq!(
            read_only_uri("/b/50%?#.db"),
            "file:/b/50%25%3F%23.db?mode=ro"
        );
    }
}
