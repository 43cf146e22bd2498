DROP TABLE generated_secret_key;
