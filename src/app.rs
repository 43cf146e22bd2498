//! The router: mounts the API's and the console's routes on an [`AppState`], then an embedding
//! application's ([`TeamRoutes`]), and wraps them all in one middleware stack ([`build`]). The server
//! (`server`) runs it; `embed::AuthCore` is how both `auth-core serve` and a team's backend get there.

use std::sync::Arc;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceFactory, ServiceRequest, ServiceResponse};
use actix_web::{web, App};

use crate::http::error::ApiError;
use crate::request::authenticate::{Accepts, Authenticate};
use crate::state::AppState;
use crate::{admin, api, http, request};

/// The largest body an extractor (`web::Json`, `web::Bytes`, `String`) reads: 64 KiB.
pub const BODY_LIMIT: usize = 64 * 1024;

/// A JSON body that cannot be read, in the one error shape: 413 too large, 415 not JSON, 400 malformed.
fn json_body_error(error: &actix_web::error::JsonPayloadError) -> ApiError {
    use actix_web::error::{JsonPayloadError, PayloadError};
    log::debug!("bad JSON body: {error}");
    match error {
        JsonPayloadError::OverflowKnownLength { limit, .. }
        | JsonPayloadError::Overflow { limit } => ApiError::payload_too_large(*limit),
        JsonPayloadError::Payload(PayloadError::Overflow) => {
            ApiError::payload_too_large(BODY_LIMIT)
        }
        JsonPayloadError::ContentType => {
            ApiError::unsupported_media_type("send the body as Content-Type: application/json")
        }
        _ => ApiError::bad_request("the body is not valid JSON for this route"),
    }
}

/// A closure that registers routes, kept to be called once per server worker.
pub type Configure = Arc<dyn Fn(&mut web::ServiceConfig) + Send + Sync>;

/// The routes of an application that embeds auth-core (see `embed::AuthCore`), registered after
/// auth-core's own, inside the same middleware stack. `authenticated` routes are behind the
/// authentication middleware, accepting the credential kinds of `accepts`; `public` ones are not
/// (for public endpoints, or scopes that wrap `Authenticate` with credential kinds of their own).
#[derive(Clone)]
pub struct TeamRoutes {
    pub authenticated: Vec<Configure>,
    pub accepts: Accepts,
    pub public: Vec<Configure>,
}

impl Default for TeamRoutes {
    fn default() -> Self {
        Self {
            authenticated: Vec::new(),
            // As `/api/orgs`: users, service keys and machines alike; a handler that serves only
            // some of them says so with its extractors or guards.
            accepts: Accepts::ANY,
            public: Vec::new(),
        }
    }
}

/// auth-core's state and routes, then the team's.
fn mount(state: AppState, team: &TeamRoutes) -> impl FnOnce(&mut web::ServiceConfig) + '_ {
    move |cfg| {
        let admin_routes = admin::routes(&state.settings, state.admin_cookie_key.clone());
        cfg.app_data(web::Data::new(state))
            .app_data(web::QueryConfig::default().error_handler(|error, _| {
                log::debug!("bad query string: {error}");
                ApiError::bad_request("the query string is not valid for this route").into()
            }))
            // Bodies read by extractors (the webhook route reads its own, with its own limit).
            .app_data(web::PayloadConfig::new(BODY_LIMIT))
            .app_data(
                web::JsonConfig::default()
                    .limit(BODY_LIMIT)
                    .error_handler(|error, _| json_body_error(&error).into()),
            )
            .configure(admin_routes)
            .configure(api::routes);
        for routes in &team.public {
            cfg.configure(|cfg| routes(cfg));
        }
        if !team.authenticated.is_empty() {
            let accepts = team.accepts;
            // An empty prefix, which every path not routed before reaches: see `only_routed`.
            let mut scope = web::scope("").wrap(Authenticate::new(accepts).only_routed());
            for routes in &team.authenticated {
                let routes = routes.clone();
                scope = scope.configure(move |cfg| routes(cfg));
            }
            cfg.service(scope);
        }
    }
}

/// The complete application: routes, a JSON 404 for everything else, and the middleware stack.
pub fn build(
    state: AppState,
    team: &TeamRoutes,
) -> App<
    impl ServiceFactory<
        ServiceRequest,
        Config = (),
        Response = ServiceResponse<impl MessageBody>,
        Error = actix_web::Error,
        InitError = (),
    >,
> {
    let cors_origins = state.settings.cors.allowed_origins.clone();
    App::new()
        .configure(mount(state, team))
        .default_service(web::to(api::not_found))
        .wrap(request::audit::Record)
        .wrap(http::cors::build(&cors_origins))
        .wrap(http::cors::RefusalsAsJson)
        .wrap(request::envelope::Envelope)
}
