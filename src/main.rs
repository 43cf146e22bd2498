//! The `auth-core` binary: reads `.env` and the settings, sets up logging, runs one subcommand (each
//! is a module of `auth_core::cli`) and exits with the code its error calls for.

use std::process::ExitCode;

use auth_core::cli::{self, Cli, CliError};
use auth_core::settings::{Settings, SettingsSources};
use clap::Parser;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let health_probe = cli.is_health_probe();
    let outcome = run(cli);
    // The log writer is a thread of its own: let it write what was logged before the process ends.
    auth_core::logging::flush();
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("auth-core: {error}");
            ExitCode::from(error.exit_code(health_probe))
        }
    }
}

fn run(cli: Cli) -> Result<(), CliError> {
    // A .env file fills in variables that are not already set, as the Django app's did.
    if let Err(e) = dotenvy::dotenv() {
        if !e.not_found() {
            return Err(CliError::DotEnv(e.to_string()));
        }
    }
    let settings = Settings::load(&SettingsSources::from_process(cli.config))?;
    auth_core::logging::init(
        &settings.log.filter,
        settings.log.json,
        settings.log.buffer_lines,
    );
    cli::run(cli.command, settings)
}
