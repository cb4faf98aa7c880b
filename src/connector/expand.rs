//! A step with `connector:` made into an ordinary step: the endpoint's
//! method and URL, the params as query, path or body, the connector's
//! auth, headers and TLS.

use indexmap::IndexMap;
use serde_json::Value;

use crate::chain::model::{Scalar, Step};
use crate::chain::spans::join_key;
use crate::diagnostic::suggest;

use super::*;

/// What went wrong turning a connector step into a plain one: the step key
/// to point at, the message and a hint.
#[derive(Debug)]
pub struct StepProblem {
    pub key: String,
    pub message: String,
    pub hint: Option<String>,
}

/// A step with `connector:` as the plain step it stands for. Parameters stay
/// in the returned list (rendered first at run time, as `params`).
pub fn expand_step(
    step: &Step,
    connector: &Connector,
) -> Result<(Step, IndexMap<String, Value>), Vec<StepProblem>> {
    let cname = &connector.name;
    let file = &connector.file;
    let mut problems = Vec::new();
    let params: IndexMap<String, Value> = match step.params.as_deref() {
        None | Some(Value::Null) => IndexMap::new(),
        Some(Value::Object(m)) => m.clone().into_iter().collect(),
        Some(_) => {
            problems.push(StepProblem {
                key: "params".into(),
                message: "`params` must be a map of parameter names to values".into(),
                hint: None,
            });
            return Err(problems);
        }
    };
    let endpoint_name = match step.endpoint.as_deref() {
        None => None,
        Some(Value::String(s)) => Some(s.as_str()),
        Some(_) => {
            problems.push(StepProblem {
                key: "endpoint".into(),
                message: "`endpoint` must be the name of one of the connector's endpoints".into(),
                hint: None,
            });
            return Err(problems);
        }
    };
    let mut out = step.clone();
    let (endpoint, path) = match (endpoint_name, &step.url) {
        (Some(_), Some(_)) => {
            problems.push(StepProblem {
                key: "url".into(),
                message: "a step has either `endpoint` or `url`, not both".into(),
                hint: None,
            });
            return Err(problems);
        }
        (Some(e), None) => match file.endpoints.get(e) {
            Some(ep) => (Some(ep), url_template(&ep.path)),
            None => {
                let names: Vec<&str> = file.endpoints.keys().map(String::as_str).collect();
                let hint = match suggest(e, names.iter().copied()) {
                    Some(b) => format!("help: did you mean `{b}`?"),
                    None if names.is_empty() => {
                        format!("help: connector `{cname}` has no endpoints; use `url: /path`")
                    }
                    None => format!("help: its endpoints are {}", names.join(", ")),
                };
                problems.push(StepProblem {
                    key: "endpoint".into(),
                    message: format!("connector `{cname}` has no endpoint `{e}`"),
                    hint: Some(hint),
                });
                return Err(problems);
            }
        },
        (None, Some(u)) if u.starts_with('/') => (None, u.clone()),
        (None, Some(_)) => {
            problems.push(StepProblem {
                key: "url".into(),
                message: format!(
                    "with `connector: {cname}`, `url` must be a path such as `/users` (it is appended to {})",
                    connector.base_url
                ),
                hint: Some("help: the connector's credentials are only sent to its own base_url; drop `connector:` to call another host".into()),
            });
            return Err(problems);
        }
        (None, None) => {
            problems.push(StepProblem {
                key: "connector".into(),
                message: format!(
                    "a step with `connector: {cname}` needs `endpoint:` or `url: /path`"
                ),
                hint: Some(endpoint_hint(file)),
            });
            return Err(problems);
        }
    };

    // Parameters given against the ones the endpoint takes.
    match endpoint {
        Some(ep) => {
            let takes = ep.parameters();
            let ename = endpoint_name.unwrap_or_default();
            let listing = || {
                if takes.is_empty() {
                    "help: it takes no parameters".to_string()
                } else {
                    format!(
                        "help: it takes {}",
                        takes
                            .iter()
                            .map(Param::to_string)
                            .collect::<Vec<_>>()
                            .join(", ")
                    )
                }
            };
            for given in params.keys() {
                if !takes.iter().any(|p| &p.name == given) {
                    let hint = suggest(given, takes.iter().map(|p| p.name.as_str()))
                        .map(|b| format!("help: did you mean `{b}`?"))
                        .unwrap_or_else(listing);
                    problems.push(StepProblem {
                        key: join_key("params", given),
                        message: format!(
                            "endpoint `{ename}` of connector `{cname}` has no parameter `{given}`"
                        ),
                        hint: Some(hint),
                    });
                }
            }
            let missing: Vec<&str> = takes
                .iter()
                .filter(|p| p.required && !params.contains_key(&p.name))
                .map(|p| p.name.as_str())
                .collect();
            if !missing.is_empty() {
                let list = missing
                    .iter()
                    .map(|m| format!("`{m}`"))
                    .collect::<Vec<_>>()
                    .join(", ");
                problems.push(StepProblem {
                    key: if step.params.is_some() {
                        "params".into()
                    } else {
                        "endpoint".into()
                    },
                    message: format!(
                        "endpoint `{ename}` of connector `{cname}` needs {list}"
                    ),
                    hint: Some(listing()),
                });
            }
        }
        None if !params.is_empty() => problems.push(StepProblem {
            key: "params".into(),
            message: "`params` needs `endpoint:`; with `url:` write the values into the URL or `query_params`".into(),
            hint: None,
        }),
        None => {}
    }
    if !problems.is_empty() {
        return Err(problems);
    }

    out.url = Some(format!("{}{path}", connector.base_url));
    out.method = step
        .method
        .clone()
        .or_else(|| endpoint.and_then(|e| e.method.clone()));
    // Query: the endpoint's keys the step gave a parameter for, or their
    // defaults; then the step's own `query_params` over them.
    let mut query: IndexMap<String, Value> = IndexMap::new();
    if let Some(ep) = endpoint {
        for (k, default) in &ep.query {
            if params.contains_key(k) && !ep.path_params().contains(k) {
                query.insert(k.clone(), Value::String(format!("{{{{ params.{k} }}}}")));
            } else if !default.is_null() {
                query.insert(k.clone(), default.clone());
            }
        }
    }
    if let Some(own) = &step.query_params {
        for (k, v) in own.iter() {
            query.insert(k.clone(), v.clone());
        }
    }
    out.query_params = (!query.is_empty()).then(|| Box::new(query));
    // Headers: connector, endpoint, step; later names win case-insensitively.
    let mut headers: IndexMap<String, Scalar> = IndexMap::new();
    let layers = [
        Some(&file.headers),
        endpoint.map(|e| &e.headers),
        step.headers.as_deref(),
    ];
    for layer in layers.into_iter().flatten() {
        for (k, v) in layer {
            headers.retain(|have, _| !have.eq_ignore_ascii_case(k));
            headers.insert(k.clone(), v.clone());
        }
    }
    out.headers = (!headers.is_empty()).then(|| Box::new(headers));
    if step.body.is_none()
        && step.form.is_none()
        && step.graphql.is_none()
        && step.multipart.is_none()
        && step.body_file.is_none()
    {
        out.body = endpoint.and_then(|e| e.body.clone()).map(Box::new);
        out.form = endpoint.and_then(|e| e.form.clone()).map(Box::new);
    }
    out.auth = step
        .auth
        .clone()
        .or_else(|| file.auth.clone().map(Box::new));
    out.timeout = step.timeout.or(file.timeout);
    out.retry = step
        .retry
        .clone()
        .or_else(|| file.retry.clone().map(Box::new));
    out.tls = step.tls.clone().or_else(|| file.tls.clone().map(Box::new));
    out.connector = None;
    out.endpoint = None;
    out.params = None;
    Ok((out, params))
}

pub(super) fn endpoint_hint(file: &ConnectorFile) -> String {
    let names: Vec<&str> = file.endpoints.keys().map(String::as_str).collect();
    if names.is_empty() {
        "help: this connector has no endpoints; use `url: /path`".into()
    } else {
        format!("help: its endpoints are {}", names.join(", "))
    }
}

/// A path with `{name}` placeholders as a URL template: each placeholder is
/// the parameter, percent-encoded as one path segment.
pub(super) fn url_template(path: &str) -> String {
    let mut out = String::with_capacity(path.len() + 16);
    let mut rest = path;
    while let Some(open) = rest.find('{') {
        let after = &rest[open + 1..];
        let Some(close) = after.find('}') else {
            break;
        };
        out.push_str(&rest[..open]);
        out.push_str(&format!(
            "{{{{ params.{} | path_segment }}}}",
            &after[..close]
        ));
        rest = &after[close + 1..];
    }
    out.push_str(rest);
    out
}
