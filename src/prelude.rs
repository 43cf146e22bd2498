//! What a team's backend imports to embed auth-core and write its handlers:
//! `use auth_core::prelude::*;`. `docs/embedding.md` walks through each name.
//!
//! - [`AuthCore`]: the builder (routes, migrations, run); [`MigrationSet`] the team's migrations.
//! - Extractors: [`Principal`] (a user, a service key or a machine: who called), [`OrgScope`] (the
//!   active organization, 403 `organization-required` without one, 403 `membership-revoked` for a
//!   removed member) and its [`Tenant`]; guards: [`Require`] (role, permission, feature, plan; 403
//!   `insufficient-permissions` naming what was required).
//! - Tenant-scoped tables: [`tenant_scoped!`](crate::tenant_scoped), [`TenantScopedDsl`]
//!   (`table.scoped(&tenant)`), [`Db::run_scoped`] and its [`TenantConnection`].
//! - [`ApiError`]: auth-core's JSON error shape, for the team's own refusals.

pub use crate::auth::principal::Principal;
pub use crate::clerk::authorization::Requirement;
pub use crate::db::migrations::MigrationSet;
pub use crate::db::scoped::{Scoped, TenantConnection, TenantScoped, TenantScopedDsl};
pub use crate::db::tenant::Tenant;
pub use crate::db::{Db, DbError};
pub use crate::embed::{AuthCore, EmbedError, Running};
pub use crate::http::error::ApiError;
pub use crate::request::authenticate::Accepts;
pub use crate::request::{OrgScope, Require};
pub use crate::settings::Settings;
pub use crate::state::AppState;
pub use crate::tenant_scoped;
