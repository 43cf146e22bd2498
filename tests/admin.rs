//! The admin console's sign-in: redirects, passwords, throttling, expiry, CSRF, sign-out, the audit
//! trail of it all, the session cookie, the SECRET_KEY rules at start-up and the `admin` commands.
#![allow(clippy::unwrap_used)]

mod common;

use auth_core::clock::{Clock, ManualClock};
use auth_core::db::schema::audit_events as ae;
use auth_core::state::AppState;
use common::admin::{create_admin, csrf_of, text, Browser, PASSWORD};
use common::{TestApp, TestDb};
use diesel::prelude::*;

const NOW_MS: i64 = 1_795_000_000_000;

async fn app(db: &TestDb, env: &[(&str, &str)]) -> (TestApp, ManualClock) {
    let (clock, handle) = Clock::manual(NOW_MS);
    let app = TestApp::spawn_with_clock(db.settings(env), clock).await;
    (app, handle)
}

/// `(principal_type, reason, detail)` of every audited console request, oldest first.
async fn admin_audit(app: &TestApp) -> Vec<(String, Option<String>, Option<String>, String)> {
    app.state.audit.flush().await;
    let mut conn = app.state.db.get().unwrap();
    ae::table
        .filter(ae::path.like("/admin%"))
        .order(ae::id.asc())
        .select((ae::principal_type, ae::reason, ae::detail, ae::path))
        .load(&mut conn)
        .unwrap()
}

async fn pages_need_a_session(db: TestDb) {
    let (app, _) = app(&db, &[]).await;
    let mut browser = Browser::new(&app);
    for path in ["/admin", "/admin/users?q=a%20b", "/admin/audit"] {
        let res = browser.get(path).await;
        assert_eq!(res.status, 303, "{path}");
        let expected = format!(
            "/admin/login?next={}",
            url::form_urlencoded::byte_serialize(path.as_bytes()).collect::<String>()
        );
        assert_eq!(res.header("location"), Some(expected.as_str()));
    }
    // The sign-in page itself is reachable, with a CSRF token and a strict session cookie.
    let mut fresh = Browser::new(&app);
    let login = fresh.get("/admin/login").await;
    assert_eq!(login.status, 200);
    assert_eq!(csrf_of(&login).len(), 43);
    let cookie = login.header("set-cookie").unwrap();
    assert!(cookie.starts_with("auth_core_admin="), "{cookie}");
    for attribute in ["HttpOnly", "SameSite=Strict", "Path=/admin"] {
        assert!(cookie.contains(attribute), "{cookie}");
    }
    assert!(cookie.contains("; Secure"), "Secure unless DEBUG: {cookie}");
    assert_eq!(login.header("cache-control"), Some("no-store"));
    assert!(login
        .header("content-security-policy")
        .unwrap()
        .contains("frame-ancestors 'none'"));
}

async fn development_cookies_are_not_secure(db: TestDb) {
    let (app, _) = app(&db, &[("DEBUG", "true")]).await;
    let login = Browser::new(&app).get("/admin/login").await;
    let cookie = login.header("set-cookie").unwrap();
    assert!(!cookie.contains("Secure"), "{cookie}");
}

fn cookie_key_of(state: &auth_core::state::AppState) -> Vec<u8> {
    state.admin_cookie_key.as_ref().unwrap().master().to_vec()
}

fn stored_keys(state: &auth_core::state::AppState) -> i64 {
    use auth_core::db::schema::generated_secret_key as k;
    k::table
        .count()
        .get_result(&mut state.db.get().unwrap())
        .unwrap()
}

/// Without SECRET_KEY, instances starting together on one database (two app states here, at once)
/// end up with one generated key, in every mode; an explicit SECRET_KEY wins and leaves the stored
/// key unread.
async fn a_generated_key_is_shared_by_instances_and_an_explicit_one_wins(db: TestDb) {
    let settings = || db.settings(&[("SECRET_KEY", ""), ("DEBUG", "false")]);
    let explicit = AppState::prepare(db.settings(&[])).unwrap();
    assert_eq!(stored_keys(&explicit), 0);
    let barrier = std::sync::Arc::new(std::sync::Barrier::new(2));
    let starts: Vec<_> = [settings(), settings()]
        .into_iter()
        .map(|settings| {
            let barrier = barrier.clone();
            std::thread::spawn(move || {
                barrier.wait();
                AppState::prepare(settings).unwrap()
            })
        })
        .collect();
    let states: Vec<AppState> = starts.into_iter().map(|t| t.join().unwrap()).collect();
    assert_eq!(cookie_key_of(&states[0]), cookie_key_of(&states[1]));
    assert_eq!(stored_keys(&states[0]), 1);
    assert_ne!(cookie_key_of(&states[0]), cookie_key_of(&explicit));
    // A later start in development mode reads the same key; SECRET_KEY still wins over it.
    let dev = AppState::prepare(db.settings(&[("SECRET_KEY", ""), ("DEBUG", "true")])).unwrap();
    assert_eq!(cookie_key_of(&dev), cookie_key_of(&states[0]));
    let explicit_again = AppState::prepare(db.settings(&[])).unwrap();
    assert_eq!(cookie_key_of(&explicit_again), cookie_key_of(&explicit));
}

