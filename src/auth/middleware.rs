//! Authenticates every request of the protected scopes: finds the token, verifies it and puts the
//! [`Principal`] into the request, or answers 401 with the reason code.

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;
use actix_web::{web, Error, HttpMessage};

use super::org_scope;
use super::principal::Principal;
use super::token_source;
use crate::app::AppState;
use crate::clerk::reason::Reason;
use crate::error::ApiError;

pub async fn authenticate(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, Error> {
    let Some(state) = req.app_data::<web::Data<AppState>>().cloned() else {
        return Err(ApiError::internal().into());
    };
    let found = token_source::find(req.request(), state.cookie_suffix.as_deref());
    let (token, carrier) = match found {
        Ok(Some(found)) => found,
        Ok(None) => return Err(refuse(Reason::SessionTokenMissing, None)),
        Err(reason) => return Err(refuse(reason, Some(token_source::Carrier::Header))),
    };
    match state.verifier.verify(&token).await {
        Ok(verified) => {
            let principal = Principal::User(verified);
            org_scope::reject_foreign_ids(req.request(), principal.organization_id())?;
            req.extensions_mut().insert(principal);
            next.call(req).await
        }
        Err(reason) => Err(refuse(reason, Some(carrier))),
    }
}

fn refuse(reason: Reason, carrier: Option<token_source::Carrier>) -> Error {
    log::info!(
        target: "auth_core::auth",
        "authentication refused: {reason} (token from {})",
        carrier.map_or("nowhere", token_source::Carrier::as_str)
    );
    ApiError::unauthenticated(reason).into()
}
