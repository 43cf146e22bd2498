ALTER TABLE sync_runs DROP COLUMN dry_run;
