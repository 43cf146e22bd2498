//! A page of a Clerk listing applied at once through the webhooks' own upserts (newer `updated_at`
//! wins, a tombstone stays one), or only counted (`--dry-run`): both count from the same reading of
//! the stored rows, so a dry run's counts are a real run's.

use std::collections::{HashMap, HashSet};

use crate::clerk::organization::{ClerkMembership, ClerkOrganization};
use crate::clerk::user::ClerkUser;
use crate::db::organizations::{self, OrganizationRecord};
use crate::db::reconcile::{self, StoredVersion};
use crate::db::users::{self, UserRecord};
use crate::db::{DbConnection, DbError};

use super::organizations::{organization_record, orphaned_memberships, write_memberships_knowing};
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

/// What the database holds of a page's rows, read in one query per table before the page is
/// written: the counts and the rows to mark confirmed follow from it.
struct Stored {
    versions: HashMap<String, StoredVersion>,
    /// Memberships whose user or organization is deleted (they become tombstones).
    orphaned: HashSet<String>,
}

fn read_stored(conn: &mut DbConnection, page: &Page) -> Result<Stored, DbError> {
    let ids: Vec<String> = page.versions().into_iter().map(|(id, _)| id).collect();
    let versions = reconcile::stored_versions(conn, page.kind().table(), &ids)?;
    let orphaned = match page {
        Page::Memberships(rows) => orphaned_memberships(conn, rows)?,
        Page::Users(_) | Page::Organizations(_) => HashSet::new(),
    };
    Ok(Stored { versions, orphaned })
}

/// What writing the page does to each row, by the upserts' own rule: created when absent; updated
/// when the stored row is older than the listing's (or, a membership, becomes a tombstone); else
/// unchanged. Rows are taken in listing order, so an id listed twice counts as written one row at a
/// time would. Also returns the ids the upserts leave alone (unchanged, or only made a tombstone):
/// those the listing confirms without writing them.
fn classify(page: &Page, stored: &Stored) -> (Counts, Vec<String>) {
    let mut known: HashMap<String, StoredVersion> = HashMap::new();
    let mut counts = Counts::default();
    let mut untouched = Vec::new();
    for (id, updated_at) in page.versions() {
        let orphan = stored.orphaned.contains(&id);
        let before = known.get(&id).or_else(|| stored.versions.get(&id)).copied();
        let after = match before {
            None => {
                counts.created += 1;
                StoredVersion {
                    clerk_updated_at: updated_at,
                    deleted: orphan,
                }
            }
            Some(version) => {
                let newer = version.clerk_updated_at < updated_at;
                if newer || (orphan && !version.deleted) {
                    counts.updated += 1;
                } else {
                    counts.unchanged += 1;
                }
                if !newer {
                    untouched.push(id.clone());
                }
                StoredVersion {
                    clerk_updated_at: version.clerk_updated_at.max(updated_at),
                    deleted: version.deleted || orphan,
                }
            }
        };
        known.insert(id, after);
    }
    (counts, untouched)
}

/// Writes the page (call inside a transaction) with multi-row upserts, a few statements whatever its
/// length, and marks its rows confirmed by the listing at `now_ms` (those the upserts wrote carry
/// `synced_at = now_ms` already).
pub fn write_page(conn: &mut DbConnection, page: &Page, now_ms: i64) -> Result<Counts, DbError> {
    let stored = read_stored(conn, page)?;
    let (counts, untouched) = classify(page, &stored);
    match page {
        Page::Users(rows) => {
            let records: Vec<UserRecord> = rows.iter().map(record_from_clerk).collect();
            users::upsert_users(conn, &records, now_ms)?;
        }
        Page::Organizations(rows) => {
            let records: Vec<OrganizationRecord> = rows.iter().map(organization_record).collect();
            organizations::upsert_organizations(conn, &records, now_ms)?;
        }
        Page::Memberships(rows) => {
            write_memberships_knowing(conn, rows, &stored.orphaned, false, now_ms)?;
        }
    }
    reconcile::mark_synced(conn, page.kind().table(), &untouched, now_ms)?;
    Ok(counts)
}

/// What [`write_page`] would count, without writing.
pub fn preview_page(conn: &mut DbConnection, page: &Page) -> Result<Counts, DbError> {
    let stored = read_stored(conn, page)?;
    Ok(classify(page, &stored).0)
}
