//! Made-up credentials cannot be amplified into calls to Clerk or database queries: tokens not of
//! Clerk's shape are refused without a call, a refused token is asked about once a minute however
//! often it comes, each client has a budget of failed lookups per minute (429 beyond it), bursts do
//! not overshoot it, and the calls that are made share one connection. Against the Backend API
//! stand-in, which counts verifications and connections, on both databases.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use auth_core::clock::ManualClock;
use common::clerk::{machine_token_body, opaque_token, ClerkStandIn, ISSUER, SECRET_KEY};
use common::{client, Response, TestApp, TestDb};

const NOW_MS: i64 = 1_800_000_000_000;
/// The default `auth.failed_credential_budget`.
const BUDGET: usize = 30;
/// The client the test app sees without `X-Forwarded-For`: the loopback peer.
const PEER: &str = "127.0.0.1";

struct Setup {
    app: TestApp,
    clerk: ClerkStandIn,
    clock: ManualClock,
}

/// An app that asks the stand-in about machine tokens, verifies session tokens with a PEM key (so
/// nothing but machine-token verifications reaches the stand-in), and believes `X-Forwarded-For`
/// from the loopback peer, so each test request can name its client.
async fn setup(db: &TestDb) -> Setup {
    setup_trusting(db, PEER).await
}

/// As `setup`, believing `X-Forwarded-For` from `trusted_proxies` only (empty: from no one).
async fn setup_trusting(db: &TestDb, trusted_proxies: &str) -> Setup {
    let clerk = ClerkStandIn::start(&["a"]);
    let pem = std::fs::read_to_string(common::target_dir_file(
        "tests/fixtures/keys/rsa-2048-a.pub.pem",
    ))
    .unwrap();
    let env = [
        ("AUTH_CORE__AUTH__ISSUER", ISSUER),
        ("CLERK_SECRET_KEY", SECRET_KEY),
        ("AUTH_CORE__CLERK__API_URL", clerk.base.as_str()),
        ("CLERK_JWT_KEY", pem.as_str()),
        ("AUTH_CORE__SERVER__TRUSTED_PROXIES", trusted_proxies),
    ];
    let (app, clock) = TestApp::spawn_at(db.settings(&env), NOW_MS).await;
    Setup { app, clerk, clock }
}

fn request(app: &TestApp, client_ip: &str, token: &str) -> awc::ClientRequest {
    let req = client()
        .get(app.url("/api/orgs/current"))
        .insert_header(("Authorization", format!("Bearer {token}")));
    if client_ip == PEER {
        req
    } else {
        req.insert_header(("X-Forwarded-For", client_ip))
    }
}

async fn get(app: &TestApp, client_ip: &str, token: &str) -> Response {
    Response::from(request(app, client_ip, token).send().await.unwrap()).await
}

/// (status, code, Retry-After)
fn outcome(res: &Response) -> (u16, String, Option<String>) {
    let code = res.json()["error"]["code"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    (
        res.status,
        code,
        res.header("retry-after").map(str::to_owned),
    )
}

fn refused(code: &str) -> (u16, String, Option<String>) {
    (401, code.to_owned(), None)
}

fn over_budget(retry_after: &str) -> (u16, String, Option<String>) {
    (
        429,
        "too-many-failed-credentials".to_owned(),
        Some(retry_after.to_owned()),
    )
}

/// A well-formed credential no one issued: Clerk's three kinds and auth-core's service keys, in turn.
fn made_up(n: usize) -> String {
    match n % 4 {
        0 => opaque_token("ak_", &format!("madeup{n}")),
        1 => opaque_token("mt_", &format!("madeup{n}")),
        2 => opaque_token("oat_", &format!("madeup{n}")),
        _ => format!("ack_{n:012x}_{}", "A".repeat(43)),
    }
}

fn reason_for(n: usize) -> &'static str {
    if n % 4 == 3 {
        "service-key-invalid"
    } else {
        "token-invalid"
    }
}

