//! Forward authentication: `/api/auth/verify`, any method, for nginx `auth_request`, Traefik
//! `ForwardAuth`, Caddy `forward_auth` and Envoy `ext_authz` (HTTP). The credential is read and judged
//! as on every route (`request::authenticate`, every kind accepted); 200 carries the identity as
//! `X-Auth-*` headers and a signed assertion (`auth::assertion`), no body. Requirements come in the
//! query and are judged by the guards' own [`check`](crate::request::guard::check). See
//! `docs/forward-auth.md`.
//!
//! Choices the issue left open:
//! - The audit event keeps this route's method and path (so the trail's route filter still finds
//!   forward-auth checks), and its `detail` names what the proxy was asked for:
//!   `forwarded GET /notes/7`, from `X-Forwarded-Method` and `X-Forwarded-Uri` (Traefik, Caddy) or
//!   `X-Original-URI` (nginx's usual name), without the query (it may carry secrets), cut to the
//!   trail's path bound, control characters escaped. A refusal is audited with it too.
//! - The query is strict: an unknown parameter, a repeated `role`, `org` other than `required`, more
//!   than [`MAX_PERMISSIONS`] permissions or a value over [`MAX_VALUE_BYTES`] is 400, not ignored: a
//!   typo in a proxy's configuration must not silently drop a requirement.
//! - Every answer, success or refusal, is `Cache-Control: no-store`.

use std::borrow::Cow;

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{self, HeaderMap, HeaderValue};
use actix_web::middleware::Next;
use actix_web::{web, Error, HttpRequest, HttpResponse};

use crate::auth::assertion::AssertionKeyError;
use crate::auth::identity_headers::IdentityHeadersError;
pub use crate::auth::identity_headers::{
    ASSERTION, ORG_ID, ORG_PERMISSIONS, ORG_ROLE, ORG_SLUG, PRINCIPAL, SESSION_ID, USER_ID,
};
use crate::auth::Principal;
use crate::bounds;
use crate::clerk::authorization::{Requirement, Reverification};
use crate::http::error::ApiError;
use crate::request::authenticate::{authenticate, Accepts};
use crate::request::{guard, standing};
use crate::state::AppState;

/// The longest query string read.
pub const MAX_QUERY_BYTES: usize = 2048;
/// The most `permission` parameters one check may ask.
pub const MAX_PERMISSIONS: usize = 16;
/// The longest value of a query parameter.
pub const MAX_VALUE_BYTES: usize = 256;
/// The longest `X-Forwarded-Method` read (longer ones are recorded as `?`).
const MAX_METHOD_BYTES: usize = 16;
/// Headers the middleware adds to an answer after the handler (`Cache-Control`, the request id, the
/// security headers): room is made for them with the identity's, so the map grows once.
const MIDDLEWARE_HEADERS: usize = 8;

/// A 403 of this route: the error shape, or Clerk's reverification hint (documentation only; the
/// bodies are written by `ApiError`).
#[derive(serde::Serialize, utoipa::ToSchema)]
#[serde(untagged)]
pub enum ForbiddenBody {
    Error(crate::http::error::ErrorBody<'static>),
    Reverification(ReverificationError),
}

/// @clerk/shared's `reverificationError(missingConfig)`.
#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct ReverificationError {
    pub clerk_error: ClerkReverificationError,
}

#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct ClerkReverificationError {
    /// Always `forbidden`.
    #[serde(rename = "type")]
    #[schema(pattern = "^forbidden$")]
    pub kind: String,
    /// Always `reverification-error`.
    #[schema(pattern = "^reverification-error$")]
    pub reason: String,
    pub metadata: ReverificationMetadata,
}

#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct ReverificationMetadata {
    pub reverification: MissingReverification,
}

/// What the user must do: verify `level` (`first_factor`, `second_factor`, `multi_factor`) within
/// `afterMinutes`.
#[derive(serde::Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct MissingReverification {
    pub level: String,
    pub after_minutes: i64,
}

/// What the query asks beyond a valid credential.
#[derive(Debug, Default, PartialEq)]
struct Asked {
    organization: bool,
    requirements: Vec<Requirement>,
}

