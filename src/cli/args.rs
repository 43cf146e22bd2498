//! The command line's arguments, subcommands and their help texts (clap derive).

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

/// `auth-core --version`: the package version and the commit it was built from (see build.rs).
pub const VERSION: &str = concat!(
    env!("CARGO_PKG_VERSION"),
    " (",
    env!("AUTH_CORE_GIT_COMMIT"),
    ")"
);

#[derive(Debug, Parser)]
#[command(
    name = "auth-core",
    version = VERSION,
    about = "Clerk authentication, tenant scoping and user sync in front of your backend"
)]
pub struct Cli {
    /// Settings override file (default: ./Settings.local.toml when present, or $AUTH_CORE_CONFIG).
    #[arg(long, global = true, value_name = "PATH")]
    pub config: Option<PathBuf>,

    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve the API (the default when no command is given).
    Serve(ServeArgs),
    /// Apply pending database migrations and exit.
    Migrate,
    /// Load the settings, connect to the database and report what is configured and what is missing.
    Check {
        /// Also ask Clerk: fetch the JWKS, check CLERK_SECRET_KEY against the Backend API and the
        /// webhook secrets' shape.
        #[arg(long)]
        online: bool,
    },
    /// Administrator accounts of the admin console.
    Admin {
        #[command(subcommand)]
        command: AdminCommand,
    },
    /// Service API keys for servers calling auth-core.
    Keys {
        #[command(subcommand)]
        command: KeysCommand,
    },
    /// auth-core's own keys signing /api/auth/verify's identity assertions (X-Auth-Assertion).
    AssertionKeys {
        #[command(subcommand)]
        command: AssertionKeysCommand,
    },
    /// Backfill and reconcile users, organizations and memberships from Clerk's Backend API
    /// (needs CLERK_SECRET_KEY).
    Sync(SyncArgs),
    /// Webhook deliveries.
    Webhooks {
        #[command(subcommand)]
        command: WebhooksCommand,
    },
    /// Copy the embedded SQLite database to PATH while the server runs (on PostgreSQL: print the
    /// pg_dump command to use).
    Backup {
        /// The file to write; it must not exist.
        #[arg(value_name = "PATH")]
        path: PathBuf,
    },
    /// GET the liveness route and exit 0 when it answers 200, else 1 (for container health checks).
    Healthcheck(HealthcheckArgs),
}

impl Cli {
    /// `healthcheck`, whose failures all exit 1 (see [`super::CliError::exit_code`]).
    pub fn is_health_probe(&self) -> bool {
        matches!(self.command, Some(Command::Healthcheck(_)))
    }
}

#[derive(Debug, Args)]
pub struct HealthcheckArgs {
    /// URL to probe (http only). Default: /healthz on server.bind, a 0.0.0.0 or [::] host probed on
    /// loopback.
    #[arg(value_name = "URL")]
    pub url: Option<String>,
    /// Seconds each step (connect, send, answer) may take.
    #[arg(long, value_name = "SECS", default_value_t = 5, value_parser = clap::value_parser!(u64).range(1..=300))]
    pub timeout_secs: u64,
}

#[derive(Debug, Subcommand)]
pub enum AdminCommand {
    /// Create an administrator; the password is asked for (or read from standard input).
    Create {
        /// The administrator's email address: what they sign in with.
        #[arg(long)]
        email: String,
    },
    /// List administrators.
    List,
    /// Disable an administrator and end their sessions.
    Disable {
        /// The email address of the administrator to disable.
        email: String,
    },
    /// Enable a disabled administrator again (they sign in with their password as before).
    Enable {
        /// The email address of the administrator to enable.
        email: String,
    },
    /// Set a new password (asked for, or read from standard input) and end every session.
    ResetPassword {
        /// The email address of the administrator whose password is reset.
        email: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum AssertionKeysCommand {
    /// Generate the next key: published at once, signing 6 minutes later (every instance and
    /// upstream JWKS cache knows it by then); the current key stays published until its last
    /// assertions have expired.
    Rotate {
        /// Sign with the new key now and unpublish the others (a key believed compromised):
        /// assertions signed by the old key stop verifying at once.
        #[arg(long)]
        immediately: bool,
    },
    /// List the keys (never the private parts): which signs, which is next, which is retiring.
    List,
}

#[derive(Debug, Subcommand)]
pub enum WebhooksCommand {
    /// Apply stored deliveries again (after a fix): one by its svix-id, or every failed one.
    Reprocess {
        /// The delivery's svix-id (msg_…).
        #[arg(required_unless_present = "failed")]
        svix_id: Option<String>,
        /// Every delivery stored as failed, oldest first.
        #[arg(long, conflicts_with = "svix_id")]
        failed: bool,
    },
}

#[derive(Debug, Args, Default)]
pub struct ServeArgs {
    /// Address to listen on, host:port (overrides server.bind). Port 0 picks a free port.
    #[arg(long, value_name = "HOST:PORT")]
    pub bind: Option<String>,
    /// Worker threads (overrides server.workers; 0 = one per CPU core).
    #[arg(long, value_name = "N")]
    pub workers: Option<usize>,
}

#[derive(Debug, Args)]
pub struct SyncArgs {
    /// Count what would be created, updated and tombstoned, per kind, without writing anything.
    #[arg(long)]
    pub dry_run: bool,
    /// Only these kinds (comma-separated or repeated).
    #[arg(long, value_delimiter = ',', value_parser = ["users", "organizations", "memberships"])]
    pub only: Vec<String>,
    /// Continue the newest run that did not complete, from its checkpoint (its kinds, its start).
    #[arg(long, conflicts_with_all = ["dry_run", "only"])]
    pub resume: bool,
    /// Requests per second to Clerk at most. Clerk allows 100 per 10 s on development instances
    /// and 1,000 per 10 s on production ones; a 429 is waited out as its Retry-After says.
    #[arg(long, value_name = "N", default_value_t = 10, value_parser = clap::value_parser!(u32).range(1..=1000))]
    pub max_rps: u32,
    /// Reconcile tombstones at most this share of a kind's rows (beyond 10 rows); above it, nothing
    /// of that kind is tombstoned. A key of another Clerk instance would otherwise empty the mirror.
    #[arg(long, value_name = "PERCENT", default_value_t = 10, value_parser = clap::value_parser!(u8).range(0..=100))]
    pub max_tombstone_percent: u8,
    /// Rows per page (Clerk's maximum is 500).
    #[arg(long, value_name = "N", default_value_t = 500, value_parser = clap::value_parser!(u32).range(2..=500))]
    pub page_size: u32,
}

#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// Create a key; its secret is printed once and stored only as a hash.
    Create {
        /// What the key is for (shown in listings).
        #[arg(long)]
        name: String,
        /// Bind the key to this organization (org_…); without it the key is global.
        #[arg(long = "org", value_name = "ORG_ID")]
        organization: Option<String>,
        /// A permission the key grants, e.g. org:invoices:read (repeatable).
        #[arg(long = "scope", value_name = "SCOPE")]
        scopes: Vec<String>,
        /// Lifetime: a number with s, m, h or d (90d), after which the key stops working.
        #[arg(long, value_name = "DURATION")]
        expires: Option<String>,
    },
    /// List keys (never their secrets).
    List,
    /// Revoke a key by id (key_…) or prefix.
    Revoke {
        /// The key's id (key_…, as `keys list` shows it) or the prefix of its secret.
        key: String,
    },
}
