//! Read models of the admin console: filtered listings, keyset-paginated as every listing is (see
//! [`crate::db::page`]).

pub mod audit;
pub mod memberships;
pub mod organizations;
pub mod users;
pub mod webhooks;

/// Rows per console page.
pub const PAGE_SIZE: i64 = 50;

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
