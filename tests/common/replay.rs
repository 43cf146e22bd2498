//! A realistic history of Clerk events (creates, many updates, membership changes, deletes, revoked
//! sessions) and the state it leaves, for replaying deliveries out of order, twice, or while the
//! database connections are being killed.
#![allow(clippy::type_complexity, clippy::needless_range_loop)]

use auth_core::db::schema::{
    organization_memberships as om, organizations as orgs, revoked_sessions, users,
};
use diesel::prelude::*;
use serde_json::{json, Value};

use auth_core::clock::Clock;

use super::webhooks::{deliver, example, WEBHOOK_SECRET};
use super::{TestApp, TestDb};

/// The time of every delivery (seconds), inside the signatures' tolerance of the apps' clock.
pub const NOW_S: i64 = 1_800_000_000;

/// An app on `db` that takes webhooks signed with the test secret, its clock at [`NOW_S`].
pub async fn app_on(db: &TestDb) -> TestApp {
    let (clock, _) = Clock::manual(NOW_S * 1000);
    TestApp::spawn_with_clock(
        db.settings(&[("CLERK_WEBHOOK_SECRET", WEBHOOK_SECRET)]),
        clock,
    )
    .await
}

/// Delivers `events` in order, one at a time, each as `msg_<index>`; each must be accepted.
pub async fn deliver_in_order(app: &TestApp, events: &[Value]) {
    for (i, e) in events.iter().enumerate() {
        let res = deliver(app, &format!("msg_{i:05}"), NOW_S, e).await;
        assert_eq!(res.status, 200);
    }
}

/// Indexes into `events` events: each once and every tenth twice, shuffled by `seed`.
pub fn shuffled_with_duplicates(events: usize, seed: u64) -> Vec<usize> {
    let mut order: Vec<usize> = (0..events).chain((0..events).step_by(10)).collect();
    let mut rng = Rng(seed);
    for i in (1..order.len()).rev() {
        order.swap(i, rng.below(i + 1));
    }
    order
}

pub const USERS: usize = 200;
pub const ORGS: usize = 20;

/// A small deterministic generator (xorshift), so every run replays the same history.
pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    pub fn below(&mut self, n: usize) -> usize {
        usize::try_from(self.next() % n as u64).unwrap()
    }
}

struct Membership {
    id: String,
    org: usize,
    user: usize,
    role: &'static str,
    updated_at: i64,
    created_at: i64,
    live: bool,
}

/// At least `target_events` events, in the order Clerk emitted them (the same on every run).
pub fn history(target_events: usize) -> Vec<Value> {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let mut t: i64 = 1_700_000_000_000;
    let mut events = Vec::new();
    let user_template = example("user.created")["data"].clone();
    let org_template = example("organization.created")["data"].clone();
    let mut user_version = [0_u32; USERS];
    let mut user_live = [true; USERS];
    let mut user_created = [0_i64; USERS];
    let mut org_version = [0_u32; ORGS];
    let mut org_live = [true; ORGS];
    let mut org_created = [0_i64; ORGS];
    let mut org_updated = [0_i64; ORGS];
    let mut memberships: Vec<Membership> = Vec::new();

    let user_data = |i: usize, v: u32, created: i64, updated: i64| {
        let mut u = user_template.clone();
        u["id"] = format!("user_{i:04}").into();
        u["first_name"] = format!("User{i}").into();
        u["last_name"] = format!("v{v}").into();
        u["username"] = format!("user{i}_v{v}").into();
        u["public_metadata"] =
            json!({"version": v, "tier": if v.is_multiple_of(2) { "free" } else { "pro" }});
        u["primary_email_address_id"] = format!("idn_{i}").into();
        u["email_addresses"] = json!([{"id": format!("idn_{i}"), "object": "email_address",
            "email_address": format!("u{i}.v{v}@example.com"), "reserved": false, "verification": null,
            "linked_to": [], "created_at": created, "updated_at": updated}]);
        u["created_at"] = created.into();
        u["updated_at"] = updated.into();
        u
    };
    let org_data = |i: usize, v: u32, created: i64, updated: i64| {
        let mut o = org_template.clone();
        o["id"] = format!("org_{i:03}").into();
        o["name"] = format!("Org {i} v{v}").into();
        o["slug"] = format!("org-{i}").into();
        o["max_allowed_memberships"] = (10 + v).into();
        o["created_at"] = created.into();
        o["updated_at"] = updated.into();
        o
    };
    let event = |kind: &str, data: Value| json!({"object": "event", "type": kind, "data": data});

    for i in 0..ORGS {
        t += 1000;
        org_created[i] = t;
        org_updated[i] = t;
        events.push(event("organization.created", org_data(i, 0, t, t)));
    }
    for i in 0..USERS {
        t += 1000;
        user_created[i] = t;
        events.push(event("user.created", user_data(i, 0, t, t)));
    }
    while events.len() < target_events {
        t += 1000;
        let roll = rng.below(100);
        let membership_data = |m: &Membership, org: Value| {
            json!({"object": "organization_membership", "id": m.id, "role": m.role,
                "permissions": if m.role == "org:admin" { json!(["org:sys_memberships:manage", "org:posts:read"]) } else { json!(["org:posts:read"]) },
                "public_metadata": {}, "private_metadata": {}, "organization": org,
                "public_user_data": {"user_id": format!("user_{:04}", m.user), "first_name": format!("User{}", m.user),
                    "last_name": null, "image_url": "https://img.clerk.com/x", "has_image": false,
                    "identifier": format!("u{}@example.com", m.user)},
                "created_at": m.created_at, "updated_at": m.updated_at})
        };
        match roll {
            0..=29 => {
                let i = rng.below(USERS);
                if user_live[i] {
                    user_version[i] += 1;
                    events.push(event(
                        "user.updated",
                        user_data(i, user_version[i], user_created[i], t),
                    ));
                }
            }
            30..=37 => {
                let i = rng.below(ORGS);
                if org_live[i] {
                    org_version[i] += 1;
                    org_updated[i] = t;
                    events.push(event(
                        "organization.updated",
                        org_data(i, org_version[i], org_created[i], t),
                    ));
                }
            }
            38..=64 => {
                let (u, o) = (rng.below(USERS), rng.below(ORGS));
                let taken = memberships
                    .iter()
                    .any(|m| m.live && m.user == u && m.org == o);
                if user_live[u] && org_live[o] && !taken {
                    let m = Membership {
                        id: format!("orgmem_{:05}", memberships.len()),
                        org: o,
                        user: u,
                        role: "org:member",
                        created_at: t,
                        updated_at: t,
                        live: true,
                    };
                    events.push(event(
                        "organizationMembership.created",
                        membership_data(
                            &m,
                            org_data(o, org_version[o], org_created[o], org_updated[o]),
                        ),
                    ));
                    memberships.push(m);
                }
            }
            65..=79 => {
                if !memberships.is_empty() {
                    let k = rng.below(memberships.len());
                    let m = &mut memberships[k];
                    if m.live {
                        m.role = if m.role == "org:member" {
                            "org:admin"
                        } else {
                            "org:member"
                        };
                        m.updated_at = t;
                        let org = org_data(
                            m.org,
                            org_version[m.org],
                            org_created[m.org],
                            org_updated[m.org],
                        );
                        events.push(event(
                            "organizationMembership.updated",
                            membership_data(m, org),
                        ));
                    }
                }
            }
            80..=89 => {
                if !memberships.is_empty() {
                    let k = rng.below(memberships.len());
                    if memberships[k].live {
                        memberships[k].live = false;
                        let m = &memberships[k];
                        let org = org_data(
                            m.org,
                            org_version[m.org],
                            org_created[m.org],
                            org_updated[m.org],
                        );
                        events.push(event(
                            "organizationMembership.deleted",
                            membership_data(m, org),
                        ));
                    }
                }
            }
            90..=95 => {
                let mut s = example("session.revoked")["data"].clone();
                s["id"] = format!("sess_{t}").into();
                events.push(event("session.revoked", s));
            }
            96..=98 => {
                let i = rng.below(USERS);
                if user_live[i] {
                    user_live[i] = false;
                    memberships
                        .iter_mut()
                        .filter(|m| m.user == i)
                        .for_each(|m| m.live = false);
                    events.push(event(
                        "user.deleted",
                        json!({"object": "user", "id": format!("user_{i:04}"), "deleted": true}),
                    ));
                }
            }
            _ => {
                let i = rng.below(ORGS);
                if org_live[i] && org_live.iter().filter(|l| **l).count() > ORGS / 2 {
                    org_live[i] = false;
                    memberships
                        .iter_mut()
                        .filter(|m| m.org == i)
                        .for_each(|m| m.live = false);
                    events.push(event("organization.deleted", json!({"object": "organization", "id": format!("org_{i:03}"), "deleted": true})));
                }
            }
        }
    }
    events
}

