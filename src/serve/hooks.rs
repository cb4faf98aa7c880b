//! `POST /hooks/<name>`: check the signature, turn the request into the
//! `trigger` variable, run the chain, answer with its result.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::Response;
use serde_json::{Value, json};

use super::api::{self, error_response};
use super::signature::Verifier;
use super::{Kind, Shared, Start};

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
            if let Err(e) = verifier.verify(header, &body, shared.clock.now()) {
                shared.log.line(
                    "rejected",
                    &[
                        ("chain", name.clone().into()),
                        ("reason", e.to_string().into()),
                    ],
                );
                return error_response(StatusCode::UNAUTHORIZED, &e.to_string());
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

/// The query string as a map (a repeated name keeps its last value).
pub fn query_map(uri: &Uri) -> BTreeMap<String, String> {
    url::form_urlencoded::parse(uri.query().unwrap_or("").as_bytes())
        .into_owned()
        .collect()
}

/// Header names in lower case; repeated headers joined with `, `.
fn header_map(headers: &HeaderMap) -> BTreeMap<String, String> {
    let mut out: BTreeMap<String, String> = BTreeMap::new();
    for (k, v) in headers {
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
