//! Multi-tenant isolation over real HTTP, on both databases: three organizations, users in one,
//! several or none; every org-scoped route called by every principal, with foreign ids; no response
//! may carry another organization's data. Guards, revoked memberships, pagination and filters.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use auth_core::clock::Clock;
use auth_core::db::schema::audit_events;
use common::clerk::{session_claims, ClerkStandIn, Minter, ISSUER};
use common::webhooks::{deliver, example, WEBHOOK_SECRET};
use common::{client, Response, TestApp, TestDb};
use diesel::prelude::*;
use serde_json::{json, Value};

const NOW_S: i64 = 1_800_000_000;
const ORGS: [&str; 3] = ["org_alpha", "org_beta", "org_gamma"];

struct World {
    app: TestApp,
    _clerk: ClerkStandIn,
    clock: auth_core::clock::ManualClock,
    next_msg: std::cell::Cell<u32>,
}

fn org_event(id: &str, kind: &str) -> Value {
    let mut e = example("organization.created");
    e["type"] = kind.into();
    e["data"]["id"] = id.into();
    e["data"]["name"] = format!("Name of {id}").into();
    e["data"]["slug"] = id.replace('_', "-").into();
    e
}

fn membership_event(id: &str, org: &str, user: &str, role: &str, kind: &str) -> Value {
    let mut e = example("organizationMembership.created");
    e["type"] = kind.into();
    e["data"]["id"] = id.into();
    e["data"]["role"] = role.into();
    e["data"]["organization"] = org_event(org, "organization.created")["data"].clone();
    e["data"]["public_user_data"]["user_id"] = user.into();
    e["data"]["public_user_data"]["identifier"] = format!("{user}@example.com").into();
    e
}

/// (membership id, org, user, role)
const MEMBERSHIPS: [(&str, &str, &str, &str); 6] = [
    ("orgmem_a1", "org_alpha", "user_alice", "org:admin"),
    ("orgmem_a2", "org_alpha", "user_bob", "org:member"),
    ("orgmem_b1", "org_beta", "user_bob", "org:member"),
    ("orgmem_b2", "org_beta", "user_carol", "org:admin"),
    ("orgmem_g1", "org_gamma", "user_erin", "org:admin"),
    ("orgmem_a3", "org_alpha", "user_frank", "org:member"),
];

impl World {
    async fn new(db: &TestDb) -> Self {
        let clerk = ClerkStandIn::start(&["a"]);
        let jwks = clerk.jwks_url();
        let (clock, handle) = Clock::manual(NOW_S * 1000);
        let settings = db.settings(&[
            ("CLERK_JWKS_URL", jwks.as_str()),
            ("AUTH_CORE__AUTH__ISSUER", ISSUER),
            ("CLERK_WEBHOOK_SECRET", WEBHOOK_SECRET),
        ]);
        let app = TestApp::spawn_with_clock(settings, clock).await;
        let world = Self {
            app,
            _clerk: clerk,
            clock: handle,
            next_msg: std::cell::Cell::new(0),
        };
        for org in ORGS {
            world.webhook(&org_event(org, "organization.created")).await;
        }
        for (id, org, user, role) in MEMBERSHIPS {
            world
                .webhook(&membership_event(
                    id,
                    org,
                    user,
                    role,
                    "organizationMembership.created",
                ))
                .await;
        }
        // Audit events of each organization (written by the audit trail in production).
        let rows: Vec<(String, String, i32, i64)> = ORGS
            .iter()
            .flat_map(|org| {
                (0..5).map(move |i| {
                    (
                        org.to_string(),
                        format!("/api/secret/{org}/{i}"),
                        if i % 2 == 0 { 200 } else { 403 },
                        1_000 + i64::from(i),
                    )
                })
            })
            .collect();
        world
            .app
            .state
            .db
            .run(move |c| {
                for (org, path, status, at) in rows {
                    diesel::insert_into(audit_events::table)
                        .values((
                            audit_events::occurred_at.eq(at),
                            audit_events::principal_type.eq("user"),
                            audit_events::user_id.eq(if status == 200 {
                                "user_alice"
                            } else {
                                "user_bob"
                            }),
                            audit_events::organization_id.eq(org),
                            audit_events::method.eq("GET"),
                            audit_events::path.eq(path),
                            audit_events::status.eq(status),
                            audit_events::duration_us.eq(10_i64),
                        ))
                        .execute(c)?;
                }
                Ok(())
            })
            .await
            .unwrap();
        world
    }

