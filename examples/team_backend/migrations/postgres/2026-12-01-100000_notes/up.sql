-- The example team backend's notes: one organization's rows each (organization_id is Clerk's id).
-- No foreign key to auth-core's organizations: a token names its organization before (or without)
-- any webhook having synced it, and a note must not wait for that.
CREATE TABLE notes (
    id BIGSERIAL PRIMARY KEY,
    organization_id TEXT NOT NULL,
    title TEXT NOT NULL,
    created_by TEXT,
    created_at BIGINT NOT NULL
);
-- Every query is scoped to one organization, newest first.
CREATE INDEX notes_organization_id ON notes (organization_id, id);
