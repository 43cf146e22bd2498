//! Session-token claims, v1 and v2, normalised into one type.
//!
//! v1 carries `org_id`, `org_slug`, `org_role`, `org_permissions`. v2 (`"v": 2`) carries `o` =
//! `{id, slg, rol, per, fpm}` and the scoped lists `fea` (features) and `pla` (plans), e.g.
//! `"o:billing,u:dashboard,ou:chat"`. Org permissions in v2 are packed: `per` lists permission names
//! and `fpm` holds one integer per *org-scoped* feature of `fea` (scopes `o`, `ou`, `uo`, in order of
//! appearance); bit *i* of the k-th integer (least significant first) grants `org:<feature k>:<per[i]>`.
//! The integers are decoded exactly at any size (Clerk's JavaScript loses precision above 2^53).
//! A mask that is not a decimal number, or that sets a bit beyond the permission list, grants nothing
//! for its feature (Clerk would grant `org:<f>:undefined`); features beyond the masks get nothing.

use serde::Serialize;
use serde_json::{Map, Value};

use super::reason::Reason;

/// The active organization of a session.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct ActiveOrganization {
    pub id: String,
    #[schema(required = true)]
    pub slug: Option<String>,
    /// With exactly one `org:` prefix, e.g. `org:admin`.
    #[schema(required = true)]
    pub role: Option<String>,
    /// Full keys, e.g. `org:invoices:read`.
    pub permissions: Vec<String>,
}

/// Features or plans, split by scope.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Scoped {
    pub org: Vec<String>,
    pub user: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SessionClaims {
    pub user_id: String,
    pub session_id: String,
    /// `active` or `pending` (tasks outstanding); absent in older tokens.
    pub session_status: Option<String>,
    pub issuer: Option<String>,
    pub authorized_party: Option<String>,
    pub organization: Option<ActiveOrganization>,
    pub features: Scoped,
    pub plans: Scoped,
    /// Minutes since the first and second factor were verified (`-1`: factor not enabled).
    pub factor_verification_age: Option<[i64; 2]>,
    /// Impersonation: who is acting for the user (`act` claim), as Clerk sends it.
    pub actor: Option<Value>,
    /// 1 or 2.
    pub version: u8,
    pub issued_at: Option<i64>,
    pub expires_at: i64,
}

/// `org:admin`, `admin` and `org:org:admin` all become `org:admin`.
pub fn with_org_prefix(value: &str) -> String {
    format!("org:{}", without_org_prefix(value))
}

/// `org:admin`, `admin` and `org:org:admin` all become `admin`: two names are the same role or
/// permission when these are equal (what comparing [`with_org_prefix`]'s forms says, without
/// allocating them on every check).
pub fn without_org_prefix(value: &str) -> &str {
    let mut bare = value;
    while let Some(rest) = bare.strip_prefix("org:") {
        bare = rest;
    }
    bare
}

fn string(claims: &Map<String, Value>, key: &str) -> Option<String> {
    claims.get(key).and_then(Value::as_str).map(str::to_owned)
}

/// Builds the normalised claims from a verified payload. `sub` and `sid` were checked by the caller.
pub fn normalise(
    claims: &Map<String, Value>,
    user_id: String,
    session_id: String,
    expires_at: i64,
    issued_at: Option<i64>,
) -> Result<SessionClaims, Reason> {
    let version = match claims.get("v").and_then(Value::as_u64) {
        Some(2) => 2,
        _ => 1,
    };
    let features = scoped_list(claims.get("fea"))?;
    let plans = scoped_list(claims.get("pla"))?;
    let organization = if version == 2 {
        v2_organization(claims.get("o"), &features)
    } else {
        v1_organization(claims)
    };
    let factor_verification_age = match claims.get("fva").and_then(Value::as_array) {
        Some(ages) if ages.len() == 2 => match (ages[0].as_i64(), ages[1].as_i64()) {
            (Some(a), Some(b)) => Some([a, b]),
            _ => None,
        },
        _ => None,
    };
    Ok(SessionClaims {
        user_id,
        session_id,
        session_status: string(claims, "sts"),
        issuer: string(claims, "iss"),
        authorized_party: string(claims, "azp"),
        organization,
        features,
        plans,
        factor_verification_age,
        actor: claims.get("act").filter(|a| a.is_object()).cloned(),
        version,
        issued_at,
        expires_at,
    })
}