/// A stored key shorter than SECRET_KEY's minimum (a hand-edited row) stops start-up rather than
/// keying cookies with it.
async fn a_stored_key_too_short_stops_start_up(db: TestDb) {
    use auth_core::db::schema::generated_secret_key as k;
    let state = AppState::prepare(db.settings(&[])).unwrap();
    diesel::insert_into(k::table)
        .values((k::id.eq(1), k::secret.eq("short"), k::created_at.eq(0_i64)))
        .execute(&mut state.db.get().unwrap())
        .unwrap();
    let Err(error) = AppState::prepare(db.settings(&[("SECRET_KEY", "")])) else {
        panic!("started with a 5-character key");
    };
    assert!(
        error
            .to_string()
            .starts_with("the SECRET_KEY stored in the database is shorter than 32 characters"),
        "{error}"
    );
}

async fn wrong_then_right_password(db: TestDb) {
    let (app, _) = app(&db, &[]).await;
    create_admin(&app.state, "root@example.com");
    let mut browser = Browser::new(&app);

    let wrong = browser
        .sign_in("root@example.com", "not the password")
        .await;
    assert_eq!(wrong.status, 401);
    assert!(text(&wrong).contains("The email or password is not right."));
    let unknown = browser.sign_in("nobody@example.com", PASSWORD).await;
    assert_eq!(unknown.status, 401);
    assert!(text(&unknown).contains("The email or password is not right."));
    assert_eq!(browser.get("/admin").await.status, 303, "still signed out");

    let before = browser.cookie.clone();
    let right = browser.sign_in("Root@Example.com ", PASSWORD).await;
    assert_eq!(right.status, 303, "{}", text(&right));
    assert_eq!(right.header("location"), Some("/admin"));
    assert_ne!(
        browser.cookie, before,
        "the session cookie is renewed at sign-in"
    );
    let dashboard = browser.get("/admin").await;
    assert_eq!(dashboard.status, 200);
    assert!(text(&dashboard).contains("root@example.com"));

    let events = admin_audit(&app).await;
    let posts: Vec<_> = events
        .iter()
        .filter(|e| e.3 == "/admin/login" && (e.1.is_some() || e.2.is_some()))
        .map(|e| (e.0.as_str(), e.1.as_deref(), e.2.as_deref()))
        .collect();
    assert_eq!(
        posts,
        vec![
            (
                "anonymous",
                Some("admin-login-failed"),
                Some("failed sign-in for root@example.com")
            ),
            (
                "anonymous",
                Some("admin-login-failed"),
                Some("failed sign-in for nobody@example.com")
            ),
            ("admin", None, Some("admin root@example.com: signed in")),
        ]
    );
    let last = events.last().unwrap();
    assert_eq!(
        (last.0.as_str(), last.2.as_deref(), last.3.as_str()),
        ("admin", Some("admin root@example.com"), "/admin")
    );
}

/// The app with root@example.com signed in.
async fn signed_in(db: &TestDb) -> (TestApp, ManualClock, Browser) {
    let (app, clock) = app(db, &[]).await;
    create_admin(&app.state, "root@example.com");
    let mut browser = Browser::new(&app);
    assert_eq!(
        browser.sign_in("root@example.com", PASSWORD).await.status,
        303
    );
    (app, clock, browser)
}

async fn sign_out_ends_the_session_everywhere(db: TestDb) {
    let (app, _, mut browser) = signed_in(&db).await;
    let copied_cookie = browser.cookie.clone();

    let out = browser.submit("/admin", "/admin/logout", &[]).await;
    assert_eq!(out.status, 303);
    assert_eq!(out.header("location"), Some("/admin/login?signed_out=1"));
    assert_eq!(browser.get("/admin").await.status, 303);

    // A copy of the signed-in cookie is worth nothing after sign-out: the server session has ended.
    let mut thief = Browser::new(&app);
    thief.cookie = copied_cookie;
    let res = thief.get("/admin").await;
    assert_eq!(res.status, 303);
    let events = admin_audit(&app).await;
    assert!(events
        .iter()
        .any(|e| e.3 == "/admin/logout"
            && e.2.as_deref() == Some("admin root@example.com: signed out")));
}

