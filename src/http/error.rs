//! The API's error type. Every error response has one shape:
//! `{"error":{"code":"…","message":"…","request_id":"…"}}`, with a stable machine-readable code.

use std::borrow::Cow;

use actix_web::http::{header, StatusCode};
use actix_web::{HttpResponse, ResponseError};
use serde::Serialize;

use crate::clerk::reason::Reason;
use crate::clerk::webhook::signature::SignatureError;
use crate::db::DbError;
use crate::http::request_id;

/// Stable error codes. Clients branch on these, never on messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorCode {
    /// Authentication failed; the code is Clerk's reason (or ours), e.g. `token-expired`.
    Auth(Reason),
    /// A webhook delivery's signature was refused.
    Webhook(SignatureError),
    BadRequest,
    PayloadTooLarge,
    /// A body of a content type the route does not read.
    UnsupportedMediaType,
    /// An org-scoped route without an active organization.
    OrganizationRequired,
    /// The token names an organization the user has since been removed from (or that was deleted).
    MembershipRevoked,
    /// A guard's requirement is not met.
    InsufficientPermissions,
    /// The user must verify a factor again (step-up); answered in the body shape of @clerk/shared's
    /// `reverificationError`, not the error shape, so Clerk's `useReverification()` recognises it.
    ReverificationRequired,
    /// `/metrics` without the configured token.
    MetricsUnauthorized,
    NotFound,
    MethodNotAllowed,
    DatabaseUnavailable,
    /// The audit queue stayed full (`audit.when_full = wait`): refused unhandled.
    AuditQueueFull,
    InternalError,
}

impl ErrorCode {
    /// Every code an error body can carry (the OpenAPI document lists them as the `code` enum).
    pub fn all() -> impl Iterator<Item = ErrorCode> {
        Reason::ALL
            .into_iter()
            .map(Self::Auth)
            .chain(SignatureError::ALL.into_iter().map(Self::Webhook))
            .chain([
                Self::BadRequest,
                Self::PayloadTooLarge,
                Self::UnsupportedMediaType,
                Self::OrganizationRequired,
                Self::MembershipRevoked,
                Self::InsufficientPermissions,
                Self::ReverificationRequired,
                Self::MetricsUnauthorized,
                Self::NotFound,
                Self::MethodNotAllowed,
                Self::DatabaseUnavailable,
                Self::AuditQueueFull,
                Self::InternalError,
            ])
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Auth(reason) => reason.as_str(),
            Self::Webhook(error) => error.as_str(),
            Self::BadRequest => "bad-request",
            Self::PayloadTooLarge => "payload-too-large",
            Self::UnsupportedMediaType => "unsupported-media-type",
            Self::OrganizationRequired => "organization-required",
            Self::MembershipRevoked => "membership-revoked",
            Self::InsufficientPermissions => "insufficient-permissions",
            // Clerk's reason (`REVERIFICATION_REASON` in @clerk/shared's authorization-errors).
            Self::ReverificationRequired => "reverification-error",
            Self::MetricsUnauthorized => "metrics-unauthorized",
            Self::NotFound => "not-found",
            Self::MethodNotAllowed => "method-not-allowed",
            Self::DatabaseUnavailable => "database-unavailable",
            Self::AuditQueueFull => "audit-queue-full",
            Self::InternalError => "internal-error",
        }
    }
}

#[derive(Debug, thiserror::Error)]
#[error("{} ({status}): {message}", code.as_str())]
pub struct ApiError {
    pub status: StatusCode,
    pub code: ErrorCode,
    pub message: Cow<'static, str>,
    /// What was required, for `insufficient-permissions`.
    pub required: Option<serde_json::Value>,
    /// The methods the resource answers, sent as `Allow` with a 405 (RFC 9110).
    pub allow: Option<&'static str>,
    /// Seconds before the client may retry, sent as `Retry-After` (a 503 without it says 1).
    pub retry_after_secs: Option<u64>,
}

