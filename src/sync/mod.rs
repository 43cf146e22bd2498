//! Applying Clerk's data to the database: users created just in time and completed from the Backend
//! API (webhooks and backfill come here too).

pub mod backfill;
pub mod lease;
pub mod organizations;
pub mod pages;
pub mod progress;
pub mod users;
pub mod webhooks;
