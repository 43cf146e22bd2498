//! The change feed: every write that changes what a credential may do announces itself, so that
//! every instance on one PostgreSQL database evicts exactly what changed from its caches.
//!
//! Invariants:
//! - A change is published with `pg_notify` on the connection that writes it, inside the write's
//!   transaction (PostgreSQL delivers it at commit and drops it on rollback): nothing is announced
//!   that did not commit, and nothing commits unannounced.
//! - A payload is small and bounded (`kind:id`, at most [`MAX_PAYLOAD`] bytes, far under
//!   PostgreSQL's 8000): an id too long to carry, or a set of users too large to name, is announced
//!   as a coarser change ("every user", "reload revoked sessions"), never truncated.
//! - A payload this build cannot read is [`Change::Unknown`], which its listeners treat as "forget
//!   everything": a newer instance's change is never ignored by an older one.
//! - On SQLite publishing does nothing: one process serves a SQLite file (`serve_lock`), and it
//!   evicts its own caches as it writes.
//!
//! The listening side: [`listener`] (one dedicated connection), [`follow`] (reconnects with backoff,
//! forgets everything after a gap), [`status`] (what health and metrics show).

pub mod follow;
pub mod listener;
pub mod status;

use diesel::prelude::*;
use diesel::sql_types::Text;

use super::{DbConnection, DbError};

/// The PostgreSQL channel every instance of one database listens on.
pub const CHANNEL: &str = "auth_core_changes";

/// Longest payload published; longer ones become a coarser change.
pub const MAX_PAYLOAD: usize = 512;

/// Longest id carried by name (Clerk's ids are about 32 characters).
const MAX_ID: usize = 256;

/// Most users named one by one in a write; more become [`Change::AllUsers`].
pub const MAX_NAMED_USERS: usize = 16;

/// One authorization-relevant change, as announced to the other instances.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// A user's profile or memberships changed (updated, deleted, membership written or removed).
    User(String),
    /// Organization data or many users changed: every cached profile may be stale.
    AllUsers,
    /// An organization was deleted: its members' profiles and every credential bound to it.
    OrganizationDeleted(String),
    /// A session revoked or ended in Clerk, refused until the time given (ms).
    SessionRevoked {
        session_id: String,
        until_ms: i64,
    },
    /// Revoked sessions changed in a way not carried by name: reload them from the database.
    RevokedSessions,
    ServiceKeyCreated(String),
    ServiceKeyRevoked(String),
    /// A console account was disabled, enabled, or its password changed.
    AdminAccount(i64),
    /// Console sessions ended: every one of an account (disabling, password change), or one
    /// session (sign-out, expiry; never named, its id is a secret's hash).
    AdminSessions(Option<i64>),
    /// A payload this build does not know: forget everything.
    Unknown,
}

impl Change {
    /// The payload, or the coarser change's when an id cannot be carried.
    pub fn encode(&self) -> String {
        let fits = |id: &str| id.len() <= MAX_ID && id.bytes().all(|b| b.is_ascii_graphic());
        match self {
            Self::User(id) if fits(id) => format!("user:{id}"),
            Self::User(_) | Self::AllUsers => "users:*".to_owned(),
            Self::OrganizationDeleted(id) if fits(id) => format!("org-deleted:{id}"),
            Self::OrganizationDeleted(_) => "org-deleted:*".to_owned(),
            Self::SessionRevoked {
                session_id,
                until_ms,
            } if fits(session_id) => format!("session:{until_ms}:{session_id}"),
            Self::SessionRevoked { .. } | Self::RevokedSessions => "sessions:*".to_owned(),
            Self::ServiceKeyCreated(id) if fits(id) => format!("key-created:{id}"),
            Self::ServiceKeyRevoked(id) if fits(id) => format!("key-revoked:{id}"),
            Self::ServiceKeyCreated(_) => "key-created:*".to_owned(),
            Self::ServiceKeyRevoked(_) => "key-revoked:*".to_owned(),
            Self::AdminAccount(id) => format!("admin:{id}"),
            Self::AdminSessions(Some(id)) => format!("admin-sessions:{id}"),
            Self::AdminSessions(None) => "admin-sessions:*".to_owned(),
            Self::Unknown => "unknown:*".to_owned(),
        }
    }

