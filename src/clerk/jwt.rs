//! Session-token verification: pure (bytes, key, policy, clock in → claims or a reason out).
//!
//! The order follows @clerk/backend's `verifyToken`/`verifyJwt`, so every token gets the reason Clerk
//! would give: size → decode (`token-invalid`) → `typ` → `alg` → [key by kid, by the caller] →
//! signature (before any claim is looked at) → `sub` → `aud` → `azp` → `exp` → `nbf` → `iat`. auth-core's
//! stricter checks follow, each with its own reason: token category (`cat` header, `at+jwt` type,
//! `mch_` subject) → `token-type-mismatch`; `iss` → `token-invalid-issuer`; `sid` required;
//! `sts: pending` → `session-pending`.
//!
//! Clerk's machine tokens in JWT form (M2M tokens minted with `token_format: jwt`, OAuth access tokens
//! with `typ: at+jwt`) are verified here too, networkless with the same instance keys, by
//! [`decode_machine`] and [`DecodedToken::verify_machine`], following @clerk/backend's
//! `verifyM2MJwt`/`verifyOAuthJwt` and `fromJwtPayload`: the signature, then the kind (`mch_`
//! subject with no `cat` or the M2M one; `at+jwt`), then `exp`/`nbf`/`iat`. As in Clerk, neither
//! `iss` nor `azp` applies to them, and being stateless they cannot be revoked before they expire.

use std::time::Duration;

use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig};
use base64::engine::DecodePaddingMode;
use base64::{alphabet, Engine};
use jsonwebtoken::Algorithm;
use serde::Deserialize;
use serde_json::{Map, Value};

use super::claims::{self, SessionClaims};
use super::machine_token::{MachineKind, MachineTokenInfo};
use super::reason::Reason;
use super::rsa_key::RsaPublicKey;

/// JOSE `cat` values Clerk puts on tokens that are not session tokens.
const CATEGORY_JWT_TEMPLATE: &str = "cl_B7d4PD222AAA";
const CATEGORY_M2M: &str = "cl_B7d4PD333AAA";

/// base64url as Clerk reads it (`loose`): padding optional.
const BASE64URL: GeneralPurpose = GeneralPurpose::new(
    &alphabet::URL_SAFE,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// How strictly `azp` is checked against the authorized parties.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AzpPolicy {
    /// Not checked.
    Off,
    /// A present `azp` must be listed; tokens without one (Clerk mints those on top-level
    /// navigations) pass. With no parties listed nothing is checked.
    WhenPresent,
    /// `azp` must be present and listed.
    Required,
}

/// Everything verification depends on besides the token, the key and the clock.
#[derive(Debug, Clone)]
pub struct Policy {
    pub clock_skew: Duration,
    pub authorized_parties: Vec<String>,
    pub azp: AzpPolicy,
    /// Audiences a present `aud` must name (Clerk's `audience` option); empty: a token carrying
    /// `aud` is refused unless `accept_any_audience`.
    pub audience: Vec<String>,
    /// With no `audience`, accept tokens whatever their `aud` (customised session tokens that add
    /// one). Off by default: Clerk's session tokens carry no `aud`, so a token that has one was
    /// minted for something else (a JWT template, another service) by the same instance key.
    pub accept_any_audience: bool,
    /// Expected `iss` (e.g. `https://clerk.example.com`); `None` = not checked.
    pub issuer: Option<String>,
    /// Clerk treats `sts: "pending"` sessions as signed out; so do we unless this is set.
    pub allow_pending_sessions: bool,
    /// Tokens longer than this are refused before decoding.
    pub max_token_bytes: usize,
}

impl Default for Policy {
    fn default() -> Self {
        Self {
            clock_skew: Duration::from_secs(5),
            authorized_parties: Vec::new(),
            azp: AzpPolicy::WhenPresent,
            audience: Vec::new(),
            accept_any_audience: false,
            issuer: None,
            allow_pending_sessions: false,
            max_token_bytes: 16 * 1024,
        }
    }
}

