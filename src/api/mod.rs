//! JSON routes. Handlers are thin: parse input, call one domain function, shape the output.

pub mod health;
pub mod me;
pub mod orgs;
pub mod webhooks;

use actix_web::{middleware, web, HttpResponse};

use crate::auth;

use crate::error::ApiError;

/// Registers every API route. Each resource answers other methods with a JSON 405. Public routes come
/// first; everything else under `/api` is behind the authentication middleware (an unknown path there
/// answers 401 before 404, so route names are not disclosed to strangers).
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
    )
    .service(
        web::resource("/api/auth/webhooks/clerk")
            .route(web::post().to(webhooks::clerk))
            .default_service(web::to(method_not_allowed)),
    )
    .service(
        web::scope("/api")
            .wrap(middleware::from_fn(auth::middleware::authenticate))
            .service(
                web::resource("/auth/me")
                    .route(web::get().to(me::me))
                    .default_service(web::to(method_not_allowed)),
            )
            .service(
                web::scope("/orgs")
                    .service(get("/current", orgs::current))
                    .service(get("/current/members", orgs::members))
                    .service(
                        get("/current/audit", orgs::audit).wrap(auth::Require::role("org:admin")),
                    )
                    .service(get("/{organization_id}", orgs::current)),
            )
            .default_service(web::to(not_found)),
    );
}

pub async fn not_found() -> Result<HttpResponse, ApiError> {
    Err(ApiError::not_found())
}

pub async fn method_not_allowed() -> Result<HttpResponse, ApiError> {
    Err(ApiError::method_not_allowed())
}

/// A resource answering GET with `handler` and other methods with a JSON 405.
fn get<F, Args>(path: &str, handler: F) -> actix_web::Resource
where
    F: actix_web::Handler<Args>,
    Args: actix_web::FromRequest + 'static,
    F::Output: actix_web::Responder + 'static,
{
    web::resource(path)
        .route(web::get().to(handler))
        .default_service(web::to(method_not_allowed))
}
