//! Multi-row writes of mirrored rows (`INSERT … VALUES (…), (…) ON CONFLICT …`): one row per id, in
//! id order, in chunks both backends accept, and the newer-wins upsert run over them on each backend.

use std::collections::HashMap;

use diesel::query_dsl::methods::FilterDsl;

/// Rows per statement. A page of Clerk's listings is at most 500 rows; the widest row (a user) binds
/// 16 values, so 500 rows bind 8,000: under SQLite's limit of 32,766 variables and PostgreSQL's
/// 65,535 parameters.
pub const MAX_ROWS: usize = 500;

/// One row per id: the one with the highest `version` (the first of equals), as a row-at-a-time
/// upsert that keeps the newer version would end with. PostgreSQL refuses an `ON CONFLICT DO
/// UPDATE` that meets the same row twice, and the id order takes row locks in the same order in
/// every statement, so two writers of overlapping rows wait for each other instead of deadlocking.
pub fn newest_per_id<'a, T>(
    rows: &'a [T],
    id: impl Fn(&T) -> &str,
    version: impl Fn(&T) -> i64,
) -> Vec<&'a T> {
    let mut newest: HashMap<&str, &'a T> = HashMap::with_capacity(rows.len());
    for row in rows {
        newest
            .entry(id(row))
            .and_modify(|kept| {
                if version(kept) < version(row) {
                    *kept = row;
                }
            })
            .or_insert(row);
    }
    let mut kept: Vec<&'a T> = newest.into_values().collect();
    kept.sort_unstable_by(|a, b| id(a).cmp(id(b)));
    kept
}

/// `upsert` (`INSERT … ON CONFLICT … DO UPDATE SET …`) with `WHERE predicate` on the update. Diesel
/// offers that WHERE through `FilterDsl::filter`, which its prelude's `QueryDsl` does not cover for
/// insert statements; importing `FilterDsl` where tables are filtered too would make every `.filter`
/// there ambiguous.
pub fn update_only_where<S, P>(upsert: S, predicate: P) -> S::Output
where
    S: FilterDsl<P>,
{
    upsert.filter(predicate)
}

/// Writes `$records` into the mirrored table `$table` (one with `id` and Clerk's
/// `clerk_updated_at`), the newer version winning: `INSERT … ON CONFLICT (id) DO UPDATE SET c =
/// excluded.c, … WHERE stored.clerk_updated_at < excluded.clerk_updated_at`, so each row is
/// created, or updated only when the stored one is older, atomically. Each column is named once:
/// `columns` are inserted and updated, `insert_only` ones (`created_at`, a new tombstone's
/// `deleted_at`) only inserted. `$row` binds a record (its `id` and `version` pick one row per id,
/// see [`newest_per_id`]).
///
/// One multi-row statement per [`MAX_ROWS`] rows on PostgreSQL, where each statement is a round
/// trip; one statement per row on SQLite, for which Diesel's multi-row insert takes `ON CONFLICT …
/// DO UPDATE` only without a WHERE, and where a statement is a call inside this process (no round
/// trip), prepared once and cached. Evaluates to the number of rows created or updated.
macro_rules! upsert_newer {
    (
        $conn:expr, $table:ident, $records:expr, |$row:pat_param| id: $id:expr, version: $version:expr,
        insert_only { $($insert_only:ident: $insert_value:expr),* $(,)? }
        columns { $($column:ident: $value:expr),* $(,)? }
    ) => {{
        let mut written = 0;
        // The row's other bindings are for the columns below.
        #[allow(unused_variables)]
        let newest = $crate::db::batch::newest_per_id($records, |$row| $id, |$row| $version);
        for chunk in newest.chunks($crate::db::batch::MAX_ROWS) {
            let rows: Vec<_> = chunk
                .iter()
                .map(|$row| {
                    (
                        ($table::id.eq($id), $($table::$insert_only.eq($insert_value),)*),
                        ($($table::$column.eq($value),)*),
                    )
                })
                .collect();
            written += match &mut *$conn {
                $crate::db::DbConnection::Postgresql(c) => {
                    $crate::db::batch::upsert_newer!(@statement $table, &rows, $($column),*)
                        .execute(c)?
                }
                $crate::db::DbConnection::Sqlite(c) => rows
                    .iter()
                    .map(|row| {
                        $crate::db::batch::upsert_newer!(@statement $table, row, $($column),*)
                            .execute(c)
                    })
                    .sum::<diesel::QueryResult<usize>>()?,
            };
        }
        written
    }};
    (@statement $table:ident, $values:expr, $($column:ident),*) => {
        $crate::db::batch::update_only_where(
            diesel::insert_into($table::table)
                .values($values)
                .on_conflict($table::id)
                .do_update()
                .set(($($table::$column.eq(diesel::upsert::excluded($table::$column)),)*)),
            $table::clerk_updated_at.lt(diesel::upsert::excluded($table::clerk_updated_at)),
        )
    };
}
pub(crate) use upsert_newer;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_the_newest_row_of_each_id_in_id_order() {
        let rows = [
            ("b", 1, "b1"),
            ("a", 5, "a5"),
            ("b", 3, "b3"),
            ("a", 5, "a5'"),
        ];
        let kept = newest_per_id(&rows, |r| r.0, |r| r.1);
        let labels: Vec<&str> = kept.iter().map(|r| r.2).collect();
        assert_eq!(labels, ["a5", "b3"], "the first of equal versions stays");
    }
}
