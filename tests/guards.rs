//! Route guards over HTTP, each allowing and denying: auth-core mounted in an application whose own
//! routes are guarded by role, permission, feature and plan, for users and service keys.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use actix_web::{middleware::from_fn, web, HttpResponse};
use auth_core::request::authenticate::{authenticate, Accepts};
use auth_core::request::{OrgScope, Require};
use auth_core::state::AppState;
use common::clerk::{session_claims, ClerkStandIn, Minter};
use common::embedded::{call, start};
use common::{client, Response, TestDb};
use serde_json::json;

const NOW_S: i64 = 1_800_000_000;

async fn ok(scope: OrgScope) -> HttpResponse {
    HttpResponse::Ok().json(json!({"org": scope.organization_id()}))
}

/// A handler that takes no `OrgScope`: only its guard stands between it and the token's claims.
async fn unscoped() -> HttpResponse {
    HttpResponse::Ok().json(json!({"unscoped": true}))
}

/// auth-core's routes plus guarded ones of the application's own.
fn routes(config: &mut web::ServiceConfig) {
    config.service(
        web::scope("/app")
            .wrap(from_fn(|req, next| authenticate(Accepts::ANY, req, next)))
            .service(
                web::resource("/admin")
                    .wrap(Require::role("org:admin"))
                    .to(ok),
            )
            .service(
                web::resource("/manage")
                    .wrap(Require::permission("reports:manage"))
                    .to(ok),
            )
            .service(
                web::resource("/billing")
                    .wrap(Require::feature("o:billing"))
                    .to(ok),
            )
            .service(web::resource("/team").wrap(Require::plan("team")).to(ok))
            .service(
                web::resource("/unscoped")
                    .wrap(Require::role("org:admin"))
                    .to(unscoped),
            ),
    );
}

fn user(role: &str, fpm: &str, fea: &str, pla: &str) -> String {
    Minter::a().mint(&session_claims(
        NOW_S,
        json!({"fea": fea, "pla": pla, "o": {"id": "org_acme", "rol": role, "per": "read,manage", "fpm": fpm}}),
    ))
}

