//! `auth-core check --online`: asks Clerk what `check` can only read from the settings. Fetches the
//! JWKS from the key source, checks `CLERK_SECRET_KEY` against the Backend API (its `/v1/jwks`
//! answers only to a valid secret key) and the webhook secrets' shape; one line each, ok or FAILED
//! with the reason. Never prints a secret.

use std::fmt::Write as _;

use crate::clerk::jwks_fetch::JwksClient;
use crate::clerk::key_source::{backend_api_jwks_url, KeySource};
use crate::clerk::webhook::signature::SigningKey;
use crate::settings::Settings;

/// A check's report (`check` and its `--online` part), and whether the service is ready to authenticate requests.
pub struct Report {
    pub text: String,
    pub ready: bool,
}

/// Runs the checks on a runtime of its own (the command line has none).
pub fn report(settings: &Settings) -> Report {
    let lines = actix_web::rt::System::new().block_on(checks(settings));
    let mut text = String::new();
    let mut ready = true;
    for (label, outcome) in lines {
        let outcome = match outcome {
            Ok(ok) => format!("ok: {ok}"),
            Err(reason) => {
                ready = false;
                format!("FAILED: {reason}")
            }
        };
        let _ = writeln!(text, "{label:<20}{outcome}");
    }
    Report { text, ready }
}

type Outcome = Result<String, String>;

async fn checks(settings: &Settings) -> Vec<(&'static str, Outcome)> {
    vec![
        ("jwks online", jwks(settings).await),
        ("backend api online", backend_api(settings).await),
        ("webhook secret", webhook_secrets(settings)),
    ]
}

async fn jwks(settings: &Settings) -> Outcome {
    let clerk = &settings.clerk;
    let (url, bearer) = match clerk.key_source() {
        None => return Err("no key source configured".to_owned()),
        Some(KeySource::Pem) => {
            return Ok("PEM key from CLERK_JWT_KEY; no network needed".to_owned())
        }
        Some(KeySource::BackendApi(url)) => (url, clerk.secret_key.clone()),
        Some(KeySource::JwksUrl(url) | KeySource::FrontendApi(url)) => (url, None),
    };
    let keys = JwksClient::new(url.clone(), bearer, clerk.jwks_fetch_timeout)
        .fetch()
        .await
        .map_err(|error| format!("{url}: {error}"))?;
    let mut kids: Vec<&String> = keys.keys().collect();
    kids.sort();
    let kids: Vec<&str> = kids.into_iter().map(String::as_str).collect();
    Ok(format!("{url}: {} keys ({})", kids.len(), kids.join(", ")))
}

async fn backend_api(settings: &Settings) -> Outcome {
    let clerk = &settings.clerk;
    let Some(secret) = clerk.secret_key.clone() else {
        return Ok("CLERK_SECRET_KEY not set; nothing to check".to_owned());
    };
    let url = backend_api_jwks_url(&clerk.api_url)
        .ok_or_else(|| format!("{} cannot be joined with v1/jwks", clerk.api_url))?;
    JwksClient::new(url.clone(), Some(secret), clerk.api_timeout)
        .fetch()
        .await
        .map(|_| format!("CLERK_SECRET_KEY accepted by {url}"))
        .map_err(|error| format!("CLERK_SECRET_KEY at {url}: {error}"))
}

fn webhook_secrets(settings: &Settings) -> Outcome {
    let secrets = &settings.clerk.webhook_secrets;
    if secrets.is_empty() {
        return Err("CLERK_WEBHOOK_SECRET not set: webhooks are refused".to_owned());
    }
    let bad: Vec<String> = secrets
        .iter()
        .enumerate()
        .filter(|(_, secret)| SigningKey::from_secret(secret.expose()).is_none())
        .map(|(i, _)| (i + 1).to_string())
        .collect();
    if bad.is_empty() {
        Ok(format!(
            "{} secret(s) of the whsec_<base64> shape",
            secrets.len()
        ))
    } else {
        Err(format!(
            "secret number {} is not whsec_ followed by base64 (copy it from the endpoint's \
             Signing Secret in Clerk's dashboard)",
            bad.join(", ")
        ))
    }
}
