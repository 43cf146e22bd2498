//! A page of a Clerk listing applied through the webhooks' own upserts (newer `updated_at` wins, a
//! tombstone stays one), or only counted (`--dry-run`).

use crate::clerk::organization::{ClerkMembership, ClerkOrganization};
use crate::clerk::user::ClerkUser;
use crate::db::reconcile::{self, StoredVersion};
use crate::db::{organizations, users, DbConnection, DbError};

use super::organizations::{organization_record, write_membership};
use super::progress::{Counts, Kind};
use super::users::record_from_clerk;

#[derive(Debug, Clone, PartialEq)]
pub enum Page {
    Users(Vec<ClerkUser>),
    Organizations(Vec<ClerkOrganization>),
    Memberships(Vec<ClerkMembership>),
}

impl Page {
    pub fn kind(&self) -> Kind {
        match self {
            Self::Users(_) => Kind::Users,
            Self::Organizations(_) => Kind::Organizations,
            Self::Memberships(_) => Kind::Memberships,
        }
    }

    /// Each row's id and Clerk `updated_at`, in listing order.
    pub fn versions(&self) -> Vec<(String, i64)> {
        match self {
            Self::Users(rows) => rows.iter().map(|r| (r.id.clone(), r.updated_at)).collect(),
            Self::Organizations(rows) => {
                rows.iter().map(|r| (r.id.clone(), r.updated_at)).collect()
            }
            Self::Memberships(rows) => rows.iter().map(|r| (r.id.clone(), r.updated_at)).collect(),
        }
    }

    pub fn len(&self) -> usize {
        match self {
            Self::Users(rows) => rows.len(),
            Self::Organizations(rows) => rows.len(),
            Self::Memberships(rows) => rows.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The first `n` rows dropped (an overlap row already applied).
    pub fn skip_first(&mut self, n: usize) {
        match self {
            Self::Users(rows) => drop(rows.drain(..n.min(rows.len()))),
            Self::Organizations(rows) => drop(rows.drain(..n.min(rows.len()))),
            Self::Memberships(rows) => drop(rows.drain(..n.min(rows.len()))),
        }
    }
}

/// Writes every row (call inside a transaction) and marks them confirmed by the listing at `now_ms`.
pub fn write_page(conn: &mut DbConnection, page: &Page, now_ms: i64) -> Result<Counts, DbError> {
    let versions = page.versions();
    let ids: Vec<String> = versions.iter().map(|(id, _)| id.clone()).collect();
    let table = page.kind().table();
    let stored = reconcile::stored_versions(conn, table, &ids)?;
    let mut changed = Vec::with_capacity(ids.len());
    match page {
        Page::Users(rows) => {
            for user in rows {
                changed.push(users::write_user(conn, &record_from_clerk(user), now_ms)?);
            }
        }
        Page::Organizations(rows) => {
            for org in rows {
                changed.push(organizations::write_organization(
                    conn,
                    &organization_record(org),
                    now_ms,
                )?);
            }
        }
        Page::Memberships(rows) => {
            for membership in rows {
                changed.push(write_membership(conn, membership, false, now_ms)?);
            }
        }
    }
    reconcile::mark_synced(conn, table, &ids, now_ms)?;
    let mut counts = Counts::default();
    for ((id, _), changed) in versions.iter().zip(changed) {
        match (stored.contains_key(id), changed) {
            (false, _) => counts.created += 1,
            (true, true) => counts.updated += 1,
            (true, false) => counts.unchanged += 1,
        }
    }
    Ok(counts)
}

/// What [`write_page`] would count, without writing: the upserts' own rule (a row is written when
/// absent or older than the listing's).
pub fn preview_page(conn: &mut DbConnection, page: &Page) -> Result<Counts, DbError> {
    let versions = page.versions();
    let ids: Vec<String> = versions.iter().map(|(id, _)| id.clone()).collect();
    let stored = reconcile::stored_versions(conn, page.kind().table(), &ids)?;
    let mut counts = Counts::default();
    for (id, updated_at) in &versions {
        match stored.get(id) {
            None => counts.created += 1,
            Some(StoredVersion {
                clerk_updated_at, ..
            }) if *clerk_updated_at < *updated_at => counts.updated += 1,
            Some(_) => counts.unchanged += 1,
        }
    }
    Ok(counts)
}
