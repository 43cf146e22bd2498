//! How much of each field an audit event stores. Every text field is bounded where the event is
//! captured, so no request can make a row the database refuses (PostgreSQL's btree indexes on
//! `path`, `user_id`, `organization_id` and `reason` take at most 2,704 bytes per entry; a 6,000
//! character path once stopped the whole trail) or make the queue hold megabytes per event.
//!
//! [`AuditLog::record`](super::AuditLog::record) applies them to every event it is given, whoever
//! made it (the middleware, console handlers through their notes), before the event is queued.
//!
//! A cut field ends in [`CUT_MARK`] and stays within its bound including the mark; a NUL (which
//! PostgreSQL's `text` cannot hold) becomes U+FFFD. Fields that fit are borrowed, not copied: this
//! runs on every audited request.

use std::borrow::Cow;

use crate::db::audit::AuditEventRef;

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

/// Bounds of the reduced form of an event the database refused as recorded (see the writer in
/// `audit::log`): small enough for any index, and without the fields a client wrote freely.
pub const REDUCED: usize = 64;

/// `text` as stored in at most `max` bytes (`max` at least `CUT_MARK.len()`): unchanged when it
/// fits and holds no NUL; otherwise NULs replaced, and cut on a character boundary and marked if
/// it is still too long.
pub fn fit(text: &str, max: usize) -> Cow<'_, str> {
    if text.len() <= max && !text.as_bytes().contains(&0) {
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

/// [`fit`] for an optional field.
pub fn fit_opt(text: Option<&str>, max: usize) -> Option<Cow<'_, str>> {
    text.map(|t| fit(t, max))
}

/// An event with every text field within its bound; fields that were already are borrowed.
pub struct Bounded<'a> {
    event: AuditEventRef<'a>,
    request_id: Option<Cow<'a, str>>,
    principal_type: Cow<'a, str>,
    user_id: Option<Cow<'a, str>>,
    organization_id: Option<Cow<'a, str>>,
    session_id: Option<Cow<'a, str>>,
    method: Cow<'a, str>,
    path: Cow<'a, str>,
    route: Option<Cow<'a, str>>,
    client_ip: Option<Cow<'a, str>>,
    user_agent: Option<Cow<'a, str>>,
    reason: Option<Cow<'a, str>>,
    detail: Option<Cow<'a, str>>,
}

impl<'a> Bounded<'a> {
    pub fn new(event: &AuditEventRef<'a>) -> Self {
        Self {
            event: *event,
            request_id: fit_opt(event.request_id, ID),
            principal_type: fit(event.principal_type, CODE),
            user_id: fit_opt(event.user_id, ID),
            organization_id: fit_opt(event.organization_id, ID),
            session_id: fit_opt(event.session_id, ID),
            method: fit(event.method, CODE),
            path: fit(event.path, PATH),
            route: fit_opt(event.route, ID),
            client_ip: fit_opt(event.client_ip, CODE),
            user_agent: fit_opt(event.user_agent, USER_AGENT),
            reason: fit_opt(event.reason, CODE),
            detail: fit_opt(event.detail, DETAIL),
        }
    }

    pub fn event(&self) -> AuditEventRef<'_> {
        AuditEventRef {
            request_id: self.request_id.as_deref(),
            principal_type: &self.principal_type,
            user_id: self.user_id.as_deref(),
            organization_id: self.organization_id.as_deref(),
            session_id: self.session_id.as_deref(),
            method: &self.method,
            path: &self.path,
            route: self.route.as_deref(),
            client_ip: self.client_ip.as_deref(),
            user_agent: self.user_agent.as_deref(),
            reason: self.reason.as_deref(),
            detail: self.detail.as_deref(),
            ..self.event
        }
    }
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

    #[test]
    fn nul_is_replaced_and_the_bound_still_holds() {
        assert_eq!(fit("a\0b", 10), "a\u{fffd}b");
        let nuls = "\0".repeat(10);
        let stored = fit(&nuls, 10);
        assert!(stored.len() <= 10, "{stored:?}");
        assert!(stored.ends_with(CUT_MARK));
        assert!(!stored.contains('\0'));
    }
}
