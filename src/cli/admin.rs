//! `auth-core admin create|list|disable|enable|reset-password`: local administrator accounts of the console. Passwords are
//! read from a prompt (no echo) or from standard input, never from the command line, where they
//! would end up in shell history and `ps`.

use std::io::{BufRead, IsTerminal};

use crate::accounts::{self, AccountError};
use crate::admin::view::format_ms;
use crate::clock::Clock;
use crate::db::audit::{insert_batch, NewAuditEvent, PrincipalType};
use crate::db::{admin_accounts, DbConnection, DbError};
use crate::settings::Settings;

use super::AdminCommand;

#[derive(Debug, thiserror::Error)]
pub enum AdminCliError {
    #[error("{0}")]
    Account(#[from] AccountError),
    #[error("{0}")]
    Database(#[from] DbError),
    #[error("cannot read the password: {0}")]
    Input(std::io::Error),
    #[error("the passwords do not match")]
    Mismatch,
    #[error("no administrator with email {0}")]
    Unknown(String),
}

pub fn run(settings: &Settings, command: AdminCommand) -> Result<(), AdminCliError> {
    let mut conn = super::open_database(settings)?.get()?;
    let now = Clock::system().now_ms();
    match command {
        AdminCommand::Create { email } => {
            let email = accounts::normalize_email(&email)?;
            let password = read_password()?;
            let id = accounts::create(&mut conn, &email, &password, now)?;
            record(&mut conn, now, &format!("created administrator {email}"))?;
            println!("created administrator {email} (id {id})");
        }
        AdminCommand::List => {
            let rows: Vec<Vec<String>> = admin_accounts::list(&mut conn)?
                .into_iter()
                .map(|admin| {
                    let state = if admin.is_disabled() {
                        "disabled"
                    } else {
                        "active"
                    };
                    vec![
                        admin.id.to_string(),
                        admin.email,
                        state.to_owned(),
                        admin.last_login_at.map_or("never".to_owned(), format_ms),
                    ]
                })
                .collect();
            print!(
                "{}",
                super::table::render(&["ID", "EMAIL", "STATE", "LAST SIGN-IN"], &rows)
            );
        }
        AdminCommand::Disable { email } => {
            let (email, id) = known(&mut conn, &email)?;
            if accounts::disable(&mut conn, id, now)? {
                record(&mut conn, now, &format!("disabled administrator {email}"))?;
                println!("disabled {email}; their sessions have ended");
            } else {
                println!("{email} was already disabled");
            }
        }
        AdminCommand::Enable { email } => {
            let (email, id) = known(&mut conn, &email)?;
            if admin_accounts::enable(&mut conn, id, now)? {
                record(&mut conn, now, &format!("enabled administrator {email}"))?;
                println!("enabled {email}");
            } else {
                println!("{email} was already enabled");
            }
        }
        AdminCommand::ResetPassword { email } => {
            let (email, id) = known(&mut conn, &email)?;
            let password = read_password()?;
            accounts::reset_password(&mut conn, id, &password, now)?;
            record(&mut conn, now, &format!("reset the password of {email}"))?;
            println!("new password set for {email}; their sessions have ended");
        }
    }
    Ok(())
}

/// The normalized email and id of an existing administrator.
fn known(conn: &mut DbConnection, email: &str) -> Result<(String, i64), AdminCliError> {
    let email = accounts::normalize_email(email)?;
    match admin_accounts::find_by_email(conn, &email)? {
        Some(admin) => Ok((email, admin.id)),
        None => Err(AdminCliError::Unknown(email)),
    }
}

/// From a terminal: asked twice without echo. Otherwise: the first line of standard input.
fn read_password() -> Result<String, AdminCliError> {
    if std::io::stdin().is_terminal() {
        let first = rpassword::prompt_password("Password: ").map_err(AdminCliError::Input)?;
        let second =
            rpassword::prompt_password("Password (again): ").map_err(AdminCliError::Input)?;
        if first != second {
            return Err(AdminCliError::Mismatch);
        }
        Ok(first)
    } else {
        let mut line = String::new();
        std::io::stdin()
            .lock()
            .read_line(&mut line)
            .map_err(AdminCliError::Input)?;
        Ok(line.trim_end_matches(['\r', '\n']).to_owned())
    }
}

/// Account changes made from the command line go to the audit trail like the console's own.
fn record(conn: &mut DbConnection, now: i64, detail: &str) -> Result<(), DbError> {
    insert_batch(
        conn,
        &[NewAuditEvent {
            occurred_at: now,
            request_id: None,
            principal_type: PrincipalType::Admin,
            user_id: None,
            organization_id: None,
            session_id: None,
            method: "CLI".to_owned(),
            path: "auth-core admin".to_owned(),
            route: None,
            status: 200,
            duration_us: 0,
            client_ip: None,
            user_agent: None,
            reason: None,
            detail: Some(format!("command line: {detail}")),
        }],
    )
    .map(|_| ())
}
