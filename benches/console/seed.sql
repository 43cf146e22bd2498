-- auth-core console benchmark data (PostgreSQL): run with psql against a freshly migrated database.
--   100,000 users (~2% deleted), 2,000 organizations, 150,000 memberships, 1,000,000 audit events over
--   the last 30 days, 20,000 webhook deliveries, a few service API keys.
-- Deterministic (setseed) apart from "now". Times are BIGINT milliseconds since the epoch, JSON columns
-- TEXT. Ids: users user_00000..user_99999, organizations org_0001..org_2000, memberships orgmem_000001...
\set ON_ERROR_STOP on
SET client_min_messages = warning;
SET synchronous_commit = off;
SET work_mem = '128MB';
SET maintenance_work_mem = '256MB';

SELECT (extract(epoch FROM clock_timestamp()) * 1000)::bigint AS now_ms \gset
SELECT setseed(0.4242) AS seeded \gset

-- ---------------------------------------------------------------------------------------------------
-- Users: realistic first/last names (Smith is one of 64 surnames, so ~1.5% are Smiths), e-mail made
-- from the name, created over the last two years, most signed in during the last month.
INSERT INTO users (id, email, email_addresses, first_name, last_name, username, image_url,
                   public_metadata, private_metadata, unsafe_metadata, banned, last_sign_in_at,
                   clerk_created_at, clerk_updated_at, deleted_at, created_at, synced_at)
SELECT u.id, u.email,
       CASE WHEN u.r_second < 0.08
            THEN json_build_array(
                   json_build_object('id', 'idn_' || substr(md5(u.id), 1, 24), 'object', 'email_address',
                                     'email_address', u.email,
                                     'verification', json_build_object('status', 'verified', 'strategy', 'email_code'),
                                     'linked_to', json_build_array()),
                   json_build_object('id', 'idn_' || substr(md5(u.id || 'w'), 1, 24), 'object', 'email_address',
                                     'email_address', u.local || '@' || u.work_domain,
                                     'verification', json_build_object('status', 'verified', 'strategy', 'email_link'),
                                     'linked_to', json_build_array()))::text
            ELSE json_build_array(
                   json_build_object('id', 'idn_' || substr(md5(u.id), 1, 24), 'object', 'email_address',
                                     'email_address', u.email,
                                     'verification', json_build_object('status', 'verified',
                                                                       'strategy', CASE WHEN u.r_oauth < 0.35 THEN 'from_oauth_google' ELSE 'email_code' END),
                                     'linked_to', json_build_array()))::text
       END,
       u.first_name, u.last_name,
       CASE WHEN u.r_username < 0.3 THEN lower(u.first_name) || lower(u.last_name) || (u.n % 1000) END,
       'https://img.clerk.com/' || md5(u.id || 'img'),
       '{}', '{}', '{}',
       u.r_banned < 0.003,
       CASE WHEN u.r_signin < 0.85
            THEN greatest(u.created, :now_ms - (u.r_signin_at * 30 * 86400000)::bigint) END,
       u.created, u.updated,
       CASE WHEN u.r_deleted < 0.02 THEN u.updated END,
       u.created + 400, u.updated + 250
