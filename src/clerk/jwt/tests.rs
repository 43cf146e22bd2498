//! Every reason code, the boundaries of the time checks, and @clerk/backend's own fixtures.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use jsonwebtoken::{EncodingKey, Header};
use serde_json::{json, Value};

use super::*;

const KEYS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/keys/");
const NOW: i64 = 1_700_000_000;

fn read(name: &str) -> String {
    std::fs::read_to_string(format!("{KEYS}{name}")).unwrap()
}

fn public_key() -> RsaPublicKey {
    RsaPublicKey::from_pem(&read("rsa-2048-a.pub.pem")).unwrap()
}

fn claims(extra: Value) -> Value {
    let mut c = json!({
        "sub": "user_2abc", "sid": "sess_2abc", "iss": "https://clerk.example.com",
        "azp": "https://app.example.com", "iat": NOW - 10, "nbf": NOW - 20, "exp": NOW + 50,
    });
    for (k, v) in extra.as_object().unwrap() {
        if v.is_null() {
            c.as_object_mut().unwrap().remove(k);
        } else {
            c[k] = v.clone();
        }
    }
    c
}

fn mint_with(header: Header, claims: &Value, private: &str) -> String {
    jsonwebtoken::encode(
        &header,
        claims,
        &EncodingKey::from_rsa_pem(read(private).as_bytes()).unwrap(),
    )
    .unwrap()
}

fn mint(extra: Value) -> String {
    let mut header = Header::new(Algorithm::RS256);
    header.kid = Some("ins_test".into());
    mint_with(header, &claims(extra), "rsa-2048-a.pem")
}

/// A token whose header is exactly `header_json` (signature from key a over the real input).
fn with_raw_header(header_json: Value, claims: &Value) -> String {
    let h = URL_SAFE_NO_PAD.encode(header_json.to_string());
    let p = URL_SAFE_NO_PAD.encode(claims.to_string());
    let input = format!("{h}.{p}");
    let key = EncodingKey::from_rsa_pem(read("rsa-2048-a.pem").as_bytes()).unwrap();
    let sig = jsonwebtoken::crypto::sign(input.as_bytes(), &key, Algorithm::RS256).unwrap();
    format!("{input}.{sig}")
}

fn policy() -> Policy {
    Policy {
        authorized_parties: vec!["https://app.example.com".into()],
        issuer: Some("https://clerk.example.com".into()),
        ..Policy::default()
    }
}

fn check(token: &str) -> Result<VerifiedToken, Reason> {
    check_with(token, &policy(), NOW * 1000)
}

fn check_with(token: &str, policy: &Policy, now_ms: i64) -> Result<VerifiedToken, Reason> {
    verify(token, &public_key(), policy, now_ms)
}

#[test]
fn a_valid_token_yields_its_claims() {
    let verified = check(&mint(json!({}))).unwrap();
    assert_eq!(verified.claims.user_id, "user_2abc");
    assert_eq!(verified.claims.session_id, "sess_2abc");
    assert_eq!(verified.kid.as_deref(), Some("ins_test"));
    assert_eq!(verified.valid_until_ms, (NOW + 50) * 1000 + 5000);
}