#[derive(Deserialize)]
struct RawHeader {
    alg: Option<Value>,
    kid: Option<Value>,
    typ: Option<Value>,
    cat: Option<Value>,
}

/// A token that decoded and passed the header checks; its signature is not checked yet.
#[derive(Debug)]
pub struct DecodedToken<'a> {
    algorithm: Algorithm,
    kid: Option<String>,
    category: Option<String>,
    payload: Map<String, Value>,
    signing_input: &'a str,
    signature: &'a str,
    /// `typ: at+jwt` (an OAuth access token); only [`decode_machine`] lets one through.
    access_token: bool,
}

/// A verified session token.
#[derive(Debug, Clone, PartialEq)]
pub struct VerifiedToken {
    pub claims: SessionClaims,
    pub kid: Option<String>,
    /// Milliseconds since the epoch after which the token is expired: `exp * 1000 + skew`.
    pub valid_until_ms: i64,
}

/// A machine token in JWT form, verified.
#[derive(Debug, Clone, PartialEq)]
pub struct VerifiedMachineJwt {
    pub kind: MachineKind,
    pub info: MachineTokenInfo,
    pub kid: Option<String>,
    /// Milliseconds since the epoch after which the token is expired: `exp * 1000 + skew`.
    pub valid_until_ms: i64,
}

/// Decodes a compact JWS and checks its header (size, form, `typ`, `alg`).
pub fn decode<'a>(token: &'a str, policy: &Policy) -> Result<DecodedToken<'a>, Reason> {
    decode_as(token, policy, false)
}

/// As [`decode`], for a token that may be a machine token in JWT form: an OAuth access token's
/// `typ: at+jwt` is accepted.
pub fn decode_machine<'a>(token: &'a str, policy: &Policy) -> Result<DecodedToken<'a>, Reason> {
    decode_as(token, policy, true)
}

fn decode_as<'a>(
    token: &'a str,
    policy: &Policy,
    allow_access_tokens: bool,
) -> Result<DecodedToken<'a>, Reason> {
    if token.len() > policy.max_token_bytes {
        return Err(Reason::TokenTooLarge);
    }
    let mut parts = token.split('.');
    let (Some(header_b64), Some(payload_b64), Some(signature), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(Reason::TokenInvalid);
    };
    let header: RawHeader = decode_json(header_b64)?;
    let payload: Map<String, Value> = decode_json(payload_b64)?;
    // An empty signature decodes (to nothing) and fails at the signature check with
    // `token-invalid-signature`, after the header checks, as in @clerk/backend 3.x: an unsigned
    // `alg: none` token is `token-invalid-algorithm`.
    if BASE64URL.decode(signature).is_err() {
        return Err(Reason::TokenInvalid);
    }
    let mut access_token = false;
    match header.typ {
        None => {}
        Some(Value::String(typ)) if typ == "JWT" => {}
        // OAuth access tokens in JWT form: a real token, of the wrong kind for a session.
        Some(Value::String(typ))
            if typ.eq_ignore_ascii_case("at+jwt")
                || typ.eq_ignore_ascii_case("application/at+jwt") =>
        {
            if !allow_access_tokens {
                return Err(Reason::TokenTypeMismatch);
            }
            access_token = true;
        }
        Some(_) => return Err(Reason::TokenInvalid),
    }
    let algorithm = match header.alg.as_ref().and_then(Value::as_str) {
        Some("RS256") => Algorithm::RS256,
        Some("RS384") => Algorithm::RS384,
        Some("RS512") => Algorithm::RS512,
        _ => return Err(Reason::TokenInvalidAlgorithm),
    };
    let text = |v: Option<Value>| match v {
        Some(Value::String(s)) => Some(s),
        _ => None,
    };
    let signing_input_len = header_b64.len() + 1 + payload_b64.len();
    Ok(DecodedToken {
        algorithm,
        kid: text(header.kid),
        category: text(header.cat),
        payload,
        signing_input: &token[..signing_input_len],
        signature,
        access_token,
    })
}

/// The most of a claimed issuer shown back in a refusal: enough for any real Clerk URL, and a
/// forged megabyte-long `iss` is not echoed.
const MAX_SHOWN_ISSUER_CHARS: usize = 128;

