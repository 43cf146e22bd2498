//! Delivering Clerk webhooks to a test app: signed as Svix signs them, with payloads from Clerk's spec.

use auth_core::clerk::webhook::signature::SigningKey;
use serde_json::Value;

use super::clerk::webhooks_spec;
use super::{client, Response, TestApp};

pub const WEBHOOK_SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

/// Every event type of Clerk's webhook spec with its example payload (`example`, or the
/// `examples.default` reference into `components.examples`).
pub fn spec_examples() -> Vec<(String, Value)> {
    let spec = webhooks_spec();
    let mut out = Vec::new();
    for (event_type, op) in spec["x-webhooks"].as_object().unwrap() {
        let content = &op["post"]["requestBody"]["content"]["application/json"];
        let example = if content["example"].is_object() {
            content["example"].clone()
        } else {
            let reference = content["examples"]["default"]["$ref"].as_str().unwrap();
            let name = reference.rsplit('/').next().unwrap();
            spec["components"]["examples"][name]["value"].clone()
        };
        assert!(example.is_object(), "{event_type} has no example");
        out.push((event_type.clone(), example));
    }
    out
}

pub fn example(event_type: &str) -> Value {
    spec_examples()
        .into_iter()
        .find(|(t, _)| t == event_type)
        .map(|(_, e)| e)
        .unwrap_or_else(|| panic!("no example for {event_type}"))
}

pub fn sign(secret: &str, svix_id: &str, timestamp: i64, body: &[u8]) -> String {
    SigningKey::from_secret(secret)
        .unwrap()
        .sign(svix_id, timestamp, body)
}

/// POSTs `body` with Svix headers: `headers` overrides (name, value); a `None` value drops the header.
pub async fn post_raw(
    app: &TestApp,
    body: Vec<u8>,
    headers: &[(&str, Option<String>)],
) -> Response {
    let mut req = client()
        .post(app.url("/api/auth/webhooks/clerk"))
        .content_type("application/json");
    for (name, value) in headers {
        if let Some(value) = value {
            req = req.insert_header((*name, value.as_str()));
        }
    }
    Response::from(req.send_body(body).await.unwrap()).await
}

/// Delivers `event` signed with the test secret at `now_s`.
pub async fn deliver(app: &TestApp, svix_id: &str, now_s: i64, event: &Value) -> Response {
    let body = serde_json::to_vec(event).unwrap();
    let signature = sign(WEBHOOK_SECRET, svix_id, now_s, &body);
    post_raw(
        app,
        body,
        &[
            ("svix-id", Some(svix_id.to_owned())),
            ("svix-timestamp", Some(now_s.to_string())),
            ("svix-signature", Some(signature)),
        ],
    )
    .await
}
