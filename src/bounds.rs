//! How long a request's text fields may be wherever they are kept or printed — audit rows
//! (`audit::limits`) and log lines (`logging::fields`) — and how a longer one is cut. One set of
//! bounds, so a value that fits the trail also fits the log.

use std::borrow::Cow;

/// Ends a field that was cut to its bound.
pub const CUT_MARK: &str = "…[cut]";

/// Request path (without the query string).
pub const PATH: usize = 1024;
/// `User-Agent` header.
pub const USER_AGENT: usize = 512;
/// Free-text detail of a console action, with the administrator's email.
pub const DETAIL: usize = 1024;
/// Identifiers: Clerk's user, organization and session ids, the request id, the matched route.
pub const ID: usize = 256;
/// Short codes: method, principal type, reason code, client IP.
pub const CODE: usize = 64;

/// Whether `text` is kept as it is within `max` bytes: short enough, and no NUL.
pub fn stored_as_is(text: &str, max: usize) -> bool {
    text.len() <= max && !text.as_bytes().contains(&0)
}

/// `text` as stored in at most `max` bytes (`max` at least `CUT_MARK.len()`): unchanged when it
/// fits and holds no NUL; otherwise NULs replaced, and cut on a character boundary and marked if
/// it is still too long.
pub fn fit(text: &str, max: usize) -> Cow<'_, str> {
    if stored_as_is(text, max) {
        return Cow::Borrowed(text);
    }
    let nuls = text.bytes().filter(|b| *b == 0).count();
    // U+FFFD takes three bytes where NUL took one.
    let cut = text.len() + 2 * nuls > max;
    let room = if cut {
        max.saturating_sub(CUT_MARK.len())
    } else {
        max
    };
    let mut out = String::with_capacity(max);
    for c in text.chars() {
        let c = if c == '\0' {
            char::REPLACEMENT_CHARACTER
        } else {
            c
        };
        if out.len() + c.len_utf8() > room {
            break;
        }
        out.push(c);
    }
    if cut {
        out.push_str(CUT_MARK);
    }
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_text_is_borrowed_unchanged() {
        assert!(matches!(
            fit("/api/auth/me", PATH),
            Cow::Borrowed("/api/auth/me")
        ));
        let exact = "a".repeat(PATH);
        assert!(matches!(fit(&exact, PATH), Cow::Borrowed(_)));
    }

    #[test]
    fn long_text_is_cut_on_a_character_boundary_and_marked() {
        let path = format!("/api/{}", "é".repeat(3_000));
        let stored = fit(&path, PATH);
        assert!(stored.len() <= PATH, "{}", stored.len());
        assert!(stored.len() > PATH - CUT_MARK.len() - 2);
        assert!(stored.ends_with(CUT_MARK));
        assert!(path.starts_with(stored.trim_end_matches(CUT_MARK)));
        let one_over = "a".repeat(PATH + 1);
        let stored = fit(&one_over, PATH);
        assert_eq!(stored.len(), PATH);
        assert!(stored.ends_with(CUT_MARK));
    }
}