fn v1_organization(claims: &Map<String, Value>) -> Option<ActiveOrganization> {
    let id = string(claims, "org_id").filter(|id| !id.is_empty())?;
    let permissions = claims
        .get("org_permissions")
        .and_then(Value::as_array)
        .map(|list| {
            list.iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default();
    Some(ActiveOrganization {
        id,
        slug: string(claims, "org_slug"),
        role: string(claims, "org_role").map(|r| with_org_prefix(&r)),
        permissions,
    })
}

fn v2_organization(o: Option<&Value>, features: &Scoped) -> Option<ActiveOrganization> {
    let o = o?.as_object()?;
    let id = string(o, "id").filter(|id| !id.is_empty())?;
    let permissions = match (
        o.get("per").and_then(Value::as_str),
        o.get("fpm").and_then(Value::as_str),
    ) {
        (Some(per), Some(fpm)) => decode_feature_permissions(&features.org, per, fpm),
        _ => Vec::new(),
    };
    Some(ActiveOrganization {
        id,
        slug: string(o, "slg"),
        role: string(o, "rol")
            .filter(|r| !r.is_empty())
            .map(|r| with_org_prefix(&r)),
        permissions,
    })
}

/// `"o:a,u:b,ou:c"` → org `[a, c]`, user `[b, c]`. An element without a scope makes the claim
/// malformed, as it does for Clerk (which throws); unknown scopes are ignored, as Clerk does.
fn scoped_list(value: Option<&Value>) -> Result<Scoped, Reason> {
    let mut scoped = Scoped::default();
    let Some(value) = value else {
        return Ok(scoped);
    };
    let text = value.as_str().ok_or(Reason::TokenVerificationFailed)?;
    for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let (scope, name) = part
            .split_once(':')
            .ok_or(Reason::TokenVerificationFailed)?;
        match scope {
            "o" => scoped.org.push(name.to_owned()),
            "u" => scoped.user.push(name.to_owned()),
            "ou" | "uo" => {
                scoped.org.push(name.to_owned());
                scoped.user.push(name.to_owned());
            }
            _ => {}
        }
    }
    Ok(scoped)
}

/// Expands `per` + `fpm` against the org-scoped features.
pub fn decode_feature_permissions(org_features: &[String], per: &str, fpm: &str) -> Vec<String> {
    let permissions: Vec<&str> = per.split(',').map(str::trim).collect();
    let mut granted = Vec::new();
    for (feature, mask) in org_features.iter().zip(fpm.split(',').map(str::trim)) {
        let Some(bits) = decimal_to_bits(mask) else {
            continue;
        };
        if bits.len() > permissions.len() {
            continue;
        }
        for (bit, name) in bits.iter().zip(&permissions) {
            if *bit {
                granted.push(format!("org:{feature}:{name}"));
            }
        }
    }
    granted
}

/// Longest mask accepted, in decimal digits (a 1,000-bit mask has 302): bounds the work per token.
const MAX_MASK_DIGITS: usize = 400;

/// The binary digits of a non-negative decimal integer, least significant first, without trailing
/// zeros (so `0` is empty). `None` unless `text` is 1–400 ASCII digits.
pub fn decimal_to_bits(text: &str) -> Option<Vec<bool>> {
    if text.is_empty() || text.len() > MAX_MASK_DIGITS || !text.bytes().all(|b| b.is_ascii_digit())
    {
        return None;
    }
    // Long division by 2 over the decimal digits, collecting remainders.
    let mut digits: Vec<u8> = text.bytes().map(|b| b - b'0').collect();
    let mut bits = Vec::new();
    while digits.iter().any(|d| *d != 0) {
        let mut remainder = 0u8;
        for d in digits.iter_mut() {
            let value = remainder * 10 + *d;
            *d = value / 2;
            remainder = value % 2;
        }
        bits.push(remainder == 1);
    }
    Some(bits)
}

#[cfg(test)]
mod tests;
