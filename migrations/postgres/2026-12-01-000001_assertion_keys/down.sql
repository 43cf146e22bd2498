DROP TABLE assertion_keys;
