//! The vectors of @clerk/shared's `jwtPayloadParser.spec.ts`, plus precision and malformed-mask cases.
#![allow(clippy::unwrap_used)]

use serde_json::{json, Value};

use super::*;

fn parse(extra: Value) -> SessionClaims {
    let mut claims = json!({
        "exp": 1234567890, "iat": 1234567890, "iss": "https://api.clerk.com",
        "sub": "sub", "sid": "sid", "azp": "azp", "nbf": 1234567890
    });
    for (k, v) in extra.as_object().unwrap() {
        claims[k] = v.clone();
    }
    normalise(
        claims.as_object().unwrap(),
        "sub".into(),
        "sid".into(),
        1234567890,
        Some(1234567890),
    )
    .unwrap()
}

fn permissions(fea: &str, per: &str, fpm: &str) -> Vec<String> {
    let claims = parse(
        json!({"v": 2, "fea": fea, "o": {"id": "org_id", "rol": "admin", "slg": "org_slug", "per": per, "fpm": fpm}}),
    );
    let mut p = claims.organization.unwrap().permissions;
    p.sort();
    p
}

fn sorted(list: &[&str]) -> Vec<String> {
    let mut v: Vec<String> = list.iter().map(|s| (*s).to_owned()).collect();
    v.sort();
    v
}

#[test]
fn v2_without_an_active_org_has_no_org_fields_like_v1() {
    let v2 = parse(json!({"v": 2, "fea": "u:impersonation,u:memberships"}));
    let v1 = parse(json!({}));
    assert_eq!(v2.organization, None);
    assert_eq!(v1.organization, None);
}

#[test]
fn v1_and_v2_produce_the_same_organization() {
    let v2 = parse(json!({"v": 2, "fea": "o:impersonation",
        "o": {"id": "org_xxxxxxx", "rol": "admin", "slg": "org_test", "per": "read,manage", "fpm": "3"}}));
    let v1 = parse(
        json!({"org_id": "org_xxxxxxx", "org_role": "org:admin", "org_slug": "org_test",
        "org_permissions": ["org:impersonation:read", "org:impersonation:manage"]}),
    );
    assert_eq!(v1.organization, v2.organization);
    assert_eq!(v2.organization.unwrap().role.as_deref(), Some("org:admin"));
}

#[test]
fn clerk_fpm_vectors() {
    assert_eq!(
        permissions("o:impersonation,o:memberships", "read,manage", "1,3"),
        sorted(&[
            "org:impersonation:read",
            "org:memberships:read",
            "org:memberships:manage"
        ])
    );
    // A feature without a mask gets nothing.
    assert_eq!(
        permissions(
            "o:impersonation,o:memberships,o:feature3",
            "read,manage",
            "1,3"
        ),
        sorted(&[
            "org:impersonation:read",
            "org:memberships:read",
            "org:memberships:manage"
        ])
    );
    assert_eq!(
        permissions(
            "uo:impersonation,o:memberships,uo:feature3",
            "read,manage",
            "1,3,1"
        ),
        sorted(&[
            "org:impersonation:read",
            "org:memberships:read",
            "org:memberships:manage",
            "org:feature3:read"
        ])
    );
    // Masks pair with org-scoped features only: the user-scoped one is skipped.
    assert_eq!(
        permissions("ou:memberships,u:impersonation", "read,manage", "3"),
        sorted(&["org:memberships:read", "org:memberships:manage"])
    );
    assert_eq!(
        permissions(
            "o:billing,o:email,o:fraud,o:instance,o:staging_plans",
            "manage,read",
            "3,3,3,3,1"
        ),
        sorted(&[
            "org:billing:manage",
            "org:billing:read",
            "org:email:manage",
            "org:email:read",
            "org:fraud:manage",
            "org:fraud:read",
            "org:instance:manage",
            "org:instance:read",
            "org:staging_plans:manage",
        ])
    );
    assert_eq!(
        permissions(
            "o:repositories,o:projects",
            "read,create,update,delete,revoke",
            "7,21"
        ),
        sorted(&[
            "org:repositories:read",
            "org:repositories:create",
            "org:repositories:update",
            "org:projects:read",
            "org:projects:update",
            "org:projects:revoke",
        ])
    );
    assert_eq!(
        permissions(
            "o:repositories,o:projects,o:webhooks,o:impersonation",
            "read,manage",
            "1,2,3"
        ),
        sorted(&[
            "org:repositories:read",
            "org:projects:manage",
            "org:webhooks:read",
            "org:webhooks:manage"
        ])
    );
    assert_eq!(
        permissions(
            "o:repositories,uo:projects,u:goldprofileborder",
            "read,create,update,delete,revoke",
            "7,21"
        ),
        sorted(&[
            "org:repositories:read",
            "org:repositories:create",
            "org:repositories:update",
            "org:projects:read",
            "org:projects:update",
            "org:projects:revoke",
        ])
    );
}

