//! The error responses the OpenAPI document names, one per status, each in the one error shape.
//! The handlers' `#[utoipa::path]` attributes refer to them; the document (`openapi.rs`) lists them.

use utoipa::ToResponse;

use crate::http::error::ErrorBody;

/// 400: a query string or body this route cannot read (`bad-request`).
#[derive(ToResponse)]
#[response(description = "The request is malformed (`bad-request`)")]
pub struct BadRequest(pub ErrorBody<'static>);

/// 401: authentication refused; `code` is the reason.
#[derive(ToResponse)]
#[response(
    description = "Authentication refused; `error.code` is the reason (`session-token-missing`, \
        `token-expired`, `token-invalid-signature`, `token-type-mismatch`, `session-revoked`, …, \
        see the `code` enum) and `WWW-Authenticate: Bearer error=\"invalid_token\", \
        error_description=\"<code>\"` names it",
    headers(("WWW-Authenticate" = String, description = "The Bearer challenge with the reason"))
)]
pub struct Unauthorized(pub ErrorBody<'static>);

/// 403: authenticated, but not allowed.
#[derive(ToResponse)]
#[response(
    description = "Authenticated but not allowed: `organization-required` (no active organization), \
        `membership-revoked`, or `insufficient-permissions` (with `required`)"
)]
pub struct Forbidden(pub ErrorBody<'static>);

#[derive(ToResponse)]
#[response(description = "No such resource (`not-found`)")]
pub struct NotFound(pub ErrorBody<'static>);

#[derive(ToResponse)]
#[response(
    description = "The resource does not answer this method (`method-not-allowed`)",
    headers(("Allow" = String, description = "The methods the resource answers"))
)]
pub struct MethodNotAllowed(pub ErrorBody<'static>);

#[derive(ToResponse)]
#[response(description = "The body exceeds the route's limit (`payload-too-large`)")]
pub struct PayloadTooLarge(pub ErrorBody<'static>);

#[derive(ToResponse)]
#[response(
    description = "The body's content type is not one the route reads (`unsupported-media-type`)"
)]
pub struct UnsupportedMediaType(pub ErrorBody<'static>);

/// 429: the client's budget of failed credential lookups is spent.
#[derive(ToResponse)]
#[response(
    description = "Too many service keys or machine tokens from this client were refused within a \
        minute (`too-many-failed-credentials`); no lookup is made until `Retry-After` seconds have \
        passed",
    headers(("Retry-After" = String, description = "Seconds until the client's minute is over"))
)]
pub struct TooManyRequests(pub ErrorBody<'static>);

#[derive(ToResponse)]
#[response(
    description = "A dependency is unavailable: `database-unavailable`, or for credentials \
        `jwk-failed-to-resolve`, `service-key-unavailable`, `machine-token-unavailable`, \
        `secret-key-invalid`; retry after `Retry-After` seconds",
    headers(("Retry-After" = String, description = "Seconds before retrying"))
)]
pub struct ServiceUnavailable(pub ErrorBody<'static>);
