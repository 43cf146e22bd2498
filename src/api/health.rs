//! Liveness (`/healthz`: the process answers) and readiness (`/api/auth/health`: its dependencies do).

use actix_web::{web, HttpResponse};
use serde::Serialize;
use utoipa::ToSchema;

use crate::app::AppState;
use crate::http::request_id::RequestId;

#[derive(Serialize, ToSchema)]
pub struct Liveness {
    /// Always `healthy`.
    #[schema(example = "healthy")]
    pub status: &'static str,
}

/// Readiness: `healthy` with every check up, else `unhealthy` naming what is down.
#[derive(Serialize, ToSchema)]
pub struct Readiness {
    /// `healthy` or `unhealthy`.
    pub status: &'static str,
    /// What is down (only when unhealthy).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub down: Option<Vec<&'static str>>,
    pub checks: Checks,
    /// The response's `X-Request-Id` (only when unhealthy).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct Checks {
    pub database: DatabaseCheck,
}

#[derive(Serialize, ToSchema)]
pub struct DatabaseCheck {
    /// `up` or `down`.
    pub status: &'static str,
    /// `sqlite` or `postgres`.
    pub backend: &'static str,
}

/// Liveness: the process answers.
///
/// Touches nothing, so an orchestrator restarts the process only when the process itself is stuck.
#[utoipa::path(get, path = "/healthz", tag = "health",
    responses(
        (status = 200, description = "The process answers", body = Liveness),
        (status = 405, response = crate::api::openapi::MethodNotAllowed),
    )
)]
pub async fn liveness() -> HttpResponse {
    HttpResponse::Ok().json(Liveness { status: "healthy" })
}

/// Readiness: the database answers.
///
/// 200 when the database answers a round trip, else 503 naming what is down. The database error
/// itself goes to the log; the body says only that it is down.
#[utoipa::path(get, path = "/api/auth/health", tag = "health",
    responses(
        (status = 200, description = "Every dependency is up", body = Readiness),
        (status = 503, description = "A dependency is down (`Retry-After: 1`)", body = Readiness,
            headers(("Retry-After" = String, description = "Seconds before retrying"))),
        (status = 405, response = crate::api::openapi::MethodNotAllowed),
    )
)]
pub async fn readiness(state: web::Data<AppState>, request_id: RequestId) -> HttpResponse {
    let backend = state.db.backend().name();
    match state.db.ping().await {
        Ok(()) => HttpResponse::Ok().json(Readiness {
            status: "healthy",
            down: None,
            checks: Checks {
                database: DatabaseCheck {
                    status: "up",
                    backend,
                },
            },
            request_id: None,
        }),
        Err(error) => {
            log::warn!(target: "auth_core::health", "database check failed: {error}");
            HttpResponse::ServiceUnavailable()
                .insert_header(("Retry-After", "1"))
                .json(Readiness {
                    status: "unhealthy",
                    down: Some(vec!["database"]),
                    checks: Checks {
                        database: DatabaseCheck {
                            status: "down",
                            backend,
                        },
                    },
                    request_id: Some(request_id.as_str().to_owned()),
                })
        }
    }
}