FROM (
    SELECT s.*,
           'user_' || lpad(s.n::text, 5, '0') AS id,
           lower(CASE WHEN s.r_pattern < 0.5 THEN s.first_name || '.' || s.last_name || (s.n % 997)
                      WHEN s.r_pattern < 0.8 THEN left(s.first_name, 1) || s.last_name || s.n
                      ELSE s.first_name || '_' || s.last_name || '.' || s.n END)
             || '@' || s.domain AS email,
           lower(s.first_name || '.' || s.last_name) || s.n AS local,
           s.created + (s.r_updated * (:now_ms - s.created))::bigint AS updated
    FROM (
        SELECT g.n,
               (ARRAY['James','Mary','Robert','Patricia','John','Jennifer','Michael','Linda','David','Elizabeth',
                      'William','Barbara','Richard','Susan','Joseph','Jessica','Thomas','Sarah','Charles','Karen',
                      'Daniel','Lisa','Matthew','Nancy','Anthony','Sandra','Mark','Ashley','Steven','Emily',
                      'Paul','Donna','Andrew','Michelle','Joshua','Carol','Kenneth','Amanda','Kevin','Melissa',
                      'Brian','Deborah','George','Stephanie','Timothy','Rebecca','Ronald','Sharon','Jason','Laura',
                      'Wei','Yuki','Priya','Arjun','Fatima','Mohammed','Sofia','Lucas','Chloé','Mateo',
                      'Olga','Ingrid','Kwame','Aisha'])[1 + floor(random() * 64)::int] AS first_name,
               (ARRAY['Smith','Johnson','Williams','Brown','Jones','Garcia','Miller','Davis','Rodriguez','Martinez',
                      'Hernandez','Lopez','Gonzalez','Wilson','Anderson','Thomas','Taylor','Moore','Jackson','Martin',
                      'Lee','Perez','Thompson','White','Harris','Sanchez','Clark','Ramirez','Lewis','Robinson',
                      'Walker','Young','Allen','King','Wright','Scott','Torres','Nguyen','Hill','Flores',
                      'Green','Adams','Nelson','Baker','Hall','Rivera','Campbell','Mitchell','Carter','Roberts',
                      'Müller','Schmidt','Dubois','Rossi','Kowalski','Novak','Tanaka','Kim','Patel','Singh',
                      'Okafor','Mensah','Silva','Larsen'])[1 + floor(random() * 64)::int] AS last_name,
               (ARRAY['gmail.com','gmail.com','gmail.com','outlook.com','yahoo.com','icloud.com','hotmail.com',
                      'proton.me','fastmail.com','example.org'])[1 + floor(random() * 10)::int] AS domain,
               (ARRAY['acme.io','globex.com','initech.com','umbrella.co','hooli.com','stark.dev'])[1 + floor(random() * 6)::int] AS work_domain,
               :now_ms - (random() * 730 * 86400000)::bigint AS created,
               random() AS r_pattern, random() AS r_second, random() AS r_oauth, random() AS r_username,
               random() AS r_banned, random() AS r_signin, random() AS r_signin_at, random() AS r_deleted,
               random() AS r_updated
        FROM generate_series(0, 99999) AS g(n)
    ) s
) u;

-- ---------------------------------------------------------------------------------------------------
-- Organizations: "<prefix> <suffix>[ <region>]" (unique; 1 in 64 prefixes is Acme, ~31 Acme orgs).
INSERT INTO organizations (id, name, slug, image_url, public_metadata, private_metadata,
                           max_allowed_memberships, created_by, clerk_created_at, clerk_updated_at,
                           deleted_at, created_at, synced_at)
SELECT o.id, o.name,
       trim(both '-' FROM lower(regexp_replace(o.name, '[^A-Za-z0-9]+', '-', 'g'))),
       CASE WHEN o.r_img < 0.6 THEN 'https://img.clerk.com/' || md5(o.id) END,
       '{}', '{}',
       (ARRAY[NULL, NULL, 5, 20, 100, 500])[1 + floor(o.r_max * 6)::int],
       'user_' || lpad(floor(o.r_creator * 100000)::int::text, 5, '0'),
       o.created, o.updated,
       CASE WHEN o.r_deleted < 0.01 THEN o.updated END,
       o.created + 400, o.updated + 250
FROM (
    SELECT s.*,
           'org_' || lpad(s.n::text, 4, '0') AS id,
           p.prefixes[1 + (s.n - 1) % 64] || ' ' || p.suffixes[1 + ((s.n - 1) / 64) % 20]
             || CASE WHEN s.n > 64 * 20 THEN ' ' || p.regions[1 + ((s.n - 1) / (64 * 20)) % 8] ELSE '' END AS name,
           s.created + (s.r_updated * (:now_ms - s.created))::bigint AS updated
    FROM (
        SELECT g.n, :now_ms - (random() * 700 * 86400000)::bigint AS created,
               random() AS r_img, random() AS r_max, random() AS r_creator, random() AS r_deleted,
               random() AS r_updated
        FROM generate_series(1, 2000) AS g(n)
    ) s
    CROSS JOIN (SELECT
        ARRAY['Acme','Globex','Initech','Umbrella','Hooli','Stark','Wayne','Wonka','Cyberdyne','Soylent',
              'Tyrell','Aperture','Black Mesa','Vandelay','Pied Piper','Massive Dynamic','Oscorp','Gringotts',
              'Nakatomi','Dunder Mifflin','Blue Sun','Monarch','Sterling Cooper','Prestige','Bluth','Gekko',
              'Northwind','Contoso','Fabrikam','Tailspin','Litware','Adventure Works','Wingtip','Proseware',
              'Lucerne','Margie','Alpine','Coho','Fourth Coffee','Humongous','Datum','Trey','Woodgrove',
              'Blue Yonder','Graphic Design','Consolidated','Fictional','Silverline','Redwood','Granite',
              'Copperleaf','Ironbridge','Lighthouse','Meridian','Polaris','Quantum','Riverbend','Summit',
              'Tidewater','Evergreen','Harbor','Keystone','Orchard','Zenith'] AS prefixes,
        ARRAY['Inc','Labs','Corp','Group','Systems','Analytics','Health','Logistics','Software','Holdings',
              'Partners','Media','Energy','Foods','Robotics','Finance','Studios','Security','Cloud','Ventures'] AS suffixes,
        ARRAY['EU','US','APAC','UK','DE','FR','JP','BR'] AS regions) p
) o;

