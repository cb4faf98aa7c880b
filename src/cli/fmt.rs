//! `pytopus fmt`: chain files with their keys in a fixed order — YAML by
//! moving its text ([`crate::chain::reorder`]: comments, blank lines and
//! flow style kept), JSON written again — and, in chains that have
//! `last_modified`, that date moved when the content changed.
//!
//! "Changed" is decided by `content_digest`, a SHA-256 of the canonical
//! content without the two stamps, which `fmt` writes below
//! `last_modified`. Reordering alone never moves the date; editing a value
//! does, at the next `fmt`.

use std::path::Path;
use std::sync::Arc;

use serde_json::{Map, Value};

use super::Exit;
use super::args::FmtArgs;
use super::fail::{Fail, Outcome};
use crate::chain::{self, Format, reorder};
use crate::diagnostic::Source;
use crate::report::to_stderr;

/// Chain keys in the order `fmt` writes them; unknown ones cannot occur (the
/// file is parsed first).
const CHAIN_KEYS: &[&str] = &[
    "name",
    "id",
    "description",
    "last_modified",
    "content_digest",
    // When it runs (`pytopus serve`): what triggers it, then its timer.
    "trigger",
    "schedule",
    "timezone",
    "overlap",
    // Who hears when it fails.
    "notify",
    // What a caller gives it, then its own values.
    "inputs",
    "vars",
    "defaults",
    "connectors",
    "parallel",
    "steps",
    "api_chain",
    "finally",
    "outputs",
    "output",
];

/// Step keys: what it is, whether and how often it runs, what it sends, how,
/// and what it checks and keeps.
const STEP_KEYS: &[&str] = &[
    "name",
    "when",
    "needs",
    "for_each",
    "concurrency",
    "chain",
    "with",
    "connector",
    "endpoint",
    "params",
    "method",
    "url",
    "query_params",
    "query",
    "headers",
    "auth",
    "tls",
    "body",
    "form",
    "multipart",
    "body_file",
    "graphql",
    "timeout",
    "max_response_size",
    "retry",
    "poll",
    "follow_redirects",
    "paginate",
    "expect",
    "extract",
    "save_to",
    "on_error",
    "on_success",
    "on_failure",
];

const DEFAULTS_KEYS: &[&str] = &[
    "headers",
    "query_params",
    "query",
    "auth",
    "tls",
    "timeout",
    "max_response_size",
    "retry",
];

pub fn run(args: FmtArgs) -> Outcome {
    let mut exit = Exit::Success;
    for path in &args.chains {
        match one(path, &args) {
            Ok(true) if args.check => {
                to_stderr(&format!("{}: would be reformatted\n", path.display()));
                if exit == Exit::Success {
                    exit = Exit::StepFailed;
                }
            }
            Ok(true) => to_stderr(&format!("{}: formatted\n", path.display())),
            Ok(false) => to_stderr(&format!("{}: unchanged\n", path.display())),
            // Said now, between the other files' lines; the next is formatted.
            Err(fail) => exit = fail.report(),
        }
    }
    Ok(exit)
}

