//! Sessions that must be refused although their tokens still verify: Clerk revoked or ended them
//! (webhook), and their tokens live on for up to a minute. Checked on every request, in memory; filled
//! from webhooks on this instance and reloaded from the database for the others'.

use std::collections::HashMap;
use std::sync::RwLock;

#[derive(Debug, Default)]
pub struct RevokedSessions {
    /// Session id → until when (ms) it is remembered.
    sessions: RwLock<HashMap<String, i64>>,
}

impl RevokedSessions {
    pub fn revoke(&self, session_id: &str, until_ms: i64) {
        let mut sessions = self
            .sessions
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        sessions.insert(session_id.to_owned(), until_ms);
    }

    pub fn is_revoked(&self, session_id: &str, now_ms: i64) -> bool {
        let sessions = self
            .sessions
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        sessions
            .get(session_id)
            .is_some_and(|until| now_ms < *until)
    }

    /// Adds what the database holds and forgets what has expired.
    pub fn merge(&self, from_database: Vec<(String, i64)>, now_ms: i64) {
        let mut sessions = self
            .sessions
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        sessions.retain(|_, until| now_ms < *until);
        for (id, until) in from_database {
            sessions.entry(id).or_insert(until);
        }
    }
}