    async fn webhook(&self, event: &Value) {
        let n = self.next_msg.get();
        self.next_msg.set(n + 1);
        let res = deliver(&self.app, &format!("msg_t{n}"), NOW_S, event).await;
        assert_eq!(res.status, 200, "{}", String::from_utf8_lossy(&res.body));
    }

    /// A session token for `user` with `org` active (role as in MEMBERSHIPS), or none.
    fn token(&self, user: &str, org: Option<&str>) -> String {
        let mut extra = json!({"sub": user, "sid": format!("sess_{user}"), "o": null, "fea": null});
        if let Some(org) = org {
            let role = MEMBERSHIPS
                .iter()
                .find(|m| m.1 == org && m.2 == user)
                .map_or("member", |m| m.3.trim_start_matches("org:"));
            extra = json!({"sub": user, "sid": format!("sess_{user}_{org}"), "fea": "o:reports",
                "o": {"id": org, "rol": role, "slg": org, "per": "read,manage", "fpm": if role == "admin" { "3" } else { "1" }}});
        }
        Minter::a().mint(&session_claims(NOW_S, extra))
    }

    async fn get(&self, token: &str, path: &str) -> Response {
        let req = client()
            .get(self.app.url(path))
            .insert_header(("Authorization", format!("Bearer {token}")));
        Response::from(req.send().await.unwrap()).await
    }
}

/// Strings that belong to one organization only (users in several organizations are shared data).
fn markers(org: &str) -> Vec<String> {
    let mut m = vec![
        org.to_owned(),
        format!("Name of {org}"),
        format!("/api/secret/{org}/"),
    ];
    m.extend(
        MEMBERSHIPS
            .iter()
            .filter(|x| x.1 == org)
            .map(|x| x.0.to_owned()),
    );
    m
}

const ORG_ROUTES: [&str; 5] = [
    "/api/orgs/current",
    "/api/orgs/current/members",
    "/api/orgs/current/members?limit=1",
    "/api/orgs/current/audit",
    "/api/orgs/current/audit?status=4xx",
];

/// Every (user, active organization) pairing on every org route, plus foreign ids in path and
/// query: whatever the status, no body mentions another organization.
async fn no_route_leaks_another_organizations_data(db: TestDb) {
    let w = World::new(&db).await;
    let mut pairings: Vec<(&str, Option<&str>)> =
        MEMBERSHIPS.iter().map(|m| (m.2, Some(m.1))).collect();
    pairings.push(("user_dave", None));
    pairings.push(("user_alice", None));
    let mut checked = 0;
    for (user, org) in pairings {
        let token = w.token(user, org);
        let mut paths: Vec<String> = ORG_ROUTES.iter().map(|p| (*p).to_owned()).collect();
        for foreign in ORGS.iter().filter(|o| Some(**o) != org) {
            paths.push(format!("/api/orgs/{foreign}"));
            paths.push(format!("/api/orgs/current/members?after={foreign}"));
            paths.push(format!("/api/orgs/current/audit?user_id={foreign}"));
        }
        for path in &paths {
            let res = w.get(&token, path).await;
            let body = String::from_utf8_lossy(&res.body).to_string();
            for other in ORGS.iter().filter(|o| Some(**o) != org) {
                for marker in markers(other) {
                    assert!(
                        !body.contains(&marker),
                        "{user}@{org:?} {path} leaked {marker}: {body}"
                    );
                }
            }
            let expected = match (org, path.as_str()) {
                (_, p) if ORGS.iter().any(|o| p.contains(o)) => 404,
                (None, _) => 403,
                (Some(o), p) if p.contains("/audit") => {
                    let admin = MEMBERSHIPS
                        .iter()
                        .any(|m| m.1 == o && m.2 == user && m.3 == "org:admin");
                    if admin {
                        200
                    } else {
                        403
                    }
                }
                _ => 200,
            };
            assert_eq!(res.status, expected, "{user}@{org:?} {path}: {body}");
            checked += 1;
        }
    }
    assert!(checked > 80, "{checked} probes");
}

