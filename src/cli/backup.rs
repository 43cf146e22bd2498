//! `auth-core backup PATH`: a consistent copy of the embedded SQLite database, taken while the server
//! runs and checked before it is reported written. On PostgreSQL it names the `pg_dump` command to
//! run instead (its own tool does it better: consistent, streaming, restorable object by object).
//! Restoring is in docs/operations.md; tests/backup.rs follows it.

use std::path::{Path, PathBuf};

use crate::db::{backup, Db, DbError};
use crate::settings::{DatabaseSettings, DatabaseUrl};

#[derive(Debug, thiserror::Error)]
pub enum BackupError {
    #[error("{} exists: refusing to overwrite it (choose a new name)", .0.display())]
    DestinationExists(PathBuf),
    #[error("no SQLite database at {}: nothing to back up", .0.display())]
    NoDatabase(PathBuf),
    #[error("backup path {} is not valid UTF-8", .0.display())]
    NotUtf8(PathBuf),
    #[error("the database is PostgreSQL: back it up with pg_dump (replace *** with the password, or leave it out and set PGPASSWORD):\n  {command}")]
    UsePgDump { command: String },
    #[error("backup to {} failed: {error}", .path.display())]
    Copy { path: PathBuf, error: DbError },
    #[error("the copy at {} failed its integrity check and was deleted: {}", .path.display(), .problems.join("; "))]
    Corrupt {
        path: PathBuf,
        problems: Vec<String>,
    },
    #[error("cannot write {}: {error}", .path.display())]
    Io {
        path: PathBuf,
        error: std::io::Error,
    },
}

/// What was written.
#[derive(Debug)]
pub struct Written {
    pub path: PathBuf,
    pub bytes: u64,
}

/// Writes the backup and says where and how large.
pub fn run(settings: &DatabaseSettings, destination: &Path) -> Result<(), BackupError> {
    let written = write(settings, destination)?;
    println!(
        "backup written to {} ({} bytes, integrity ok)",
        written.path.display(),
        written.bytes
    );
    Ok(())
}

/// Copies the database to `destination` and checks the copy.
pub fn write(settings: &DatabaseSettings, destination: &Path) -> Result<Written, BackupError> {
    let source = match &settings.url {
        DatabaseUrl::Postgres(_) => {
            return Err(BackupError::UsePgDump {
                command: pg_dump_command(&settings.url.redacted(), destination),
            })
        }
        DatabaseUrl::Sqlite(path) => path,
    };
    // Opening a connection would create an empty database: a backup of nothing must fail instead.
    if !source.is_file() {
        return Err(BackupError::NoDatabase(source.clone()));
    }
    let destination_text = destination
        .to_str()
        .ok_or_else(|| BackupError::NotUtf8(destination.to_owned()))?;
    create_empty_private_file(destination)?;
    // Whatever fails from here on, no partial or unsound file is left to be mistaken for a backup.
    let checked = copy_into(settings, destination_text)
        .and_then(|()| backup::sqlite_integrity_problems(destination));
    let problems = match checked {
        Ok(problems) => problems,
        Err(error) => {
            let _ = std::fs::remove_file(destination);
            return Err(BackupError::Copy {
                path: destination.to_owned(),
                error,
            });
        }
    };
    if !problems.is_empty() {
        let _ = std::fs::remove_file(destination);
        return Err(BackupError::Corrupt {
            path: destination.to_owned(),
            problems,
        });
    }
    sync_to_disk(destination)?;
    let bytes = destination
        .metadata()
        .map_err(|error| BackupError::Io {
            path: destination.to_owned(),
            error,
        })?
        .len();
    Ok(Written {
        path: destination.to_owned(),
        bytes,
    })
}

/// Claims the destination: `create_new` refuses any existing file or link atomically (no check-then-
/// write race), and the mode keeps the copy, which holds everything the database does, private to
/// its owner. VACUUM INTO accepts an empty file.
fn create_empty_private_file(path: &Path) -> Result<(), BackupError> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    match options.open(path) {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            Err(BackupError::DestinationExists(path.to_owned()))
        }
        Err(error) => Err(BackupError::Io {
            path: path.to_owned(),
            error,
        }),
    }
}

fn copy_into(settings: &DatabaseSettings, destination: &str) -> Result<(), DbError> {
    let db = Db::open(settings)?;
    let mut conn = db.get()?;
    backup::sqlite_copy_into(&mut conn, destination)
}

/// SQLite does not sync the file VACUUM INTO writes: the backup (and its directory entry) reach the
/// disk before the command says it is written.
fn sync_to_disk(path: &Path) -> Result<(), BackupError> {
    let io = |error| BackupError::Io {
        path: path.to_owned(),
        error,
    };
    std::fs::File::open(path)
        .and_then(|f| f.sync_all())
        .map_err(io)?;
    let parent = path.parent().filter(|p| !p.as_os_str().is_empty());
    std::fs::File::open(parent.unwrap_or(Path::new(".")))
        .and_then(|d| d.sync_all())
        .map_err(io)
}

/// `pg_dump` in its custom format (compressed, restorable with `pg_restore`), every word quoted for
/// a POSIX shell.
fn pg_dump_command(redacted_url: &str, destination: &Path) -> String {
    format!(
        "pg_dump --format=custom --file={} {}",
        shell_quote(&destination.display().to_string()),
        shell_quote(redacted_url)
    )
}

fn shell_quote(word: &str) -> String {
    format!("'{}'", word.replace('\'', r"'\''"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pg_dump_command_is_quoted_for_the_shell() {
        assert_eq!(
            pg_dump_command("postgres://u:***@db/x", Path::new("/b/it's.dump")),
            r"pg_dump --format=custom --file='/b/it'\''s.dump' 'postgres://u:***@db/x'"
        );
    }
}
