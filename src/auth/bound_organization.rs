//! A service key or Clerk machine token bound to an organization lives no longer than the
//! organization: once Clerk has deleted it (the mirror's tombstone, written by the
//! `organization.deleted` webhook) the credential is refused with `organization-deleted`, whatever
//! its own state. Checked whenever such a credential is looked up; the verifiers' caches are
//! emptied when the webhook is applied (`AppState::apply_webhook_effects`), so on the instance that
//! applied it the refusal is immediate.

use crate::clerk::reason::Reason;
use crate::db::{organizations, DbConnection, DbError};

/// `Some(organization-deleted)` when `organization_id` names an organization deleted in Clerk.
pub fn refusal(
    conn: &mut DbConnection,
    organization_id: Option<&str>,
) -> Result<Option<Reason>, DbError> {
    let Some(id) = organization_id else {
        return Ok(None);
    };
    Ok(organizations::organization_is_deleted(conn, id)?.then_some(Reason::OrganizationDeleted))
}