/// A foreign organization's id is answered exactly like one that does not exist.
async fn foreign_ids_are_indistinguishable_from_missing_ones(db: TestDb) {
    let w = World::new(&db).await;
    let token = w.token("user_bob", Some("org_alpha"));
    let strip = |r: Response| {
        let mut body = r.json();
        body["error"]["request_id"] = Value::Null;
        (r.status, body)
    };
    let foreign = strip(w.get(&token, "/api/orgs/org_beta").await);
    let missing = strip(w.get(&token, "/api/orgs/org_doesnotexist").await);
    assert_eq!(foreign, missing);
    assert_eq!(foreign.0, 404);
    let own = w.get(&token, "/api/orgs/org_alpha").await;
    assert_eq!(own.status, 200);
    assert_eq!(own.json()["organization"]["name"], "Name of org_alpha");
    // The id is compared decoded and exactly: another case, another string, a percent-encoded
    // foreign id are all missing; the own id percent-encoded is still the own id.
    for path in [
        "/api/orgs/ORG_ALPHA",
        "/api/orgs/Org_alpha",
        "/api/orgs/anything",
        "/api/orgs/org_alph",
        "/api/orgs/org_alpha%20",
        "/api/orgs/%6Frg_beta",
        "/api/orgs/%6frg_doesnotexist",
    ] {
        assert_eq!(strip(w.get(&token, path).await), missing, "{path}");
    }
    let encoded_own = w.get(&token, "/api/orgs/%6Frg_alpha").await;
    assert_eq!(encoded_own.status, 200);
    assert_eq!(encoded_own.json()["organization"]["id"], "org_alpha");
}

async fn current_organization_and_members(db: TestDb) {
    let w = World::new(&db).await;
    let token = w.token("user_alice", Some("org_alpha"));
    let current = w.get(&token, "/api/orgs/current").await.json();
    assert_eq!(current["organization"]["id"], "org_alpha");
    assert_eq!(current["role"], "org:admin");
    assert_eq!(
        current["permissions"],
        json!(["org:reports:read", "org:reports:manage"])
    );
    let page1 = w
        .get(&token, "/api/orgs/current/members?limit=2")
        .await
        .json();
    let ids: Vec<&str> = page1["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["membership_id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["orgmem_a1", "orgmem_a2"]);
    assert_eq!(page1["data"][0]["role"], "org:admin");
    assert_eq!(page1["next"], "orgmem_a2");
    let page2 = w
        .get(&token, "/api/orgs/current/members?limit=2&after=orgmem_a2")
        .await
        .json();
    assert_eq!(page2["data"][0]["membership_id"], "orgmem_a3");
    assert_eq!(page2["next"], Value::Null);
    assert_eq!(
        w.get(&token, "/api/orgs/current/members?limit=0")
            .await
            .status,
        400
    );
    assert_eq!(
        w.get(&token, "/api/orgs/current/members?bogus=1")
            .await
            .json()["error"]["code"],
        "bad-request"
    );
}

