//! Authorization checks with the semantics of Clerk's `has()` (@clerk/shared `createCheckAuthorization`):
//! each asked dimension (organization role/permission, feature/plan, reverification) passes, fails or
//! is skipped when not asked; the answer is yes only if something was asked and nothing failed. Roles
//! and asked permissions are normalised to one `org:` prefix. Without an active organization every
//! role or permission check fails. Features and plans take an optional scope: `o:`/`org:`/
//! `organization:` or `u:`/`user:`; unscoped names match either scope; an unknown scope fails.

use serde::{Deserialize, Serialize};

use super::claims::{without_org_prefix, Scoped, SessionClaims};

/// What a route requires. Every field set must hold.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub struct Requirement {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub permission: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub feature: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub plan: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reverification: Option<Reverification>,
}

/// How recently the user must have verified a factor.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Reverification {
    /// Clerk's presets: `strict_mfa` (10 min, every factor), `strict` (10 min, second factor),
    /// `moderate` (60 min), `lax` (24 h).
    StrictMfa,
    Strict,
    Moderate,
    Lax,
    Custom {
        level: FactorLevel,
        after_minutes: i64,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FactorLevel {
    FirstFactor,
    SecondFactor,
    MultiFactor,
}

impl Reverification {
    /// One of Clerk's preset names (`strict_mfa`, `strict`, `moderate`, `lax`).
    pub fn preset(name: &str) -> Option<Self> {
        match name {
            "strict_mfa" => Some(Self::StrictMfa),
            "strict" => Some(Self::Strict),
            "moderate" => Some(Self::Moderate),
            "lax" => Some(Self::Lax),
            _ => None,
        }
    }

    /// The level and the minutes it stands for (@clerk/shared's `validateReverificationConfig`).
    pub fn level_and_minutes(self) -> (FactorLevel, i64) {
        match self {
            Self::StrictMfa => (FactorLevel::MultiFactor, 10),
            Self::Strict => (FactorLevel::SecondFactor, 10),
            Self::Moderate => (FactorLevel::SecondFactor, 60),
            Self::Lax => (FactorLevel::SecondFactor, 1440),
            Self::Custom {
                level,
                after_minutes,
            } => (level, after_minutes),
        }
    }
}

impl FactorLevel {
    /// Clerk's name (`SessionVerificationLevel`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::FirstFactor => "first_factor",
            Self::SecondFactor => "second_factor",
            Self::MultiFactor => "multi_factor",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    Pass,
    Fail,
    Skip,
}

impl Requirement {
    pub fn role(role: &str) -> Self {
        Self {
            role: Some(role.to_owned()),
            ..Self::default()
        }
    }

    pub fn permission(permission: &str) -> Self {
        Self {
            permission: Some(permission.to_owned()),
            ..Self::default()
        }
    }

    pub fn feature(feature: &str) -> Self {
        Self {
            feature: Some(feature.to_owned()),
            ..Self::default()
        }
    }

    pub fn plan(plan: &str) -> Self {
        Self {
            plan: Some(plan.to_owned()),
            ..Self::default()
        }
    }

    pub fn reverification(reverification: Reverification) -> Self {
        Self {
            reverification: Some(reverification),
            ..Self::default()
        }
    }

    /// This requirement without its reverification part (checked first: a step-up cannot grant a
    /// role or permission the user lacks, so asking for one would be pointless).
    pub fn without_reverification(&self) -> Self {
        Self {
            reverification: None,
            ..self.clone()
        }
    }

    /// Whether anything but reverification is asked.
    pub fn asks_beyond_reverification(&self) -> bool {
        self.role.is_some()
            || self.permission.is_some()
            || self.feature.is_some()
            || self.plan.is_some()
    }

    /// Whether `claims` satisfy this requirement.
    pub fn is_met_by(&self, claims: &SessionClaims) -> bool {
        let outcomes = [
            self.organization(claims),
            self.billing(claims),
            self.reverification_outcome(claims),
        ];
        outcomes.contains(&Outcome::Pass) && !outcomes.contains(&Outcome::Fail)
    }

    fn organization(&self, claims: &SessionClaims) -> Outcome {
        if self.role.is_none() && self.permission.is_none() {
            return Outcome::Skip;
        }
        let Some(org) = &claims.organization else {
            return Outcome::Fail;
        };
        if let Some(role) = &self.role {
            if org.role.as_deref().map(without_org_prefix) != Some(without_org_prefix(role)) {
                return Outcome::Fail;
            }
        }
        if let Some(permission) = &self.permission {
            // The token's permissions are full keys (`org:notes:read`), compared as they are.
            let asked = without_org_prefix(permission);
            if !org
                .permissions
                .iter()
                .any(|p| p.strip_prefix("org:") == Some(asked))
            {
                return Outcome::Fail;
            }
        }
        Outcome::Pass
    }

    fn billing(&self, claims: &SessionClaims) -> Outcome {
        if self.feature.is_none() && self.plan.is_none() {
            return Outcome::Skip;
        }
        let feature_ok = self
            .feature
            .as_deref()
            .is_none_or(|f| scoped_contains(&claims.features, f));
        let plan_ok = self
            .plan
            .as_deref()
            .is_none_or(|p| scoped_contains(&claims.plans, p));
        if feature_ok && plan_ok {
            Outcome::Pass
        } else {
            Outcome::Fail
        }
    }

    fn reverification_outcome(&self, claims: &SessionClaims) -> Outcome {
        let Some(wanted) = self.reverification else {
            return Outcome::Skip;
        };
        let (level, after_minutes) = wanted.level_and_minutes();
        let Some([first_age, second_age]) = claims.factor_verification_age else {
            return Outcome::Fail;
        };
        // -1: that factor is not enabled for the user.
        let fresh = |age: i64| (age != -1).then_some(after_minutes > age);
        let (first, second) = (fresh(first_age), fresh(second_age));
        let ok = match level {
            FactorLevel::FirstFactor => first,
            FactorLevel::SecondFactor => second.or(first),
            FactorLevel::MultiFactor => match second {
                None => first,
                Some(second) => first.map(|first| first && second),
            },
        };
        if ok == Some(true) {
            Outcome::Pass
        } else {
            Outcome::Fail
        }
    }
}

fn scoped_contains(list: &Scoped, asked: &str) -> bool {
    let (scope, name) = match asked.split_once(':') {
        Some((scope, name)) => (Some(scope), name),
        None => (None, asked),
    };
    let has = |names: &[String]| names.iter().any(|n| n == name);
    match scope {
        None => has(&list.org) || has(&list.user),
        Some("o" | "org" | "organization") => has(&list.org),
        Some("u" | "user") => has(&list.user),
        Some(_) => false,
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use serde_json::json;

    use super::*;
    use crate::clerk::claims::normalise;

    fn claims(extra: serde_json::Value) -> SessionClaims {
        let mut c = json!({"sub": "user_1", "sid": "sess_1", "exp": 2});
        for (k, v) in extra.as_object().unwrap() {
            c[k] = v.clone();
        }
        normalise(
            c.as_object().unwrap(),
            "user_1".into(),
            "sess_1".into(),
            2,
            None,
        )
        .unwrap()
    }

    fn admin() -> SessionClaims {
        claims(
            json!({"v": 2, "fea": "o:reservations,u:dashboard", "pla": "o:team",
            "fva": [3, 30], "o": {"id": "org_1", "rol": "admin", "per": "read,manage", "fpm": "3"}}),
        )
    }

    #[test]
    fn roles_and_permissions_are_prefix_normalised() {
        let c = admin();
        for role in ["admin", "org:admin", "org:org:admin"] {
            assert!(Requirement::role(role).is_met_by(&c), "{role}");
        }
        assert!(!Requirement::role("org:member").is_met_by(&c));
        assert!(Requirement::permission("org:reservations:read").is_met_by(&c));
        assert!(Requirement::permission("reservations:manage").is_met_by(&c));
        assert!(!Requirement::permission("org:reservations:delete").is_met_by(&c));
    }

    #[test]
    fn every_asked_dimension_must_hold() {
        let c = admin();
        let both = Requirement {
            role: Some("org:admin".into()),
            permission: Some("org:reservations:read".into()),
            ..Requirement::default()
        };
        assert!(both.is_met_by(&c));
        let one_wrong = Requirement {
            role: Some("org:member".into()),
            permission: Some("org:reservations:read".into()),
            ..Requirement::default()
        };
        assert!(
            !one_wrong.is_met_by(&c),
            "a passing permission must not mask a failing role"
        );
        let feature_masks_role = Requirement {
            role: Some("org:member".into()),
            feature: Some("reservations".into()),
            ..Requirement::default()
        };
        assert!(!feature_masks_role.is_met_by(&c));
        assert!(!Requirement::default().is_met_by(&c), "nothing asked: no");
    }

    #[test]
    fn no_active_organization_fails_closed() {
        let c = claims(json!({"v": 2, "fea": "u:dashboard"}));
        assert!(!Requirement::role("org:admin").is_met_by(&c));
        assert!(!Requirement::permission("org:x:read").is_met_by(&c));
        assert!(Requirement::feature("dashboard").is_met_by(&c));
    }

    #[test]
    fn features_and_plans_with_scopes() {
        let c = admin();
        for f in [
            "reservations",
            "o:reservations",
            "org:reservations",
            "organization:reservations",
        ] {
            assert!(Requirement::feature(f).is_met_by(&c), "{f}");
        }
        assert!(!Requirement::feature("u:reservations").is_met_by(&c));
        assert!(Requirement::feature("user:dashboard").is_met_by(&c));
        assert!(!Requirement::feature("lol:reservations").is_met_by(&c));
        assert!(Requirement::plan("team").is_met_by(&c));
        assert!(!Requirement::plan("u:team").is_met_by(&c));
        let both = Requirement {
            feature: Some("reservations".into()),
            plan: Some("enterprise".into()),
            ..Requirement::default()
        };
        assert!(!both.is_met_by(&c));
        assert!(
            !Requirement::feature("dashboard").is_met_by(&claims(json!({}))),
            "v1 token: no features"
        );
    }

    #[test]
    fn reverification_levels() {
        let c = admin(); // first factor 3 min ago, second 30 min ago
        let rv = |r| Requirement {
            reverification: Some(r),
            ..Requirement::default()
        };
        assert!(!rv(Reverification::Strict).is_met_by(&c));
        assert!(rv(Reverification::Moderate).is_met_by(&c));
        assert!(rv(Reverification::Lax).is_met_by(&c));
        assert!(!rv(Reverification::StrictMfa).is_met_by(&c));
        assert!(rv(Reverification::Custom {
            level: FactorLevel::FirstFactor,
            after_minutes: 10
        })
        .is_met_by(&c));
        // second factor not enabled: second-factor level falls back to the first factor
        let single = claims(json!({"fva": [3, -1]}));
        assert!(rv(Reverification::Strict).is_met_by(&single));
        assert!(rv(Reverification::StrictMfa).is_met_by(&single));
        assert!(
            !rv(Reverification::Lax).is_met_by(&claims(json!({}))),
            "no fva: fail"
        );
    }
}
