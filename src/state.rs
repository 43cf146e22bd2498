//! `AppState`: what every handler and middleware reaches, and its preparation from the settings
//! (database, migrations, caches, verifiers). The router (`app`) mounts routes on top of it; the
//! middleware and extractors (`request`) read it. It knows no routes.

use std::sync::Arc;

use crate::accounts::password_workers::PasswordWorkers;
use crate::accounts::secret_key::SecretKeyError;
use crate::audit::{AuditConfig, AuditLog};
use crate::auth::assertion::{AssertionKeyError, AssertionKeys};
use crate::auth::failed_credentials::FailedCredentials;
use crate::auth::identity_headers::IdentityHeaderMemo;
use crate::auth::machine_tokens::MachineTokenVerifier;
use crate::auth::service_keys::ServiceKeyVerifier;
use crate::auth::token_source;
use crate::auth::user_directory::{CompleteProfile, UserDirectory};
use crate::auth::verifier::{SessionVerifier, VerifierError};
use crate::clerk::backend_api::BackendApi;
use crate::clerk::webhook::signature::SigningKey;
use crate::clock::Clock;
use crate::db::audit::BatchFormat;
use crate::db::change_feed::follow::{follow, ChangeSink};
use crate::db::change_feed::status::FeedStatus;
use crate::db::change_feed::Change;
use crate::db::migrations::MigrationSet;
use crate::db::revoked_sessions;
use crate::db::{Backend, Db, DbError};
use crate::http::metrics::Metrics;
use crate::settings::Settings;
use crate::sync::users::ProfileFetcher;

/// What every handler can reach. Cheap to clone.
#[derive(Clone)]
pub struct AppState {
    pub settings: Arc<Settings>,
    pub db: Db,
    pub clock: Clock,
    pub verifier: Arc<SessionVerifier>,
    pub users: Arc<UserDirectory>,
    /// Clerk's suffix for this instance's `__session_<suffix>` cookie, when the publishable key is known.
    pub cookie_suffix: Option<String>,
    /// Keys of the configured webhook secrets (several while rotating).
    pub webhook_keys: Arc<Vec<SigningKey>>,
    pub service_keys: Arc<ServiceKeyVerifier>,
    /// Present when `CLERK_SECRET_KEY` is set: Clerk's machine tokens are verified by its Backend API.
    pub machine_tokens: Option<Arc<MachineTokenVerifier>>,
    /// Refused credentials and each client's budget of failed lookups (service keys, machine tokens).
    pub failed_credentials: Arc<FailedCredentials>,
    pub audit: Arc<AuditLog>,
    pub metrics: Arc<Metrics>,
    /// Key of the admin console's session cookies; `None` when the console is disabled.
    pub admin_cookie_key: Option<actix_web::cookie::Key>,
    /// The console's argon2 work, kept off the blocking pool the database work uses.
    pub password_workers: Arc<PasswordWorkers>,
    /// auth-core's own keys for `/api/auth/verify`'s identity assertion, loaded at start-up.
    pub assertion_keys: Arc<AssertionKeys>,
    /// The identity headers of recent forward-auth checks, by credential.
    pub identity_headers: Arc<IdentityHeaderMemo>,
    /// Whether this instance hears the other instances' changes (PostgreSQL's change feed).
    pub change_feed: Arc<FeedStatus>,
}

