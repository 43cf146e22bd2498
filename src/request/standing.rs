//! A signed-in user's [`Standing`] for the request, judged at most once: the first of the guards,
//! `OrgScope` and `/me` to ask looks the user up and keeps the standing in the request's extensions,
//! and whoever asks later on the same request gets it from there.

use actix_web::{web, HttpMessage, HttpRequest};

use crate::auth::standing::Standing;
use crate::clerk::claims::SessionClaims;
use crate::http::error::ApiError;
use crate::state::AppState;

/// The memo in the extensions; only this module writes it.
#[derive(Clone)]
struct Judged(Standing);

/// The standing of the user whose token (`claims`) authenticated `req`.
pub async fn of_request(req: &HttpRequest, claims: &SessionClaims) -> Result<Standing, ApiError> {
    let judged = req.extensions().get::<Judged>().cloned();
    if let Some(Judged(standing)) = judged {
        return Ok(standing);
    }
    let state = req
        .app_data::<web::Data<AppState>>()
        .cloned()
        .ok_or_else(ApiError::internal)?;
    let standing = Standing::of(&state.users, claims).await?;
    req.extensions_mut().insert(Judged(standing.clone()));
    Ok(standing)
}
