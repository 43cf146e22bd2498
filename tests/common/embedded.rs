//! auth-core mounted in an application with routes of its own, as a team's backend embeds it: served
//! on a loopback port with one worker, on a manual clock set to `now_s`, keys from the Clerk stand-in.

use actix_web::web;
use auth_core::clock::{Clock, ManualClock};
use auth_core::state::AppState;
use auth_core::AuthCore;

use super::clerk::{ClerkStandIn, ISSUER};
use super::{client, Response, TestDb};

/// Starts the application: auth-core's routes plus those `routes` adds (with the middleware stack;
/// `routes` wraps its own `authenticate`, to choose the credential kinds per scope). Returns its base
/// URL, the shared state and the clock's handle.
pub async fn start(
    db: &TestDb,
    clerk: &ClerkStandIn,
    now_s: i64,
    routes: fn(&mut web::ServiceConfig),
) -> (String, AppState, ManualClock) {
    let jwks = clerk.jwks_url();
    let settings = db.settings(&[
        ("CLERK_JWKS_URL", jwks.as_str()),
        ("AUTH_CORE__AUTH__ISSUER", ISSUER),
    ]);
    let (clock, handle) = Clock::manual(now_s * 1000);
    let running = AuthCore::from_settings(settings)
        .clock(clock)
        .public_routes(routes)
        .bind("127.0.0.1:0")
        .workers(1)
        .start()
        .await
        .unwrap();
    let base = format!("http://{}", running.addrs()[0]);
    let state = running.state().clone();
    actix_web::rt::spawn(running.wait());
    (base, state, handle)
}

/// `GET base+path` with `token` as a bearer: the status and the JSON body.
pub async fn call(base: &str, token: &str, path: &str) -> (u16, serde_json::Value) {
    let req = client()
        .get(format!("{base}{path}"))
        .insert_header(("Authorization", format!("Bearer {token}")));
    let res = Response::from(req.send().await.unwrap()).await;
    (res.status, res.json())
}
