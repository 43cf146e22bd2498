ALTER TABLE admin_login_attempts RENAME COLUMN client_network TO client_ip;
