//! The filters and functions pytopus adds to minijinja's, and the objects
//! `--dry-run` (placeholders) and `env` put in the context.

use std::sync::Arc;

use base64::Engine as _;
use minijinja::value::{Object, ObjectRepr};
use minijinja::{Error, ErrorKind, Value as MjValue};
use serde_json::Value;

use super::json::{from_json, to_json};
use crate::jsonpath::JsonPath;

/// Percent-encodes a value as one URL path segment: everything but
/// unreserved characters (RFC 3986), so `/`, `?` and `#` cannot change the path.
pub(super) fn path_segment(v: MjValue) -> String {
    let text = match v.as_str() {
        Some(s) => s.to_string(),
        None => v.to_string(),
    };
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

pub(super) fn b64encode(v: MjValue) -> Result<String, Error> {
    let bytes = match v.as_bytes() {
        Some(b) => b.to_vec(),
        None => v.to_string().into_bytes(),
    };
    Ok(base64::engine::general_purpose::STANDARD.encode(bytes))
}

pub(super) fn b64decode(s: &str) -> Result<String, Error> {
    let t = s.trim();
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(t)
        .or_else(|_| {
            base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(t.trim_end_matches('='))
        })
        .map_err(|e| Error::new(ErrorKind::InvalidOperation, format!("b64decode: {e}")))?;
    String::from_utf8(bytes).map_err(|_| {
        Error::new(
            ErrorKind::InvalidOperation,
            "b64decode: the decoded bytes are not UTF-8 text",
        )
    })
}

pub(super) fn fromjson(s: &str) -> Result<MjValue, Error> {
    let v: Value = serde_json::from_str(s)
        .map_err(|e| Error::new(ErrorKind::InvalidOperation, format!("fromjson: {e}")))?;
    Ok(from_json(&v))
}

pub(super) fn jsonpath_filter(v: MjValue, path: &str) -> Result<MjValue, Error> {
    if let Some(p) = v.downcast_object_ref::<Placeholder>() {
        let rest = path.trim_start_matches('$');
        return Ok(MjValue::from_object(Placeholder(format!("{}{rest}", p.0))));
    }
    let p = JsonPath::compile(path).map_err(|e| Error::new(ErrorKind::InvalidOperation, e))?;
    let doc = to_json(&v)?;
    let out = p
        .extract(&doc)
        .map_err(|e| Error::new(ErrorKind::InvalidOperation, e))?;
    Ok(from_json(&out))
}

/// Stands in for a value that only a response would give (used by `--dry-run`).
/// Reading a field of it gives another placeholder; it prints as `<GetUser.id>`.
#[derive(Debug)]
pub struct Placeholder(pub String);

impl std::fmt::Display for Placeholder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "<{}>", self.0)
    }
}

impl Object for Placeholder {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Plain
    }
    fn get_value(self: &Arc<Self>, key: &MjValue) -> Option<MjValue> {
        let seg = match key.as_str() {
            Some(s) => format!("{}.{s}", self.0),
            None => format!("{}[{key}]", self.0),
        };
        Some(MjValue::from_object(Placeholder(seg)))
    }
    fn render(self: &Arc<Self>, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "<{}>", self.0)
    }
}

/// Environment variables, looked up when a template reads `env.NAME`.
#[derive(Debug)]
pub struct EnvVars;

impl Object for EnvVars {
    fn get_value(self: &Arc<Self>, key: &MjValue) -> Option<MjValue> {
        std::env::var(key.as_str()?).ok().map(MjValue::from)
    }
}

/// `x is matching("^a+$")`: whether the text (a number or a boolean as
/// written) has a match of the regular expression.
pub(super) fn matching(v: MjValue, pattern: &str) -> Result<bool, Error> {
    let re = regex::RegexBuilder::new(pattern)
        .size_limit(1 << 20)
        .build()
        .map_err(|e| {
            Error::new(
                ErrorKind::InvalidOperation,
                format!("`{pattern}` is not a usable regular expression: {e}"),
            )
        })?;
    let text = match v.as_str() {
        Some(s) => s.to_string(),
        None if v.is_undefined() || v.is_none() => return Ok(false),
        None => v.to_string(),
    };
    Ok(re.is_match(&text))
}