async fn each_guard_allows_and_denies(db: TestDb) {
    let clerk = ClerkStandIn::start(&["a"]);
    let (base, state, _) = start(&db, &clerk, NOW_S, routes).await;
    let admin = user("admin", "3", "o:reports,o:billing", "o:team");
    let member = user("member", "1", "o:reports", "u:pro");
    for (path, required) in [
        ("/app/admin", json!({"role": "org:admin"})),
        ("/app/manage", json!({"permission": "reports:manage"})),
        ("/app/billing", json!({"feature": "o:billing"})),
        ("/app/team", json!({"plan": "team"})),
    ] {
        let (status, body) = call(&base, &admin, path).await;
        assert_eq!(
            (status, &body["org"]),
            (200, &json!("org_acme")),
            "admin on {path}: {body}"
        );
        let (status, body) = call(&base, &member, path).await;
        assert_eq!(status, 403, "member on {path}: {body}");
        assert_eq!(body["error"]["code"], "insufficient-permissions");
        assert_eq!(body["error"]["required"], required);
    }
    // No active organization: role and permission guards fail closed.
    let no_org = Minter::a().mint(&session_claims(
        NOW_S,
        json!({"o": null, "fea": "u:billing"}),
    ));
    assert_eq!(call(&base, &no_org, "/app/manage").await.0, 403);
    assert_eq!(call(&base, &no_org, "/app/admin").await.0, 403);
    // A service key's scopes are its permissions; it has no role, features or plans.
    let key = state
        .db
        .run(|c| {
            auth_core::auth::service_keys::create(
                c,
                "k",
                Some("org_acme"),
                &["org:reports:manage".into()],
                None,
                None,
                NOW_S * 1000,
            )
            .map_err(|e| auth_core::db::DbError::Migration(e.to_string()))
        })
        .await
        .unwrap()
        .secret;
    assert_eq!(call(&base, &key, "/app/manage").await.0, 200);
    for path in ["/app/admin", "/app/billing", "/app/team"] {
        assert_eq!(call(&base, &key, path).await.0, 403, "{path}");
    }
    // No credential at all: 401, not 403.
    let res = Response::from(
        client()
            .get(format!("{base}/app/admin"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(res.status, 401);
}

/// What an organizationMembership.deleted webhook leaves behind for `user_2test` in `org_acme`: the
/// membership row, deleted (and the user's cached profile dropped, as the webhook does).
async fn remove_membership(state: &AppState) {
    let t = NOW_S * 1000;
    let sql = format!(
        "INSERT INTO organizations (id, name, clerk_created_at, clerk_updated_at, created_at, synced_at) \
         VALUES ('org_acme', 'Acme', {t}, {t}, {t}, {t}); \
         INSERT INTO organization_memberships (id, organization_id, user_id, role, clerk_created_at, \
         clerk_updated_at, deleted_at, created_at, synced_at) \
         VALUES ('orgmem_1', 'org_acme', 'user_2test', 'org:admin', {t}, {t}, {t}, {t}, {t});"
    );
    state
        .db
        .run(move |c| {
            use diesel::connection::SimpleConnection;
            c.batch_execute(&sql).map_err(auth_core::db::DbError::Query)
        })
        .await
        .unwrap();
    state.users.forget("user_2test");
}

/// A membership removed since the token was minted is refused by the guard itself, also on a route
/// whose handler takes no `OrgScope`; the claims alone would still say admin.
async fn a_guard_refuses_a_removed_membership(db: TestDb) {
    let clerk = ClerkStandIn::start(&["a"]);
    let (base, state, _) = start(&db, &clerk, NOW_S, routes).await;
    let admin = user("admin", "3", "", "");
    let (status, body) = call(&base, &admin, "/app/unscoped").await;
    assert_eq!((status, body), (200, json!({"unscoped": true})));
    remove_membership(&state).await;
    for path in ["/app/unscoped", "/app/admin"] {
        let (status, body) = call(&base, &admin, path).await;
        assert_eq!(status, 403, "{path}: {body}");
        assert_eq!(body["error"]["code"], "membership-revoked", "{path}");
    }
    // A token without an active organization is judged on its claims alone (and has no role).
    let no_org = Minter::a().mint(&session_claims(NOW_S, json!({"o": null})));
    let (status, body) = call(&base, &no_org, "/app/unscoped").await;
    assert_eq!(status, 403);
    assert_eq!(body["error"]["code"], "insufficient-permissions");
}

/// `call`, and how many user profiles the request looked up.
async fn call_counting_lookups(
    base: &str,
    state: &AppState,
    token: &str,
    path: &str,
) -> (u16, serde_json::Value, u64) {
    let before = state.users.lookups();
    let (status, body) = call(base, token, path).await;
    (status, body, state.users.lookups() - before)
}

/// The user's standing is judged once per request: a route with a guard and an `OrgScope` looks the
/// user up once, as does a guard alone or `/me`; a token without an active organization is judged
/// by a guard on its claims alone. A refusal is reached with that one lookup too.
async fn the_standing_is_looked_up_once_per_request(db: TestDb) {
    let clerk = ClerkStandIn::start(&["a"]);
    let (base, state, _) = start(&db, &clerk, NOW_S, routes).await;
    let admin = user("admin", "3", "", "");
    let no_org = Minter::a().mint(&session_claims(NOW_S, json!({"o": null})));
    for (token, path, expected, looked_up) in [
        (&admin, "/app/admin", 200, 1),
        (&admin, "/app/unscoped", 200, 1),
        (&admin, "/api/auth/me", 200, 1),
        (&no_org, "/app/unscoped", 403, 0),
        (&no_org, "/api/auth/me", 200, 1),
    ] {
        let (status, body, lookups) = call_counting_lookups(&base, &state, token, path).await;
        assert_eq!(status, expected, "{path}: {body}");
        assert_eq!(lookups, looked_up, "{path}");
    }
    // The membership removed: the guard refuses, and the handler's `OrgScope` never runs.
    remove_membership(&state).await;
    let (status, body, lookups) = call_counting_lookups(&base, &state, &admin, "/app/admin").await;
    assert_eq!(status, 403, "{body}");
    assert_eq!(body["error"]["code"], "membership-revoked");
    assert_eq!(lookups, 1);
}

db_test!(each_guard_allows_and_denies);
db_test!(a_guard_refuses_a_removed_membership);
db_test!(the_standing_is_looked_up_once_per_request);
