//! The admin console's pages over real HTTP on both backends: synced data is escaped (a user named
//! `<script>` delivered by webhook renders inert), filters and keyset pages return exactly the right
//! rows, the CSV export holds exactly the filtered rows, keys and deliveries can be managed.
#![allow(clippy::unwrap_used)]

mod common;

use auth_core::clock::Clock;
use auth_core::db::audit::{insert_batch, NewAuditEvent, PrincipalType};
use common::admin::{create_admin, text, Browser, PASSWORD};
use common::webhooks::{deliver, example, WEBHOOK_SECRET};
use common::{TestApp, TestDb};
use serde_json::{json, Value};

const NOW_S: i64 = 1_795_000_000;

async fn signed_in(db: &TestDb) -> (TestApp, Browser) {
    let (clock, _) = Clock::manual(NOW_S * 1000);
    let app = TestApp::spawn_with_clock(
        db.settings(&[("CLERK_WEBHOOK_SECRET", WEBHOOK_SECRET)]),
        clock,
    )
    .await;
    create_admin(&app.state, "root@example.com");
    let mut browser = Browser::new(&app);
    assert_eq!(
        browser.sign_in("root@example.com", PASSWORD).await.status,
        303
    );
    (app, browser)
}

fn user_event(id: &str, first: &str, email: &str, created_at: i64) -> Value {
    let mut event = example("user.created");
    event["data"]["id"] = id.into();
    event["data"]["first_name"] = first.into();
    event["data"]["last_name"] = "Tester".into();
    event["data"]["created_at"] = created_at.into();
    event["data"]["updated_at"] = created_at.into();
    event["data"]["primary_email_address_id"] = "idn_1".into();
    event["data"]["email_addresses"] = json!([{"id": "idn_1", "object": "email_address",
        "email_address": email, "reserved": false, "verification": null, "linked_to": [],
        "created_at": 1, "updated_at": 1}]);
    event
}

async fn synced_names_render_inert(db: TestDb) {
    let (app, mut browser) = signed_in(&db).await;
    let mut event = user_event("user_xss", "<script>alert(1)</script>", "x@example.com", 1);
    event["data"]["public_metadata"] = json!({"note": "<img src=x onerror=alert(2)>"});
    assert_eq!(deliver(&app, "msg_xss", NOW_S, &event).await.status, 200);

    let list = text(&browser.get("/admin/users?q=script").await);
    assert!(
        list.contains("&#60;script&#62;alert(1)&#60;/script&#62; Tester"),
        "{list}"
    );
    assert!(!list.contains("<script>"));
    let detail = browser.get("/admin/users/user_xss").await;
    assert_eq!(detail.status, 200);
    let detail = text(&detail);
    assert!(
        !detail.contains("<script>") && !detail.contains("<img"),
        "{detail}"
    );
    assert!(detail.contains("&#60;img src=x onerror=alert(2)&#62;"));
    // The delivery's payload view is escaped too.
    let payload = text(&browser.get("/admin/webhooks/msg_xss").await);
    assert!(!payload.contains("<script>") && payload.contains("&#60;script&#62;"));
}

