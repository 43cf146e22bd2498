-- Indexes recommended by the console benchmark (NOT part of the schema: try them with
-- EXTRA_SQL=benches/console/candidate-indexes.sql benches/console/run.sh before a migration adds them).

-- Dashboard "deleted users" count: an index-only scan of ~2% of users instead of a seq scan of all.
CREATE INDEX users_deleted_at_idx ON users (deleted_at) WHERE deleted_at IS NOT NULL;
-- Dashboard live-membership count (index-only scan of a narrow index instead of a seq scan of the
-- wide table); also serves the organizations list's member counts and an organization's members.
CREATE INDEX organization_memberships_live_org_idx ON organization_memberships (organization_id) WHERE deleted_at IS NULL;
-- Dashboard failure chart and failures-by-reason over the last 24 h: index-only over ~5% of events
-- instead of BitmapAnd of occurred_at (all events of the day) and reason (all failures ever).
CREATE INDEX audit_events_failures_idx ON audit_events (occurred_at) INCLUDE (reason) WHERE reason IS NOT NULL;
-- User search (/admin/users?q=…): lower(col) LIKE '%text%' on four columns cannot use a btree; a search
-- matching few users walks all 100k rows (~170-270 ms). Trigram GIN: BitmapOr of four index scans
-- (<1 ms). pg_trgm is a trusted extension (the database owner may create it); PostgreSQL only.
-- Needs custom plans for the prepared statement (see RESULTS.md): plan_cache_mode = force_custom_plan.
CREATE EXTENSION IF NOT EXISTS pg_trgm;
CREATE INDEX users_search_trgm_idx ON users USING gin
    (lower(email) gin_trgm_ops, lower(first_name) gin_trgm_ops, lower(last_name) gin_trgm_ops, lower(username) gin_trgm_ops);
-- Bench only (the app would set it on its own sessions):
SELECT format('ALTER DATABASE %I SET plan_cache_mode = force_custom_plan', current_database()) \gexec

VACUUM ANALYZE users;
VACUUM ANALYZE organization_memberships;
VACUUM ANALYZE audit_events;
