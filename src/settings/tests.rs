#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;
use std::time::Duration;

use super::*;
use crate::clerk::key_source::KeySource;

// A development publishable key for the Frontend API host "clerk.example.com".
const PK_TEST: &str = "pk_test_Y2xlcmsuZXhhbXBsZS5jb20k";

fn sources(env: &[(&str, &str)]) -> SettingsSources {
    SettingsSources {
        env: env
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect(),
        config_file: None,
        // A directory that has no Settings.local.toml.
        working_dir: tempfile::tempdir().unwrap().keep(),
    }
}

fn load(env: &[(&str, &str)]) -> Result<Settings, SettingsError> {
    Settings::load(&sources(env))
}

fn error_line(env: &[(&str, &str)]) -> String {
    load(env)
        .expect_err("settings should be refused")
        .to_string()
}

#[test]
fn defaults_need_no_configuration() {
    let s = load(&[]).unwrap();
    assert_eq!(s.server.bind, "127.0.0.1:8000");
    assert_eq!(s.server.workers, 0);
    assert!(!s.server.debug);
    assert_eq!(s.log.filter, "info,actix_server=warn");
    assert_eq!(
        s.database.url,
        DatabaseUrl::Sqlite(PathBuf::from("./data/auth-core.sqlite3"))
    );
    assert_eq!(s.database.acquire_timeout, Duration::from_millis(5000));
    assert!(s.database.run_migrations);
    assert!(s.clerk.secret_key.is_none() && s.clerk.jwks_url.is_none());
    assert!(s.clerk.webhook_secrets.is_empty());
    assert_eq!(s.clerk.api_url.as_str(), "https://api.clerk.com/");
    assert!(s.cors.allowed_origins.is_empty());
    assert_eq!(s.auth.failed_credential_budget, 30);
}

#[test]
fn override_file_beats_defaults_and_environment_beats_file() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join(LOCAL_OVERRIDE_FILE),
        "[server]\nworkers = 3\nbind = \"0.0.0.0:9000\"\n[database]\nmax_connections = 7\n",
    )
    .unwrap();
    let mut src = sources(&[("AUTH_CORE__SERVER__WORKERS", "5")]);
    src.working_dir = dir.path().to_owned();
    let s = Settings::load(&src).unwrap();
    assert_eq!(s.server.workers, 5, "environment wins over the file");
    assert_eq!(s.server.bind, "0.0.0.0:9000", "file wins over defaults");
    assert_eq!(s.database.max_connections, 7);
    assert_eq!(s.database.acquire_timeout, Duration::from_millis(5000));
}

#[test]
fn named_override_file_is_used_and_must_exist() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("prod.toml");
    std::fs::write(&path, "[log]\nlevel = \"warn\"\n").unwrap();
    let mut src = sources(&[]);
    src.config_file = Some(path.clone());
    assert_eq!(Settings::load(&src).unwrap().log.filter, "warn");

    let mut src = sources(&[(CONFIG_FILE_ENV, path.to_str().unwrap())]);
    assert_eq!(Settings::load(&src).unwrap().log.filter, "warn");

    src.config_file = Some(dir.path().join("missing.toml"));
    let err = Settings::load(&src).unwrap_err().to_string();
    assert!(
        err.contains("missing.toml") && err.contains("does not exist"),
        "{err}"
    );
}

#[test]
fn django_environment_names_work() {
    let s = load(&[
        (
            "DATABASE_URL",
            "postgres://app:pw@db.internal:5432/auth?sslmode=require",
        ),
        ("CLERK_SECRET_KEY", "sk_test_abc123"),
        ("CLERK_PUBLISHABLE_KEY", PK_TEST),
        (
            "CLERK_JWKS_URL",
            "https://clerk.example.com/.well-known/jwks.json",
        ),
        (
            "CLERK_WEBHOOK_SECRET",
            "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw whsec_dGVzdHNlY3JldA==",
        ),
        (
            "CLERK_AUTHORIZED_PARTIES",
            "https://app.example.com, http://localhost:3000/",
        ),
        (
            "CORS_ALLOWED_ORIGINS",
            "https://app.example.com,http://localhost:3000",
        ),
        ("SECRET_KEY", "0123456789abcdef0123456789abcdef"),
        ("DEBUG", "True"),
    ])
    .unwrap();
    assert!(matches!(s.database.url, DatabaseUrl::Postgres(_)));
    assert_eq!(
        s.database.url.redacted(),
        "postgres://app:***@db.internal:5432/auth?sslmode=require"
    );
    assert_eq!(s.clerk.secret_key.unwrap().expose(), "sk_test_abc123");
    let pk = s.clerk.publishable_key.unwrap();
    assert_eq!(pk.frontend_api, "clerk.example.com");
    assert_eq!(pk.instance, ClerkInstance::Development);
    assert_eq!(s.clerk.webhook_secrets.len(), 2);
    assert_eq!(
        s.clerk.authorized_parties,
        ["https://app.example.com", "http://localhost:3000"]
    );
    assert_eq!(s.cors.allowed_origins.len(), 2);
    assert!(s.security.secret_key.is_some());
    assert!(s.server.debug);
}

