-- auth-core's own signing keys for the identity assertion of /api/auth/verify (X-Auth-Assertion),
-- Ed25519. `generation` orders them: the first start inserts generation 1 if absent (two instances
-- starting together on one database end up with the same row), `auth-core assertion-keys rotate`
-- inserts the next one. A key signs from `activates_at` (a rotated key is published first, so every
-- upstream's JWKS cache can know it before it is used) and is published until `retires_at`.
CREATE TABLE assertion_keys (
    generation INTEGER PRIMARY KEY,
    kid TEXT NOT NULL UNIQUE,
    -- PKCS#8 v2 DER of the Ed25519 key pair, base64url without padding.
    private_key TEXT NOT NULL,
    -- The 32-byte public key, base64url without padding (the JWK's `x`).
    public_key TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    activates_at BIGINT NOT NULL,
    -- Set on rotation: when this key is no longer published (the next key's activation plus the
    -- longest an assertion it signed can live, with a margin).
    retires_at BIGINT
);
