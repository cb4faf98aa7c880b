//! Text as a chain writes it: literal text that is sent as it is,
//! templates kept, link markers made templates, step names.

use serde_json::Value;

use super::*;

/// Text as a template that renders to it: `{{`, `{%` and `{#` would start
/// template syntax, so their `{` is written `{{ '{' }}`.
pub(crate) fn literal(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '{' && matches!(chars.peek(), Some('{' | '%' | '#')) {
            out.push_str("{{ '{' }}");
        } else {
            out.push(c);
        }
    }
    out
}

/// `text` as a template: written as [`literal`] unless it is one already.
pub(super) fn as_template(templated: bool, text: &str) -> String {
    if templated {
        text.to_string()
    } else {
        literal(text)
    }
}

/// Whether a template reads anything (a variable, a secret, a step)
/// beyond the `{{ '{' }}` that [`literal`] writes.
pub(crate) fn reads_something(template: &str) -> bool {
    template.replace("{{ '{' }}", "").contains("{{")
}

/// The text a template without variables renders to (undoes [`literal`]).
pub(super) fn unliteral(template: &str) -> String {
    template.replace("{{ '{' }}", "{")
}

/// Every string in a JSON value as [`literal`] text.
pub(crate) fn literal_json(v: Value) -> Value {
    match v {
        Value::String(s) => Value::String(literal(&s)),
        Value::Array(a) => Value::Array(a.into_iter().map(literal_json).collect()),
        Value::Object(m) => {
            Value::Object(m.into_iter().map(|(k, v)| (k, literal_json(v))).collect())
        }
        other => other,
    }
}

/// Around the number of a link in a request's text (`\u{E000}3\u{E001}`):
/// a value an earlier response gave, which [`links`] turns into the
/// template that reads it once the step is built. Private-use characters:
/// no capture holds them, and nothing escapes them.
pub(crate) const LINK_OPEN: char = '\u{E000}';
pub(crate) const LINK_CLOSE: char = '\u{E001}';

/// `v` with each link marker replaced by `{{ expression }}`.
pub(crate) fn links(v: Value, expressions: &[String]) -> Value {
    match v {
        Value::String(s) if s.contains(LINK_OPEN) => {
            let mut out = String::with_capacity(s.len());
            let mut rest = s.as_str();
            while let Some(i) = rest.find(LINK_OPEN) {
                out.push_str(&rest[..i]);
                let after = &rest[i + LINK_OPEN.len_utf8()..];
                match after.find(LINK_CLOSE).and_then(|j| {
                    let n: usize = after[..j].parse().ok()?;
                    Some((j, expressions.get(n)?))
                }) {
                    Some((j, expr)) => {
                        out.push_str(&format!("{{{{ {expr} }}}}"));
                        rest = &after[j + LINK_CLOSE.len_utf8()..];
                    }
                    None => {
                        out.push(LINK_OPEN);
                        rest = after;
                    }
                }
            }
            out.push_str(rest);
            Value::String(out)
        }
        Value::Array(a) => Value::Array(a.into_iter().map(|x| links(x, expressions)).collect()),
        Value::Object(m) => Value::Object(
            m.into_iter()
                .map(|(k, x)| (k, links(x, expressions)))
                .collect(),
        ),
        other => other,
    }
}

/// The step's name: the method and the last meaningful path segment
/// (`POST /v1/users` → `PostUsers`).
pub(crate) fn step_name(method: &str, url: Option<&url::Url>) -> String {
    let mut name: String = method
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .enumerate()
        .map(|(i, c)| {
            if i == 0 {
                c.to_ascii_uppercase()
            } else {
                c.to_ascii_lowercase()
            }
        })
        .collect();
    if name.is_empty() || !name.starts_with(|c: char| c.is_ascii_alphabetic()) {
        name.insert_str(0, "Request");
    }
    let segment = url.and_then(|u| u.path_segments()).and_then(|segments| {
        segments.rev().find(|s| {
            s.chars().any(|c| c.is_ascii_alphabetic())
                && !s.chars().all(|c| c.is_ascii_hexdigit() || c == '-')
        })
    });
    if let Some(s) = segment {
        for word in s.split(|c: char| !c.is_ascii_alphanumeric()) {
            let mut cs = word.chars();
            if let Some(first) = cs.next() {
                name.push(first.to_ascii_uppercase());
                name.extend(cs);
            }
        }
    }
    name
}

/// A valid step name: `[A-Za-z_][A-Za-z0-9_]*`.
pub(crate) fn check_step_name(name: &str) -> Result<(), ImportError> {
    let ok = name.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    if ok {
        Ok(())
    } else {
        fail(format!(
            "`{}` is not a step name: use letters, digits and `_`, not starting with a digit",
            shown(name)
        ))
    }
}
