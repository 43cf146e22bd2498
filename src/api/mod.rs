//! JSON routes. Handlers are thin: parse input, call one domain function, shape the output.

pub mod health;
pub mod jwks;
pub mod me;
pub mod metrics;
pub mod openapi;
pub mod orgs;
pub mod responses;
pub mod verify;
pub mod webhooks;

use actix_web::http::Method;
use actix_web::{middleware, web, HttpResponse};

use crate::request::authenticate::{Accepts, Authenticate};

use crate::http::error::ApiError;

/// Registers every API route. Each resource answers other methods with a JSON 405. Public routes come
/// first; the rest is behind the authentication middleware, with the credential types each scope
/// accepts (session tokens only, unless stated).
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/healthz")
            .route(web::get().to(health::liveness))
            .default_service(allow_only("GET")),
    )
    .service(
        web::resource("/api/auth/health")
            .route(web::get().to(health::readiness))
            .default_service(allow_only("GET")),
    )
    .service(get("/metrics", metrics::metrics))
    .service(get("/api/openapi.json", openapi::openapi_json))
    .service(
        web::resource("/api/auth/webhooks/clerk")
            .route(web::post().to(webhooks::clerk))
            .default_service(allow_only("POST")),
    )
    .service(get("/.well-known/auth-core/jwks.json", jwks::jwks))
    // Before the `/api/auth` scope, which would otherwise take the path: forward auth accepts every
    // kind of credential and each of HTTP's eight methods (a proxy's subrequest may keep the client's).
    .service(
        web::resource("/api/auth/verify")
            // Authenticates too, every kind of credential (one layer: `verify::around`).
            .wrap(middleware::from_fn(verify::around))
            .route(web::get().to(verify::verify))
            .route(web::head().to(verify::verify))
            .route(web::post().to(verify::verify))
            .route(web::put().to(verify::verify))
            .route(web::patch().to(verify::verify))
            .route(web::delete().to(verify::verify))
            .route(web::method(Method::OPTIONS).to(verify::verify))
            .route(web::trace().to(verify::verify))
            // A method outside HTTP's eight (QUERY, WebDAV's, an extension): 405, which a proxy
            // treats as a failed check, so the request is refused rather than let through.
            .default_service(allow_only(verify::METHODS)),
    )
    .service(
        web::scope("/api/auth")
            .wrap(Authenticate::new(Accepts::SESSION_TOKENS))
            .service(get("/me", me::me)),
    )
    .service(
        web::scope("/api/orgs")
            .wrap(Authenticate::new(Accepts::ANY))
            .service(get("/current", orgs::current))
            .service(get("/current/members", orgs::members))
            .service(
                get("/current/audit", orgs::audit).wrap(crate::request::Require::role("org:admin")),
            )
            .service(get("/{organization_id}", orgs::by_id)),
    );
}

/// Every (method, path) [`routes`] registers, paths as the OpenAPI document writes them. Keep it in
/// step with `routes`: `tests/openapi.rs` checks that the document describes exactly these, that each
/// is served and that the resource refuses other methods with 405.
pub fn route_table() -> Vec<(Method, &'static str)> {
    vec![
        (Method::GET, "/healthz"),
        (Method::GET, "/api/auth/health"),
        (Method::GET, "/metrics"),
        (Method::GET, "/api/openapi.json"),
        (Method::POST, "/api/auth/webhooks/clerk"),
        (Method::GET, "/.well-known/auth-core/jwks.json"),
        (Method::GET, "/api/auth/verify"),
        (Method::HEAD, "/api/auth/verify"),
        (Method::POST, "/api/auth/verify"),
        (Method::PUT, "/api/auth/verify"),
        (Method::PATCH, "/api/auth/verify"),
        (Method::DELETE, "/api/auth/verify"),
        (Method::OPTIONS, "/api/auth/verify"),
        (Method::TRACE, "/api/auth/verify"),
        (Method::GET, "/api/auth/me"),
        (Method::GET, "/api/orgs/current"),
        (Method::GET, "/api/orgs/current/members"),
        (Method::GET, "/api/orgs/current/audit"),
        (Method::GET, "/api/orgs/{organization_id}"),
    ]
}

pub async fn not_found() -> Result<HttpResponse, ApiError> {
    Err(ApiError::not_found())
}

/// A resource answering GET with `handler` and other methods with a JSON 405 (`Allow: GET`).
fn get<F, Args>(path: &str, handler: F) -> actix_web::Resource
where
    F: actix_web::Handler<Args>,
    Args: actix_web::FromRequest + 'static,
    F::Output: actix_web::Responder + 'static,
{
    web::resource(path)
        .route(web::get().to(handler))
        .default_service(allow_only("GET"))
}

/// The JSON 405 of a resource, with `Allow` naming the methods it answers (RFC 9110).
fn allow_only(allow: &'static str) -> actix_web::Route {
    web::to(move || async move { Err::<HttpResponse, _>(ApiError::method_not_allowed(allow)) })
}