#[test]
fn malformed_tokens_are_token_invalid() {
    for token in [
        "",
        "null",
        "undefined",
        "whatever",
        "42",
        "a.b",
        "a.b.c.d",
        "aaa.bbb.ccc",
        "YWJj.YWJj.YWJj",
        "...",
    ] {
        assert_eq!(check(token).unwrap_err(), Reason::TokenInvalid, "{token:?}");
    }
    let good = mint(json!({}));
    let (input, _) = good.rsplit_once('.').unwrap();
    // An empty signature part is a signature that does not verify, as in @clerk/backend 3.x.
    assert_eq!(
        check(&format!("{input}.")).unwrap_err(),
        Reason::TokenInvalidSignature,
        "empty signature"
    );
    assert_eq!(
        check(&format!("{input}.!!")).unwrap_err(),
        Reason::TokenInvalid,
        "signature not base64url"
    );
    // A payload that is JSON but not an object.
    let t = format!(
        "{}.{}.{}",
        URL_SAFE_NO_PAD.encode(r#"{"alg":"RS256"}"#),
        URL_SAFE_NO_PAD.encode("[1]"),
        "c2ln"
    );
    assert_eq!(check(&t).unwrap_err(), Reason::TokenInvalid);
}

#[test]
fn header_typ_must_be_jwt_when_present() {
    let c = claims(json!({}));
    assert!(
        check(&with_raw_header(json!({"alg": "RS256"}), &c)).is_ok(),
        "typ may be absent"
    );
    assert!(check(&with_raw_header(json!({"alg": "RS256", "typ": "JWT"}), &c)).is_ok());
    assert_eq!(
        check(&with_raw_header(json!({"alg": "RS256", "typ": "jwt"}), &c)).unwrap_err(),
        Reason::TokenInvalid
    );
    assert_eq!(
        check(&with_raw_header(json!({"alg": "RS256", "typ": 1}), &c)).unwrap_err(),
        Reason::TokenInvalid
    );
    assert_eq!(
        check(&with_raw_header(
            json!({"alg": "RS256", "typ": "at+jwt"}),
            &c
        ))
        .unwrap_err(),
        Reason::TokenTypeMismatch
    );
    assert_eq!(
        check(&with_raw_header(
            json!({"alg": "RS256", "typ": "application/at+jwt"}),
            &c
        ))
        .unwrap_err(),
        Reason::TokenTypeMismatch
    );
}

#[test]
fn only_rsa_pkcs1_algorithms_are_accepted_before_any_crypto() {
    let c = claims(json!({}));
    for alg in [
        "none", "HS256", "HS512", "ES256", "PS256", "EdDSA", "rs256", "",
    ] {
        let t = with_raw_header(json!({"alg": alg, "typ": "JWT"}), &c);
        assert_eq!(
            check(&t).unwrap_err(),
            Reason::TokenInvalidAlgorithm,
            "{alg}"
        );
    }
    assert_eq!(
        check(&with_raw_header(json!({"typ": "JWT"}), &c)).unwrap_err(),
        Reason::TokenInvalidAlgorithm
    );
    for alg in [Algorithm::RS384, Algorithm::RS512] {
        let t = mint_with(Header::new(alg), &c, "rsa-2048-a.pem");
        assert!(check(&t).is_ok(), "{alg:?}");
    }
}

/// An unsigned token (`alg: none`, in any spelling, with the empty signature such tokens carry) is
/// refused for its algorithm, before the signature is looked at.
#[test]
fn unsigned_tokens_are_an_invalid_algorithm_in_any_case() {
    let payload = URL_SAFE_NO_PAD.encode(claims(json!({})).to_string());
    for alg in ["none", "None", "NONE", "nOnE"] {
        for header in [json!({"alg": alg}), json!({"alg": alg, "typ": "JWT"})] {
            let header = URL_SAFE_NO_PAD.encode(header.to_string());
            let token = format!("{header}.{payload}.");
            assert_eq!(
                check(&token).unwrap_err(),
                Reason::TokenInvalidAlgorithm,
                "{alg}"
            );
        }
    }
}

/// A key whose JWK names an algorithm verifies tokens of that algorithm only (RFC 7517 §4.4);
/// Clerk's key import refuses the mismatch (`token-verification-failed`), even for a signature
/// that the same RSA key made.
#[test]
fn a_key_restricted_to_an_algorithm_verifies_no_other() {
    let c = claims(json!({}));
    let rs384 = mint_with(Header::new(Algorithm::RS384), &c, "rsa-2048-a.pem");
    let rs256 = mint_with(Header::new(Algorithm::RS256), &c, "rsa-2048-a.pem");
    let only_256 = public_key().only_for(Algorithm::RS256);
    let only_384 = public_key().only_for(Algorithm::RS384);
    let verify_with = |token: &str, key: &RsaPublicKey| verify(token, key, &policy(), NOW * 1000);
    assert_eq!(
        verify_with(&rs384, &only_256).unwrap_err(),
        Reason::TokenVerificationFailed
    );
    assert_eq!(
        verify_with(&rs256, &only_384).unwrap_err(),
        Reason::TokenVerificationFailed
    );
    assert!(verify_with(&rs256, &only_256).is_ok());
    assert!(verify_with(&rs384, &only_384).is_ok());
    // The mismatch is found before the signature: an empty one is not reported instead.
    let (input, _) = rs384.rsplit_once('.').unwrap();
    assert_eq!(
        verify_with(&format!("{input}."), &only_256).unwrap_err(),
        Reason::TokenVerificationFailed
    );
    // Without a named algorithm (a PEM key) the token's RS algorithm is used.
    assert!(verify_with(&rs384, &public_key()).is_ok());
}

#[test]
fn signature_is_checked_before_any_claim() {
    // Signed by another key AND expired AND wrong azp: the signature is what is reported.
    let t = mint_with(
        Header::new(Algorithm::RS256),
        &claims(json!({"exp": 1, "azp": "https://evil.example"})),
        "rsa-2048-b.pem",
    );
    assert_eq!(check(&t).unwrap_err(), Reason::TokenInvalidSignature);
    // A payload swapped under a valid signature.
    let good = mint(json!({}));
    let parts: Vec<&str> = good.split('.').collect();
    let forged = URL_SAFE_NO_PAD.encode(claims(json!({"sub": "user_admin"})).to_string());
    assert_eq!(
        check(&format!("{}.{forged}.{}", parts[0], parts[2])).unwrap_err(),
        Reason::TokenInvalidSignature
    );
}

#[test]
fn sub_must_be_a_string() {
    assert_eq!(
        check(&mint(json!({"sub": null}))).unwrap_err(),
        Reason::TokenVerificationFailed
    );
    assert_eq!(
        check(&mint(json!({"sub": 42}))).unwrap_err(),
        Reason::TokenVerificationFailed
    );
}

#[test]
fn azp_policies() {
    let listed = policy();
    assert_eq!(
        check(&mint(json!({"azp": "https://evil.example"}))).unwrap_err(),
        Reason::TokenInvalidAuthorizedParties
    );
    assert_eq!(
        check(&mint(json!({"azp": 7}))).unwrap_err(),
        Reason::TokenInvalidAuthorizedParties
    );
    assert!(
        check(&mint(json!({"azp": null}))).is_ok(),
        "when-present: no azp passes"
    );
    let required = Policy {
        azp: AzpPolicy::Required,
        ..listed.clone()
    };
    assert_eq!(
        check_with(&mint(json!({"azp": null})), &required, NOW * 1000).unwrap_err(),
        Reason::TokenInvalidAuthorizedParties
    );
    assert!(check_with(&mint(json!({})), &required, NOW * 1000).is_ok());
    let off = Policy {
        azp: AzpPolicy::Off,
        ..listed.clone()
    };
    assert!(check_with(
        &mint(json!({"azp": "https://evil.example"})),
        &off,
        NOW * 1000
    )
    .is_ok());
    let unlisted = Policy {
        authorized_parties: vec![],
        ..listed
    };
    assert!(check_with(
        &mint(json!({"azp": "https://any.example"})),
        &unlisted,
        NOW * 1000
    )
    .is_ok());
}

#[test]
fn expiry_boundaries_with_skew() {
    let exp = NOW + 50;
    let t = mint(json!({"exp": exp}));
    let at = |ms: i64| check_with(&t, &policy(), ms);
    // expired iff exp*1000 <= now - skew (5 s)
    assert!(at(exp * 1000 + 4_999).is_ok());
    assert_eq!(at(exp * 1000 + 5_000).unwrap_err(), Reason::TokenExpired);
    let no_skew = Policy {
        clock_skew: Duration::ZERO,
        ..policy()
    };
    assert!(check_with(&t, &no_skew, exp * 1000 - 1).is_ok());
    assert_eq!(
        check_with(&t, &no_skew, exp * 1000).unwrap_err(),
        Reason::TokenExpired
    );
    assert_eq!(
        check(&mint(json!({"exp": null}))).unwrap_err(),
        Reason::TokenVerificationFailed
    );
    assert_eq!(
        check(&mint(json!({"exp": "soon"}))).unwrap_err(),
        Reason::TokenVerificationFailed
    );
    assert_eq!(
        check(&mint(json!({"exp": 1e300}))).unwrap_err(),
        Reason::TokenVerificationFailed
    );
    // fractions are truncated
    assert!(check_with(
        &mint(json!({"exp": exp as f64 + 0.9})),
        &no_skew,
        exp * 1000 - 1
    )
    .is_ok());
    assert!(check_with(
        &mint(json!({"exp": exp as f64 + 0.9})),
        &no_skew,
        exp * 1000
    )
    .is_err());
}

#[test]
fn nbf_and_iat_boundaries_with_skew() {
    let t = mint(json!({"nbf": NOW + 5, "iat": NOW - 100}));
    assert!(
        check_with(&t, &policy(), NOW * 1000).is_ok(),
        "nbf = now + skew is active"
    );
    let t = mint(json!({"nbf": NOW + 6}));
    assert_eq!(check(&t).unwrap_err(), Reason::TokenNotActiveYet);
    let t = mint(json!({"iat": NOW + 6, "nbf": null}));
    assert_eq!(check(&t).unwrap_err(), Reason::TokenIatInTheFuture);
    let t = mint(json!({"iat": NOW + 5, "nbf": null}));
    assert!(check(&t).is_ok());
    assert!(
        check(&mint(json!({"iat": null, "nbf": null}))).is_ok(),
        "both optional"
    );
    assert_eq!(
        check(&mint(json!({"nbf": "x"}))).unwrap_err(),
        Reason::TokenVerificationFailed
    );
}

#[test]
fn issuer_is_checked_when_known() {
    assert_eq!(
        check(&mint(json!({"iss": "https://clerk.other.com"}))).unwrap_err(),
        Reason::TokenInvalidIssuer
    );
    assert_eq!(
        check(&mint(json!({"iss": null}))).unwrap_err(),
        Reason::TokenInvalidIssuer
    );
    assert!(check(&mint(json!({"iss": "https://clerk.example.com/"}))).is_ok());
    let unknown = Policy {
        issuer: None,
        ..policy()
    };
    assert!(check_with(
        &mint(json!({"iss": "https://clerk.other.com"})),
        &unknown,
        NOW * 1000
    )
    .is_ok());
}

#[test]
fn other_token_categories_are_type_mismatches() {
    let c = claims(json!({}));
    for cat in [CATEGORY_JWT_TEMPLATE, CATEGORY_M2M] {
        let t = with_raw_header(json!({"alg": "RS256", "typ": "JWT", "cat": cat}), &c);
        assert_eq!(check(&t).unwrap_err(), Reason::TokenTypeMismatch, "{cat}");
    }
    assert!(check(&with_raw_header(
        json!({"alg": "RS256", "cat": "cl_B7d4PD111AAA"}),
        &c
    ))
    .is_ok());
    assert_eq!(
        check(&mint(json!({"sub": "mch_2xyz"}))).unwrap_err(),
        Reason::TokenTypeMismatch
    );
}

#[test]
fn sessions_need_an_id_and_pending_ones_count_as_signed_out() {
    assert_eq!(
        check(&mint(json!({"sid": null}))).unwrap_err(),
        Reason::TokenVerificationFailed
    );
    assert_eq!(
        check(&mint(json!({"sts": "pending"}))).unwrap_err(),
        Reason::SessionPending
    );
    assert!(check(&mint(json!({"sts": "active"}))).is_ok());
    let allow = Policy {
        allow_pending_sessions: true,
        ..policy()
    };
    assert!(check_with(&mint(json!({"sts": "pending"})), &allow, NOW * 1000).is_ok());
}

#[test]
fn oversized_tokens_are_refused_before_decoding() {
    let small = Policy {
        max_token_bytes: 64,
        ..policy()
    };
    assert_eq!(
        check_with(&"a".repeat(65), &small, 0).unwrap_err(),
        Reason::TokenTooLarge
    );
    assert_eq!(
        check_with(&mint(json!({})), &small, 0).unwrap_err(),
        Reason::TokenTooLarge
    );
}

#[test]
fn any_rsa_size_verifies() {
    let key = RsaPublicKey::from_pem(&read("rsa-4096.pub.pem")).unwrap();
    let t = mint_with(
        Header::new(Algorithm::RS512),
        &claims(json!({})),
        "rsa-4096.pem",
    );
    assert!(verify(&t, &key, &policy(), NOW * 1000).is_ok());
}

/// @clerk/backend's fixtures at their frozen time give Clerk's results.
mod clerk_fixtures {
    use super::*;

    fn fixtures() -> Value {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/clerk-backend/fixtures.json"
        );
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
    }

    fn jwk_key(jwk: &Value) -> RsaPublicKey {
        RsaPublicKey::from_jwk_components(jwk["n"].as_str().unwrap(), jwk["e"].as_str().unwrap())
            .unwrap()
    }

    fn clerk_policy() -> Policy {
        Policy {
            authorized_parties: vec!["https://accounts.inspired.puma-74.lcl.dev".into()],
            ..Policy::default()
        }
    }

    #[test]
    fn mock_jwt_verifies_with_mock_jwks_at_frozen_time() {
        let f = fixtures();
        let now = f["frozen_time"].as_i64().unwrap() * 1000;
        let key = jwk_key(&f["mockJwks"]["keys"][0]);
        let v = verify(f["mockJwt"].as_str().unwrap(), &key, &clerk_policy(), now).unwrap();
        let expected = &f["mockJwtPayload"];
        assert_eq!(v.claims.user_id, expected["sub"]);
        assert_eq!(v.claims.session_id, expected["sid"]);
        assert_eq!(Some(v.claims.expires_at), expected["exp"].as_i64());
        assert_eq!(
            v.claims.authorized_party.as_deref(),
            expected["azp"].as_str()
        );
        assert_eq!(v.kid.as_deref(), Some("ins_2GIoQhbUpy0hX7B2cVkuTMinXoD"));
        // With the issuer derived from the fixture's instance, our stricter check agrees too.
        let strict = Policy {
            issuer: Some("https://clerk.inspired.puma-74.lcl.dev".into()),
            ..clerk_policy()
        };
        assert!(verify(f["mockJwt"].as_str().unwrap(), &key, &strict, now).is_ok());
    }

    #[test]
    fn expiry_around_the_fixture_matches_clerk() {
        let f = fixtures();
        let key = jwk_key(&f["mockJwks"]["keys"][0]);
        let token = f["mockJwt"].as_str().unwrap();
        let exp = f["mockJwtPayload"]["exp"].as_i64().unwrap();
        // exp + 1 s: accepted with the default 5 s skew, expired with skew 0.
        assert!(verify(token, &key, &clerk_policy(), (exp + 1) * 1000).is_ok());
        let zero = Policy {
            clock_skew: Duration::ZERO,
            ..clerk_policy()
        };
        assert_eq!(
            verify(token, &key, &zero, (exp + 1) * 1000).unwrap_err(),
            Reason::TokenExpired
        );
        assert_eq!(
            verify(token, &key, &clerk_policy(), (exp + 60) * 1000).unwrap_err(),
            Reason::TokenExpired
        );
    }

    #[test]
    fn tampered_and_malformed_fixtures_fail_on_the_signature() {
        let f = fixtures();
        let now = f["frozen_time"].as_i64().unwrap() * 1000;
        let key = jwk_key(&f["mockJwks"]["keys"][0]);
        for name in ["mockInvalidSignatureJwt", "mockMalformedJwt"] {
            let err = verify(f[name].as_str().unwrap(), &key, &clerk_policy(), now).unwrap_err();
            assert_eq!(err, Reason::TokenInvalidSignature, "{name}");
        }
    }

    #[test]
    fn signed_jwt_verifies_with_jwk_and_pem_and_not_with_another_key() {
        let f = fixtures();
        let now = f["frozen_time"].as_i64().unwrap() * 1000;
        let token = f["signedJwt"].as_str().unwrap();
        assert!(verify(token, &jwk_key(&f["publicJwks"]), &clerk_policy(), now).is_ok());
        let pem = RsaPublicKey::from_pem(f["pemEncodedPublicKey"].as_str().unwrap()).unwrap();
        assert!(verify(token, &pem, &clerk_policy(), now).is_ok());
        let other = RsaPublicKey::from_pem(f["someOtherPublicKey"].as_str().unwrap()).unwrap();
        assert_eq!(
            verify(token, &other, &clerk_policy(), now).unwrap_err(),
            Reason::TokenInvalidSignature
        );
        // Clerk's PEM fixture key parses to the modulus of its JWK twin.
        assert_eq!(
            RsaPublicKey::from_pem(f["mockPEMJwtKey"].as_str().unwrap())
                .unwrap()
                .modulus_bits,
            2048
        );
    }
}

/// With no audience configured a token naming one is refused: Clerk's session tokens carry no
/// `aud`, so such a token was minted for something else. Empty values count as none, as in Clerk;
/// `accept_any_audience` restores Clerk's unchecked behaviour for customised session tokens.
#[test]
fn an_audience_is_refused_when_none_is_configured() {
    for aud in [json!(null), json!(""), json!([]), json!(["", ""])] {
        assert!(check(&mint(json!({ "aud": aud.clone() }))).is_ok(), "{aud}");
    }
    let named = [
        json!("https://api.example.com"),
        json!(["https://api.example.com"]),
        json!(["", "billing"]),
        json!(5),
        json!({"aud": "x"}),
        json!([1]),
    ];
    for aud in &named {
        assert_eq!(
            check(&mint(json!({ "aud": aud.clone() }))).unwrap_err(),
            Reason::TokenVerificationFailed,
            "{aud}"
        );
    }
    let accepting = Policy {
        accept_any_audience: true,
        ..policy()
    };
    for aud in &named {
        assert!(
            check_with(&mint(json!({ "aud": aud.clone() })), &accepting, NOW * 1000).is_ok(),
            "{aud}"
        );
    }
}
