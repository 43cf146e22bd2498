//! Applying Clerk's data to the database: webhooks, backfill, and the profiles of users created just
//! in time, completed from the Backend API (the user cache that asks for them is `auth::user_directory`).

pub mod backfill;
pub mod lease;
pub mod organizations;
pub mod pages;
pub mod progress;
pub mod users;
pub mod webhooks;