-- ---------------------------------------------------------------------------------------------------
-- Memberships: every user belongs to one organization, half of them to a second (150,000, unique per
-- (organization, user)). Sizes are skewed: org_0001 has ~2,200 members, most have a few dozen.
INSERT INTO organization_memberships (id, organization_id, user_id, role, permissions, public_metadata,
                                      private_metadata, clerk_created_at, clerk_updated_at, deleted_at,
                                      created_at, synced_at)
SELECT 'orgmem_' || lpad((row_number() OVER (ORDER BY m.u, m.k))::text, 6, '0'),
       'org_' || lpad((m.org + 1)::text, 4, '0'),
       'user_' || lpad(m.u::text, 5, '0'),
       CASE WHEN m.r_role < 0.12 THEN 'org:admin' ELSE 'org:member' END,
       CASE WHEN m.r_role < 0.12
            THEN '["org:sys_profile:manage","org:sys_profile:delete","org:sys_memberships:read","org:sys_memberships:manage","org:sys_domains:read","org:sys_domains:manage"]'
            ELSE '["org:sys_memberships:read"]' END,
       '{}', '{}',
       m.created, m.created + (m.r_updated * (:now_ms - m.created))::bigint,
       CASE WHEN m.r_deleted < 0.01 THEN :now_ms - (m.r_updated * 20 * 86400000)::bigint END,
       m.created + 400, m.created + 650
FROM (
    SELECT s.u, k.k,
           CASE WHEN k.k = 1 THEN s.o1 ELSE (s.o1 + 1 + s.off) % 2000 END AS org,
           random() AS r_role, random() AS r_updated, random() AS r_deleted,
           :now_ms - (random() * 600 * 86400000)::bigint AS created
    FROM (SELECT g.u, floor(2000 * power(random(), 2))::int AS o1, floor(random() * 1999)::int AS off
          FROM generate_series(0, 99999) AS g(u)) s
    JOIN generate_series(1, 2) AS k(k) ON k.k = 1 OR s.u < 50000
) m;

-- ---------------------------------------------------------------------------------------------------
-- Audit events: 1,000,000 over the last 30 days, one every ~2.6 s, inserted in time order (ids grow
-- with time as they do in production). ~5% authentication failures carrying a reason.
INSERT INTO audit_events (occurred_at, request_id, principal_type, user_id, organization_id, session_id,
                          method, path, route, status, duration_us, client_ip, user_agent, reason, detail)
SELECT e.occurred_at,
       md5(e.n::text || 'req')::uuid::text,
       e.principal,
       e.user_id,
       e.org_id,
       CASE WHEN e.user_id IS NOT NULL AND e.principal = 'user'
            THEN 'sess_' || substr(md5(e.user_id || (e.n / 20000)::text), 1, 27) END,
       e.method, e.path, e.route, e.status,
       200 + floor(power(e.r_dur, 4) * 80000)::int,
       CASE WHEN e.r_ip < 0.3 THEN '10.' || (e.n % 200) || '.' || floor(e.r_ip * 800)::int % 256 || '.' || (e.n % 251)
            ELSE (ARRAY['203.0.113.','198.51.100.','192.0.2.','81.2.69.','2.125.160.'])[1 + (e.n % 5)] || (1 + floor(e.r_ip * 250)::int) END,
       e.user_agent,
       e.reason,
       CASE WHEN e.principal = 'admin' AND e.method = 'POST' THEN 'console action' END