/// Formats one file; `Ok(true)` when it changes (or would, with `--check`).
fn one(path: &Path, args: &FmtArgs) -> Result<bool, Fail> {
    let text = crate::files::read_text(Some(path), crate::files::MAX_INPUT)
        .map_err(|e| Fail::usage(format!("cannot read {}: {e}", path.display())))?;
    let source = Arc::new(Source {
        name: path.display().to_string(),
        text: text.clone(),
    });
    // The shape must be a chain's: `fmt` never rewrites what it cannot read back.
    let parsed = chain::parse(Arc::clone(&source)).map_err(|d| Fail::Usage(d.into()))?;
    let (value, _) = chain::read_document(&source).map_err(|d| Fail::Usage(d.into()))?;
    let format = Format::detect(&source.name, &text);

    // The stamps, only where the chain has opted in with `last_modified`.
    let stamps = parsed.chain.last_modified.as_ref().map(|old| {
        let mut content = canonical(&value);
        if let Value::Object(m) = &mut content {
            m.shift_remove("last_modified");
            m.shift_remove("content_digest");
        }
        let digest = digest(&content);
        let unchanged = parsed.chain.content_digest.as_deref() == Some(digest.as_str());
        let date = if unchanged { old.clone() } else { today() };
        (date, digest)
    });
    let mut expected = value.clone();
    if let (Some((date, digest)), Value::Object(m)) = (&stamps, &mut expected) {
        m.insert("last_modified".into(), Value::from(date.as_str()));
        m.insert("content_digest".into(), Value::from(digest.as_str()));
    }

    let out = match format {
        Format::Json => {
            let content = match &stamps {
                Some((date, digest)) => stamp(canonical(&value), date, digest),
                None => canonical(&value),
            };
            serde_json::to_string_pretty(&content).unwrap_or_default() + "\n"
        }
        Format::Yaml => {
            let orders = reorder::Orders {
                chain: CHAIN_KEYS,
                defaults: DEFAULTS_KEYS,
                step: STEP_KEYS,
            };
            let moved = reorder::reorder(&text, &orders).map_err(|r| {
                Fail::usage(format!(
                    "{}:{}: cannot put the keys in order: {}; the file is left as it is",
                    path.display(),
                    r.line,
                    r.why
                ))
            })?;
            match &stamps {
                Some((date, digest)) => stamp_yaml(&moved, date, digest),
                None => moved,
            }
        }
    };
    // What is written must read back as the same chain.
    let back = Arc::new(Source {
        name: source.name.clone(),
        text: out.clone(),
    });
    match chain::read_document(&back) {
        Ok((again, _)) if again == expected => {}
        _ => {
            return Err(Fail::usage(format!(
                "{}: the keys could not be put in order without changing what the file says (anchors and aliases, or an unusual layout); the file is left as it is",
                path.display()
            )));
        }
    }
    if out == text {
        return Ok(false);
    }
    if !args.check {
        crate::files::write(path, out.as_bytes())
            .map_err(|e| Fail::failed(format!("cannot write {}: {e}", path.display())))?;
    }
    Ok(true)
}

/// YAML text with `last_modified` and `content_digest` set in place: their
/// lines rewritten, `content_digest` added after `last_modified` when it
/// is not there yet.
fn stamp_yaml(text: &str, date: &str, digest: &str) -> String {
    let newline = if text.contains("\r\n") { "\r\n" } else { "\n" };
    let date_line = format!("last_modified: \"{date}\"");
    let digest_line = format!("content_digest: {digest}");
    let mut out = String::with_capacity(text.len() + 64);
    let mut has_digest = text.lines().any(|l| l.starts_with("content_digest:"));
    for line in text.split_inclusive('\n') {
        let (body, ending) = match line.strip_suffix("\r\n") {
            Some(b) => (b, "\r\n"),
            None => match line.strip_suffix('\n') {
                Some(b) => (b, "\n"),
                None => (line, ""),
            },
        };
        if body.starts_with("last_modified:") {
            out.push_str(&date_line);
            out.push_str(if ending.is_empty() { newline } else { ending });
            if !has_digest {
                out.push_str(&digest_line);
                out.push_str(newline);
                has_digest = true;
            }
        } else if body.starts_with("content_digest:") {
            out.push_str(&digest_line);
            out.push_str(ending);
        } else {
            out.push_str(line);
        }
    }
    out
}

/// The value with chain, defaults and step keys in canonical order; maps the
/// user names (`vars`, `headers`, `extract`…) keep their order.
fn canonical(value: &Value) -> Value {
    let Value::Object(chain) = value else {
        return value.clone();
    };
    let mut out = ordered(chain, CHAIN_KEYS);
    if let Some(Value::Object(d)) = out.get("defaults") {
        let d = ordered(d, DEFAULTS_KEYS);
        out.insert("defaults".into(), Value::Object(d));
    }
    for key in ["steps", "api_chain"] {
        if let Some(Value::Array(steps)) = out.get(key) {
            let steps = steps
                .iter()
                .map(|s| match s {
                    Value::Object(m) => Value::Object(ordered(m, STEP_KEYS)),
                    other => other.clone(),
                })
                .collect();
            out.insert(key.into(), Value::Array(steps));
        }
    }
    Value::Object(out)
}

/// `map`'s entries in the order of `keys`, then any others as they were.
fn ordered(map: &Map<String, Value>, keys: &[&str]) -> Map<String, Value> {
    let mut out = Map::new();
    for k in keys {
        if let Some(v) = map.get(*k) {
            out.insert((*k).to_string(), v.clone());
        }
    }
    for (k, v) in map {
        if !out.contains_key(k) {
            out.insert(k.clone(), v.clone());
        }
    }
    out
}

