//! Read models of the admin console: filtered, keyset-paginated listings. Every listing orders by an
//! indexed key plus a unique tie-breaker and continues *after* the last row shown, so page 1,000
//! costs what page 1 costs.

pub mod audit;
pub mod memberships;
pub mod organizations;
pub mod users;
pub mod webhooks;

/// Rows per console page.
pub const PAGE_SIZE: i64 = 50;

/// A page of rows and whether more follow.
#[derive(Debug, Clone, PartialEq)]
pub struct Page<T> {
    pub rows: Vec<T>,
    pub more: bool,
}

impl<T> Page<T> {
    /// From up to `PAGE_SIZE + 1` loaded rows (the extra one only says that more follow).
    pub fn from_rows(mut rows: Vec<T>, size: i64) -> Self {
        let size = usize::try_from(size).unwrap_or(0);
        let more = rows.len() > size;
        rows.truncate(size);
        Self { rows, more }
    }
}

/// `%text%` for LIKE, with LIKE's own wildcards in `text` escaped (by `\`), lower-cased.
pub fn contains_pattern(text: &str) -> String {
    let mut pattern = String::with_capacity(text.len() + 2);
    pattern.push('%');
    for c in text.to_lowercase().chars() {
        if matches!(c, '%' | '_' | '\\') {
            pattern.push('\\');
        }
        pattern.push(c);
    }
    pattern.push('%');
    pattern
}

diesel::define_sql_function! {
    /// SQL `lower()`, on both backends.
    fn lower(x: diesel::sql_types::Nullable<diesel::sql_types::Text>) -> diesel::sql_types::Nullable<diesel::sql_types::Text>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn like_wildcards_are_escaped() {
        assert_eq!(contains_pattern("Ada"), "%ada%");
        assert_eq!(contains_pattern("50%_a\\b"), "%50\\%\\_a\\\\b%");
    }
}
