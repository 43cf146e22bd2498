//! The example team backend (`examples/team_backend.rs`), its notes routes mounted by `AuthCore` with
//! its own migration, over real HTTP on both databases: each organization sees and changes only its
//! own notes (another organization's note is 404 however it is asked for), a membership removed by
//! webhook is refused at once, a service key bound to an organization works in it, titles are
//! bounded, deletion is for `org:admin`. Also what the builder promises: the audit trail is written
//! at shutdown, and an application's migration cannot reuse one of auth-core's versions.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

#[path = "../examples/team_backend/notes.rs"]
mod notes;

use auth_core::clock::Clock;
use auth_core::db::migrations::MigrationSet;
use auth_core::db::schema::audit_events;
use auth_core::AuthCore;
use common::clerk::{session_claims, ClerkStandIn, Minter, ISSUER};
use common::webhooks::{deliver, example, WEBHOOK_SECRET};
use common::{client, Response, TestApp, TestDb};
use diesel::prelude::*;
use serde_json::{json, Value};

const NOW_S: i64 = 1_800_000_000;

struct Team {
    app: TestApp,
    _clerk: ClerkStandIn,
}

fn settings(
    db: &TestDb,
    clerk: &ClerkStandIn,
    extra: &[(&str, &str)],
) -> auth_core::settings::Settings {
    let jwks = clerk.jwks_url();
    let mut env = vec![
        ("CLERK_JWKS_URL", jwks.as_str()),
        ("AUTH_CORE__AUTH__ISSUER", ISSUER),
        ("CLERK_WEBHOOK_SECRET", WEBHOOK_SECRET),
    ];
    env.extend_from_slice(extra);
    db.settings(&env)
}

/// The example's notes, as `examples/team_backend.rs` builds them, on a loopback port.
fn team_backend(settings: auth_core::settings::Settings) -> AuthCore {
    let (clock, _) = Clock::manual(NOW_S * 1000);
    AuthCore::from_settings(settings)
        .clock(clock)
        .migrations(notes::MIGRATIONS)
        .configure(notes::routes)
        .bind("127.0.0.1:0")
        .workers(1)
}

impl Team {
    async fn start(db: &TestDb) -> Self {
        let clerk = ClerkStandIn::start(&["a"]);
        let running = team_backend(settings(db, &clerk, &[]))
            .start()
            .await
            .unwrap();
        Self {
            app: TestApp::from_running(running),
            _clerk: clerk,
        }
    }

    async fn call(&self, method: &str, token: &str, path: &str, body: Option<Value>) -> Response {
        let method = actix_web::http::Method::from_bytes(method.as_bytes()).unwrap();
        let req = client()
            .request(method, self.app.url(path))
            .insert_header(("Authorization", format!("Bearer {token}")));
        let res = match body {
            Some(body) => req.send_json(&body).await,
            None => req.send().await,
        };
        Response::from(res.unwrap()).await
    }

    /// Creates a note; returns its id.
    async fn note(&self, token: &str, title: &str) -> i64 {
        let res = self
            .call("POST", token, "/api/notes", Some(json!({"title": title})))
            .await;
        assert_eq!(res.status, 201, "{}", String::from_utf8_lossy(&res.body));
        res.json()["id"].as_i64().unwrap()
    }

