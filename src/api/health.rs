//! Liveness (`/healthz`: the process answers) and readiness (`/api/auth/health`: its dependencies do).

use actix_web::{web, HttpResponse};
use serde::Serialize;
use utoipa::ToSchema;

use crate::clerk::key_source::NO_KEY_SOURCE_RETRY_AFTER_SECS;
use crate::http::request_id::RequestId;
use crate::state::AppState;

#[derive(Serialize, ToSchema)]
pub struct Liveness {
    /// Always `healthy`.
    #[schema(example = "healthy")]
    pub status: &'static str,
}

/// Readiness: `healthy` with every check up, else `unhealthy` naming what is down.
#[derive(Serialize, ToSchema)]
pub struct Readiness {
    /// `healthy` or `unhealthy`.
    pub status: &'static str,
    /// What is down (only when unhealthy).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub down: Option<Vec<&'static str>>,
    pub checks: Checks,
    /// The response's `X-Request-Id` (only when unhealthy).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct Checks {
    pub database: DatabaseCheck,
    pub signing_keys: SigningKeysCheck,
    pub change_feed: ChangeFeedCheck,
}

/// Whether this instance hears the other instances' changes (PostgreSQL's change feed). Detail only:
/// without it the instance still serves, with caches that follow their TTLs and polling, so it never
/// makes the instance unhealthy.
#[derive(Serialize, ToSchema)]
pub struct ChangeFeedCheck {
    /// `listening`; `connecting` (since start-up, not yet listening); `reconnecting` (the listening
    /// connection was lost); or `single_instance` (SQLite: nothing to listen to).
    pub status: &'static str,
    /// Milliseconds without a listener so far in the current gap (0 while listening).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub without_listener_ms: Option<u64>,
    /// Milliseconds without a listener since start, start-up included.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub total_without_listener_ms: Option<u64>,
    /// Listening connections opened again after one was lost.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reconnects: Option<u64>,
}

fn change_feed_check(state: &AppState) -> ChangeFeedCheck {
    let feed = state.change_feed.read();
    if !feed.used {
        return ChangeFeedCheck {
            status: "single_instance",
            without_listener_ms: None,
            total_without_listener_ms: None,
            reconnects: None,
        };
    }
    let status = match (feed.listening, feed.ever_listened) {
        (true, _) => "listening",
        (false, true) => "reconnecting",
        (false, false) => "connecting",
    };
    ChangeFeedCheck {
        status,
        without_listener_ms: Some(feed.current_gap_ms),
        total_without_listener_ms: Some(feed.total_gap_ms),
        reconnects: Some(feed.reconnects),
    }
}

#[derive(Serialize, ToSchema)]
pub struct DatabaseCheck {
    /// `up` or `down`.
    pub status: &'static str,
    /// `sqlite` or `postgres`.
    pub backend: &'static str,
}

/// Whether a session token could be verified now: a key source is configured and its keys are at
/// hand.
#[derive(Serialize, ToSchema)]
pub struct SigningKeysCheck {
    /// `up` or `down`.
    pub status: &'static str,
    /// `pem` (CLERK_JWT_KEY), `jwks_url` (CLERK_JWKS_URL), `backend_api` (CLERK_SECRET_KEY),
    /// `frontend_api` (CLERK_PUBLISHABLE_KEY) or `none`.
    pub source: &'static str,
    /// `configured` (PEM), `fresh` (fetched within `clerk.jwks_cache_ttl_secs`), `stale` (older, and
    /// served while refetches fail, for one more TTL), `expired` (older than that), `never_fetched`,
    /// or `no_key_source`.
    pub keys: &'static str,
}

/// Liveness: the process answers.
///
/// Touches nothing, so an orchestrator restarts the process only when the process itself is stuck.
#[utoipa::path(get, path = "/healthz", tag = "health",
    responses(
        (status = 200, description = "The process answers", body = Liveness),
        (status = 405, response = crate::api::responses::MethodNotAllowed),
    )
)]
pub async fn liveness() -> HttpResponse {
    HttpResponse::Ok().json(Liveness { status: "healthy" })
}

/// `Retry-After` when the database is down: it usually comes back within seconds.
const DATABASE_RETRY_AFTER_SECS: u64 = 1;

/// Readiness: the database answers and a signing key is at hand.
///
/// 200 when the database answers a round trip and session tokens can be verified (a PEM key, or a
/// JWKS fetched within its TTL or served stale for one more TTL), else 503 naming what is down. A
/// key set past its TTL is refetched first (at most once per `clerk.jwks_refetch_cooldown_secs`).
/// The database error itself goes to the log; the body says only that it is down.
#[utoipa::path(get, path = "/api/auth/health", tag = "health",
    responses(
        (status = 200, description = "Every dependency is up", body = Readiness),
        (status = 503, description = "A dependency is down (`Retry-After`: 1 s for the database, \
            the JWKS refetch cooldown for keys, 30 s without a key source)", body = Readiness,
            headers(("Retry-After" = String, description = "Seconds before retrying"))),
        (status = 405, response = crate::api::responses::MethodNotAllowed),
    )
)]
pub async fn readiness(state: web::Data<AppState>, request_id: RequestId) -> HttpResponse {
    let (database, (signing_keys, keys_retry_after)) =
        tokio::join!(database_check(&state), signing_keys_check(&state));
    let mut down = Vec::new();
    let mut retry_after = 0;
    if database.status != "up" {
        down.push("database");
        retry_after = DATABASE_RETRY_AFTER_SECS;
    }
    if signing_keys.status != "up" {
        down.push("signing_keys");
        retry_after = retry_after.max(keys_retry_after);
    }
    let checks = Checks {
        database,
        signing_keys,
        change_feed: change_feed_check(&state),
    };
    if down.is_empty() {
        return HttpResponse::Ok().json(Readiness {
            status: "healthy",
            down: None,
            checks,
            request_id: None,
        });
    }
    HttpResponse::ServiceUnavailable()
        .insert_header(("Retry-After", retry_after.to_string()))
        .json(Readiness {
            status: "unhealthy",
            down: Some(down),
            checks,
            request_id: Some(request_id.as_str().to_owned()),
        })
}

async fn database_check(state: &AppState) -> DatabaseCheck {
    let backend = state.db.backend().name();
    match state.db.ping().await {
        Ok(()) => DatabaseCheck {
            status: "up",
            backend,
        },
        Err(error) => {
            log::warn!(target: "auth_core::health", "database check failed: {error}");
            DatabaseCheck {
                status: "down",
                backend,
            }
        }
    }
}

/// The check, and the `Retry-After` it asks for when down. Not logged here: the key store logs an
/// outage once per interval, and start-up warns about a missing key source.
async fn signing_keys_check(state: &AppState) -> (SigningKeysCheck, u64) {
    let source = state.settings.clerk.key_source();
    let (Some(source), Some(keys)) = (source, state.verifier.key_store()) else {
        let check = SigningKeysCheck {
            status: "down",
            source: "none",
            keys: "no_key_source",
        };
        return (check, NO_KEY_SOURCE_RETRY_AFTER_SECS);
    };
    keys.refresh_when_stale().await;
    let availability = keys.availability();
    let check = SigningKeysCheck {
        status: if availability.is_available() {
            "up"
        } else {
            "down"
        },
        source: source.kind(),
        keys: availability.as_str(),
    };
    // The next fetch attempt is due after the cooldown: asking sooner learns nothing new.
    let retry_after = state.settings.clerk.jwks_refetch_cooldown.as_secs().max(1);
    (check, retry_after)
}
