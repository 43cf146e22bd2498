//! What start-up says about session tokens: where their keys come from, the issuer they must carry
//! and how `azp` is checked, so a first run shows at once what is (not) configured.

use crate::clerk::jwt::AzpPolicy;
use crate::clerk::key_source::NO_KEY_SOURCE_RETRY_AFTER_SECS;
use crate::settings::Settings;

/// Logs the key source, the expected issuer and the azp policy; warns loudly without a key source.
pub fn log_session_token_setup(settings: &Settings) {
    let Some(source) = settings.clerk.key_source() else {
        log::warn!(
            target: "auth_core::auth",
            "NO KEY SOURCE FOR SESSION TOKENS: every session token is refused (503 \
             jwk-failed-to-resolve, Retry-After: {NO_KEY_SOURCE_RETRY_AFTER_SECS}) and readiness \
             (/api/auth/health) is 503 until one of CLERK_PUBLISHABLE_KEY, CLERK_SECRET_KEY, \
             CLERK_JWKS_URL or CLERK_JWT_KEY is set"
        );
        return;
    };
    let auth = &settings.auth;
    let issuer = auth.issuer.as_deref().map_or_else(
        || "not checked (set CLERK_PUBLISHABLE_KEY or AUTH_CORE__AUTH__ISSUER)".to_owned(),
        str::to_owned,
    );
    log::info!(
        target: "auth_core::auth",
        "session tokens: keys from {source}; expected issuer {issuer}; {}",
        azp_text(auth.azp_policy, &settings.clerk.authorized_parties)
    );
}

fn azp_text(policy: AzpPolicy, parties: &[String]) -> String {
    let listed = parties.join(", ");
    match policy {
        AzpPolicy::Off => "azp not checked (auth.azp_policy = off)".to_owned(),
        AzpPolicy::WhenPresent if parties.is_empty() => {
            "azp not checked: no authorized parties (set CLERK_AUTHORIZED_PARTIES)".to_owned()
        }
        AzpPolicy::WhenPresent => format!("azp, when present, must be one of {listed}"),
        AzpPolicy::Required => format!("azp required, one of {listed}"),
    }
}
