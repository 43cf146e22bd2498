//! A team's backend with auth-core embedded: auth-core's own routes, plus a notes API scoped to the
//! caller's active organization (`team_backend/notes.rs`), with its own migration for the `notes`
//! table. Same settings as `auth-core serve` (`.env`, `AUTH_CORE_CONFIG`, the environment):
//!
//! ```sh
//! cargo run --example team_backend
//! curl -H "Authorization: Bearer $TOKEN" localhost:8000/api/notes
//! ```

#[path = "team_backend/notes.rs"]
mod notes;

use auth_core::prelude::*;

fn main() -> std::process::ExitCode {
    let outcome = AuthCore::from_env().and_then(|core| {
        core.migrations(notes::MIGRATIONS)
            .configure(notes::routes)
            .run()
    });
    // The log writer is a thread of its own: let it write what was logged before the process ends.
    auth_core::logging::flush();
    match outcome {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("team_backend: {error}");
            std::process::ExitCode::FAILURE
        }
    }
}