async fn csrf_is_required_on_every_post(db: TestDb) {
    let (app, _) = app(&db, &[]).await;
    create_admin(&app.state, "root@example.com");
    let mut browser = Browser::new(&app);

    // Sign-in itself: no token, a wrong token.
    browser.get("/admin/login").await;
    let fields = [("email", "root@example.com"), ("password", PASSWORD)];
    assert_eq!(browser.post("/admin/login", &fields).await.status, 403);
    let mut with_wrong = vec![("csrf", "A".repeat(43))];
    with_wrong.extend(fields.iter().map(|(k, v)| (*k, (*v).to_owned())));
    let wrong: Vec<(&str, &str)> = with_wrong.iter().map(|(k, v)| (*k, v.as_str())).collect();
    assert_eq!(browser.post("/admin/login", &wrong).await.status, 403);

    assert_eq!(
        browser.sign_in("root@example.com", PASSWORD).await.status,
        303
    );
    let res = browser.post("/admin/logout", &[]).await;
    assert_eq!(res.status, 403);
    assert!(text(&res).contains("security token"));
    let res = browser.post("/admin/logout", &[("csrf", "nope")]).await;
    assert_eq!(res.status, 403);
    // The right token from another origin.
    let token = csrf_of(&browser.get("/admin").await);
    browser.origin = Some("https://evil.example".into());
    assert_eq!(
        browser
            .post("/admin/logout", &[("csrf", &token)])
            .await
            .status,
        403
    );
    // `Origin: null` (what browsers send under no-referrer) only with Sec-Fetch-Site: same-origin.
    browser.origin = Some("null".into());
    assert_eq!(
        browser
            .post("/admin/logout", &[("csrf", &token)])
            .await
            .status,
        403
    );
    browser.origin = None;
    assert_eq!(browser.get("/admin").await.status, 200, "still signed in");
    // The token of the pre-sign-in session no longer works after sign-in (it was renewed).
    assert_eq!(
        browser
            .post("/admin/logout", &[("csrf", &token)])
            .await
            .status,
        303
    );

    let reasons: Vec<Option<String>> = admin_audit(&app)
        .await
        .into_iter()
        .filter(|e| e.1.as_deref().is_some_and(|r| r.starts_with("csrf")))
        .map(|e| e.1)
        .collect();
    assert_eq!(
        reasons,
        vec![
            Some("csrf-invalid".into()),
            Some("csrf-invalid".into()),
            Some("csrf-invalid".into()),
            Some("csrf-invalid".into()),
            Some("csrf-origin".into()),
            Some("csrf-origin".into()),
        ]
    );
}

async fn failures_lock_the_account_then_the_lock_lifts(db: TestDb) {
    let (app, clock) = app(&db, &[]).await;
    create_admin(&app.state, "root@example.com");
    create_admin(&app.state, "other@example.com");
    let mut browser = Browser::new(&app);
    for _ in 0..5 {
        assert_eq!(
            browser.sign_in("root@example.com", "guess").await.status,
            401
        );
    }
    // Locked: even the right password is refused, without being checked.
    let locked = browser.sign_in("root@example.com", PASSWORD).await;
    assert_eq!(locked.status, 429);
    assert_eq!(locked.header("retry-after"), Some("900"));
    assert!(text(&locked).contains("Too many failed sign-ins. Try again in 15 minutes."));
    // Another account from the same address is not affected (5 < the per-IP limit of 20).
    let other = browser.sign_in("other@example.com", PASSWORD).await;
    assert_eq!(other.status, 303, "{}", text(&other));

    clock.advance_ms(14 * 60_000);
    let mut again = Browser::new(&app);
    let still = again.sign_in("root@example.com", PASSWORD).await;
    assert_eq!(still.status, 429);
    assert_eq!(still.header("retry-after"), Some("60"));
    clock.advance_ms(60_000);
    assert_eq!(
        again.sign_in("root@example.com", PASSWORD).await.status,
        303
    );
}

