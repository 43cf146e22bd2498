//! Users as Clerk describes them, written to the database: the record a webhook, a backfill page or
//! a profile fetch stores, and the fetch that completes a user created just in time (the user
//! cache, `auth::user_directory`, asks for it; the state wires the two together).

use std::time::Duration;

use crate::clerk::backend_api::{BackendApi, BackendApiError};
use crate::clerk::user::{metadata_json, ClerkUser};
use crate::clock::Clock;
use crate::db::users::{self, UserRecord};
use crate::db::Db;

/// Attempts to fetch a profile from Clerk before giving up until the user's next cache miss.
const PROFILE_FETCH_ATTEMPTS: u32 = 5;
const FIRST_RETRY: Duration = Duration::from_secs(1);

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

/// Fetches users' profiles from Clerk's Backend API and writes them.
#[derive(Clone)]
pub struct ProfileFetcher {
    db: Db,
    clock: Clock,
    api: BackendApi,
}

impl ProfileFetcher {
    pub fn new(db: Db, clock: Clock, api: BackendApi) -> Self {
        Self { db, clock, api }
    }

    /// Fetches `user_id`'s profile (retrying with a doubling wait) and writes it; true once written.
    /// False when Clerk does not know the user or every attempt failed (each failure is logged).
    pub async fn fetch(&self, user_id: &str) -> bool {
        let mut wait = FIRST_RETRY;
        for attempt in 1..=PROFILE_FETCH_ATTEMPTS {
            let error = match self.api.get_user(user_id).await {
                Ok(user) if user.id == user_id => {
                    let record = record_from_clerk(&user);
                    let now = self.clock.now_ms();
                    match self
                        .db
                        .run(move |conn| users::write_user(conn, &record, now))
                        .await
                    {
                        Ok(_) => return true,
                        Err(e) => e.to_string(),
                    }
                }
                Ok(_) => "Clerk answered with another user".to_owned(),
                Err(BackendApiError::NotFound) => {
                    log::warn!(target: "auth_core::sync", "user {user_id} is not known to Clerk's Backend API");
                    return false;
                }
                Err(e) => e.to_string(),
            };
            log::warn!(target: "auth_core::sync", "profile of {user_id} not fetched (attempt {attempt}/{PROFILE_FETCH_ATTEMPTS}): {error}");
            if attempt < PROFILE_FETCH_ATTEMPTS {
                actix_web::rt::time::sleep(wait).await;
                wait *= 2;
            }
        }
        false
    }
}