#[test]
fn both_names_of_one_key_must_agree() {
    let err = error_line(&[
        ("DATABASE_URL", "sqlite://a.db"),
        ("AUTH_CORE__DATABASE__URL", "sqlite://b.db"),
    ]);
    assert_eq!(
        err,
        "DATABASE_URL and AUTH_CORE__DATABASE__URL are both set, to different values: set only one"
    );
    assert!(load(&[
        ("DATABASE_URL", "sqlite://a.db"),
        ("AUTH_CORE__DATABASE__URL", "sqlite://a.db")
    ])
    .is_ok());
}

#[test]
fn sqlite_url_forms() {
    let url = |v: &str| load(&[("DATABASE_URL", v)]).unwrap().database.url;
    let sqlite = |p: &str| DatabaseUrl::Sqlite(PathBuf::from(p));
    assert_eq!(url("sqlite://data/x.db"), sqlite("data/x.db"));
    assert_eq!(url("sqlite:///rel.db"), sqlite("rel.db"));
    assert_eq!(url("sqlite:////abs/x.db"), sqlite("/abs/x.db"));
    assert_eq!(url("sqlite:x.db"), sqlite("x.db"));
    assert_eq!(url("/var/lib/auth.db"), sqlite("/var/lib/auth.db"));
}

/// Every refusal is one line that names the key, its environment variable and the problem.
#[test]
fn each_invalid_setting_has_a_clear_message() {
    let cases: &[(&str, &str, &str)] = &[
        ("CLERK_PUBLISHABLE_KEY", "pk_prod_abc", "invalid setting clerk.publishable_key (CLERK_PUBLISHABLE_KEY): must start with pk_test_ or pk_live_"),
        ("CLERK_PUBLISHABLE_KEY", "pk_test_!!!", "invalid setting clerk.publishable_key (CLERK_PUBLISHABLE_KEY): malformed: the part after pk_test_/pk_live_ is not base64"),
        // base64 of "clerk.example.com" without the closing '$'
        ("CLERK_PUBLISHABLE_KEY", "pk_test_Y2xlcmsuZXhhbXBsZS5jb20=", "invalid setting clerk.publishable_key (CLERK_PUBLISHABLE_KEY): malformed: the decoded value does not end with '$'"),
        ("CLERK_SECRET_KEY", "clerk-secret", "invalid setting clerk.secret_key (CLERK_SECRET_KEY): must start with sk_test_ or sk_live_"),
        ("CLERK_WEBHOOK_SECRET", "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "invalid setting clerk.webhook_secret (CLERK_WEBHOOK_SECRET): secret #1 must start with whsec_"),
        ("CLERK_WEBHOOK_SECRET", "whsec_dGVzdA== whsec_%%%", "invalid setting clerk.webhook_secret (CLERK_WEBHOOK_SECRET): secret #2: the part after whsec_ is not base64"),
        ("CLERK_JWKS_URL", "clerk.example.com/jwks", "invalid setting clerk.jwks_url (CLERK_JWKS_URL): not a URL (relative URL without a base)"),
        ("CLERK_JWKS_URL", "http://clerk.example.com/jwks", "invalid setting clerk.jwks_url (CLERK_JWKS_URL): must use https (plain http is accepted only for localhost/127.0.0.1/[::1])"),
        ("CLERK_JWKS_URL", "ftp://clerk.example.com/jwks", "invalid setting clerk.jwks_url (CLERK_JWKS_URL): must be an https URL, not ftp:"),
        ("CLERK_JWT_KEY", "MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA", "invalid setting clerk.jwt_key (CLERK_JWT_KEY): expected a PEM public key starting with -----BEGIN PUBLIC KEY-----"),
        ("CLERK_JWT_KEY", "-----BEGIN PUBLIC KEY-----\\nMIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA", "invalid setting clerk.jwt_key (CLERK_JWT_KEY): PEM is truncated: no -----END PUBLIC KEY----- line"),
        ("CLERK_AUTHORIZED_PARTIES", "https://app.example.com/login", "invalid setting clerk.authorized_parties (CLERK_AUTHORIZED_PARTIES): \"https://app.example.com/login\" is not an origin like https://app.example.com (scheme and host, no path)"),
        ("CORS_ALLOWED_ORIGINS", "*", "invalid setting cors.allowed_origins (CORS_ALLOWED_ORIGINS): \"*\" is not allowed: list each origin (credentials must never be offered to any site)"),
        ("SECRET_KEY", "short", "invalid setting security.secret_key (SECRET_KEY): must be at least 32 characters (got 5)"),
        ("DEBUG", "maybe", "invalid setting server.debug (DEBUG): expected true or false (also 1/0, yes/no, on/off), got \"maybe\""),
        ("DATABASE_URL", "mysql://root@localhost/db", "invalid setting database.url (DATABASE_URL): unsupported database scheme \"mysql\": use postgres://… or sqlite://…"),
        ("DATABASE_URL", "sqlite://:memory:", "invalid setting database.url (DATABASE_URL): in-memory SQLite cannot back a connection pool (each connection would see its own empty database); give a file path"),
        ("AUTH_CORE__METRICS__TOKEN", "short", "invalid setting metrics.token (AUTH_CORE__METRICS__TOKEN): must be at least 16 characters (got 5)"),
        ("AUTH_CORE__AUDIT__WHEN_FULL", "block", "invalid setting audit.when_full (AUTH_CORE__AUDIT__WHEN_FULL): expected wait or drop, got \"block\""),
        ("AUTH_CORE__AUDIT__FULL_WAIT_MS", "0", "invalid setting audit.full_wait_ms (AUTH_CORE__AUDIT__FULL_WAIT_MS): must be between 1 and 60000, got 0"),
        ("AUTH_CORE__AUDIT__FULL_WAIT_MS", "600000", "invalid setting audit.full_wait_ms (AUTH_CORE__AUDIT__FULL_WAIT_MS): must be between 1 and 60000, got 600000"),
        ("AUTH_CORE__LOG__FORMAT", "xml", "invalid setting log.format (AUTH_CORE__LOG__FORMAT): expected text or json, got \"xml\""),
        ("AUTH_CORE__LOG__LEVEL", "verbose", "invalid setting log.level (AUTH_CORE__LOG__LEVEL): unknown log level \"verbose\" (expected one of off, error, warn, info, debug, trace)"),
        ("AUTH_CORE__LOG__LEVEL", "info,actix_web=loud", "invalid setting log.level (AUTH_CORE__LOG__LEVEL): unknown log level \"loud\" (expected one of off, error, warn, info, debug, trace)"),
        ("AUTH_CORE__SERVER__BIND", "8000", "invalid setting server.bind (AUTH_CORE__SERVER__BIND): expected host:port, got \"8000\""),
        ("AUTH_CORE__SERVER__BIND", "0.0.0.0:http", "invalid setting server.bind (AUTH_CORE__SERVER__BIND): port must be a number from 0 to 65535, got \"http\""),
        ("AUTH_CORE__SERVER__WORKERS", "many", "invalid setting server.workers (AUTH_CORE__SERVER__WORKERS): expected a whole number, got \"many\""),
        ("AUTH_CORE__DATABASE__MAX_CONNECTIONS", "0", "invalid setting database.max_connections (AUTH_CORE__DATABASE__MAX_CONNECTIONS): must be between 1 and 1000, got 0"),
        ("AUTH_CORE__AUTH__AZP_POLICY", "strict", "invalid setting auth.azp_policy (AUTH_CORE__AUTH__AZP_POLICY): expected off, when-present or required, got \"strict\""),
        ("AUTH_CORE__AUTH__AZP_POLICY", "required", "invalid setting auth.azp_policy (AUTH_CORE__AUTH__AZP_POLICY): is required but no authorized parties are listed: set CLERK_AUTHORIZED_PARTIES"),
        ("AUTH_CORE__AUTH__AUDIENCE", "https://api.example.com billing", "invalid setting auth.audience (AUTH_CORE__AUTH__AUDIENCE): \"https://api.example.com billing\" contains whitespace; separate audiences with commas"),
        ("AUTH_CORE__AUTH__PENDING_SESSIONS", "maybe", "invalid setting auth.pending_sessions (AUTH_CORE__AUTH__PENDING_SESSIONS): expected signed-out or allow, got \"maybe\""),
        ("AUTH_CORE__AUTH__ISSUER", "https://clerk.example.com/path", "invalid setting auth.issuer (AUTH_CORE__AUTH__ISSUER): \"https://clerk.example.com/path\" is not an origin like https://app.example.com (scheme and host, no path)"),
        ("AUTH_CORE__AUTH__CLOCK_SKEW_MS", "-1", "invalid setting auth.clock_skew_ms (AUTH_CORE__AUTH__CLOCK_SKEW_MS): expected a whole number, got \"-1\""),
        ("AUTH_CORE__AUTH__MAX_TOKEN_BYTES", "10", "invalid setting auth.max_token_bytes (AUTH_CORE__AUTH__MAX_TOKEN_BYTES): must be between 1024 and 1048576, got 10"),
        ("AUTH_CORE__AUTH__FAILED_CREDENTIAL_BUDGET", "0", "invalid setting auth.failed_credential_budget (AUTH_CORE__AUTH__FAILED_CREDENTIAL_BUDGET): must be between 1 and 100000, got 0"),
        ("AUTH_CORE__AUTH__FAILED_CREDENTIAL_BUDGET", "100001", "invalid setting auth.failed_credential_budget (AUTH_CORE__AUTH__FAILED_CREDENTIAL_BUDGET): must be between 1 and 100000, got 100001"),
        ("AUTH_CORE__CLERK__JWKS_CACHE_TTL_SECS", "0", "invalid setting clerk.jwks_cache_ttl_secs (AUTH_CORE__CLERK__JWKS_CACHE_TTL_SECS): must be between 1 and 86400, got 0"),
        ("AUTH_CORE__ADMIN__PASSWORD_THREADS", "0", "invalid setting admin.password_threads (AUTH_CORE__ADMIN__PASSWORD_THREADS): must be between 1 and 16, got 0"),
        ("AUTH_CORE__ADMIN__PASSWORD_THREADS", "64", "invalid setting admin.password_threads (AUTH_CORE__ADMIN__PASSWORD_THREADS): must be between 1 and 16, got 64"),
        ("AUTH_CORE__CLERK__API_URL", "http://api.clerk.com", "invalid setting clerk.api_url (AUTH_CORE__CLERK__API_URL): must use https (plain http is accepted only for localhost/127.0.0.1/[::1])"),
    ];
    for (name, value, expected) in cases {
        assert_eq!(error_line(&[(name, value)]), *expected, "{name}={value}");
    }
}

/// A listed audience and "accept any" contradict each other: start-up stops rather than pick one.
#[test]
fn accepting_any_audience_excludes_an_audience_list() {
    assert!(!load(&[]).unwrap().auth.accept_any_audience);
    assert!(
        load(&[("AUTH_CORE__AUTH__ACCEPT_ANY_AUDIENCE", "true")])
            .unwrap()
            .auth
            .accept_any_audience
    );
    assert_eq!(
        error_line(&[
            ("AUTH_CORE__AUTH__ACCEPT_ANY_AUDIENCE", "true"),
            ("AUTH_CORE__AUTH__AUDIENCE", "billing"),
        ]),
        "invalid setting auth.accept_any_audience (AUTH_CORE__AUTH__ACCEPT_ANY_AUDIENCE): cannot be true while auth.audience lists audiences: the list already decides"
    );
}

#[test]
fn test_and_live_keys_cannot_be_mixed() {
    let err = error_line(&[
        ("CLERK_SECRET_KEY", "sk_live_abc"),
        ("CLERK_PUBLISHABLE_KEY", PK_TEST),
    ]);
    assert_eq!(err, "invalid setting clerk.secret_key (CLERK_SECRET_KEY): is a live (production) key but clerk.publishable_key (CLERK_PUBLISHABLE_KEY) is a test (development) key: both must come from the same Clerk instance");
}

#[test]
fn unknown_keys_are_refused_not_ignored() {
    let err = error_line(&[("AUTH_CORE__DATABASE__MAX_CONECTIONS", "5")]);
    assert!(err.contains("max_conections"), "{err}");
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join(LOCAL_OVERRIDE_FILE),
        "[servr]\nbind = \"x\"\n",
    )
    .unwrap();
    let mut src = sources(&[]);
    src.working_dir = dir.path().to_owned();
    let err = Settings::load(&src).unwrap_err().to_string();
    assert!(
        err.contains("servr") && err.contains(LOCAL_OVERRIDE_FILE),
        "{err}"
    );
}

