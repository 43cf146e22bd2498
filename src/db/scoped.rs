//! Tenant scoping for a team's own tables: a table with an organization column is declared once with
//! [`tenant_scoped!`](crate::tenant_scoped), and a handler then reaches it only through
//! [`Db::run_scoped`], whose [`TenantConnection`] runs nothing but queries built from
//! `table.scoped(&tenant)`, and inserts rows with the tenant's organization filled in.
//!
//! Invariants this module keeps:
//! - a [`Scoped`] query can only start as `table.scoped(&tenant)` (its field is private), and its
//!   methods only narrow it (`filter` adds an `AND`; there is no `or_filter` and no way to swap the
//!   query underneath), so every statement it runs carries `organization_id = <the tenant's>`;
//! - a [`Tenant`] comes only from a verified request (`request::OrgScope`), so the organization in
//!   that filter is the request's;
//! - the one way around it is [`TenantConnection::unscoped_for_admin`], named so that a reviewer sees it.
//!
//! A row of another organization is therefore simply not found: the handler answers 404, as for a
//! row that does not exist (no oracle for other organizations' ids).
//!
//! ```
//! # fn main() {}
//! use auth_core::db::scoped::TenantScopedDsl;
//! use auth_core::db::tenant::Tenant;
//! use auth_core::db::{Db, DbError};
//! use diesel::prelude::*;
//!
//! diesel::table! {
//!     notes (id) {
//!         id -> BigInt,
//!         organization_id -> Text,
//!         title -> Text,
//!     }
//! }
//! auth_core::tenant_scoped!(notes::table, notes::organization_id);
//!
//! async fn titles(db: &Db, tenant: &Tenant) -> Result<Vec<String>, DbError> {
//!     db.run_scoped(tenant, |conn| {
//!         let query = notes::table.scoped(conn.tenant()).order(notes::id.asc()).select(notes::title);
//!         Ok(conn.load(query)?)
//!     })
//!     .await
//! }
//! ```
//!
//! Forgetting `.scoped(…)` does not compile: a [`TenantConnection`] is not a Diesel connection, and
//! its `load` takes only a [`Scoped`] query.
//!
//! ```compile_fail,E0308
//! # fn main() {}
//! use auth_core::db::tenant::Tenant;
//! use auth_core::db::{Db, DbError};
//! use diesel::prelude::*;
//!
//! diesel::table! {
//!     notes (id) {
//!         id -> BigInt,
//!         organization_id -> Text,
//!         title -> Text,
//!     }
//! }
//! auth_core::tenant_scoped!(notes::table, notes::organization_id);
//!
//! async fn every_title(db: &Db, tenant: &Tenant) -> Result<Vec<String>, DbError> {
//!     db.run_scoped(tenant, |conn| Ok(conn.load(notes::table.select(notes::title))?)).await
//! }
//! ```
//!
//! ```compile_fail,E0277
//! # fn main() {}
//! use auth_core::db::tenant::Tenant;
//! use auth_core::db::{Db, DbError};
//! use diesel::prelude::*;
//!
//! diesel::table! {
//!     notes (id) {
//!         id -> BigInt,
//!         organization_id -> Text,
//!         title -> Text,
//!     }
//! }
//!
//! async fn every_title(db: &Db, tenant: &Tenant) -> Result<Vec<String>, DbError> {
//!     db.run_scoped(tenant, |conn| Ok(notes::table.select(notes::title).load(conn)?)).await
//! }
//! ```
//!
//! Nor can a query be passed off as scoped:
//!
//! ```compile_fail,E0423
//! diesel::table! { notes (id) { id -> BigInt, organization_id -> Text } }
//! let forged = auth_core::db::scoped::Scoped(notes::table);
//! ```

use diesel::dsl;
use diesel::query_builder::{InsertStatement, IntoUpdateTarget};
use diesel::query_dsl::methods::{ExecuteDsl, FilterDsl, LimitDsl, OrderDsl, SelectDsl};
use diesel::query_dsl::LoadQuery;
use diesel::sql_types::Text;
use diesel::{Column, ExpressionMethods, Insertable, QueryResult, RunQueryDsl, Table};

use super::tenant::Tenant;
use super::{Db, DbConnection, DbError};

/// A table with an organization column (Clerk's organization id, `TEXT`). Implement it with
/// [`tenant_scoped!`](crate::tenant_scoped).
pub trait TenantScoped: Table + Sized {
    type Organization: Column<Table = Self, SqlType = Text> + ExpressionMethods + Default;
}

/// Declares `table`'s `column` as its organization column:
/// `auth_core::tenant_scoped!(notes::table, notes::organization_id);`
#[macro_export]
macro_rules! tenant_scoped {
    ($table:path, $column:path) => {
        impl $crate::db::scoped::TenantScoped for $table {
            type Organization = $column;
        }
    };
}

/// `organization_id = <the tenant's>` for the table `T`.
type OrganizationIs<T> = dsl::Eq<<T as TenantScoped>::Organization, String>;

