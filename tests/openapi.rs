//! The OpenAPI document cannot drift from the code: it is served, it is OpenAPI 3.1, it describes
//! exactly the routes the app serves (each one probed), and real responses have the documented
//! shape. Also the app-wide JSON body limits, through an application that embeds auth-core (`AuthCore`
//! with a route of its own), since no auth-core route reads a JSON body with an extractor.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::BTreeSet;

use actix_web::http::Method;
use auth_core::api::route_table;
use common::clerk::{session_claims, Minter, ISSUER};
use common::{client, Response, TestApp, TestDb};
use serde_json::{json, Value};

const METHODS: [&str; 8] = [
    "get", "put", "post", "delete", "options", "head", "patch", "trace",
];

fn jwt_key_settings(db: &TestDb) -> auth_core::settings::Settings {
    let pem = std::fs::read_to_string(common::target_dir_file(
        "tests/fixtures/keys/rsa-2048-a.pub.pem",
    ))
    .unwrap();
    db.settings(&[
        ("CLERK_JWT_KEY", pem.as_str()),
        ("AUTH_CORE__AUTH__ISSUER", ISSUER),
    ])
}

fn now_s() -> i64 {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    i64::try_from(now).unwrap()
}

async fn fetch_document(app: &TestApp) -> Value {
    let res = app.get("/api/openapi.json").await;
    assert_eq!(res.status, 200);
    assert_eq!(res.header("content-type"), Some("application/json"));
    res.json()
}

/// (METHOD, path) of every operation in the document.
fn documented(doc: &Value) -> BTreeSet<(String, String)> {
    doc["paths"]
        .as_object()
        .expect("paths")
        .iter()
        .flat_map(|(path, item)| {
            item.as_object()
                .expect("path item")
                .keys()
                .filter(|k| METHODS.contains(&k.as_str()))
                .map(|m| (m.to_uppercase(), path.clone()))
                .collect::<Vec<_>>()
        })
        .collect()
}

fn served() -> BTreeSet<(String, String)> {
    route_table()
        .into_iter()
        .map(|(m, p)| (m.to_string(), p.to_owned()))
        .collect()
}

fn concrete(path: &str) -> String {
    // The organization of `session_claims`' token.
    path.replace("{organization_id}", "org_2test")
}

async fn send(app: &TestApp, method: &Method, path: &str, token: Option<&str>) -> Response {
    let mut req = client().request(method.clone(), app.url(path));
    if let Some(token) = token {
        req = req.insert_header(("Authorization", format!("Bearer {token}")));
    }
    Response::from(req.send().await.unwrap()).await
}

async fn document_describes_exactly_the_served_routes(db: TestDb) {
    let app = TestApp::spawn(jwt_key_settings(&db)).await;
    let token = Minter::a().mint(&session_claims(now_s(), json!({})));
    let doc = fetch_document(&app).await;
    assert_eq!(doc["openapi"], "3.1.0");
    assert!(doc["info"]["title"].is_string() && doc["info"]["version"].is_string());
    assert_eq!(documented(&doc), served());

    for (method, path) in route_table() {
        // Every route is served: whatever it answers without credentials, it is not the app's 404.
        let res = send(&app, &method, &concrete(path), None).await;
        assert_ne!(
            res.status, 404,
            "{method} {path} is documented but not served"
        );
        let operation = &doc["paths"][path][method.as_str().to_lowercase()];
        let status = res.status.to_string();
        assert!(
            operation["responses"].get(&status).is_some(),
            "{method} {path} answered {status}, which is not documented"
        );
        // Forward auth answers HTTP's eight methods (a proxy's subrequest may keep the client's);
        // any other is refused, so a proxy fails closed on it.
        if path == "/api/auth/verify" {
            let query = Method::from_bytes(b"QUERY").unwrap();
            let res = send(&app, &query, path, Some(&token)).await;
            assert_eq!(res.status, 405, "QUERY {path}");
            assert_eq!(res.json()["error"]["code"], "method-not-allowed");
            assert_eq!(
                res.header("allow"),
                Some("GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS, TRACE")
            );
            continue;
        }
        // The resource exists: another method is a documented JSON 405, not a 404 (signed in, as
        // protected routes authenticate before routing by method).
        let other = if method == Method::GET {
            Method::PUT
        } else {
            Method::GET
        };
        let res = send(&app, &other, &concrete(path), Some(&token)).await;
        assert_eq!(res.status, 405, "{other} {path}");
        assert_eq!(res.json()["error"]["code"], "method-not-allowed");
        assert_eq!(res.header("allow"), Some(method.as_str()), "{other} {path}");
        assert!(operation["responses"].get("405").is_some(), "{path}: 405");
    }
    // The probe can fail: a path the app does not serve is a 404.
    assert_eq!(app.get("/api/not-a-route").await.status, 404);
}