#[test]
fn loopback_http_is_accepted_for_local_stand_ins() {
    let s = load(&[
        ("CLERK_JWKS_URL", "http://127.0.0.1:4010/jwks"),
        ("AUTH_CORE__CLERK__API_URL", "http://localhost:4011"),
    ])
    .unwrap();
    assert_eq!(s.clerk.jwks_url.unwrap().port(), Some(4010));
}

#[test]
fn pem_with_literal_newlines_is_accepted() {
    let body = "MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAlNkgQ1dI/JTX+3aZAXz1xH3RM8uWqnU/LThLYzHohP0hoIybgr2buBP5UX2Y0U0lMb2qe04rPmSLlnlizwG7dqly69UeGhq1vGK4qd9REzQgwFRuMaed5JCVX3FNfMZMkFE7B4o6aM7d59f6gaIFWDCmiO90oTpUaLTkfnssAn6GHwpRRVy6F1kr0dcWUqya+PbGOC+vLX3c0xPubt1WzOx5lap7bVSrJULWafsOoYJnBMS5fDX9ePxzDCUC9rZn/xDsvG/78+RtJgobsAPfX8bOAOW7L9BcUdxJiOPWZo+6LYJuCZLkCudqqpNIIiy7yaCUJC+wTqSvlfqqgzI4ywIDAQAB";
    let pem = format!("-----BEGIN PUBLIC KEY-----\\n{body}\\n-----END PUBLIC KEY-----\\n");
    let s = load(&[("CLERK_JWT_KEY", &pem)]).unwrap();
    let key = s.clerk.jwt_key.unwrap();
    assert!(key.starts_with("-----BEGIN PUBLIC KEY-----\nMIIB"), "{key}");
}

