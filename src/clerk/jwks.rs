//! A JWKS document (`{"keys":[…]}`) decoded into verification keys by kid. Keys that cannot verify
//! Clerk session tokens (not RSA, not for signatures, another algorithm, too short, no kid) are left
//! out; a document with no usable key is an error.

use std::collections::HashMap;
use std::sync::Arc;

use serde::Deserialize;

use super::rsa_key::RsaPublicKey;

pub type KeysByKid = HashMap<String, Arc<RsaPublicKey>>;

#[derive(Deserialize)]
struct Document {
    keys: Vec<serde_json::Value>,
}

#[derive(Deserialize)]
struct Jwk {
    kty: String,
    kid: Option<String>,
    #[serde(rename = "use")]
    usage: Option<String>,
    alg: Option<String>,
    n: Option<String>,
    e: Option<String>,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum JwksError {
    #[error("not a JWKS document: {0}")]
    Malformed(String),
    #[error("the JWKS contains no usable RSA signing key")]
    NoUsableKeys,
}

pub fn parse(body: &[u8]) -> Result<KeysByKid, JwksError> {
    let document: Document =
        serde_json::from_slice(body).map_err(|e| JwksError::Malformed(e.to_string()))?;
    let mut keys = KeysByKid::new();
    for value in document.keys {
        let Ok(jwk) = serde_json::from_value::<Jwk>(value) else {
            continue;
        };
        let usable = jwk.kty == "RSA"
            && jwk.usage.as_deref().is_none_or(|u| u == "sig")
            && jwk
                .alg
                .as_deref()
                .is_none_or(|a| matches!(a, "RS256" | "RS384" | "RS512"));
        let (true, Some(kid), Some(n), Some(e)) = (usable, jwk.kid, jwk.n, jwk.e) else {
            continue;
        };
        match RsaPublicKey::from_jwk_components(&n, &e) {
            Ok(key) => {
                keys.insert(kid, Arc::new(key));
            }
            Err(error) => log::warn!(target: "auth_core::jwks", "JWKS key {kid} skipped: {error}"),
        }
    }
    if keys.is_empty() {
        return Err(JwksError::NoUsableKeys);
    }
    Ok(keys)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    const FIXTURE: &str = include_str!("../../tests/fixtures/clerk-backend/fixtures.json");

    #[test]
    fn clerk_jwks_fixture_parses() {
        let fixtures: serde_json::Value = serde_json::from_str(FIXTURE).unwrap();
        let body = serde_json::to_vec(&fixtures["mockJwks"]).unwrap();
        let keys = parse(&body).unwrap();
        assert_eq!(keys.len(), 1);
        assert_eq!(keys["ins_2GIoQhbUpy0hX7B2cVkuTMinXoD"].modulus_bits, 2048);
    }

    #[test]
    fn unusable_keys_are_left_out() {
        let fixtures: serde_json::Value = serde_json::from_str(FIXTURE).unwrap();
        let good = fixtures["mockJwks"]["keys"][0].clone();
        let mut enc = good.clone();
        enc["use"] = "enc".into();
        let mut es = good.clone();
        es["alg"] = "ES256".into();
        let mut no_kid = good.clone();
        no_kid.as_object_mut().unwrap().remove("kid");
        let ec = serde_json::json!({"kty": "EC", "kid": "ec1", "crv": "P-256", "x": "a", "y": "b"});
        let doc = serde_json::json!({"keys": [enc, es, no_kid, ec, "junk"]});
        assert_eq!(
            parse(doc.to_string().as_bytes()).unwrap_err(),
            JwksError::NoUsableKeys
        );
        let doc = serde_json::json!({"keys": [good, ec]});
        assert_eq!(parse(doc.to_string().as_bytes()).unwrap().len(), 1);
        assert!(matches!(parse(b"<html>"), Err(JwksError::Malformed(_))));
        assert!(matches!(
            parse(b"{\"keys\": {}}"),
            Err(JwksError::Malformed(_))
        ));
    }
}