/// The `iss` a token claims, read without verification, at most [`MAX_SHOWN_ISSUER_CHARS`]
/// characters: only to explain a `token-invalid-issuer` refusal (decided after the signature
/// verified). `None` when the token has no string `iss`.
pub fn claimed_issuer(token: &str) -> Option<String> {
    let payload = token.split('.').nth(1)?;
    let claims: Value = decode_json(payload).ok()?;
    let iss = claims.get("iss")?.as_str()?;
    Some(iss.chars().take(MAX_SHOWN_ISSUER_CHARS).collect())
}

fn decode_json<T: for<'de> Deserialize<'de>>(segment: &str) -> Result<T, Reason> {
    let bytes = BASE64URL
        .decode(segment)
        .map_err(|_| Reason::TokenInvalid)?;
    serde_json::from_slice(&bytes).map_err(|_| Reason::TokenInvalid)
}

impl DecodedToken<'_> {
    /// The key id the token names (Clerk's instance keys are looked up by it).
    pub fn kid(&self) -> Option<&str> {
        self.kid.as_deref()
    }

    fn check_signature(&self, key: &RsaPublicKey) -> Result<(), Reason> {
        // A key published for one algorithm verifies no other (RFC 7517 §4.4): Clerk's WebCrypto
        // import refuses the mismatch, which it reports as a verification failure.
        if key.algorithm.is_some_and(|alg| alg != self.algorithm) {
            return Err(Reason::TokenVerificationFailed);
        }
        if self.signature.is_empty() {
            return Err(Reason::TokenInvalidSignature);
        }
        match jsonwebtoken::crypto::verify(
            self.signature,
            self.signing_input.as_bytes(),
            &key.decoding_key,
            self.algorithm,
        ) {
            Ok(true) => Ok(()),
            Ok(false) => Err(Reason::TokenInvalidSignature),
            // The key could not be used at all: Clerk reports this as a verification failure.
            Err(_) => Err(Reason::TokenVerificationFailed),
        }
    }

    /// Checks the signature with `key`, then the claims of a machine token in JWT form at `now_ms`.
    /// A token of another kind (a session token, a JWT template) is `token-type-mismatch`.
    pub fn verify_machine(
        self,
        key: &RsaPublicKey,
        policy: &Policy,
        now_ms: i64,
    ) -> Result<VerifiedMachineJwt, Reason> {
        self.check_signature(key)?;
        let claims = &self.payload;
        let subject = match claims.get("sub") {
            Some(Value::String(sub)) => sub.clone(),
            _ => return Err(Reason::TokenVerificationFailed),
        };
        let kind = if self.access_token {
            MachineKind::OAuthToken
        } else if subject.starts_with("mch_")
            && matches!(self.category.as_deref(), None | Some(CATEGORY_M2M))
        {
            // Clerk still accepts M2M JWTs without `cat`, minted before it was introduced.
            MachineKind::M2mToken
        } else {
            return Err(Reason::TokenTypeMismatch);
        };
        let (exp_ms, _) = check_times(claims, policy, now_ms)?;
        let scopes = match kind {
            MachineKind::OAuthToken => oauth_scopes(claims),
            _ => m2m_scopes(claims),
        };
        let skew_ms = i64::try_from(policy.clock_skew.as_millis()).unwrap_or(i64::MAX);
        // Whole milliseconds well inside f64's exact range (|exp| ≤ 8.64e15).
        #[allow(clippy::cast_precision_loss)]
        let expiration = Some(exp_ms as f64);
        Ok(VerifiedMachineJwt {
            kind,
            info: MachineTokenInfo {
                id: claims
                    .get("jti")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_owned(),
                subject,
                scopes,
                name: None,
                revoked: false,
                expired: false,
                expiration,
            },
            kid: self.kid,
            valid_until_ms: exp_ms.saturating_add(skew_ms),
        })
    }

    /// Checks the signature with `key`, then the claims against `policy` at `now_ms`.
    pub fn verify(
        self,
        key: &RsaPublicKey,
        policy: &Policy,
        now_ms: i64,
    ) -> Result<VerifiedToken, Reason> {
        self.check_signature(key)?;
        if matches!(
            self.category.as_deref(),
            Some(CATEGORY_JWT_TEMPLATE | CATEGORY_M2M)
        ) {
            return Err(Reason::TokenTypeMismatch);
        }
        let claims = &self.payload;
        let user_id = match claims.get("sub") {
            Some(Value::String(sub)) => sub.clone(),
            _ => return Err(Reason::TokenVerificationFailed),
        };
        // Machine (M2M) subjects are never users.
        if user_id.starts_with("mch_") {
            return Err(Reason::TokenTypeMismatch);
        }
        check_audience(claims.get("aud"), policy)?;
        check_authorized_party(claims.get("azp"), policy)?;
        let skew_ms = i64::try_from(policy.clock_skew.as_millis()).unwrap_or(i64::MAX);
        let (exp_ms, issued_at) = check_times(claims, policy, now_ms)?;
        if let Some(expected) = &policy.issuer {
            let iss = claims
                .get("iss")
                .and_then(Value::as_str)
                .unwrap_or_default();
            if iss.trim_end_matches('/') != expected.trim_end_matches('/') {
                return Err(Reason::TokenInvalidIssuer);
            }
        }
        // Without a session id a token cannot be revoked: it is not accepted as a session token.
        let session_id = match claims.get("sid") {
            Some(Value::String(sid)) if !sid.is_empty() => sid.clone(),
            _ => return Err(Reason::TokenVerificationFailed),
        };
        if !policy.allow_pending_sessions
            && claims.get("sts").and_then(Value::as_str) == Some("pending")
        {
            return Err(Reason::SessionPending);
        }
        let normalised = claims::normalise(claims, user_id, session_id, exp_ms / 1000, issued_at)?;
        Ok(VerifiedToken {
            claims: normalised,
            kid: self.kid,
            valid_until_ms: exp_ms.saturating_add(skew_ms),
        })
    }
}

