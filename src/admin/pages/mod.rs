//! One module per console page: a handler that loads what the page shows and an Askama struct.

mod admins;
mod audit;
mod dashboard;
mod keys;
mod login;
mod memberships;
mod organizations;
mod query;
mod sync;
mod users;
mod webhooks;

use actix_web::web;

use super::view::AdminError;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("", web::get().to(dashboard::show))
        .route("/", web::get().to(dashboard::show))
        .route("/login", web::get().to(login::form))
        .route("/login", web::post().to(login::submit))
        .route("/logout", web::post().to(login::logout))
        .route("/users", web::get().to(users::list))
        .route("/users/{id}", web::get().to(users::show))
        .route("/organizations", web::get().to(organizations::list))
        .route("/organizations/{id}", web::get().to(organizations::show))
        .route("/memberships", web::get().to(memberships::list))
        .route("/audit", web::get().to(audit::list))
        .route("/audit.csv", web::get().to(audit::export))
        .route("/webhooks", web::get().to(webhooks::list))
        .route("/webhooks/{id}", web::get().to(webhooks::show))
        .route(
            "/webhooks/{id}/reprocess",
            web::post().to(webhooks::reprocess),
        )
        .route("/sync", web::get().to(sync::list))
        .route("/sync/start", web::post().to(sync::start))
        .route("/keys", web::get().to(keys::list))
        .route("/keys", web::post().to(keys::create))
        .route("/keys/{id}/revoke", web::post().to(keys::revoke))
        .route("/admins", web::get().to(admins::list))
        .route("/admins", web::post().to(admins::add))
        .route("/admins/{id}/disable", web::post().to(admins::disable))
        .route("/password", web::get().to(admins::password_form))
        .route("/password", web::post().to(admins::change_password))
        .default_service(web::to(not_found));
}

async fn not_found() -> Result<actix_web::HttpResponse, AdminError> {
    Err(AdminError::NotFound)
}
