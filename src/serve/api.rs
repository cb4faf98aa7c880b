//! The HTTP API for scripts and agents (`/chains`, `/runs`, `/healthz`,
//! `/metrics`, `/openapi.json`), the routes, the token check, the request log
//! and the run-and-answer logic the webhooks share.

use std::sync::Arc;
use std::time::Instant;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use indexmap::IndexMap;
use serde_json::{Value, json};

use super::{Kind, Shared, Start, bare_trigger, hooks};
use crate::plan::TRIGGER_VAR;

/// Every route, with the body limit, the token check on the API and one log
/// line per request.
pub fn router(shared: Arc<Shared>, body_limit: usize, extra: Option<Router>) -> Router {
    let mut api = Router::new()
        .route("/chains", get(list_chains))
        .route("/chains/{name}/run", post(run_chain))
        .route("/runs", get(list_runs))
        .route("/runs/{id}", get(get_run))
        .route("/healthz", get(healthz))
        .route("/metrics", get(metrics))
        .route("/openapi.json", get(openapi));
    if let Some(extra) = extra {
        api = api.merge(extra.with_state(()));
    }
    let api = api.route_layer(middleware::from_fn_with_state(
        Arc::clone(&shared),
        require_token,
    ));
    Router::new()
        .route("/hooks/{name}", post(hooks::webhook))
        .merge(api)
        .merge(super::ui::router(&shared))
        .fallback(not_found)
        .layer(DefaultBodyLimit::max(body_limit))
        .layer(middleware::from_fn_with_state(
            Arc::clone(&shared),
            super::origin::guard,
        ))
        .layer(middleware::from_fn_with_state(
            Arc::clone(&shared),
            log_request,
        ))
        .with_state(shared)
}

/// `{"error": message}` with `status`.
pub fn error_response(status: StatusCode, message: &str) -> Response {
    (status, axum::Json(json!({ "error": message }))).into_response()
}

pub fn unknown_chain(shared: &Shared, name: &str) -> Response {
    let names: Vec<&str> = shared.chains.iter().map(|c| c.route.as_str()).collect();
    let hint = crate::diagnostic::suggest(name, names.iter().copied())
        .map(|b| format!("; did you mean `{b}`?"))
        .unwrap_or_default();
    (
        StatusCode::NOT_FOUND,
        axum::Json(json!({
            "error": format!("there is no chain named `{name}`{hint}"),
            "chains": names,
        })),
    )
        .into_response()
}

async fn not_found(uri: Uri) -> Response {
    error_response(
        StatusCode::NOT_FOUND,
        &format!("no such endpoint: {}; see GET /openapi.json", uri.path()),
    )
}

/// `Authorization: Bearer TOKEN`, compared in constant time, when a token
/// is set: `None` when the request may go on, else the 401 to answer.
pub fn refuse_without_token(shared: &Shared, headers: &HeaderMap) -> Option<Response> {
    let token = shared.token.as_ref()?;
    // RFC 9110 §11.1: the scheme is case-insensitive; the token is compared
    // without the spaces around it, as it was stored.
    let given = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().split_once(char::is_whitespace))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, token)| token.trim());
    let ok = given.is_some_and(|g| {
        aws_lc_rs::constant_time::verify_slices_are_equal(g.as_bytes(), token.expose().as_bytes())
            .is_ok()
    });
    if ok {
        return None;
    }
    let mut r = error_response(
        StatusCode::UNAUTHORIZED,
        if given.is_some() {
            "wrong API token"
        } else {
            "this endpoint needs `Authorization: Bearer TOKEN`"
        },
    );
    r.headers_mut()
        .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
    Some(r)
}

async fn require_token(State(shared): State<Arc<Shared>>, req: Request, next: Next) -> Response {
    match refuse_without_token(&shared, req.headers()) {
        None => next.run(req).await,
        Some(r) => r,
    }
}

