//! Local stand-ins for Clerk: a JWKS endpoint (Frontend API style, `/jwks`) and the parts of the
//! Backend API auth-core calls (`/v1/jwks`, `/v1/users/{id}`), answering in the shapes of Clerk's specs.
//! The test controls which keys are served, whether the server is up, and counts fetches.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use actix_web::dev::ServerHandle;
use actix_web::{web, App, HttpRequest, HttpResponse, HttpServer};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{json, Value};

pub const SECRET_KEY: &str = "sk_test_standin0secret0key";
pub const KID_A: &str = "ins_test_a";
pub const KID_B: &str = "ins_test_b";

fn fixture(path: &str) -> String {
    std::fs::read_to_string(format!(
        "{}/tests/fixtures/{path}",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap()
}

/// The JWK of fixture key `a` or `b`.
pub fn jwk(which: &str) -> Value {
    let all: Value = serde_json::from_str(&fixture("keys/jwks.json")).unwrap();
    all[which].clone()
}

#[derive(Default)]
struct State {
    keys: Mutex<Vec<Value>>,
    jwks_fetches: AtomicUsize,
    users: Mutex<HashMap<String, Value>>,
    user_fetches: AtomicUsize,
    /// Answer user fetches with this status instead (0 = normal).
    user_failure_status: AtomicUsize,
    /// While set, the JWKS endpoints answer 503.
    jwks_down: std::sync::atomic::AtomicBool,
    /// Machine tokens Clerk knows: token → the verify endpoint's 200 body.
    machine_tokens: Mutex<HashMap<String, Value>>,
    machine_verifications: AtomicUsize,
    /// While set, the machine-token verify endpoints answer 503.
    machine_down: std::sync::atomic::AtomicBool,
    /// TCP connections accepted, whatever they were used for.
    connections: AtomicUsize,
}

pub struct ClerkStandIn {
    pub base: String,
    state: Arc<State>,
    handle: ServerHandle,
}

impl ClerkStandIn {
    /// Starts on a free loopback port in the current Actix runtime, serving `kids` (of "a", "b").
    pub fn start(keys: &[&str]) -> Self {
        let state = Arc::new(State::default());
        *state.keys.lock().unwrap() = keys.iter().map(|k| jwk(k)).collect();
        let shared = state.clone();
        let counted = state.clone();
        let on_connect = move || {
            counted.connections.fetch_add(1, Ordering::SeqCst);
        };
        let (base, handle) = serve_on_loopback(on_connect, move |app| {
            app.app_data(web::Data::from(shared.clone()))
                .route("/jwks", web::get().to(public_jwks))
                .route("/v1/jwks", web::get().to(backend_jwks))
                .route("/v1/users/{id}", web::get().to(get_user))
                .route("/v1/api_keys/verify", web::post().to(verify_api_key))
                .route("/v1/m2m_tokens/verify", web::post().to(verify_m2m_token))
                .route(
                    "/v1/oauth_applications/access_tokens/verify",
                    web::post().to(verify_oauth_token),
                );
        });
        Self {
            base,
            state,
            handle,
        }
    }

    pub fn jwks_url(&self) -> String {
        format!("{}/jwks", self.base)
    }

    pub fn set_keys(&self, keys: &[&str]) {
        *self.state.keys.lock().unwrap() = keys.iter().map(|k| jwk(k)).collect();
    }

    /// Makes the JWKS endpoints answer 503 (`true`) or serve keys again (`false`).
    pub fn set_jwks_down(&self, down: bool) {
        self.state.jwks_down.store(down, Ordering::SeqCst);
    }

    pub fn jwks_fetches(&self) -> usize {
        self.state.jwks_fetches.load(Ordering::SeqCst)
    }

    pub fn user_fetches(&self) -> usize {
        self.state.user_fetches.load(Ordering::SeqCst)
    }

    pub fn put_user(&self, user: Value) {
        let id = user["id"].as_str().unwrap().to_owned();
        self.state.users.lock().unwrap().insert(id, user);
    }

    pub fn fail_user_fetches_with(&self, status: u16) {
        self.state
            .user_failure_status
            .store(usize::from(status), Ordering::SeqCst);
    }

    /// Makes Clerk know `token`, answering its verify endpoint with `body`.
    pub fn put_machine_token(&self, token: &str, body: Value) {
        self.state
            .machine_tokens
            .lock()
            .unwrap()
            .insert(token.to_owned(), body);
    }

    /// A valid token of `kind` (`api_key`, `m2m_token`, `oauth_token`) that Clerk knows, acting for
    /// `subject`, without expiry: its text (Clerk's shape, from `name`).
    pub fn put_valid_token(&self, kind: &str, name: &str, subject: &str) -> String {
        let prefix = match kind {
            "api_key" => "ak_",
            "m2m_token" => "mt_",
            _ => "oat_",
        };
        let token = opaque_token(prefix, name);
        self.put_machine_token(
            &token,
            machine_token_body(kind, subject, &[], None, false, false),
        );
        token
    }

    pub fn machine_verifications(&self) -> usize {
        self.state.machine_verifications.load(Ordering::SeqCst)
    }

    /// TCP connections accepted so far (a client that reuses connections opens few).
    pub fn connections(&self) -> usize {
        self.state.connections.load(Ordering::SeqCst)
    }

    pub fn set_machine_down(&self, down: bool) {
        self.state.machine_down.store(down, Ordering::SeqCst);
    }

    /// Stops answering: connections are refused from now on.
    pub async fn stop(&self) {
        self.handle.stop(false).await;
    }
}

/// Serves what `configure` sets up on a free loopback port, with one worker, in the current Actix
/// runtime; returns the base URL and the handle that stops it.
pub fn serve_on_loopback(
    on_connect: impl Fn() + Send + Sync + 'static,
    configure: impl Fn(&mut web::ServiceConfig) + Send + Clone + 'static,
) -> (String, ServerHandle) {
    let server = HttpServer::new(move || App::new().configure(configure.clone()))
        .on_connect(move |_, _| on_connect())
        .workers(1)
        .disable_signals()
        .bind("127.0.0.1:0")
        .unwrap();
    let base = format!("http://{}", server.addrs()[0]);
    let server = server.run();
    let handle = server.handle();
    actix_web::rt::spawn(server);
    (base, handle)
}

/// The request carries the stand-in's secret key.
pub fn authorized(req: &HttpRequest) -> bool {
    req.headers()
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        == Some(&format!("Bearer {SECRET_KEY}"))
}

/// Clerk's error body shape (`ClerkErrors`).
pub fn clerk_error(status: u16, code: &str, message: &str) -> HttpResponse {
    HttpResponse::build(actix_web::http::StatusCode::from_u16(status).unwrap()).json(json!({
        "errors": [{"message": message, "long_message": message, "code": code}],
        "meta": {}
    }))
}

async fn public_jwks(state: web::Data<State>) -> HttpResponse {
    state.jwks_fetches.fetch_add(1, Ordering::SeqCst);
    if state.jwks_down.load(Ordering::SeqCst) {
        return clerk_error(503, "service_unavailable", "Service unavailable");
    }
    let keys = state.keys.lock().unwrap().clone();
    HttpResponse::Ok().json(json!({ "keys": keys }))
}

async fn backend_jwks(state: web::Data<State>, req: HttpRequest) -> HttpResponse {
    if !authorized(&req) {
        return clerk_error(401, "authentication_invalid", "Invalid authentication");
    }
    public_jwks(state).await
}

async fn get_user(
    state: web::Data<State>,
    req: HttpRequest,
    id: web::Path<String>,
) -> HttpResponse {
    if !authorized(&req) {
        return clerk_error(401, "authentication_invalid", "Invalid authentication");
    }
    state.user_fetches.fetch_add(1, Ordering::SeqCst);
    let failure = state.user_failure_status.load(Ordering::SeqCst);
    if failure != 0 {
        return clerk_error(
            u16::try_from(failure).unwrap(),
            "internal_clerk_error",
            "Something went wrong",
        );
    }
    match state.users.lock().unwrap().get(id.as_str()) {
        Some(user) => HttpResponse::Ok().json(user),
        None => clerk_error(404, "resource_not_found", "Resource not found"),
    }
}

/// Clerk's webhooks spec, parsed once per test binary.
pub fn webhooks_spec() -> &'static Value {
    static SPEC: std::sync::OnceLock<Value> = std::sync::OnceLock::new();
    SPEC.get_or_init(|| serde_yaml_ng::from_str(&fixture("clerk/webhooks-2025-04-15.yml")).unwrap())
}

/// Clerk's example user (the `user.created` example of the webhooks spec), with the given id, one
/// email address in the Backend API's `EmailAddress` shape, and `updated_at`.
pub fn example_user(id: &str, email: &str, updated_at: i64) -> Value {
    let mut user = webhooks_spec()["x-webhooks"]["user.created"]["post"]["requestBody"]["content"]
        ["application/json"]["example"]["data"]
        .clone();
    user["id"] = id.into();
    user["primary_email_address_id"] = "idn_primary".into();
    user["email_addresses"] = json!([{
        "id": "idn_primary", "object": "email_address", "email_address": email, "reserved": false,
        "verification": {"object": "verification_from_oauth", "status": "verified", "strategy": "from_oauth_google", "attempts": null, "expire_at": null},
        "linked_to": [], "created_at": updated_at, "updated_at": updated_at
    }]);
    user["updated_at"] = updated_at.into();
    user
}

/// Mints tokens with fixture key `a` or `b`.
pub struct Minter {
    key: EncodingKey,
    kid: Option<String>,
}

impl Minter {
    pub fn new(which: &str, kid: Option<&str>) -> Self {
        let pem = fixture(&format!("keys/rsa-2048-{which}.pem"));
        Self {
            key: EncodingKey::from_rsa_pem(pem.as_bytes()).unwrap(),
            kid: kid.map(str::to_owned),
        }
    }

    pub fn a() -> Self {
        Self::new("a", Some(KID_A))
    }

    pub fn b() -> Self {
        Self::new("b", Some(KID_B))
    }

    pub fn mint(&self, claims: &Value) -> String {
        self.mint_with_header(Header::new(Algorithm::RS256), claims)
    }

    pub fn mint_with_header(&self, mut header: Header, claims: &Value) -> String {
        if header.kid.is_none() {
            header.kid.clone_from(&self.kid);
        }
        jsonwebtoken::encode(&header, claims, &self.key).unwrap()
    }
}

pub const ISSUER: &str = "https://clerk.example.com";
pub const APP_ORIGIN: &str = "https://app.example.com";

/// Claims of a valid session token at `now_s`, with `extra` merged in (`null` removes a claim).
pub fn session_claims(now_s: i64, extra: Value) -> Value {
    merged(
        json!({
            "sub": "user_2test", "sid": "sess_2test", "iss": ISSUER, "azp": APP_ORIGIN,
            "iat": now_s, "nbf": now_s - 10, "exp": now_s + 60, "v": 2,
            "fea": "o:billing", "o": {"id": "org_2test", "slg": "acme", "rol": "admin", "per": "read,manage", "fpm": "3"},
        }),
        &extra,
    )
}

/// `base` with the members of `extra` set on it (`null` removes a member).
pub fn merged(mut base: Value, extra: &Value) -> Value {
    for (k, v) in extra.as_object().unwrap() {
        if v.is_null() {
            base.as_object_mut().unwrap().remove(k);
        } else {
            base[k] = v.clone();
        }
    }
    base
}

/// One verify endpoint: the bearer secret and the exact body field of that endpoint are checked.
fn verify_machine(state: &State, req: &HttpRequest, body: &Value, field: &str) -> HttpResponse {
    if !authorized(req) {
        return clerk_error(401, "authentication_invalid", "Invalid authentication");
    }
    state.machine_verifications.fetch_add(1, Ordering::SeqCst);
    if state.machine_down.load(Ordering::SeqCst) {
        return clerk_error(503, "service_unavailable", "Service unavailable");
    }
    let Some(token) = body.get(field).and_then(Value::as_str) else {
        return clerk_error(400, "form_param_missing", "Bad Request");
    };
    match state.machine_tokens.lock().unwrap().get(token) {
        Some(found) => HttpResponse::Ok().json(found),
        None => clerk_error(404, "resource_not_found", "Resource not found"),
    }
}

async fn verify_api_key(
    state: web::Data<State>,
    req: HttpRequest,
    body: web::Json<Value>,
) -> HttpResponse {
    verify_machine(&state, &req, &body, "secret")
}

async fn verify_m2m_token(
    state: web::Data<State>,
    req: HttpRequest,
    body: web::Json<Value>,
) -> HttpResponse {
    verify_machine(&state, &req, &body, "token")
}

async fn verify_oauth_token(
    state: web::Data<State>,
    req: HttpRequest,
    body: web::Json<Value>,
) -> HttpResponse {
    verify_machine(&state, &req, &body, "access_token")
}

/// An opaque machine token of Clerk's shape: `prefix` (`ak_`, `mt_`, `oat_`), then `name` padded to
/// the 32 characters Clerk's tokens carry.
pub fn opaque_token(prefix: &str, name: &str) -> String {
    format!("{prefix}{name:x<32}")
}

/// A verify endpoint's 200 body, in the Backend API spec's shape for each kind.
pub fn machine_token_body(
    kind: &str,
    subject: &str,
    scopes: &[&str],
    expiration_ms: Option<i64>,
    revoked: bool,
    expired: bool,
) -> Value {
    let common = json!({"subject": subject, "scopes": scopes, "revoked": revoked,
        "revocation_reason": if revoked { json!("compromised") } else { Value::Null },
        "expired": expired, "expiration": expiration_ms, "created_at": 1_716_883_200_000_i64, "updated_at": 1_716_883_200_000_i64});
    let mut body = match kind {
        "api_key" => {
            json!({"object": "api_key", "id": "ak_3beecc9c60adb5f9b850e91a8ee1e992", "type": "api_key",
            "name": "ci-pipeline", "claims": null, "created_by": "user_admin", "last_used_at": null})
        }
        "m2m_token" => {
            json!({"object": "machine_to_machine_token", "id": "mt_f7f0ba8c3b4843ce7d85fcdd5e71853e",
            "claims": null, "last_used_at": null})
        }
        _ => {
            json!({"object": "clerk_idp_oauth_access_token", "id": "oat_0ef5a7a33d87ed87ee7954c845d80450",
            "client_id": "client_2xhFjEI5X2qWRvtV13BzSj8H6Dk"})
        }
    };
    for (k, v) in common.as_object().unwrap() {
        body[k] = v.clone();
    }
    body
}
