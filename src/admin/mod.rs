//! The admin console under `/admin`: server-rendered pages (Askama templates in `templates/admin`)
//! with their own sign-in (local administrator accounts), CSRF protection and throttling. It reads
//! and changes state through `db`, `sync`, `sync_runner` and `auth`, never through the JSON API's
//! handlers.

mod chart;
pub mod csrf;
pub mod guard;
mod pages;
mod static_files;
pub mod view;

use actix_session::config::{BrowserSession, CookieContentSecurity};
use actix_session::storage::CookieSessionStore;
use actix_session::SessionMiddleware;
use actix_web::cookie::{Key, SameSite};
use actix_web::{middleware, web};

use crate::settings::Settings;

/// Name of the session cookie. Its content is encrypted and authenticated with the key derived from
/// `SECRET_KEY`; it holds the session id and the CSRF token, nothing else.
pub const COOKIE_NAME: &str = "auth_core_admin";

/// Registers the console's routes (nothing when it is disabled).
pub fn routes(settings: &Settings, key: Option<Key>) -> impl FnOnce(&mut web::ServiceConfig) {
    let secure = settings.admin.cookie_secure(settings.server.debug);
    move |cfg| {
        let Some(key) = key else {
            return;
        };
        // The cookie lives as long as the browser session; the server enforces idle and absolute
        // expiry on its own session record, so a copied cookie dies with it.
        let sessions = SessionMiddleware::builder(CookieSessionStore::default(), key)
            .cookie_name(COOKIE_NAME.to_owned())
            .cookie_path("/admin".to_owned())
            .cookie_secure(secure)
            .cookie_http_only(true)
            .cookie_same_site(SameSite::Strict)
            .cookie_content_security(CookieContentSecurity::Private)
            .session_lifecycle(BrowserSession::default())
            .build();
        cfg.service(
            web::resource("/admin/static/{name}").route(web::get().to(static_files::serve)),
        )
        .service(
            web::scope("/admin")
                .app_data(web::PayloadConfig::new(guard::MAX_FORM_BYTES))
                .app_data(web::FormConfig::default().limit(guard::MAX_FORM_BYTES))
                .wrap(middleware::from_fn(guard::guard))
                .wrap(sessions)
                .configure(pages::routes),
        );
    }
}
