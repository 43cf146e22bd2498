//! `GET /api/auth/me`: the signed-in user, their active organization and their memberships.

use actix_web::{HttpRequest, HttpResponse};
use serde::Serialize;
use serde_json::Value;

use crate::auth::Principal;
use crate::clerk::claims::{ActiveOrganization, Scoped};
use crate::http::error::ApiError;
use crate::request::standing;

#[derive(Serialize, utoipa::ToSchema)]
pub struct MeResponse {
    pub user: UserView,
    pub session_id: String,
    /// The active organization of the session, from the token.
    #[schema(required = true)]
    pub organization: Option<ActiveOrganization>,
    pub memberships: Vec<MembershipView>,
    pub features: Scoped,
    pub plans: Scoped,
    /// Set when someone is impersonating the user.
    #[schema(required = true)]
    pub actor: Option<Value>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct UserView {
    pub id: String,
    #[schema(required = true)]
    pub email: Option<String>,
    #[schema(required = true)]
    pub first_name: Option<String>,
    #[schema(required = true)]
    pub last_name: Option<String>,
    #[schema(required = true)]
    pub username: Option<String>,
    #[schema(required = true)]
    pub image_url: Option<String>,
    pub public_metadata: Value,
    /// False until the profile has arrived from Clerk (webhook or Backend API).
    pub profile_synced: bool,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct MembershipView {
    pub id: String,
    pub organization_id: String,
    pub organization_name: String,
    #[schema(required = true)]
    pub organization_slug: Option<String>,
    pub role: String,
}

/// The signed-in user.
///
/// The user (created just in time on a first request), the session, its active organization with role
/// and permissions, the user's memberships, features and plans. Session tokens only.
#[utoipa::path(get, path = "/api/auth/me", tag = "auth",
    security(("session_token" = []), ("session_cookie" = [])),
    responses(
        (status = 200, description = "The signed-in user", body = MeResponse),
        (status = 401, response = crate::api::responses::Unauthorized),
        (status = 405, response = crate::api::responses::MethodNotAllowed),
        (status = 503, response = crate::api::responses::ServiceUnavailable),
    )
)]
pub async fn me(req: HttpRequest, principal: Principal) -> Result<HttpResponse, ApiError> {
    let Some(session) = principal.session() else {
        return Err(ApiError::not_found());
    };
    // Clerk ends a deleted user's sessions, but a token may outlive the webhook by a few seconds.
    // A membership removed since is shown by the memberships, not refused: this route is about the
    // user, not about acting in the organization.
    let standing = standing::of_request(&req, session).await?;
    let profile = standing.require_user()?;
    let user = &profile.user;
    Ok(HttpResponse::Ok().json(MeResponse {
        user: UserView {
            id: user.id.clone(),
            email: user.email.clone(),
            first_name: user.first_name.clone(),
            last_name: user.last_name.clone(),
            username: user.username.clone(),
            image_url: user.image_url.clone(),
            public_metadata: serde_json::from_str(&user.public_metadata).unwrap_or(Value::Null),
            profile_synced: user.clerk_updated_at > 0,
        },
        session_id: session.session_id.clone(),
        organization: session.organization.clone(),
        memberships: profile
            .memberships
            .iter()
            .map(|m| MembershipView {
                id: m.id.clone(),
                organization_id: m.organization_id.clone(),
                organization_name: m.organization_name.clone(),
                organization_slug: m.organization_slug.clone(),
                role: m.role.clone(),
            })
            .collect(),
        features: session.features.clone(),
        plans: session.plans.clone(),
        actor: session.actor.clone(),
    }))
}