#[test]
fn secrets_never_appear_in_debug_output() {
    let s = load(&[
        (
            "DATABASE_URL",
            "postgres://app:hunter2hunter2@db/auth?password=qwertyqwerty",
        ),
        ("CLERK_SECRET_KEY", "sk_test_supersecretvalue"),
        ("CLERK_WEBHOOK_SECRET", "whsec_c2VjcmV0c2VjcmV0c2VjcmV0"),
        ("SECRET_KEY", "cookie-key-cookie-key-cookie-key-0"),
    ])
    .unwrap();
    let printed = format!("{s:?}");
    for secret in [
        "hunter2hunter2",
        "qwertyqwerty",
        "supersecretvalue",
        "c2VjcmV0c2VjcmV0c2VjcmV0",
        "cookie-key",
    ] {
        assert!(!printed.contains(secret), "{secret} leaked in {printed}");
    }
    // and a refusal does not quote the rejected secret either
    let err = error_line(&[("CLERK_SECRET_KEY", "sk_test_has spaces-and-secret")]);
    assert!(!err.contains("has spaces"), "{err}");
}

#[test]
fn every_environment_name_is_documented_in_the_defaults_file() {
    for (key, legacy) in sources::LEGACY_ENV_NAMES {
        assert!(
            DEFAULTS_TOML.contains(&format!("[{legacy}]")),
            "{key} / {legacy}"
        );
    }
}

