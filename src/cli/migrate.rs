//! `auth-core migrate`: applies pending database migrations and says which, or that none were.

use super::CliError;
use crate::db::Db;
use crate::settings::Settings;

pub fn run(settings: &Settings) -> Result<(), CliError> {
    let db = Db::open(&settings.database)?;
    let applied = db.migrate()?;
    if applied.is_empty() {
        println!("{}: up to date", db.describe());
    } else {
        for version in &applied {
            println!("{}: applied {version}", db.describe());
        }
    }
    Ok(())
}
