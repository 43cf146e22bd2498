//! One module per console page: a handler that loads what the page shows and an Askama struct.

mod dashboard;
mod login;

use actix_web::web;

use super::view::AdminError;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("", web::get().to(dashboard::show))
        .route("/", web::get().to(dashboard::show))
        .route("/login", web::get().to(login::form))
        .route("/login", web::post().to(login::submit))
        .route("/logout", web::post().to(login::logout))
        .default_service(web::to(not_found));
}

async fn not_found() -> Result<actix_web::HttpResponse, AdminError> {
    Err(AdminError::NotFound)
}