fn parse_query(query: &str) -> Result<Asked, ApiError> {
    if query.len() > MAX_QUERY_BYTES {
        return Err(ApiError::bad_request(
            "the query string is longer than 2048 bytes",
        ));
    }
    let mut asked = Asked::default();
    let mut role = None;
    let mut permissions = 0;
    let mut reverification = None;
    for (key, value) in url::form_urlencoded::parse(query.as_bytes()) {
        if value.is_empty() || value.len() > MAX_VALUE_BYTES {
            return Err(ApiError::bad_request(
                "a query value is empty or longer than 256 bytes",
            ));
        }
        match &*key {
            "role" if role.is_none() => role = Some(value),
            "role" => return Err(ApiError::bad_request("role is given more than once")),
            "permission" if permissions < MAX_PERMISSIONS => {
                permissions += 1;
                asked.requirements.push(Requirement::permission(&value));
            }
            "permission" => {
                return Err(ApiError::bad_request("more than 16 permission parameters"))
            }
            "org" if value == "required" && !asked.organization => asked.organization = true,
            "org" => return Err(ApiError::bad_request("org takes one value: required")),
            "reverification" if reverification.is_none() => {
                reverification = Some(Reverification::preset(&value).ok_or_else(|| {
                    ApiError::bad_request(
                        "reverification is one of strict_mfa, strict, moderate, lax",
                    )
                })?);
            }
            "reverification" => {
                return Err(ApiError::bad_request(
                    "reverification is given more than once",
                ))
            }
            _ => {
                return Err(ApiError::bad_request(
                    "unknown query parameter (role, permission, org, reverification)",
                ))
            }
        }
    }
    if let Some(role) = role {
        asked.requirements.insert(0, Requirement::role(&role));
    }
    if let Some(reverification) = reverification {
        asked
            .requirements
            .push(Requirement::reverification(reverification));
    }
    Ok(asked)
}