async fn audit_is_for_admins_and_filters(db: TestDb) {
    let w = World::new(&db).await;
    let admin = w.token("user_alice", Some("org_alpha"));
    // The seeded events are at 1000..1004 ms; requests made by the tests are audited too (now).
    let all = w
        .get(&admin, "/api/orgs/current/audit?to=10000")
        .await
        .json();
    assert_eq!(all["data"].as_array().unwrap().len(), 5);
    let denied = w
        .get(
            &w.token("user_bob", Some("org_alpha")),
            "/api/orgs/current/audit",
        )
        .await;
    assert_eq!(denied.status, 403);
    assert_eq!(denied.json()["error"]["code"], "insufficient-permissions");
    assert_eq!(
        denied.json()["error"]["required"],
        json!({"role": "org:admin"})
    );
    let by_user = w
        .get(&admin, "/api/orgs/current/audit?user_id=user_bob&to=10000")
        .await
        .json();
    assert_eq!(by_user["data"].as_array().unwrap().len(), 2);
    let errors = w
        .get(&admin, "/api/orgs/current/audit?status=4xx")
        .await
        .json();
    assert!(errors["data"]
        .as_array()
        .unwrap()
        .iter()
        .all(|e| e["status"] == 403));
    let exact = w
        .get(&admin, "/api/orgs/current/audit?status=200&to=10000")
        .await
        .json();
    assert_eq!(exact["data"].as_array().unwrap().len(), 3);
    let window = w
        .get(&admin, "/api/orgs/current/audit?from=1001&to=1003")
        .await
        .json();
    assert_eq!(window["data"].as_array().unwrap().len(), 2);
    let first = w
        .get(&admin, "/api/orgs/current/audit?limit=2&to=10000")
        .await
        .json();
    let next = first["next"].as_i64().unwrap();
    let second = w
        .get(
            &admin,
            &format!("/api/orgs/current/audit?limit=2&before={next}"),
        )
        .await
        .json();
    assert!(second["data"]
        .as_array()
        .unwrap()
        .iter()
        .all(|e| e["id"].as_i64().unwrap() < next));
    // Outside the document's pattern ^([1-5]xx|[1-5][0-9]{2})$, although a number parser takes it.
    for status in ["6xx", "04xx", "%2B4xx", "0403"] {
        let path = format!("/api/orgs/current/audit?status={status}");
        assert_eq!(w.get(&admin, &path).await.status, 400, "{status}");
    }
    // A cursor that is not an event id is refused, as any parameter of the wrong type is.
    assert_eq!(
        w.get(&admin, "/api/orgs/current/audit?before=soon")
            .await
            .status,
        400
    );
}

/// A membership removed (or organization deleted) by webhook denies at once, although the token
/// still names the organization with its role.
async fn removed_memberships_deny_at_once(db: TestDb) {
    let w = World::new(&db).await;
    let bob_alpha = w.token("user_bob", Some("org_alpha"));
    assert_eq!(w.get(&bob_alpha, "/api/orgs/current").await.status, 200);
    w.webhook(&membership_event(
        "orgmem_a2",
        "org_alpha",
        "user_bob",
        "org:member",
        "organizationMembership.deleted",
    ))
    .await;
    let res = w.get(&bob_alpha, "/api/orgs/current").await;
    assert_eq!(res.status, 403);
    assert_eq!(res.json()["error"]["code"], "membership-revoked");
    // His other organization is unaffected.
    assert_eq!(
        w.get(&w.token("user_bob", Some("org_beta")), "/api/orgs/current")
            .await
            .status,
        200
    );
    let erin = w.token("user_erin", Some("org_gamma"));
    assert_eq!(w.get(&erin, "/api/orgs/current/audit").await.status, 200);
    let mut deleted = json!({"type": "organization.deleted", "object": "event", "data": {"object": "organization", "id": "org_gamma", "deleted": true}});
    deleted["data"]["slug"] = "org-gamma".into();
    w.webhook(&deleted).await;
    assert_eq!(
        w.get(&erin, "/api/orgs/current/audit").await.json()["error"]["code"],
        "membership-revoked"
    );
    // Re-joined later under a new membership: allowed again.
    w.webhook(&membership_event(
        "orgmem_a9",
        "org_alpha",
        "user_bob",
        "org:member",
        "organizationMembership.created",
    ))
    .await;
    assert_eq!(w.get(&bob_alpha, "/api/orgs/current").await.status, 200);
}

