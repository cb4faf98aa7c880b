//! A connector file checked: its shape, its endpoints' paths and
//! parameters, its auth and rate limit, with positions.

use std::path::PathBuf;
use std::sync::Arc;

use serde_json::Value;

use crate::chain::spans::join_key;
use crate::diagnostic::{Diagnostic, Source, suggest};
use crate::template::Templates;

use super::*;

/// Checks a connector document beyond its shape: name, URL, endpoints,
/// templates, rate limit and test request.
pub(super) fn check(name: &str, doc: &Document) -> Result<Connector, Vec<Diagnostic>> {
    let at = |key: &str| doc.spans.value(key).or_else(|| doc.spans.nearest(key));
    let mut errors = Vec::new();
    let mut err = |key: &str, msg: String, hint: Option<String>| {
        let mut d = Diagnostic::new(msg).at(&doc.source, at(key));
        if let Some(h) = hint {
            d = d.note(h);
        }
        errors.push(d);
    };
    let file: ConnectorFile = match serde_json::from_value(doc.value.clone()) {
        Ok(f) => f,
        Err(e) => {
            err("", format!("invalid connector `{name}`: {e}"), None);
            return Err(errors);
        }
    };
    if !valid_name(name) {
        err(
            "name",
            format!("`{name}` is not a valid connector name"),
            Some("help: connector names are lowercase letters, digits, `_` and `-`, starting with a letter".into()),
        );
    }
    if let Some(n) = &file.name
        && n != name
        && doc.origin != Origin::Inline
        && !matches!(doc.origin, Origin::Overlay(_))
    {
        err(
            "name",
            format!("this file is looked up as `{name}` but its `name` is `{n}`"),
            Some(format!(
                "help: rename the file to `{n}.yaml` or the `name` to `{name}`"
            )),
        );
    }
    let base_url = match std::env::var(base_url_var(name))
        .ok()
        .filter(|v| !v.is_empty())
    {
        Some(v) => v,
        None => match &file.base_url {
            Some(u) => u.clone(),
            None => {
                err(
                    "base_url",
                    format!("connector `{name}` has no `base_url`"),
                    Some(format!(
                        "help: set `base_url:`, or {} in the environment",
                        base_url_var(name)
                    )),
                );
                String::new()
            }
        },
    };
    if !base_url.is_empty() {
        match url::Url::parse(&base_url) {
            Ok(u) if matches!(u.scheme(), "http" | "https") => {}
            _ => err(
                "base_url",
                format!("`{base_url}` is not an absolute http(s) URL"),
                Some("help: e.g. `base_url: https://api.example.com`".into()),
            ),
        }
    }
    if let Some(r) = &file.rate_limit {
        if r.requests == 0 {
            err(
                "rate_limit.requests",
                "`rate_limit.requests` must be at least 1".into(),
                None,
            );
        }
        if r.per.0.is_zero() {
            err(
                "rate_limit.per",
                "`rate_limit.per` must be longer than 0".into(),
                None,
            );
        }
        if r.burst == Some(0) {
            err(
                "rate_limit.burst",
                "`rate_limit.burst` must be at least 1".into(),
                None,
            );
        }
    }
    let mut templates = Templates::new();
    for (ename, e) in &file.endpoints {
        let key = join_key("endpoints", ename);
        if !crate::chain::model::is_identifier(ename) {
            err(
                &key,
                format!("`{ename}` is not a valid endpoint name"),
                Some("help: endpoint names look like `get_repo`: letters, digits and `_`".into()),
            );
        }
        if !e.path.starts_with('/') {
            err(
                &join_key(&key, "path"),
                format!("the path `{}` must start with `/`", e.path),
                None,
            );
        }
        for p in e.path_params() {
            if !crate::chain::model::is_identifier(&p) {
                err(
                    &join_key(&key, "path"),
                    format!("`{{{p}}}` in `{}` is not a parameter name", e.path),
                    Some("help: placeholders look like `{owner}`".into()),
                );
            }
        }
        if e.body.is_some() && e.form.is_some() {
            err(
                &key,
                format!("endpoint `{ename}` has both `body` and `form`"),
                None,
            );
        }
        let mut values: Vec<(String, Value)> = Vec::new();
        if let Some(b) = &e.body {
            values.push((join_key(&key, "body"), b.clone()));
        }
        if let Some(f) = &e.form {
            values.push((
                join_key(&key, "form"),
                Value::Object(f.clone().into_iter().collect()),
            ));
        }
        for (h, v) in &e.headers {
            values.push((
                join_key(&join_key(&key, "headers"), h),
                Value::String(v.0.clone()),
            ));
        }
        for (q, v) in &e.query {
            values.push((join_key(&join_key(&key, "query"), q), v.clone()));
        }
        for (path, v) in values {
            if let Err(e) = templates.compile(&v) {
                err(&path, format!("{} in `{}`", e.message, e.template), None);
            }
        }
        let params: Vec<String> = e.parameters().into_iter().map(|p| p.name).collect();
        for r in &e.required {
            if !params.contains(r) {
                err(
                    &join_key(&key, "required"),
                    format!("`required` names `{r}`, which endpoint `{ename}` does not take"),
                    Some(format!("help: its parameters are {}", params.join(", "))),
                );
            }
        }
    }
    for (h, v) in &file.headers {
        if let Err(e) = templates.compile(&Value::String(v.0.clone())) {
            err(
                &join_key("headers", h),
                format!("{} in `{}`", e.message, e.template),
                None,
            );
        }
    }
    if let Some(t) = &file.test {
        match (&t.endpoint, &t.path) {
            (Some(e), None) => {
                if !file.endpoints.contains_key(e) {
                    err(
                        "test.endpoint",
                        format!("`test` names endpoint `{e}`, which `{name}` does not have"),
                        suggest(e, file.endpoints.keys().map(String::as_str))
                            .map(|b| format!("help: did you mean `{b}`?")),
                    );
                }
            }
            (None, Some(p)) if p.starts_with('/') => {}
            (None, Some(p)) => err(
                "test.path",
                format!("the path `{p}` must start with `/`"),
                None,
            ),
            _ => err(
                "test",
                "`test` needs either `endpoint` or `path`".into(),
                None,
            ),
        }
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    Ok(Connector {
        name: name.to_string(),
        origin: doc.origin.clone(),
        base_url: base_url.trim_end_matches('/').to_string(),
        file,
        raw: doc.value.clone(),
    })
}

/// Checks a connector file's text as `connectors import` wrote it.
pub fn check_text(name: &str, source: Arc<Source>) -> Result<Connector, Vec<Diagnostic>> {
    let origin = Origin::File(PathBuf::from(&source.name));
    let doc = read(source, origin).map_err(|d| vec![d])?;
    check(name, &doc)
}
