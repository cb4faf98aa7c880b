//! The dashboard `pytopus serve` serves at `/`: the chains (with a form
//! that starts a run), the runs (filtered, paginated, with charts), one
//! run's steps (a timeline, each request and response as the report has
//! them, redacted), and a running run's steps arriving live (server-sent
//! events from the engine's events). Server-rendered HTML (minijinja,
//! escaping on), one stylesheet and one small script, all in the binary.
//!
//! Security is the API's: loopback without a token; with a token, a login
//! form sets an HttpOnly, SameSite=Strict session cookie. Every form that
//! changes something carries a CSRF token; every page has a strict
//! Content-Security-Policy; nothing a page shows is unredacted.

mod live;
mod pages;
mod svg;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use aws_lc_rs::{constant_time, hmac};
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};

use super::Shared;
pub use live::Live;

/// How long a login lasts without use.
const SESSION_IDLE: Duration = Duration::from_secs(12 * 3600);
/// At most this many logins are remembered; the oldest go first.
const SESSIONS_KEPT: usize = 1000;
const COOKIE: &str = "pytopus_ui";

/// What the dashboard keeps while the server runs.
pub struct UiState {
    pub enabled: bool,
    /// Signs CSRF tokens; made at start, never shown.
    key: hmac::Key,
    sessions: Mutex<HashMap<String, Instant>>,
    pub live: Arc<Live>,
}

impl UiState {
    pub fn new(enabled: bool) -> UiState {
        let rng = aws_lc_rs::rand::SystemRandom::new();
        let key = hmac::Key::generate(hmac::HMAC_SHA256, &rng)
            .unwrap_or_else(|_| hmac::Key::new(hmac::HMAC_SHA256, uuid::Uuid::new_v4().as_bytes()));
        UiState {
            enabled,
            key,
            sessions: Mutex::new(HashMap::new()),
            live: Arc::default(),
        }
    }

    /// The CSRF token of a login (or of the loopback page without one).
    fn csrf(&self, session: Option<&str>) -> String {
        let tag = hmac::sign(&self.key, session.unwrap_or("loopback").as_bytes());
        tag.as_ref().iter().map(|b| format!("{b:02x}")).collect()
    }

    fn csrf_ok(&self, session: Option<&str>, given: &str) -> bool {
        let want = self.csrf(session);
        constant_time::verify_slices_are_equal(want.as_bytes(), given.as_bytes()).is_ok()
    }

    fn login(&self) -> String {
        let id = format!(
            "{}{}",
            uuid::Uuid::new_v4().simple(),
            uuid::Uuid::new_v4().simple()
        );
        if let Ok(mut s) = self.sessions.lock() {
            let now = Instant::now();
            s.retain(|_, last| now.duration_since(*last) < SESSION_IDLE);
            if s.len() >= SESSIONS_KEPT
                && let Some(oldest) = s.iter().min_by_key(|(_, t)| **t).map(|(k, _)| k.clone())
            {
                s.remove(&oldest);
            }
            s.insert(id.clone(), now);
        }
        id
    }

    fn logged_in(&self, id: &str) -> bool {
        let Ok(mut s) = self.sessions.lock() else {
            return false;
        };
        match s.get_mut(id) {
            Some(last) if last.elapsed() < SESSION_IDLE => {
                *last = Instant::now();
                true
            }
            _ => false,
        }
    }

    fn logout(&self, id: &str) {
        if let Ok(mut s) = self.sessions.lock() {
            s.remove(id);
        }
    }
}

/// The dashboard's routes (none when `--no-ui`).
pub fn router(shared: &Arc<Shared>) -> Router<Arc<Shared>> {
    if !shared.ui.enabled {
        return Router::new();
    }
    Router::new()
        .route("/", get(pages::chains))
        .route("/ui/runs", get(pages::runs))
        .route("/ui/runs/{id}", get(pages::run))
        .route("/ui/runs/{id}/events", get(live::events))
        .route("/ui/history/{id}", get(pages::stored))
        .route("/ui/chains/{name}/run", post(pages::start))
        .route("/ui/login", get(pages::login_form).post(login))
        .route("/ui/logout", post(logout))
        .route("/ui/assets/app.css", get(css))
        .route("/ui/assets/app.js", get(js))
        .route("/ui/assets/icon.svg", get(icon))
        .route("/favicon.ico", get(icon))
        .route_layer(middleware::from_fn_with_state(Arc::clone(shared), guard))
}

/// Who is asking: the login's id, when there is one.
#[derive(Clone, Debug, Default)]
pub struct Visitor {
    pub session: Option<String>,
}

fn cookie_session(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == COOKIE)
        .map(|(_, v)| v.to_string())
}