#[test]
fn issuer_is_derived_from_the_publishable_key_unless_set() {
    assert_eq!(load(&[]).unwrap().auth.issuer, None);
    let derived = load(&[("CLERK_PUBLISHABLE_KEY", PK_TEST)]).unwrap();
    assert_eq!(
        derived.auth.issuer.as_deref(),
        Some("https://clerk.example.com")
    );
    let explicit = load(&[
        ("CLERK_PUBLISHABLE_KEY", PK_TEST),
        ("AUTH_CORE__AUTH__ISSUER", "https://auth.example.org/"),
    ])
    .unwrap();
    assert_eq!(
        explicit.auth.issuer.as_deref(),
        Some("https://auth.example.org")
    );
    let zero_skew = load(&[("AUTH_CORE__AUTH__CLOCK_SKEW_MS", "0")]).unwrap();
    assert_eq!(zero_skew.auth.clock_skew, Duration::ZERO, "0 is honoured");
}

// Which verification keys are used: Clerk's precedence (clerk::key_source) over these settings.
fn key_source_of(env: &[(&str, &str)]) -> Option<KeySource> {
    load(env).unwrap().clerk.key_source()
}

#[test]
fn precedence_follows_clerk() {
    let pk = ("CLERK_PUBLISHABLE_KEY", "pk_test_Y2xlcmsuZXhhbXBsZS5jb20k");
    let sk = ("CLERK_SECRET_KEY", "sk_test_abc");
    let jwks = ("CLERK_JWKS_URL", "https://keys.example.com/jwks");
    assert_eq!(key_source_of(&[]), None);
    assert_eq!(
        key_source_of(&[pk]).unwrap().to_string(),
        "JWKS at https://clerk.example.com/.well-known/jwks.json (from CLERK_PUBLISHABLE_KEY)"
    );
    assert_eq!(
        key_source_of(&[pk, sk]),
        Some(KeySource::BackendApi(
            Url::parse("https://api.clerk.com/v1/jwks").unwrap()
        ))
    );
    assert_eq!(
        key_source_of(&[pk, sk, jwks]),
        Some(KeySource::JwksUrl(
            Url::parse("https://keys.example.com/jwks").unwrap()
        ))
    );
}

