//! Binds and runs the HTTP server (its background tasks are `background`'s). The first SIGINT or SIGTERM stops it gracefully: listeners close
//! at once and in-flight requests get `server.shutdown_timeout_secs` to finish; a second signal
//! stops it at once. (Actix's own handling treats SIGINT as a forced stop, so it is switched off.)

use std::net::SocketAddr;

use actix_web::dev::{Server, ServerHandle};
use actix_web::HttpServer;

use crate::app::{self, TeamRoutes};
use crate::state::AppState;

/// A bound server that has not started serving yet, with the addresses it listens on (port 0 in the
/// settings becomes a real port here).
pub struct BoundServer {
    pub server: Server,
    pub addrs: Vec<SocketAddr>,
}

/// Binds the application (auth-core's routes and `team`'s) on `bind`, with `workers` workers (0:
/// one per core). Its background tasks are started by the caller (`background::BackgroundTasks`).
pub fn bind(
    state: AppState,
    team: TeamRoutes,
    bind: &str,
    workers: usize,
) -> std::io::Result<BoundServer> {
    let shutdown_timeout = state.settings.server.shutdown_timeout.as_secs();
    let mut http = HttpServer::new(move || app::build(state.clone(), &team))
        .shutdown_timeout(shutdown_timeout)
        .disable_signals();
    if workers > 0 {
        http = http.workers(workers);
    }
    let http = http.bind(bind)?;
    let addrs = http.addrs();
    Ok(BoundServer {
        server: http.run(),
        addrs,
    })
}

/// SIGINT and SIGTERM handlers, installed before the server announces itself, so that a signal sent
/// right after start-up is handled (gracefully) rather than killing the process.
#[cfg(unix)]
pub struct ShutdownSignals {
    term: tokio::signal::unix::Signal,
    int: tokio::signal::unix::Signal,
}

#[cfg(unix)]
impl ShutdownSignals {
    /// Must run inside the Actix system.
    pub fn install() -> std::io::Result<Self> {
        use tokio::signal::unix::{signal, SignalKind};
        Ok(Self {
            term: signal(SignalKind::terminate())?,
            int: signal(SignalKind::interrupt())?,
        })
    }
}

/// Waits for SIGINT or SIGTERM, then stops the server gracefully; a second signal forces the stop.
#[cfg(unix)]
pub async fn stop_on_signals(handle: ServerHandle, mut signals: ShutdownSignals) {
    let name = tokio::select! {
        _ = signals.term.recv() => "SIGTERM",
        _ = signals.int.recv() => "SIGINT",
    };
    log::info!("{name} received; starting graceful shutdown (a second signal forces it)");
    tokio::select! {
        () = handle.stop(true) => {}
        _ = signals.term.recv() => force(&handle).await,
        _ = signals.int.recv() => force(&handle).await,
    }
}

#[cfg(not(unix))]
pub struct ShutdownSignals;

#[cfg(not(unix))]
impl ShutdownSignals {
    pub fn install() -> std::io::Result<Self> {
        Ok(Self)
    }
}

#[cfg(not(unix))]
pub async fn stop_on_signals(handle: ServerHandle, _: ShutdownSignals) {
    if tokio::signal::ctrl_c().await.is_err() {
        return;
    }
    log::info!("Ctrl-C received; starting graceful shutdown (a second one forces it)");
    tokio::select! {
        () = handle.stop(true) => {}
        _ = tokio::signal::ctrl_c() => force(&handle).await,
    }
}

async fn force(handle: &ServerHandle) {
    log::warn!("second signal received; stopping now, dropping in-flight requests");
    handle.stop(false).await;
}
