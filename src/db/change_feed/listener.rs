//! One dedicated PostgreSQL connection that listens to the change feed.
//!
//! It is Diesel's own `PgConnection` (libpq), opened outside the pool: the same URL handling, TLS
//! (`sslmode`, certificates) and keepalives as every other connection, and no second PostgreSQL
//! client to build. Diesel hands notifications over without blocking (`notifications_iter` reads
//! what the socket holds), so [`Listener::wait`] checks every [`POLL`]: a read of the local socket,
//! no round trip. A lost connection shows as an error at the next check (libpq reads the
//! terminating FATAL, or end of file); a silent one (a half-open TCP connection) by a heartbeat
//! query every [`HEARTBEAT`].

use std::time::{Duration, Instant};

use diesel::connection::SimpleConnection;
use diesel::pg::PgConnection;

use super::CHANNEL;
use crate::db::{Db, DbConnection, DbError};

/// How the listening connection shows in `pg_stat_activity`, followed by the process id, so that
/// operators (and tests) can tell the instances' listeners apart.
pub const APPLICATION_NAME: &str = "auth-core listener";

/// How often the socket is checked for notifications: the bound on what the check adds to a
/// change's propagation.
pub const POLL: Duration = Duration::from_millis(5);

/// A round trip after this long without one, so that a connection lost without a word is noticed.
pub const HEARTBEAT: Duration = Duration::from_secs(10);

/// Most notifications handed over at once (the rest wait for the next call).
const MAX_BATCH: usize = 1_000;

pub struct Listener {
    conn: PgConnection,
    last_round_trip: Instant,
}

impl Listener {
    /// Opens the connection, names it [`APPLICATION_NAME`] and listens on [`CHANNEL`].
    pub fn connect(db: &Db) -> Result<Self, DbError> {
        let DbConnection::Postgresql(mut conn) = db.connect_alone()? else {
            return Err(DbError::Unavailable(
                "the change feed needs PostgreSQL".to_owned(),
            ));
        };
        let pid = std::process::id();
        conn.batch_execute(&format!(
            "SET application_name = '{APPLICATION_NAME} {pid}'; LISTEN {CHANNEL}"
        ))?;
        Ok(Self {
            conn,
            last_round_trip: Instant::now(),
        })
    }

    /// The payloads received within `wait` (returns as soon as some arrived; empty when none did).
    /// An error means the connection is lost: open a new one.
    pub fn wait(&mut self, wait: Duration) -> Result<Vec<String>, DbError> {
        let deadline = Instant::now() + wait;
        loop {
            let mut payloads = Vec::new();
            for notification in self.conn.notifications_iter() {
                let notification = notification.map_err(lost)?;
                if notification.channel == CHANNEL {
                    payloads.push(notification.payload);
                }
                if payloads.len() == MAX_BATCH {
                    break;
                }
            }
            if !payloads.is_empty() {
                return Ok(payloads);
            }
            if self.last_round_trip.elapsed() >= HEARTBEAT {
                self.conn.batch_execute("SELECT 1").map_err(lost)?;
                self.last_round_trip = Instant::now();
                continue;
            }
            let now = Instant::now();
            if now >= deadline {
                return Ok(payloads);
            }
            std::thread::sleep(POLL.min(deadline - now));
        }
    }
}

/// Whatever failed on the listening connection, it is not to be used again.
fn lost(error: diesel::result::Error) -> DbError {
    DbError::Unavailable(crate::db::error::one_line(&error.to_string()))
}