    async fn titles(&self, token: &str) -> Vec<String> {
        let res = self.call("GET", token, "/api/notes", None).await;
        assert_eq!(res.status, 200, "{}", String::from_utf8_lossy(&res.body));
        res.json()["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|n| n["title"].as_str().unwrap().to_owned())
            .collect()
    }

    async fn webhook(&self, svix_id: &str, event: &Value) {
        let res = deliver(&self.app, svix_id, NOW_S, event).await;
        assert_eq!(res.status, 200, "{}", String::from_utf8_lossy(&res.body));
    }
}

/// A session token of `user` with `org` active in `role` (`admin` or `member`).
fn token(user: &str, org: &str, role: &str) -> String {
    Minter::a().mint(&session_claims(
        NOW_S,
        json!({"sub": user, "sid": format!("sess_{user}_{org}"),
               "o": {"id": org, "rol": role, "slg": org, "per": "read", "fpm": "1"}}),
    ))
}

fn membership_event(id: &str, org: &str, user: &str, kind: &str) -> Value {
    let mut e = example("organizationMembership.created");
    e["type"] = kind.into();
    e["data"]["id"] = id.into();
    e["data"]["role"] = "org:member".into();
    e["data"]["organization"]["id"] = org.into();
    e["data"]["organization"]["slug"] = org.replace('_', "-").into();
    e["data"]["public_user_data"]["user_id"] = user.into();
    e
}

fn error_code(res: &Response) -> Value {
    res.json()["error"]["code"].clone()
}

async fn each_organization_sees_and_changes_only_its_own_notes(db: TestDb) {
    let team = Team::start(&db).await;
    let alice = token("user_alice", "org_alpha", "admin");
    let bob = token("user_bob", "org_beta", "admin");
    let alpha_note = team.note(&alice, "alpha's plan").await;
    let beta_note = team.note(&bob, "beta's plan").await;
    assert_eq!(team.titles(&alice).await, ["alpha's plan"]);
    assert_eq!(team.titles(&bob).await, ["beta's plan"]);

    // The note as created: the organization comes from the token, the author too.
    let res = team
        .call("GET", &alice, &format!("/api/notes/{alpha_note}"), None)
        .await;
    assert_eq!(res.status, 200);
    let note = res.json();
    assert_eq!(
        (
            &note["organization_id"],
            &note["created_by"],
            &note["created_at"]
        ),
        (
            &json!("org_alpha"),
            &json!("user_alice"),
            &json!(NOW_S * 1000)
        )
    );

    // Another organization's note is not found, whichever way it is asked for, and stays.
    for method in ["GET", "DELETE"] {
        let res = team
            .call(method, &alice, &format!("/api/notes/{beta_note}"), None)
            .await;
        assert_eq!(
            (res.status, error_code(&res)),
            (404, json!("not-found")),
            "{method}"
        );
    }
    // Exactly as a note that never existed, and as an id that is no number.
    for path in [
        "/api/notes/999999",
        "/api/notes/abc",
        "/api/notes/-1",
        "/api/notes/0",
    ] {
        let res = team.call("GET", &alice, path, None).await;
        assert_eq!(
            (res.status, error_code(&res)),
            (404, json!("not-found")),
            "{path}"
        );
    }
    // An organization id in the path that is not the active one: 404 before any handler.
    let res = team.call("GET", &alice, "/api/notes/org_beta", None).await;
    assert_eq!(res.status, 404);
    // A body naming another organization is refused, not obeyed.
    let res = team
        .call(
            "POST",
            &alice,
            "/api/notes",
            Some(json!({"title": "x", "organization_id": "org_beta"})),
        )
        .await;
    assert_eq!(res.status, 400);
    assert_eq!(team.titles(&bob).await, ["beta's plan"]);

    // Deleting: its own note, as an admin of its organization.
    let res = team
        .call("DELETE", &bob, &format!("/api/notes/{beta_note}"), None)
        .await;
    assert_eq!((res.status, res.body.len()), (204, 0));
    assert!(team.titles(&bob).await.is_empty());
    let res = team
        .call("DELETE", &bob, &format!("/api/notes/{beta_note}"), None)
        .await;
    assert_eq!(res.status, 404, "already deleted");
    assert_eq!(team.titles(&alice).await, ["alpha's plan"]);
}

async fn deleting_needs_org_admin(db: TestDb) {
    let team = Team::start(&db).await;
    let admin = token("user_alice", "org_alpha", "admin");
    let member = token("user_frank", "org_alpha", "member");
    let id = team.note(&member, "a member may write").await;
    let res = team
        .call("DELETE", &member, &format!("/api/notes/{id}"), None)
        .await;
    assert_eq!(res.status, 403);
    let body = res.json();
    assert_eq!(body["error"]["code"], "insufficient-permissions");
    assert_eq!(body["error"]["required"], json!({"role": "org:admin"}));
    assert_eq!(team.titles(&admin).await, ["a member may write"]);
    // No organization active: the notes have no tenant to belong to.
    let none = Minter::a().mint(&session_claims(
        NOW_S,
        json!({"sub": "user_dave", "o": null}),
    ));
    let res = team.call("GET", &none, "/api/notes", None).await;
    assert_eq!(
        (res.status, error_code(&res)),
        (403, json!("organization-required"))
    );
    // No credential at all: 401, as on auth-core's routes; other methods are 405.
    let res = Response::from(
        client()
            .get(team.app.url("/api/notes"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(
        (res.status, error_code(&res)),
        (401, json!("session-token-missing"))
    );
    assert_eq!(res.header("www-authenticate"), Some("Bearer"));
    // Spelled with a percent-encoded letter, which the router decodes: still authenticated first.
    let res = Response::from(
        client()
            .get(team.app.url("/api/n%6Ftes"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(
        (res.status, error_code(&res)),
        (401, json!("session-token-missing"))
    );
    let res = team.call("PUT", &admin, "/api/notes", None).await;
    assert_eq!(res.status, 405);
    // A path no route has stays a JSON 404 without a credential, as without the team's routes.
    let res = Response::from(
        client()
            .get(team.app.url("/nothing/here"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!((res.status, error_code(&res)), (404, json!("not-found")));
}

async fn titles_are_bounded(db: TestDb) {
    let team = Team::start(&db).await;
    let alice = token("user_alice", "org_alpha", "admin");
    let longest = "é".repeat(notes::TITLE_MAX_CHARS);
    team.note(&alice, &longest).await;
    for bad in [
        json!({"title": ""}),
        json!({"title": "   "}),
        json!({"title": "é".repeat(notes::TITLE_MAX_CHARS + 1)}),
        json!({"title": 5}),
        json!({}),
        json!({"title": "x", "extra": 1}),
    ] {
        let res = team
            .call("POST", &alice, "/api/notes", Some(bad.clone()))
            .await;
        assert_eq!(
            (res.status, error_code(&res)),
            (400, json!("bad-request")),
            "{bad}"
        );
    }
    // Bodies past auth-core's limit are refused before they are read whole.
    let huge = json!({"title": "x".repeat(auth_core::app::BODY_LIMIT)});
    let res = team.call("POST", &alice, "/api/notes", Some(huge)).await;
    assert_eq!(res.status, 413);
    assert_eq!(team.titles(&alice).await, [longest]);
}

async fn a_removed_membership_is_refused_at_once(db: TestDb) {
    let team = Team::start(&db).await;
    let bob = token("user_bob", "org_alpha", "member");
    team.webhook(
        "msg_1",
        &membership_event(
            "orgmem_b",
            "org_alpha",
            "user_bob",
            "organizationMembership.created",
        ),
    )
    .await;
    team.note(&bob, "bob was here").await;
    team.webhook(
        "msg_2",
        &membership_event(
            "orgmem_b",
            "org_alpha",
            "user_bob",
            "organizationMembership.deleted",
        ),
    )
    .await;
    // The token still names the organization; the project answers 403 membership-revoked.
    for (method, path, body) in [
        ("GET", "/api/notes", None),
        ("POST", "/api/notes", Some(json!({"title": "again"}))),
    ] {
        let res = team.call(method, &bob, path, body).await;
        assert_eq!(
            (res.status, error_code(&res)),
            (403, json!("membership-revoked")),
            "{method}"
        );
    }
    let alice = token("user_alice", "org_alpha", "admin");
    assert_eq!(
        team.titles(&alice).await,
        ["bob was here"],
        "nothing written"
    );
}

async fn a_service_key_works_in_its_organization(db: TestDb) {
    let team = Team::start(&db).await;
    let alice = token("user_alice", "org_alpha", "admin");
    team.note(&alice, "from alice").await;
    let beta = token("user_bob", "org_beta", "admin");
    let beta_note = team.note(&beta, "from bob").await;
    let key = team
        .app
        .service_key(Some("org_alpha"), &[], None, NOW_S * 1000)
        .await;
    assert_eq!(team.titles(&key).await, ["from alice"]);
    let res = team
        .call(
            "POST",
            &key,
            "/api/notes",
            Some(json!({"title": "from the key"})),
        )
        .await;
    assert_eq!(res.status, 201);
    let created = res.json();
    assert_eq!(
        (&created["organization_id"], &created["created_by"]),
        (&json!("org_alpha"), &Value::Null)
    );
    assert_eq!(team.titles(&alice).await, ["from the key", "from alice"]);
    let res = team
        .call("GET", &key, &format!("/api/notes/{beta_note}"), None)
        .await;
    assert_eq!(res.status, 404);
    // A key has no role: deletion is for org:admin.
    let id = created["id"].as_i64().unwrap();
    let res = team
        .call("DELETE", &key, &format!("/api/notes/{id}"), None)
        .await;
    assert_eq!(
        (res.status, error_code(&res)),
        (403, json!("insufficient-permissions"))
    );
    // A global key has no organization to act in.
    let global = team.app.service_key(None, &[], None, NOW_S * 1000).await;
    let res = team.call("GET", &global, "/api/notes", None).await;
    assert_eq!(
        (res.status, error_code(&res)),
        (403, json!("organization-required"))
    );
}

/// The audit trail of the team's routes is written at shutdown, though the writer would have waited
/// a minute more (the linger): `Running::wait` flushes it.
async fn the_audit_trail_is_flushed_at_shutdown(db: TestDb) {
    let clerk = ClerkStandIn::start(&["a"]);
    let settings = settings(&db, &clerk, &[("AUTH_CORE__AUDIT__LINGER_MS", "60000")]);
    let running = team_backend(settings).start().await.unwrap();
    let base = format!("http://{}", running.addrs()[0]);
    let (state, handle) = (running.state().clone(), running.handle());
    let waiter = actix_web::rt::spawn(running.wait());
    let alice = token("user_alice", "org_alpha", "admin");
    let req = client()
        .get(format!("{base}/api/notes"))
        .insert_header(("Authorization", format!("Bearer {alice}")));
    assert_eq!(req.send().await.unwrap().status(), 200);
    handle.stop(true).await;
    waiter.await.unwrap().unwrap();
    let rows: Vec<(String, i32, Option<String>)> = state
        .db
        .run(|c| {
            Ok(audit_events::table
                .select((
                    audit_events::path,
                    audit_events::status,
                    audit_events::organization_id,
                ))
                .load(c)?)
        })
        .await
        .unwrap();
    assert_eq!(
        rows,
        [("/api/notes".to_owned(), 200, Some("org_alpha".to_owned()))]
    );
}

/// The notes migration is applied after auth-core's, and a set reusing one of auth-core's versions
/// stops start-up before anything is applied (Diesel would take it for applied and skip it).
async fn team_migrations_follow_auth_cores(db: TestDb) {
    let clerk = ClerkStandIn::start(&["a"]);
    let running = team_backend(settings(&db, &clerk, &[]))
        .start()
        .await
        .unwrap();
    let applied = running
        .state()
        .db
        .run(auth_core::db::migrations::applied)
        .await
        .unwrap();
    let mut sorted = applied.clone();
    sorted.sort();
    assert_eq!(sorted.last().map(String::as_str), Some("20261201100000"));
    let handle = running.handle();
    let waiter = actix_web::rt::spawn(running.wait());
    handle.stop(true).await;
    waiter.await.unwrap().unwrap();

    let other = TestDb::sqlite();
    let clashing = MigrationSet::new(
        &auth_core::db::migrations::POSTGRES,
        &auth_core::db::migrations::SQLITE,
    );
    let error = AuthCore::from_settings(settings(&other, &clerk, &[]))
        .migrations(clashing)
        .start()
        .await
        .err()
        .unwrap();
    assert!(
        error.to_string().contains("is in two migration sets"),
        "{error}"
    );
}

db_test!(
    each_organization_sees_and_changes_only_its_own_notes,
    deleting_needs_org_admin,
    titles_are_bounded,
    a_removed_membership_is_refused_at_once,
    a_service_key_works_in_its_organization,
    the_audit_trail_is_flushed_at_shutdown,
    team_migrations_follow_auth_cores,
);