/// One log line per request: method, path (never the query, which may hold
/// secrets), status and time.
async fn log_request(State(shared): State<Arc<Shared>>, req: Request, next: Next) -> Response {
    let method = req.method().to_string();
    let path = req.uri().path().to_string();
    let started = Instant::now();
    let response = next.run(req).await;
    let run = response
        .headers()
        .get("x-pytopus-run")
        .and_then(|v| v.to_str().ok())
        .map(|s| Value::String(s.to_string()))
        .unwrap_or(Value::Null);
    shared.log.line(
        "request",
        &[
            ("method", method.into()),
            ("path", path.into()),
            ("status", response.status().as_u16().into()),
            ("ms", (started.elapsed().as_millis() as u64).into()),
            ("run", run),
        ],
    );
    response
}

/// Runs a chain for a request: 429 when the chain is at `max_concurrent`,
/// 202 at once for `async`, else the result (or the error report) when it
/// ends, or 504 if it takes longer than the chain's `trigger.timeout`.
pub async fn start_run(shared: &Arc<Shared>, mut start: Start, run_async: bool) -> Response {
    if shared.stopping() {
        return error_response(
            StatusCode::SERVICE_UNAVAILABLE,
            "the server is shutting down",
        );
    }
    let chain = &shared.chains[start.chain];
    // Declared inputs: the caller's values checked (text read as the
    // declared type), the required ones present — before the run starts.
    let given: Vec<String> = start.vars.keys().cloned().collect();
    let problems = crate::plan::inputs::check_given(&chain.inputs, &mut start.vars, |n| {
        given.iter().any(|g| g == n)
    });
    if !problems.is_empty() {
        return error_response(StatusCode::UNPROCESSABLE_ENTITY, &problems.join("; "));
    }
    let Ok(permit) = Arc::clone(&chain.permits).try_acquire_owned() else {
        let mut r = error_response(
            StatusCode::TOO_MANY_REQUESTS,
            &format!(
                "`{}` already has {} runs going (trigger.max_concurrent)",
                chain.route, chain.max_concurrent
            ),
        );
        r.headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
        return r;
    };
    start.permit = Some(permit);
    let route = chain.route.clone();
    let timeout = chain.timeout;
    let kind = start.kind;
    let (id, rx) = shared.submit(start);
    let run_header = HeaderValue::from_str(&id).unwrap_or(HeaderValue::from_static(""));
    let status_url = format!("/runs/{id}");
    let mut response = if run_async {
        (
            StatusCode::ACCEPTED,
            [(header::LOCATION, status_url.clone())],
            axum::Json(json!({"run_id": id, "status": "running", "status_url": status_url})),
        )
            .into_response()
    } else {
        match tokio::time::timeout(timeout, rx).await {
            Ok(Ok(outcome)) if outcome.http_status == 200 => {
                axum::Json(outcome.output.clone()).into_response()
            }
            // A webhook's sender is not the chain's owner: it learns the
            // run's id and status; the failure itself (what the chain's
            // calls answered) stays behind the API token and the history.
            Ok(Ok(outcome)) if kind == Kind::Webhook => (
                StatusCode::from_u16(outcome.http_status).unwrap_or(StatusCode::BAD_GATEWAY),
                axum::Json(json!({
                    "run_id": outcome.id,
                    "status": outcome.status,
                    "status_url": status_url,
                })),
            )
                .into_response(),
            Ok(Ok(outcome)) => (
                StatusCode::from_u16(outcome.http_status).unwrap_or(StatusCode::BAD_GATEWAY),
                axum::Json(outcome.error_json(&route)),
            )
                .into_response(),
            Ok(Err(_)) => error_response(StatusCode::SERVICE_UNAVAILABLE, "the run was dropped"),
            Err(_) => (
                StatusCode::GATEWAY_TIMEOUT,
                axum::Json(json!({
                    "run_id": id,
                    "status": "running",
                    "error": format!("the run did not finish within {} (trigger.timeout); it goes on", humantime::format_duration(timeout)),
                    "status_url": status_url,
                })),
            )
                .into_response(),
        }
    };
    response.headers_mut().insert("x-pytopus-run", run_header);
    response
}

