//! Binds and runs the HTTP server. The first SIGINT or SIGTERM stops it gracefully: listeners close
//! at once and in-flight requests get `server.shutdown_timeout_secs` to finish; a second signal
//! stops it at once. (Actix's own handling treats SIGINT as a forced stop, so it is switched off.)

use std::net::SocketAddr;

use actix_web::dev::{Server, ServerHandle};
use actix_web::HttpServer;

use crate::app::{self, AppState};

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
    let mut interval = actix_web::rt::time::interval(state.settings.auth.revocation_sync);
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

/// Waits for SIGINT or SIGTERM, then stops the server gracefully; a second signal forces the stop.
#[cfg(unix)]
pub async fn stop_on_signals(handle: ServerHandle) -> std::io::Result<()> {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = signal(SignalKind::terminate())?;
    let mut int = signal(SignalKind::interrupt())?;
    let name = tokio::select! {
        _ = term.recv() => "SIGTERM",
        _ = int.recv() => "SIGINT",
    };
    log::info!("{name} received; starting graceful shutdown (a second signal forces it)");
    tokio::select! {
        () = handle.stop(true) => {}
        _ = term.recv() => force(&handle).await,
        _ = int.recv() => force(&handle).await,
    }
    Ok(())
}

#[cfg(not(unix))]
pub async fn stop_on_signals(handle: ServerHandle) -> std::io::Result<()> {
    tokio::signal::ctrl_c().await?;
    log::info!("Ctrl-C received; starting graceful shutdown (a second one forces it)");
    tokio::select! {
        () = handle.stop(true) => {}
        _ = tokio::signal::ctrl_c() => force(&handle).await,
    }
    Ok(())
}

async fn force(handle: &ServerHandle) {
    log::warn!("second signal received; stopping now, dropping in-flight requests");
    handle.stop(false).await;
}