/// The document is public and not audited, as health is.
async fn document_needs_no_credentials_and_is_not_audited(db: TestDb) {
    let app = TestApp::spawn(db.settings(&[])).await;
    let first = app.get("/api/openapi.json").await;
    let second = app.get("/api/openapi.json").await;
    assert_eq!(first.status, 200);
    assert_eq!(first.body, second.body, "built once, served as is");
    // /api/auth/me is audited; the document is not: only that one event is written.
    assert_eq!(app.get("/api/auth/me").await.status, 401);
    app.state.audit.flush().await;
    let db = app.state.db.clone();
    let paths: Vec<String> = actix_web::rt::task::spawn_blocking(move || {
        use auth_core::db::schema::audit_events;
        use diesel::prelude::*;
        let mut conn = db.get().unwrap();
        audit_events::table
            .select(audit_events::path)
            .load::<String>(&mut conn)
            .unwrap()
    })
    .await
    .unwrap();
    assert_eq!(paths, vec!["/api/auth/me".to_owned()]);
}

/// Follows `$ref`s within the document.
fn resolve<'a>(doc: &'a Value, node: &'a Value) -> &'a Value {
    match node.get("$ref").and_then(Value::as_str) {
        Some(reference) => {
            let pointer = reference.strip_prefix('#').expect("local $ref");
            resolve(doc, doc.pointer(pointer).expect("$ref target"))
        }
        None => node,
    }
}

/// Checks `value` against the subset of JSON Schema utoipa emits here: `$ref`, `oneOf`, `type` (one
/// or a list), `required`, `properties`, `items`, `enum`. Returns the first mismatch.
fn check(doc: &Value, schema: &Value, value: &Value, at: &str) -> Result<(), String> {
    let schema = resolve(doc, schema);
    if let Some(branches) = schema.get("oneOf").and_then(Value::as_array) {
        let matching = branches
            .iter()
            .filter(|b| check(doc, b, value, at).is_ok())
            .count();
        if matching != 1 {
            return Err(format!("{at}: matches {matching} of the oneOf branches"));
        }
    }
    if let Some(types) = schema.get("type") {
        let types: Vec<&str> = match types {
            Value::String(t) => vec![t.as_str()],
            Value::Array(ts) => ts.iter().filter_map(Value::as_str).collect(),
            other => return Err(format!("{at}: bad type {other}")),
        };
        let actual = match value {
            Value::Null => "null",
            Value::Bool(_) => "boolean",
            Value::Number(n) if n.is_i64() || n.is_u64() => "integer",
            Value::Number(_) => "number",
            Value::String(_) => "string",
            Value::Array(_) => "array",
            Value::Object(_) => "object",
        };
        let ok = types.contains(&actual) || (actual == "integer" && types.contains(&"number"));
        if !ok {
            return Err(format!("{at}: {actual} is not {types:?}"));
        }
    }
    if let Some(allowed) = schema.get("enum").and_then(Value::as_array) {
        if !allowed.contains(value) {
            return Err(format!("{at}: {value} is not one of the enum"));
        }
    }
    if let Value::Object(fields) = value {
        for name in schema["required"].as_array().into_iter().flatten() {
            let name = name.as_str().unwrap();
            if !fields.contains_key(name) {
                return Err(format!("{at}: required field {name} is missing"));
            }
        }
        if let Some(properties) = schema.get("properties").and_then(Value::as_object) {
            for (name, field) in fields {
                if let Some(sub) = properties.get(name) {
                    check(doc, sub, field, &format!("{at}.{name}"))?;
                }
            }
        }
    }
    if let (Value::Array(items), Some(item)) = (value, schema.get("items")) {
        for (i, v) in items.iter().enumerate() {
            check(doc, item, v, &format!("{at}[{i}]"))?;
        }
    }
    Ok(())
}

