//! RSA public keys from the two places Clerk publishes them: a JWK's `n`/`e`, and a PEM file
//! (`CLERK_JWT_KEY`) holding either an SPKI `PUBLIC KEY` or a PKCS#1 `RSA PUBLIC KEY`. The DER is
//! walked properly (lengths read from the encoding), so any modulus size works; keys shorter than
//! 2048 bits are refused.

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use jsonwebtoken::{Algorithm, DecodingKey};

/// Clerk signs with 2048-bit keys; anything weaker is refused rather than trusted.
pub const MIN_MODULUS_BITS: usize = 2048;

/// rsaEncryption, 1.2.840.113549.1.1.1
const RSA_ENCRYPTION_OID: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01];

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum KeyError {
    #[error("not PEM: expected -----BEGIN PUBLIC KEY----- or -----BEGIN RSA PUBLIC KEY-----")]
    NotPem,
    #[error("malformed key encoding: {0}")]
    Malformed(&'static str),
    #[error("not an RSA key")]
    NotRsa,
    #[error("RSA key of {0} bits is too short (at least {MIN_MODULUS_BITS} required)")]
    TooShort(usize),
}

/// A decoded RSA public key, ready to verify signatures.
pub struct RsaPublicKey {
    pub modulus_bits: usize,
    pub decoding_key: DecodingKey,
    /// The one algorithm the key may verify, when its JWK names one (`alg`, RFC 7517 §4.4). `None`
    /// (a JWK without `alg`, a PEM key): the token's own RS256/384/512, as Clerk imports such keys
    /// with the algorithm of the token's header.
    pub algorithm: Option<Algorithm>,
}

impl std::fmt::Debug for RsaPublicKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.algorithm {
            Some(alg) => write!(f, "RsaPublicKey({} bits, {alg:?} only)", self.modulus_bits),
            None => write!(f, "RsaPublicKey({} bits)", self.modulus_bits),
        }
    }
}

impl RsaPublicKey {
    /// Restricts the key to `algorithm` (a JWK's `alg`).
    #[must_use]
    pub fn only_for(mut self, algorithm: Algorithm) -> Self {
        self.algorithm = Some(algorithm);
        self
    }

    /// From a JWK's base64url `n` and `e`.
    pub fn from_jwk_components(n: &str, e: &str) -> Result<Self, KeyError> {
        let n = URL_SAFE_NO_PAD
            .decode(n.trim_end_matches('='))
            .map_err(|_| KeyError::Malformed("n is not base64url"))?;
        let e = URL_SAFE_NO_PAD
            .decode(e.trim_end_matches('='))
            .map_err(|_| KeyError::Malformed("e is not base64url"))?;
        Self::from_components(&n, &e)
    }

    /// From PEM text (SPKI or PKCS#1).
    pub fn from_pem(pem: &str) -> Result<Self, KeyError> {
        let pem = pem.trim();
        for (label, spki) in [("PUBLIC KEY", true), ("RSA PUBLIC KEY", false)] {
            let begin = format!("-----BEGIN {label}-----");
            let end = format!("-----END {label}-----");
            let Some(rest) = pem.strip_prefix(&begin) else {
                continue;
            };
            let body = rest
                .trim_end()
                .strip_suffix(&end)
                .ok_or(KeyError::Malformed("no END line"))?;
            let body: String = body.chars().filter(|c| !c.is_whitespace()).collect();
            let der = STANDARD
                .decode(body)
                .map_err(|_| KeyError::Malformed("PEM body is not base64"))?;
            let (n, e) = if spki {
                parse_spki(&der)?
            } else {
                parse_pkcs1(&der)?
            };
            return Self::from_components(n, e);
        }
        Err(KeyError::NotPem)
    }

    fn from_components(n: &[u8], e: &[u8]) -> Result<Self, KeyError> {
        let n = strip_leading_zeros(n);
        let e = strip_leading_zeros(e);
        if n.is_empty() || e.is_empty() {
            return Err(KeyError::Malformed("empty modulus or exponent"));
        }
        let modulus_bits = n.len() * 8 - n[0].leading_zeros() as usize;
        if modulus_bits < MIN_MODULUS_BITS {
            return Err(KeyError::TooShort(modulus_bits));
        }
        Ok(Self {
            modulus_bits,
            decoding_key: DecodingKey::from_rsa_raw_components(n, e),
            algorithm: None,
        })
    }
}

fn strip_leading_zeros(bytes: &[u8]) -> &[u8] {
    let first = bytes.iter().position(|b| *b != 0).unwrap_or(bytes.len());
    &bytes[first..]
}

