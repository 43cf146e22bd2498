//! The `auth-core` command line: the arguments ([`args`]), one module per subcommand, and the one
//! error they end with ([`CliError`], which decides the exit code). `main` parses, loads the
//! settings and logging, then calls [`run`].

pub mod admin;
pub mod args;
pub mod assertion_keys;
pub mod backup;
pub mod check;
pub mod check_online;
pub mod error;
pub mod healthcheck;
pub mod keys;
pub mod migrate;
pub mod serve;
pub mod sync;
pub mod table;
pub mod webhooks;

pub use args::{
    AdminCommand, AssertionKeysCommand, Cli, Command, HealthcheckArgs, KeysCommand, ServeArgs,
    SyncArgs, WebhooksCommand, VERSION,
};
pub use error::CliError;

use crate::settings::Settings;

/// Runs one subcommand; `serve` when none is given.
pub fn run(command: Option<Command>, settings: Settings) -> Result<(), CliError> {
    match command.unwrap_or(Command::Serve(ServeArgs::default())) {
        Command::Serve(args) => serve::run(settings, args),
        Command::Migrate => migrate::run(&settings),
        Command::Check { online } => check::run(&settings, online),
        Command::Admin { command } => Ok(admin::run(&settings, command)?),
        Command::Keys { command } => keys::run(&settings, command),
        Command::AssertionKeys { command } => assertion_keys::run(&settings, command),
        Command::Sync(args) => Ok(sync::run(&settings, &args)?),
        Command::Webhooks { command } => webhooks::run(&settings, command),
        Command::Backup { path } => Ok(backup::run(&settings.database, &path)?),
        Command::Healthcheck(args) => Ok(healthcheck::run(&settings, &args)?),
    }
}

/// The database of a command that reads or changes data: opened, and migrated first when
/// `database.run_migrations` is on (as `serve` does), so a fresh install needs no `migrate` first.
pub fn open_database(settings: &Settings) -> Result<crate::db::Db, crate::db::DbError> {
    let db = crate::db::Db::open(&settings.database)?;
    if settings.database.run_migrations {
        db.migrate()?;
    }
    Ok(db)
}