/// The same made-up or revoked token, again and again: Clerk is asked once a minute, and the client
/// keeps getting the real reason (a remembered refusal takes no budget).
async fn a_refused_token_is_asked_about_once(db: TestDb) {
    let s = setup(&db).await;
    let bogus = opaque_token("mt_", "bogus");
    for _ in 0..50 {
        assert_eq!(
            outcome(&get(&s.app, PEER, &bogus).await),
            refused("token-invalid")
        );
    }
    assert_eq!(s.clerk.machine_verifications(), 1);
    let revoked = opaque_token("ak_", "revoked");
    s.clerk.put_machine_token(
        &revoked,
        machine_token_body("api_key", "org_alpha", &[], None, true, false),
    );
    for _ in 0..50 {
        assert_eq!(
            outcome(&get(&s.app, PEER, &revoked).await),
            refused("token-revoked")
        );
    }
    assert_eq!(s.clerk.machine_verifications(), 2);
    // A minute later Clerk is asked again: what it says may have changed.
    s.clock.advance_ms(59_999);
    get(&s.app, PEER, &bogus).await;
    assert_eq!(s.clerk.machine_verifications(), 2);
    s.clock.advance_ms(1);
    s.clerk.put_machine_token(
        &bogus,
        machine_token_body("m2m_token", "org_alpha", &[], None, false, false),
    );
    assert_eq!(get(&s.app, PEER, &bogus).await.status, 200);
    assert_eq!(s.clerk.machine_verifications(), 3);
}

/// 200 different made-up credentials from one client: the first `BUDGET` are looked up and refused,
/// the rest answered 429 with no lookup at all. Other clients keep their own budget (IPv6 by /64);
/// the client's verified and refused credentials still get their answers; a minute on it may look up
/// again.
async fn made_up_credentials_spend_the_clients_budget(db: TestDb) {
    let s = setup(&db).await;
    let good = s.clerk.put_valid_token("api_key", "good", "org_alpha");
    let attacker = "203.0.113.7";
    assert_eq!(get(&s.app, attacker, &good).await.status, 200);
    for n in 0..200 {
        let expected = if n < BUDGET {
            refused(reason_for(n))
        } else {
            over_budget("60")
        };
        assert_eq!(
            outcome(&get(&s.app, attacker, &made_up(n)).await),
            expected,
            "#{n}"
        );
    }
    let machine_lookups = (0..BUDGET).filter(|n| n % 4 != 3).count();
    assert_eq!(s.clerk.machine_verifications(), 1 + machine_lookups);
    // No lookup is needed for these: a verified token and a remembered refusal.
    assert_eq!(get(&s.app, attacker, &good).await.status, 200);
    assert_eq!(
        outcome(&get(&s.app, attacker, &made_up(0)).await),
        refused("token-invalid")
    );
    // Another address, and another /64, have budgets of their own; the same /64 shares one.
    let calls = s.clerk.machine_verifications();
    assert_eq!(
        outcome(&get(&s.app, "203.0.113.8", &made_up(1000)).await),
        refused("token-invalid")
    );
    for n in 0..BUDGET {
        get(&s.app, "2001:db8:0:1::1", &made_up(2000 + n * 4)).await;
    }
    assert_eq!(
        outcome(&get(&s.app, "2001:db8:0:1:ffff::2", &made_up(3000)).await),
        over_budget("60")
    );
    assert_eq!(
        outcome(&get(&s.app, "2001:db8:0:2::1", &made_up(4000)).await),
        refused("token-invalid")
    );
    assert_eq!(s.clerk.machine_verifications(), calls + 1 + BUDGET + 1);
    // Retry-After counts down to the end of the client's minute, which began with its first lookup.
    s.clock.advance_ms(20_500);
    assert_eq!(
        outcome(&get(&s.app, attacker, &made_up(5000)).await),
        over_budget("40")
    );
    s.clock.advance_ms(39_500);
    assert_eq!(
        outcome(&get(&s.app, attacker, &made_up(5000)).await),
        refused("token-invalid")
    );
}

/// A client that is not a trusted proxy cannot buy fresh budgets by naming other addresses in
/// `X-Forwarded-For`: it is counted by its own address.
async fn a_forged_forwarded_for_buys_no_budget(db: TestDb) {
    let s = setup_trusting(&db, "").await;
    for n in 0..BUDGET {
        let forged = format!("198.51.100.{n}");
        assert_eq!(
            outcome(&get(&s.app, &forged, &made_up(n)).await),
            refused(reason_for(n))
        );
    }
    assert_eq!(
        outcome(&get(&s.app, "192.0.2.200", &made_up(BUDGET)).await),
        over_budget("60")
    );
    let malformed = ["junk", "1.2.3.4, junk", &"9".repeat(4096)];
    for forged in malformed {
        assert_eq!(
            outcome(&get(&s.app, forged, &made_up(BUDGET + 1)).await),
            over_budget("60")
        );
    }
}