    /// Reads a payload; anything not written by [`Change::encode`] is [`Change::Unknown`]. An id of
    /// `*` stands for "some, not named": the coarser reading of the same kind.
    pub fn decode(payload: &str) -> Self {
        if payload.len() > MAX_PAYLOAD {
            return Self::Unknown;
        }
        let Some((kind, rest)) = payload.split_once(':') else {
            return Self::Unknown;
        };
        let named = (rest != "*" && !rest.is_empty()).then(|| rest.to_owned());
        match (kind, named) {
            ("user", Some(id)) => Self::User(id),
            ("users", None) => Self::AllUsers,
            ("org-deleted", Some(id)) => Self::OrganizationDeleted(id),
            // An organization deleted without a name: every credential may be bound to it.
            ("org-deleted", None) => Self::Unknown,
            ("session", Some(rest)) => match rest.split_once(':') {
                Some((until, id)) if !id.is_empty() => match until.parse() {
                    Ok(until_ms) => Self::SessionRevoked {
                        session_id: id.to_owned(),
                        until_ms,
                    },
                    Err(_) => Self::RevokedSessions,
                },
                _ => Self::RevokedSessions,
            },
            ("sessions", None) => Self::RevokedSessions,
            ("key-created", id) => Self::ServiceKeyCreated(id.unwrap_or_default()),
            ("key-revoked", id) => Self::ServiceKeyRevoked(id.unwrap_or_default()),
            ("admin", Some(id)) => id.parse().map_or(Self::Unknown, Self::AdminAccount),
            ("admin-sessions", Some(id)) => id
                .parse()
                .map_or(Self::Unknown, |id| Self::AdminSessions(Some(id))),
            ("admin-sessions", None) => Self::AdminSessions(None),
            _ => Self::Unknown,
        }
    }
}

/// Runs `write` in the caller's transaction when there is one, else in a new one, so that what it
/// publishes commits with what it writes. On SQLite, where nothing is published, `write` runs as it
/// is (its statements keep their own atomicity).
pub fn in_transaction<T>(
    conn: &mut DbConnection,
    write: impl FnOnce(&mut DbConnection) -> Result<T, DbError>,
) -> Result<T, DbError> {
    let open = match conn {
        DbConnection::Postgresql(c) => {
            use diesel::connection::{AnsiTransactionManager, TransactionManager};
            AnsiTransactionManager::transaction_manager_status_mut(c)
                .transaction_depth()?
                .is_some()
        }
        DbConnection::Sqlite(_) => true,
    };
    if open {
        write(conn)
    } else {
        conn.transaction(write)
    }
}

/// Announces `change` on `conn`, to be called by a write inside its transaction (see the module's
/// invariants). Nothing on SQLite.
pub fn publish(conn: &mut DbConnection, change: &Change) -> Result<(), DbError> {
    match conn {
        DbConnection::Postgresql(c) => {
            diesel::sql_query("SELECT pg_notify($1, $2)")
                .bind::<Text, _>(CHANNEL)
                .bind::<Text, _>(change.encode())
                .execute(c)?;
            Ok(())
        }
        DbConnection::Sqlite(_) => Ok(()),
    }
}

/// Announces that the profiles of `users` changed: each by name when they are few, else every user.
pub fn publish_users<'a>(
    conn: &mut DbConnection,
    users: impl IntoIterator<Item = &'a str>,
) -> Result<(), DbError> {
    if matches!(conn, DbConnection::Sqlite(_)) {
        return Ok(());
    }
    let mut named: Vec<&str> = Vec::new();
    for user in users {
        if !named.contains(&user) {
            if named.len() == MAX_NAMED_USERS {
                return publish(conn, &Change::AllUsers);
            }
            named.push(user);
        }
    }
    for user in named {
        publish(conn, &Change::User(user.to_owned()))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_change_reads_back_as_itself() {
        let changes = [
            Change::User("user_2abc".into()),
            Change::AllUsers,
            Change::OrganizationDeleted("org_1".into()),
            Change::SessionRevoked {
                session_id: "sess_1:odd".into(),
                until_ms: 1_700_000_000_000,
            },
            Change::RevokedSessions,
            Change::ServiceKeyCreated("key_0123456789ab".into()),
            Change::ServiceKeyRevoked("key_0123456789ab".into()),
            Change::AdminAccount(7),
            Change::AdminSessions(Some(7)),
            Change::AdminSessions(None),
        ];
        for change in changes {
            assert_eq!(Change::decode(&change.encode()), change, "{change:?}");
        }
    }

    #[test]
    fn an_id_that_cannot_be_carried_becomes_the_coarser_change() {
        let long = "u".repeat(MAX_ID + 1);
        assert_eq!(Change::User(long.clone()).encode(), "users:*");
        assert_eq!(Change::User("a b".into()).encode(), "users:*");
        assert_eq!(Change::User("é".into()).encode(), "users:*");
        let session = Change::SessionRevoked {
            session_id: long.clone(),
            until_ms: 1,
        };
        assert_eq!(Change::decode(&session.encode()), Change::RevokedSessions);
        let org = Change::OrganizationDeleted(long);
        assert_eq!(Change::decode(&org.encode()), Change::Unknown);
        let longest = Change::SessionRevoked {
            session_id: "s".repeat(MAX_ID),
            until_ms: i64::MIN,
        };
        assert!(longest.encode().len() <= MAX_PAYLOAD);
    }

    #[test]
    fn what_this_build_did_not_write_means_forget_everything() {
        for payload in [
            "",
            "user",
            "user:",
            "users:u1",
            "org-deleted:*",
            "admin:x",
            "future-kind:1",
            &"user:".repeat(200),
        ] {
            assert_eq!(Change::decode(payload), Change::Unknown, "{payload:?}");
        }
        assert_eq!(Change::decode("session:soon:s1"), Change::RevokedSessions);
        assert_eq!(Change::decode("session:1:"), Change::RevokedSessions);
    }
}