async fn failures_from_one_address_lock_that_address(db: TestDb) {
    let (app, _) = app(&db, &[("AUTH_CORE__ADMIN__LOGIN_IP_MAX_FAILURES", "3")]).await;
    create_admin(&app.state, "root@example.com");
    let mut browser = Browser::new(&app);
    for guess in ["a@example.com", "b@example.com", "c@example.com"] {
        assert_eq!(browser.sign_in(guess, "guess").await.status, 401);
    }
    let res = browser.sign_in("root@example.com", PASSWORD).await;
    assert_eq!(res.status, 429, "the address is locked for every account");
}

/// Statuses of `n` sign-ins posted at once by copies of `browser` (one cookie, one form token).
async fn sign_in_burst(browser: &mut Browser, email: &str, password: &str, n: usize) -> Vec<u16> {
    let form = browser.get("/admin/login").await;
    let token = csrf_of(&form);
    let posts = (0..n).map(|_| {
        let mut copy = browser.clone();
        let token = token.clone();
        async move {
            let fields = [
                ("csrf", token.as_str()),
                ("email", email),
                ("password", password),
            ];
            copy.post("/admin/login", &fields).await.status
        }
    });
    futures_util::future::join_all(posts).await
}

/// A burst's outcome when the lock holds: every sign-in was either checked (401) or refused as
/// locked (429), at most the limit (5) were checked, and then the right password is refused too
/// (that answer is returned).
async fn assert_locked_after_at_most_5_checked(
    statuses: &[u16],
    browser: &mut Browser,
) -> common::Response {
    let checked = statuses.iter().filter(|s| **s == 401).count();
    let locked = statuses.iter().filter(|s| **s == 429).count();
    assert_eq!(
        checked + locked,
        statuses.len(),
        "only 401 or 429: {statuses:?}"
    );
    assert!(checked <= 5, "{checked} passwords checked: {statuses:?}");
    let right = browser.sign_in("root@example.com", PASSWORD).await;
    assert_eq!(right.status, 429, "{}", text(&right));
    right
}

/// Forty wrong passwords at once: before, all forty passed the throttle before the first failure was
/// written, and forty argon2 hashes ran. Now each attempt is recorded before its check, so at most
/// the limit (5) are checked and every other one is refused as locked.
async fn a_burst_of_wrong_passwords_is_checked_at_most_up_to_the_limit(db: TestDb) {
    let (app, _) = app(&db, &[]).await;
    create_admin(&app.state, "root@example.com");
    let mut browser = Browser::new(&app);
    let statuses = sign_in_burst(&mut browser, "root@example.com", "guess", 40).await;
    let right = assert_locked_after_at_most_5_checked(&statuses, &mut browser).await;
    assert_eq!(right.header("retry-after"), Some("900"));
}

async fn change_own_password(browser: &Browser, current: &str, new: &str) -> common::Response {
    let mut browser = browser.clone();
    let fields = [("current", current), ("new", new), ("confirm", new)];
    browser
        .submit("/admin/password", "/admin/password", &fields)
        .await
}

/// The same burst split over two instances on one database: the count is the database's, so the
/// limit holds for both together.
async fn a_burst_over_two_instances_is_checked_at_most_up_to_the_limit(db: TestDb) {
    let (first, _) = app(&db, &[]).await;
    let second = TestApp::spawn_with_clock(db.settings(&[]), first.state.clock.clone()).await;
    create_admin(&first.state, "root@example.com");
    let (mut to_first, mut to_second) = (Browser::new(&first), Browser::new(&second));
    let (a, b) = futures_util::future::join(
        sign_in_burst(&mut to_first, "root@example.com", "guess", 20),
        sign_in_burst(&mut to_second, "root@example.com", "guess", 20),
    )
    .await;
    let statuses: Vec<u16> = a.into_iter().chain(b).collect();
    let right = assert_locked_after_at_most_5_checked(&statuses, &mut to_second).await;
    assert_eq!(right.header("retry-after"), Some("900"));
}

