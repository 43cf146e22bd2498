//! Builds the application: shared state, routes and middleware. Tests and other Actix apps that mount
//! auth-core use these functions; `main.rs` only adds the command line around them.

use std::sync::Arc;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceFactory, ServiceRequest, ServiceResponse};
use actix_web::{middleware, web, App};

use crate::db::{Db, DbError};
use crate::settings::Settings;
use crate::{api, http};

/// What every handler can reach. Cheap to clone.
#[derive(Clone)]
pub struct AppState {
    pub settings: Arc<Settings>,
    pub db: Db,
}

impl AppState {
    /// Opens the database (and applies migrations when the settings say so).
    pub fn prepare(settings: Settings) -> Result<Self, DbError> {
        let db = Db::open(&settings.database)?;
        if settings.database.run_migrations {
            let applied = db.migrate()?;
            if applied.is_empty() {
                log::info!("database {} is up to date", db.describe());
            } else {
                log::info!(
                    "database {}: applied migrations {}",
                    db.describe(),
                    applied.join(", ")
                );
            }
        }
        Ok(Self {
            settings: Arc::new(settings),
            db,
        })
    }
}

/// Adds auth-core's state and routes to a service config, for embedding in another App:
///
/// ```no_run
/// use actix_web::{web, App, HttpServer};
/// use auth_core::app::{mount, AppState};
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
        cfg.app_data(web::Data::new(state)).configure(api::routes);
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
    App::new()
        .configure(mount(state))
        .default_service(web::to(api::not_found))
        .wrap(middleware::from_fn(http::request_id::middleware))
}