#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    #[error("{0}")]
    Database(#[from] DbError),
    #[error("{0}")]
    Verifier(#[from] VerifierError),
    #[error("{0}")]
    SecretKey(#[from] SecretKeyError),
    #[error("{0}")]
    AssertionKeys(#[from] AssertionKeyError),
    #[error("the password threads could not start: {0}")]
    PasswordThreads(std::io::Error),
}

impl AppState {
    /// Opens the database (and applies migrations when the settings say so), with the system clock.
    pub fn prepare(settings: Settings) -> Result<Self, StartupError> {
        Self::prepare_with_clock(settings, Clock::system())
    }

    /// As [`AppState::prepare`], with a given clock (tests move a manual one).
    pub fn prepare_with_clock(settings: Settings, clock: Clock) -> Result<Self, StartupError> {
        Self::prepare_with_migrations(settings, clock, &[])
    }

    /// As [`AppState::prepare_with_clock`], applying an embedding application's own migrations after
    /// auth-core's (when the settings say to migrate).
    pub fn prepare_with_migrations(
        settings: Settings,
        clock: Clock,
        extra_migrations: &[MigrationSet],
    ) -> Result<Self, StartupError> {
        let verifier = SessionVerifier::from_settings(&settings, clock.clone())?;
        crate::auth::startup_log::log_session_token_setup(&settings);
        let cookie_suffix = settings
            .clerk
            .publishable_key
            .as_ref()
            .map(|pk| token_source::cookie_suffix(&pk.raw));
        let db = open_database(&settings.database, extra_migrations)?;
        // After the migrations: without SECRET_KEY, the key is kept in the database.
        let admin_cookie_key = settings
            .admin
            .enabled
            .then(|| crate::accounts::secret_key::cookie_key(&settings, &db, clock.now_ms()))
            .transpose()?;
        let assertion_keys = AssertionKeys::load_or_create(db.clone(), clock.clone())?;
        let backend_api = settings.clerk.secret_key.clone().map(|secret| {
            BackendApi::new(&settings.clerk.api_url, secret, settings.clerk.api_timeout)
        });
        let machine_tokens = backend_api
            .clone()
            .map(|api| Arc::new(MachineTokenVerifier::new(api, db.clone(), clock.clone())));
        let complete_profile = backend_api.map(|api| {
            let fetcher = ProfileFetcher::new(db.clone(), clock.clone(), api);
            let complete: CompleteProfile = Arc::new(move |user_id: String| {
                let fetcher = fetcher.clone();
                Box::pin(async move { fetcher.fetch(&user_id).await })
            });
            complete
        });
        let users = UserDirectory::new(
            db.clone(),
            clock.clone(),
            complete_profile,
            settings.auth.user_cache_capacity,
            settings.auth.user_cache_ttl,
        );
        let webhook_keys = settings
            .clerk
            .webhook_secrets
            .iter()
            .filter_map(|secret| SigningKey::from_secret(secret.expose()))
            .collect();
        let audit_log = AuditLog::new(
            AuditConfig {
                queue_capacity: settings.audit.queue_capacity,
                batch_size: settings.audit.batch_size,
                linger: settings.audit.linger,
                when_full: settings.audit.when_full,
                full_wait: settings.audit.full_wait,
            },
            BatchFormat::for_backend(db.backend()),
        );
        let service_keys =
            ServiceKeyVerifier::new(db.clone(), clock.clone(), settings.auth.service_key_cache);
        let failed_credentials =
            FailedCredentials::new(clock.clone(), settings.auth.failed_credential_budget);
        let password_workers = PasswordWorkers::start(settings.admin.password_threads)
            .map_err(StartupError::PasswordThreads)?;
        let change_feed = Arc::new(FeedStatus::new(db.backend() == Backend::Postgres));
        let identity_headers = Arc::new(IdentityHeaderMemo::new(clock.clone()));
        let state = Self {
            change_feed,
            password_workers: Arc::new(password_workers),
            settings: Arc::new(settings),
            db,
            clock,
            verifier: Arc::new(verifier),
            users: Arc::new(users),
            cookie_suffix,
            webhook_keys: Arc::new(webhook_keys),
            service_keys: Arc::new(service_keys),
            machine_tokens,
            failed_credentials: Arc::new(failed_credentials),
            audit: Arc::new(audit_log),
            metrics: Arc::new(Metrics::default()),
            admin_cookie_key,
            assertion_keys: Arc::new(assertion_keys),
            identity_headers,
        };
        if let Err(error) = state.reload_revoked_sessions() {
            log::warn!("revoked sessions not loaded yet ({error}); retrying in the background");
        }
        Ok(state)
    }

    /// Brings this instance's caches in line with a webhook just applied (from Clerk or reprocessed
    /// from the console): stale profiles are dropped, a revoked session is refused at once, and so is
    /// every key and machine token of a deleted organization.
    pub fn apply_webhook_effects(&self, effects: &crate::sync::webhooks::Effects) {
        if effects.all_users {
            self.users.forget_all();
        }
        for user in &effects.users {
            self.users.forget(user);
        }
        if let Some((session, until)) = &effects.revoked_session {
            self.verifier.revoked_sessions().revoke(session, *until);
        }
        if effects.deleted_organization.is_some() {
            // Everything remembered is dropped, not just this organization's: deletions are rare,
            // and the next lookup of each credential checks its organization in the database.
            self.service_keys.forget_all();
            if let Some(machine_tokens) = &self.machine_tokens {
                machine_tokens.forget_all();
            }
        }
    }

    /// The task that listens to the other instances' changes for the life of the server (PostgreSQL
    /// only: a SQLite file is served by one instance); `background` runs it.
    pub fn change_follower(&self) -> Option<impl std::future::Future<Output = ()> + 'static> {
        (self.db.backend() == Backend::Postgres).then(|| {
            let sink: Arc<dyn ChangeSink> = Arc::new(self.clone());
            follow(self.db.clone(), self.change_feed.clone(), sink)
        })
    }

    /// Loads the sessions revoked by webhooks (here or on other instances) and purges expired ones.
    pub fn reload_revoked_sessions(&self) -> Result<(), DbError> {
        let now = self.clock.now_ms();
        let mut conn = self.db.get()?;
        revoked_sessions::purge(&mut conn, now)?;
        let active = revoked_sessions::active(&mut conn, now)?;
        self.verifier.revoked_sessions().merge(active, now);
        Ok(())
    }
}

/// A change another instance (or this one) announced: the same evictions as a webhook applied here.
impl ChangeSink for AppState {
    fn apply(&self, change: &Change) {
        use crate::sync::webhooks::Effects;
        let effects = match change {
            Change::User(id) => Effects {
                users: vec![id.clone()],
                ..Effects::default()
            },
            Change::AllUsers => Effects {
                all_users: true,
                ..Effects::default()
            },
            Change::OrganizationDeleted(id) => Effects {
                all_users: true,
                deleted_organization: Some(id.clone()),
                ..Effects::default()
            },
            Change::SessionRevoked {
                session_id,
                until_ms,
            } => Effects {
                revoked_session: Some((session_id.clone(), *until_ms)),
                ..Effects::default()
            },
            Change::RevokedSessions => {
                if let Err(error) = self.reload_revoked_sessions() {
                    log::warn!(target: "auth_core::change_feed", "revoked sessions not reloaded: {error}");
                }
                return;
            }
            Change::ServiceKeyRevoked(_) => {
                self.service_keys.forget_all();
                return;
            }
            // Nothing is remembered of a key before it exists; the console reads its accounts and
            // sessions from the database on every request.
            Change::ServiceKeyCreated(_) | Change::AdminAccount(_) | Change::AdminSessions(_) => {
                return
            }
            Change::Unknown => {
                self.forget_everything();
                return;
            }
        };
        self.apply_webhook_effects(&effects);
    }

    fn forget_everything(&self) {
        self.users.forget_all();
        self.service_keys.forget_all();
        if let Some(machine_tokens) = &self.machine_tokens {
            machine_tokens.forget_all();
        }
        if let Err(error) = self.reload_revoked_sessions() {
            log::warn!(target: "auth_core::change_feed", "revoked sessions not reloaded: {error}");
        }
    }
}

/// Opens the database, and applies the migrations when the settings say so.
fn open_database(
    settings: &crate::settings::DatabaseSettings,
    extra_migrations: &[MigrationSet],
) -> Result<Db, StartupError> {
    let db = Db::open(settings)?;
    if settings.run_migrations {
        let applied = db.migrate_with(extra_migrations)?;
        if applied.is_empty() {
            log::info!("database {} is up to date", db.describe());
        } else {
            log::info!(
                "database {}: applied migrations {}",
                db.describe(),
                applied.join(", ")
            );
        }
    }
    Ok(db)
}
