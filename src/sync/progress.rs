//! Where a backfill run stands, per kind: the position to resume from, what it changed, why it did
//! not reconcile. Stored as JSON in the run's row (`sync_runs.progress`) in the transaction of each
//! page applied, so a resumed run neither skips nor repeats a page and its counts add up as if it
//! had never stopped.

use serde::{Deserialize, Serialize};

use crate::db::reconcile::Mirrored;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    Users,
    Organizations,
    Memberships,
}

impl Kind {
    /// In the order a run lists them: memberships name users and organizations, which are best
    /// written from their own listings first.
    pub const ALL: [Kind; 3] = [Kind::Users, Kind::Organizations, Kind::Memberships];

    pub fn name(self) -> &'static str {
        match self {
            Self::Users => "users",
            Self::Organizations => "organizations",
            Self::Memberships => "memberships",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.name() == text)
    }

    pub fn table(self) -> Mirrored {
        match self {
            Self::Users => Mirrored::Users,
            Self::Organizations => Mirrored::Organizations,
            Self::Memberships => Mirrored::Memberships,
        }
    }
}

/// What a run did (or, dry, would do) to the rows of one kind.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counts {
    pub created: u64,
    pub updated: u64,
    pub unchanged: u64,
    pub tombstoned: u64,
}

impl Counts {
    pub fn add(&mut self, other: Counts) {
        self.created += other.created;
        self.updated += other.updated;
        self.unchanged += other.unchanged;
        self.tombstoned += other.tombstoned;
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KindProgress {
    pub kind: Kind,
    /// Rows read from the listing so far; for offset listings also the next page's offset.
    pub listed: u64,
    /// The id of the last row read: the users' cursor; for offset listings, the row the next page
    /// must begin with (it is asked for from one row earlier, to see that nothing moved).
    pub last_id: Option<String>,
    /// The listing's size as Clerk last gave it (`/users/count`, `total_count`).
    pub total: Option<u64>,
    /// The listing was read to its end.
    pub listed_all: bool,
    /// Why rows missing from the listing were not tombstoned (set when the listing could have
    /// skipped rows: it moved while being read, or came up short).
    pub not_reconciled: Option<String>,
    /// Rows missing from the listing have been tombstoned.
    pub reconciled: bool,
    pub counts: Counts,
    /// The listing failed: nothing was tombstoned; a resumed run continues from `listed`.
    pub error: Option<String>,
}

impl KindProgress {
    pub fn new(kind: Kind) -> Self {
        Self {
            kind,
            listed: 0,
            last_id: None,
            total: None,
            listed_all: false,
            not_reconciled: None,
            reconciled: false,
            counts: Counts::default(),
            error: None,
        }
    }

    /// Nothing left to do for this kind.
    pub fn finished(&self) -> bool {
        self.listed_all && (self.reconciled || self.not_reconciled.is_some())
    }
}

/// A whole run's progress.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunProgress {
    /// When the run first started (ms): rows no listing confirmed since (less the clock-skew
    /// allowance) are the ones reconcile tombstones, also after a resume.
    pub started_at: i64,
    pub kinds: Vec<KindProgress>,
}

impl RunProgress {
    pub fn new(started_at: i64, kinds: &[Kind]) -> Self {
        Self {
            started_at,
            kinds: kinds.iter().copied().map(KindProgress::new).collect(),
        }
    }

    pub fn kind_names(&self) -> String {
        self.kinds
            .iter()
            .map(|k| k.kind.name())
            .collect::<Vec<_>>()
            .join(",")
    }

    pub fn failed(&self) -> bool {
        self.kinds.iter().any(|k| k.error.is_some())
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_else(|_| "{}".to_owned())
    }
}