/// With every password thread busy and the queue full, a sign-in is refused at once with 503 and
/// `Retry-After: 1`, and it still counts as an attempt (it was recorded before its turn).
async fn busy_password_threads_refuse_with_503(db: TestDb) {
    use auth_core::accounts::password_workers::QUEUED_PER_THREAD;
    use auth_core::db::schema::admin_login_attempts as la;
    let (app, _) = app(&db, &[("AUTH_CORE__ADMIN__PASSWORD_THREADS", "1")]).await;
    create_admin(&app.state, "root@example.com");
    // Hold the one thread until released, and fill its queue behind it.
    let (started_tx, started) = std::sync::mpsc::channel();
    let (release, release_rx) = std::sync::mpsc::channel::<()>();
    let workers = &app.state.password_workers;
    let holding = workers.run(move || {
        started_tx.send(()).unwrap();
        release_rx.recv().unwrap();
    });
    started.recv().unwrap();
    let queued: Vec<_> = (0..QUEUED_PER_THREAD).map(|_| workers.run(|| ())).collect();

    let mut browser = Browser::new(&app);
    let busy = browser.sign_in("root@example.com", PASSWORD).await;
    assert_eq!(busy.status, 503, "{}", text(&busy));
    assert_eq!(busy.header("retry-after"), Some("1"));
    assert!(text(&busy).contains("The server is busy checking other passwords."));

    release.send(()).unwrap();
    holding.await.unwrap();
    for job in queued {
        job.await.unwrap();
    }
    assert_eq!(
        browser.sign_in("root@example.com", PASSWORD).await.status,
        303
    );
    let mut conn = app.state.db.get().unwrap();
    let outcomes: Vec<bool> = la::table
        .order(la::id.asc())
        .select(la::succeeded)
        .load(&mut conn)
        .unwrap();
    assert_eq!(outcomes, [false, true]);
}

/// The current password on the change-password form is a guess like a sign-in: the same counts,
/// the same lock, shared with sign-in.
async fn changing_ones_password_is_throttled_like_sign_in(db: TestDb) {
    let (app, clock, mut browser) = signed_in(&db).await;
    // A second later (failures in the same millisecond as the sign-in would not count after it).
    clock.advance_ms(1_000);
    let new = "a brand new passphrase";
    for _ in 0..5 {
        let wrong = change_own_password(&browser, "not my password", new).await;
        assert_eq!(wrong.status, 400);
        assert!(text(&wrong).contains("The current password is not right."));
    }
    let locked = change_own_password(&browser, PASSWORD, new).await;
    assert_eq!(locked.status, 429, "{}", text(&locked));
    assert_eq!(locked.header("retry-after"), Some("900"));
    assert!(text(&locked).contains("Too many wrong passwords. Try again in 15 minutes."));
    let mut elsewhere = Browser::new(&app);
    assert_eq!(
        elsewhere.sign_in("root@example.com", PASSWORD).await.status,
        429,
        "the account is locked for sign-in too"
    );
    // A too-short new password is refused before the current one is looked at: no attempt used.
    clock.advance_ms(15 * 60_000 + 1);
    let fields = [("current", "x"), ("new", "short"), ("confirm", "short")];
    let short = browser
        .submit("/admin/password", "/admin/password", &fields)
        .await;
    assert_eq!(short.status, 400);
    assert_eq!(
        change_own_password(&browser, PASSWORD, new).await.status,
        303
    );
    let reasons: Vec<_> = admin_audit(&app)
        .await
        .into_iter()
        .filter(|e| e.3 == "/admin/password")
        .filter_map(|e| e.1)
        .collect();
    let mut expected = vec!["admin-password-wrong"; 5];
    expected.push("admin-password-locked");
    assert_eq!(reasons, expected);
}

/// Behind a trusted proxy, failures from one IPv6 /64 count together: another address in the same
/// /64 is locked, one in the next /64 is not.
async fn ipv6_clients_are_throttled_by_their_64_prefix(db: TestDb) {
    let env = [
        ("AUTH_CORE__SERVER__TRUSTED_PROXIES", "127.0.0.1"),
        ("AUTH_CORE__ADMIN__LOGIN_IP_MAX_FAILURES", "3"),
    ];
    let (app, _) = app(&db, &env).await;
    create_admin(&app.state, "root@example.com");
    let from = |address: &str| {
        let mut browser = Browser::new(&app);
        browser.extra_headers = vec![("x-forwarded-for", address.to_owned())];
        browser
    };
    for (n, address) in ["2001:db8:1:2::1", "2001:db8:1:2::2", "2001:db8:1:2:ffff::3"]
        .into_iter()
        .enumerate()
    {
        let guess = format!("user{n}@example.com");
        assert_eq!(from(address).sign_in(&guess, "guess").await.status, 401);
    }
    let same_64 = from("2001:db8:1:2:aaaa:bbbb:cccc:dddd")
        .sign_in("root@example.com", PASSWORD)
        .await;
    assert_eq!(same_64.status, 429, "{}", text(&same_64));
    let next_64 = from("2001:db8:1:3::1")
        .sign_in("root@example.com", PASSWORD)
        .await;
    assert_eq!(next_64.status, 303, "{}", text(&next_64));
}