/// The response's status must be documented for the operation, and its JSON body must match.
fn conforms(doc: &Value, method: &str, path: &str, res: &Response) -> Result<(), String> {
    let responses = &doc["paths"][path][method]["responses"];
    let documented = responses
        .get(res.status.to_string())
        .ok_or_else(|| format!("{method} {path}: status {} not documented", res.status))?;
    let documented = resolve(doc, documented);
    let content_type = res.header("content-type").unwrap_or_default();
    let (media, schema) = documented["content"]
        .as_object()
        .and_then(|c| c.iter().next())
        .ok_or_else(|| format!("{method} {path} {}: no documented content", res.status))?;
    if media != content_type {
        return Err(format!(
            "{method} {path}: content type {content_type}, documented {media}"
        ));
    }
    if media == "application/json" {
        check(doc, &schema["schema"], &res.json(), "$")?;
    }
    Ok(())
}

async fn real_responses_have_the_documented_shape(db: TestDb) {
    let app = TestApp::spawn(jwt_key_settings(&db)).await;
    let doc = fetch_document(&app).await;
    let token = Minter::a().mint(&session_claims(now_s(), json!({})));
    let cases: [(&str, &str, Option<&str>, u16); 9] = [
        ("get", "/healthz", None, 200),
        ("get", "/api/auth/health", None, 200),
        ("get", "/metrics", None, 200),
        ("get", "/api/auth/me", None, 401),
        ("get", "/api/auth/me", Some(&token), 200),
        ("get", "/api/orgs/current", Some(&token), 200),
        ("get", "/api/orgs/current/members", Some(&token), 200),
        ("get", "/api/orgs/current/audit", Some(&token), 200),
        ("post", "/api/auth/webhooks/clerk", None, 401),
    ];
    for (method, path, token, status) in cases {
        let method_upper = Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
        let res = send(&app, &method_upper, path, token).await;
        assert_eq!(res.status, status, "{method} {path}");
        conforms(&doc, method, path, &res).unwrap();
    }
    // A foreign organization id is 404, documented, in the error shape.
    let res = send(&app, &Method::GET, "/api/orgs/org_other", Some(&token)).await;
    assert_eq!(res.status, 404);
    conforms(&doc, "get", "/api/orgs/{organization_id}", &res).unwrap();
    // Forward auth's refusals, the reverification body included.
    let step_up = Minter::a().mint(&session_claims(now_s(), json!({"fva": [3, 30]})));
    for (query, token, status) in [
        ("", None, 401),
        ("?reverification=strict", Some(&step_up), 403),
        ("?role=org:nobody", Some(&step_up), 403),
    ] {
        let path = format!("/api/auth/verify{query}");
        let res = send(&app, &Method::GET, &path, token.map(String::as_str)).await;
        assert_eq!(res.status, status, "{path}");
        conforms(&doc, "get", "/api/auth/verify", &res).unwrap();
    }
    // Without an active organization: 403 organization-required, documented.
    let no_org = Minter::a().mint(&session_claims(now_s(), json!({"o": null, "fea": null})));
    let res = send(&app, &Method::GET, "/api/orgs/current", Some(&no_org)).await;
    assert_eq!(res.status, 403);
    assert_eq!(res.json()["error"]["code"], "organization-required");
    conforms(&doc, "get", "/api/orgs/current", &res).unwrap();
}