/// Pages need the token when the server has one: a login cookie, or the
/// API's bearer header. Every answer gets the security headers.
async fn guard(State(shared): State<Arc<Shared>>, mut req: Request, next: Next) -> Response {
    let path = req.uri().path().to_string();
    let open = path == "/ui/login" || path.starts_with("/ui/assets/") || path == "/favicon.ico";
    let session = cookie_session(req.headers()).filter(|s| shared.ui.logged_in(s));
    let allowed = shared.token.is_none()
        || session.is_some()
        || super::api::refuse_without_token(&shared, req.headers()).is_none();
    let mut response = if allowed || open {
        req.extensions_mut().insert(Visitor { session });
        next.run(req).await
    } else if req.method() == axum::http::Method::GET && !path.ends_with("/events") {
        Redirect::to("/ui/login").into_response()
    } else {
        super::api::error_response(StatusCode::UNAUTHORIZED, "log in first: /ui/login")
    };
    let h = response.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'none'; style-src 'self'; script-src 'self'; img-src 'self' data:; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
        ),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    // Not `no-referrer`: with it a browser sends `Origin: null` on the
    // page's own forms, which the origin guard (rightly) refuses.
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// The fields of a form body (`application/x-www-form-urlencoded`).
fn form(body: &Bytes) -> Vec<(String, String)> {
    url::form_urlencoded::parse(body)
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

fn field<'f>(fields: &'f [(String, String)], name: &str) -> Option<&'f str> {
    fields
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

/// A state-changing form is answered only with its CSRF token, and only
/// from this server's own pages (a browser's `Origin` says which).
fn refuse_forgery(
    shared: &Shared,
    visitor: &Visitor,
    headers: &HeaderMap,
    fields: &[(String, String)],
) -> Option<Response> {
    let same_origin = match headers.get(header::ORIGIN).and_then(|o| o.to_str().ok()) {
        None => true,
        Some(origin) => {
            let host = headers
                .get(header::HOST)
                .and_then(|h| h.to_str().ok())
                .unwrap_or("");
            origin
                .strip_prefix("http://")
                .or_else(|| origin.strip_prefix("https://"))
                == Some(host)
        }
    };
    let token_ok =
        field(fields, "csrf").is_some_and(|t| shared.ui.csrf_ok(visitor.session.as_deref(), t));
    (!(same_origin && token_ok)).then(|| {
        super::api::error_response(
            StatusCode::FORBIDDEN,
            "this form did not come from this server's page (CSRF token missing or wrong): reload the page",
        )
    })
}

async fn login(State(shared): State<Arc<Shared>>, headers: HeaderMap, body: Bytes) -> Response {
    let fields = form(&body);
    if let Some(r) = refuse_forgery(&shared, &Visitor::default(), &headers, &fields) {
        return r;
    }
    let given = field(&fields, "token").unwrap_or("").trim().to_string();
    let ok = shared.token.as_ref().is_some_and(|t| {
        constant_time::verify_slices_are_equal(given.as_bytes(), t.expose().as_bytes()).is_ok()
    });
    if !ok {
        shared.log.line("ui", &[("login", "refused".into())]);
        return pages::login_page(&shared, true, StatusCode::UNAUTHORIZED);
    }
    let id = shared.ui.login();
    let mut r = Redirect::to("/").into_response();
    if let Ok(v) = HeaderValue::from_str(&format!(
        "{COOKIE}={id}; Path=/; HttpOnly; SameSite=Strict; Max-Age={}",
        SESSION_IDLE.as_secs()
    )) {
        r.headers_mut().insert(header::SET_COOKIE, v);
    }
    r
}

async fn logout(
    State(shared): State<Arc<Shared>>,
    axum::Extension(visitor): axum::Extension<Visitor>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let fields = form(&body);
    if let Some(r) = refuse_forgery(&shared, &visitor, &headers, &fields) {
        return r;
    }
    if let Some(s) = &visitor.session {
        shared.ui.logout(s);
    }
    let mut r = Redirect::to("/ui/login").into_response();
    r.headers_mut().insert(
        header::SET_COOKIE,
        HeaderValue::from_static("pytopus_ui=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0"),
    );
    r
}

async fn css() -> Response {
    (
        [(header::CONTENT_TYPE, "text/css; charset=utf-8")],
        include_str!("assets/app.css"),
    )
        .into_response()
}

async fn js() -> Response {
    (
        [(header::CONTENT_TYPE, "text/javascript; charset=utf-8")],
        include_str!("assets/app.js"),
    )
        .into_response()
}

async fn icon() -> Response {
    (
        [(header::CONTENT_TYPE, "image/svg+xml")],
        include_str!("assets/icon.svg"),
    )
        .into_response()
}

/// Only path parameters that look like run ids reach the store.
fn plausible_id(id: &str) -> bool {
    id.len() <= 64 && id.bytes().all(|b| b.is_ascii_alphanumeric())
}

/// A chain's steps and what each waits for, as the dashboard shows it.
pub fn graph(chain: &crate::plan::ValidChain) -> String {
    let names: Vec<String> = chain.steps[..chain.teardown_from]
        .iter()
        .map(|s| s.name.clone())
        .collect();
    let waves = crate::plan::graph::waves(chain);
    svg::graph(
        &names,
        &chain.deps,
        &waves[..names.len().min(waves.len())],
        &format!("The steps of {} and what each waits for", chain.name),
    )
}
