//! A minimal browser for the admin console: keeps the session cookie, does not follow redirects,
//! and reads CSRF tokens out of pages, so tests drive the console exactly as a form-posting browser.

use super::{Response, TestApp};
use auth_core::state::AppState;

pub const PASSWORD: &str = "correct horse battery staple";

#[derive(Clone)]
pub struct Browser {
    base: String,
    client: awc::Client,
    pub cookie: Option<String>,
    /// Sent as `Origin` on posts (a browser always sends one on a form post).
    pub origin: Option<String>,
    /// Sent on every request, in order, each as its own header line (e.g. `X-Forwarded-For` as a
    /// proxy in front would add it).
    pub extra_headers: Vec<(&'static str, String)>,
}

impl Browser {
    pub fn new(app: &TestApp) -> Self {
        Self::at(&app.base)
    }

    /// A browser for the server at `base` (e.g. the real binary's).
    pub fn at(base: &str) -> Self {
        Self {
            base: base.to_owned(),
            client: awc::Client::builder()
                .disable_redirects()
                .timeout(std::time::Duration::from_secs(30))
                .finish(),
            cookie: None,
            origin: Some(base.to_owned()),
            extra_headers: Vec::new(),
        }
    }

    fn keep_cookie(&mut self, res: &Response) {
        for value in res.headers.get_all("set-cookie") {
            let text = value.to_str().unwrap();
            let pair = text.split(';').next().unwrap();
            if let Some(v) = pair.strip_prefix(&format!("{}=", auth_core::admin::COOKIE_NAME)) {
                let expired = v.is_empty() || text.contains("Max-Age=0");
                self.cookie = (!expired).then(|| pair.to_owned());
            }
        }
    }

    pub async fn get(&mut self, path: &str) -> Response {
        let mut req = self.client.get(format!("{}{path}", self.base));
        for (name, value) in &self.extra_headers {
            req = req.append_header((*name, value.clone()));
        }
        if let Some(cookie) = &self.cookie {
            req = req.insert_header(("cookie", cookie.clone()));
        }
        let res = Response::from(req.send().await.unwrap()).await;
        self.keep_cookie(&res);
        res
    }

    pub async fn post(&mut self, path: &str, fields: &[(&str, &str)]) -> Response {
        let mut req = self.client.post(format!("{}{path}", self.base));
        for (name, value) in &self.extra_headers {
            req = req.append_header((*name, value.clone()));
        }
        if let Some(cookie) = &self.cookie {
            req = req.insert_header(("cookie", cookie.clone()));
        }
        if let Some(origin) = &self.origin {
            req = req.insert_header(("origin", origin.clone()));
        }
        let res = Response::from(req.send_form(&fields.to_vec()).await.unwrap()).await;
        self.keep_cookie(&res);
        res
    }

    /// Posts a form with the CSRF token of the page at `page`.
    pub async fn submit(&mut self, page: &str, action: &str, fields: &[(&str, &str)]) -> Response {
        let form = self.get(page).await;
        assert_eq!(form.status, 200, "{page}: {}", text(&form));
        let token = csrf_of(&form);
        let mut all = vec![("csrf", token.as_str())];
        all.extend_from_slice(fields);
        self.post(action, &all).await
    }

    pub async fn sign_in(&mut self, email: &str, password: &str) -> Response {
        self.submit(
            "/admin/login",
            "/admin/login",
            &[("email", email), ("password", password), ("next", "/admin")],
        )
        .await
    }
}

pub fn text(res: &Response) -> String {
    String::from_utf8_lossy(&res.body).into_owned()
}

pub fn csrf_of(res: &Response) -> String {
    let body = text(res);
    let marker = "name=\"csrf\" value=\"";
    let start = body
        .find(marker)
        .unwrap_or_else(|| panic!("no CSRF field in: {body}"))
        + marker.len();
    body[start..start + body[start..].find('"').unwrap()].to_owned()
}

/// Creates an administrator directly in the database.
pub fn create_admin(state: &AppState, email: &str) -> i64 {
    let mut conn = state.db.get().unwrap();
    auth_core::accounts::create(&mut conn, email, PASSWORD, state.clock.now_ms()).unwrap()
}
