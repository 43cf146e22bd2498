-- Admin console sign-in sessions. The browser holds the session id inside an encrypted cookie; the
-- server keeps only its SHA-256, so logout, idle expiry and disabling an account end it everywhere.
CREATE TABLE admin_sessions (
    id_hash TEXT PRIMARY KEY,                     -- hex SHA-256 of the session id
    admin_id BIGINT NOT NULL REFERENCES admin_accounts (id),
    created_at BIGINT NOT NULL,
    last_seen_at BIGINT NOT NULL,
    ended_at BIGINT,
    client_ip TEXT,
    user_agent TEXT
);
CREATE INDEX admin_sessions_admin_idx ON admin_sessions (admin_id);

-- Sign-in attempts, for throttling per account and per client IP across every instance.
CREATE TABLE admin_login_attempts (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    attempted_at BIGINT NOT NULL,
    email TEXT NOT NULL,                          -- lower-cased, as typed (also unknown ones)
    client_ip TEXT,
    succeeded BOOLEAN NOT NULL
);
CREATE INDEX admin_login_attempts_email_idx ON admin_login_attempts (email, attempted_at);
CREATE INDEX admin_login_attempts_ip_idx ON admin_login_attempts (client_ip, attempted_at);

-- The console's audit trail pages newest first (keyset on id). Every index here is written on every
-- audited request, so only failures get their own (partial, small) indexes: rare values are what a
-- filter would otherwise scan the whole table for; common ones (2xx, a principal type) are found
-- within the first rows of a newest-first scan.
CREATE INDEX audit_events_reason_idx ON audit_events (reason, id) WHERE reason IS NOT NULL;
CREATE INDEX audit_events_errors_idx ON audit_events (status, id) WHERE status >= 400;
-- Paths are many and some are rare (a probe of /api/old-thing): without this a filter on one reads
-- every event (145 ms at 1M events).
CREATE INDEX audit_events_path_idx ON audit_events (path, id);
-- Users listed by name and searched by id/email; organizations by name.
CREATE INDEX users_email_sort_idx ON users ((COALESCE(email, '')), id);
CREATE INDEX users_created_idx ON users (clerk_created_at, id);
CREATE INDEX organizations_name_idx ON organizations (name, id);
CREATE INDEX organization_memberships_role_idx ON organization_memberships (role, id);

-- The dashboard's counts and failure chart read only what they count (partial indexes).
CREATE INDEX users_deleted_at_idx ON users (deleted_at) WHERE deleted_at IS NOT NULL;
CREATE INDEX organization_memberships_live_org_idx ON organization_memberships (organization_id) WHERE deleted_at IS NULL;
CREATE INDEX audit_events_failures_idx ON audit_events (occurred_at, reason) WHERE reason IS NOT NULL;