async fn users_search_filter_and_keyset_pages(db: TestDb) {
    let (app, mut browser) = signed_in(&db).await;
    for i in 0..55 {
        let event = user_event(
            &format!("user_{i:03}"),
            &format!("Person{i:03}"),
            &format!("p{i:03}@example.com"),
            1_700_000_000_000 + i,
        );
        assert_eq!(
            deliver(&app, &format!("msg_{i}"), NOW_S, &event)
                .await
                .status,
            200
        );
    }
    let mut deleted = example("user.deleted");
    deleted["data"]["id"] = "user_054".into();
    assert_eq!(deliver(&app, "msg_del", NOW_S, &deleted).await.status, 200);

    // Newest first, 50 per page; the next link continues exactly after the last row.
    let first = text(&browser.get("/admin/users").await);
    assert!(first.contains("50 users on this page"));
    assert!(
        first.contains("user_053") && !first.contains("user_054"),
        "deleted ones are hidden"
    );
    assert!(!first.contains("user_003"));
    let start = first.find("href=\"/admin/users?").unwrap() + 6;
    let next = first[start..start + first[start..].find('"').unwrap()].replace("&#38;", "&");
    let second = text(&browser.get(&next).await);
    assert!(second.contains("4 users on this page"), "{second}");
    for i in 0..4 {
        assert!(second.contains(&format!("user_{i:03}")));
    }
    assert!(!second.contains("rel=\"next\""));

    let search = text(&browser.get("/admin/users?q=PERSON01").await);
    assert!(
        search.contains("10 users on this page"),
        "case-insensitive substring"
    );
    let wildcard = text(&browser.get("/admin/users?q=%25").await);
    assert!(
        wildcard.contains("0 users on this page"),
        "% is a literal, not a wildcard"
    );
    let by_id = text(&browser.get("/admin/users?q=user_007").await);
    assert!(by_id.contains("1 user on this page"));
    let gone = text(&browser.get("/admin/users?status=deleted").await);
    assert!(gone.contains("1 user on this page") && gone.contains("user_054"));
    let by_email = text(&browser.get("/admin/users?sort=email&status=all").await);
    let a = by_email.find("p000@example.com").unwrap();
    let b = by_email.find("p001@example.com").unwrap();
    assert!(a < b);
    assert_eq!(browser.get("/admin/users/user_nope").await.status, 404);
}

fn event(i: i64, path: &str, status: i32, principal: &str, reason: Option<&str>) -> NewAuditEvent {
    NewAuditEvent {
        occurred_at: (NOW_S - 10_000 + i) * 1000,
        request_id: Some(format!("req-{i}")),
        principal_type: PrincipalType::parse(principal).unwrap(),
        user_id: Some(format!("user_{}", i % 3)),
        organization_id: None,
        session_id: None,
        method: "GET".into(),
        path: path.into(),
        route: None,
        status,
        duration_us: 1500,
        client_ip: Some("10.0.0.1".into()),
        user_agent: Some("=cmd|' /C calc'!A0".into()),
        reason: reason.map(str::to_owned),
        detail: None,
    }
}