/// A proxy in front may add its own `X-Forwarded-For` line rather than append to the client's:
/// every line is read, in order, so the client is the last line's address, not the first's.
async fn every_forwarded_for_line_from_a_proxy_is_read(db: TestDb) {
    let (app, _) = app(&db, &[("AUTH_CORE__SERVER__TRUSTED_PROXIES", "127.0.0.1")]).await;
    let mut browser = Browser::new(&app);
    browser.extra_headers = vec![
        ("x-forwarded-for", "6.6.6.6, 198.51.100.1".to_owned()),
        ("x-forwarded-for", "203.0.113.7".to_owned()),
    ];
    assert_eq!(browser.get("/admin/login").await.status, 200);
    app.state.audit.flush().await;
    let mut conn = app.state.db.get().unwrap();
    let addresses: Vec<Option<String>> = ae::table
        .filter(ae::path.eq("/admin/login"))
        .select(ae::client_ip)
        .load(&mut conn)
        .unwrap();
    assert_eq!(addresses, [Some("203.0.113.7".to_owned())]);
}

async fn idle_and_old_sessions_expire(db: TestDb) {
    let (app, clock) = app(&db, &[]).await;
    create_admin(&app.state, "root@example.com");
    let mut browser = Browser::new(&app);
    assert_eq!(
        browser.sign_in("root@example.com", PASSWORD).await.status,
        303
    );
    clock.advance_ms(29 * 60_000);
    assert_eq!(
        browser.get("/admin").await.status,
        200,
        "29 idle minutes are fine"
    );
    clock.advance_ms(29 * 60_000);
    assert_eq!(
        browser.get("/admin").await.status,
        200,
        "activity keeps it alive"
    );
    clock.advance_ms(30 * 60_000 + 1_000);
    let res = browser.get("/admin").await;
    assert_eq!(res.status, 303, "over 30 idle minutes");
    assert_eq!(res.header("location"), Some("/admin/login?next=%2Fadmin"));

    // Absolute lifetime: 12 hours even when active.
    assert_eq!(
        browser.sign_in("root@example.com", PASSWORD).await.status,
        303
    );
    for _ in 0..24 {
        clock.advance_ms(29 * 60_000);
        assert_eq!(browser.get("/admin").await.status, 200);
    }
    clock.advance_ms(29 * 60_000);
    assert_eq!(browser.get("/admin").await.status, 303, "past 12 hours");
}

async fn disabling_an_account_ends_its_sessions(db: TestDb) {
    let (app, _) = app(&db, &[]).await;
    let id = create_admin(&app.state, "root@example.com");
    let mut browser = Browser::new(&app);
    assert_eq!(
        browser.sign_in("root@example.com", PASSWORD).await.status,
        303
    );
    {
        let mut conn = app.state.db.get().unwrap();
        assert!(auth_core::accounts::disable(&mut conn, id, NOW_MS).unwrap());
    }
    assert_eq!(browser.get("/admin").await.status, 303);
    assert_eq!(
        browser.sign_in("root@example.com", PASSWORD).await.status,
        401
    );
}

async fn next_is_followed_only_within_the_console(db: TestDb) {
    let (app, _) = app(&db, &[]).await;
    create_admin(&app.state, "root@example.com");
    for (next, expected) in [
        ("/admin/audit?status=4xx", "/admin/audit?status=4xx"),
        ("https://evil.example/", "/admin"),
        ("//evil.example/admin", "/admin"),
    ] {
        let mut browser = Browser::new(&app);
        let res = browser
            .submit(
                "/admin/login",
                "/admin/login",
                &[
                    ("email", "root@example.com"),
                    ("password", PASSWORD),
                    ("next", next),
                ],
            )
            .await;
        assert_eq!(res.status, 303);
        assert_eq!(res.header("location"), Some(expected), "{next}");
    }
}

async fn the_stylesheet_is_cached_and_other_static_names_are_not_found(db: TestDb) {
    let (app, _) = app(&db, &[]).await;
    let mut browser = Browser::new(&app);
    let login = text(&browser.get("/admin/login").await);
    let start = login.find("/admin/static/admin.").unwrap();
    let path = &login[start..start + login[start..].find('"').unwrap()];
    let css = browser.get(path).await;
    assert_eq!(css.status, 200);
    assert_eq!(css.header("content-type"), Some("text/css; charset=utf-8"));
    assert_eq!(
        css.header("cache-control"),
        Some("public, max-age=31536000, immutable")
    );
    assert!(css.header("set-cookie").is_none());
    assert_eq!(browser.get("/admin/static/other.css").await.status, 404);
    assert_eq!(
        browser.get("/admin/static/..%2FCargo.toml").await.status,
        404
    );
}