/// Verify a credential for a reverse proxy (forward authentication).
///
/// Any method. Authenticates as every route does (session token from `Authorization: Bearer` or the
/// `__session` cookie, service key, Clerk machine token) and answers 200 with no body and the
/// identity in `X-Auth-*` headers; a header without a value is absent, never empty. Requirements in
/// the query: `role`, `permission` (repeatable, at most 16, all required), `org=required`,
/// `reverification` (`strict_mfa`, `strict`, `moderate`, `lax`; unmet, a 403 in the body shape of
/// @clerk/shared's `reverificationError`). `X-Forwarded-Method` and `X-Forwarded-Uri` /
/// `X-Original-URI` are recorded in the audit trail. Never cached.
#[utoipa::path(
    method(get, head, post, put, patch, delete, options, trace),
    path = "/api/auth/verify",
    tag = "auth",
    params(
        ("role" = Option<String>, Query, description = "Required organization role, e.g. `org:admin`"),
        ("permission" = Option<Vec<String>>, Query, explode = true,
            description = "Required organization permission, e.g. `org:notes:delete`; repeatable (at most 16), all required"),
        ("org" = Option<String>, Query, description = "`required`: an active organization is required"),
        ("reverification" = Option<String>, Query,
            description = "`strict_mfa`, `strict`, `moderate` or `lax`: a factor verified that recently (Clerk's presets)"),
        ("X-Forwarded-Method" = Option<String>, Header, description = "The method the proxy was asked for (audit trail)"),
        ("X-Forwarded-Uri" = Option<String>, Header, description = "The URI the proxy was asked for (audit trail, without query)"),
        ("X-Original-URI" = Option<String>, Header, description = "nginx's name for the same"),
    ),
    security(("session_token" = []), ("session_cookie" = []), ("service_key" = [])),
    responses(
        (status = 200, description = "Authenticated and every requirement met; no body",
            headers(
                ("X-Auth-User-Id" = String, description = "The Clerk user (absent for service keys and machines acting for no user)"),
                ("X-Auth-Session-Id" = String, description = "The Clerk session (users only)"),
                ("X-Auth-Org-Id" = String, description = "The active organization, if any"),
                ("X-Auth-Org-Slug" = String, description = "Its slug, if the token carries one"),
                ("X-Auth-Org-Role" = String, description = "The role in it, e.g. `org:admin`"),
                ("X-Auth-Org-Permissions" = String, description = "Comma-separated permissions (a key's or machine's scopes); absent when none"),
                ("X-Auth-Principal" = String, description = "`user`, `service` or `machine`"),
                ("X-Auth-Assertion" = String, description = "The same identity as a JWT (EdDSA, 30 s) signed by auth-core; keys at /.well-known/auth-core/jwks.json"),
                ("Cache-Control" = String, description = "`no-store`"),
            )),
        (status = 400, response = crate::api::responses::BadRequest),
        (status = 401, response = crate::api::responses::Unauthorized),
        (status = 403, description = "A requirement is unmet: the error shape (`organization-required`, \
            `membership-revoked`, `insufficient-permissions`), or for `reverification` exactly \
            @clerk/shared's `reverificationError`: `{\"clerk_error\": {\"type\": \"forbidden\", \"reason\": \
            \"reverification-error\", \"metadata\": {\"reverification\": {\"level\", \"afterMinutes\"}}}}`",
            body = ForbiddenBody),
        (status = 429, response = crate::api::responses::TooManyRequests),
        (status = 503, response = crate::api::responses::ServiceUnavailable),
    )
)]
pub async fn verify(req: HttpRequest, principal: Principal) -> Result<HttpResponse, ApiError> {
    let state = req
        .app_data::<web::Data<AppState>>()
        .ok_or_else(ApiError::internal)?;
    let asked = parse_query(req.query_string())?;
    if let Some(claims) = principal.session() {
        // As OrgScope and the guards: a deleted user, or one removed from the token's organization.
        standing::of_request(&req, claims).await?.require_member()?;
    }
    if asked.organization && principal.organization_id().is_none() {
        return Err(ApiError::organization_required());
    }
    guard::check(&req, &asked.requirements).await?;

    state.assertion_keys.reload_if_due();
    // Judged above, on every request; what the memo saves is making the answer (see
    // `auth::identity_headers` for why a memoised answer cannot be stale).
    let identity = state
        .identity_headers
        .headers(&principal, &state.assertion_keys)
        .map_err(|error| match error {
            // No key loaded yet: the database was unreadable since start-up (readiness says so).
            IdentityHeadersError::Assertion(AssertionKeyError::NoActiveKey)
                if state.assertion_keys.is_empty() =>
            {
                ApiError::database_unavailable()
            }
            error => {
                log::error!("forward auth: identity headers not made: {error}");
                ApiError::internal()
            }
        })?;
    let mut response = HttpResponse::Ok().finish();
    let headers = response.headers_mut();
    headers.reserve(identity.iter().len() + MIDDLEWARE_HEADERS);
    for (name, value) in identity.iter() {
        headers.insert(name.clone(), value.clone());
    }
    Ok(response)
}

/// `forwarded GET /notes/7`: the proxied request, for the audit trail's `detail`.
fn forwarded_target(headers: &HeaderMap) -> Option<String> {
    let uri = ["x-forwarded-uri", "x-original-uri"]
        .iter()
        .find_map(|name| headers.get(*name))?;
    let uri = String::from_utf8_lossy(uri.as_bytes());
    let path = uri.split(['?', '#']).next().unwrap_or_default();
    let method = headers
        .get("x-forwarded-method")
        .map(HeaderValue::as_bytes)
        .filter(|m| {
            !m.is_empty() && m.len() <= MAX_METHOD_BYTES && m.iter().all(u8::is_ascii_alphabetic)
        })
        .map_or("?", |m| std::str::from_utf8(m).unwrap_or("?"));
    let printable = if path.chars().any(char::is_control) {
        Cow::Owned(path.chars().fold(String::new(), |mut out, c| {
            if c.is_control() {
                out.extend(c.escape_default());
            } else {
                out.push(c);
            }
            out
        }))
    } else {
        Cow::Borrowed(path)
    };
    let path = bounds::fit(&printable, bounds::PATH);
    // One allocation, of the right size, on every proxied check.
    const PREFIX: &str = "forwarded ";
    let mut detail = String::with_capacity(PREFIX.len() + method.len() + 1 + path.len());
    detail.push_str(PREFIX);
    detail.push_str(method);
    detail.push(' ');
    detail.push_str(&path);
    Some(detail)
}

