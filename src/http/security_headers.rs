//! Headers every response carries, errors included: no MIME sniffing, no referrer, no framing, a
//! Content-Security-Policy (strict for HTML; for everything else nothing may load at all), and HSTS
//! when auth-core is served over HTTPS (`server.hsts`).

use actix_web::http::header::{self, HeaderMap, HeaderValue};

const CSP_HTML: &str = "default-src 'self'; img-src 'self' data: https:; style-src 'self'; script-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";
const CSP_OTHER: &str = "default-src 'none'; frame-ancestors 'none'";
const HSTS: &str = "max-age=31536000; includeSubDomains";

pub fn apply(headers: &mut HeaderMap, hsts: bool) {
    let html = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("text/html"));
    let set = |headers: &mut HeaderMap, name: header::HeaderName, value: &'static str| {
        headers.insert(name, HeaderValue::from_static(value));
    };
    set(headers, header::X_CONTENT_TYPE_OPTIONS, "nosniff");
    set(headers, header::REFERRER_POLICY, "no-referrer");
    set(headers, header::X_FRAME_OPTIONS, "DENY");
    if !headers.contains_key(header::CONTENT_SECURITY_POLICY) {
        set(
            headers,
            header::CONTENT_SECURITY_POLICY,
            if html { CSP_HTML } else { CSP_OTHER },
        );
    }
    if hsts {
        set(headers, header::STRICT_TRANSPORT_SECURITY, HSTS);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn html_gets_the_page_policy_and_json_the_strict_one() {
        let mut html = HeaderMap::new();
        html.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/html; charset=utf-8"),
        );
        apply(&mut html, true);
        assert_eq!(
            html.get(header::CONTENT_SECURITY_POLICY)
                .map(|v| v.as_bytes()),
            Some(CSP_HTML.as_bytes())
        );
        assert_eq!(
            html.get(header::STRICT_TRANSPORT_SECURITY)
                .map(|v| v.as_bytes()),
            Some(HSTS.as_bytes())
        );
        let mut json = HeaderMap::new();
        json.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        apply(&mut json, false);
        assert_eq!(
            json.get(header::CONTENT_SECURITY_POLICY)
                .map(|v| v.as_bytes()),
            Some(CSP_OTHER.as_bytes())
        );
        assert!(json.get(header::STRICT_TRANSPORT_SECURITY).is_none());
        assert_eq!(
            json.get(header::X_FRAME_OPTIONS).map(|v| v.as_bytes()),
            Some(&b"DENY"[..])
        );
    }
}