async fn audit_filters_pages_and_exports_exactly(db: TestDb) {
    let (app, mut browser) = signed_in(&db).await;
    {
        let mut rows = Vec::new();
        for i in 0..120 {
            let failing = i % 4 == 0;
            rows.push(event(
                i,
                if i % 2 == 0 {
                    "/api/auth/me"
                } else {
                    "/api/orgs/current"
                },
                if failing { 401 } else { 200 },
                if i % 5 == 0 { "service_key" } else { "user" },
                failing.then_some("token-expired"),
            ));
        }
        let mut conn = app.state.db.get().unwrap();
        insert_batch(&mut conn, &rows).unwrap();
    }
    // 4xx on /api/auth/me: i % 4 == 0 → 30 rows; one page of them.
    let page = text(
        &browser
            .get("/admin/audit?status=4xx&path=%2Fapi%2Fauth%2Fme")
            .await,
    );
    assert_eq!(page.matches("<code>GET /api/auth/me</code>").count(), 30);
    assert_eq!(page.matches("token-expired</code>").count(), 30);
    assert!(!page.contains("rel=\"next\""));

    // All 120 API events (plus the console's own) page by 50 with no overlap and no gap.
    let mut seen = Vec::new();
    let mut url = "/admin/audit?user=user_1".to_owned();
    loop {
        let html = text(&browser.get(&url).await);
        seen.extend(
            html.match_indices("<code>GET /api/")
                .map(|(i, _)| html[i..i + 40].to_owned()),
        );
        match html.find("rel=\"next\"") {
            Some(at) => {
                let start = html[..at].rfind("href=\"").unwrap() + 6;
                url = html[start..start + html[start..].find('"').unwrap()].replace("&#38;", "&");
            }
            None => break,
        }
    }
    assert_eq!(seen.len(), 40, "user_1 has every third event");

    // The time filter (UTC) bounds the range: events 0..=59 are before NOW-9940 s.
    let to = auth_core::admin::view::format_ms((NOW_S - 9_940) * 1000);
    let to = to.trim_end_matches(" UTC").replace(' ', "T");
    let early = text(
        &browser
            .get(&format!("/admin/audit?to={to}&principal=service_key"))
            .await,
    );
    assert_eq!(
        early.matches("<code>GET /api/").count(),
        12,
        "i in 0..60 step 5"
    );
    assert_eq!(browser.get("/admin/audit?status=6xx").await.status, 400);
    assert_eq!(browser.get("/admin/audit?from=yesterday").await.status, 400);

    // The CSV holds exactly the filtered rows, formulas defused.
    let csv = browser
        .get("/admin/audit.csv?status=4xx&path=%2Fapi%2Fauth%2Fme")
        .await;
    assert_eq!(csv.status, 200);
    assert_eq!(csv.header("content-type"), Some("text/csv; charset=utf-8"));
    let body = text(&csv);
    let lines: Vec<&str> = body.lines().collect();
    assert!(lines[0].starts_with("id,occurred_at,request_id,principal_type"));
    assert_eq!(lines.len(), 31);
    assert!(lines[1..]
        .iter()
        .all(|l| l.contains(",/api/auth/me,") && l.contains(",401,")));
    assert!(lines[1].contains("\"'=cmd|' /C calc'!A0\""), "{}", lines[1]);
}

async fn keys_are_created_once_and_revoked(db: TestDb) {
    let (app, mut browser) = signed_in(&db).await;
    let created = browser
        .submit(
            "/admin/keys",
            "/admin/keys",
            &[("name", "billing-worker"), ("expires", "90d")],
        )
        .await;
    assert_eq!(created.status, 200);
    let html = text(&created);
    let start = html.find("id=\"new-secret\">").unwrap() + 16;
    let secret = &html[start..start + html[start..].find('<').unwrap()];
    assert!(secret.starts_with("ack_"));
    let again = text(&browser.get("/admin/keys").await);
    assert!(!again.contains(secret), "the secret is shown once");
    assert!(again.contains("billing-worker") && again.contains(">active<"));

    let call = |secret: String| {
        let url = app.url("/api/orgs/current");
        async move {
            common::Response::from(
                common::client()
                    .get(url)
                    .insert_header(("authorization", format!("Bearer {secret}")))
                    .send()
                    .await
                    .unwrap(),
            )
            .await
        }
    };
    // The key is valid (no organization: the scoped route says so), then revoked.
    let before_revocation = call(secret.to_owned()).await;
    assert_eq!(
        (
            before_revocation.status,
            before_revocation.json()["error"]["code"].clone()
        ),
        (403, serde_json::json!("organization-required"))
    );
    let id = &secret[..16].replacen("ack_", "key_", 1);
    let revoked = browser
        .submit("/admin/keys", &format!("/admin/keys/{id}/revoke"), &[])
        .await;
    assert_eq!(revoked.status, 303);
    assert!(text(&browser.get("/admin/keys").await).contains(">revoked<"));
    let refused = call(secret.to_owned()).await;
    assert_eq!(refused.status, 401);
    assert_eq!(refused.json()["error"]["code"], "service-key-revoked");

    let bad = browser
        .submit(
            "/admin/keys",
            "/admin/keys",
            &[("name", ""), ("org", "acme")],
        )
        .await;
    assert_eq!(bad.status, 400);
}

