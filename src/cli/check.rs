//! `auth-core check`: what is configured, what is missing, and whether the database answers.
//! Never prints a secret: only whether one is set.

use std::fmt::Write as _;

use crate::db::{migrations, Db};
use crate::settings::{ClerkInstance, Settings};

/// The report, and whether the service is ready to authenticate requests.
pub struct Report {
    pub text: String,
    pub ready: bool,
}

pub fn run(settings: &Settings) -> Report {
    let mut out = String::new();
    let mut problems: Vec<&str> = Vec::new();
    let mut line = |label: &str, text: &str| {
        let _ = writeln!(out, "{label:<20}{text}");
    };

    match database_status(settings) {
        Ok(text) => line("database", &text),
        Err(text) => {
            line("database", &text);
            problems.push("database unreachable");
        }
    }

    let clerk = &settings.clerk;
    match clerk.key_source() {
        Some(source) => line("session tokens", &format!("verified with {source}")),
        None => {
            line("session tokens", "MISSING: no key source; set CLERK_JWT_KEY, CLERK_JWKS_URL, CLERK_SECRET_KEY or CLERK_PUBLISHABLE_KEY — no session token can be verified");
            problems.push("no key source for session tokens");
        }
    }
    if clerk.authorized_parties.is_empty() {
        line("authorized parties", "not set: a token's azp claim is not checked (set CLERK_AUTHORIZED_PARTIES to your frontend origins)");
    } else {
        line("authorized parties", &clerk.authorized_parties.join(", "));
    }
    match clerk.webhook_secrets.len() {
        0 => line(
            "webhooks",
            "MISSING: no webhook secret: webhooks will be refused (set CLERK_WEBHOOK_SECRET)",
        ),
        1 => line("webhooks", "signing secret set"),
        n => line("webhooks", &format!("{n} signing secrets set (rotation)")),
    }
    match (&clerk.secret_key, &clerk.publishable_key) {
        (Some(_), _) => line(
            "backend api",
            &format!("CLERK_SECRET_KEY set; {}", clerk.api_url),
        ),
        (None, _) => line(
            "backend api",
            "not set: no backfill from Clerk and no Clerk machine tokens (set CLERK_SECRET_KEY)",
        ),
    }
    if let Some(pk) = &clerk.publishable_key {
        let instance = match pk.instance {
            ClerkInstance::Development => "development",
            ClerkInstance::Production => "production",
        };
        line(
            "clerk instance",
            &format!("{instance}, Frontend API {}", pk.frontend_api),
        );
    }
    if settings.cors.allowed_origins.is_empty() {
        line("cors", "no allowed origins: browsers on other origins cannot call the API (set CORS_ALLOWED_ORIGINS)");
    } else {
        line("cors", &settings.cors.allowed_origins.join(", "));
    }
    line("admin console", &admin_console_status(settings));
    line(
        "debug",
        if settings.server.debug {
            "ON — development mode"
        } else {
            "off"
        },
    );

    let ready = problems.is_empty();
    if ready {
        let _ = writeln!(out, "\nready");
    } else {
        let _ = writeln!(out, "\nnot ready: {}", problems.join("; "));
    }
    Report { text: out, ready }
}

/// Whether `serve` will start the console, and whether anyone can sign in to it.
fn admin_console_status(settings: &Settings) -> String {
    if !settings.admin.enabled {
        return "off (admin.enabled = false)".to_owned();
    }
    let key = if settings.security.secret_key.is_some() {
        "SECRET_KEY set"
    } else {
        "SECRET_KEY not set: a key is generated on first start and kept in the database"
    };
    let admins = Db::open(&settings.database)
        .and_then(|db| {
            let mut conn = db.get()?;
            crate::db::admin_accounts::list(&mut conn)
        })
        .map(|list| list.iter().filter(|a| !a.is_disabled()).count());
    let who = match admins {
        Ok(0) => {
            "no administrator yet: create one with `auth-core admin create --email …`".to_owned()
        }
        Ok(1) => "1 active administrator".to_owned(),
        Ok(n) => format!("{n} active administrators"),
        Err(_) => "administrators unknown until the database is migrated".to_owned(),
    };
    format!("on at /admin; {key}; {who}")
}

fn database_status(settings: &Settings) -> Result<String, String> {
    let describe = settings.database.url.redacted();
    let db = Db::open(&settings.database).map_err(|e| format!("{describe}: {e}"))?;
    let mut conn = db
        .get()
        .map_err(|e| format!("{describe}: UNREACHABLE: {e}"))?;
    let applied = migrations::applied(&mut conn).map(|v| v.len()).unwrap_or(0);
    let pending = migrations::pending(&mut conn)
        .map_err(|e| format!("{describe}: reachable, but migrations cannot be read: {e}"))?;
    let pending_text = if pending.is_empty() {
        "none pending".to_owned()
    } else {
        format!(
            "{} pending (run `auth-core migrate`, or start with database.run_migrations on)",
            pending.len()
        )
    };
    Ok(format!(
        "{describe}: reachable; migrations applied: {applied}, {pending_text}"
    ))
}
