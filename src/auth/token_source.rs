//! Where a request's session token is: the `Authorization` header when present (then cookies are not
//! looked at, as in Clerk's `authenticateRequest`), otherwise the `__session` cookie.
//!
//! Header: the scheme `Bearer` is matched case-insensitively (RFC 7235); a value without a scheme is
//! taken as the token itself, as Clerk does; another scheme (`Basic …`) carries no session token. A
//! header that is not visible ASCII is refused (`token-invalid`), never a panic.
//!
//! Cookies: several Clerk apps on one domain get suffixed cookies, `__session_<suffix>` with the suffix
//! derived from the publishable key. The cookie of this instance is preferred (`__session_<our
//! suffix>`), then `__session`, then, when the suffix is unknown (no publishable key), a lone
//! `__session_*` cookie.

use std::borrow::Cow;

use actix_web::http::header::AUTHORIZATION;
use actix_web::HttpRequest;
use base64::engine::general_purpose::URL_SAFE;
use base64::Engine;
use sha1::{Digest, Sha1};

use crate::clerk::reason::Reason;

const SESSION_COOKIE: &str = "__session";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Carrier {
    Header,
    Cookie,
}

impl Carrier {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Header => "header",
            Self::Cookie => "cookie",
        }
    }
}

/// Clerk's cookie suffix for a publishable key: the first 8 characters of base64url(SHA-1(key)).
pub fn cookie_suffix(publishable_key: &str) -> String {
    let digest = Sha1::digest(publishable_key.as_bytes());
    URL_SAFE.encode(digest).chars().take(8).collect()
}

/// The token and where it came from; `Ok(None)` when the request carries none.
///
/// A header's token is borrowed from the request (no copy on the usual path); a cookie's is owned.
pub fn find<'r>(
    req: &'r HttpRequest,
    suffix: Option<&str>,
) -> Result<Option<(Cow<'r, str>, Carrier)>, Reason> {
    if let Some(header) = req.headers().get(AUTHORIZATION) {
        let value = header.to_str().map_err(|_| Reason::TokenInvalid)?.trim();
        let token = match value.split_once([' ', '\t']) {
            Some((scheme, rest)) if scheme.eq_ignore_ascii_case("bearer") => rest.trim(),
            Some(_) => "",
            None if value.eq_ignore_ascii_case("bearer") => "",
            None => value,
        };
        return Ok((!token.is_empty()).then_some((Cow::Borrowed(token), Carrier::Header)));
    }
    Ok(session_cookie(req, suffix).map(|token| (Cow::Owned(token), Carrier::Cookie)))
}

fn session_cookie(req: &HttpRequest, suffix: Option<&str>) -> Option<String> {
    let non_empty = |name: &str| {
        req.cookie(name)
            .map(|c| c.value().to_owned())
            .filter(|v| !v.is_empty())
    };
    if let Some(suffix) = suffix {
        if let Some(ours) = non_empty(&format!("{SESSION_COOKIE}_{suffix}")) {
            return Some(ours);
        }
    }
    if let Some(plain) = non_empty(SESSION_COOKIE) {
        return Some(plain);
    }
    if suffix.is_some() {
        return None;
    }
    let cookies = req.cookies().ok()?;
    let mut suffixed = cookies
        .iter()
        .filter(|c| c.name().starts_with("__session_") && !c.value().is_empty());
    match (suffixed.next(), suffixed.next()) {
        (Some(only), None) => Some(only.value().to_owned()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use actix_web::test::TestRequest;

    use super::*;

    fn found(req: TestRequest, suffix: Option<&str>) -> Result<Option<(String, Carrier)>, Reason> {
        find(&req.to_http_request(), suffix)
            .map(|found| found.map(|(token, carrier)| (token.into_owned(), carrier)))
    }

    #[test]
    fn bearer_scheme_is_case_insensitive_and_header_wins() {
        for scheme in ["Bearer", "bearer", "BEARER", "bEaReR"] {
            let req = TestRequest::default()
                .insert_header((AUTHORIZATION, format!("{scheme} tok.en.x")))
                .cookie(actix_web::cookie::Cookie::new("__session", "cookie.tok.en"));
            assert_eq!(
                found(req, None).unwrap(),
                Some(("tok.en.x".into(), Carrier::Header))
            );
        }
    }

    #[test]
    fn other_schemes_and_empty_bearers_carry_no_token_and_cookies_are_ignored() {
        for value in ["Basic dXNlcjpwYXNz", "Bearer", "Bearer   ", ""] {
            let req = TestRequest::default()
                .insert_header((AUTHORIZATION, value))
                .cookie(actix_web::cookie::Cookie::new("__session", "cookie.tok.en"));
            assert_eq!(found(req, None).unwrap(), None, "{value:?}");
        }
        let bare = TestRequest::default().insert_header((AUTHORIZATION, "a.b.c"));
        assert_eq!(
            found(bare, None).unwrap(),
            Some(("a.b.c".into(), Carrier::Header))
        );
    }

    #[test]
    fn a_non_ascii_header_is_refused() {
        let value = actix_web::http::header::HeaderValue::from_bytes(b"Bearer \xfftoken").unwrap();
        let req = TestRequest::default().insert_header((AUTHORIZATION, value));
        assert_eq!(found(req, None).unwrap_err(), Reason::TokenInvalid);
    }

    #[test]
    fn cookie_preference() {
        use actix_web::cookie::Cookie;
        let suffix = cookie_suffix("pk_test_Y2xlcmsuZXhhbXBsZS5jb20k");
        assert_eq!(suffix.len(), 8);
        let ours = format!("__session_{suffix}");
        let req = || {
            TestRequest::default()
                .cookie(Cookie::new("__session", "plain"))
                .cookie(Cookie::new(ours.clone(), "ours"))
                .cookie(Cookie::new("__session_zzzzzzzz", "other-app"))
        };
        assert_eq!(found(req(), Some(&suffix)).unwrap().unwrap().0, "ours");
        assert_eq!(found(req(), None).unwrap().unwrap().0, "plain");
        let only_suffixed =
            TestRequest::default().cookie(Cookie::new("__session_zzzzzzzz", "lone"));
        assert_eq!(found(only_suffixed, None).unwrap().unwrap().0, "lone");
        let only_foreign = TestRequest::default().cookie(Cookie::new("__session_zzzzzzzz", "lone"));
        assert_eq!(
            found(only_foreign, Some(&suffix)).unwrap(),
            None,
            "another app's cookie is not ours"
        );
        assert_eq!(found(TestRequest::default(), None).unwrap(), None);
    }
}
