//! A realistic history of a few thousand Clerk events (creates, many updates, membership changes,
//! deletes, revoked sessions), delivered once in order to one database and shuffled with duplicates,
//! concurrently, to another: both must end in exactly the same state, on SQLite and on PostgreSQL.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::type_complexity,
    clippy::needless_range_loop
)]

mod common;

use std::collections::BTreeMap;

use common::replay::{
    app_on, deliver_in_order, history, shuffled_with_duplicates, state, NOW_S, USERS,
};
use common::webhooks::deliver;
use common::TestDb;
use futures_util::StreamExt;
use serde_json::json;

const TARGET_EVENTS: usize = 2_500;

async fn shuffled_duplicated_replay_ends_in_the_in_order_state(db: TestDb) {
    let events = history(TARGET_EVENTS);
    assert!(events.len() >= TARGET_EVENTS);
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    for e in &events {
        *counts.entry(e["type"].as_str().unwrap()).or_default() += 1;
    }
    for kind in [
        "user.deleted",
        "organization.deleted",
        "organizationMembership.deleted",
        "organizationMembership.updated",
    ] {
        assert!(
            counts.get(kind).copied().unwrap_or(0) > 0,
            "history lacks {kind}: {counts:?}"
        );
    }

    // In order, one at a time, into this test's database.
    let in_order = app_on(&db).await;
    deliver_in_order(&in_order, &events).await;

    // Shuffled, every tenth delivered twice, eight at a time, into a second database.
    let second = match db.backend {
        auth_core::db::Backend::Sqlite => TestDb::sqlite(),
        auth_core::db::Backend::Postgres => TestDb::postgres("replay second database").unwrap(),
    };
    let shuffled_app = app_on(&second).await;
    let order = shuffled_with_duplicates(events.len(), 42);
    let statuses: Vec<String> = futures_util::stream::iter(order)
        .map(|i| {
            let app = &shuffled_app;
            let e = &events[i];
            async move {
                let res = deliver(app, &format!("msg_{i:05}"), NOW_S, e).await;
                assert_eq!(res.status, 200, "{}", String::from_utf8_lossy(&res.body));
                res.json()["status"].as_str().unwrap().to_owned()
            }
        })
        .buffer_unordered(8)
        .collect()
        .await;
    assert_eq!(
        statuses.iter().filter(|s| *s == "duplicate").count(),
        events.len().div_ceil(10)
    );
    assert!(!statuses.iter().any(|s| s == "failed"));

    let (expected, got) = (state(&in_order).await, state(&shuffled_app).await);
    assert_eq!(expected.0.len(), USERS);
    assert!(expected.2.len() > 100, "memberships: {}", expected.2.len());
    assert!(
        expected.0.iter().any(|u| u[9] == json!(true))
            && expected.0.iter().any(|u| u[9] == json!(false))
    );
    assert!(
        expected.2.iter().any(|m| m[7] == json!(true))
            && expected.2.iter().any(|m| m[7] == json!(false))
    );
    assert_eq!(got.0, expected.0, "users differ");
    assert_eq!(got.1, expected.1, "organizations differ");
    assert_eq!(got.2, expected.2, "memberships differ");
    assert_eq!(got.3, expected.3, "revoked sessions differ");
}

db_test!(shuffled_duplicated_replay_ends_in_the_in_order_state);