/// A query (or `DELETE`) limited to one organization's rows. Made only by
/// [`TenantScopedDsl::scoped`]; every method keeps the limit.
#[derive(Debug, Clone)]
#[must_use = "a query does nothing until a TenantConnection runs it"]
pub struct Scoped<Q>(Q);

/// `table.scoped(&tenant)` on every [`TenantScoped`] table.
pub trait TenantScopedDsl: TenantScoped {
    /// The tenant's rows of this table.
    fn scoped(self, tenant: &Tenant) -> Scoped<dsl::Filter<Self, OrganizationIs<Self>>>
    where
        Self: FilterDsl<OrganizationIs<Self>>,
    {
        let organization = Self::Organization::default().eq(tenant.organization_id().to_owned());
        Scoped(self.filter(organization))
    }
}

impl<T: TenantScoped> TenantScopedDsl for T {}

impl<Q> Scoped<Q> {
    /// Narrows the query (`AND`): it can only ever see fewer of the tenant's rows.
    pub fn filter<P>(self, predicate: P) -> Scoped<dsl::Filter<Q, P>>
    where
        Q: FilterDsl<P>,
    {
        Scoped(self.0.filter(predicate))
    }

    pub fn order<O>(self, order: O) -> Scoped<dsl::Order<Q, O>>
    where
        O: diesel::Expression,
        Q: OrderDsl<O>,
    {
        Scoped(self.0.order(order))
    }

    pub fn limit(self, limit: i64) -> Scoped<dsl::Limit<Q>>
    where
        Q: LimitDsl,
    {
        Scoped(self.0.limit(limit))
    }

    pub fn select<S>(self, selection: S) -> Scoped<dsl::Select<Q, S>>
    where
        S: diesel::Expression,
        Q: SelectDsl<S>,
    {
        Scoped(self.0.select(selection))
    }

    /// `DELETE` the rows this query selects (all of them the tenant's).
    pub fn delete(self) -> Scoped<dsl::delete<Q>>
    where
        Q: IntoUpdateTarget,
    {
        Scoped(diesel::delete(self.0))
    }
}

/// The connection a [`Db::run_scoped`] closure gets: it runs [`Scoped`] queries of its tenant only.
pub struct TenantConnection<'a> {
    conn: &'a mut DbConnection,
    tenant: &'a Tenant,
}

impl TenantConnection<'_> {
    pub fn tenant(&self) -> &Tenant {
        self.tenant
    }

    /// Every row the query selects.
    pub fn load<Q, U>(&mut self, query: Scoped<Q>) -> QueryResult<Vec<U>>
    where
        Q: RunQueryDsl<DbConnection> + LoadQuery<'static, DbConnection, U>,
    {
        query.0.load(self.conn)
    }

    /// The first row the query selects, if any: `None` for a row of another organization too.
    pub fn first<Q, U>(&mut self, query: Scoped<Q>) -> QueryResult<Option<U>>
    where
        Q: LimitDsl,
        dsl::Limit<Q>: RunQueryDsl<DbConnection> + LoadQuery<'static, DbConnection, U>,
    {
        use diesel::OptionalExtension;
        query.0.limit(1).get_result(self.conn).optional()
    }

    /// Runs a scoped `DELETE`; the number of rows it changed (0 for another
    /// organization's row).
    pub fn execute<Q>(&mut self, statement: Scoped<Q>) -> QueryResult<usize>
    where
        Q: RunQueryDsl<DbConnection> + ExecuteDsl<DbConnection>,
    {
        statement.0.execute(self.conn)
    }

    /// Inserts one row of `table` with `values` (a column's `.eq(…)` or a tuple of them) and the
    /// tenant's organization, and returns the row as `U` (`INSERT … RETURNING`, on both backends).
    pub fn insert<T, V, X, U>(&mut self, table: T, values: V) -> QueryResult<U>
    where
        T: TenantScoped,
        (OrganizationIs<T>, V): Insertable<T, Values = X>,
        InsertStatement<T, X>: RunQueryDsl<DbConnection> + LoadQuery<'static, DbConnection, U>,
    {
        let organization = T::Organization::default().eq(self.tenant.organization_id().to_owned());
        diesel::insert_into(table)
            .values((organization, values))
            .get_result(self.conn)
    }

    /// The raw connection, every organization's rows within reach: for administrative work that
    /// means to cross organizations (a report, a migration of data), never a request's own data.
    pub fn unscoped_for_admin(&mut self) -> &mut DbConnection {
        self.conn
    }
}

impl Db {
    /// As [`Db::run`], with a connection that only runs queries scoped to `tenant`.
    pub async fn run_scoped<T, F>(&self, tenant: &Tenant, work: F) -> Result<T, DbError>
    where
        F: FnOnce(&mut TenantConnection<'_>) -> Result<T, DbError> + Send + 'static,
        T: Send + 'static,
    {
        let tenant = tenant.clone();
        self.run(move |conn| {
            work(&mut TenantConnection {
                conn,
                tenant: &tenant,
            })
        })
        .await
    }
}