async fn housekeeping_deletes_old_attempts_and_sessions(db: TestDb) {
    use auth_core::db::schema::{admin_login_attempts as la, admin_sessions as s};
    let (app, _clock) = app(&db, &[]).await;
    create_admin(&app.state, "root@example.com");
    let mut browser = Browser::new(&app);
    assert_eq!(
        browser.sign_in("root@example.com", "wrong").await.status,
        401
    );
    assert_eq!(
        browser.sign_in("root@example.com", PASSWORD).await.status,
        303
    );
    let policy = app.state.settings.admin.clone();
    let count = |app: &TestApp| {
        let mut conn = app.state.db.get().unwrap();
        let attempts: i64 = la::table.count().get_result(&mut conn).unwrap();
        let sessions: i64 = s::table.count().get_result(&mut conn).unwrap();
        (attempts, sessions)
    };
    let purge =
        |now| auth_core::accounts::housekeeping::purge(&app.state.db, &policy, now).unwrap();
    assert_eq!(purge(NOW_MS), (0, 0));
    assert_eq!(count(&app), (2, 1));
    // Past the 15-minute window the attempts go; the session stays until its 12-hour lifetime ends.
    assert_eq!(purge(NOW_MS + 16 * 60_000), (2, 0));
    assert_eq!(purge(NOW_MS + 12 * 3_600_000 + 1), (0, 1));
    assert_eq!(count(&app), (0, 0));
}

db_test!(
    pages_need_a_session,
    housekeeping_deletes_old_attempts_and_sessions,
    development_cookies_are_not_secure,
    a_generated_key_is_shared_by_instances_and_an_explicit_one_wins,
    a_stored_key_too_short_stops_start_up,
    wrong_then_right_password,
    sign_out_ends_the_session_everywhere,
    csrf_is_required_on_every_post,
    failures_lock_the_account_then_the_lock_lifts,
    failures_from_one_address_lock_that_address,
    a_burst_of_wrong_passwords_is_checked_at_most_up_to_the_limit,
    a_burst_over_two_instances_is_checked_at_most_up_to_the_limit,
    busy_password_threads_refuse_with_503,
    changing_ones_password_is_throttled_like_sign_in,
    ipv6_clients_are_throttled_by_their_64_prefix,
    every_forwarded_for_line_from_a_proxy_is_read,
    idle_and_old_sessions_expire,
    disabling_an_account_ends_its_sessions,
    next_is_followed_only_within_the_console,
    the_stylesheet_is_cached_and_other_static_names_are_not_found,
);

/// Peak resident memory of a process so far (`VmHWM`), in KiB.
fn peak_rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let line = status.lines().find(|l| l.starts_with("VmHWM:")).unwrap();
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

/// The peak memory the burst below may take. One argon2 hash holds 19 MiB; before the password
/// threads, the hashes of the burst ran at once and the server peaked at several times this bound
/// (figures in docs/security/console-sign-in.md).
const BURST_PEAK_RSS_KIB: u64 = 160 * 1024;

/// The burst against the real binary: the lock engages, and the server's peak memory stays within
/// [`BURST_PEAK_RSS_KIB`] because at most `admin.password_threads` (2) hashes run at a time.
#[actix_web::test]
async fn a_burst_against_the_binary_locks_and_stays_within_its_memory_bound() {
    let dir = tempfile::tempdir().unwrap();
    let create = common::binary::run_with_stdin(
        dir.path(),
        &[],
        &["admin", "create", "--email", "root@example.com"],
        &format!("{PASSWORD}\n"),
    );
    assert!(create.status.success());

    let server = common::binary::RunningServer::start(dir.path(), &[]);
    let mut browser = Browser::at(&server.base);
    eprintln!(
        "peak RSS before the burst: {} KiB",
        peak_rss_kib(server.child.id())
    );
    let statuses = sign_in_burst(&mut browser, "root@example.com", "guess", 40).await;
    assert_locked_after_at_most_5_checked(&statuses, &mut browser).await;
    let peak = peak_rss_kib(server.child.id());
    eprintln!("peak RSS after the burst: {peak} KiB");
    assert!(peak < BURST_PEAK_RSS_KIB, "peak RSS {peak} KiB");
}

