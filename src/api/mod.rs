//! JSON routes. Handlers are thin: parse input, call one domain function, shape the output.

pub mod health;

use actix_web::{web, HttpResponse};

use crate::error::ApiError;

/// Registers every API route. Each resource answers other methods with a JSON 405.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/healthz")
            .route(web::get().to(health::liveness))
            .default_service(web::to(method_not_allowed)),
    )
    .service(
        web::resource("/api/auth/health")
            .route(web::get().to(health::readiness))
            .default_service(web::to(method_not_allowed)),
    );
}

pub async fn not_found() -> Result<HttpResponse, ApiError> {
    Err(ApiError::not_found())
}

pub async fn method_not_allowed() -> Result<HttpResponse, ApiError> {
    Err(ApiError::method_not_allowed())
}
