//! The `auth-core` binary: reads `.env` and the settings, sets up logging, runs one subcommand.

use std::io::Write;
use std::process::ExitCode;

use auth_core::accounts::secret_key::SecretKeyError;
use auth_core::cli::{
    check, parse_lifetime, Cli, Command, KeysCommand, ServeArgs, WebhooksCommand,
};
use auth_core::db::DbError;
use auth_core::server;
use auth_core::settings::{Settings, SettingsError, SettingsSources};
use auth_core::state::{AppState, StartupError};
use clap::Parser;

#[derive(Debug, thiserror::Error)]
enum Failure {
    #[error("{0}")]
    Settings(#[from] SettingsError),
    #[error("{0}")]
    Database(#[from] DbError),
    #[error("{0}")]
    Startup(#[from] StartupError),
    #[error("cannot read .env: {0}")]
    DotEnv(String),
    #[error("cannot listen on {bind}: {error}")]
    Bind { bind: String, error: std::io::Error },
    #[error("server stopped with an error: {0}")]
    Server(std::io::Error),
    #[error("not ready (see above)")]
    NotReady,
    #[error("no webhook delivery with svix-id {0}")]
    UnknownDelivery(String),
    #[error("{0}")]
    Usage(String),
    #[error("{0}")]
    Key(#[from] auth_core::auth::service_keys::KeyError),
    #[error("no live key with id or prefix {0}")]
    UnknownKey(String),
    #[error("{0}")]
    Admin(#[from] auth_core::cli::admin::AdminCliError),
    #[error("{0}")]
    Backup(#[from] auth_core::cli::backup::BackupError),
    #[error("unhealthy: {0}")]
    Healthcheck(#[from] auth_core::cli::healthcheck::HealthcheckError),
    #[error("{0}")]
    Sync(#[from] auth_core::cli::sync::SyncCliError),
}

impl Failure {
    /// 2 for configuration mistakes (fix the settings), 1 for everything else.
    fn exit_code(&self) -> u8 {
        match self {
            Self::Settings(_) | Self::DotEnv(_) | Self::Usage(_) => 2,
            Self::Sync(auth_core::cli::sync::SyncCliError::NoSecretKey) => 2,
            Self::Startup(StartupError::Verifier(_)) => 2,
            Self::Startup(StartupError::SecretKey(SecretKeyError::StoredTooShort)) => 2,
            _ => 1,
        }
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    // Container engines read a health check's exit code as 0 healthy, 1 unhealthy (2 is reserved):
    // whatever stops the probe, settings included, is "unhealthy".
    let is_probe = matches!(cli.command, Some(Command::Healthcheck(_)));
    let outcome = run(cli);
    // The log writer is a thread of its own: let it write what was logged before the process ends.
    auth_core::logging::flush();
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => {
            eprintln!("auth-core: {failure}");
            ExitCode::from(if is_probe { 1 } else { failure.exit_code() })
        }
    }
}

fn run(cli: Cli) -> Result<(), Failure> {
    // A .env file fills in variables that are not already set, as the Django app's did.
    if let Err(e) = dotenvy::dotenv() {
        if !e.not_found() {
            return Err(Failure::DotEnv(e.to_string()));
        }
    }
    let settings = Settings::load(&SettingsSources::from_process(cli.config))?;
    auth_core::logging::init(
        &settings.log.filter,
        settings.log.json,
        settings.log.buffer_lines,
    );
    match cli.command.unwrap_or(Command::Serve(ServeArgs::default())) {
        Command::Serve(args) => serve(settings, args),
        Command::Migrate => migrate(&settings),
        Command::Keys { command } => keys(&settings, command),
        Command::Admin { command } => Ok(auth_core::cli::admin::run(&settings, command)?),
        Command::Sync(args) => Ok(auth_core::cli::sync::run(&settings, &args)?),
        Command::Webhooks {
            command: WebhooksCommand::Reprocess { svix_id, failed },
        } => reprocess(&settings, svix_id, failed),
        Command::Healthcheck(args) => healthcheck(&settings, args),
        Command::Backup { path } => {
            let written = auth_core::cli::backup::run(&settings.database, &path)?;
            println!(
                "backup written to {} ({} bytes, integrity ok)",
                written.path.display(),
                written.bytes
            );
            Ok(())
        }
        Command::Check { online } => {
            let mut report = check::run(&settings);
            print!("{}", report.text);
            if online {
                let asked = auth_core::cli::check_online::run(&settings);
                print!("\n{}", asked.text);
                if !asked.ready {
                    println!("\nnot ready: an online check failed");
                }
                report.ready &= asked.ready;
            }
            if report.ready {
                Ok(())
            } else {
                Err(Failure::NotReady)
            }
        }
    }
}

fn serve(settings: Settings, args: ServeArgs) -> Result<(), Failure> {
    let bind = args.bind.unwrap_or_else(|| settings.server.bind.clone());
    let workers = args.workers.unwrap_or(settings.server.workers);
    let json_logs = settings.log.json;
    let state = AppState::prepare(settings)?;
    actix_web::rt::System::new().block_on(async move {
        let signals = server::ShutdownSignals::install().map_err(Failure::Server)?;
        let audit = state.audit.clone();
        let bound = server::bind(state, &bind, workers).map_err(|error| Failure::Bind {
            bind: bind.clone(),
            error,
        })?;
        for addr in &bound.addrs {
            // Once, on stdout, for people and for scripts and tests that bind port 0 and need the
            // real port. In JSON, log shippers (which may read only stderr) get it as a record too;
            // in text, a terminal would show it twice.
            if json_logs {
                log::info!("listening on http://{addr}");
            }
            println!("auth-core listening on http://{addr}");
        }
        let _ = std::io::stdout().flush();
        actix_web::rt::spawn(server::stop_on_signals(bound.server.handle(), signals));
        bound.server.await.map_err(Failure::Server)?;
        // In-flight requests are done: write every audit event still queued.
        audit.flush().await;
        log::info!("stopped");
        Ok(())
    })
}

fn healthcheck(settings: &Settings, args: auth_core::cli::HealthcheckArgs) -> Result<(), Failure> {
    use auth_core::cli::healthcheck::{probe, Target};
    let target = match &args.url {
        Some(url) => Target::from_url(url)?,
        None => Target::from_bind(&settings.server.bind)?,
    };
    probe(&target, std::time::Duration::from_secs(args.timeout_secs))?;
    println!("healthy: {}", target.url);
    Ok(())
}

fn migrate(settings: &Settings) -> Result<(), Failure> {
    let db = auth_core::db::Db::open(&settings.database)?;
    let applied = db.migrate()?;
    if applied.is_empty() {
        println!("{}: up to date", db.describe());
    } else {
        for version in &applied {
            println!("{}: applied {version}", db.describe());
        }
    }
    Ok(())
}

fn reprocess(settings: &Settings, svix_id: Option<String>, failed: bool) -> Result<(), Failure> {
    use auth_core::db::webhook_deliveries;
    use auth_core::sync::webhooks::{self, SyncOptions};
    let db = auth_core::db::Db::open(&settings.database)?;
    let mut conn = db.get()?;
    let ids = match svix_id {
        Some(id) if !failed => vec![id],
        _ => webhook_deliveries::failed_ids(&mut conn)?,
    };
    if ids.is_empty() {
        println!("no failed deliveries");
    }
    let options = SyncOptions {
        revoked_session_retention: settings.auth.revoked_session_retention,
    };
    let clock = auth_core::clock::Clock::system();
    for id in ids {
        match webhooks::reprocess(&mut conn, &id, clock.now_ms(), options)? {
            Some(outcome) => match outcome {
                webhooks::Outcome::Failed(error) => println!("{id}: failed: {error}"),
                other => println!("{id}: {}", other.status()),
            },
            None => return Err(Failure::UnknownDelivery(id)),
        }
    }
    Ok(())
}

fn keys(settings: &Settings, command: KeysCommand) -> Result<(), Failure> {
    use auth_core::auth::service_keys;
    use auth_core::db::service_keys as stored;
    let db = auth_core::db::Db::open(&settings.database)?;
    if settings.database.run_migrations {
        db.migrate()?;
    }
    let mut conn = db.get()?;
    let now = auth_core::clock::Clock::system().now_ms();
    match command {
        KeysCommand::Create {
            name,
            organization,
            scopes,
            expires,
        } => {
            if let Some(org) = &organization {
                if !org.starts_with("org_") {
                    return Err(Failure::Usage(format!(
                        "--org {org:?}: expected a Clerk organization id (org_…)"
                    )));
                }
                if !auth_core::db::organizations::organization_is_known(&mut conn, org)? {
                    eprintln!(
                        "warning: organization {org} is not known here yet (no webhook or \
                         backfill has brought it): check the id; the key is created anyway"
                    );
                }
            }
            let expires_at = expires
                .as_deref()
                .map(parse_lifetime)
                .transpose()
                .map_err(Failure::Usage)?
                .map(|ms| now + ms);
            let created = service_keys::create(
                &mut conn,
                &name,
                organization.as_deref(),
                &scopes,
                expires_at,
                Some("cli"),
                now,
            )?;
            println!("created {} ({name})", created.id);
            println!("secret (shown once, store it now): {}", created.secret);
        }
        KeysCommand::List => {
            use auth_core::admin::view::format_ms;
            let rows: Vec<Vec<String>> = stored::list(&mut conn)?
                .into_iter()
                .map(|key| {
                    let state = if key.revoked_at.is_some() {
                        "revoked"
                    } else if key.expires_at.is_some_and(|at| at <= now) {
                        "expired"
                    } else {
                        "active"
                    };
                    vec![
                        key.id,
                        state.to_owned(),
                        key.name,
                        key.organization_id.unwrap_or_else(|| "(global)".to_owned()),
                        key.scopes,
                        key.expires_at.map_or("never".to_owned(), format_ms),
                        key.last_used_at.map_or("never".to_owned(), format_ms),
                    ]
                })
                .collect();
            let header = [
                "ID",
                "STATE",
                "NAME",
                "ORGANIZATION",
                "SCOPES",
                "EXPIRES",
                "LAST USED",
            ];
            print!("{}", auth_core::cli::table::render(&header, &rows));
        }
        KeysCommand::Revoke { key } => {
            if !stored::revoke(&mut conn, &key, now)? {
                return Err(Failure::UnknownKey(key));
            }
            println!("revoked {key}");
        }
    }
    Ok(())
}
