//! The dashboard's pages, rendered on the server with minijinja (HTML
//! escaping on for every value; only the SVG pictures this module makes
//! are marked safe).

use std::collections::BTreeMap;
use std::sync::{Arc, OnceLock};

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};
use minijinja::{AutoEscape, Environment};
use serde_json::{Value, json};

use super::{Visitor, form, plausible_id, refuse_forgery, svg};
use crate::serve::{ChainInfo, Kind, Shared, Start, bare_trigger};

/// Runs shown per page.
const PAGE: usize = 50;

fn env() -> &'static Environment<'static> {
    static ENV: OnceLock<Environment<'static>> = OnceLock::new();
    ENV.get_or_init(|| {
        let mut env = Environment::new();
        env.set_auto_escape_callback(|_| AutoEscape::Html);
        env.set_undefined_behavior(minijinja::UndefinedBehavior::Chainable);
        for (name, text) in [
            ("base.html", include_str!("templates/base.html")),
            ("chains.html", include_str!("templates/chains.html")),
            ("runs.html", include_str!("templates/runs.html")),
            ("run.html", include_str!("templates/run.html")),
            ("login.html", include_str!("templates/login.html")),
        ] {
            // The templates are part of the binary: a broken one fails the
            // tests, and its page says so rather than panicking.
            let _ = env.add_template(name, text);
        }
        env
    })
}

fn render(name: &str, mut ctx: Value, shared: &Shared, visitor: &Visitor) -> Response {
    if let Value::Object(m) = &mut ctx {
        m.insert(
            "csrf".into(),
            json!(shared.ui.csrf(visitor.session.as_deref())),
        );
        m.insert("logged_in".into(), json!(visitor.session.is_some()));
    }
    let page = env()
        .get_template(name)
        .and_then(|t| t.render(crate::template::from_json(&ctx)));
    match page {
        Ok(html) => Html(html).into_response(),
        Err(e) => super::super::api::error_response(
            StatusCode::INTERNAL_SERVER_ERROR,
            &format!("the page `{name}` could not be made: {e}"),
        ),
    }
}

/// `/`: each served chain, its triggers, its steps, a form to run it.
pub async fn chains(
    State(shared): State<Arc<Shared>>,
    axum::Extension(visitor): axum::Extension<Visitor>,
) -> Response {
    let now = shared.clock.now();
    let list: Vec<Value> = shared
        .chains
        .iter()
        .map(|c| {
            let schedule = c.schedule.as_ref().map(|(s, _)| {
                let mut next = Vec::new();
                let mut at = now;
                for _ in 0..3 {
                    match s.next_after(at) {
                        Some(t) => {
                            next.push(humantime::format_rfc3339_seconds(t).to_string());
                            at = t;
                        }
                        None => break,
                    }
                }
                json!({"cron": s.expr(), "timezone": s.timezone(), "next": next})
            });
            json!({
                "route": c.route,
                "title": c.title,
                "description": c.description,
                "file": c.file,
                "webhook": c.webhook,
                "signature": c.signature.map(|s| s.as_str()),
                "schedule": schedule,
                "graph": c.graph,
                "fields": fields(c, &shared),
            })
        })
        .collect();
    render(
        "chains.html",
        json!({"title": "Chains", "page": "chains", "chains": list}),
        &shared,
        &visitor,
    )
}