/// SubjectPublicKeyInfo ::= SEQUENCE { algorithm AlgorithmIdentifier, subjectPublicKey BIT STRING }
fn parse_spki(der: &[u8]) -> Result<(&[u8], &[u8]), KeyError> {
    let mut outer = Der::new(expect_whole(der, TAG_SEQUENCE)?);
    let mut algorithm = Der::new(outer.next(TAG_SEQUENCE)?);
    if algorithm.next(TAG_OID)? != RSA_ENCRYPTION_OID {
        return Err(KeyError::NotRsa);
    }
    let bits = outer.next(TAG_BIT_STRING)?;
    // The first byte of a BIT STRING counts unused bits; a key is always whole bytes.
    match bits.split_first() {
        Some((0, key)) => parse_pkcs1(key),
        _ => Err(KeyError::Malformed("bit string")),
    }
}

/// RSAPublicKey ::= SEQUENCE { modulus INTEGER, publicExponent INTEGER }
fn parse_pkcs1(der: &[u8]) -> Result<(&[u8], &[u8]), KeyError> {
    let mut seq = Der::new(expect_whole(der, TAG_SEQUENCE)?);
    let n = seq.next(TAG_INTEGER)?;
    let e = seq.next(TAG_INTEGER)?;
    Ok((n, e))
}

const TAG_INTEGER: u8 = 0x02;
const TAG_BIT_STRING: u8 = 0x03;
const TAG_OID: u8 = 0x06;
const TAG_SEQUENCE: u8 = 0x30;

/// The content of a single TLV that must span all of `der`.
fn expect_whole(der: &[u8], tag: u8) -> Result<&[u8], KeyError> {
    let mut reader = Der::new(der);
    let content = reader.next(tag)?;
    if !reader.rest.is_empty() {
        return Err(KeyError::Malformed("trailing bytes"));
    }
    Ok(content)
}

/// A reader over consecutive DER TLVs (definite lengths only, as DER requires).
struct Der<'a> {
    rest: &'a [u8],
}

impl<'a> Der<'a> {
    fn new(bytes: &'a [u8]) -> Self {
        Self { rest: bytes }
    }

    fn next(&mut self, tag: u8) -> Result<&'a [u8], KeyError> {
        let (&found, after_tag) = self
            .rest
            .split_first()
            .ok_or(KeyError::Malformed("truncated"))?;
        if found != tag {
            return Err(KeyError::Malformed("unexpected tag"));
        }
        let (&first, mut after_len) = after_tag
            .split_first()
            .ok_or(KeyError::Malformed("truncated"))?;
        let len = if first < 0x80 {
            usize::from(first)
        } else {
            let count = usize::from(first & 0x7f);
            if count == 0 || count > 4 || after_len.len() < count {
                return Err(KeyError::Malformed("length"));
            }
            let mut len = 0usize;
            for &b in &after_len[..count] {
                len = (len << 8) | usize::from(b);
            }
            after_len = &after_len[count..];
            len
        };
        if after_len.len() < len {
            return Err(KeyError::Malformed("truncated"));
        }
        let (content, rest) = after_len.split_at(len);
        self.rest = rest;
        Ok(content)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/keys/");

    fn fixture(name: &str) -> String {
        std::fs::read_to_string(format!("{FIXTURES}{name}")).unwrap()
    }

    #[test]
    fn spki_and_pkcs1_of_any_size_parse() {
        assert_eq!(
            RsaPublicKey::from_pem(&fixture("rsa-2048-a.pub.pem"))
                .unwrap()
                .modulus_bits,
            2048
        );
        assert_eq!(
            RsaPublicKey::from_pem(&fixture("rsa-2048-a.pkcs1.pub.pem"))
                .unwrap()
                .modulus_bits,
            2048
        );
        assert_eq!(
            RsaPublicKey::from_pem(&fixture("rsa-4096.pub.pem"))
                .unwrap()
                .modulus_bits,
            4096
        );
    }

    #[test]
    fn weak_foreign_and_broken_keys_are_refused() {
        assert_eq!(
            RsaPublicKey::from_pem(&fixture("rsa-1024.pub.pem")).unwrap_err(),
            KeyError::TooShort(1024)
        );
        assert_eq!(
            RsaPublicKey::from_pem(&fixture("ec-p256.pub.pem")).unwrap_err(),
            KeyError::NotRsa
        );
        assert_eq!(
            RsaPublicKey::from_pem("hello").unwrap_err(),
            KeyError::NotPem
        );
        let pem = fixture("rsa-2048-a.pub.pem");
        let lines: Vec<&str> = pem.lines().collect();
        // Drop one body line: the DER lengths no longer add up.
        let truncated = [&lines[..3], &lines[4..]].concat().join("\n");
        assert!(matches!(
            RsaPublicKey::from_pem(&truncated),
            Err(KeyError::Malformed(_))
        ));
    }
}