pub type State = (Vec<Value>, Vec<Value>, Vec<Value>, Vec<String>);

/// Everything Clerk's data determines (not our own bookkeeping times; deletion as a flag).
pub async fn state(app: &TestApp) -> State {
    app.state
        .db
        .run(|c| {
            let u: Vec<(
                String,
                Option<String>,
                String,
                Option<String>,
                Option<String>,
                Option<String>,
                String,
                i64,
                i64,
                Option<i64>,
            )> = users::table
                .order(users::id)
                .select((
                    users::id,
                    users::email,
                    users::email_addresses,
                    users::first_name,
                    users::last_name,
                    users::username,
                    users::public_metadata,
                    users::clerk_created_at,
                    users::clerk_updated_at,
                    users::deleted_at,
                ))
                .load(c)?;
            let o: Vec<(
                String,
                String,
                Option<String>,
                Option<i32>,
                i64,
                i64,
                Option<i64>,
            )> = orgs::table
                .order(orgs::id)
                .select((
                    orgs::id,
                    orgs::name,
                    orgs::slug,
                    orgs::max_allowed_memberships,
                    orgs::clerk_created_at,
                    orgs::clerk_updated_at,
                    orgs::deleted_at,
                ))
                .load(c)?;
            let m: Vec<(
                String,
                String,
                String,
                String,
                String,
                i64,
                i64,
                Option<i64>,
            )> = om::table
                .order(om::id)
                .select((
                    om::id,
                    om::organization_id,
                    om::user_id,
                    om::role,
                    om::permissions,
                    om::clerk_created_at,
                    om::clerk_updated_at,
                    om::deleted_at,
                ))
                .load(c)?;
            let s: Vec<String> = revoked_sessions::table
                .order(revoked_sessions::session_id)
                .select(revoked_sessions::session_id)
                .load(c)?;
            let users = u
                .into_iter()
                .map(|r| json!([r.0, r.1, r.2, r.3, r.4, r.5, r.6, r.7, r.8, r.9.is_some()]))
                .collect();
            let orgs = o
                .into_iter()
                .map(|r| json!([r.0, r.1, r.2, r.3, r.4, r.5, r.6.is_some()]))
                .collect();
            let memberships = m
                .into_iter()
                .map(|r| json!([r.0, r.1, r.2, r.3, r.4, r.5, r.6, r.7.is_some()]))
                .collect();
            Ok((users, orgs, memberships, s))
        })
        .await
        .unwrap()
}