/// `exp` (required), `nbf` and `iat` against `now_ms` with the policy's clock skew, in Clerk's order;
/// returns `exp` in milliseconds and `iat` in seconds.
fn check_times(
    claims: &Map<String, Value>,
    policy: &Policy,
    now_ms: i64,
) -> Result<(i64, Option<i64>), Reason> {
    let skew_ms = i64::try_from(policy.clock_skew.as_millis()).unwrap_or(i64::MAX);
    let exp_ms = match claims.get("exp") {
        Some(value) => time_ms(value)?,
        None => return Err(Reason::TokenVerificationFailed),
    };
    if exp_ms <= now_ms.saturating_sub(skew_ms) {
        return Err(Reason::TokenExpired);
    }
    if let Some(nbf) = claims.get("nbf") {
        if time_ms(nbf)? > now_ms.saturating_add(skew_ms) {
            return Err(Reason::TokenNotActiveYet);
        }
    }
    let issued_at = match claims.get("iat") {
        Some(iat) => {
            let iat_ms = time_ms(iat)?;
            if iat_ms > now_ms.saturating_add(skew_ms) {
                return Err(Reason::TokenIatInTheFuture);
            }
            Some(iat_ms / 1000)
        }
        None => None,
    };
    Ok((exp_ms, issued_at))
}

/// Strings of a JSON array (other elements skipped), or a lone string as one.
fn strings(value: &Value) -> Vec<String> {
    match value {
        Value::String(s) => vec![s.clone()],
        Value::Array(items) => items
            .iter()
            .filter_map(Value::as_str)
            .map(str::to_owned)
            .collect(),
        _ => Vec::new(),
    }
}

/// Space-separated words of a string claim.
fn words(value: &Value) -> Option<Vec<String>> {
    value.as_str().map(|s| {
        s.split(' ')
            .filter(|w| !w.is_empty())
            .map(str::to_owned)
            .collect()
    })
}

