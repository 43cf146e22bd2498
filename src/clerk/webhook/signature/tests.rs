//! The svix-webhooks libraries' own test vectors (Rust, Python, JavaScript), plus boundaries.
#![allow(clippy::unwrap_used)]

use serde_json::Value;

use super::*;

const VECTORS: &str = include_str!("../../../../tests/fixtures/svix/vectors.json");

fn vectors() -> Value {
    serde_json::from_str(VECTORS).unwrap()
}

#[test]
fn sign_vectors_match() {
    let v = vectors();
    let cases = v["sign_vectors"].as_array().unwrap();
    assert_eq!(cases.len(), 3);
    for case in cases {
        let key = SigningKey::from_secret(case["secret"].as_str().unwrap()).unwrap();
        let signature = key.sign(
            case["msg_id"].as_str().unwrap(),
            case["timestamp"].as_i64().unwrap(),
            case["payload"].as_str().unwrap().as_bytes(),
        );
        assert_eq!(
            signature,
            case["expected_signature"].as_str().unwrap(),
            "{}",
            case["from"]
        );
    }
}

#[test]
fn verify_cases_match() {
    let v = vectors();
    let tolerance = v["tolerance_seconds"].as_i64().unwrap();
    let cases = v["verify_cases"].as_array().unwrap();
    assert!(cases.len() >= 30);
    for case in cases {
        let key = SigningKey::from_secret(case["secret"].as_str().unwrap()).unwrap();
        let timestamp_header = match (&case["timestamp_header"], &case["timestamp"]) {
            (Value::String(s), _) => s.clone(),
            (_, Value::Number(n)) => n.to_string(),
            _ => String::new(),
        };
        let headers = SignedHeaders {
            id: case["msg_id"].as_str().unwrap_or(""),
            timestamp: &timestamp_header,
            signature: case["signature_header"].as_str().unwrap_or(""),
        };
        let now = case["now"]
            .as_i64()
            .or_else(|| case["timestamp"].as_i64())
            .unwrap_or(1_614_265_330);
        let result = verify(
            &[key],
            &headers,
            case["payload"].as_str().unwrap().as_bytes(),
            now,
            tolerance,
        );
        assert_eq!(
            result.is_ok(),
            case["valid"].as_bool().unwrap(),
            "{} / {}: {}",
            case["from"],
            case["source_test"],
            case["description"]
        );
    }
}

fn valid() -> (SigningKey, String, &'static [u8]) {
    let key = SigningKey::from_secret("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap();
    let body: &'static [u8] = br#"{"test": 2432232314}"#;
    let signature = key.sign("msg_1", 1_614_265_330, body);
    (key, signature, body)
}

fn check(signature: &str, timestamp: &str, now: i64) -> Result<(), SignatureError> {
    let (key, _, body) = valid();
    verify(
        &[key],
        &SignedHeaders {
            id: "msg_1",
            timestamp,
            signature,
        },
        body,
        now,
        300,
    )
}

#[test]
fn tolerance_is_inclusive_at_five_minutes_both_ways() {
    let (_, sig, _) = valid();
    let ts = 1_614_265_330;
    assert!(check(&sig, "1614265330", ts + 300).is_ok());
    assert_eq!(
        check(&sig, "1614265330", ts + 301),
        Err(SignatureError::TimestampTooOld)
    );
    assert!(check(&sig, "1614265330", ts - 300).is_ok());
    assert_eq!(
        check(&sig, "1614265330", ts - 301),
        Err(SignatureError::TimestampTooNew)
    );
    assert_eq!(
        check(&sig, "1614265330.0", ts),
        Err(SignatureError::TimestampInvalid)
    );
}

#[test]
fn bare_and_foreign_versions_never_match() {
    let (_, sig, _) = valid();
    let ts = 1_614_265_330;
    for bad in [
        "v1,",
        "v1",
        "v1, ",
        ",",
        "v2,",
        &sig.replacen("v1,", "v2,", 1),
        &sig.replacen("v1,", "V1,", 1),
    ] {
        assert_eq!(
            check(bad, "1614265330", ts),
            Err(SignatureError::SignatureInvalid),
            "{bad:?}"
        );
    }
    // A truncated signature has the wrong length: refused before comparing.
    assert_eq!(
        check(&sig[..sig.len() - 4], "1614265330", ts),
        Err(SignatureError::SignatureInvalid)
    );
    assert!(check(&format!("v2,abc {sig} v1,"), "1614265330", ts).is_ok());
}

#[test]
fn any_configured_secret_may_sign() {
    let (key, sig, body) = valid();
    let other = SigningKey::from_secret("whsec_dGVzdHNlY3JldHRlc3RzZWNyZXQ=").unwrap();
    let headers = SignedHeaders {
        id: "msg_1",
        timestamp: "1614265330",
        signature: &sig,
    };
    assert!(verify(&[other.clone(), key], &headers, body, 1_614_265_330, 300).is_ok());
    assert_eq!(
        verify(&[other], &headers, body, 1_614_265_330, 300),
        Err(SignatureError::SignatureInvalid)
    );
    assert_eq!(
        verify(&[], &headers, body, 1_614_265_330, 300),
        Err(SignatureError::NotConfigured)
    );
}

#[test]
fn tampering_with_any_signed_part_is_refused() {
    let (key, sig, body) = valid();
    let keys = [key];
    let ok = SignedHeaders {
        id: "msg_1",
        timestamp: "1614265330",
        signature: &sig,
    };
    let now = 1_614_265_330;
    assert!(verify(&keys, &ok, body, now, 300).is_ok());
    assert!(
        verify(&keys, &ok, br#"{"test": 2432232315}"#, now, 300).is_err(),
        "body"
    );
    assert!(
        verify(&keys, &SignedHeaders { id: "msg_2", ..ok }, body, now, 300).is_err(),
        "id"
    );
    assert!(
        verify(
            &keys,
            &SignedHeaders {
                timestamp: "1614265331",
                ..ok
            },
            body,
            now,
            300
        )
        .is_err(),
        "timestamp"
    );
    let missing = SignedHeaders { id: "", ..ok };
    assert_eq!(
        verify(&[valid().0], &missing, body, now, 300),
        Err(SignatureError::HeadersMissing)
    );
}