#[test]
fn no_per_or_fpm_means_no_permissions_and_role_is_prefixed() {
    let c = parse(
        json!({"v": 2, "fea": "u:impersonation", "o": {"id": "org_id", "rol": "admin", "slg": "org_slug"}}),
    );
    let org = c.organization.unwrap();
    assert!(org.permissions.is_empty());
    assert_eq!(org.role.as_deref(), Some("org:admin"));
}

#[test]
fn masks_above_2_pow_53_are_exact() {
    // 2^60 + 1: bits 0 and 60. JavaScript's parseInt would round it to 2^60.
    let per: Vec<String> = (0..61).map(|i| format!("p{i}")).collect();
    let got = permissions("o:big", &per.join(","), "1152921504606846977");
    assert_eq!(got, sorted(&["org:big:p0", "org:big:p60"]));
    // 2^100 - 1 against 100 permissions: all granted.
    let per: Vec<String> = (0..100).map(|i| format!("p{i}")).collect();
    assert_eq!(
        permissions("o:all", &per.join(","), "1267650600228229401496703205375").len(),
        100
    );
}

#[test]
fn malformed_masks_grant_nothing_and_do_not_shift_the_others() {
    assert_eq!(
        permissions("o:a,o:b", "read,manage", "x1,3"),
        sorted(&["org:b:read", "org:b:manage"])
    );
    assert_eq!(
        permissions("o:a,o:b", "read,manage", "-1,1"),
        sorted(&["org:b:read"])
    );
    assert_eq!(
        permissions("o:a,o:b", "read,manage", "1.5,1"),
        sorted(&["org:b:read"])
    );
    // 4 sets bit 2, but there are only two permissions: nothing for that feature.
    assert_eq!(
        permissions("o:a,o:b", "read,manage", "4,2"),
        sorted(&["org:b:manage"])
    );
    assert_eq!(
        permissions("o:a", "read", &"9".repeat(401)),
        Vec::<String>::new()
    );
}

#[test]
fn decimal_to_bits_is_exact() {
    assert_eq!(decimal_to_bits("0"), Some(vec![]));
    assert_eq!(decimal_to_bits("6"), Some(vec![false, true, true]));
    assert_eq!(decimal_to_bits("007"), Some(vec![true, true, true]));
    assert_eq!(decimal_to_bits(""), None);
    assert_eq!(decimal_to_bits("+1"), None);
}

#[test]
fn features_and_plans_split_by_scope() {
    let c =
        parse(json!({"v": 2, "fea": "o:payments,u:impersonation,ou:chat", "pla": "u:pro,o:team"}));
    assert_eq!(c.features.org, ["payments", "chat"]);
    assert_eq!(c.features.user, ["impersonation", "chat"]);
    assert_eq!(c.plans.org, ["team"]);
    assert_eq!(c.plans.user, ["pro"]);
}

#[test]
fn a_scopeless_feature_is_malformed() {
    let claims = json!({"v": 2, "fea": "payments"});
    let result = normalise(claims.as_object().unwrap(), "u".into(), "s".into(), 1, None);
    assert_eq!(result.unwrap_err(), Reason::TokenVerificationFailed);
}

#[test]
fn role_prefix_is_normalised_once() {
    assert_eq!(with_org_prefix("admin"), "org:admin");
    assert_eq!(with_org_prefix("org:admin"), "org:admin");
    assert_eq!(with_org_prefix("org:org:admin"), "org:admin");
    for name in ["admin", "org:admin", "org:org:admin"] {
        assert_eq!(without_org_prefix(name), "admin");
    }
    assert_eq!(without_org_prefix("orgadmin"), "orgadmin");
}