/// Without SECRET_KEY the key comes from the database: when that cannot be reached, start-up stops
/// with a message naming both ways out, instead of signing cookies with something guessable.
#[test]
fn without_secret_key_an_unreachable_database_stops_start_up() {
    let dir = tempfile::tempdir().unwrap();
    let out = common::binary::run(
        dir.path(),
        &[
            (
                "DATABASE_URL",
                "postgres://postgres@127.0.0.1:1/auth?connect_timeout=1",
            ),
            ("AUTH_CORE__DATABASE__RUN_MIGRATIONS", "false"),
            ("AUTH_CORE__DATABASE__ACQUIRE_TIMEOUT_MS", "300"),
        ],
        &["serve", "--bind", "127.0.0.1:0"],
    );
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    let last = stderr.lines().last().unwrap_or_default();
    assert!(
        last.starts_with("auth-core: SECRET_KEY is not set and the generated key cannot be read or stored in the database"),
        "{stderr}"
    );
    assert!(
        last.contains("set SECRET_KEY (at least 32 characters)"),
        "{stderr}"
    );
}

#[test]
fn the_admin_commands_manage_accounts() {
    let dir = tempfile::tempdir().unwrap();
    let out = common::binary::run_with_stdin(
        dir.path(),
        &[],
        &["admin", "create", "--email", "Ops@Example.com"],
        &format!("{PASSWORD}\n"),
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "created administrator ops@example.com (id 1)\n"
    );

    let short = common::binary::command(dir.path(), &[])
        .args(["admin", "create", "--email", "b@example.com"])
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    assert_eq!(short.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&short.stderr).contains("at least 12 characters"));

    let dup = common::binary::command(dir.path(), &[])
        .args(["admin", "create", "--email", "ops@example.com"])
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    assert!(!dup.status.success());

    let list = common::binary::run(dir.path(), &[], &["admin", "list"]);
    let listed = String::from_utf8_lossy(&list.stdout).into_owned();
    let lines: Vec<&str> = listed.lines().collect();
    assert_eq!(lines.len(), 2, "{listed}");
    assert_eq!(lines[0], "ID  EMAIL            STATE   LAST SIGN-IN");
    assert!(
        lines[1].contains("ops@example.com  active  never"),
        "{listed}"
    );

    let disable = common::binary::run(dir.path(), &[], &["admin", "disable", "ops@example.com"]);
    assert!(disable.status.success());
    let listed =
        String::from_utf8_lossy(&common::binary::run(dir.path(), &[], &["admin", "list"]).stdout)
            .into_owned();
    assert!(listed.contains("disabled"), "{listed}");
    let unknown = common::binary::run(dir.path(), &[], &["admin", "disable", "x@example.com"]);
    assert_eq!(unknown.status.code(), Some(1));

    // Enabled again, then a new password set from standard input; the old one stops working.
    let enable = common::binary::run(dir.path(), &[], &["admin", "enable", "OPS@example.com"]);
    assert_eq!(
        String::from_utf8_lossy(&enable.stdout),
        "enabled ops@example.com\n"
    );
    let again = common::binary::run(dir.path(), &[], &["admin", "enable", "ops@example.com"]);
    assert_eq!(
        String::from_utf8_lossy(&again.stdout),
        "ops@example.com was already enabled\n"
    );
    let reset = |email: &str, password: &str| {
        common::binary::run_with_stdin(
            dir.path(),
            &[],
            &["admin", "reset-password", email],
            &format!("{password}\n"),
        )
    };
    let short = reset("ops@example.com", "short");
    assert_eq!(short.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&short.stderr).contains("at least 12 characters"));
    assert_eq!(
        reset("x@example.com", "another long password")
            .status
            .code(),
        Some(1)
    );
    let out = reset("ops@example.com", "another long password");
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "new password set for ops@example.com; their sessions have ended\n"
    );
    let file = dir.path().join("data/auth-core.sqlite3");
    let mut conn = diesel::SqliteConnection::establish(file.to_str().unwrap()).unwrap();
    let (hash, disabled): (String, Option<i64>) = auth_core::db::schema::admin_accounts::table
        .select((
            auth_core::db::schema::admin_accounts::password_hash,
            auth_core::db::schema::admin_accounts::disabled_at,
        ))
        .first(&mut conn)
        .unwrap();
    assert_eq!(disabled, None);
    assert!(auth_core::accounts::password::verify(
        "another long password",
        &hash
    ));
    assert!(!auth_core::accounts::password::verify(PASSWORD, &hash));
}
