//! `auth-core assertion-keys rotate|list`: auth-core's own Ed25519 keys that sign `/api/auth/verify`'s
//! identity assertions. Private keys are never printed.
//!
//! A rotation reaches running servers without a restart: each reloads its keys at most a minute
//! after a request finds them older than that, and the new key only starts signing
//! `ROTATION_LEAD_MS` later, once every instance and every upstream's JWKS cache can know it.

use super::{table, AssertionKeysCommand, CliError};
use crate::admin::view::format_ms;
use crate::auth::assertion;
use crate::clock::Clock;
use crate::db::assertion_keys::{self as stored, StoredKey};
use crate::settings::Settings;

pub fn run(settings: &Settings, command: AssertionKeysCommand) -> Result<(), CliError> {
    let db = super::open_database(settings)?;
    let now = Clock::system().now_ms();
    match command {
        AssertionKeysCommand::Rotate { immediately } => {
            let rotated = assertion::rotate(&db, now, immediately)?;
            println!("new assertion key {}", rotated.kid);
            println!("signs from {}", format_ms(rotated.activates_at.max(now)));
            println!(
                "keys before it are published until {}",
                format_ms(rotated.previous_retire_at)
            );
            Ok(())
        }
        AssertionKeysCommand::List => {
            let keys = stored::all(&mut *db.get()?)?;
            let signing = keys
                .iter()
                .find(|k| k.activates_at <= now && k.retires_at.is_none_or(|r| r > now))
                .map(|k| k.generation);
            let rows: Vec<Vec<String>> = keys
                .iter()
                .map(|key| {
                    vec![
                        key.kid.clone(),
                        state(key, signing, now).to_owned(),
                        format_ms(key.created_at),
                        format_ms(key.activates_at.max(key.created_at)),
                        key.retires_at.map_or("never".to_owned(), format_ms),
                    ]
                })
                .collect();
            let header = ["KID", "STATE", "CREATED", "SIGNS FROM", "PUBLISHED UNTIL"];
            print!("{}", table::render(&header, &rows));
            Ok(())
        }
    }
}

/// `signing` (the key new assertions get), `next` (published, signs later), `previous` (published
/// until its assertions expire) or `retired` (no longer published; deleted at the next rotation).
fn state(key: &StoredKey, signing: Option<i32>, now: i64) -> &'static str {
    if key.retires_at.is_some_and(|r| r <= now) {
        "retired"
    } else if Some(key.generation) == signing {
        "signing"
    } else if key.activates_at > now {
        "next"
    } else {
        "previous"
    }
}