FROM (
    SELECT a.*,
           -- principal
           CASE WHEN a.failure AND a.r_status < 0.8 THEN 'anonymous'
                WHEN a.failure THEN 'user'
                WHEN a.r_principal < 0.72 THEN 'user'
                WHEN a.r_principal < 0.86 THEN 'service_key'
                WHEN a.r_principal < 0.96 THEN 'machine_token'
                ELSE 'admin' END AS principal,
           CASE WHEN a.failure AND a.r_status < 0.8 THEN 401
                WHEN a.failure THEN 403
                WHEN a.r_status < 0.965 THEN 200
                WHEN a.r_status < 0.985 THEN 404
                WHEN a.r_status < 0.995 THEN 403
                ELSE 500 END AS status,
           CASE WHEN a.failure AND a.r_status < 0.8 THEN
                     (ARRAY['token-expired','token-expired','token-expired','token-expired','token-expired',
                            'token-expired','token-expired','token-expired','token-expired','token-invalid',
                            'token-invalid','token-invalid','token-invalid','session-revoked','session-revoked',
                            'session-token-missing','session-token-missing','session-token-missing',
                            'token-invalid-signature','token-not-active-yet'])[1 + floor(a.r_reason * 20)::int]
                WHEN a.failure THEN
                     (ARRAY['membership-revoked','insufficient-permissions','insufficient-permissions',
                            'organization-required'])[1 + floor(a.r_reason * 4)::int]
                END AS reason,
           CASE WHEN a.failure AND a.r_status < 0.8 THEN NULL
                WHEN a.failure OR a.r_principal < 0.72
                     THEN 'user_' || lpad(floor(100000 * power(a.r_user, 2))::int::text, 5, '0') END AS user_id,
           CASE WHEN a.failure AND a.r_status < 0.8 THEN NULL
                WHEN a.r_principal >= 0.96 AND NOT a.failure THEN NULL
                WHEN a.r_org < 0.8 THEN 'org_' || lpad((1 + floor(2000 * power(a.r_org / 0.8, 2))::int)::text, 4, '0') END AS org_id,
           CASE WHEN NOT a.failure AND a.r_principal >= 0.96 AND a.r_path < 0.15 THEN 'POST' ELSE 'GET' END AS method,
           CASE WHEN NOT a.failure AND a.r_principal >= 0.96 THEN
                     (ARRAY['/admin','/admin/users','/admin/users','/admin/audit','/admin/audit','/admin/organizations',
                            '/admin/memberships','/admin/webhooks','/admin/keys','/admin/login'])[1 + floor(a.r_path * 10)::int]
                WHEN NOT a.failure AND a.r_principal >= 0.72 THEN
                     CASE WHEN a.r_path < 0.5 THEN '/api/orgs/current/members'
                          WHEN a.r_path < 0.8 THEN '/api/orgs/org_' || lpad((1 + floor(a.r_org * 1999))::int::text, 4, '0')
                          ELSE '/api/orgs/current' END
                WHEN a.r_path < 0.5 THEN '/api/auth/me'
                WHEN a.r_path < 0.8 THEN '/api/orgs/current'
                WHEN a.r_path < 0.92 THEN '/api/orgs/current/members'
                WHEN a.r_path < 0.97 THEN '/api/orgs/current/audit'
                ELSE '/api/orgs/org_' || lpad((1 + floor(a.r_org * 1999))::int::text, 4, '0') END AS path,
           CASE WHEN NOT a.failure AND a.r_principal >= 0.96 THEN NULL
                WHEN NOT a.failure AND a.r_principal >= 0.72 THEN
                     CASE WHEN a.r_path < 0.5 THEN '/api/orgs/current/members'
                          WHEN a.r_path < 0.8 THEN '/api/orgs/{organization_id}'
                          ELSE '/api/orgs/current' END
                WHEN a.r_path < 0.5 THEN '/api/auth/me'
                WHEN a.r_path < 0.8 THEN '/api/orgs/current'
                WHEN a.r_path < 0.92 THEN '/api/orgs/current/members'
                WHEN a.r_path < 0.97 THEN '/api/orgs/current/audit'
                ELSE '/api/orgs/{organization_id}' END AS route,
           (ARRAY['Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Safari/537.36',
                  'Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Safari/605.1.15',
                  'Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148',
                  'Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0',
                  'python-requests/2.32.3', 'node-fetch/3.3.2', 'Go-http-client/2.0', 'okhttp/4.12.0'])[1 + floor(a.r_ua * 8)::int] AS user_agent
    FROM (
        SELECT g.n,
               (:now_ms - 30::bigint * 86400000) + g.n::bigint * 2592 + floor(random() * 2592)::bigint AS occurred_at,
               random() < 0.05 AS failure,
               random() AS r_status, random() AS r_principal, random() AS r_reason, random() AS r_user,
               random() AS r_org, random() AS r_path, random() AS r_dur, random() AS r_ip, random() AS r_ua
        FROM generate_series(0, 999999) AS g(n)
    ) a
) e;

