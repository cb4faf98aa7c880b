//! Reading a collection's parts: auth blocks, headers, URLs (text or
//! parts), `{{variable}}` references, names.

use std::collections::HashSet;

use serde_json::Value;

use super::request::{ImportError, fail};

use super::*;

/// Every `auth` in the items, at most [`MAX_DEPTH`] folders deep.
pub(super) fn collect_auths<'v>(items: Option<&'v Value>, out: &mut Vec<&'v Value>, depth: usize) {
    if depth > MAX_DEPTH {
        return;
    }
    for item in items.and_then(Value::as_array).into_iter().flatten() {
        out.extend(item.get("auth"));
        out.extend(item.get("request").and_then(|r| r.get("auth")));
        collect_auths(item.get("item"), out, depth + 1);
    }
}

/// An auth block's parameters: v2.1 lists `{key, value}`, v2.0 has a map.
pub(super) fn auth_params(a: &Value) -> Vec<(String, Value)> {
    let kind = a.get("type").and_then(Value::as_str).unwrap_or("");
    match a.get(kind) {
        Some(Value::Array(list)) => list
            .iter()
            .filter_map(|p| {
                let k = p.get("key")?.as_str()?;
                Some((
                    k.to_string(),
                    p.get("value").cloned().unwrap_or(Value::Null),
                ))
            })
            .collect(),
        Some(Value::Object(m)) => m.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
        _ => Vec::new(),
    }
}

/// The request's enabled headers (a list of `{key, value}`, or text).
pub(super) fn headers(r: &Value) -> Vec<(String, String)> {
    match r.get("header") {
        Some(Value::Array(list)) => list
            .iter()
            .filter(|h| h.get("disabled") != Some(&Value::Bool(true)))
            .filter_map(|h| {
                let k = h.get("key")?.as_str()?;
                if k.is_empty() {
                    return None;
                }
                let v = h.get("value").and_then(Value::as_str).unwrap_or("");
                Some((k.to_string(), v.to_string()))
            })
            .collect(),
        Some(Value::String(text)) => text
            .lines()
            .filter(|l| !l.trim_start().starts_with("//"))
            .filter_map(|l| {
                let (k, v) = l.split_once(':')?;
                Some((k.trim().to_string(), v.trim().to_string()))
            })
            .filter(|(k, _)| !k.is_empty())
            .collect(),
        _ => Vec::new(),
    }
}

/// The request's URL as Postman text (with `{{var}}`): the URL itself
/// (its text, or built from its parts), the path variables (`:id`) put
/// in, the enabled query parameters after `?`. Twice: the second for
/// resolving (the same text).
pub(super) fn url_text(r: &Value) -> Result<(String, String), ImportError> {
    let url = match r {
        Value::String(s) => return Ok((s.clone(), s.clone())),
        _ => r.get("url"),
    };
    let text = match url {
        None | Some(Value::Null) => return fail("the request has no URL"),
        Some(Value::String(s)) => s.clone(),
        Some(Value::Object(u)) => {
            let raw = u.get("raw").and_then(Value::as_str);
            let (base, raw_query) = match raw {
                Some(raw) => {
                    let raw = raw.split('#').next().unwrap_or(raw);
                    match raw.split_once('?') {
                        Some((b, q)) => (b.to_string(), Some(q.to_string())),
                        None => (raw.to_string(), None),
                    }
                }
                None => {
                    let mut b = String::new();
                    if let Some(p) = u.get("protocol").and_then(Value::as_str) {
                        b.push_str(p);
                        b.push_str("://");
                    }
                    match u.get("host") {
                        Some(Value::Array(parts)) => b.push_str(
                            &parts
                                .iter()
                                .filter_map(Value::as_str)
                                .collect::<Vec<_>>()
                                .join("."),
                        ),
                        Some(Value::String(h)) => b.push_str(h),
                        _ => return fail("the request's URL has neither `raw` nor `host`"),
                    }
                    if let Some(port) = u.get("port") {
                        match port {
                            Value::String(p) => b.push_str(&format!(":{p}")),
                            Value::Number(p) => b.push_str(&format!(":{p}")),
                            _ => {}
                        }
                    }
                    match u.get("path") {
                        Some(Value::Array(parts)) => {
                            for p in parts {
                                let seg = match p {
                                    Value::String(s) => s.as_str(),
                                    Value::Object(o) => {
                                        o.get("value").and_then(Value::as_str).unwrap_or("")
                                    }
                                    _ => "",
                                };
                                b.push('/');
                                b.push_str(seg);
                            }
                        }
                        Some(Value::String(p)) => {
                            if !p.starts_with('/') {
                                b.push('/');
                            }
                            b.push_str(p);
                        }
                        _ => {}
                    }
                    (b, None)
                }
            };
            // Path variables: `/users/:id` with `{key: id, value: 42}`.
            let mut base = base;
            if let Some(vars) = u.get("variable").and_then(Value::as_array) {
                let (scheme, rest) = match base.find("://") {
                    Some(i) => base.split_at(i + 3),
                    None => ("", base.as_str()),
                };
                let replaced: Vec<String> = rest
                    .split('/')
                    .map(|seg| {
                        let value = seg.strip_prefix(':').and_then(|key| {
                            vars.iter()
                                .find(|v| v.get("key").and_then(Value::as_str) == Some(key))
                                .and_then(|v| v.get("value"))
                                .and_then(|v| match v {
                                    Value::String(s) if !s.is_empty() => Some(s.clone()),
                                    Value::Number(n) => Some(n.to_string()),
                                    _ => None,
                                })
                        });
                        value.unwrap_or_else(|| seg.to_string())
                    })
                    .collect();
                base = format!("{scheme}{}", replaced.join("/"));
            }
            let query = match u.get("query").and_then(Value::as_array) {
                Some(params) => {
                    let enabled: Vec<String> = params
                        .iter()
                        .filter(|p| p.get("disabled") != Some(&Value::Bool(true)))
                        .filter_map(|p| {
                            let k = p.get("key").and_then(Value::as_str).unwrap_or("");
                            match p.get("value").and_then(Value::as_str) {
                                Some(v) => Some(format!("{k}={v}")),
                                None if !k.is_empty() => Some(k.to_string()),
                                None => None,
                            }
                        })
                        .collect();
                    (!enabled.is_empty()).then(|| enabled.join("&"))
                }
                None => raw_query,
            };
            match query {
                Some(q) => format!("{base}?{q}"),
                None => base,
            }
        }
        Some(_) => return fail("the request's `url` is neither text nor an object"),
    };
    if text.trim().is_empty() {
        return fail("the request has no URL");
    }
    Ok((text.clone(), text))
}