/// The form's fields: the declared inputs, else the variables a caller may
/// set, each with its type, default (redacted) and description.
fn fields(c: &ChainInfo, shared: &Shared) -> Vec<Value> {
    if !c.inputs.is_empty() {
        return c
            .inputs
            .iter()
            .map(|i| {
                let ty = i.schema.get("type").and_then(Value::as_str).unwrap_or("string");
                let choices = match (i.schema.get("enum"), ty) {
                    (Some(Value::Array(e)), _) => Some(e.iter().map(shown).collect::<Vec<_>>()),
                    (_, "boolean") => Some(vec!["true".into(), "false".into()]),
                    _ => None,
                };
                let kind = match (ty, i.schema.get("format").and_then(Value::as_str)) {
                    ("integer" | "number", _) => "number",
                    (_, Some("password")) => "password",
                    _ => "text",
                };
                json!({
                    "name": i.name,
                    "description": i.description,
                    "required": i.required,
                    "value": i.default.as_ref().map(|d| shown(&shared.redactor.redact_json(d))).unwrap_or_default(),
                    "choices": choices,
                    "kind": kind,
                })
            })
            .collect();
    }
    c.vars
        .iter()
        .filter(|(k, _)| {
            k.as_str() != crate::plan::TRIGGER_VAR && !c.fixed_vars.iter().any(|f| f == *k)
        })
        .map(|(k, v)| {
            json!({
                "name": k,
                "required": false,
                "value": shown(&shared.redactor.redact_json(v)),
                "kind": if v.is_number() { "number" } else { "text" },
            })
        })
        .collect()
}

