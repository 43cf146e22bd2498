//! Client for Clerk's Backend API (`https://api.clerk.com/v1`), authenticated with the secret key.

use std::time::Duration;

use url::Url;

use super::http_client;
use super::machine_token::{MachineKind, MachineTokenInfo};
use super::user::ClerkUser;
use crate::settings::Secret;

const MAX_BODY_BYTES: usize = 2 * 1024 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum BackendApiError {
    #[error("not found")]
    NotFound,
    #[error("Clerk answered HTTP {0}")]
    Status(u16),
    #[error("request failed: {0}")]
    Transport(String),
    #[error("unexpected response: {0}")]
    Decode(String),
}

#[derive(Clone)]
pub struct BackendApi {
    /// Ends with `/v1/`.
    base: Url,
    secret: Secret,
    timeout: Duration,
}

impl std::fmt::Debug for BackendApi {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "BackendApi({})", self.base)
    }
}

impl BackendApi {
    pub fn new(api_url: &Url, secret: Secret, timeout: Duration) -> Self {
        let mut base = api_url.clone();
        let path = base.path().trim_end_matches('/').to_owned();
        base.set_path(&format!("{path}/v1/"));
        Self {
            base,
            secret,
            timeout,
        }
    }

    /// `POST /v1/<kind>/verify`: what Clerk knows of a machine token. `NotFound` when Clerk does
    /// not know it.
    pub async fn verify_machine_token(
        &self,
        kind: MachineKind,
        token: &str,
    ) -> Result<MachineTokenInfo, BackendApiError> {
        let (path, field) = kind.endpoint();
        let url = self
            .base
            .join(path)
            .map_err(|e| BackendApiError::Transport(e.to_string()))?;
        let request = self.request(awc::http::Method::POST, &url);
        let response = request
            .send_json(&serde_json::json!({ field: token }))
            .await;
        Self::read_json(response).await
    }

    /// `GET /v1/users/{user_id}`.
    pub async fn get_user(&self, user_id: &str) -> Result<ClerkUser, BackendApiError> {
        // Clerk ids are [A-Za-z0-9_]; anything else is not a user this API can hold.
        if user_id.is_empty()
            || !user_id
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_')
        {
            return Err(BackendApiError::NotFound);
        }
        let url = self
            .base
            .join(&format!("users/{user_id}"))
            .map_err(|e| BackendApiError::Transport(e.to_string()))?;
        self.get_json(url).await
    }

    async fn get_json<T: serde::de::DeserializeOwned>(
        &self,
        url: Url,
    ) -> Result<T, BackendApiError> {
        let response = self.request(awc::http::Method::GET, &url).send().await;
        Self::read_json(response).await
    }

    /// A request to the Backend API with the secret key, bounded by the configured timeout.
    fn request(&self, method: awc::http::Method, url: &Url) -> awc::ClientRequest {
        http_client::client(self.timeout)
            .request(method, url.as_str())
            .bearer_auth(self.secret.expose())
            .insert_header(("Accept", "application/json"))
    }

    /// 200 → the decoded body (bounded); 404 → `NotFound`; anything else → `Status`.
    async fn read_json<T, S>(
        response: Result<awc::ClientResponse<S>, awc::error::SendRequestError>,
    ) -> Result<T, BackendApiError>
    where
        T: serde::de::DeserializeOwned,
        S: futures_util::Stream<
                Item = Result<actix_web::web::Bytes, actix_web::error::PayloadError>,
            > + Unpin,
    {
        let mut response = response.map_err(|e| BackendApiError::Transport(e.to_string()))?;
        match response.status().as_u16() {
            200 => {}
            404 => return Err(BackendApiError::NotFound),
            other => return Err(BackendApiError::Status(other)),
        }
        let body = response
            .body()
            .limit(MAX_BODY_BYTES)
            .await
            .map_err(|e| BackendApiError::Transport(e.to_string()))?;
        serde_json::from_slice(&body).map_err(|e| BackendApiError::Decode(e.to_string()))
    }
}