/// A piece of Postman text: as written, or `{{name}}`.
pub(super) enum Piece<'t> {
    Text(&'t str),
    Var(&'t str),
}

/// Postman text cut at its `{{name}}`s (a name has no braces or line
/// breaks, and at most 200 characters; anything else stays text).
pub(super) fn pieces(text: &str) -> Vec<Piece<'_>> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(open) = rest.find("{{") {
        let after = &rest[open + 2..];
        let Some(close) = after.find("}}") else { break };
        let name = &after[..close];
        if name.is_empty() || name.len() > 200 || name.contains(['{', '}', '\n', '\r']) {
            out.push(Piece::Text(&rest[..open + 2]));
            rest = after;
            continue;
        }
        if open > 0 {
            out.push(Piece::Text(&rest[..open]));
        }
        out.push(Piece::Var(name));
        rest = &after[close + 2..];
    }
    if !rest.is_empty() {
        out.push(Piece::Text(rest));
    }
    out
}

/// The variable names Postman text reads.
pub(super) fn references(text: &str) -> Vec<String> {
    pieces(text)
        .into_iter()
        .filter_map(|p| match p {
            Piece::Var(n) => Some(n.to_string()),
            Piece::Text(_) => None,
        })
        .collect()
}

/// Words run together, each capitalised: `create new-user` → `CreateNewUser`.
pub(super) fn pascal(text: &str) -> String {
    let mut out = String::new();
    for word in text.split(|c: char| !c.is_ascii_alphanumeric()) {
        let mut cs = word.chars();
        if let Some(first) = cs.next() {
            out.push(first.to_ascii_uppercase());
            out.extend(cs);
        }
    }
    out
}

/// A chain variable name for Postman's `name`, not in `taken`.
pub(super) fn fresh_ident(name: &str, taken: &HashSet<String>) -> String {
    let mut ident: String = name
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect();
    if ident.is_empty() || ident.chars().all(|c| c == '_') {
        ident = "var".into();
    }
    if ident.starts_with(|c: char| c.is_ascii_digit()) {
        ident.insert_str(0, "v_");
    }
    if RESERVED_VARS.contains(&ident.as_str()) {
        ident.push_str("_var");
    }
    if taken.contains(&ident) {
        let mut n = 2;
        while taken.contains(&format!("{ident}_{n}")) {
            n += 1;
        }
        ident = format!("{ident}_{n}");
    }
    ident
}
