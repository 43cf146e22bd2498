//! CORS from `CORS_ALLOWED_ORIGINS`: listed origins only (never `*`), with credentials, so a browser
//! app (Next.js with Clerk) may send `Authorization` or the `__session` cookie. Error responses carry
//! the headers too, so the browser can read why a request failed.

use actix_cors::Cors;
use actix_web::http::header::HeaderMap;
use actix_web::http::{header, Method};

pub fn build(allowed_origins: &[String]) -> Cors {
    let origins = allowed_origins.to_vec();
    Cors::default()
        .allowed_origin_fn(move |origin, _| {
            origin
                .to_str()
                .is_ok_and(|o| origins.iter().any(|allowed| allowed == o))
        })
        .allowed_methods([
            Method::GET,
            Method::POST,
            Method::PUT,
            Method::PATCH,
            Method::DELETE,
        ])
        .allowed_headers([header::AUTHORIZATION, header::CONTENT_TYPE, header::ACCEPT])
        .allowed_header("x-request-id")
        .expose_headers([header::WWW_AUTHENTICATE, header::RETRY_AFTER])
        .expose_headers(["x-request-id"])
        .supports_credentials()
        .max_age(600)
}

/// actix-cors sends `Access-Control-Allow-Credentials` even to origins it does not allow (without
/// `Access-Control-Allow-Origin`, so browsers block them anyway); it is removed there, so that only
/// listed origins are ever told credentials are welcome.
pub fn drop_stray_credentials(headers: &mut HeaderMap) {
    if !headers.contains_key(header::ACCESS_CONTROL_ALLOW_ORIGIN) {
        headers.remove(header::ACCESS_CONTROL_ALLOW_CREDENTIALS);
    }
}
