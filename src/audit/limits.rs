//! How much of each field an audit event stores. Every text field is bounded when the event is
//! recorded ([`AuditLog::record`](super::AuditLog::record), whoever made the event: the middleware,
//! console handlers through their notes), so no request can make a row the database refuses
//! (PostgreSQL's btree indexes on `path`, `user_id`, `organization_id` and `reason` take at most
//! 2,704 bytes per entry; a 6,000-character path once stopped the whole trail) or make the queue
//! hold megabytes per event.
//!
//! A cut field ends in [`CUT_MARK`](crate::bounds::CUT_MARK) and stays within its bound including
//! the mark; a NUL (which PostgreSQL's `text` cannot hold) becomes U+FFFD. An event whose fields all
//! fit is queued as it is, without a copy: this runs on every audited request.

use crate::bounds::{fit, stored_as_is, CODE, DETAIL, ID, PATH, USER_AGENT};
use crate::db::audit::{AuditEventRef, NewAuditEvent};

/// Every text field of the reduced form of an event the database refused as recorded (see
/// `audit::batch_writer`): small enough for any index.
pub const REDUCED: usize = 64;

/// What `detail` says in a reduced event.
pub const REDUCED_DETAIL: &str = "reduced: the database refused this event as recorded";

/// The bound of each kind of field.
struct Bounds {
    id: usize,
    code: usize,
    path: usize,
    user_agent: usize,
    detail: usize,
}

const RECORDED: Bounds = Bounds {
    id: ID,
    code: CODE,
    path: PATH,
    user_agent: USER_AGENT,
    detail: DETAIL,
};

const REDUCED_BOUNDS: Bounds = Bounds {
    id: REDUCED,
    code: REDUCED,
    path: REDUCED,
    user_agent: REDUCED,
    detail: REDUCED,
};

/// The text fields of `event`, each with its bound (the principal type, one of a few short names,
/// always fits).
fn texts<'a>(e: &AuditEventRef<'a>, b: &Bounds) -> [(Option<&'a str>, usize); 11] {
    [
        (e.request_id, b.id),
        (e.user_id, b.id),
        (e.organization_id, b.id),
        (e.session_id, b.id),
        (Some(e.method), b.code),
        (Some(e.path), b.path),
        (e.route, b.id),
        (e.client_ip, b.code),
        (e.user_agent, b.user_agent),
        (e.reason, b.code),
        (e.detail, b.detail),
    ]
}

/// Whether every text field of `event` is within its bound and free of NUL, i.e. would be stored
/// as it is.
pub fn fits(event: &AuditEventRef<'_>) -> bool {
    texts(event, &RECORDED)
        .iter()
        .all(|(text, max)| text.is_none_or(|t| stored_as_is(t, *max)))
}

/// A copy of `event` with every text field within its bound.
pub fn bounded(event: &AuditEventRef<'_>) -> NewAuditEvent {
    cut(event, &RECORDED)
}

/// What is kept of an event the database refused: when, who and the outcome, each cut to
/// [`REDUCED`] bytes; the user agent (a client writes it freely) dropped; `detail` saying the event
/// was reduced.
pub fn reduced(event: &AuditEventRef<'_>) -> NewAuditEvent {
    NewAuditEvent {
        user_agent: None,
        detail: Some(REDUCED_DETAIL.to_owned()),
        ..cut(event, &REDUCED_BOUNDS)
    }
}

fn cut(e: &AuditEventRef<'_>, b: &Bounds) -> NewAuditEvent {
    let text = |t: &str, max: usize| fit(t, max).into_owned();
    let opt = |t: Option<&str>, max: usize| t.map(|t| text(t, max));
    NewAuditEvent {
        occurred_at: e.occurred_at,
        request_id: opt(e.request_id, b.id),
        principal_type: e.principal_type,
        user_id: opt(e.user_id, b.id),
        organization_id: opt(e.organization_id, b.id),
        session_id: opt(e.session_id, b.id),
        method: text(e.method, b.code),
        path: text(e.path, b.path),
        route: opt(e.route, b.id),
        status: e.status,
        duration_us: e.duration_us,
        client_ip: opt(e.client_ip, b.code),
        user_agent: opt(e.user_agent, b.user_agent),
        reason: opt(e.reason, b.code),
        detail: opt(e.detail, b.detail),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bounds::CUT_MARK;
    use crate::db::audit::PrincipalType;

    fn event<'a>(path: &'a str, detail: Option<&'a str>) -> AuditEventRef<'a> {
        AuditEventRef {
            occurred_at: 1,
            request_id: Some("req"),
            principal_type: PrincipalType::Anonymous,
            user_id: None,
            organization_id: None,
            session_id: None,
            method: "GET",
            path,
            route: None,
            status: 404,
            duration_us: 2,
            client_ip: Some("::1"),
            user_agent: Some("agent"),
            reason: Some("not-found"),
            detail,
        }
    }

    #[test]
    fn an_event_is_copied_only_when_a_field_does_not_fit() {
        assert!(fits(&event("/api/auth/me", Some("signed in"))));
        let long = "p".repeat(PATH + 1);
        assert!(!fits(&event(&long, None)));
        assert!(!fits(&event("/api", Some("nul \0"))));
        let stored = bounded(&event(&long, Some("nul \0")));
        assert_eq!(stored.path.len(), PATH);
        assert_eq!(stored.detail.as_deref(), Some("nul \u{fffd}"));
        assert_eq!(stored.user_agent.as_deref(), Some("agent"));
        assert!(fits(&stored.as_ref()));
    }

    #[test]
    fn the_reduced_form_keeps_who_and_the_outcome_only() {
        let long = "p".repeat(PATH);
        let reduced = reduced(&event(&long, Some("anything")));
        assert_eq!(reduced.path.len(), REDUCED);
        assert!(reduced.path.ends_with(CUT_MARK));
        assert_eq!(
            (
                reduced.status,
                reduced.reason.as_deref(),
                reduced.request_id.as_deref()
            ),
            (404, Some("not-found"), Some("req"))
        );
        assert_eq!(reduced.user_agent, None);
        assert_eq!(reduced.detail.as_deref(), Some(REDUCED_DETAIL));
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
