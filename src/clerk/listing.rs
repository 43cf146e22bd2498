//! Reading whole listings from Clerk's Backend API, a page at a time, the way its spec says to walk
//! each one (`bapi-2026-05-12.yml`):
//!
//! - users (`GET /v1/users`): the `starting_after` cursor, ordered by `+created_at` (the only
//!   ordering a cursor accepts; ascending so users created during the walk land at its end, where it
//!   reads them). The listing ends with a page shorter than the limit; `GET /v1/users/count` gives the
//!   total.
//! - organizations (`GET /v1/organizations`) and memberships (`GET /v1/organization_memberships`):
//!   only `limit`/`offset`, with `total_count` in every page; also ordered by `+created_at`.
//!
//! Plain values in (base URL, secret key, options), typed pages out: no database, no settings. Every
//! body is bounded, every request paced (`max_per_second`) and retried per [`RetryPolicy`].

use std::time::Duration;

use serde::de::DeserializeOwned;
use serde::Deserialize;
use url::Url;

use super::http_client;
use super::organization::{ClerkMembership, ClerkOrganization};
use super::retry::{self, Pacer, RetryPolicy};
use super::user::ClerkUser;
use crate::secret::Secret;

/// The spec's maximum `limit`.
pub const MAX_PAGE_SIZE: u32 = 500;

/// Offset pages overlap their predecessor by one row (to see that nothing moved), so a page must
/// hold at least one row more.
pub const MIN_PAGE_SIZE: u32 = 2;

/// A page of 500 users with full metadata stays well below this; a larger body is refused rather
/// than buffered.
const MAX_PAGE_BYTES: usize = 32 * 1024 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum ListingError {
    #[error("{what}: Clerk answered HTTP {status}")]
    Refused { what: String, status: u16 },
    #[error("{what}: no answer after {attempts} attempts (last: {last})")]
    Exhausted {
        what: String,
        attempts: u32,
        last: String,
    },
    #[error("{what}: Clerk asked to wait {wait:?}, longer than the {limit:?} allowed")]
    WaitTooLong {
        what: String,
        wait: Duration,
        limit: Duration,
    },
    #[error("{what}: unexpected response: {error}")]
    Decode { what: String, error: String },
}

/// How pages are requested.
#[derive(Debug, Clone, Copy)]
pub struct ListingOptions {
    /// Items per page, [`MIN_PAGE_SIZE`] to [`MAX_PAGE_SIZE`].
    pub page_size: u32,
    /// Request starts per second at most (`--max-rps`); `None` for no limit.
    pub max_per_second: Option<u32>,
    /// Each request's time limit.
    pub timeout: Duration,
    pub retry: RetryPolicy,
}

/// A page of an offset listing.
#[derive(Debug, Clone, PartialEq)]
pub struct OffsetPage<T> {
    pub items: Vec<T>,
    /// The listing's size when this page was read.
    pub total_count: u64,
}

#[derive(Deserialize)]
struct PaginatedBody<T> {
    data: Vec<T>,
    total_count: u64,
}

#[derive(Deserialize)]
struct TotalCountBody {
    total_count: u64,
}

/// Lists users, organizations and memberships.
pub struct ListingClient {
    /// Ends with `/v1/`.
    base: Url,
    secret: Secret,
    options: ListingOptions,
    pacer: Pacer,
}

impl std::fmt::Debug for ListingClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ListingClient({})", self.base)
    }
}

/// What went wrong with one attempt, and whether another may help.
enum Attempt {
    Retry {
        after: Option<Duration>,
        why: String,
    },
    Fail(ListingError),
}

impl ListingClient {
    pub fn new(api_url: &Url, secret: Secret, options: ListingOptions) -> Self {
        let mut base = api_url.clone();
        let path = base.path().trim_end_matches('/').to_owned();
        base.set_path(&format!("{path}/v1/"));
        let options = ListingOptions {
            page_size: options.page_size.clamp(MIN_PAGE_SIZE, MAX_PAGE_SIZE),
            ..options
        };
        Self {
            base,
            secret,
            pacer: Pacer::new(options.max_per_second),
            options,
        }
    }

    pub fn page_size(&self) -> u32 {
        self.options.page_size
    }

    /// `GET /v1/users/count`.
    pub async fn user_count(&self) -> Result<u64, ListingError> {
        let body: TotalCountBody = self.get("users/count", &[]).await?;
        Ok(body.total_count)
    }

    /// The users after the user `after` (from the first when `None`). Fewer than
    /// [`page_size`](Self::page_size) users means the listing has ended.
    pub async fn users_after(&self, after: Option<&str>) -> Result<Vec<ClerkUser>, ListingError> {
        let limit = self.options.page_size.to_string();
        let mut query = vec![("order_by", "+created_at"), ("limit", limit.as_str())];
        if let Some(after) = after {
            query.push(("starting_after", after));
        }
        let users: Vec<ClerkUser> = self.get("users", &query).await?;
        self.check_length("users", users.len())?;
        Ok(users)
    }

