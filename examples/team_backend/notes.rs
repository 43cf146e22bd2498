//! The example team backend's notes API, behind auth-core (see `examples/team_backend.rs`):
//!
//! - `GET /api/notes`: the active organization's notes, newest first (at most [`LIST_LIMIT`]);
//! - `GET /api/notes/{id}`: one of them;
//! - `POST /api/notes` `{"title": "…"}`: 201 with the new note (1 to [`TITLE_MAX_CHARS`] characters);
//! - `DELETE /api/notes/{id}`: `org:admin` only, 204.
//!
//! A note of another organization is 404, exactly as one that does not exist: every query goes
//! through `notes::table.scoped(…)` on a `TenantConnection` (see `auth_core::db::scoped`), so the
//! organization filter cannot be left out. A user, a service key bound to an organization and a
//! machine token with an organization all act in that organization (`OrgScope`).
//!
//! Kept in a module of its own so that its tests (`tests/team_backend.rs`) mount the same routes.

use actix_web::{web, HttpResponse};
use auth_core::prelude::*;
use diesel::prelude::*;
use diesel_migrations::{embed_migrations, EmbeddedMigrations};
use serde::{Deserialize, Serialize};

diesel::table! {
    notes (id) {
        id -> BigInt,
        organization_id -> Text,
        title -> Text,
        created_by -> Nullable<Text>,
        created_at -> BigInt,
    }
}

auth_core::tenant_scoped!(notes::table, notes::organization_id);

const POSTGRES: EmbeddedMigrations = embed_migrations!("examples/team_backend/migrations/postgres");
const SQLITE: EmbeddedMigrations = embed_migrations!("examples/team_backend/migrations/sqlite");

/// The notes table, applied after auth-core's own migrations.
pub const MIGRATIONS: MigrationSet = MigrationSet::new(&POSTGRES, &SQLITE);

/// The most notes one listing returns (a bound on the response, not paging: an example).
pub const LIST_LIMIT: i64 = 200;
/// The longest title, in characters.
pub const TITLE_MAX_CHARS: usize = 200;

#[derive(Debug, Queryable, Serialize)]
pub struct Note {
    pub id: i64,
    pub organization_id: String,
    pub title: String,
    /// The user who wrote it; `null` when a service key or machine did.
    pub created_by: Option<String>,
    /// Unix milliseconds.
    pub created_at: i64,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewNote {
    title: String,
}

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/api/notes")
            .route(web::get().to(list))
            .route(web::post().to(create)),
    )
    .service(
        web::resource("/api/notes/{id}")
            .route(web::get().to(get))
            .route(web::delete().to(delete).wrap(Require::role("org:admin"))),
    );
}

async fn list(scope: OrgScope, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let notes: Vec<Note> = state
        .db
        .run_scoped(scope.tenant(), |conn| {
            let query = notes::table
                .scoped(conn.tenant())
                .order(notes::id.desc())
                .limit(LIST_LIMIT);
            Ok(conn.load(query)?)
        })
        .await?;
    Ok(HttpResponse::Ok().json(serde_json::json!({ "data": notes })))
}

async fn get(
    scope: OrgScope,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id = note_id(&id)?;
    let note: Option<Note> = state
        .db
        .run_scoped(scope.tenant(), move |conn| {
            let query = notes::table.scoped(conn.tenant()).filter(notes::id.eq(id));
            Ok(conn.first(query)?)
        })
        .await?;
    note.map(|note| HttpResponse::Ok().json(note))
        .ok_or_else(ApiError::not_found)
}

async fn create(
    scope: OrgScope,
    state: web::Data<AppState>,
    body: web::Json<NewNote>,
) -> Result<HttpResponse, ApiError> {
    let title = body.into_inner().title;
    let length = title.chars().count();
    if title.trim().is_empty() || length > TITLE_MAX_CHARS {
        return Err(ApiError::bad_request(
            "title must be 1 to 200 characters, not only spaces",
        ));
    }
    let created_by = scope.principal().user_id().map(str::to_owned);
    let now = state.clock.now_ms();
    let note: Note = state
        .db
        .run_scoped(scope.tenant(), move |conn| {
            let values = (
                notes::title.eq(title),
                notes::created_by.eq(created_by),
                notes::created_at.eq(now),
            );
            Ok(conn.insert(notes::table, values)?)
        })
        .await?;
    Ok(HttpResponse::Created().json(note))
}

async fn delete(
    scope: OrgScope,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id = note_id(&id)?;
    let deleted = state
        .db
        .run_scoped(scope.tenant(), move |conn| {
            let statement = notes::table
                .scoped(conn.tenant())
                .filter(notes::id.eq(id))
                .delete();
            Ok(conn.execute(statement)?)
        })
        .await?;
    if deleted == 0 {
        return Err(ApiError::not_found());
    }
    Ok(HttpResponse::NoContent().finish())
}

/// A note id from the path: anything but a positive number names no note (404, as a missing one).
fn note_id(raw: &str) -> Result<i64, ApiError> {
    raw.parse::<i64>()
        .ok()
        .filter(|id| *id > 0)
        .ok_or_else(ApiError::not_found)
}
