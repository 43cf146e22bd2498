DROP TABLE revoked_sessions;
DROP TABLE admin_accounts;
DROP TABLE service_api_keys;
DROP TABLE audit_events;
DROP TABLE webhook_deliveries;
DROP TABLE organization_memberships;
DROP TABLE organizations;
DROP TABLE users;
