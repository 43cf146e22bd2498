//! Binds and runs the HTTP server. SIGINT/SIGTERM stop it gracefully: listeners close at once and
//! in-flight requests get `server.shutdown_timeout_secs` to finish.

use std::net::SocketAddr;

use actix_web::dev::Server;
use actix_web::HttpServer;

use crate::app::{self, AppState};

/// A bound server that has not started serving yet, with the addresses it listens on (port 0 in the
/// settings becomes a real port here).
pub struct BoundServer {
    pub server: Server,
    pub addrs: Vec<SocketAddr>,
}

pub fn bind(state: AppState, bind: &str, workers: usize) -> std::io::Result<BoundServer> {
    let shutdown_timeout = state.settings.server.shutdown_timeout.as_secs();
    let mut http =
        HttpServer::new(move || app::build(state.clone())).shutdown_timeout(shutdown_timeout);
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
