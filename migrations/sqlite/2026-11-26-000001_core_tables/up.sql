-- auth-core core tables (SQLite).
-- Every time is a Unix timestamp in milliseconds (BIGINT), the unit Clerk uses, on both backends.
-- clerk_created_at / clerk_updated_at are Clerk's own; created_at / synced_at are ours.
-- deleted_at is a soft-delete marker: a tombstone that stale events arriving later must not resurrect.

-- Mirror of Clerk users, keyed by Clerk's id (user_…).
CREATE TABLE users (
    id TEXT PRIMARY KEY,
    email TEXT,                                   -- primary email address, lower-cased
    email_addresses TEXT NOT NULL DEFAULT '[]',   -- JSON array as Clerk sends it
    first_name TEXT,
    last_name TEXT,
    username TEXT,
    image_url TEXT,
    public_metadata TEXT NOT NULL DEFAULT '{}',
    private_metadata TEXT NOT NULL DEFAULT '{}',
    unsafe_metadata TEXT NOT NULL DEFAULT '{}',
    banned BOOLEAN NOT NULL DEFAULT 0,
    last_sign_in_at BIGINT,
    clerk_created_at BIGINT NOT NULL,
    clerk_updated_at BIGINT NOT NULL,
    deleted_at BIGINT,
    created_at BIGINT NOT NULL,
    synced_at BIGINT NOT NULL
);
-- Not unique: a deleted user's email may come back on a new account, and Clerk owns uniqueness.
CREATE INDEX users_email_idx ON users (email);
CREATE INDEX users_clerk_created_at_idx ON users (clerk_created_at);

-- Mirror of Clerk organizations (org_…).
CREATE TABLE organizations (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    slug TEXT,
    image_url TEXT,
    public_metadata TEXT NOT NULL DEFAULT '{}',
    private_metadata TEXT NOT NULL DEFAULT '{}',
    max_allowed_memberships INTEGER,
    created_by TEXT,
    clerk_created_at BIGINT NOT NULL,
    clerk_updated_at BIGINT NOT NULL,
    deleted_at BIGINT,
    created_at BIGINT NOT NULL,
    synced_at BIGINT NOT NULL
);
CREATE INDEX organizations_slug_idx ON organizations (slug);

-- Mirror of Clerk organization memberships (orgmem_…).
CREATE TABLE organization_memberships (
    id TEXT PRIMARY KEY,
    organization_id TEXT NOT NULL REFERENCES organizations (id),
    user_id TEXT NOT NULL REFERENCES users (id),
    role TEXT NOT NULL,
    permissions TEXT NOT NULL DEFAULT '[]',       -- JSON array of permission keys
    public_metadata TEXT NOT NULL DEFAULT '{}',
    private_metadata TEXT NOT NULL DEFAULT '{}',
    clerk_created_at BIGINT NOT NULL,
    clerk_updated_at BIGINT NOT NULL,
    deleted_at BIGINT,
    created_at BIGINT NOT NULL,
    synced_at BIGINT NOT NULL
);
CREATE INDEX organization_memberships_org_user_idx ON organization_memberships (organization_id, user_id);
CREATE INDEX organization_memberships_user_idx ON organization_memberships (user_id);

-- Every webhook delivery received, keyed by its svix-id (redeliveries reuse it).
CREATE TABLE webhook_deliveries (
    svix_id TEXT PRIMARY KEY,
    event_type TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('received', 'applied', 'ignored', 'failed')),
    payload TEXT NOT NULL,
    error TEXT,
    attempts INTEGER NOT NULL DEFAULT 1,
    svix_timestamp BIGINT NOT NULL,
    received_at BIGINT NOT NULL,
    processed_at BIGINT
);
CREATE INDEX webhook_deliveries_received_at_idx ON webhook_deliveries (received_at);
CREATE INDEX webhook_deliveries_status_idx ON webhook_deliveries (status, received_at);
CREATE INDEX webhook_deliveries_event_type_idx ON webhook_deliveries (event_type, received_at);

-- One row per authenticated request, auth failure and administrator action.
CREATE TABLE audit_events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    occurred_at BIGINT NOT NULL,
    request_id TEXT,
    principal_type TEXT NOT NULL,                 -- user, service_key, machine_token, admin, anonymous
    user_id TEXT,
    organization_id TEXT,
    session_id TEXT,
    method TEXT NOT NULL,
    path TEXT NOT NULL,                           -- without the query string
    route TEXT,                                   -- matched route pattern
    status INTEGER NOT NULL,
    duration_us BIGINT NOT NULL,
    client_ip TEXT,
    user_agent TEXT,
    reason TEXT,                                  -- failure reason code
    detail TEXT
);
CREATE INDEX audit_events_occurred_at_idx ON audit_events (occurred_at, id);
CREATE INDEX audit_events_user_idx ON audit_events (user_id, occurred_at);
CREATE INDEX audit_events_org_idx ON audit_events (organization_id, occurred_at);

-- Keys that servers use to call auth-core. Only a SHA-256 hash of the secret is kept.
CREATE TABLE service_api_keys (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    prefix TEXT NOT NULL UNIQUE,                  -- public part of the key, for lookup
    secret_hash TEXT NOT NULL,                    -- hex SHA-256 of the secret
    organization_id TEXT,                         -- NULL: global key
    scopes TEXT NOT NULL DEFAULT '[]',            -- JSON array
    created_by TEXT,
    created_at BIGINT NOT NULL,
    expires_at BIGINT,
    revoked_at BIGINT,
    last_used_at BIGINT
);
CREATE INDEX service_api_keys_org_idx ON service_api_keys (organization_id);

-- Local administrator accounts of the admin console (argon2id hashes).
CREATE TABLE admin_accounts (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    email TEXT NOT NULL UNIQUE,
    password_hash TEXT NOT NULL,
    disabled_at BIGINT,
    last_login_at BIGINT,
    password_changed_at BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);

-- Sessions revoked or ended in Clerk, remembered until their tokens can no longer be valid.
CREATE TABLE revoked_sessions (
    session_id TEXT PRIMARY KEY,
    user_id TEXT,
    reason TEXT NOT NULL,                         -- the webhook event type that revoked it
    revoked_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX revoked_sessions_expires_at_idx ON revoked_sessions (expires_at);