#[test]
fn backend_api_path_prefix_is_kept() {
    let got = key_source_of(&[
        ("CLERK_SECRET_KEY", "sk_test_abc"),
        ("AUTH_CORE__CLERK__API_URL", "http://127.0.0.1:9/clerk"),
    ]);
    assert_eq!(
        got,
        Some(KeySource::BackendApi(
            Url::parse("http://127.0.0.1:9/clerk/v1/jwks").unwrap()
        ))
    );
}

#[test]
fn the_reconcile_interval_is_off_by_default_bounded_and_needs_the_secret_key() {
    assert_eq!(load(&[]).unwrap().sync.reconcile_interval, None);
    let with_key = |interval: &str| {
        load(&[
            ("CLERK_SECRET_KEY", "sk_test_abc123"),
            ("AUTH_CORE__SYNC__RECONCILE_INTERVAL", interval),
        ])
    };
    for (text, secs) in [
        ("6h", 21_600),
        ("5m", 300),
        ("300s", 300),
        ("30d", 2_592_000),
    ] {
        assert_eq!(
            with_key(text).unwrap().sync.reconcile_interval,
            Some(Duration::from_secs(secs)),
            "{text}"
        );
    }
    let refused = |text: &str| with_key(text).expect_err(text).to_string();
    for text in ["299s", "4m", "0h", "31d"] {
        assert_eq!(
            refused(text),
            format!("invalid setting sync.reconcile_interval (AUTH_CORE__SYNC__RECONCILE_INTERVAL): must be from 5m to 30d (got {text:?}); empty turns it off")
        );
    }
    for text in [
        "6",
        "h",
        "6 h",
        "-6h",
        "6hours",
        "1.5h",
        "9999999999d",
        "６h",
    ] {
        assert_eq!(
            refused(text),
            format!("invalid setting sync.reconcile_interval (AUTH_CORE__SYNC__RECONCILE_INTERVAL): must be a number and a unit, s, m, h or d, like \"6h\" (got {text:?})")
        );
    }
    assert_eq!(
        error_line(&[("AUTH_CORE__SYNC__RECONCILE_INTERVAL", "6h")]),
        "invalid setting sync.reconcile_interval (AUTH_CORE__SYNC__RECONCILE_INTERVAL): needs clerk.secret_key (CLERK_SECRET_KEY): the reconcile reads Clerk's Backend API; set it, or leave sync.reconcile_interval empty"
    );
}