/// An M2M JWT's scopes (the machines it may call), as Clerk reads them: `scopes` (space-separated),
/// else `aud`.
fn m2m_scopes(claims: &Map<String, Value>) -> Vec<String> {
    claims
        .get("scopes")
        .and_then(words)
        .or_else(|| claims.get("aud").map(strings))
        .unwrap_or_default()
}

/// An OAuth access token's scopes: `scp` (an array), else `scope` (space-separated).
fn oauth_scopes(claims: &Map<String, Value>) -> Vec<String> {
    claims
        .get("scp")
        .filter(|v| !v.is_null())
        .map(strings)
        .or_else(|| claims.get("scope").and_then(words))
        .unwrap_or_default()
}

/// Clerk's `assertAudienceClaim`: with audiences configured, a string `aud` must be one of them and
/// an array must name one; a token without `aud` (or with only empty values) passes, as session
/// tokens carry none. Stricter than Clerk: an `aud` that is neither a string nor an array of strings
/// is refused (Clerk lets it through unchecked), and with no audience configured a token that names
/// one is refused unless the policy accepts any (Clerk does not check then). Clerk's reason for all
/// of these is `token-verification-failed`.
fn check_audience(aud: Option<&Value>, policy: &Policy) -> Result<(), Reason> {
    if policy.audience.is_empty() && policy.accept_any_audience {
        return Ok(());
    }
    let mut named = Vec::new();
    match aud {
        None | Some(Value::Null) => {}
        Some(Value::String(a)) => named.push(a.as_str()),
        Some(Value::Array(values)) => {
            for value in values {
                match value {
                    Value::String(a) => named.push(a.as_str()),
                    _ => return Err(Reason::TokenVerificationFailed),
                }
            }
        }
        Some(_) => return Err(Reason::TokenVerificationFailed),
    }
    named.retain(|a| !a.is_empty());
    let listed = |a: &&str| policy.audience.iter().any(|expected| expected == a);
    if named.is_empty() || named.iter().any(listed) {
        Ok(())
    } else {
        Err(Reason::TokenVerificationFailed)
    }
}

fn check_authorized_party(azp: Option<&Value>, policy: &Policy) -> Result<(), Reason> {
    let listed = |azp: &str| policy.authorized_parties.iter().any(|p| p == azp);
    let azp = match azp {
        None => None,
        Some(Value::String(s)) if s.is_empty() => None,
        Some(Value::String(s)) => Some(s.as_str()),
        Some(_) => return Err(Reason::TokenInvalidAuthorizedParties),
    };
    match (policy.azp, azp) {
        (AzpPolicy::Off, _) => Ok(()),
        (AzpPolicy::WhenPresent, None) => Ok(()),
        (AzpPolicy::WhenPresent, Some(_)) if policy.authorized_parties.is_empty() => Ok(()),
        (AzpPolicy::WhenPresent | AzpPolicy::Required, Some(azp)) if listed(azp) => Ok(()),
        _ => Err(Reason::TokenInvalidAuthorizedParties),
    }
}

/// A NumericDate (seconds) in milliseconds, fractions truncated as JavaScript's `setUTCSeconds`
/// does. Anything that is not a finite number within JavaScript's date range is malformed; Clerk's
/// own code lets a NaN date through every comparison, auth-core refuses it.
fn time_ms(value: &Value) -> Result<i64, Reason> {
    const MAX_SECONDS: f64 = 8.64e12;
    let seconds = value.as_f64().ok_or(Reason::TokenVerificationFailed)?;
    if !seconds.is_finite() || seconds.abs() > MAX_SECONDS {
        return Err(Reason::TokenVerificationFailed);
    }
    // In range (|s| ≤ 8.64e12), so the product fits an i64 exactly.
    #[allow(clippy::cast_possible_truncation)]
    Ok(seconds.trunc() as i64 * 1000)
}

/// Decodes and verifies in one step, for callers that already hold the key.
pub fn verify(
    token: &str,
    key: &RsaPublicKey,
    policy: &Policy,
    now_ms: i64,
) -> Result<VerifiedToken, Reason> {
    decode(token, policy)?.verify(key, policy, now_ms)
}

#[cfg(test)]
mod tests;
