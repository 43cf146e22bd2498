//! The router: mounts the API's and the console's routes on an [`AppState`] and wraps them in the
//! middleware stack. Tests and other Actix apps that mount auth-core use these functions; the command
//! line (`cli::serve`) only adds the server around them.

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceFactory, ServiceRequest, ServiceResponse};
use actix_web::{middleware, web, App};

use crate::http::error::ApiError;
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

/// Adds auth-core's state and routes to a service config, for embedding in another App:
///
/// ```no_run
/// use actix_web::{web, App, HttpServer};
/// use auth_core::app::mount;
/// use auth_core::state::AppState;
/// use auth_core::settings::{Settings, SettingsSources};
///
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let settings = Settings::load(&SettingsSources::from_process(None))?;
/// let state = AppState::prepare(settings)?;
/// actix_web::rt::System::new().block_on(async move {
///     HttpServer::new(move || {
///         App::new()
///             .configure(mount(state.clone()))
///             .route("/mine", web::get().to(|| async { "my own route" }))
///     })
///     .bind("127.0.0.1:8080")?
///     .run()
///     .await
/// })?;
/// # Ok(())
/// # }
/// ```
pub fn mount(state: AppState) -> impl FnOnce(&mut web::ServiceConfig) {
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
    }
}

/// The complete application: routes, a JSON 404 for everything else, and the middleware stack.
pub fn build(
    state: AppState,
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
        .configure(mount(state))
        .default_service(web::to(api::not_found))
        .wrap(middleware::from_fn(request::audit::record))
        .wrap(http::cors::build(&cors_origins))
        .wrap(middleware::from_fn(http::cors::refusals_as_json))
        .wrap(middleware::from_fn(request::envelope::middleware))
}
