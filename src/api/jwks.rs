//! `GET /.well-known/auth-core/jwks.json`: the public keys of auth-core's identity assertions
//! (`X-Auth-Assertion` of `/api/auth/verify`), for upstreams to verify them. Served from memory;
//! cacheable for `JWKS_MAX_AGE_SECS`, which the rotation lead accounts for (`auth::assertion`).

use actix_web::http::header;
use actix_web::{web, HttpResponse};

use crate::auth::assertion::JWKS_MAX_AGE_SECS;
use crate::http::error::ApiError;
use crate::state::AppState;

/// The JSON Web Key Set of auth-core's assertion keys.
///
/// Ed25519 keys (`kty: OKP`, `crv: Ed25519`, `alg: EdDSA`) by `kid`: the key signing now, and during
/// a rotation the next one (published before it signs) and the previous one (until its assertions
/// have expired). Public, cacheable.
#[utoipa::path(get, path = "/.well-known/auth-core/jwks.json", tag = "auth",
    responses(
        (status = 200, description = "The key set", body = Object,
            headers(("Cache-Control" = String, description = "`public, max-age=300`"))),
        (status = 405, response = crate::api::responses::MethodNotAllowed),
    )
)]
pub async fn jwks(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    state.assertion_keys.reload_if_due();
    Ok(HttpResponse::Ok()
        .content_type("application/json")
        .insert_header((
            header::CACHE_CONTROL,
            format!("public, max-age={JWKS_MAX_AGE_SECS}"),
        ))
        .body(state.assertion_keys.jwks()))
}
