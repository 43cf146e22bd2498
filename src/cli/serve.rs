//! `auth-core serve` (the default command): auth-core with no routes of a team's own, run by the same
//! builder a team's backend uses (`embed::AuthCore`), so both start, serve and stop one way.

use super::{CliError, ServeArgs};
use crate::embed::{AuthCore, EmbedError};
use crate::settings::Settings;

pub fn run(settings: Settings, args: ServeArgs) -> Result<(), CliError> {
    let mut core = AuthCore::from_settings(settings);
    if let Some(bind) = args.bind {
        core = core.bind(bind);
    }
    if let Some(workers) = args.workers {
        core = core.workers(workers);
    }
    core.run().map_err(CliError::from)
}

impl From<EmbedError> for CliError {
    fn from(error: EmbedError) -> Self {
        match error {
            EmbedError::DotEnv(message) => Self::DotEnv(message),
            EmbedError::Settings(error) => Self::Settings(error),
            EmbedError::Startup(error) => Self::Startup(error),
            EmbedError::Bind { bind, error } => Self::Bind { bind, error },
            EmbedError::Server(error) => Self::Server(error),
            EmbedError::ServeLock(error) => Self::ServeLock(error),
        }
    }
}