fn shown(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

/// `POST /ui/chains/<name>/run`: the form's values, typed by the input
/// they fill, start a run; the browser goes to its page.
pub async fn start(
    State(shared): State<Arc<Shared>>,
    axum::Extension(visitor): axum::Extension<Visitor>,
    Path(name): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let fields = form(&body);
    if let Some(r) = refuse_forgery(&shared, &visitor, &headers, &fields) {
        return r;
    }
    let Some((index, chain)) = shared.chain(&name) else {
        return super::super::api::unknown_chain(&shared, &name);
    };
    let mut vars = indexmap::IndexMap::new();
    for (k, v) in &fields {
        let Some(var) = k.strip_prefix("v.") else {
            continue;
        };
        let input = chain.inputs.iter().find(|i| i.name == var);
        if v.is_empty() && input.is_some_and(|i| !i.required) {
            continue;
        }
        let ty = input
            .and_then(|i| i.schema.get("type"))
            .and_then(Value::as_str);
        let value = match ty {
            Some("integer") => v.trim().parse::<i64>().map(Value::from).unwrap_or(json!(v)),
            Some("number") => v.trim().parse::<f64>().map(Value::from).unwrap_or(json!(v)),
            Some("boolean") => match v.as_str() {
                "true" => Value::Bool(true),
                "false" => Value::Bool(false),
                _ => json!(v),
            },
            Some("array" | "object") => serde_json::from_str(v).unwrap_or(json!(v)),
            Some(_) => json!(v),
            None => match serde_json::from_str::<Value>(v) {
                Ok(n @ (Value::Number(_) | Value::Bool(_))) => n,
                _ => json!(v),
            },
        };
        vars.insert(var.to_string(), value);
    }
    if let Err((status, msg)) = super::super::api::caller_may_set(chain, &vars) {
        return super::super::api::error_response(status, &msg);
    }
    let start = Start {
        chain: index,
        kind: Kind::Api,
        vars,
        trigger: bare_trigger(Kind::Api, shared.clock.now()),
        permit: None,
    };
    let answer = super::super::api::start_run(&shared, start, true).await;
    let id = answer
        .headers()
        .get("x-pytopus-run")
        .and_then(|v| v.to_str().ok())
        .filter(|s| !s.is_empty())
        .map(str::to_string);
    match (answer.status(), id) {
        (StatusCode::ACCEPTED, Some(id)) => Redirect::to(&format!("/ui/runs/{id}")).into_response(),
        _ => answer,
    }
}

#[derive(serde::Deserialize, Default)]
pub struct RunsQuery {
    #[serde(default)]
    chain: String,
    #[serde(default)]
    status: String,
    #[serde(default)]
    page: usize,
}

/// `/ui/runs`: newest first, by chain and status, a page at a time, with
/// runs and failures per hour and each step's duration percentiles.
pub async fn runs(
    State(shared): State<Arc<Shared>>,
    axum::Extension(visitor): axum::Extension<Visitor>,
    Query(q): Query<RunsQuery>,
) -> Response {
    let mut all = shared.recent_runs(usize::MAX);
    let mut times = shared.step_times();
    if shared.history {
        // Finished runs come from the history (the command line's runs of
        // the same files too); the ones still going from memory.
        let paths: Vec<(String, String)> = shared
            .chains
            .iter()
            .map(|c| (c.path.clone(), c.route.clone()))
            .collect();
        let read = tokio::task::spawn_blocking(move || history_runs(&paths)).await;
        if let Ok(Ok((runs, t))) = read {
            all.retain(|r| r["status"] == "running");
            all.extend(runs);
            all.sort_by(|a, b| {
                b["started_at"]
                    .as_str()
                    .unwrap_or("")
                    .cmp(a["started_at"].as_str().unwrap_or(""))
            });
            times = t;
        }
    }
    let all: Vec<Value> = all
        .into_iter()
        .filter(|r| q.chain.is_empty() || r["chain"] == q.chain.as_str())
        .filter(|r| q.status.is_empty() || r["status"] == q.status.as_str())
        .collect();
    let total = all.len();
    let from = q.page.saturating_mul(PAGE).min(total);
    let shown: Vec<Value> = all[from..(from + PAGE).min(total)]
        .iter()
        .map(|r| {
            json!({
                "id": r["id"], "chain": r["chain"], "status": r["status"],
                "trigger": r["trigger"], "started_at": r["started_at"],
                "duration_ms": r.get("duration_ms"),
                "link": r.get("link").cloned().unwrap_or_else(|| json!(format!("/ui/runs/{}", r["id"].as_str().unwrap_or("")))),
            })
        })
        .collect();
    let link = |page: usize| {
        let mut s = url::form_urlencoded::Serializer::new(String::new());
        if !q.chain.is_empty() {
            s.append_pair("chain", &q.chain);
        }
        if !q.status.is_empty() {
            s.append_pair("status", &q.status);
        }
        s.append_pair("page", &page.to_string());
        format!("/ui/runs?{}", s.finish())
    };
    let prev = (q.page > 0).then(|| link(q.page - 1));
    let next = (from + PAGE < total).then(|| link(q.page + 1));
    let charts = (!all.is_empty()).then(|| charts(&all, &times));
    render(
        "runs.html",
        json!({
            "title": "Runs", "page": "runs", "runs": shown, "total": total,
            "chain_names": shared.chains.iter().map(|c| c.route.clone()).collect::<Vec<_>>(),
            "filter_chain": q.chain, "filter_status": q.status,
            "prev": prev, "next": next, "charts": charts,
        }),
        &shared,
        &visitor,
    )
}

/// Runs and failures per hour (the last 24 hours with runs), and the
/// percentiles of each step's duration.
fn charts(runs: &[Value], times: &[(String, String, u64)]) -> Value {
    let mut hours: BTreeMap<String, (usize, usize)> = BTreeMap::new();
    let mut durations: BTreeMap<(String, String), Vec<u64>> = BTreeMap::new();
    let chain_of: std::collections::HashMap<&str, &str> = runs
        .iter()
        .filter_map(|r| Some((r["id"].as_str()?, r["chain"].as_str()?)))
        .collect();
    for (id, step, ms) in times {
        if let Some(chain) = chain_of.get(id.as_str()) {
            durations
                .entry((chain.to_string(), step.clone()))
                .or_default()
                .push(*ms);
        }
    }
    for r in runs {
        let hour: String = r["started_at"]
            .as_str()
            .unwrap_or("")
            .chars()
            .take(13)
            .collect();
        let e = hours.entry(hour).or_default();
        e.0 += 1;
        if r["status"] == "failed" {
            e.1 += 1;
        }
    }
    let buckets: Vec<(String, usize, usize)> = hours
        .into_iter()
        .rev()
        .take(24)
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .map(|(h, (n, f))| (format!("{}:00", h.replace('T', " ")), n, f))
        .collect();
    let percentiles: Vec<Value> = durations
        .into_iter()
        .take(200)
        .map(|((chain, step), mut ms)| {
            ms.sort_unstable();
            let p = |q: f64| ms[((ms.len() as f64 - 1.0) * q).round() as usize];
            json!({"chain": chain, "step": step, "p50": p(0.5), "p90": p(0.9), "p99": p(0.99), "n": ms.len()})
        })
        .collect();
    json!({"timeline": svg::timeline(&buckets), "percentiles": percentiles})
}

/// The most recent runs of the served chains in the history (each chain
/// file by its path), and their steps' durations.
type HistoryRuns = (Vec<Value>, Vec<(String, String, u64)>);

fn history_runs(paths: &[(String, String)]) -> Result<HistoryRuns, String> {
    /// At most this many runs are read; the step durations of the newest
    /// few hundred.
    const READ: usize = 5000;
    const TIMED: usize = 300;
    let history = crate::history::History::open()?;
    let mut runs = Vec::new();
    let mut times = Vec::new();
    for s in history.list(READ)? {
        let Some((_, route)) = paths.iter().find(|(p, _)| *p == s.path) else {
            continue;
        };
        let id = format!("h{}", s.id);
        if runs.len() < TIMED
            && let Ok(Some(stored)) = history.get(s.id)
        {
            for step in stored.report["steps"].as_array().into_iter().flatten() {
                if let (Some(name), Some(ms)) = (step["name"].as_str(), step["elapsed_ms"].as_u64())
                    && step["status"] != "not_run"
                    && step["status"] != "skipped"
                {
                    times.push((id.clone(), name.to_string(), ms));
                }
            }
        }
        runs.push(json!({
            "id": id, "chain": route, "status": s.status, "trigger": "history",
            "started_at": s.started, "duration_ms": s.duration_ms,
            "link": format!("/ui/history/{}", s.id),
        }));
    }
    Ok((runs, times))
}

/// `/ui/history/<n>`: a run of a served chain as the history keeps it.
pub async fn stored(
    State(shared): State<Arc<Shared>>,
    axum::Extension(visitor): axum::Extension<Visitor>,
    Path(id): Path<String>,
) -> Response {
    let not_found = || {
        super::super::api::error_response(
            StatusCode::NOT_FOUND,
            &format!(
                "no run `{}` of these chains in the history",
                svg::escape(&id)
            ),
        )
    };
    let Ok(n) = id.parse::<i64>() else {
        return not_found();
    };
    let read =
        tokio::task::spawn_blocking(move || crate::history::History::open().and_then(|h| h.get(n)))
            .await;
    let Ok(Ok(Some(stored))) = read else {
        return not_found();
    };
    let Some(c) = shared.chains.iter().find(|c| c.path == stored.summary.path) else {
        return not_found();
    };
    let run = json!({
        "id": format!("h{n}"),
        "chain": c.route,
        "trigger": "history",
        "status": stored.summary.status,
        "started_at": stored.summary.started,
        "duration_ms": stored.summary.duration_ms,
        "output": stored.report.get("output").cloned().unwrap_or(Value::Null),
        "report": stored.report,
    });
    run_page(&shared, &visitor, run)
}

/// `/ui/runs/<id>`: the run's steps on a timeline, each request and
/// response as the report keeps them (redacted), the failing step first.
pub async fn run(
    State(shared): State<Arc<Shared>>,
    axum::Extension(visitor): axum::Extension<Visitor>,
    Path(id): Path<String>,
) -> Response {
    let found = plausible_id(&id).then(|| shared.run_json(&id)).flatten();
    let Some(run) = found else {
        return super::super::api::error_response(
            StatusCode::NOT_FOUND,
            &format!(
                "no run `{}` (the server keeps the last 1000 runs since it started)",
                svg::escape(&id)
            ),
        );
    };
    run_page(&shared, &visitor, run)
}

fn run_page(shared: &Shared, visitor: &Visitor, run: Value) -> Response {
    let live = run["status"] == "running";
    let report_steps: Vec<Value> = run["report"]["steps"]
        .as_array()
        .into_iter()
        .flatten()
        .chain(run["report"]["teardown"].as_array().into_iter().flatten())
        .cloned()
        .collect();
    let steps: Vec<Value> = if report_steps.is_empty() {
        // Still running: the chain's steps, to be filled in live.
        shared
            .chains
            .iter()
            .find(|c| run["chain"] == c.route.as_str())
            .map(|c| {
                c.steps
                    .iter()
                    .map(|n| json!({"name": n, "status": "not_run", "bar": ""}))
                    .collect()
            })
            .unwrap_or_default()
    } else {
        let total: u64 = run["duration_ms"].as_u64().unwrap_or_else(|| {
            report_steps
                .iter()
                .filter_map(|s| s["elapsed_ms"].as_u64())
                .sum()
        });
        let mut offset = 0;
        report_steps
            .iter()
            .map(|s| {
                let ms = s["elapsed_ms"].as_u64().unwrap_or(0);
                let step = json!({
                    "name": s["name"], "status": s["status"], "attempts": s["attempts"],
                    "code": s["response"]["status"], "elapsed_ms": s.get("elapsed_ms"),
                    "offset_ms": offset,
                    "bar": svg::bar(offset, ms, total),
                    "failed": s["status"] == "failed",
                    "error": s["error"]["message"],
                    "request": request_text(&s["request"]),
                    "response": response_text(&s["response"]),
                });
                offset += ms;
                step
            })
            .collect()
    };
    let failed = report_steps
        .iter()
        .enumerate()
        .find(|(_, s)| s["status"] == "failed");
    let output = match &run["output"] {
        Value::Null => None,
        v => serde_json::to_string_pretty(v).ok(),
    };
    render(
        "run.html",
        json!({
            "title": format!("Run of {}", run["chain"].as_str().unwrap_or("")),
            "page": "runs",
            "run": {
                "id": run["id"], "chain": run["chain"], "status": run["status"],
                "trigger": run["trigger"], "started_at": run["started_at"],
                "duration_ms": run.get("duration_ms"),
            },
            "live": live,
            "steps": steps,
            "failed_step": failed.map(|(_, s)| s["name"].clone()),
            "failed_index": failed.map(|(i, _)| i),
            "failed_message": failed.map(|(_, s)| s["error"]["message"].clone()),
            "output": output,
            "error": run["error"],
            "graph": shared
                .chains
                .iter()
                .find(|c| run["chain"] == c.route.as_str())
                .map(|c| c.graph.clone()),
        }),
        shared,
        visitor,
    )
}

/// A request as the report keeps it, as text: the request line, headers,
/// body.
fn request_text(r: &Value) -> Option<String> {
    let method = r["method"].as_str()?;
    let mut text = format!("{method} {}\n", r["url"].as_str().unwrap_or(""));
    for h in r["headers"].as_array().into_iter().flatten() {
        if let (Some(k), Some(v)) = (h[0].as_str(), h[1].as_str()) {
            text.push_str(&format!("{k}: {v}\n"));
        }
    }
    match &r["body"] {
        Value::Null => {}
        Value::String(s) => text.push_str(&format!("\n{s}\n")),
        other => text.push_str(&format!(
            "\n{}\n",
            serde_json::to_string_pretty(other).unwrap_or_default()
        )),
    }
    Some(text)
}

fn response_text(r: &Value) -> Option<String> {
    let status = r["status"].as_u64()?;
    let mut text = format!("{status}\n");
    for h in r["headers"].as_array().into_iter().flatten() {
        if let (Some(k), Some(v)) = (h[0].as_str(), h[1].as_str()) {
            text.push_str(&format!("{k}: {v}\n"));
        }
    }
    if let Some(b) = r["body_excerpt"].as_str().filter(|b| !b.is_empty()) {
        text.push_str(&format!("\n{b}\n"));
    }
    Some(text)
}

/// `GET /ui/login`.
pub async fn login_form(State(shared): State<Arc<Shared>>) -> Response {
    login_page(&shared, false, StatusCode::OK)
}

pub fn login_page(shared: &Shared, wrong: bool, status: StatusCode) -> Response {
    let mut r = render(
        "login.html",
        json!({"title": "Log in", "page": "login", "wrong": wrong}),
        shared,
        &Visitor::default(),
    );
    *r.status_mut() = status;
    r
}
