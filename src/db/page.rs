//! Keyset pagination, one way for every listing (the JSON API's and the console's): a listing orders
//! by an indexed key plus a unique tie-breaker, loads one row more than a page (that row only tells
//! that more follow) and continues *after* the last row shown, so page 1,000 costs what page 1 costs.
//!
//! A [`Cursor`] is the key of the last row shown. A query string carries it as one parameter per part
//! of the key, under names each listing keeps (`after`, `before`, `after_key` and `after_id`, …), so
//! links and the API's parameters keep their form.

use diesel::dsl::Limit;
use diesel::query_dsl::methods::LimitDsl;
use diesel::query_dsl::LoadQuery;
use diesel::RunQueryDsl;
use serde::{Deserialize, Deserializer};

use super::{DbConnection, DbError};

/// A page of rows and whether more follow.
#[derive(Debug, Clone, PartialEq)]
pub struct Page<T> {
    pub rows: Vec<T>,
    pub more: bool,
}

impl<T> Page<T> {
    /// Runs `query` (filtered, ordered and positioned after the cursor) for a page of `size` rows.
    pub fn load<'q, Q>(conn: &mut DbConnection, query: Q, size: i64) -> Result<Self, DbError>
    where
        Q: LimitDsl,
        Limit<Q>: RunQueryDsl<DbConnection> + LoadQuery<'q, DbConnection, T>,
    {
        let rows = query.limit(size.saturating_add(1)).load(conn)?;
        Ok(Self::from_rows(rows, size))
    }

    /// From up to `size + 1` loaded rows (the extra one only says that more follow).
    pub fn from_rows(mut rows: Vec<T>, size: i64) -> Self {
        let size = usize::try_from(size).unwrap_or(0);
        let more = rows.len() > size;
        rows.truncate(size);
        Self { rows, more }
    }

    /// Where the next page starts: `key` of the last row, or `None` on the last page.
    pub fn next<K>(&self, key: impl FnOnce(&T) -> K) -> Option<Cursor<K>> {
        self.rows
            .last()
            .filter(|_| self.more)
            .map(|last| Cursor(key(last)))
    }
}

/// Where a listing continues: the key of the last row shown (its sort key then a unique
/// tie-breaker, or a unique key alone). The key is public so that a query can match on its parts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cursor<K>(pub K);

/// A cursor in a query string that no listing made: a part that is not of its type (a time that is
/// not a number), or not as many values as the key has parts.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the cursor is not one of this listing's")]
pub struct MalformedCursor;

impl<K> Cursor<K> {
    pub fn new(key: K) -> Self {
        Self(key)
    }

    pub fn key(&self) -> &K {
        &self.0
    }

    pub fn into_key(self) -> K {
        self.0
    }
}

impl<K: CursorKey> Cursor<K> {
    /// From the values of its query parameters, one per part of the key, in order: `Ok(None)` when
    /// one is absent (the first page), an error when a value is not of its part's type.
    pub fn parse(values: &[Option<&str>]) -> Result<Option<Self>, MalformedCursor> {
        let Some(present) = values.iter().copied().collect::<Option<Vec<&str>>>() else {
            return Ok(None);
        };
        K::from_values(&present).map(|key| Some(Self(key)))
    }

    /// The values of its query parameters, in the order [`Cursor::parse`] takes them.
    pub fn values(&self) -> Vec<String> {
        self.0.to_values()
    }
}

/// A cursor of a one-part key from one query parameter (the JSON API's `after` and `before`); a
/// malformed one fails the query string's extraction, as a parameter of the wrong type does.
impl<'de, K: CursorKey> Deserialize<'de> for Cursor<K> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        K::from_values(&[&text])
            .map(Self)
            .map_err(serde::de::Error::custom)
    }
}

/// A key as the text of its query parameters: one part, or a sort key and a tie-breaker.
pub trait CursorKey: Sized {
    fn to_values(&self) -> Vec<String>;
    /// From exactly as many values as the key has parts.
    fn from_values(values: &[&str]) -> Result<Self, MalformedCursor>;
}

/// One part of a key, as text.
pub trait CursorPart: Sized {
    fn to_value(&self) -> String;
    fn from_value(value: &str) -> Result<Self, MalformedCursor>;
}

impl CursorPart for i64 {
    fn to_value(&self) -> String {
        self.to_string()
    }

