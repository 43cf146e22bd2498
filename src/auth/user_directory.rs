//! The user cache, read on every signed-in request: each user with their memberships, kept in
//! memory so a warm request makes no database round trip. A user is created just in time (a
//! placeholder row, from a verified token) on first sight; a profile not yet received from Clerk is
//! completed in the background by the write side (`sync::users`), which the state hands in as a
//! [`CompleteProfile`] (auth and sync do not use each other).
//!
//! A profile read from the database before its user was forgotten (a webhook here, a change
//! announced by another instance) is never put back after the forgetting: see [`Forgettable`].

use std::collections::HashSet;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::future::LocalBoxFuture;
use moka::sync::Cache;

use super::forgettable::Forgettable;
use crate::clock::Clock;
use crate::db::users::{self, MembershipRow, Memberships, UserRow};
use crate::db::{Db, DbError};

/// A user with their live memberships, as one cache entry.
#[derive(Debug, Clone, PartialEq)]
pub struct UserProfile {
    pub user: UserRow,
    pub memberships: Vec<MembershipRow>,
    /// Organizations the user was removed from, or that were deleted.
    pub revoked_organizations: Vec<String>,
}

/// Fetches a user's profile from Clerk and stores it; resolves to whether it was stored.
pub type CompleteProfile = Arc<dyn Fn(String) -> LocalBoxFuture<'static, bool> + Send + Sync>;

pub struct UserDirectory {
    db: Db,
    clock: Clock,
    /// Present when Clerk's Backend API is configured (`CLERK_SECRET_KEY`).
    complete: Option<CompleteProfile>,
    cache: Forgettable<String, Arc<UserProfile>>,
    /// Users whose profile fetch is under way, so that one runs per user.
    fetching: Mutex<HashSet<String>>,
    /// Announces the id of each user whose profile a background fetch has written.
    updates: tokio::sync::broadcast::Sender<String>,
    /// Profiles asked for, cache hits included (a request asks at most once: `request::standing`).
    lookups: AtomicU64,
}

impl UserDirectory {
    pub fn new(
        db: Db,
        clock: Clock,
        complete: Option<CompleteProfile>,
        capacity: u64,
        ttl: Duration,
    ) -> Self {
        Self {
            db,
            clock,
            complete,
            cache: Forgettable::new(
                Cache::builder()
                    .max_capacity(capacity)
                    .time_to_live(ttl)
                    .build(),
            ),
            fetching: Mutex::new(HashSet::new()),
            updates: tokio::sync::broadcast::channel(64).0,
            lookups: AtomicU64::new(0),
        }
    }

    /// Ids of users whose profile arrived from Clerk in the background (for observers such as tests).
    pub fn subscribe(&self) -> tokio::sync::broadcast::Receiver<String> {
        self.updates.subscribe()
    }

    /// How many profiles have been asked for since start, cache hits included (for observers such
    /// as tests: one signed-in request asks at most once).
    pub fn lookups(&self) -> u64 {
        self.lookups.load(Ordering::Relaxed)
    }

    /// The user and their memberships: from memory when recently seen, else from the database,
    /// creating the user row on first sight. A user whose profile has not arrived from Clerk yet gets
    /// a background fetch (when the Backend API is configured); the request does not wait for it.
    pub async fn profile(self: &Arc<Self>, user_id: &str) -> Result<Arc<UserProfile>, DbError> {
        self.lookups.fetch_add(1, Ordering::Relaxed);
        if let Some(hit) = self.cache.get(user_id) {
            return Ok(hit);
        }
        let ticket = self.cache.ticket(user_id);
        let id = user_id.to_owned();
        let now = self.clock.now_ms();
        let profile = self
            .db
            .run(move |conn| {
                let user = match users::find_user(conn, &id)? {
                    Some(user) => user,
                    None => {
                        users::insert_placeholder_user(conn, &id, now)?;
                        users::find_user(conn, &id)?
                            .ok_or(DbError::Query(diesel::result::Error::NotFound))?
                    }
                };
                let Memberships {
                    live,
                    revoked_organizations,
                } = users::memberships(conn, &id)?;
                Ok(UserProfile {
                    user,
                    memberships: live,
                    revoked_organizations,
                })
            })
            .await?;
        if profile.user.clerk_updated_at == 0 {
            self.complete_in_background(user_id);
        }
        let profile = Arc::new(profile);
        self.cache
            .insert(user_id.to_owned(), profile.clone(), ticket);
        Ok(profile)
    }

    /// Drops a user from memory (their data changed in the database).
    pub fn forget(&self, user_id: &str) {
        self.cache.forget(user_id);
    }

    /// Drops every user from memory (an organization changed: any cached membership may show it).
    pub fn forget_all(&self) {
        self.cache.forget_all();
    }

    fn complete_in_background(self: &Arc<Self>, user_id: &str) {
        let Some(complete) = self.complete.clone() else {
            return;
        };
        {
            let mut fetching = self
                .fetching
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            if !fetching.insert(user_id.to_owned()) {
                return;
            }
        }
        let directory = self.clone();
        let user_id = user_id.to_owned();
        actix_web::rt::spawn(async move {
            if complete(user_id.clone()).await {
                directory.forget(&user_id);
                // Nobody listening is fine.
                let _ = directory.updates.send(user_id.clone());
            }
            let mut fetching = directory
                .fetching
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            fetching.remove(&user_id);
        });
    }
}
