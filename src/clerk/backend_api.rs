//! Client for Clerk's Backend API (`https://api.clerk.com/v1`), authenticated with the secret key.
//!
//! Calls share keep-alive connections: one awc client per thread (see [`pooled_client`]), so a burst
//! of calls costs one TCP and TLS handshake per worker thread, not one per call.

use std::cell::RefCell;
use std::time::Duration;

use url::Url;

use super::http_client;
use super::machine_token::{MachineKind, MachineTokenInfo};
use super::user::ClerkUser;
use crate::secret::Secret;

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

thread_local! {
    /// This thread's client, with the id of the Actix system it was built in.
    static POOLED_CLIENT: RefCell<Option<(usize, awc::Client)>> = const { RefCell::new(None) };
}

/// The client of the calling thread, whose connection pool every Backend API call on this thread
/// shares (HTTP/1.1 only, see `http_client`; each request also carries its own timeout).
///
/// Why per thread: awc's `Client` and its pool are `!Send` (reference-counted, their connections
/// registered with the thread's runtime), while `BackendApi` sits in state shared by every Actix
/// worker thread. A client per worker thread reuses that worker's connections with no lock and no
/// hop between threads; a dedicated task owning one client would add a channel round trip to every
/// call and queue all workers behind one task. A client belongs to the Actix system it was built in:
/// a thread that later runs another system (a test, a CLI command) builds a new one, since the old
/// pool's connections belong to a runtime that is gone. Outside any Actix system there is no pool
/// to keep: each call gets a client of its own.
fn pooled_client(timeout: Duration) -> awc::Client {
    let Some(system) = actix_web::rt::System::try_current() else {
        return http_client::client(timeout);
    };
    POOLED_CLIENT.with(|slot| {
        let mut slot = slot.borrow_mut();
        match &*slot {
            Some((built_in, client)) if *built_in == system.id() => client.clone(),
            _ => {
                let client = http_client::client(timeout);
                *slot = Some((system.id(), client.clone()));
                client
            }
        }
    })
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

    /// A request to the Backend API with the secret key, on this thread's pooled client, bounded by
    /// the configured timeout.
    fn request(&self, method: awc::http::Method, url: &Url) -> awc::ClientRequest {
        pooled_client(self.timeout)
            .request(method, url.as_str())
            .timeout(self.timeout)
            .bearer_auth(self.secret.expose())
            .insert_header(("Accept", "application/json"))
    }

    /// 200 → the decoded body (bounded); 404 → `NotFound`; anything else → `Status`. The body is read
    /// whatever the status: a connection is reused only once its response has been read to the end.
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
        let status = response.status().as_u16();
        let body = response.body().limit(MAX_BODY_BYTES).await;
        match status {
            200 => {}
            404 => return Err(BackendApiError::NotFound),
            other => return Err(BackendApiError::Status(other)),
        }
        let body = body.map_err(|e| BackendApiError::Transport(e.to_string()))?;
        serde_json::from_slice(&body).map_err(|e| BackendApiError::Decode(e.to_string()))
    }
}
