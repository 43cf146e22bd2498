DROP INDEX sync_runs_started_at_idx;
DROP TABLE sync_runs;
