//! A JWKS document (`{"keys":[…]}`) decoded into verification keys by kid. Keys that cannot verify
//! Clerk session tokens (not RSA, not for signatures, another algorithm, too short, no kid) are left
//! out; a document with no usable key is an error.

use std::collections::HashMap;
use std::sync::Arc;

use jsonwebtoken::Algorithm;
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
        // A key that names its algorithm verifies only tokens of that algorithm (RFC 7517 §4.4).
        let algorithm = match jwk.alg.as_deref() {
            None => Some(None),
            Some("RS256") => Some(Some(Algorithm::RS256)),
            Some("RS384") => Some(Some(Algorithm::RS384)),
            Some("RS512") => Some(Some(Algorithm::RS512)),
            Some(_) => None,
        };
        let usable = jwk.kty == "RSA" && jwk.usage.as_deref().is_none_or(|u| u == "sig");
        let (true, Some(algorithm), Some(kid), Some(n), Some(e)) =
            (usable, algorithm, jwk.kid, jwk.n, jwk.e)
        else {
            continue;
        };
        match RsaPublicKey::from_jwk_components(&n, &e) {
            Ok(key) => {
                let key = match algorithm {
                    Some(alg) => key.only_for(alg),
                    None => key,
                };
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

    /// A JWK's `alg` restricts the key to that algorithm; without one the token's RS algorithm
    /// applies; an `alg` auth-core cannot honour (another family, another spelling) leaves it out.
    #[test]
    fn a_named_algorithm_is_kept_with_the_key() {
        let fixtures: serde_json::Value = serde_json::from_str(FIXTURE).unwrap();
        let good = fixtures["mockJwks"]["keys"][0].clone();
        let with = |kid: &str, alg: Option<&str>| {
            let mut key = good.clone();
            key["kid"] = kid.into();
            match alg {
                Some(alg) => key["alg"] = alg.into(),
                None => {
                    key.as_object_mut().unwrap().remove("alg");
                }
            }
            key
        };
        let doc = serde_json::json!({"keys": [
            with("k256", Some("RS256")),
            with("k384", Some("RS384")),
            with("k512", Some("RS512")),
            with("none", None),
            with("lower", Some("rs256")),
            with("ps", Some("PS256")),
        ]});
        let keys = parse(doc.to_string().as_bytes()).unwrap();
        assert_eq!(keys["k256"].algorithm, Some(Algorithm::RS256));
        assert_eq!(keys["k384"].algorithm, Some(Algorithm::RS384));
        assert_eq!(keys["k512"].algorithm, Some(Algorithm::RS512));
        assert_eq!(keys["none"].algorithm, None);
        assert!(!keys.contains_key("lower") && !keys.contains_key("ps"));
        assert_eq!(keys.len(), 4);
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
