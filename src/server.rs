//! Binds and runs the HTTP server. The first SIGINT or SIGTERM stops it gracefully: listeners close
//! at once and in-flight requests get `server.shutdown_timeout_secs` to finish; a second signal
//! stops it at once. (Actix's own handling treats SIGINT as a forced stop, so it is switched off.)

use std::net::SocketAddr;

use actix_web::dev::{Server, ServerHandle};
use actix_web::HttpServer;

use crate::app;
use crate::state::AppState;

/// A bound server that has not started serving yet, with the addresses it listens on (port 0 in the
/// settings becomes a real port here).
pub struct BoundServer {
    pub server: Server,
    pub addrs: Vec<SocketAddr>,
}

/// Must run inside an Actix system: the key set is prefetched on it, in the background, so start-up
/// never waits for (or fails on) Clerk.
pub fn bind(state: AppState, bind: &str, workers: usize) -> std::io::Result<BoundServer> {
    if let Some(keys) = state.verifier.key_store().cloned() {
        actix_web::rt::spawn(async move { keys.prefetch().await });
    }
    actix_web::rt::spawn(sync_revoked_sessions(state.clone()));
    state.follow_changes();
    state.audit.start_writer(state.db.clone());
    if let Some(max_age) = state.settings.audit.retention {
        actix_web::rt::spawn(crate::audit::retention::run(
            state.db.clone(),
            state.clock.clone(),
            max_age,
        ));
    }
    if state.settings.admin.enabled {
        actix_web::rt::spawn(crate::accounts::housekeeping::run(
            state.db.clone(),
            state.clock.clone(),
            state.settings.admin.clone(),
        ));
    }
    actix_web::rt::spawn(crate::sync_runner::periodic::run(state.clone()));
    let shutdown_timeout = state.settings.server.shutdown_timeout.as_secs();
    let mut http = HttpServer::new(move || app::build(state.clone()))
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

/// Reloads revoked sessions from the database periodically, so that a webhook received by another
/// instance takes effect here within `auth.revocation_sync_secs`.
async fn sync_revoked_sessions(state: AppState) {
    // Start-up loaded them already: the first reload is one period later.
    let period = state.settings.auth.revocation_sync;
    let mut interval =
        actix_web::rt::time::interval_at(actix_web::rt::time::Instant::now() + period, period);
    loop {
        interval.tick().await;
        let reload = state.clone();
        match actix_web::rt::task::spawn_blocking(move || reload.reload_revoked_sessions()).await {
            Ok(Ok(())) => {}
            Ok(Err(error)) => {
                log::warn!(target: "auth_core::auth", "revoked sessions not reloaded: {error}")
            }
            Err(_) => return,
        }
    }
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
