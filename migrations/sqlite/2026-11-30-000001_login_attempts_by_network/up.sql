-- Sign-in attempts are counted per client network, not per address: an IPv6 client usually holds a
-- whole /64, so each attempt now records the IPv4 address or the IPv6 /64 prefix it came from
-- (`192.0.2.1`, `2001:db8:1:2::/64`). Rows written before hold full addresses and age out within
-- the throttling window.
ALTER TABLE admin_login_attempts RENAME COLUMN client_ip TO client_network;