async fn administrators_are_added_and_disabled(db: TestDb) {
    let (app, mut browser) = signed_in(&db).await;
    let added = browser
        .submit(
            "/admin/admins",
            "/admin/admins",
            &[("email", "Ops@Example.com"), ("password", PASSWORD)],
        )
        .await;
    assert_eq!(added.status, 303);
    let short = browser
        .submit(
            "/admin/admins",
            "/admin/admins",
            &[("email", "b@example.com"), ("password", "short")],
        )
        .await;
    assert_eq!(short.status, 400);
    assert!(text(&short).contains("at least 12 characters"));
    let mut ops = Browser::new(&app);
    assert_eq!(ops.sign_in("ops@example.com", PASSWORD).await.status, 303);
    let list = text(&browser.get("/admin/admins").await);
    let start = list.find("/admin/admins/").unwrap();
    let action = &list[start..start + list[start..].find('"').unwrap()];
    assert_eq!(
        browser.submit("/admin/admins", action, &[]).await.status,
        303
    );
    assert_eq!(ops.get("/admin").await.status, 303, "disabled: signed out");

    let changed = browser
        .submit(
            "/admin/password",
            "/admin/password",
            &[
                ("current", PASSWORD),
                ("new", "a brand new passphrase"),
                ("confirm", "a brand new passphrase"),
            ],
        )
        .await;
    assert_eq!(changed.status, 303);
    assert_eq!(
        browser.get("/admin").await.status,
        200,
        "this session stays"
    );
    let mut again = Browser::new(&app);
    assert_eq!(
        again.sign_in("root@example.com", PASSWORD).await.status,
        401
    );
    assert_eq!(
        again
            .sign_in("root@example.com", "a brand new passphrase")
            .await
            .status,
        303
    );
}

async fn dashboard_counts_and_charts(db: TestDb) {
    let (app, mut browser) = signed_in(&db).await;
    for i in 0..3 {
        let event = user_event(&format!("user_{i}"), "A", &format!("a{i}@example.com"), 1);
        deliver(&app, &format!("msg_{i}"), NOW_S, &event).await;
    }
    {
        let mut conn = app.state.db.get().unwrap();
        insert_batch(
            &mut conn,
            &[
                event(
                    9_000,
                    "/api/auth/me",
                    401,
                    "anonymous",
                    Some("token-expired"),
                ),
                event(9_001, "/api/auth/me", 200, "user", None),
            ],
        )
        .unwrap();
    }
    let html = text(&browser.get("/admin").await);
    assert!(html.contains("<b>3</b><span>users</span>"), "{html}");
    assert!(html.contains("token-expired</code></a></td><td class=\"num\">1</td>"));
    assert!(html.contains("authentication failures: 1"));
    assert!(html.contains("<svg class=\"chart\""));
}