impl ApiError {
    pub fn new(status: StatusCode, code: ErrorCode, message: impl Into<Cow<'static, str>>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
            required: None,
            allow: None,
            retry_after_secs: None,
        }
    }

    pub fn organization_required() -> Self {
        Self::new(
            StatusCode::FORBIDDEN,
            ErrorCode::OrganizationRequired,
            "this route needs an active organization (select one in Clerk, or use an organization's key)",
        )
    }

    pub fn membership_revoked() -> Self {
        Self::new(
            StatusCode::FORBIDDEN,
            ErrorCode::MembershipRevoked,
            "the membership in the active organization has been removed",
        )
    }

    pub fn insufficient_permissions(required: serde_json::Value) -> Self {
        let mut error = Self::new(
            StatusCode::FORBIDDEN,
            ErrorCode::InsufficientPermissions,
            "the caller does not have what this route requires",
        );
        error.required = Some(required);
        error
    }

    /// 403 asking the user to verify a factor again: `{"clerk_error": {"type": "forbidden", "reason":
    /// "reverification-error", "metadata": {"reverification": {"level", "afterMinutes"}}}}`, exactly
    /// @clerk/shared's `reverificationError(missingConfig)`; `required` holds that body.
    pub fn reverification_required(level: &'static str, after_minutes: i64) -> Self {
        let mut error = Self::new(
            StatusCode::FORBIDDEN,
            ErrorCode::ReverificationRequired,
            "the user must verify a factor again",
        );
        error.required = Some(serde_json::json!({
            "clerk_error": {
                "type": "forbidden",
                "reason": ErrorCode::ReverificationRequired.as_str(),
                "metadata": {
                    "reverification": { "level": level, "afterMinutes": after_minutes },
                },
            },
        }));
        error
    }

    /// 401 with the reason; 503 for a server-side outage (the client should retry, not sign out);
    /// 429 when the client's budget of failed credentials is spent (see
    /// [`ApiError::too_many_failed_credentials`] for the exact wait).
    pub fn unauthenticated(reason: Reason) -> Self {
        if reason == Reason::TooManyFailedCredentials {
            return Self::too_many_failed_credentials(60);
        }
        let status = if reason.is_outage() {
            StatusCode::SERVICE_UNAVAILABLE
        } else {
            StatusCode::UNAUTHORIZED
        };
        Self::new(status, ErrorCode::Auth(reason), reason.message())
    }

    /// 429 `too-many-failed-credentials`, retry after `retry_after_secs` (at least 1).
    pub fn too_many_failed_credentials(retry_after_secs: u64) -> Self {
        let reason = Reason::TooManyFailedCredentials;
        let mut error = Self::new(
            StatusCode::TOO_MANY_REQUESTS,
            ErrorCode::Auth(reason),
            reason.message(),
        );
        error.retry_after_secs = Some(retry_after_secs.max(1));
        error
    }

    pub fn webhook_refused(error: SignatureError) -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            ErrorCode::Webhook(error),
            error.message(),
        )
    }

    pub fn bad_request(message: &'static str) -> Self {
        Self::new(StatusCode::BAD_REQUEST, ErrorCode::BadRequest, message)
    }

    pub fn payload_too_large(limit: usize) -> Self {
        Self::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            ErrorCode::PayloadTooLarge,
            format!("the body exceeds {limit} bytes"),
        )
    }

    pub fn unsupported_media_type(message: &'static str) -> Self {
        Self::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ErrorCode::UnsupportedMediaType,
            message,
        )
    }

    pub fn metrics_unauthorized() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            ErrorCode::MetricsUnauthorized,
            "send the metrics token as Authorization: Bearer",
        )
    }

    pub fn not_found() -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            ErrorCode::NotFound,
            "no such resource",
        )
    }

    /// 405 naming the methods the resource does answer.
    pub fn method_not_allowed(allow: &'static str) -> Self {
        let mut error = Self::new(
            StatusCode::METHOD_NOT_ALLOWED,
            ErrorCode::MethodNotAllowed,
            "method not allowed on this resource",
        );
        error.allow = Some(allow);
        error
    }

    pub fn database_unavailable() -> Self {
        Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            ErrorCode::DatabaseUnavailable,
            "the database is unavailable; retry shortly",
        )
    }

    /// 503 `audit-queue-full` (with `Retry-After: 1`): the request was not handled, because its
    /// audit event had no room for `audit.full_wait_ms`; retrying is safe.
    pub fn audit_queue_full() -> Self {
        Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            ErrorCode::AuditQueueFull,
            "the server is overloaded; retry shortly",
        )
    }

    /// 500 `internal-error`: a fault of the server, not of the request (the console's counterpart is
    /// `AdminError::Internal`). The client sees no detail; a failed statement's goes to the log.
    pub fn internal() -> Self {
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            ErrorCode::InternalError,
            "internal error",
        )
    }
}