/// `content` with `last_modified` and `content_digest` in their places.
fn stamp(content: Value, date: &str, digest: &str) -> Value {
    let Value::Object(mut m) = content else {
        return content;
    };
    m.insert("last_modified".into(), Value::from(date));
    m.insert("content_digest".into(), Value::from(digest));
    Value::Object(ordered(&m, CHAIN_KEYS))
}

/// `sha256:` and the first 16 hex digits of the SHA-256 of the compact JSON.
fn digest(content: &Value) -> String {
    let bytes = serde_json::to_vec(content).unwrap_or_default();
    let d = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, &bytes);
    let hex: String = d.as_ref()[..8].iter().map(|b| format!("{b:02x}")).collect();
    format!("sha256:{hex}")
}

/// Today's date in UTC, `YYYY-MM-DD`.
fn today() -> String {
    humantime::format_rfc3339(std::time::SystemTime::now()).to_string()[..10].to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn keys_are_put_in_canonical_order_and_user_maps_keep_theirs() {
        let v = json!({"steps": [{"url": "u", "name": "A", "extract": {"z": "$.z", "a": "$.a"}}],
                       "vars": {"b": 1, "a": 2}, "name": "n"});
        let c = canonical(&v);
        assert_eq!(
            serde_json::to_string(&c).unwrap(),
            r#"{"name":"n","vars":{"b":1,"a":2},"steps":[{"name":"A","url":"u","extract":{"z":"$.z","a":"$.a"}}]}"#
        );
    }

    fn args(check: bool) -> FmtArgs {
        FmtArgs {
            chains: Vec::new(),
            check,
        }
    }

    #[test]
    fn a_file_that_cannot_be_formatted_is_a_usage_error_and_left_alone() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("missing.yaml");
        let fail = one(&missing, &args(false)).unwrap_err();
        assert_eq!(fail.exit(), Exit::Usage);
        assert!(
            fail.render(false).starts_with("error: cannot read "),
            "{fail:?}"
        );

        let tabbed = dir.path().join("c.yaml");
        let text = "steps:\n  - url: https://h/\n    name: A\n\"name\" : n\n";
        std::fs::write(&tabbed, text).unwrap();
        let fail = one(&tabbed, &args(false)).unwrap_err();
        assert_eq!(fail.exit(), Exit::Usage);
        assert!(
            fail.render(false)
                .contains("c.yaml:4: cannot put the keys in order: not a `key: value` line"),
            "{}",
            fail.render(false)
        );
        assert_eq!(std::fs::read_to_string(&tabbed).unwrap(), text);
    }

    #[test]
    fn check_says_a_file_would_change_without_writing_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.json");
        let text = r#"{"steps": [{"url": "https://h/", "name": "A"}]}"#;
        std::fs::write(&path, text).unwrap();
        assert!(one(&path, &args(true)).unwrap());
        assert_eq!(std::fs::read_to_string(&path).unwrap(), text);
    }

    /// A key the chain format gains has its place in `fmt`'s order.
    #[test]
    fn every_key_of_the_format_has_a_place() {
        let schema = crate::chain::model::json_schema();
        let keys = |v: &Value| -> Vec<String> {
            v.get("properties")
                .and_then(Value::as_object)
                .map(|p| p.keys().cloned().collect())
                .unwrap_or_default()
        };
        for (what, props, order) in [
            ("chain", keys(&schema), CHAIN_KEYS),
            ("step", keys(&schema["$defs"]["Step"]), STEP_KEYS),
            (
                "defaults",
                keys(&schema["$defs"]["Defaults"]),
                DEFAULTS_KEYS,
            ),
        ] {
            assert!(!props.is_empty(), "{what}");
            for k in props {
                assert!(
                    order.contains(&k.as_str()),
                    "{what} key `{k}` has no place in fmt's order"
                );
            }
        }
    }

    #[test]
    fn the_digest_ignores_the_stamps_and_key_order() {
        let a = canonical(&json!({"name": "n", "steps": []}));
        let b = canonical(&json!({"steps": [], "name": "n"}));
        assert_eq!(digest(&a), digest(&b));
        assert_ne!(
            digest(&a),
            digest(&canonical(&json!({"name": "m", "steps": []})))
        );
    }
}