async fn list_chains(State(shared): State<Arc<Shared>>) -> Response {
    let list: Vec<Value> = shared
        .chains
        .iter()
        .map(|c| {
            json!({
                "name": c.route,
                "title": c.title,
                "description": c.description,
                "file": c.file,
                "vars": c.vars.iter().filter(|(k, _)| k.as_str() != TRIGGER_VAR && !c.inputs.iter().any(|i| &i.name == *k)).map(|(k, v)| (k.clone(), shared.redactor.redact_json(v))).collect::<serde_json::Map<_, _>>(),
                // Declared inputs, as one JSON Schema a caller can fill in.
                "inputs": (!c.inputs.is_empty()).then(|| crate::plan::inputs::json_schema(&c.inputs, &c.title)),
                "webhook": {
                    "url": format!("/hooks/{}", c.route),
                    "signature": c.signature.map(|s| s.as_str()),
                },
                "run_url": format!("/chains/{}/run", c.route),
                "schedule": c.schedule.as_ref().map(|(s, o)| json!({
                    "cron": s.expr(), "timezone": s.timezone(),
                    "overlap": o, "next": s.next_after(shared.clock.now()).map(|t| humantime::format_rfc3339_seconds(t).to_string()),
                })),
                "max_concurrent": c.max_concurrent,
            })
        })
        .collect();
    axum::Json(json!({ "chains": list })).into_response()
}

/// `POST /chains/<name>/run` with `{"vars": {...}}` as JSON (or no body).
async fn run_chain(
    State(shared): State<Arc<Shared>>,
    Path(name): Path<String>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let Some((index, chain)) = shared.chain(&name) else {
        return unknown_chain(&shared, &name);
    };
    // A JSON body cannot come from a form or a page's simple request
    // without a CORS preflight, which this server never grants.
    if !body.iter().all(u8::is_ascii_whitespace) && !is_json(&headers) {
        return error_response(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "send the body as `Content-Type: application/json`: {\"vars\": {...}}",
        );
    }
    let vars = match parse_vars(&body) {
        Ok(v) => v,
        Err(msg) => return error_response(StatusCode::BAD_REQUEST, &msg),
    };
    if let Err((status, msg)) = caller_may_set(chain, &vars) {
        return error_response(status, &msg);
    }
    let run_async = hooks::query_map(&uri)
        .get("async")
        .is_some_and(|v| v == "true" || v == "1");
    start_run(
        &shared,
        Start {
            chain: index,
            kind: Kind::Api,
            vars,
            trigger: bare_trigger(Kind::Api, shared.clock.now()),
            permit: None,
        },
        run_async,
    )
    .await
}

/// The `vars` of a run request: names like `--var` names, `trigger` excepted.
fn parse_vars(body: &[u8]) -> Result<IndexMap<String, Value>, String> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(IndexMap::new());
    }
    let doc: Value = serde_json::from_slice(body)
        .map_err(|e| format!("the body is not JSON ({e}); send {{\"vars\": {{...}}}}"))?;
    let Value::Object(mut map) = doc else {
        return Err("the body must be a JSON object: {\"vars\": {...}}".into());
    };
    if let Some(k) = map.keys().find(|k| k.as_str() != "vars") {
        return Err(format!(
            "unknown field `{k}`; the body is {{\"vars\": {{...}}}}"
        ));
    }
    match map.remove("vars") {
        None | Some(Value::Null) => Ok(IndexMap::new()),
        Some(Value::Object(vars)) => {
            for k in vars.keys() {
                if !crate::chain::model::is_identifier(k) || k == TRIGGER_VAR {
                    return Err(format!("`{k}` cannot be a variable name"));
                }
            }
            Ok(vars.into_iter().collect())
        }
        Some(_) => Err("`vars` must be an object of variable names to values".into()),
    }
}

/// The request says its body is JSON (`application/json`, or a `+json` type).
fn is_json(headers: &HeaderMap) -> bool {
    let Some(ctype) = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
    else {
        return false;
    };
    let essence = ctype.split(';').next().unwrap_or("").trim();
    essence.eq_ignore_ascii_case("application/json")
        || essence.rsplit_once('+').is_some_and(|(kind, suffix)| {
            let prefix = "application/";
            suffix.eq_ignore_ascii_case("json")
                && kind.len() > prefix.len()
                && kind
                    .get(..prefix.len())
                    .is_some_and(|p| p.eq_ignore_ascii_case(prefix))
        })
}

