//! Names and small values an import writes: connector, endpoint and
//! parameter names, templates, literals, URLs.

use std::collections::HashSet;

use serde_json::Value;

use super::*;

/// `name_hint` if given (made valid if need be), else from the title.
pub(super) fn connector_name(
    title: &str,
    hint: Option<&str>,
    warnings: &mut Vec<String>,
) -> String {
    if let Some(hint) = hint {
        let name = slug(hint, true);
        if name != hint {
            warnings.push(format!(
                "the name `{hint}` is not [a-z0-9_-] starting with a letter: using `{name}`"
            ));
        }
        return name;
    }
    slug(title, false)
}

/// `[a-z0-9_-]`, starting with a letter, for a connector name. Runs of
/// other characters become one `_`; `keep_dashes` keeps `-` and `_` as given.
pub(super) fn slug(text: &str, keep_dashes: bool) -> String {
    let mut out = String::new();
    let mut gap = false;
    for c in text.chars() {
        if c.is_ascii_alphanumeric() || (keep_dashes && (c == '-' || c == '_')) {
            if gap && !out.is_empty() {
                out.push('_');
            }
            gap = false;
            out.push(c.to_ascii_lowercase());
        } else {
            gap = true;
        }
    }
    if out.len() > MAX_NAME_LEN {
        let cut = out[..MAX_NAME_LEN].rfind('_').unwrap_or(MAX_NAME_LEN);
        out.truncate(cut);
    }
    let out = out.trim_end_matches(['_', '-']).to_string();
    match out.chars().next() {
        None => "api".to_string(),
        Some(c) if c.is_ascii_lowercase() => out,
        Some(_) => format!("api_{out}"),
    }
}

/// `getPetByID` → `get_pet_by_id`, `create-task` → `create_task`,
/// `get /pets/{petId}` → `get_pets_pet_id`.
pub(super) fn snake_case(text: &str) -> String {
    let out = snake_words(text);
    match out.chars().next() {
        Some(c) if c.is_ascii_digit() => format!("op_{out}"),
        _ => out,
    }
}

/// Snake case, without care for what the result starts with.
pub(super) fn snake_words(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::new();
    for (i, &c) in chars.iter().enumerate() {
        if !c.is_ascii_alphanumeric() {
            if !out.is_empty() && !out.ends_with('_') {
                out.push('_');
            }
            continue;
        }
        if c.is_ascii_uppercase() && i > 0 {
            let prev = chars[i - 1];
            let next_lower = chars.get(i + 1).is_some_and(char::is_ascii_lowercase);
            let boundary = prev.is_ascii_lowercase()
                || prev.is_ascii_digit()
                || (prev.is_ascii_uppercase() && next_lower);
            if boundary && !out.is_empty() && !out.ends_with('_') {
                out.push('_');
            }
        }
        out.push(c.to_ascii_lowercase());
    }
    out.trim_end_matches('_').to_string()
}

/// The name a template reads a value as: `params.NAME`. The name itself
/// when it is an identifier, else snake case (`due-date` → `due_date`).
pub(super) fn param_ident(name: &str) -> String {
    let mut chars = name.chars();
    let ident = chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_');
    if ident {
        return name.to_string();
    }
    let s = snake_words(name);
    match s.chars().next() {
        None => "value".to_string(),
        Some(c) if c.is_ascii_digit() => format!("p_{s}"),
        Some(_) => s,
    }
}

/// `base`, or `base_2`, `base_3`, … whichever is free; marks it taken.
pub(super) fn unique(base: &str, taken: &mut HashSet<String>) -> String {
    if taken.insert(base.to_string()) {
        return base.to_string();
    }
    let mut n = 2;
    loop {
        let candidate = format!("{base}_{n}");
        if taken.insert(candidate.clone()) {
            return candidate;
        }
        n += 1;
    }
}

pub(super) fn template(expr: &str) -> Value {
    Value::String(format!("{{{{ {expr} }}}}"))
}

pub(super) fn secret(name: &str) -> Value {
    template(&format!("secret('{name}')"))
}

/// A literal value where a template is expected: text that looks like a
/// template is wrapped in `{% raw %}`.
pub(super) fn literal(v: Value) -> Value {
    match v {
        Value::String(s) if s.contains("{{") || s.contains("{%") || s.contains("{#") => {
            Value::String(format!("{{% raw %}}{s}{{% endraw %}}"))
        }
        other => other,
    }
}

// ---------------------------------------------------------------- URLs

/// `scheme://…`.
pub(super) fn is_absolute(url: &str) -> bool {
    url.split_once("://").is_some_and(|(scheme, _)| {
        let mut chars = scheme.chars();
        chars.next().is_some_and(|c| c.is_ascii_alphabetic())
            && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
    })
}

/// `relative` resolved against the absolute `base`.
pub(super) fn join_url(base: &str, relative: &str) -> String {
    if relative.starts_with('/') {
        let after_scheme = base.find("://").map_or(0, |i| i + 3);
        let origin_end = base[after_scheme..]
            .find('/')
            .map_or(base.len(), |i| after_scheme + i);
        format!("{}{relative}", &base[..origin_end])
    } else {
        format!("{}/{relative}", base.trim_end_matches('/'))
    }
}

/// A scalar schema default as a template literal: `3`, `true`, `'open'`.
pub(super) fn jinja_literal(v: &Value) -> Option<String> {
    match v {
        Value::Bool(b) => Some(b.to_string()),
        Value::Number(n) => Some(n.to_string()),
        Value::String(s) => Some(format!(
            "'{}'",
            s.replace('\\', "\\\\").replace('\'', "\\'")
        )),
        _ => None,
    }
}

/// An operation's `description` made short: its first paragraph on one
/// line, cut to its first sentence when long.
pub(super) fn short_description(text: &str) -> Option<String> {
    const LONG: usize = 160;
    let paragraph: Vec<&str> = text
        .lines()
        .map(str::trim)
        .skip_while(|l| l.is_empty())
        .take_while(|l| !l.is_empty())
        .collect();
    let mut line = paragraph.join(" ");
    if line.is_empty() {
        return None;
    }
    if line.chars().count() > LONG {
        if let Some(end) = line.find(". ").filter(|i| *i < LONG) {
            line.truncate(end + 1);
        } else {
            let cut: String = line.chars().take(LONG).collect();
            let cut = cut.rfind(' ').map_or(cut.as_str(), |i| &cut[..i]);
            line = format!("{cut}…");
        }
    }
    Some(line)
}

/// `application/json`, `application/problem+json`, `application/json; charset=utf-8`.
pub(super) fn is_json(content_type: &str) -> bool {
    let essence = content_type
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    essence == "application/json" || essence.ends_with("+json") || essence == "text/json"
}

/// `#/components/<kind>/<name>` → `<name>` (JSON Pointer escapes undone).
pub(super) fn ref_name(path: &str, kind: &str) -> Option<String> {
    let name = path
        .strip_prefix("#/components/")?
        .strip_prefix(kind)?
        .strip_prefix('/')?;
    Some(name.replace("~1", "/").replace("~0", "~"))
}
