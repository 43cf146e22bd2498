//! CSRF tokens: one random token per browser session, kept in the encrypted session cookie and
//! repeated in a hidden field of every form; every state-changing request must carry it. SameSite=
//! Strict cookies and the Origin check are further layers, not replacements.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;

/// The form field and session key holding the token.
pub const FIELD: &str = "csrf";

pub fn new_token() -> Option<String> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).ok()?;
    Some(URL_SAFE_NO_PAD.encode(bytes))
}

/// Constant-time comparison of the submitted token with the session's.
pub fn matches(expected: &str, submitted: &str) -> bool {
    !expected.is_empty() && crate::constant_time::eq(expected.as_bytes(), submitted.as_bytes())
}

/// The `csrf` field of an `application/x-www-form-urlencoded` body.
pub fn from_form(body: &[u8]) -> Option<String> {
    url::form_urlencoded::parse(body)
        .find(|(name, _)| name == FIELD)
        .map(|(_, value)| value.into_owned())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn tokens_are_random_and_compared_exactly() {
        let a = new_token().unwrap();
        let b = new_token().unwrap();
        assert_ne!(a, b);
        assert_eq!(a.len(), 43);
        assert!(matches(&a, &a.clone()));
        assert!(!matches(&a, &b));
        assert!(!matches(&a, &a[..42]));
        assert!(!matches("", ""));
    }

    #[test]
    fn the_field_is_found_in_a_form_body() {
        assert_eq!(from_form(b"a=1&csrf=x%2By&b=2").as_deref(), Some("x+y"));
        assert_eq!(from_form(b"a=1"), None);
    }
}