-- ---------------------------------------------------------------------------------------------------
-- Webhook deliveries: 20,000 over the last 30 days; session.* and email.* are ignored, ~3% failed.
INSERT INTO webhook_deliveries (svix_id, event_type, status, payload, error, attempts, svix_timestamp,
                                received_at, processed_at)
SELECT 'msg_' || substr(md5(w.n::text || 'svix'), 1, 27),
       w.event_type,
       w.status,
       json_build_object('type', w.event_type, 'object', 'event', 'timestamp', w.received_at,
                         'data', json_build_object('id', w.object_id, 'object', split_part(w.event_type, '.', 1)))::text,
       CASE WHEN w.status = 'failed' THEN
            (ARRAY['database unavailable: connection pool timed out',
                   'invalid payload: missing field `email_addresses`',
                   'organization org_0042 not found for membership'])[1 + (w.n % 3)] END,
       CASE WHEN w.status = 'failed' THEN 1 + (w.n % 4) ELSE 1 END,
       w.received_at / 1000,
       w.received_at,
       w.received_at + 3 + (w.n % 40)
FROM (
    SELECT s.n, s.event_type, s.received_at,
           CASE WHEN s.r_fail < 0.03 THEN 'failed'
                WHEN s.event_type LIKE 'session.%' OR s.event_type LIKE 'email.%' THEN 'ignored'
                ELSE 'applied' END AS status,
           CASE WHEN s.event_type LIKE 'organization.%' THEN 'org_' || lpad((1 + s.n % 2000)::text, 4, '0')
                WHEN s.event_type LIKE 'organizationMembership.%' THEN 'orgmem_' || lpad((1 + s.n % 150000)::text, 6, '0')
                WHEN s.event_type LIKE 'session.%' THEN 'sess_' || substr(md5(s.n::text), 1, 27)
                ELSE 'user_' || lpad((s.n * 7 % 100000)::text, 5, '0') END AS object_id
    FROM (
        SELECT g.n,
               (ARRAY['user.updated','user.updated','user.updated','user.updated','user.updated','user.updated','user.updated',
                      'session.created','session.created','session.created','session.created','session.created',
                      'user.created','user.created','session.ended','session.ended','session.revoked',
                      'organizationMembership.created','organizationMembership.updated','organization.updated',
                      'organization.created','user.deleted','organizationMembership.deleted','email.created'])[1 + floor(random() * 24)::int] AS event_type,
               (:now_ms - 30::bigint * 86400000) + g.n::bigint * 129600 + floor(random() * 129600)::bigint AS received_at,
               random() AS r_fail
        FROM generate_series(0, 19999) AS g(n)
    ) s
) w;

-- ---------------------------------------------------------------------------------------------------
-- Service API keys: a handful, one revoked, one expired.
INSERT INTO service_api_keys (id, name, prefix, secret_hash, organization_id, scopes, created_by,
                              created_at, expires_at, revoked_at, last_used_at)
SELECT 'key_' || k.prefix, k.name, k.prefix, encode(sha256(convert_to(k.prefix || 'bench-secret', 'UTF8')), 'hex'),
       k.org, k.scopes, 'admin:1', :now_ms - k.age_days * 86400000::bigint,
       CASE WHEN k.expired THEN :now_ms - 86400000 END,
       CASE WHEN k.revoked THEN :now_ms - 3 * 86400000 END,
       CASE WHEN NOT k.revoked AND NOT k.expired THEN :now_ms - 60000::bigint * k.age_days END
FROM (VALUES
    ('3f9a1c07b2d4', 'billing-service',   NULL,       '["org:sys_memberships:read"]', 200, false, false),
    ('8e21d5aa0c19', 'reporting-worker',  'org_0001', '["org:reports:read"]',          120, false, false),
    ('c04b7e9f3a62', 'ci-deploy',         NULL,       '[]',                            90,  false, false),
    ('5d6e8f0a1b2c', 'legacy-sync',       'org_0042', '["org:sys_memberships:read","org:sys_memberships:manage"]', 400, false, true),
    ('a1b2c3d4e5f6', 'old-analytics',     NULL,       '[]',                            365, true,  false),
    ('77aa88bb99cc', 'support-tool',      'org_0007', '["org:sys_profile:read"]',       30,  false, false)
) AS k(prefix, name, org, scopes, age_days, expired, revoked);

VACUUM;
ANALYZE;
