//! A stand-in for the listings of Clerk's Backend API that `auth-core sync` reads: `GET /v1/users`
//! (`starting_after` cursor or `offset`, `order_by` on `created_at`), `/v1/users/count`,
//! `/v1/organizations` and `/v1/organization_memberships` (`offset`, `total_count`), over a generated
//! data set whose objects carry every property `bapi-2026-05-12.yml` marks required. The test sets
//! faults by request number (429 with `Retry-After`, 500), a failure from some request on, hooks run
//! while a request is answered (after its page was taken: a webhook "during" the listing), holds a
//! request unanswered until the test lets it go (a run paused mid-listing), and reads the log of
//! requests.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Instant;

use actix_web::dev::ServerHandle;
use actix_web::{web, HttpRequest, HttpResponse};
use serde_json::{json, Value};

use super::clerk::{authorized, clerk_error, example_user, serve_on_loopback, webhooks_spec};

fn bapi_spec() -> &'static Value {
    static SPEC: OnceLock<Value> = OnceLock::new();
    SPEC.get_or_init(|| {
        let text = std::fs::read_to_string(format!(
            "{}/tests/fixtures/clerk/bapi-2026-05-12.yml",
            env!("CARGO_MANIFEST_DIR")
        ))
        .unwrap();
        serde_yaml_ng::from_str(&text).unwrap()
    })
}

/// Adds every property the spec's `schema` requires that `object` lacks, with an empty value of its
/// type (null where nullable), so the object has the exact shape the spec promises.
fn complete(mut object: Value, schema: &str) -> Value {
    let schema = &bapi_spec()["components"]["schemas"][schema];
    for name in schema["required"].as_array().unwrap() {
        let name = name.as_str().unwrap();
        if object.get(name).is_some() {
            continue;
        }
        let property = &schema["properties"][name];
        let value = if property["nullable"] == json!(true) {
            Value::Null
        } else {
            match property["type"].as_str() {
                Some("array") => json!([]),
                Some("boolean") => json!(false),
                Some("integer") | Some("number") => json!(0),
                Some("object") => json!({}),
                _ => json!(""),
            }
        };
        object[name] = value;
    }
    object
}

fn webhook_example(event: &str) -> Value {
    webhooks_spec()["x-webhooks"][event]["post"]["requestBody"]["content"]["application/json"]
        ["example"]["data"]
        .clone()
}