async fn org_routes_need_an_active_organization(db: TestDb) {
    let w = World::new(&db).await;
    let res = w
        .get(&w.token("user_dave", None), "/api/orgs/current")
        .await;
    assert_eq!(res.status, 403);
    assert_eq!(res.json()["error"]["code"], "organization-required");
}

db_test!(
    no_route_leaks_another_organizations_data,
    foreign_ids_are_indistinguishable_from_missing_ones,
    current_organization_and_members,
    audit_is_for_admins_and_filters,
    removed_memberships_deny_at_once,
    org_routes_need_an_active_organization,
);

impl World {
    /// A service key bound to `org` (or global) with `scopes`, expiring at `expires_at` (ms).
    async fn key(
        &self,
        org: Option<&'static str>,
        scopes: &[&str],
        expires_at: Option<i64>,
    ) -> String {
        self.app
            .service_key(org, scopes, expires_at, NOW_S * 1000)
            .await
    }
}

/// Each organization's key sees its own organization only, on every route, with foreign ids too.
async fn service_keys_see_only_their_organization(db: TestDb) {
    let w = World::new(&db).await;
    for org in ORGS {
        let key = w.key(Some(org), &["org:reports:read"], None).await;
        let current = w.get(&key, "/api/orgs/current").await;
        assert_eq!(current.status, 200);
        assert_eq!(current.json()["organization"]["id"], org);
        assert_eq!(current.json()["role"], Value::Null);
        assert_eq!(current.json()["permissions"], json!(["org:reports:read"]));
        for path in ORG_ROUTES.iter().map(|p| (*p).to_owned()).chain(
            ORGS.iter()
                .filter(|o| **o != org)
                .map(|o| format!("/api/orgs/{o}")),
        ) {
            let res = w.get(&key, &path).await;
            let body = String::from_utf8_lossy(&res.body).to_string();
            for other in ORGS.iter().filter(|o| **o != org) {
                for marker in markers(other) {
                    assert!(
                        !body.contains(&marker),
                        "key of {org} on {path} leaked {marker}"
                    );
                }
            }
            let expected = if path.contains("/audit") {
                403
            } else if ORGS.iter().any(|o| path.contains(o)) {
                404
            } else {
                200
            };
            assert_eq!(res.status, expected, "key of {org} on {path}: {body}");
        }
    }
    let global = w.key(None, &[], None).await;
    assert_eq!(
        w.get(&global, "/api/orgs/current").await.json()["error"]["code"],
        "organization-required"
    );
}

