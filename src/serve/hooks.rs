//! `POST /hooks/<name>`: check the signature, turn the request into the
//! `trigger` variable, run the chain, answer with its result.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::Response;
use serde_json::{Value, json};

use super::api::{self, error_response};
use super::signature::Verifier;
use super::{Kind, Shared, Start};
use crate::chain::model::SignatureScheme;

pub async fn webhook(
    State(shared): State<Arc<Shared>>,
    Path(name): Path<String>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let Some((index, chain)) = shared.chain(&name) else {
        return api::unknown_chain(&shared, &name);
    };
    match (&chain.signature, &chain.secret) {
        (Some(scheme), Some(secret)) => {
            let verifier = Verifier {
                scheme: *scheme,
                secret: secret.expose().as_bytes(),
                header: chain.header.as_deref(),
                tolerance: chain.tolerance,
            };
            let header = |n: &str| headers.get(n).and_then(|v| v.to_str().ok());
            let now = shared.clock.now();
            if let Err(e) = verifier.verify(header, &body, now) {
                shared.log.line(
                    "rejected",
                    &[
                        ("chain", name.clone().into()),
                        ("reason", e.to_string().into()),
                    ],
                );
                return error_response(StatusCode::UNAUTHORIZED, &e.to_string());
            }
            // A signed request seen before is a replay (or a redelivery of
            // one that already ran): it does not run twice.
            if let Some((key, keep)) = replay_key(*scheme, &header, chain.tolerance)
                && !shared.first_sight(&name, key, now, keep)
            {
                let why = "this signed request was already received; it does not run twice";
                shared.log.line(
                    "rejected",
                    &[("chain", name.clone().into()), ("reason", why.into())],
                );
                return error_response(StatusCode::CONFLICT, why);
            }
        }
        // Nothing on a public address runs unauthenticated: an unsigned
        // webhook then needs the API token.
        _ if shared.remote => {
            if let Some(r) = api::refuse_without_token(&shared, &headers) {
                return r;
            }
        }
        _ => {}
    }
    let query = query_map(&uri);
    let run_async = query.get("async").is_some_and(|v| v == "true" || v == "1");
    let trigger = json!({
        "kind": Kind::Webhook.as_str(),
        "body": parse_body(&headers, &body),
        "headers": header_map(&headers),
        "query": query.into_iter().filter(|(k, _)| k != "async").collect::<BTreeMap<_, _>>(),
        "time": humantime::format_rfc3339_seconds(shared.clock.now()).to_string(),
    });
    api::start_run(
        &shared,
        Start {
            chain: index,
            kind: Kind::Webhook,
            vars: Default::default(),
            trigger,
            permit: None,
        },
        run_async,
    )
    .await
}

/// How long GitHub delivery ids are remembered: GitHub signs no timestamp,
/// so a captured delivery could be sent again at any time.
const GITHUB_DELIVERIES_KEPT: Duration = Duration::from_secs(24 * 3600);

/// What identifies a signed request, and how long to remember it: GitHub's
/// delivery id; Stripe's and Slack's signed timestamp and signature, for as
/// long as the timestamp is accepted. `hmac-sha256` signs no timestamp or
/// id, so its repeats cannot be told from new events.
fn replay_key<'h>(
    scheme: SignatureScheme,
    header: &impl Fn(&str) -> Option<&'h str>,
    tolerance: Duration,
) -> Option<(String, Duration)> {
    match scheme {
        SignatureScheme::Github => header("x-github-delivery")
            .map(|id| (format!("github {}", id.trim()), GITHUB_DELIVERIES_KEPT)),
        SignatureScheme::Stripe => {
            header("stripe-signature").map(|v| (format!("stripe {}", v.trim()), tolerance * 2))
        }
        SignatureScheme::Slack => {
            let ts = header("x-slack-request-timestamp")?;
            let sig = header("x-slack-signature")?;
            Some((format!("slack {} {}", ts.trim(), sig.trim()), tolerance * 2))
        }
        SignatureScheme::HmacSha256 => None,
    }
}

/// The query string as a map (a repeated name keeps its last value).
pub fn query_map(uri: &Uri) -> BTreeMap<String, String> {
    url::form_urlencoded::parse(uri.query().unwrap_or("").as_bytes())
        .into_owned()
        .collect()
}

/// Header names in lower case; repeated headers joined with `, `; the
/// headers that carry the caller's credentials left out, so a chain that
/// forwards `trigger.headers` cannot send them on.
fn header_map(headers: &HeaderMap) -> BTreeMap<String, String> {
    let mut out: BTreeMap<String, String> = BTreeMap::new();
    for (k, v) in headers {
        if crate::secret::sensitive_header(k.as_str()) {
            continue;
        }
        let v = String::from_utf8_lossy(v.as_bytes()).into_owned();
        out.entry(k.as_str().to_string())
            .and_modify(|e| {
                e.push_str(", ");
                e.push_str(&v);
            })
            .or_insert(v);
    }
    out
}

/// JSON when it is JSON, a map for a form, else text; `null` when empty.
fn parse_body(headers: &HeaderMap, body: &[u8]) -> Value {
    if body.is_empty() {
        return Value::Null;
    }
    let ctype = headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_ascii_lowercase();
    if ctype.starts_with("application/x-www-form-urlencoded") {
        let map: serde_json::Map<String, Value> = url::form_urlencoded::parse(body)
            .into_owned()
            .map(|(k, v)| (k, Value::String(v)))
            .collect();
        return Value::Object(map);
    }
    match serde_json::from_slice(body) {
        Ok(v) => v,
        Err(_) => Value::String(String::from_utf8_lossy(body).into_owned()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_stay_out_of_trigger_headers() {
        let mut h = HeaderMap::new();
        for (k, v) in [
            ("authorization", "Bearer serve-token"),
            ("cookie", "sid=1"),
            ("x-gitlab-token", "hook-secret"),
            ("x-api-key", "k"),
            ("x-github-event", "issues"),
            ("content-type", "application/json"),
            ("accept", "a"),
            ("accept", "b"),
        ] {
            h.append(
                axum::http::HeaderName::from_static(k),
                axum::http::HeaderValue::from_static(v),
            );
        }
        let m = header_map(&h);
        let names: Vec<&str> = m.keys().map(String::as_str).collect();
        assert_eq!(names, ["accept", "content-type", "x-github-event"]);
        assert_eq!(m["accept"], "a, b");
    }
}