/// Clerk-looking ids that do not sort in creation order, so nothing can lean on id order.
fn scrambled_id(prefix: &str, i: usize) -> String {
    let n = (i as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    format!("{prefix}_{:016x}", n)
}

const BASE_MS: i64 = 1_750_000_000_000;

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Dataset {
    /// Each list in creation order (pages are read off it as it is: keep that order when editing).
    pub users: Vec<Value>,
    pub organizations: Vec<Value>,
    pub memberships: Vec<Value>,
}

impl Dataset {
    /// `users` users, `organizations` organizations, each with `members` members taken in turn.
    pub fn generate(users: usize, organizations: usize, members: usize) -> Self {
        let users: Vec<Value> = (0..users)
            .map(|i| {
                let id = scrambled_id("user", i);
                let created = BASE_MS + i as i64 * 1_000;
                let mut user = example_user(&id, &format!("u{i}@example.com"), created + 7);
                user["created_at"] = created.into();
                user["first_name"] = format!("First{i}").into();
                user["last_name"] = format!("Last{i}").into();
                user["username"] = format!("user{i}").into();
                complete(user, "User")
            })
            .collect();
        let organizations: Vec<Value> = (0..organizations)
            .map(|i| {
                let mut org = webhook_example("organization.created");
                org["id"] = scrambled_id("org", i).into();
                org["name"] = format!("Org {i}").into();
                org["slug"] = format!("org-{i}").into();
                org["created_at"] = (BASE_MS + i as i64 * 1_000).into();
                org["updated_at"] = (BASE_MS + i as i64 * 1_000 + 3).into();
                complete(org, "Organization")
            })
            .collect();
        let mut memberships = Vec::new();
        if !users.is_empty() {
            for (o, org) in organizations.iter().enumerate() {
                for m in 0..members {
                    let user = &users[(o * members + m) % users.len()];
                    memberships.push(membership(memberships.len(), org, user));
                }
            }
        }
        Self {
            users,
            organizations,
            memberships,
        }
    }

    pub fn user_mut(&mut self, id: &str) -> &mut Value {
        self.users.iter_mut().find(|u| u["id"] == id).unwrap()
    }

    /// A new membership of organization `org` for user `user` (indexes), created after every other.
    pub fn add_membership(&mut self, org: usize, user: usize) {
        let i = 100_000 + self.memberships.len();
        let added = membership(i, &self.organizations[org], &self.users[user]);
        self.memberships.push(added);
    }

    pub fn remove_user(&mut self, id: &str) {
        self.users.retain(|u| u["id"] != id);
        self.memberships
            .retain(|m| m["public_user_data"]["user_id"] != id);
    }

    pub fn remove_organization(&mut self, id: &str) {
        self.organizations.retain(|o| o["id"] != id);
        self.memberships.retain(|m| m["organization"]["id"] != id);
    }
}

fn membership(i: usize, org: &Value, user: &Value) -> Value {
    let mut m = webhook_example("organizationMembership.created");
    m["id"] = scrambled_id("orgmem", i).into();
    m["role"] = if i.is_multiple_of(5) {
        "org:admin"
    } else {
        "org:member"
    }
    .into();
    m["organization"] = org.clone();
    m["public_user_data"] = json!({
        "user_id": user["id"], "first_name": user["first_name"], "last_name": user["last_name"],
        "profile_image_url": user["image_url"], "image_url": user["image_url"], "has_image": true,
        "identifier": user["email_addresses"][0]["email_address"],
    });
    m["created_at"] = (BASE_MS + i as i64 * 1_000).into();
    m["updated_at"] = (BASE_MS + i as i64 * 1_000 + 5).into();
    complete(m, "OrganizationMembership")
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// 429 with this `Retry-After` (seconds).
    TooMany { retry_after_s: u64 },
    /// 500 with Clerk's error body.
    ServerError,
}

/// One request the stand-in answered.
#[derive(Debug, Clone)]
pub struct Logged {
    pub path: String,
    pub query: String,
    pub status: u16,
    pub at: Instant,
}

type Hook = Box<dyn FnOnce(&mut Dataset) + Send>;

/// A request held unanswered: the stand-in says when it arrives and waits for the test's word.
pub struct Held {
    arrived: tokio::sync::oneshot::Receiver<()>,
    release: tokio::sync::oneshot::Sender<()>,
}

impl Held {
    /// Waits until the held request has arrived (the client is waiting for its answer).
    pub async fn arrived(&mut self) {
        (&mut self.arrived).await.unwrap();
    }

    /// Lets the held request be answered.
    pub fn release(self) {
        let _ = self.release.send(());
    }
}

/// The stand-in's side of a [`Held`] request.
struct Hold {
    arrived: tokio::sync::oneshot::Sender<()>,
    release: tokio::sync::oneshot::Receiver<()>,
}

#[derive(Default)]
struct State {
    data: Mutex<Dataset>,
    requests: AtomicUsize,
    faults: Mutex<HashMap<usize, Fault>>,
    /// From this request number on, every request is answered 500.
    failing_from: Mutex<Option<usize>>,
    hooks: Mutex<HashMap<usize, Hook>>,
    holds: Mutex<HashMap<usize, Hold>>,
    log: Mutex<Vec<Logged>>,
    /// Where the last users page ended: its last id and that user's place in the order it was
    /// asked for (see [`users_after`]).
    users_cursor: Mutex<Option<(String, usize)>>,
}

pub struct ListingStandIn {
    pub base: String,
    state: Arc<State>,
    handle: ServerHandle,
}

impl ListingStandIn {
    pub fn start(data: Dataset) -> Self {
        let state = Arc::new(State::default());
        *state.data.lock().unwrap() = data;
        let shared = state.clone();
        let (base, handle) = serve_on_loopback(
            || {},
            move |app| {
                app.app_data(web::Data::from(shared.clone()))
                    .default_service(web::get().to(answer));
            },
        );
        Self {
            base,
            state,
            handle,
        }
    }

    /// Answers request number `n` (1 for the first) with `fault`.
    pub fn fault_at(&self, n: usize, fault: Fault) {
        self.state.faults.lock().unwrap().insert(n, fault);
    }

    /// Answers 500 from request number `n` on (`None`: stop failing).
    pub fn fail_from(&self, n: Option<usize>) {
        *self.state.failing_from.lock().unwrap() = n;
    }

    /// Runs `hook` on the data set while answering request `n`, after its page was taken.
    pub fn hook_at(&self, n: usize, hook: impl FnOnce(&mut Dataset) + Send + 'static) {
        self.state.hooks.lock().unwrap().insert(n, Box::new(hook));
    }

    /// Holds request number `n` unanswered until the returned [`Held`] is released (or dropped).
    pub fn hold_at(&self, n: usize) -> Held {
        let (arrived_tx, arrived_rx) = tokio::sync::oneshot::channel();
        let (release_tx, release_rx) = tokio::sync::oneshot::channel();
        self.state.holds.lock().unwrap().insert(
            n,
            Hold {
                arrived: arrived_tx,
                release: release_rx,
            },
        );
        Held {
            arrived: arrived_rx,
            release: release_tx,
        }
    }

    pub fn change(&self, edit: impl FnOnce(&mut Dataset)) {
        edit(&mut self.state.data.lock().unwrap());
    }

    pub fn data(&self) -> Dataset {
        self.state.data.lock().unwrap().clone()
    }

    pub fn requests(&self) -> usize {
        self.state.requests.load(Ordering::SeqCst)
    }

    pub fn log(&self) -> Vec<Logged> {
        self.state.log.lock().unwrap().clone()
    }

    pub async fn stop(&self) {
        self.handle.stop(false).await;
    }
}

async fn answer(state: web::Data<State>, req: HttpRequest) -> HttpResponse {
    let n = state.requests.fetch_add(1, Ordering::SeqCst) + 1;
    let hold = state.holds.lock().unwrap().remove(&n);
    if let Some(Hold { arrived, release }) = hold {
        let _ = arrived.send(());
        // Released or dropped: either way the request is answered.
        let _ = release.await;
    }
    let response = respond(&state, &req, n);
    state.log.lock().unwrap().push(Logged {
        path: req.path().to_owned(),
        query: req.query_string().to_owned(),
        status: response.status().as_u16(),
        at: Instant::now(),
    });
    response
}

fn respond(state: &State, req: &HttpRequest, n: usize) -> HttpResponse {
    if !authorized(req) {
        return clerk_error(401, "authentication_invalid", "Invalid authentication");
    }
    if state
        .failing_from
        .lock()
        .unwrap()
        .is_some_and(|from| n >= from)
    {
        return clerk_error(500, "internal_clerk_error", "Something went wrong");
    }
    match state.faults.lock().unwrap().remove(&n) {
        Some(Fault::TooMany { retry_after_s }) => {
            return HttpResponse::TooManyRequests()
                .insert_header(("Retry-After", retry_after_s.to_string()))
                .json(json!({"errors": [{"message": "Too many requests", "long_message": "Too many requests, retry later", "code": "too_many_requests"}], "meta": {}}));
        }
        Some(Fault::ServerError) => {
            return clerk_error(500, "internal_clerk_error", "Something went wrong")
        }
        None => {}
    }
    let query: HashMap<String, String> = url::form_urlencoded::parse(req.query_string().as_bytes())
        .into_owned()
        .collect();
    let mut data = state.data.lock().unwrap();
    let body = match listing(&data, req.path(), &query, &state.users_cursor) {
        Ok(body) => body,
        Err(Refusal { status, message }) => {
            let code = if status == 404 {
                "resource_not_found"
            } else {
                "form_param_value_invalid"
            };
            return clerk_error(status, code, &message);
        }
    };
    // The page is taken: what the hook changes is newer than what this request answers.
    if let Some(hook) = state.hooks.lock().unwrap().remove(&n) {
        hook(&mut data);
    }
    HttpResponse::Ok().json(body)
}

/// A request Clerk would refuse: 422 for a parameter, 404 for an unknown path.
struct Refusal {
    status: u16,
    message: String,
}

fn invalid(message: &str) -> Refusal {
    Refusal {
        status: 422,
        message: message.to_owned(),
    }
}

/// The place of user `after` in `users` (as ordered), looked for first where the last page ended: a
/// cursor walk asks for the page after the last id it was given, and scanning the whole list for it
/// on every page would make the stand-in, not the engine, what a 100,000-user benchmark measures.
/// Checked against the data, so an edit of the data set between pages is still answered right.
fn users_after<'a, I: Iterator<Item = &'a Value>>(
    users: impl Fn() -> I,
    after: &str,
    last_page_end: &Mutex<Option<(String, usize)>>,
) -> Option<usize> {
    let hint = last_page_end.lock().unwrap().clone();
    if let Some((id, at)) = hint {
        if id == after && users().nth(at).is_some_and(|u| u["id"] == after) {
            return Some(at);
        }
    }
    users().position(|u| u["id"] == after)
}

fn listing<'a>(
    data: &'a Dataset,
    path: &str,
    query: &HashMap<String, String>,
    users_cursor: &Mutex<Option<(String, usize)>>,
) -> Result<Value, Refusal> {
    let number = |name: &str, default: usize| -> Result<usize, Refusal> {
        query.get(name).map_or(Ok(default), |v| {
            v.parse()
                .map_err(|_| invalid(&format!("{name} is not a number")))
        })
    };
    let limit = number("limit", 10)?;
    if !(1..=500).contains(&limit) {
        return Err(invalid("limit must be between 1 and 500"));
    }
    let offset = number("offset", 0)?;
    let order = query.get("order_by").map_or("-created_at", String::as_str);
    let descending = match order {
        "created_at" | "+created_at" => false,
        "-created_at" => true,
        _ => return Err(invalid("this stand-in orders by created_at only")),
    };
    // The lists are kept in creation order, so a page is a slice read forwards or backwards (no
    // copy of the whole list per request: the benchmark serves 100,000s of rows).
    let ordered = |rows: &'a [Value]| -> Box<dyn Iterator<Item = &'a Value> + 'a> {
        if descending {
            Box::new(rows.iter().rev())
        } else {
            Box::new(rows.iter())
        }
    };
    match path {
        "/v1/users/count" => Ok(json!({"object": "total_count", "total_count": data.users.len()})),
        "/v1/users" => {
            let start = match query.get("starting_after") {
                None => 0,
                Some(_) if offset != 0 => {
                    return Err(invalid("starting_after cannot be combined with offset"))
                }
                Some(after) => match users_after(|| ordered(&data.users), after, users_cursor) {
                    Some(at) => at + 1,
                    None => return Err(invalid("starting_after names no user")),
                },
            };
            let page: Vec<Value> = ordered(&data.users)
                .skip(start + offset)
                .take(limit)
                .cloned()
                .collect();
            if let Some(last) = page.last().and_then(|u| u["id"].as_str()) {
                let end = start + offset + page.len() - 1;
                *users_cursor.lock().unwrap() = Some((last.to_owned(), end));
            }
            Ok(Value::Array(page))
        }
        "/v1/organizations" | "/v1/organization_memberships" => {
            let all = if path == "/v1/organizations" {
                &data.organizations
            } else {
                &data.memberships
            };
            let page: Vec<Value> = ordered(all).skip(offset).take(limit).cloned().collect();
            Ok(json!({"data": page, "total_count": all.len()}))
        }
        _ => Err(Refusal {
            status: 404,
            message: "Resource not found".to_owned(),
        }),
    }
}
