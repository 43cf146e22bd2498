//! The console's stylesheet, compiled into the binary (no CDN, works offline) and served under a
//! name carrying its content hash, so browsers may cache it for a year and a new build is fetched.

use std::sync::LazyLock;

use actix_web::http::header;
use actix_web::{web, HttpResponse};
use sha2::{Digest, Sha256};

const CSS: &str = include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/static/admin.css"));

static CSS_NAME: LazyLock<String> = LazyLock::new(|| {
    let digest = Sha256::digest(CSS.as_bytes());
    let hex: String = digest.iter().take(5).map(|b| format!("{b:02x}")).collect();
    format!("admin.{hex}.css")
});

static CSS_PATH: LazyLock<String> = LazyLock::new(|| format!("/admin/static/{}", *CSS_NAME));

/// Where the layout links the stylesheet.
pub fn css_path() -> &'static str {
    CSS_PATH.as_str()
}

pub async fn serve(name: web::Path<String>) -> HttpResponse {
    if *name != *CSS_NAME {
        return HttpResponse::NotFound()
            .insert_header((header::CACHE_CONTROL, "no-store"))
            .finish();
    }
    HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, "text/css; charset=utf-8"))
        .insert_header((header::CACHE_CONTROL, "public, max-age=31536000, immutable"))
        .body(CSS)
}
