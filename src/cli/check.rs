//! `auth-core check`: what is configured, what is missing, and whether the database answers.
//! Never prints a secret: only whether one is set.

use std::fmt::Write as _;

use super::check_online::{self, Report};
use super::CliError;
use crate::db::{migrations, Db};
use crate::settings::{ClerkInstance, ClerkSettings, Settings};

/// Prints the report (with `--online`, the online checks after it) and fails when not ready.
pub fn run(settings: &Settings, online: bool) -> Result<(), CliError> {
    let mut report = report(settings);
    print!("{}", report.text);
    if online {
        let asked = check_online::report(settings);
        print!("\n{}", asked.text);
        if !asked.ready {
            println!("\nnot ready: an online check failed");
        }
        report.ready &= asked.ready;
    }
    if report.ready {
        Ok(())
    } else {
        Err(CliError::NotReady)
    }
}

/// What the settings and the database say, without asking Clerk.
pub fn report(settings: &Settings) -> Report {
    let mut lines = Lines::default();
    database(&mut lines, settings);
    clerk(&mut lines, &settings.clerk);
    service(&mut lines, settings);
    lines.finish()
}

/// The report's text, one aligned line per label, and the problems that make it "not ready".
#[derive(Default)]
struct Lines {
    text: String,
    problems: Vec<&'static str>,
}

impl Lines {
    fn line(&mut self, label: &str, text: &str) {
        let _ = writeln!(self.text, "{label:<20}{text}");
    }

    fn finish(mut self) -> Report {
        let ready = self.problems.is_empty();
        if ready {
            let _ = writeln!(self.text, "\nready");
        } else {
            let _ = writeln!(self.text, "\nnot ready: {}", self.problems.join("; "));
        }
        Report {
            text: self.text,
            ready,
        }
    }
}

fn database(lines: &mut Lines, settings: &Settings) {
    match database_status(settings) {
        Ok(text) => lines.line("database", &text),
        Err(text) => {
            lines.line("database", &text);
            lines.problems.push("database unreachable");
        }
    }
}

/// How tokens are verified, webhooks accepted and the Backend API reached.
fn clerk(lines: &mut Lines, clerk: &ClerkSettings) {
    match clerk.key_source() {
        Some(source) => lines.line("session tokens", &format!("verified with {source}")),
        None => {
            lines.line("session tokens", "MISSING: no key source; set CLERK_JWT_KEY, CLERK_JWKS_URL, CLERK_SECRET_KEY or CLERK_PUBLISHABLE_KEY — no session token can be verified");
            lines.problems.push("no key source for session tokens");
        }
    }
    if clerk.authorized_parties.is_empty() {
        lines.line("authorized parties", "not set: a token's azp claim is not checked (set CLERK_AUTHORIZED_PARTIES to your frontend origins)");
    } else {
        lines.line("authorized parties", &clerk.authorized_parties.join(", "));
    }
    match clerk.webhook_secrets.len() {
        0 => lines.line(
            "webhooks",
            "MISSING: no webhook secret: webhooks will be refused (set CLERK_WEBHOOK_SECRET)",
        ),
        1 => lines.line("webhooks", "signing secret set"),
        n => lines.line("webhooks", &format!("{n} signing secrets set (rotation)")),
    }
    match &clerk.secret_key {
        Some(_) => lines.line(
            "backend api",
            &format!("CLERK_SECRET_KEY set; {}", clerk.api_url),
        ),
        None => lines.line(
            "backend api",
            "not set: no backfill from Clerk and no Clerk machine tokens (set CLERK_SECRET_KEY)",
        ),
    }
    if let Some(pk) = &clerk.publishable_key {
        let instance = match pk.instance {
            ClerkInstance::Development => "development",
            ClerkInstance::Production => "production",
        };
        lines.line(
            "clerk instance",
            &format!("{instance}, Frontend API {}", pk.frontend_api),
        );
    }
}

/// What browsers, administrators and developers get from this instance.
fn service(lines: &mut Lines, settings: &Settings) {
    if settings.cors.allowed_origins.is_empty() {
        lines.line("cors", "no allowed origins: browsers on other origins cannot call the API (set CORS_ALLOWED_ORIGINS)");
    } else {
        lines.line("cors", &settings.cors.allowed_origins.join(", "));
    }
    lines.line("admin console", &admin_console_status(settings));
    lines.line(
        "debug",
        if settings.server.debug {
            "ON — development mode"
        } else {
            "off"
        },
    );
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