/// The checker above is what the shape test relies on: it must refuse what does not match.
#[test]
fn the_shape_check_refuses_mismatches() {
    let doc =
        serde_json::from_str::<Value>(&auth_core::api::openapi::document().to_json().unwrap())
            .unwrap();
    let error = json!({"$ref": "#/components/schemas/Error"});
    let good = json!({"error": {"code": "not-found", "message": "m", "request_id": "r"}});
    assert_eq!(check(&doc, &error, &good, "$"), Ok(()));
    let missing = json!({"error": {"code": "not-found", "message": "m"}});
    assert!(check(&doc, &error, &missing, "$").is_err());
    let unknown_code = json!({"error": {"code": "made-up", "message": "m", "request_id": null}});
    assert!(check(&doc, &error, &unknown_code, "$").is_err());
    let wrong_type = json!({"error": {"code": "not-found", "message": 1, "request_id": null}});
    assert!(check(&doc, &error, &wrong_type, "$").is_err());
}

async fn json_bodies_over_the_limit_or_malformed_get_json_errors(db: TestDb) {
    // An embedding application's route: auth-core's limits and error shape apply to it.
    let running = auth_core::AuthCore::from_settings(db.settings(&[]))
        .public_routes(|cfg| {
            cfg.route(
                "/echo",
                actix_web::web::post().to(|body: actix_web::web::Json<Value>| async move {
                    actix_web::HttpResponse::Ok().json(body.into_inner())
                }),
            );
        })
        .bind("127.0.0.1:0")
        .workers(1)
        .start()
        .await
        .unwrap();
    let url = format!("http://{}/echo", running.addrs()[0]);
    let handle = running.handle();
    actix_web::rt::spawn(running.wait());

    let post = |content_type: &'static str, body: Vec<u8>| {
        let url = url.clone();
        async move {
            Response::from(
                client()
                    .post(url)
                    .insert_header(("content-type", content_type))
                    .send_body(body)
                    .await
                    .unwrap(),
            )
            .await
        }
    };
    let ok = post("application/json", br#"{"a":1}"#.to_vec()).await;
    assert_eq!((ok.status, ok.json()), (200, json!({"a": 1})));

    let mut big = b"[\"".to_vec();
    big.extend(std::iter::repeat_n(b'x', auth_core::app::BODY_LIMIT));
    big.extend(b"\"]");
    let res = post("application/json", big).await;
    assert_eq!(res.status, 413);
    assert_eq!(res.json()["error"]["code"], "payload-too-large");

    let res = post("application/json", b"{\"a\":".to_vec()).await;
    assert_eq!(res.status, 400);
    assert_eq!(res.json()["error"]["code"], "bad-request");

    let res = post("text/plain", br#"{"a":1}"#.to_vec()).await;
    assert_eq!(res.status, 415);
    assert_eq!(res.json()["error"]["code"], "unsupported-media-type");
    handle.stop(false).await;
}

/// The webhook route keeps its own limit (`webhooks.max_body_bytes`), above the app-wide one.
async fn webhook_keeps_its_own_body_limit(db: TestDb) {
    let app =
        TestApp::spawn(db.settings(&[("AUTH_CORE__WEBHOOKS__MAX_BODY_BYTES", "100000")])).await;
    let post = |size: usize| {
        client()
            .post(app.url("/api/auth/webhooks/clerk"))
            .insert_header(("content-type", "application/json"))
            .send_body(vec![b' '; size])
    };
    // Over the app-wide 64 KiB but within the webhook's limit: read, then refused for its signature.
    let res = Response::from(post(auth_core::app::BODY_LIMIT + 1).await.unwrap()).await;
    assert_eq!(res.status, 401);
    assert_eq!(res.json()["error"]["code"], "webhook-secret-not-configured");
    let res = Response::from(post(100_001).await.unwrap()).await;
    assert_eq!(res.status, 413);
    assert_eq!(res.json()["error"]["code"], "payload-too-large");
}

db_test!(
    document_describes_exactly_the_served_routes,
    document_needs_no_credentials_and_is_not_audited,
    real_responses_have_the_documented_shape,
    json_bodies_over_the_limit_or_malformed_get_json_errors,
    webhook_keeps_its_own_body_limit,
);
