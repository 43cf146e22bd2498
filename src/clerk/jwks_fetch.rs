//! Fetches a JWKS over HTTP with awc: bounded time, bounded size, a few retries with backoff.

use std::time::Duration;

use url::Url;

use super::http_client;
use super::jwks::{self, KeysByKid};
use crate::secret::Secret;

/// Largest JWKS body accepted (Clerk's is about 1 KiB).
const MAX_BODY_BYTES: usize = 256 * 1024;
/// Attempts per fetch; the waits between them double from `FIRST_BACKOFF`.
const ATTEMPTS: u32 = 3;
const FIRST_BACKOFF: Duration = Duration::from_millis(125);

#[derive(Clone)]
pub struct JwksClient {
    url: Url,
    /// `Authorization: Bearer` for Clerk's Backend API; none for public JWKS URLs.
    bearer: Option<Secret>,
    timeout: Duration,
}

impl std::fmt::Debug for JwksClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "JwksClient({})", self.url)
    }
}

impl JwksClient {
    pub fn new(url: Url, bearer: Option<Secret>, timeout: Duration) -> Self {
        Self {
            url,
            bearer,
            timeout,
        }
    }

    pub fn url(&self) -> &Url {
        &self.url
    }

    /// Fetches and decodes the key set, retrying transient failures.
    pub async fn fetch(&self) -> Result<KeysByKid, String> {
        let mut backoff = FIRST_BACKOFF;
        let mut last_error = String::new();
        for attempt in 1..=ATTEMPTS {
            match self.fetch_once().await {
                Ok(keys) => return Ok(keys),
                Err(error) => last_error = error,
            }
            if attempt < ATTEMPTS {
                actix_web::rt::time::sleep(backoff).await;
                backoff *= 2;
            }
        }
        Err(format!("{last_error} (after {ATTEMPTS} attempts)"))
    }

    async fn fetch_once(&self) -> Result<KeysByKid, String> {
        let client = http_client::client(self.timeout);
        let mut request = client
            .get(self.url.as_str())
            .insert_header(("Accept", "application/json"));
        if let Some(secret) = &self.bearer {
            request = request.bearer_auth(secret.expose());
        }
        let mut response = request
            .send()
            .await
            .map_err(|e| format!("request failed: {e}"))?;
        let status = response.status();
        if !status.is_success() {
            return Err(format!("answered HTTP {}", status.as_u16()));
        }
        let body = response
            .body()
            .limit(MAX_BODY_BYTES)
            .await
            .map_err(|e| format!("body could not be read: {e}"))?;
        jwks::parse(&body).map_err(|e| e.to_string())
    }
}
