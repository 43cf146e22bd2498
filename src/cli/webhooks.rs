//! `auth-core webhooks reprocess`: applies stored deliveries again after a fix, one by its svix-id
//! or every failed one, oldest first, and prints each one's outcome.

use super::{CliError, WebhooksCommand};
use crate::clock::Clock;
use crate::db::{webhook_deliveries, Db};
use crate::settings::Settings;
use crate::sync::webhooks::{self, Outcome, SyncOptions};

pub fn run(settings: &Settings, command: WebhooksCommand) -> Result<(), CliError> {
    let WebhooksCommand::Reprocess { svix_id, failed } = command;
    let db = Db::open(&settings.database)?;
    let mut conn = db.get()?;
    let ids = match svix_id {
        Some(id) if !failed => vec![id],
        _ => webhook_deliveries::failed_ids(&mut conn)?,
    };
    if ids.is_empty() {
        println!("no failed deliveries");
    }
    let options = SyncOptions {
        revoked_session_retention: settings.auth.revoked_session_retention,
    };
    let clock = Clock::system();
    for id in ids {
        match webhooks::reprocess(&mut conn, &id, clock.now_ms(), options)? {
            Some(Outcome::Failed(error)) => println!("{id}: failed: {error}"),
            Some(other) => println!("{id}: {}", other.status()),
            None => return Err(CliError::UnknownDelivery(id)),
        }
    }
    Ok(())
}