/// Create, use, expire, revoke, wrong secret, wrong place: the whole lifecycle of a key.
async fn service_key_lifecycle(db: TestDb) {
    let w = World::new(&db).await;
    let key = w
        .key(
            Some("org_alpha"),
            &["org:reports:read"],
            Some(NOW_S * 1000 + 60_000),
        )
        .await;
    assert!(key.starts_with("ack_") && key.len() > 50);
    assert_eq!(w.get(&key, "/api/orgs/current").await.status, 200);
    let (prefix, _) = key.trim_start_matches("ack_").split_once('_').unwrap();
    let prefix = prefix.to_owned();
    let (hash, last_used): (String, Option<i64>) = w
        .app
        .state
        .db
        .run(move |c| {
            use auth_core::db::schema::service_api_keys as k;
            Ok(k::table
                .filter(k::prefix.eq(prefix))
                .select((k::secret_hash, k::last_used_at))
                .first(c)?)
        })
        .await
        .unwrap();
    assert_eq!(hash.len(), 64, "a SHA-256 hex digest, never the secret");
    assert!(!key.contains(&hash));
    assert_eq!(last_used, Some(NOW_S * 1000));

    let refused = |res: Response, code: &str| {
        assert_eq!(res.status, 401, "{code}");
        assert_eq!(res.json()["error"]["code"], code);
    };
    let mut wrong = key.clone();
    wrong.pop();
    wrong.push(if key.ends_with('A') { 'B' } else { 'A' });
    refused(
        w.get(&wrong, "/api/orgs/current").await,
        "service-key-invalid",
    );
    refused(
        w.get("ack_000000000000_nope", "/api/orgs/current").await,
        "service-key-invalid",
    );
    refused(
        w.get("ack_short_x", "/api/orgs/current").await,
        "service-key-invalid",
    );
    // Keys are for org routes, sent in the Authorization header: not for /api/auth/me, not in cookies.
    refused(w.get(&key, "/api/auth/me").await, "token-type-mismatch");
    let in_cookie = Response::from(
        client()
            .get(w.app.url("/api/orgs/current"))
            .insert_header(("Cookie", format!("__session={key}")))
            .send()
            .await
            .unwrap(),
    )
    .await;
    refused(in_cookie, "token-type-mismatch");
    // Clerk's machine tokens are not accepted on these routes.
    refused(
        w.get("ak_2abc", "/api/orgs/current").await,
        "token-type-mismatch",
    );
    // Guards: a key has no role.
    assert_eq!(
        w.get(&key, "/api/orgs/current/audit").await.json()["error"]["code"],
        "insufficient-permissions"
    );

    // Revoked elsewhere (the CLI): on PostgreSQL the change feed makes the server forget it at once;
    // on SQLite (no feed) it is effective once the remembered verdict is older than the cache time.
    let out = common::binary::run(
        db.dir.path(),
        &[("DATABASE_URL", &db.url)],
        &["keys", "revoke", key.split('_').nth(1).unwrap()],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    if db.backend == auth_core::db::Backend::Postgres {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        while w.get(&key, "/api/orgs/current").await.status == 200 {
            assert!(
                std::time::Instant::now() < deadline,
                "the revocation was not heard"
            );
        }
    } else {
        assert_eq!(
            w.get(&key, "/api/orgs/current").await.status,
            200,
            "still remembered"
        );
    }
    w.clock.advance_ms(10_000);
    refused(
        w.get(&key, "/api/orgs/current").await,
        "service-key-revoked",
    );

    let expiring = w
        .key(Some("org_alpha"), &[], Some(NOW_S * 1000 + 30_000))
        .await;
    assert_eq!(w.get(&expiring, "/api/orgs/current").await.status, 200);
    w.clock.advance_ms(20_000);
    refused(
        w.get(&expiring, "/api/orgs/current").await,
        "service-key-expired",
    );
}

/// Keys created from the command line work, and their secret is printed once.
async fn keys_created_by_the_cli_work(db: TestDb) {
    let w = World::new(&db).await;
    let out = common::binary::run(
        db.dir.path(),
        &[("DATABASE_URL", &db.url)],
        &[
            "keys",
            "create",
            "--name",
            "billing",
            "--org",
            "org_beta",
            "--scope",
            "org:invoices:read",
        ],
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}");
    let secret = stdout
        .lines()
        .find_map(|l| l.strip_prefix("secret (shown once, store it now): "))
        .unwrap();
    let res = w.get(secret, "/api/orgs/current").await;
    assert_eq!(res.json()["organization"]["id"], "org_beta");
    let listed = common::binary::run(
        db.dir.path(),
        &[("DATABASE_URL", &db.url)],
        &["keys", "list"],
    );
    let listing = String::from_utf8_lossy(&listed.stdout);
    assert!(
        listing.contains("billing")
            && listing.contains("  org_beta  ")
            && !listing.contains(secret),
        "{listing}"
    );
    let bad = common::binary::run(
        db.dir.path(),
        &[("DATABASE_URL", &db.url)],
        &["keys", "create", "--name", "x", "--org", "acme"],
    );
    assert_eq!(bad.status.code(), Some(2));
}

db_test!(
    service_keys_see_only_their_organization,
    service_key_lifecycle,
    keys_created_by_the_cli_work
);
