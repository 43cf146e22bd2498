//! Helpers for the console's GET forms: blank fields are absent, links keep the filters.

use crate::admin::view::{parse_time, AdminError};
use crate::db::page::{Cursor, CursorKey};

/// `Some(trimmed)` for a non-blank field, bounded in length (filters are short; a huge query string
/// must not become a huge SQL parameter).
pub fn field(value: &Option<String>) -> Option<String> {
    value
        .as_deref()
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .map(|v| v.chars().take(256).collect())
}

/// An optional UTC time field (`2026-11-26T09:30`, as `<input type=datetime-local>` sends) in
/// milliseconds; a value that is not a time is a 400 naming the field.
pub fn time_field(value: &Option<String>, name: &str) -> Result<Option<i64>, AdminError> {
    field(value)
        .map(|text| {
            parse_time(&text).ok_or_else(|| {
                AdminError::BadRequest(
                    format!("{name}: expected a date and time like 2026-11-26T09:30 (UTC)").into(),
                )
            })
        })
        .transpose()
}

/// The cursor in these fields (one per part of its key; blank ones are absent). A malformed one (a
/// link edited by hand) is ignored: the listing starts at its first page.
pub fn cursor_field<K: CursorKey>(fields: &[&Option<String>]) -> Option<Cursor<K>> {
    let values: Vec<Option<String>> = fields.iter().map(|value| field(value)).collect();
    let values: Vec<Option<&str>> = values.iter().map(Option::as_deref).collect();
    Cursor::parse(&values).ok().flatten()
}

/// [`link`] to the page that continues at a cursor: these parameters, then the cursor's `values`
/// under `names` (one per part of its key).
pub fn cursor_link(
    path: &str,
    params: &[(&str, Option<&str>)],
    names: &[&str],
    values: &[String],
) -> String {
    let mut all = params.to_vec();
    all.extend(
        names
            .iter()
            .zip(values)
            .map(|(name, value)| (*name, Some(value.as_str()))),
    );
    link(path, &all)
}

/// A console URL with these query parameters (blank ones left out), properly encoded.
pub fn link(path: &str, params: &[(&str, Option<&str>)]) -> String {
    let mut query = url::form_urlencoded::Serializer::new(String::new());
    let mut any = false;
    for (name, value) in params {
        if let Some(value) = value.filter(|v| !v.is_empty()) {
            query.append_pair(name, value);
            any = true;
        }
    }
    if any {
        format!("{path}?{}", query.finish())
    } else {
        path.to_owned()
    }
}

/// First and last name, else username, else email, else the id.
pub fn display_name(
    first: Option<&str>,
    last: Option<&str>,
    username: Option<&str>,
    email: Option<&str>,
    id: &str,
) -> String {
    let full = [first, last]
        .into_iter()
        .flatten()
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .collect::<Vec<_>>()
        .join(" ");
    if !full.is_empty() {
        return full;
    }
    username
        .or(email)
        .filter(|s| !s.is_empty())
        .unwrap_or(id)
        .to_owned()
}

/// JSON text pretty-printed for a `<pre>` (escaped by the template like everything else).
pub fn pretty_json(text: &str) -> String {
    serde_json::from_str::<serde_json::Value>(text)
        .ok()
        .and_then(|v| serde_json::to_string_pretty(&v).ok())
        .unwrap_or_else(|| text.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links_encode_and_skip_blanks() {
        assert_eq!(
            link(
                "/admin/audit",
                &[("path", Some("/a b&c")), ("user", None), ("x", Some(""))]
            ),
            "/admin/audit?path=%2Fa+b%26c"
        );
        assert_eq!(link("/admin/users", &[]), "/admin/users");
    }

    #[test]
    fn cursors_are_read_from_fields_and_linked() {
        let fields = [Some(" 1700 ".to_owned()), Some("svix_1".to_owned())];
        let cursor = cursor_field::<(i64, String)>(&[&fields[0], &fields[1]]);
        assert_eq!(cursor, Some(Cursor::new((1700, "svix_1".to_owned()))));
        let malformed = [Some("soon".to_owned()), Some("svix_1".to_owned())];
        assert_eq!(
            cursor_field::<(i64, String)>(&[&malformed[0], &malformed[1]]),
            None
        );
        assert_eq!(cursor_field::<String>(&[&Some("  ".to_owned())]), None);
        assert_eq!(
            cursor_link(
                "/admin/webhooks",
                &[("type", Some("user.created")), ("status", None)],
                &["before_at", "before_id"],
                &["1700".to_owned(), "svix 1".to_owned()],
            ),
            "/admin/webhooks?type=user.created&before_at=1700&before_id=svix+1"
        );
    }

    #[test]
    fn names_fall_back() {
        assert_eq!(
            display_name(Some("Ada"), Some("Lovelace"), None, None, "u"),
            "Ada Lovelace"
        );
        assert_eq!(
            display_name(None, None, None, Some("a@x.io"), "u"),
            "a@x.io"
        );
        assert_eq!(
            display_name(Some(" "), None, None, None, "user_1"),
            "user_1"
        );
    }
}
