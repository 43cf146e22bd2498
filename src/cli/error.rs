//! The one error every subcommand ends with, and the exit code it makes: 2 for a configuration or
//! usage mistake (fix the settings or the command line), 75 for a sync refused while another runs
//! (try again later), 1 for everything else, and always 1 for the health probe.

use crate::accounts::secret_key::SecretKeyError;
use crate::auth::assertion::AssertionKeyError;
use crate::auth::service_keys::KeyError;
use crate::db::serve_lock::ServeLockError;
use crate::db::DbError;
use crate::settings::SettingsError;
use crate::state::StartupError;

use super::admin::AdminCliError;
use super::backup::BackupError;
use super::healthcheck::HealthcheckError;
use super::sync::{SyncCliError, BUSY_EXIT_CODE};

#[derive(Debug, thiserror::Error)]
pub enum CliError {
    #[error("cannot read .env: {0}")]
    DotEnv(String),
    #[error("{0}")]
    Settings(#[from] SettingsError),
    /// An argument the parser accepted but the command cannot use (`--org acme`, `--expires 9x`).
    #[error("{0}")]
    Usage(String),
    #[error("{0}")]
    Database(#[from] DbError),
    #[error("{0}")]
    Startup(#[from] StartupError),
    #[error("cannot listen on {bind}: {error}")]
    Bind { bind: String, error: std::io::Error },
    #[error("server stopped with an error: {0}")]
    Server(std::io::Error),
    #[error("not ready (see above)")]
    NotReady,
    #[error("no webhook delivery with svix-id {0}")]
    UnknownDelivery(String),
    #[error("{0}")]
    Key(#[from] KeyError),
    #[error("no live key with id or prefix {0}")]
    UnknownKey(String),
    #[error("{0}")]
    Admin(#[from] AdminCliError),
    #[error("{0}")]
    Backup(#[from] BackupError),
    #[error("unhealthy: {0}")]
    Healthcheck(#[from] HealthcheckError),
    #[error("{0}")]
    Sync(#[from] SyncCliError),
    #[error("{0}")]
    AssertionKeys(#[from] AssertionKeyError),
    #[error("{0}")]
    ServeLock(#[from] ServeLockError),
}

impl CliError {
    /// The process's exit code. Container engines read a health check's exit code as 0 healthy,
    /// 1 unhealthy (2 is reserved): whatever stops the probe, settings included, is "unhealthy".
    pub fn exit_code(&self, health_probe: bool) -> u8 {
        if health_probe {
            return 1;
        }
        match self {
            Self::Settings(_) | Self::DotEnv(_) | Self::Usage(_) => 2,
            // A second server on one SQLite file: a deployment to change, not a failure to retry.
            Self::ServeLock(ServeLockError::Held { .. }) => 2,
            Self::Sync(SyncCliError::NoSecretKey) => 2,
            Self::Sync(SyncCliError::Busy(_)) => BUSY_EXIT_CODE,
            Self::Startup(StartupError::Verifier(_)) => 2,
            Self::Startup(StartupError::SecretKey(SecretKeyError::StoredTooShort)) => 2,
            _ => 1,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn configuration_mistakes_exit_2_except_for_the_health_probe() {
        let usage = CliError::Usage("--org \"acme\"".to_owned());
        assert_eq!(usage.exit_code(false), 2);
        assert_eq!(usage.exit_code(true), 1);
        assert_eq!(
            CliError::Sync(SyncCliError::NoSecretKey).exit_code(false),
            2
        );
        assert_eq!(CliError::NotReady.exit_code(false), 1);
        let busy = CliError::Sync(SyncCliError::Busy(None));
        assert_eq!(busy.exit_code(false), 75, "another sync holds the lease");
        assert_eq!(busy.exit_code(true), 1);
        assert_eq!(CliError::UnknownKey("key_x".to_owned()).exit_code(false), 1);
    }
}
