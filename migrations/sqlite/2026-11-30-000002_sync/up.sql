-- Runs of `auth-core sync` (backfill and reconcile from Clerk's Backend API). A run's row is its
-- checkpoint: `progress` is rewritten in the same transaction as each page it applied, so a run that
-- stops (killed, or a listing that failed) resumes from the last page applied, nothing twice.
CREATE TABLE sync_runs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    started_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    finished_at BIGINT,
    status TEXT NOT NULL CHECK (status IN ('running', 'completed', 'failed')),
    started_by TEXT NOT NULL,                     -- 'cli' or who asked for it
    kinds TEXT NOT NULL,                          -- the kinds listed, e.g. 'users,organizations'
    progress TEXT NOT NULL                        -- JSON, owned by sync::backfill
);
CREATE INDEX sync_runs_started_at_idx ON sync_runs (started_at);