/// Concurrent lookups hold their unit of budget while they run: 100 at once from one client make
/// exactly `BUDGET` calls.
async fn a_burst_cannot_overshoot_the_budget(db: TestDb) {
    let s = setup(&db).await;
    let requests = (0..100).map(|n| {
        let token = opaque_token("oat_", &format!("burst{n}"));
        let app = &s.app;
        async move { get(app, "198.51.100.20", &token).await }
    });
    let responses = futures_util::future::join_all(requests).await;
    let refused_now = responses.iter().filter(|r| r.status == 401).count();
    let over = responses
        .iter()
        .filter(|r| outcome(r) == over_budget("60"))
        .count();
    assert_eq!((refused_now, over), (BUDGET, 100 - BUDGET));
    assert_eq!(s.clerk.machine_verifications(), BUDGET);
}

/// While Clerk is failing, each lookup still takes budget (503s do not invite unbounded retries), but
/// its outcome is not remembered: the token is asked about again once Clerk is back.
async fn an_outage_does_not_invite_unbounded_retries(db: TestDb) {
    let s = setup(&db).await;
    let good = s.clerk.put_valid_token("m2m_token", "good", "org_alpha");
    s.clerk.set_machine_down(true);
    let unavailable = (
        503,
        "machine-token-unavailable".to_owned(),
        Some("1".to_owned()),
    );
    for n in 0..100 {
        let token = if n == 0 {
            good.clone()
        } else {
            opaque_token("mt_", &format!("down{n}"))
        };
        let expected = if n < BUDGET {
            unavailable.clone()
        } else {
            over_budget("60")
        };
        assert_eq!(outcome(&get(&s.app, PEER, &token).await), expected, "#{n}");
    }
    assert_eq!(s.clerk.machine_verifications(), BUDGET);
    s.clerk.set_machine_down(false);
    s.clock.advance_ms(60_000);
    assert_eq!(get(&s.app, PEER, &good).await.status, 200);
    assert_eq!(s.clerk.machine_verifications(), BUDGET + 1);
}

/// What cannot be one of Clerk's tokens or one of auth-core's keys is refused without a call or a
/// query, and costs no budget.
async fn malformed_credentials_cost_nothing(db: TestDb) {
    let s = setup(&db).await;
    let huge = format!("ak_{}", "a".repeat(8 * 1024));
    let cases = [
        ("ak_short".to_owned(), "token-invalid"),
        (format!("mt_{}", "a".repeat(15)), "token-invalid"),
        (format!("oat_{}.x", "a".repeat(32)), "token-invalid"),
        (format!("ak_{}=", "a".repeat(32)), "token-invalid"),
        (format!("mt_{}", "a".repeat(254)), "token-too-large"),
        (huge, "token-too-large"),
        ("ack_000000000000_nope".to_owned(), "service-key-invalid"),
        (
            format!("ack_00000000000g_{}", "A".repeat(43)),
            "service-key-invalid",
        ),
        (
            format!("ack_000000000000_{}", "A".repeat(44)),
            "service-key-invalid",
        ),
        (
            format!("ack_000000000000_{}.", "A".repeat(42)),
            "service-key-invalid",
        ),
        (
            format!("ack_{}", "0".repeat(8 * 1024)),
            "service-key-invalid",
        ),
    ];
    for _ in 0..10 {
        for (token, code) in &cases {
            assert_eq!(
                outcome(&get(&s.app, PEER, token).await),
                refused(code),
                "{}",
                token.get(..40).unwrap_or(token)
            );
        }
    }
    assert_eq!(s.clerk.machine_verifications(), 0);
    // 110 refusals, and the budget is whole.
    for n in 0..BUDGET {
        assert_eq!(
            outcome(&get(&s.app, PEER, &made_up(n)).await),
            refused(reason_for(n))
        );
    }
    assert_eq!(
        outcome(&get(&s.app, PEER, &made_up(BUDGET)).await),
        over_budget("60")
    );
}

/// Calls to the Backend API reuse one keep-alive connection instead of opening one each.
async fn backend_api_calls_share_a_connection(db: TestDb) {
    let s = setup(&db).await;
    let good = s.clerk.put_valid_token("m2m_token", "good", "org_alpha");
    for n in 0..20 {
        get(&s.app, PEER, &opaque_token("ak_", &format!("reuse{n}"))).await;
        // Verified again each time: a minute passes between requests.
        assert_eq!(get(&s.app, PEER, &good).await.status, 200);
        s.clock.advance_ms(60_000);
    }
    assert_eq!(s.clerk.machine_verifications(), 40);
    assert_eq!(s.clerk.connections(), 1);
}

db_test!(
    a_refused_token_is_asked_about_once,
    made_up_credentials_spend_the_clients_budget,
    a_forged_forwarded_for_buys_no_budget,
    a_burst_cannot_overshoot_the_budget,
    an_outage_does_not_invite_unbounded_retries,
    malformed_credentials_cost_nothing,
    backend_api_calls_share_a_connection,
);
