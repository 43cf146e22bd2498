//! Svix webhook signatures (Clerk delivers webhooks through Svix; Standard Webhooks is the same
//! scheme under `webhook-*` header names).
//!
//! Signed content: `{id}.{timestamp}.{raw body}`, HMAC-SHA256 keyed by the base64 part of the
//! `whsec_…` secret. The signature header lists space-separated `<version>,<base64>` entries; any `v1`
//! entry that matches is enough, other versions are ignored. Comparison is constant-time and checks
//! the length first, so an empty `v1,` never matches (RUSTSEC-2024-0010). The timestamp must lie
//! within the tolerance (5 minutes) of now, in both directions, against replays.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use hmac::{Hmac, Mac};
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

/// Why a delivery's signature was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignatureError {
    /// No webhook secret is configured: every delivery is refused.
    NotConfigured,
    HeadersMissing,
    TimestampInvalid,
    TimestampTooOld,
    TimestampTooNew,
    SignatureInvalid,
}

impl SignatureError {
    pub const ALL: [SignatureError; 6] = [
        Self::NotConfigured,
        Self::HeadersMissing,
        Self::TimestampInvalid,
        Self::TimestampTooOld,
        Self::TimestampTooNew,
        Self::SignatureInvalid,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::NotConfigured => "webhook-secret-not-configured",
            Self::HeadersMissing => "webhook-headers-missing",
            Self::TimestampInvalid => "webhook-timestamp-invalid",
            Self::TimestampTooOld => "webhook-timestamp-too-old",
            Self::TimestampTooNew => "webhook-timestamp-too-new",
            Self::SignatureInvalid => "webhook-signature-invalid",
        }
    }

    pub fn message(self) -> &'static str {
        match self {
            Self::NotConfigured => "no webhook secret is configured (CLERK_WEBHOOK_SECRET)",
            Self::HeadersMissing => {
                "svix-id, svix-timestamp and svix-signature headers are required"
            }
            Self::TimestampInvalid => "svix-timestamp is not a Unix time in seconds",
            Self::TimestampTooOld => "svix-timestamp is too old",
            Self::TimestampTooNew => "svix-timestamp is too far in the future",
            Self::SignatureInvalid => "no signature matches",
        }
    }
}

/// A decoded signing secret.
#[derive(Clone)]
pub struct SigningKey(Vec<u8>);

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SigningKey([redacted])")
    }
}

impl SigningKey {
    /// From `whsec_<base64>` (or the bare base64, as Svix's libraries also accept).
    pub fn from_secret(secret: &str) -> Option<Self> {
        let encoded = secret.strip_prefix("whsec_").unwrap_or(secret);
        STANDARD
            .decode(encoded)
            .ok()
            .filter(|k| !k.is_empty())
            .map(Self)
    }

    fn mac(&self, id: &str, timestamp: &str, body: &[u8]) -> HmacSha256 {
        // HMAC accepts keys of any length.
        let mut mac = match HmacSha256::new_from_slice(&self.0) {
            Ok(mac) => mac,
            Err(_) => unreachable!("HMAC takes keys of any length"),
        };
        mac.update(id.as_bytes());
        mac.update(b".");
        mac.update(timestamp.as_bytes());
        mac.update(b".");
        mac.update(body);
        mac
    }

    /// `v1,<base64>` for this content (what Svix sends; used by tests and benchmarks).
    pub fn sign(&self, id: &str, timestamp: i64, body: &[u8]) -> String {
        let tag = self
            .mac(id, &timestamp.to_string(), body)
            .finalize()
            .into_bytes();
        format!("v1,{}", STANDARD.encode(tag))
    }
}

/// The three headers, as received.
#[derive(Debug, Clone, Copy)]
pub struct SignedHeaders<'a> {
    pub id: &'a str,
    pub timestamp: &'a str,
    pub signature: &'a str,
}

/// Longest header values looked at (Svix's are far shorter): bounds the work of a hostile request.
const MAX_ID_LEN: usize = 256;
const MAX_SIGNATURE_HEADER_LEN: usize = 4096;

/// Verifies a delivery against every configured key (several during rotation).
pub fn verify(
    keys: &[SigningKey],
    headers: &SignedHeaders<'_>,
    body: &[u8],
    now_s: i64,
    tolerance_s: i64,
) -> Result<(), SignatureError> {
    if keys.is_empty() {
        return Err(SignatureError::NotConfigured);
    }
    let SignedHeaders {
        id,
        timestamp,
        signature,
    } = *headers;
    if id.is_empty() || timestamp.is_empty() || signature.is_empty() {
        return Err(SignatureError::HeadersMissing);
    }
    if id.len() > MAX_ID_LEN || signature.len() > MAX_SIGNATURE_HEADER_LEN {
        return Err(SignatureError::SignatureInvalid);
    }
    let sent: i64 = timestamp
        .parse()
        .map_err(|_| SignatureError::TimestampInvalid)?;
    if now_s.saturating_sub(sent) > tolerance_s {
        return Err(SignatureError::TimestampTooOld);
    }
    if sent.saturating_sub(now_s) > tolerance_s {
        return Err(SignatureError::TimestampTooNew);
    }
    let candidates: Vec<Vec<u8>> = signature
        .split(' ')
        .filter_map(|entry| entry.split_once(','))
        .filter(|(version, _)| *version == "v1")
        .filter_map(|(_, b64)| STANDARD.decode(b64).ok())
        .collect();
    for key in keys {
        let mac = key.mac(id, timestamp, body);
        // verify_slice compares in constant time and fails on a length mismatch (an empty `v1,`).
        if candidates
            .iter()
            .any(|c| mac.clone().verify_slice(c).is_ok())
        {
            return Ok(());
        }
    }
    Err(SignatureError::SignatureInvalid)
}

#[cfg(test)]
mod tests;
