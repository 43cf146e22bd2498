//! Service keys and Clerk machine tokens bound to an organization that Clerk has deleted are refused
//! (`organization-deleted`) at once on the instance that applied the `organization.deleted` webhook,
//! although they were remembered as valid a moment before and Clerk still vouches for the token; and
//! after a restart, from the database. Over real HTTP, on both databases.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use auth_core::settings::Settings;
use common::clerk::{ClerkStandIn, ISSUER, SECRET_KEY};
use common::webhooks::{deliver, example, WEBHOOK_SECRET};
use common::{client, Response, TestApp, TestDb};
use serde_json::{json, Value};

const NOW_MS: i64 = 1_800_000_000_000;

fn settings(db: &TestDb, clerk: &ClerkStandIn) -> Settings {
    let pem = std::fs::read_to_string(common::target_dir_file(
        "tests/fixtures/keys/rsa-2048-a.pub.pem",
    ))
    .unwrap();
    db.settings(&[
        ("AUTH_CORE__AUTH__ISSUER", ISSUER),
        ("CLERK_SECRET_KEY", SECRET_KEY),
        ("AUTH_CORE__CLERK__API_URL", clerk.base.as_str()),
        ("CLERK_JWT_KEY", pem.as_str()),
        ("CLERK_WEBHOOK_SECRET", WEBHOOK_SECRET),
    ])
}

async fn spawn(db: &TestDb, clerk: &ClerkStandIn) -> TestApp {
    TestApp::spawn_at(settings(db, clerk), NOW_MS).await.0
}

/// The stand-in and an app asking it about machine tokens.
async fn start(db: &TestDb) -> (ClerkStandIn, TestApp) {
    let clerk = ClerkStandIn::start(&["a"]);
    let app = spawn(db, &clerk).await;
    (clerk, app)
}

fn organization_created(id: &str) -> Value {
    let mut event = example("organization.created");
    event["data"]["id"] = id.into();
    event["data"]["slug"] = id.replace('_', "-").into();
    event
}

fn organization_deleted(id: &str) -> Value {
    json!({"type": "organization.deleted", "object": "event",
        "data": {"object": "organization", "id": id, "deleted": true}})
}

async fn webhook(app: &TestApp, svix_id: &str, event: &Value) {
    let res = deliver(app, svix_id, NOW_MS / 1000, event).await;
    assert_eq!(res.status, 200, "{}", String::from_utf8_lossy(&res.body));
    assert_eq!(res.json()["status"], "applied");
}

async fn service_key(app: &TestApp, organization: Option<&str>) -> String {
    app.service_key(organization, &[], None, NOW_MS).await
}

/// A Clerk API key acting for `organization`, known to the stand-in.
fn machine_token(clerk: &ClerkStandIn, name: &str, organization: &str) -> String {
    clerk.put_valid_token("api_key", name, organization)
}

/// (status, code)
async fn get(app: &TestApp, token: &str) -> (u16, String) {
    let req = client()
        .get(app.url("/api/orgs/current"))
        .insert_header(("Authorization", format!("Bearer {token}")));
    let res = Response::from(req.send().await.unwrap()).await;
    let code = if res.status == 200 {
        String::new()
    } else {
        res.json()["error"]["code"].as_str().unwrap().to_owned()
    };
    (res.status, code)
}

fn ok() -> (u16, String) {
    (200, String::new())
}

fn organization_gone() -> (u16, String) {
    (401, "organization-deleted".to_owned())
}

/// Verified and remembered, then the organization is deleted: the next request is refused, while the
/// other organization's credentials and global keys keep working. A restarted instance refuses them
/// too (from the database).
async fn credentials_of_a_deleted_organization_are_refused_at_once(db: TestDb) {
    let (clerk, app) = start(&db).await;
    webhook(&app, "msg_1", &organization_created("org_doomed")).await;
    webhook(&app, "msg_2", &organization_created("org_kept")).await;
    let doomed_key = service_key(&app, Some("org_doomed")).await;
    let kept_key = service_key(&app, Some("org_kept")).await;
    let doomed_token = machine_token(&clerk, "doomed", "org_doomed");
    let kept_token = machine_token(&clerk, "kept", "org_kept");
    for token in [&doomed_key, &kept_key, &doomed_token, &kept_token] {
        assert_eq!(get(&app, token).await, ok());
        // Remembered: asked again, nothing is looked up.
        assert_eq!(get(&app, token).await, ok());
    }
    assert_eq!(clerk.machine_verifications(), 2);

    webhook(&app, "msg_3", &organization_deleted("org_doomed")).await;
    assert_eq!(get(&app, &doomed_key).await, organization_gone());
    assert_eq!(get(&app, &doomed_token).await, organization_gone());
    assert_eq!(get(&app, &kept_key).await, ok());
    assert_eq!(get(&app, &kept_token).await, ok());
    // Clerk still vouches for the doomed token; it was asked once more, then the refusal is kept.
    assert_eq!(clerk.machine_verifications(), 4);
    assert_eq!(get(&app, &doomed_token).await, organization_gone());
    assert_eq!(clerk.machine_verifications(), 4);
    app.stop().await;

    let restarted = spawn(&db, &clerk).await;
    assert_eq!(get(&restarted, &doomed_key).await, organization_gone());
    assert_eq!(get(&restarted, &doomed_token).await, organization_gone());
    assert_eq!(get(&restarted, &kept_key).await, ok());
    let global_key = service_key(&restarted, None).await;
    // A global key has no organization to act in (403), but it is not refused.
    let (status, code) = get(&restarted, &global_key).await;
    assert_eq!((status, code.as_str()), (403, "organization-required"));
}

/// An organization deleted before auth-core ever saw it (a tombstone only): its credentials are
/// refused from the first request.
async fn an_organization_deleted_before_it_was_seen(db: TestDb) {
    let (clerk, app) = start(&db).await;
    webhook(&app, "msg_4", &organization_deleted("org_ghost")).await;
    let key = service_key(&app, Some("org_ghost")).await;
    let token = machine_token(&clerk, "ghost", "org_ghost");
    assert_eq!(get(&app, &key).await, organization_gone());
    assert_eq!(get(&app, &token).await, organization_gone());
}

db_test!(
    credentials_of_a_deleted_organization_are_refused_at_once,
    an_organization_deleted_before_it_was_seen,
);
