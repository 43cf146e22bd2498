-- Dry runs started from the console are recorded too (with their progress while they run and what
-- they would change), so the Sync page can show them. A dry run's row never holds the sync lease
-- and is never resumed.
ALTER TABLE sync_runs ADD COLUMN dry_run BOOLEAN NOT NULL DEFAULT 0;
