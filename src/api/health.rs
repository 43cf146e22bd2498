//! Liveness (`/healthz`: the process answers) and readiness (`/api/auth/health`: its dependencies do).

use actix_web::{web, HttpResponse};
use serde_json::json;

use crate::app::AppState;
use crate::http::request_id::RequestId;

/// Touches nothing, so an orchestrator restarts the process only when the process itself is stuck.
pub async fn liveness() -> HttpResponse {
    HttpResponse::Ok().json(json!({ "status": "healthy" }))
}

/// 200 when the database answers a round trip, else 503 naming what is down. The database error
/// itself goes to the log; the body says only that it is down.
pub async fn readiness(state: web::Data<AppState>, request_id: RequestId) -> HttpResponse {
    let backend = state.db.backend().name();
    match state.db.ping().await {
        Ok(()) => HttpResponse::Ok().json(json!({
            "status": "healthy",
            "checks": { "database": { "status": "up", "backend": backend } },
        })),
        Err(error) => {
            log::warn!(target: "auth_core::health", "database check failed: {error}");
            HttpResponse::ServiceUnavailable()
                .insert_header(("Retry-After", "1"))
                .json(json!({
                    "status": "unhealthy",
                    "down": ["database"],
                    "checks": { "database": { "status": "down", "backend": backend } },
                    "request_id": request_id.as_str(),
                }))
        }
    }
}