    fn from_value(value: &str) -> Result<Self, MalformedCursor> {
        value.parse().map_err(|_| MalformedCursor)
    }
}

impl CursorPart for String {
    fn to_value(&self) -> String {
        self.clone()
    }

    fn from_value(value: &str) -> Result<Self, MalformedCursor> {
        Ok(value.to_owned())
    }
}

impl<P: CursorPart> CursorKey for P {
    fn to_values(&self) -> Vec<String> {
        vec![self.to_value()]
    }

    fn from_values(values: &[&str]) -> Result<Self, MalformedCursor> {
        match values {
            [value] => P::from_value(value),
            _ => Err(MalformedCursor),
        }
    }
}

impl<A: CursorPart, B: CursorPart> CursorKey for (A, B) {
    fn to_values(&self) -> Vec<String> {
        vec![self.0.to_value(), self.1.to_value()]
    }

    fn from_values(values: &[&str]) -> Result<Self, MalformedCursor> {
        match values {
            [a, b] => Ok((A::from_value(a)?, B::from_value(b)?)),
            _ => Err(MalformedCursor),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_page_says_whether_more_follow() {
        let full = Page::from_rows(vec![1, 2, 3], 2);
        assert_eq!(full.rows, [1, 2]);
        assert!(full.more);
        assert_eq!(full.next(|n| *n), Some(Cursor::new(2)));

        let last = Page::from_rows(vec![1, 2], 2);
        assert_eq!(last.rows, [1, 2]);
        assert!(!last.more);
        assert_eq!(last.next(|n| *n), None);

        let empty = Page::<i64>::from_rows(vec![], 2);
        assert!(!empty.more);
        assert_eq!(empty.next(|n| *n), None);
    }

    #[test]
    fn a_cursor_round_trips_through_its_values() {
        let two = Cursor::new((1_700_000_000_000_i64, "user_a b&c".to_owned()));
        let values = two.values();
        assert_eq!(values, ["1700000000000", "user_a b&c"]);
        let given: Vec<Option<&str>> = values.iter().map(|v| Some(v.as_str())).collect();
        assert_eq!(Cursor::parse(&given), Ok(Some(two)));

        let one = Cursor::new("orgmem_2".to_owned());
        assert_eq!(one.values(), ["orgmem_2"]);
        assert_eq!(Cursor::parse(&[Some("orgmem_2")]), Ok(Some(one)));
        assert_eq!(
            Cursor::<i64>::parse(&[Some("-42")]),
            Ok(Some(Cursor::new(-42)))
        );
    }

    #[test]
    fn an_absent_cursor_is_the_first_page() {
        assert_eq!(Cursor::<i64>::parse(&[None]), Ok(None));
        assert_eq!(
            Cursor::<(String, String)>::parse(&[Some("Acme"), None]),
            Ok(None)
        );
        assert_eq!(
            Cursor::<(i64, String)>::parse(&[None, Some("svix_1")]),
            Ok(None)
        );
    }

    #[test]
    fn a_malformed_cursor_is_refused() {
        assert_eq!(Cursor::<i64>::parse(&[Some("12a")]), Err(MalformedCursor));
        assert_eq!(Cursor::<i64>::parse(&[Some("")]), Err(MalformedCursor));
        assert_eq!(
            Cursor::<(i64, String)>::parse(&[Some("soon"), Some("svix_1")]),
            Err(MalformedCursor)
        );
        // As many values as the key has parts, no more and no less.
        assert_eq!(
            Cursor::<String>::parse(&[Some("a"), Some("b")]),
            Err(MalformedCursor)
        );
        assert_eq!(
            Cursor::<(String, String)>::parse(&[Some("a")]),
            Err(MalformedCursor)
        );
    }

    #[test]
    fn a_one_part_cursor_deserializes_from_a_query_string() {
        use actix_web::web::Query;
        #[derive(Debug, Deserialize)]
        struct Params {
            before: Option<Cursor<i64>>,
        }
        let parsed = Query::<Params>::from_query("before=17").map(Query::into_inner);
        assert_eq!(parsed.ok().and_then(|p| p.before), Some(Cursor::new(17)));
        assert!(Query::<Params>::from_query("before=x17").is_err());
        assert!(Query::<Params>::from_query("before=").is_err());
        let absent = Query::<Params>::from_query("").map(Query::into_inner);
        assert!(absent.is_ok_and(|p| p.before.is_none()));
    }
}
