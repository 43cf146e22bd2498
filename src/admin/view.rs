//! Rendering: the layout's shared data, HTML responses, and the console's error page.

use std::borrow::Cow;

use actix_web::http::{header, StatusCode};
use actix_web::{HttpResponse, ResponseError};
use askama::Template;

use super::static_files;
use crate::accounts::password::PasswordError;
use crate::accounts::password_workers::PasswordWorkError;
use crate::accounts::AccountError;
use crate::db::DbError;

/// What the shared layout (`templates/admin/base.html`) shows around every page.
#[derive(Debug, Clone)]
pub struct Chrome {
    /// The signed-in administrator; `None` on the sign-in page.
    pub email: Option<String>,
    pub csrf: String,
    /// The navigation entry to mark as current.
    pub section: &'static str,
    pub css: &'static str,
}

impl Chrome {
    /// Pages get theirs from what they extract (`SignedIn::chrome`, `CsrfToken::chrome`); only
    /// the error page, shown to anyone, builds one here.
    pub fn new(email: Option<String>, csrf: String, section: &'static str) -> Self {
        Self {
            email,
            csrf,
            section,
            css: static_files::css_path(),
        }
    }

    /// `aria-current` for a navigation link.
    pub fn current(&self, section: &str) -> &'static str {
        if self.section == section {
            "page"
        } else {
            "false"
        }
    }
}

/// An HTML page with the given status. Console pages hold personal data: nothing is cached.
pub fn html(status: StatusCode, page: &impl Template) -> HttpResponse {
    match page.render() {
        Ok(body) => HttpResponse::build(status)
            .insert_header((header::CONTENT_TYPE, "text/html; charset=utf-8"))
            .insert_header((header::CACHE_CONTROL, "no-store"))
            .body(body),
        // The one 500 not made by `AdminError::Internal`: its error page is a template too, and
        // must not end up here again.
        Err(error) => {
            log::error!("admin page failed to render: {error}");
            HttpResponse::InternalServerError()
                .insert_header((header::CONTENT_TYPE, "text/plain; charset=utf-8"))
                .body("The page could not be rendered.")
        }
    }
}

pub fn page(page: &impl Template) -> HttpResponse {
    html(StatusCode::OK, page)
}

/// 303 See Other: where a form post sends the browser next.
pub fn redirect(location: &str) -> HttpResponse {
    HttpResponse::SeeOther()
        .insert_header((header::LOCATION, location))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .finish()
}

#[derive(Template)]
#[template(path = "admin/error.html")]
struct ErrorPage<'a> {
    chrome: Chrome,
    status: u16,
    title: &'a str,
    message: &'a str,
}

