//! Users as auth-core serves them: created just in time from a verified token, completed from Clerk's
//! Backend API in the background, and kept in memory so a warm request makes no database round trip.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use moka::sync::Cache;

use crate::clerk::backend_api::{BackendApi, BackendApiError};
use crate::clerk::user::{metadata_json, ClerkUser};
use crate::clock::Clock;
use crate::db::users::{self, MembershipRow, UserRecord, UserRow};
use crate::db::{Db, DbError};

/// Attempts to fetch a profile from Clerk before giving up until the user's next cache miss.
const PROFILE_FETCH_ATTEMPTS: u32 = 5;
const FIRST_RETRY: Duration = Duration::from_secs(1);

/// A user with their live memberships, as one cache entry.
#[derive(Debug, Clone, PartialEq)]
pub struct UserProfile {
    pub user: UserRow,
    pub memberships: Vec<MembershipRow>,
    /// Organizations the user was removed from, or that were deleted.
    pub revoked_organizations: Vec<String>,
}

pub fn record_from_clerk(user: &ClerkUser) -> UserRecord {
    UserRecord {
        id: user.id.clone(),
        email: user.primary_email(),
        email_addresses: serde_json::to_string(&user.email_addresses)
            .unwrap_or_else(|_| "[]".into()),
        first_name: user.first_name.clone(),
        last_name: user.last_name.clone(),
        username: user.username.clone(),
        image_url: user.image_url.clone(),
        public_metadata: metadata_json(&user.public_metadata),
        private_metadata: metadata_json(&user.private_metadata),
        unsafe_metadata: metadata_json(&user.unsafe_metadata),
        banned: user.banned,
        last_sign_in_at: user.last_sign_in_at,
        clerk_created_at: user.created_at,
        clerk_updated_at: user.updated_at,
    }
}

pub struct UserDirectory {
    db: Db,
    clock: Clock,
    backend_api: Option<BackendApi>,
    cache: Cache<String, Arc<UserProfile>>,
    /// Users whose profile fetch is under way, so that one runs per user.
    fetching: Mutex<HashSet<String>>,
    /// Announces the id of each user whose profile a background fetch has written.
    updates: tokio::sync::broadcast::Sender<String>,
}

impl UserDirectory {
    pub fn new(
        db: Db,
        clock: Clock,
        backend_api: Option<BackendApi>,
        capacity: u64,
        ttl: Duration,
    ) -> Self {
        Self {
            db,
            clock,
            backend_api,
            cache: Cache::builder()
                .max_capacity(capacity)
                .time_to_live(ttl)
                .build(),
            fetching: Mutex::new(HashSet::new()),
            updates: tokio::sync::broadcast::channel(64).0,
        }
    }

    /// Ids of users whose profile arrived from Clerk in the background (for observers such as tests).
    pub fn subscribe(&self) -> tokio::sync::broadcast::Receiver<String> {
        self.updates.subscribe()
    }

    /// The user and their memberships: from memory when recently seen, else from the database,
    /// creating the user row on first sight. A user whose profile has not arrived from Clerk yet gets
    /// a background fetch (when the secret key is set); the request does not wait for it.
    pub async fn profile(self: &Arc<Self>, user_id: &str) -> Result<Arc<UserProfile>, DbError> {
        if let Some(hit) = self.cache.get(user_id) {
            return Ok(hit);
        }
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
                let memberships = users::memberships_of(conn, &id)?;
                let revoked_organizations = users::revoked_organizations(conn, &id)?;
                Ok(UserProfile {
                    user,
                    memberships,
                    revoked_organizations,
                })
            })
            .await?;
        if profile.user.clerk_updated_at == 0 {
            self.fetch_profile_in_background(user_id);
        }
        let profile = Arc::new(profile);
        self.cache.insert(user_id.to_owned(), profile.clone());
        Ok(profile)
    }

    /// Drops a user from memory (their data changed in the database).
    pub fn forget(&self, user_id: &str) {
        self.cache.invalidate(user_id);
    }

    /// Drops every user from memory (an organization changed: any cached membership may show it).
    pub fn forget_all(&self) {
        self.cache.invalidate_all();
    }

    fn fetch_profile_in_background(self: &Arc<Self>, user_id: &str) {
        let Some(api) = self.backend_api.clone() else {
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
            directory.fetch_profile(&api, &user_id).await;
            let mut fetching = directory
                .fetching
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            fetching.remove(&user_id);
        });
    }

    async fn fetch_profile(&self, api: &BackendApi, user_id: &str) {
        let mut wait = FIRST_RETRY;
        for attempt in 1..=PROFILE_FETCH_ATTEMPTS {
            let error = match api.get_user(user_id).await {
                Ok(user) if user.id == user_id => {
                    let record = record_from_clerk(&user);
                    let now = self.clock.now_ms();
                    match self
                        .db
                        .run(move |conn| users::write_user(conn, &record, now))
                        .await
                    {
                        Ok(_) => {
                            self.forget(user_id);
                            // Nobody listening is fine.
                            let _ = self.updates.send(user_id.to_owned());
                            return;
                        }
                        Err(e) => e.to_string(),
                    }
                }
                Ok(_) => "Clerk answered with another user".to_owned(),
                Err(BackendApiError::NotFound) => {
                    log::warn!(target: "auth_core::sync", "user {user_id} is not known to Clerk's Backend API");
                    return;
                }
                Err(e) => e.to_string(),
            };
            log::warn!(target: "auth_core::sync", "profile of {user_id} not fetched (attempt {attempt}/{PROFILE_FETCH_ATTEMPTS}): {error}");
            if attempt < PROFILE_FETCH_ATTEMPTS {
                actix_web::rt::time::sleep(wait).await;
                wait *= 2;
            }
        }
    }
}
