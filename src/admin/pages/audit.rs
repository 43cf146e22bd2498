//! The audit trail: filters, keyset pages newest first, and a CSV export of exactly the filtered rows
//! (streamed in batches, so a large export never sits in memory).

use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;
use serde::Deserialize;

use super::query::{cursor_field, cursor_link, field, link, time_field};
use crate::admin::guard::SignedIn;
use crate::admin::view::{format_ms, page, AdminError, Chrome};
use crate::audit;
use crate::db::audit_query::AuditFilter;
use crate::db::console::audit::{self as audit_db, AuditRow};
use crate::db::console::PAGE_SIZE;
use crate::db::page::Cursor;
use crate::db::status_range::StatusRange;
use crate::state::AppState;

const CSV_BATCH: i64 = 2_000;

/// The status filter's choices (the form's).
const STATUS_CLASSES: [&str; 4] = ["2xx", "3xx", "4xx", "5xx"];

#[derive(Debug, Deserialize, Default, Clone)]
pub struct AuditQuery {
    from: Option<String>,
    to: Option<String>,
    user: Option<String>,
    org: Option<String>,
    principal: Option<String>,
    status: Option<String>,
    path: Option<String>,
    reason: Option<String>,
    before: Option<String>,
}

impl AuditQuery {
    fn filter(&self) -> Result<AuditFilter, AdminError> {
        let status = field(&self.status)
            .map(|text| match StatusRange::parse(&text) {
                // The form offers these classes only (not the codes, nor `1xx`, the API also takes).
                Ok(range) if STATUS_CLASSES.contains(&text.as_str()) => Ok(range),
                _ => Err(AdminError::BadRequest(
                    "status: expected 2xx, 3xx, 4xx or 5xx".into(),
                )),
            })
            .transpose()?;
        let principal = field(&self.principal);
        if let Some(p) = &principal {
            if !PRINCIPALS.contains(&p.as_str()) {
                return Err(AdminError::BadRequest("principal: unknown type".into()));
            }
        }
        Ok(AuditFilter {
            from_ms: time_field(&self.from, "from")?,
            to_ms: time_field(&self.to, "to")?,
            user_id: field(&self.user),
            organization_id: field(&self.org),
            principal_type: principal,
            status,
            path: field(&self.path),
            reason: field(&self.reason),
        })
    }

    /// The filters as query parameters (for the pager and the export link).
    fn params(&self) -> Vec<(&'static str, Option<String>)> {
        vec![
            ("from", field(&self.from)),
            ("to", field(&self.to)),
            ("user", field(&self.user)),
            ("org", field(&self.org)),
            ("principal", field(&self.principal)),
            ("status", field(&self.status)),
            ("path", field(&self.path)),
            ("reason", field(&self.reason)),
        ]
    }

    /// `path` with the filters, and the cursor of the events older than `before`'s.
    fn link(&self, path: &str, before: Option<&Cursor<i64>>) -> String {
        let params = self.params();
        let borrowed: Vec<(&str, Option<&str>)> =
            params.iter().map(|(k, v)| (*k, v.as_deref())).collect();
        match before {
            Some(before) => cursor_link(path, &borrowed, &["before"], &before.values()),
            None => link(path, &borrowed),
        }
    }
}

pub const PRINCIPALS: [&str; 5] = crate::db::audit::PrincipalType::NAMES;

pub struct EventItem {
    pub at: String,
    pub principal: String,
    pub user_id: String,
    pub organization_id: String,
    pub request: String,
    pub status: i32,
    pub status_class: &'static str,
    pub duration_ms: String,
    pub client_ip: String,
    pub reason: String,
    pub detail: String,
    pub user_agent: String,
}