/// Errors of console handlers, shown as a page.
#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    #[error("not found")]
    NotFound,
    #[error("forbidden: {0}")]
    Forbidden(Cow<'static, str>),
    #[error("{0}")]
    BadRequest(Cow<'static, str>),
    /// The database did not answer in time or the connection was lost ([`DbError::Unavailable`]):
    /// worth a retry in a moment.
    #[error("{0}")]
    Unavailable(DbError),
    /// Every password thread is busy and enough checks wait already; worth a retry in a second.
    #[error("password checks are busy")]
    Busy,
    /// A fault of the server, not of the request: a failed statement, a hash that fails, a lost
    /// password job or database task, no random source, a session that cannot be written. Logged
    /// with this cause, and answered 500 without it.
    #[error("internal error: {0}")]
    Internal(Cow<'static, str>),
}

impl From<DbError> for AdminError {
    fn from(error: DbError) -> Self {
        if error.is_unavailable() {
            Self::Unavailable(error)
        } else {
            Self::Internal(error.to_string().into())
        }
    }
}

impl From<AccountError> for AdminError {
    fn from(error: AccountError) -> Self {
        match error {
            AccountError::Database(error) => error.into(),
            AccountError::Work(error) => error.into(),
            AccountError::Password(PasswordError::Hash(_)) => {
                Self::Internal("a password could not be hashed".into())
            }
            AccountError::NoRandomSource => Self::Internal("no random source".into()),
            problem => Self::BadRequest(problem.to_string().into()),
        }
    }
}

impl From<PasswordWorkError> for AdminError {
    fn from(error: PasswordWorkError) -> Self {
        match error {
            PasswordWorkError::Busy(_) => Self::Busy,
            PasswordWorkError::Lost => Self::Internal("a password check was lost".into()),
        }
    }
}

/// `Retry-After` on a busy answer: a queued check finishes within a fraction of a second.
const BUSY_RETRY_AFTER_SECS: u64 = 1;

/// Adds `Retry-After: secs` to a response.
pub fn with_retry_after(mut response: HttpResponse, secs: u64) -> HttpResponse {
    response
        .headers_mut()
        .insert(header::RETRY_AFTER, header::HeaderValue::from(secs));
    response
}

impl ResponseError for AdminError {
    fn status_code(&self) -> StatusCode {
        match self {
            Self::NotFound => StatusCode::NOT_FOUND,
            Self::Forbidden(_) => StatusCode::FORBIDDEN,
            Self::BadRequest(_) => StatusCode::BAD_REQUEST,
            Self::Unavailable(_) | Self::Busy => StatusCode::SERVICE_UNAVAILABLE,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        let status = self.status_code();
        let (title, message): (&str, Cow<'_, str>) = match self {
            Self::NotFound => ("Not found", "Nothing exists at this address.".into()),
            Self::Forbidden(why) => ("Forbidden", why.clone()),
            Self::BadRequest(why) => ("Bad request", why.clone()),
            Self::Unavailable(_) => (
                "Database unavailable",
                "The database did not answer in time. Try again in a moment.".into(),
            ),
            Self::Busy => (
                "Busy",
                "The server is busy checking other passwords. Try again in a moment.".into(),
            ),
            Self::Internal(_) => {
                log::error!("admin console: {self}");
                (
                    "Server error",
                    "Something went wrong; it has been logged.".into(),
                )
            }
        };
        let page = html(
            status,
            &ErrorPage {
                chrome: Chrome::new(None, String::new(), ""),
                status: status.as_u16(),
                title,
                message: &message,
            },
        );
        match self {
            Self::Busy => with_retry_after(page, BUSY_RETRY_AFTER_SECS),
            _ => page,
        }
    }
}

/// Time in milliseconds since the epoch as `2026-11-26 09:30:00 UTC`.
pub fn format_ms(ms: i64) -> String {
    let secs = ms.div_euclid(1000);
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02} UTC",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// Howard Hinnant's days-to-civil algorithm (proleptic Gregorian calendar).
pub fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = u32::try_from(doy - (153 * mp + 2) / 5 + 1).unwrap_or(1);
    let m = u32::try_from(if mp < 10 { mp + 3 } else { mp - 9 }).unwrap_or(1);
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// `2026-11-26` or `2026-11-26T09:30` (UTC, as `<input type=datetime-local>` sends) to milliseconds.
pub fn parse_time(text: &str) -> Option<i64> {
    let text = text.trim();
    let (date, time) = text.split_once(['T', ' ']).unwrap_or((text, "00:00"));
    let mut parts = date.splitn(3, '-');
    let y: i64 = parts.next()?.parse().ok()?;
    let m: i64 = parts.next()?.parse().ok()?;
    let d: i64 = parts.next()?.parse().ok()?;
    let mut hm = time.splitn(3, ':');
    let h: i64 = hm.next()?.parse().ok()?;
    let min: i64 = hm.next().unwrap_or("0").parse().ok()?;
    let s: i64 = hm.next().unwrap_or("0").parse().ok()?;
    if !(1..=12).contains(&m) || !(1..=31).contains(&d) || h > 23 || min > 59 || s > 59 {
        return None;
    }
    // days_from_civil, the inverse of the above.
    let y2 = if m <= 2 { y - 1 } else { y };
    let era = y2.div_euclid(400);
    let yoe = y2 - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    Some(((days * 86_400) + h * 3600 + min * 60 + s) * 1000)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn times_format_and_parse_in_utc() {
        assert_eq!(format_ms(0), "1970-01-01 00:00:00 UTC");
        assert_eq!(format_ms(1_795_000_000_000), "2026-11-18 11:06:40 UTC");
        assert_eq!(parse_time("2026-11-18T11:06:40"), Some(1_795_000_000_000));
        assert_eq!(parse_time("1970-01-01"), Some(0));
        assert_eq!(parse_time("2024-02-29 12:00"), Some(1_709_208_000_000));
        assert_eq!(parse_time("2026-13-01"), None);
        assert_eq!(parse_time("yesterday"), None);
    }

    fn body_text(response: HttpResponse) -> String {
        let bytes = actix_web::body::to_bytes(response.into_body());
        let bytes = futures_util::FutureExt::now_or_never(bytes)
            .unwrap()
            .unwrap();
        String::from_utf8(bytes.to_vec()).unwrap()
    }

    /// No request can make the random source fail, a password job get lost or a database task be
    /// cancelled, so the mapping of server faults is checked here: 500, a plain page, nothing of the
    /// cause shown.
    #[test]
    fn server_faults_are_500_without_detail() {
        for fault in [
            AdminError::Internal("no random source".into()),
            AdminError::from(PasswordWorkError::Lost),
            AdminError::from(AccountError::Password(PasswordError::Hash(
                "argon2 internal".into(),
            ))),
            AdminError::from(DbError::Cancelled),
        ] {
            let detail = fault.to_string();
            let response = fault.error_response();
            assert_eq!(
                response.status(),
                StatusCode::INTERNAL_SERVER_ERROR,
                "{detail}"
            );
            assert_eq!(response.headers().get(header::RETRY_AFTER), None);
            let body = body_text(response);
            assert!(
                body.contains("Something went wrong; it has been logged."),
                "{body}"
            );
            for secret in ["random", "lost", "argon2", "cancelled"] {
                assert!(!body.contains(secret), "{secret} leaked into: {body}");
            }
        }
    }

    #[test]
    fn an_unavailable_database_is_503_not_a_server_fault() {
        let response =
            AdminError::from(DbError::Unavailable("pool timed out".into())).error_response();
        assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert!(body_text(response).contains("The database did not answer in time."));
    }

    #[test]
    fn busy_password_threads_are_503_with_retry_after() {
        let response = AdminError::from(PasswordWorkError::Busy(
            crate::accounts::password_workers::Busy,
        ))
        .error_response();
        assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(
            response.headers().get(header::RETRY_AFTER).unwrap(),
            BUSY_RETRY_AFTER_SECS.to_string().as_str()
        );
        assert!(body_text(response).contains("busy checking other passwords"));
    }
}
