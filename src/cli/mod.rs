//! The `auth-core` command line: argument definitions and one module per subcommand.

pub mod check;

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(
    name = "auth-core",
    version,
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
    Check,
    /// Webhook deliveries.
    Webhooks {
        #[command(subcommand)]
        command: WebhooksCommand,
    },
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
