//! `auth-core serve` (the default command): prepares the application, listens, prints where, and
//! runs until a shutdown signal, then writes the audit events still queued.

use std::io::Write;

use super::{CliError, ServeArgs};
use crate::server;
use crate::settings::Settings;
use crate::state::AppState;

pub fn run(settings: Settings, args: ServeArgs) -> Result<(), CliError> {
    let bind = args.bind.unwrap_or_else(|| settings.server.bind.clone());
    let workers = args.workers.unwrap_or(settings.server.workers);
    let json_logs = settings.log.json;
    // Held until this function returns, i.e. for as long as this process serves.
    let _serving = crate::db::serve_lock::acquire(&settings.database.url)?;
    let state = AppState::prepare(settings)?;
    actix_web::rt::System::new().block_on(async move {
        let signals = server::ShutdownSignals::install().map_err(CliError::Server)?;
        let audit = state.audit.clone();
        let bound = server::bind(state, &bind, workers).map_err(|error| CliError::Bind {
            bind: bind.clone(),
            error,
        })?;
        for addr in &bound.addrs {
            // Once, on stdout, for people and for scripts and tests that bind port 0 and need the
            // real port. In JSON, log shippers (which may read only stderr) get it as a record too;
            // in text, a terminal would show it twice.
            if json_logs {
                log::info!("listening on http://{addr}");
            }
            println!("auth-core listening on http://{addr}");
        }
        let _ = std::io::stdout().flush();
        actix_web::rt::spawn(server::stop_on_signals(bound.server.handle(), signals));
        bound.server.await.map_err(CliError::Server)?;
        // In-flight requests are done: write every audit event still queued.
        audit.flush().await;
        log::info!("stopped");
        Ok(())
    })
}