#[derive(Template)]
#[template(path = "admin/audit.html")]
struct AuditPage {
    chrome: Chrome,
    q: AuditQuery,
    principals: [&'static str; 5],
    events: Vec<EventItem>,
    older: Option<String>,
    newest: Option<String>,
    export: String,
}

impl AuditPage {
    fn value(field: &Option<String>) -> &str {
        field.as_deref().unwrap_or("")
    }
}

pub async fn list(
    admin: SignedIn,
    state: web::Data<AppState>,
    query: web::Query<AuditQuery>,
) -> Result<HttpResponse, AdminError> {
    let query = query.into_inner();
    let filter = query.filter()?;
    // A malformed cursor (a link edited by hand) is ignored: the newest events.
    let before = cursor_field::<i64>(&[&query.before]);
    let paged = before.is_some();
    let found = state
        .db
        .run(move |conn| audit_db::list(conn, &filter, before.as_ref(), PAGE_SIZE))
        .await?;
    let older = found
        .next(|e| e.id)
        .map(|before| query.link("/admin/audit", Some(&before)));
    let newest = paged.then(|| query.link("/admin/audit", None));
    Ok(page(&AuditPage {
        chrome: admin.chrome("audit"),
        export: query.link("/admin/audit.csv", None),
        principals: PRINCIPALS,
        events: found.rows.into_iter().map(event_item).collect(),
        older,
        newest,
        q: query,
    }))
}

fn event_item(e: AuditRow) -> EventItem {
    EventItem {
        at: format_ms(e.occurred_at),
        principal: e.principal_type,
        user_id: e.user_id.unwrap_or_default(),
        organization_id: e.organization_id.unwrap_or_default(),
        request: format!("{} {}", e.method, e.path),
        status_class: match e.status {
            200..=399 => "ok",
            400..=499 => "warn",
            _ => "bad",
        },
        status: e.status,
        duration_ms: format!("{:.1}", e.duration_us as f64 / 1000.0),
        client_ip: e.client_ip.unwrap_or_default(),
        reason: e.reason.unwrap_or_default(),
        detail: e.detail.unwrap_or_default(),
        user_agent: e.user_agent.unwrap_or_default(),
    }
}

const CSV_HEADER: &str = "id,occurred_at,request_id,principal_type,user_id,organization_id,session_id,method,path,route,status,duration_us,client_ip,user_agent,reason,detail\r\n";

/// One CSV cell: quoted when needed, and defused when a spreadsheet would read it as a formula
/// (cells from requests — paths, user agents — are attacker-controlled).
fn cell(out: &mut String, value: &str) {
    let formula = value.starts_with(['=', '+', '-', '@', '\t', '\r']);
    let quote = formula || value.contains([',', '"', '\n', '\r']);
    if quote {
        out.push('"');
        if formula {
            out.push('\'');
        }
        out.push_str(&value.replace('"', "\"\""));
        out.push('"');
    } else {
        out.push_str(value);
    }
}

fn csv_rows(rows: &[AuditRow]) -> String {
    let mut out = String::with_capacity(rows.len() * 200);
    for e in rows {
        let opt = |v: &Option<String>| v.clone().unwrap_or_default();
        let cells = [
            e.id.to_string(),
            format_ms(e.occurred_at),
            opt(&e.request_id),
            e.principal_type.clone(),
            opt(&e.user_id),
            opt(&e.organization_id),
            opt(&e.session_id),
            e.method.clone(),
            e.path.clone(),
            opt(&e.route),
            e.status.to_string(),
            e.duration_us.to_string(),
            opt(&e.client_ip),
            opt(&e.user_agent),
            opt(&e.reason),
            opt(&e.detail),
        ];
        for (i, value) in cells.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            cell(&mut out, value);
        }
        out.push_str("\r\n");
    }
    out
}

pub async fn export(
    req: HttpRequest,
    state: web::Data<AppState>,
    query: web::Query<AuditQuery>,
) -> Result<HttpResponse, AdminError> {
    let filter = query.filter()?;
    audit::note(&req, |n| {
        n.detail = Some("exported the audit trail as CSV".to_owned())
    });
    let db = state.db.clone();
    // (cursor, finished, first): each step loads one batch older than the cursor.
    let batches = futures_util::stream::unfold(
        (None::<Cursor<i64>>, false, true),
        move |(before, finished, first)| {
            let db = db.clone();
            let filter = filter.clone();
            async move {
                if finished {
                    return None;
                }
                let result = db
                    .run(move |conn| audit_db::list(conn, &filter, before.as_ref(), CSV_BATCH))
                    .await;
                match result {
                    Ok(page) => {
                        let mut chunk = if first {
                            CSV_HEADER.to_owned()
                        } else {
                            String::new()
                        };
                        chunk.push_str(&csv_rows(&page.rows));
                        let next = page.next(|r| r.id);
                        let finished = next.is_none();
                        Some((
                            Ok::<_, actix_web::Error>(web::Bytes::from(chunk)),
                            (next, finished, false),
                        ))
                    }
                    Err(error) => {
                        log::error!("audit export stopped: {error}");
                        Some((Err(AdminError::from(error).into()), (None, true, false)))
                    }
                }
            }
        },
    );
    Ok(HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, "text/csv; charset=utf-8"))
        .insert_header((
            header::CONTENT_DISPOSITION,
            "attachment; filename=\"audit-events.csv\"",
        ))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .streaming(batches))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cells_are_quoted_and_formulas_defused() {
        let mut out = String::new();
        for v in [
            "plain",
            "a,b",
            "say \"hi\"",
            "=HYPERLINK(\"x\")",
            "-1+1",
            "line\nbreak",
        ] {
            cell(&mut out, v);
            out.push('|');
        }
        assert_eq!(
            out,
            "plain|\"a,b\"|\"say \"\"hi\"\"\"|\"'=HYPERLINK(\"\"x\"\")\"|\"'-1+1\"|\"line\nbreak\"|"
        );
    }
}