/// A caller sets only the variables the chain lists in `vars:`, and of
/// those not the ones that decide where a request goes (unless the chain
/// opens them with `trigger.origin_vars`).
pub(super) fn caller_may_set(
    chain: &super::ChainInfo,
    vars: &IndexMap<String, Value>,
) -> Result<(), (StatusCode, String)> {
    for name in vars.keys() {
        if !chain.vars.contains_key(name) {
            let declared: Vec<&str> = chain
                .vars
                .keys()
                .map(String::as_str)
                .filter(|k| *k != TRIGGER_VAR)
                .collect();
            let hint = crate::diagnostic::suggest(name, declared.iter().copied())
                .map(|b| format!("; did you mean `{b}`?"))
                .unwrap_or_default();
            let list = if declared.is_empty() {
                "it declares none".to_string()
            } else {
                format!("it declares `{}`", declared.join("`, `"))
            };
            return Err((
                StatusCode::BAD_REQUEST,
                format!(
                    "`{name}` is not a variable of `{}`{hint}: a caller may set only the variables the chain lists in `vars:`, and {list}",
                    chain.route
                ),
            ));
        }
        if chain.fixed_vars.contains(name) {
            return Err((
                StatusCode::FORBIDDEN,
                format!(
                    "`{name}` decides where `{}` sends a request or writes a file (a URL's scheme, host or port, or `save_to`); a caller may not set it unless the chain lists it in `trigger.origin_vars`",
                    chain.route
                ),
            ));
        }
    }
    Ok(())
}

async fn list_runs(State(shared): State<Arc<Shared>>) -> Response {
    axum::Json(json!({ "runs": shared.recent_runs(100) })).into_response()
}

async fn get_run(State(shared): State<Arc<Shared>>, Path(id): Path<String>) -> Response {
    match shared.run_json(&id) {
        Some(v) => axum::Json(v).into_response(),
        None => error_response(
            StatusCode::NOT_FOUND,
            &format!("no run `{id}` (the server keeps the last 1000 runs since it started)"),
        ),
    }
}

async fn healthz(State(shared): State<Arc<Shared>>) -> Response {
    let status = if shared.stopping() { "stopping" } else { "ok" };
    axum::Json(json!({"status": status, "chains": shared.chains.len()})).into_response()
}

async fn metrics(State(shared): State<Arc<Shared>>) -> Response {
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        shared.metrics.text(&shared.redactor),
    )
        .into_response()
}

async fn openapi(State(shared): State<Arc<Shared>>) -> Response {
    let names: Vec<&str> = shared.chains.iter().map(|c| c.route.as_str()).collect();
    axum::Json(super::openapi::document(&names, shared.token.is_some())).into_response()
}

#[cfg(test)]
mod tests {
    use super::{is_json, parse_vars};
    use axum::http::{HeaderMap, HeaderValue, header};

    #[test]
    fn json_content_types() {
        let with = |v: &'static str| {
            let mut h = HeaderMap::new();
            h.insert(header::CONTENT_TYPE, HeaderValue::from_static(v));
            is_json(&h)
        };
        assert!(with("application/json"));
        assert!(with("Application/JSON; charset=utf-8"));
        assert!(with("application/vnd.api+json"));
        assert!(!with("text/plain"));
        assert!(!with("text/plain; x=application/json"));
        assert!(!with("application/x-www-form-urlencoded"));
        assert!(!with("multipart/form-data; boundary=x"));
        assert!(!with("text/+json"));
        assert!(!is_json(&HeaderMap::new()));
    }

    #[test]
    fn run_bodies() {
        assert!(parse_vars(b"").unwrap().is_empty());
        assert_eq!(parse_vars(br#"{"vars": {"a": 1}}"#).unwrap()["a"], 1);
        assert!(parse_vars(br#"{"vars": {"trigger": 1}}"#).is_err());
        assert!(parse_vars(br#"{"vars": {"1x": 1}}"#).is_err());
        assert!(
            parse_vars(br#"{"var": {}}"#)
                .unwrap_err()
                .contains("unknown field")
        );
        assert!(parse_vars(b"[1]").is_err());
        assert!(parse_vars(b"{").is_err());
    }
}