    /// The organizations from position `offset`.
    pub async fn organizations_at(
        &self,
        offset: u64,
    ) -> Result<OffsetPage<ClerkOrganization>, ListingError> {
        self.offset_page("organizations", offset).await
    }

    /// The memberships (of every organization) from position `offset`.
    pub async fn memberships_at(
        &self,
        offset: u64,
    ) -> Result<OffsetPage<ClerkMembership>, ListingError> {
        self.offset_page("organization_memberships", offset).await
    }

    async fn offset_page<T: DeserializeOwned>(
        &self,
        path: &str,
        offset: u64,
    ) -> Result<OffsetPage<T>, ListingError> {
        let limit = self.options.page_size.to_string();
        let offset = offset.to_string();
        let query = [
            ("order_by", "+created_at"),
            ("limit", limit.as_str()),
            ("offset", offset.as_str()),
        ];
        let body: PaginatedBody<T> = self.get(path, &query).await?;
        self.check_length(path, body.data.len())?;
        Ok(OffsetPage {
            items: body.data,
            total_count: body.total_count,
        })
    }

    /// A page longer than asked for is not one this client understands: refused, not applied.
    fn check_length(&self, what: &str, len: usize) -> Result<(), ListingError> {
        if len > self.options.page_size as usize {
            return Err(ListingError::Decode {
                what: what.to_owned(),
                error: format!(
                    "{len} items in a page of at most {}",
                    self.options.page_size
                ),
            });
        }
        Ok(())
    }

    /// GETs `path?query`, retrying per the policy, and decodes a 200's bounded body.
    async fn get<T: DeserializeOwned>(
        &self,
        path: &str,
        query: &[(&str, &str)],
    ) -> Result<T, ListingError> {
        let mut url = self.base.join(path).map_err(|e| ListingError::Decode {
            what: path.to_owned(),
            error: e.to_string(),
        })?;
        url.query_pairs_mut().extend_pairs(query);
        let what = format!("GET /v1/{path}");
        let policy = self.options.retry;
        let mut attempt = 1;
        loop {
            self.pacer.wait().await;
            let (after, why) = match self.attempt::<T>(&url, &what).await {
                Ok(value) => return Ok(value),
                Err(Attempt::Fail(error)) => return Err(error),
                Err(Attempt::Retry { after, why }) => (after, why),
            };
            if attempt >= policy.max_attempts {
                return Err(ListingError::Exhausted {
                    what,
                    attempts: attempt,
                    last: why,
                });
            }
            let wait = match after {
                Some(wait) if wait > policy.max_retry_after => {
                    return Err(ListingError::WaitTooLong {
                        what,
                        wait,
                        limit: policy.max_retry_after,
                    })
                }
                Some(wait) => wait,
                None => policy.backoff(attempt, retry::jitter_seed()),
            };
            log::warn!(target: "auth_core::sync", "{what}: {why}; retrying in {wait:?} (attempt {attempt}/{})", policy.max_attempts);
            actix_web::rt::time::sleep(wait).await;
            attempt += 1;
        }
    }

    async fn attempt<T: DeserializeOwned>(&self, url: &Url, what: &str) -> Result<T, Attempt> {
        let sent = http_client::client(self.options.timeout)
            .get(url.as_str())
            .bearer_auth(self.secret.expose())
            .insert_header(("Accept", "application/json"))
            .send()
            .await;
        let mut response = sent.map_err(|e| Attempt::Retry {
            after: None,
            why: format!("request failed: {e}"),
        })?;
        let status = response.status().as_u16();
        match status {
            200 => {}
            429 => {
                let header = response
                    .headers()
                    .get("retry-after")
                    .and_then(|v| v.to_str().ok());
                return Err(Attempt::Retry {
                    after: retry::retry_after(header),
                    why: "HTTP 429".to_owned(),
                });
            }
            500..=599 => {
                return Err(Attempt::Retry {
                    after: None,
                    why: format!("HTTP {status}"),
                })
            }
            _ => {
                return Err(Attempt::Fail(ListingError::Refused {
                    what: what.to_owned(),
                    status,
                }))
            }
        }
        let body = response
            .body()
            .limit(MAX_PAGE_BYTES)
            .await
            .map_err(|e| match e {
                awc::error::PayloadError::Overflow => Attempt::Fail(ListingError::Decode {
                    what: what.to_owned(),
                    error: format!("body larger than {MAX_PAGE_BYTES} bytes"),
                }),
                other => Attempt::Retry {
                    after: None,
                    why: format!("body not read: {other}"),
                },
            })?;
        serde_json::from_slice(&body).map_err(|e| {
            Attempt::Fail(ListingError::Decode {
                what: what.to_owned(),
                error: e.to_string(),
            })
        })
    }
}
