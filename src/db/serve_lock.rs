//! One serving process per SQLite file. SQLite has no way to tell another process that a user, a
//! session or a key changed (PostgreSQL has the change feed), so a second server on the same file
//! would keep honouring what the first one revoked. `auth-core serve` therefore holds an exclusive
//! advisory lock on a file next to the database for its whole life, and a second `serve` refuses to
//! start. The other commands (`backup`, `sync`, `migrate`, `keys`, …) take no lock: they share the
//! file with a running server as SQLite allows.
//!
//! The lock is the operating system's (`flock` on Unix, `LockFileEx` on Windows), taken through
//! `std::fs::File::try_lock`: it belongs to the open file and is released when the process ends,
//! however it ends, so a crashed server never leaves a stale lock behind. Not on network file
//! systems where such locks are not shared between machines, where SQLite itself is unsafe anyway.

use std::fs::{File, OpenOptions, TryLockError};
use std::path::{Path, PathBuf};

use crate::settings::DatabaseUrl;

/// Held for the life of the serving process; dropping it releases the lock.
#[derive(Debug)]
pub struct ServeLock {
    _file: File,
}

#[derive(Debug, thiserror::Error)]
pub enum ServeLockError {
    #[error(
        "another auth-core is already serving the SQLite database {} (it holds {}); a SQLite \
         database is served by one instance: to run several instances, use PostgreSQL \
         (DATABASE_URL=postgres://…)",
        database.display(),
        lock.display()
    )]
    Held { database: PathBuf, lock: PathBuf },
    #[error("cannot lock {}: {error}", lock.display())]
    Io {
        lock: PathBuf,
        error: std::io::Error,
    },
}

/// The lock file of the SQLite database at `database`: beside it, as SQLite's own `-wal`, `-shm`.
pub fn lock_path(database: &Path) -> PathBuf {
    let mut name = database.as_os_str().to_owned();
    name.push("-serve.lock");
    PathBuf::from(name)
}

/// Takes the serving lock of a SQLite database; `None` for PostgreSQL (several instances share
/// it through the change feed) and for an in-memory SQLite database (no other process can open it).
pub fn acquire(url: &DatabaseUrl) -> Result<Option<ServeLock>, ServeLockError> {
    let DatabaseUrl::Sqlite(database) = url else {
        return Ok(None);
    };
    let text = database.to_string_lossy();
    if text == ":memory:" || text.starts_with("file::memory:") {
        return Ok(None);
    }
    let lock = lock_path(database);
    let io = |error| ServeLockError::Io {
        lock: lock.clone(),
        error,
    };
    if let Some(dir) = lock.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(io)?;
    }
    let file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&lock)
        .map_err(io)?;
    match file.try_lock() {
        Ok(()) => Ok(Some(ServeLock { _file: file })),
        Err(TryLockError::WouldBlock) => Err(ServeLockError::Held {
            database: database.clone(),
            lock,
        }),
        Err(TryLockError::Error(error)) => Err(io(error)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_holder_is_refused_until_the_first_lets_go() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let url = DatabaseUrl::Sqlite(dir.path().join("auth.sqlite3"));
        let first = acquire(&url).unwrap_or_else(|e| panic!("{e}"));
        assert!(first.is_some());
        // A second open of the file is a second holder, in this process as in another.
        let refused = match acquire(&url) {
            Ok(_) => panic!("a second holder was let in"),
            Err(error) => error.to_string(),
        };
        assert!(refused.contains("use PostgreSQL"), "{refused}");
        assert!(refused.contains("auth.sqlite3-serve.lock"), "{refused}");
        drop(first);
        assert!(acquire(&url).unwrap_or_else(|e| panic!("{e}")).is_some());
        let memory = DatabaseUrl::Sqlite(PathBuf::from(":memory:"));
        assert!(acquire(&memory).unwrap_or_else(|e| panic!("{e}")).is_none());
    }
}