async fn failed_deliveries_are_listed_shown_and_reprocessed(db: TestDb) {
    let (app, mut browser) = signed_in(&db).await;
    let mut broken = user_event("user_fix", "Fixed", "fix@example.com", 1);
    broken["data"]["email_addresses"] = json!("not a list");
    let res = deliver(&app, "msg_broken", NOW_S, &broken).await;
    assert_eq!(res.json()["status"], "failed");
    let good = user_event("user_ok", "Good", "ok@example.com", 1);
    deliver(&app, "msg_good", NOW_S, &good).await;

    let failed = text(&browser.get("/admin/webhooks?status=failed").await);
    assert!(failed.contains("msg_broken") && !failed.contains("msg_good"));
    let by_type = text(&browser.get("/admin/webhooks?type=user.created").await);
    assert!(by_type.contains("msg_broken") && by_type.contains("msg_good"));
    // Received at NOW_S (the test clock): a window after it is empty, one around it is not.
    let later = text(&browser.get("/admin/webhooks?from=2030-01-01T00:00").await);
    assert!(later.contains("No deliveries match."));
    let around = text(
        &browser
            .get("/admin/webhooks?from=2026-11-18T11:00&to=2026-11-18T12:00")
            .await,
    );
    assert!(around.contains("msg_good"), "{around}");
    assert_eq!(browser.get("/admin/webhooks?from=soon").await.status, 400);

    let detail = text(&browser.get("/admin/webhooks/msg_broken").await);
    assert!(detail.contains("Reprocess this delivery") && detail.contains("not a list"));
    // Still broken: reprocessing reports the failure again and keeps it failed.
    let again = browser
        .submit(
            "/admin/webhooks/msg_broken",
            "/admin/webhooks/msg_broken/reprocess",
            &[],
        )
        .await;
    assert_eq!(again.status, 303);
    let shown = text(&browser.get(again.header("location").unwrap()).await);
    assert!(shown.contains("Reprocessed: failed"), "{shown}");
    // After a fix (here: the stored payload repaired), reprocessing applies it.
    let fixed = user_event("user_fix", "Fixed", "fix@example.com", 1).to_string();
    {
        use auth_core::db::schema::webhook_deliveries as wd;
        use diesel::prelude::*;
        let mut conn = app.state.db.get().unwrap();
        diesel::update(wd::table.find("msg_broken"))
            .set(wd::payload.eq(fixed))
            .execute(&mut conn)
            .unwrap();
    }
    let applied = browser
        .submit(
            "/admin/webhooks/msg_broken",
            "/admin/webhooks/msg_broken/reprocess",
            &[],
        )
        .await;
    assert!(
        text(&browser.get(applied.header("location").unwrap()).await)
            .contains("Reprocessed: applied")
    );
    assert_eq!(browser.get("/admin/users/user_fix").await.status, 200);
    assert_eq!(browser.get("/admin/webhooks/msg_nope").await.status, 404);
}

async fn organizations_and_memberships_are_browsed(db: TestDb) {
    let (app, mut browser) = signed_in(&db).await;
    let org = example("organization.created");
    let membership = example("organizationMembership.created");
    let (org_id, org_name) = (
        org["data"]["id"].as_str().unwrap().to_owned(),
        org["data"]["name"].as_str().unwrap().to_owned(),
    );
    let member_id = membership["data"]["public_user_data"]["user_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let role = membership["data"]["role"].as_str().unwrap().to_owned();
    assert_eq!(
        deliver(&app, "msg_org", NOW_S, &org).await.json()["status"],
        "applied"
    );
    assert_eq!(
        deliver(&app, "msg_mem", NOW_S, &membership).await.json()["status"],
        "applied"
    );

    let list = text(&browser.get("/admin/organizations").await);
    assert!(
        list.contains(&format!("/admin/organizations/{org_id}")),
        "{list}"
    );
    let detail = browser.get(&format!("/admin/organizations/{org_id}")).await;
    assert_eq!(detail.status, 200);
    let detail = text(&detail);
    assert!(detail.contains(&format!("<h1>{org_name}</h1>")), "{detail}");
    assert!(detail.contains(&format!("/admin/users/{member_id}")) && detail.contains(&role));
    let none = text(&browser.get("/admin/organizations?q=no-such-org").await);
    assert!(none.contains("No organizations match."));
    let by_role = text(
        &browser
            .get(&format!("/admin/memberships?org={org_id}&role={role}"))
            .await,
    );
    assert!(
        by_role.contains(&format!("/admin/users/{member_id}")),
        "{by_role}"
    );
    let other_role = text(
        &browser
            .get(&format!("/admin/memberships?org={org_id}&role=org:nobody"))
            .await,
    );
    assert!(other_role.contains("No memberships match."));
    assert_eq!(
        browser.get("/admin/organizations/org_nope").await.status,
        404
    );
}

db_test!(
    synced_names_render_inert,
    organizations_and_memberships_are_browsed,
    failed_deliveries_are_listed_shown_and_reprocessed,
    users_search_filter_and_keyset_pages,
    audit_filters_pages_and_exports_exactly,
    keys_are_created_once_and_revoked,
    administrators_are_added_and_disabled,
    dashboard_counts_and_charts,
);