impl From<DbError> for ApiError {
    fn from(error: DbError) -> Self {
        match error {
            DbError::Unavailable(_) => {
                log::warn!(target: "auth_core::db", "{error}");
                Self::database_unavailable()
            }
            other => {
                // The detail goes to the log, not to the client.
                log::error!(target: "auth_core::db", "{other}");
                Self::internal()
            }
        }
    }
}

/// The one error shape of every JSON error response.
#[derive(Serialize, utoipa::ToSchema)]
#[schema(as = Error)]
pub struct ErrorBody<'a> {
    pub error: ErrorDetail<'a>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct ErrorDetail<'a> {
    /// Stable machine-readable code; clients branch on it, never on `message`.
    #[schema(schema_with = error_code_schema)]
    pub code: &'static str,
    pub message: &'a str,
    /// The `X-Request-Id` of the response (null only outside a request).
    #[schema(required = true)]
    pub request_id: Option<String>,
    /// What was required, for `insufficient-permissions` only.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub required: Option<&'a serde_json::Value>,
}

/// `code` as an enum of every [`ErrorCode`], generated from the code itself.
fn error_code_schema() -> utoipa::openapi::Object {
    utoipa::openapi::ObjectBuilder::new()
        .schema_type(utoipa::openapi::schema::Type::String)
        .enum_values(Some(ErrorCode::all().map(ErrorCode::as_str)))
        .build()
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        self.status
    }

    fn error_response(&self) -> HttpResponse {
        let mut response = HttpResponse::build(self.status);
        if let Some(secs) = self.retry_after_secs {
            response.insert_header((header::RETRY_AFTER, secs.to_string()));
        } else if self.status == StatusCode::SERVICE_UNAVAILABLE {
            response.insert_header((header::RETRY_AFTER, "1"));
        }
        if let Some(allow) = self.allow {
            response.insert_header((header::ALLOW, allow));
        }
        if self.status == StatusCode::UNAUTHORIZED && matches!(self.code, ErrorCode::Auth(_)) {
            // RFC 6750: no error attribute when the request carried no credentials at all.
            let challenge = match self.code {
                ErrorCode::Auth(Reason::SessionTokenMissing) => "Bearer".to_owned(),
                code => format!(
                    "Bearer error=\"invalid_token\", error_description=\"{}\"",
                    code.as_str()
                ),
            };
            response.insert_header((header::WWW_AUTHENTICATE, challenge));
        }
        if let (ErrorCode::ReverificationRequired, Some(body)) = (self.code, &self.required) {
            return response.json(body);
        }
        response.json(ErrorBody {
            error: ErrorDetail {
                code: self.code.as_str(),
                message: &self.message,
                request_id: request_id::current().map(|id| id.as_str().to_owned()),
                required: self.required.as_ref(),
            },
        })
    }
}