/// The methods `/api/auth/verify` answers (`Allow` of its 405): HTTP's eight, whichever a proxy's
/// subrequest keeps of the client's.
pub const METHODS: &str = "GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS, TRACE";

/// The route's one middleware layer: notes the forwarded target for the audit trail, authenticates
/// (every kind of credential, as [`authenticate`] does on every route), turns a refusal into a
/// response here (so the audit recorder still sees the request and its note), and marks every answer
/// `Cache-Control: no-store`. One layer rather than this and `authenticate`'s own: each
/// `middleware::from_fn` layer costs a boxed future per request.
pub async fn around(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, Error> {
    if let Some(target) = forwarded_target(req.headers()) {
        crate::audit::note(req.request(), |note| note.detail = Some(target));
    }
    let request = req.request().clone();
    let mut response = match authenticate(Accepts::ANY, req, next).await {
        Ok(response) => response.map_into_boxed_body(),
        Err(error) => ServiceResponse::from_err(error, request),
    };
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(response)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use actix_web::http::header::HeaderName;

    #[test]
    fn query_requirements() {
        let asked = parse_query(
            "role=admin&permission=org:a:read&permission=b:c&org=required&reverification=strict",
        )
        .unwrap();
        assert!(asked.organization);
        assert_eq!(
            asked.requirements,
            [
                Requirement::role("admin"),
                Requirement::permission("org:a:read"),
                Requirement::permission("b:c"),
                Requirement::reverification(Reverification::Strict),
            ]
        );
        assert_eq!(parse_query("").unwrap(), Asked::default());
    }

    #[test]
    fn bad_queries_are_refused_not_ignored() {
        let many = vec!["permission=x"; MAX_PERMISSIONS + 1].join("&");
        let long = format!("role={}", "a".repeat(MAX_VALUE_BYTES + 1));
        let huge = format!("permission={}", "a".repeat(MAX_QUERY_BYTES));
        for query in [
            "rol=admin",
            "role=a&role=b",
            "org=optional",
            "org=required&org=required",
            "reverification=sometimes",
            "reverification=lax&reverification=strict",
            "role=",
            many.as_str(),
            long.as_str(),
            huge.as_str(),
        ] {
            let error = parse_query(query).unwrap_err();
            assert_eq!(error.status, 400, "{query}");
        }
        let sixteen = vec!["permission=x"; MAX_PERMISSIONS].join("&");
        assert_eq!(parse_query(&sixteen).unwrap().requirements.len(), 16);
    }

    #[test]
    fn the_forwarded_target_is_bounded_and_printable() {
        let mut headers = HeaderMap::new();
        assert_eq!(forwarded_target(&headers), None);
        headers.insert(
            HeaderName::from_static("x-original-uri"),
            HeaderValue::from_static("/notes/7?token=secret"),
        );
        assert_eq!(forwarded_target(&headers).unwrap(), "forwarded ? /notes/7");
        headers.insert(
            HeaderName::from_static("x-forwarded-method"),
            HeaderValue::from_static("DELETE"),
        );
        headers.insert(
            HeaderName::from_static("x-forwarded-uri"),
            // A tab (the one control character a header value may hold) and a byte that is not UTF-8.
            HeaderValue::from_bytes(b"/a\tb\xff").unwrap(),
        );
        assert_eq!(
            forwarded_target(&headers).unwrap(),
            "forwarded DELETE /a\\tb\u{fffd}"
        );
        headers.insert(
            HeaderName::from_static("x-forwarded-method"),
            HeaderValue::from_static("GET\tX"),
        );
        let long = format!("/{}", "a".repeat(10_000));
        headers.insert(
            HeaderName::from_static("x-forwarded-uri"),
            HeaderValue::from_str(&long).unwrap(),
        );
        let target = forwarded_target(&headers).unwrap();
        assert!(target.starts_with("forwarded ? /aaa"), "{target}");
        assert!(target.len() <= bounds::PATH + 12);
    }
}
