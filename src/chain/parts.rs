//! How `multipart:` and `body_file:` are written (docs/reference.md,
//! "Uploads"): which values name a file. Read by `resolve` (which looks at
//! the files) and `compile` (which builds the parts), so both read a value
//! the same way.

use schemars::JsonSchema;
use serde_json::Value;

use super::model::Step;

/// The file a multipart value written as text names: `"@path"` → `path`.
/// `"@@…"` is not a file but text starting with `@`.
pub fn at_file(text: &str) -> Option<&str> {
    text.strip_prefix('@').filter(|rest| !rest.starts_with('@'))
}

/// A multipart value written as text, as sent: `"@@x"` → `"@x"`.
pub fn unescaped(text: &str) -> &str {
    match text.strip_prefix("@@") {
        Some(_) => &text[1..],
        None => text,
    }
}

/// The files a step uploads, as written (relative to its chain file):
/// `multipart` files and `body_file`, in the order written.
pub fn files(step: &Step) -> Vec<&str> {
    fn part<'a>(value: &'a Value, out: &mut Vec<&'a str>) {
        match value {
            Value::String(s) => out.extend(at_file(s)),
            Value::Object(m) => out.extend(m.get("file").and_then(Value::as_str)),
            Value::Array(items) => {
                for item in items.iter().filter(|i| !i.is_array()) {
                    part(item, out);
                }
            }
            _ => {}
        }
    }
    let mut out = Vec::new();
    for value in step.multipart.iter().flat_map(|m| m.values()) {
        part(value, &mut out);
    }
    match step.body_file.as_deref() {
        Some(Value::String(path)) => out.push(path),
        Some(Value::Object(m)) => out.extend(m.get("path").and_then(Value::as_str)),
        _ => {}
    }
    out
}

/// The JSON Schema of one `multipart:` value (the model keeps the values as
/// written; `compile` reads them).
pub struct PartSchema;

impl JsonSchema for PartSchema {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "MultipartPart".into()
    }
    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        let one = serde_json::json!({
            "anyOf": [
                {"type": ["string", "number", "boolean", "null"],
                 "description": "A field (a template; null leaves it out, a list repeats it). \"@path\" sends a file (relative to the chain file); \"@@…\" is text starting with @."},
                {"type": "object", "required": ["file"], "additionalProperties": false,
                 "description": "A file, streamed from disk when the request is sent.",
                 "properties": {
                    "file": {"type": "string", "description": "Path relative to the chain file (not a template)."},
                    "filename": {"type": "string", "description": "File name sent (a template); default the path's last component."},
                    "content_type": {"type": "string", "description": "The part's Content-Type (a template); default guessed from the file name, else application/octet-stream."}
                 }},
                {"type": "object", "required": ["value"], "additionalProperties": false,
                 "description": "A field given explicitly: a text is sent as it is (never a file), anything else as JSON.",
                 "properties": {
                    "value": {"description": "A template; null leaves the part out."},
                    "filename": {"type": "string", "description": "Sends the value as a file of this name (a template)."},
                    "content_type": {"type": "string", "description": "The part's Content-Type (a template); default application/json for a value that is not text."}
                 }}
            ]
        });
        let mut schema = one.clone();
        if let Some(any) = schema.get_mut("anyOf").and_then(Value::as_array_mut) {
            any.push(serde_json::json!({
                "type": "array",
                "description": "The part repeated, once per element.",
                "items": one
            }));
        }
        schemars::Schema::try_from(schema).unwrap_or_default()
    }
}

/// The JSON Schema of `body_file:`.
pub struct BodyFileSchema;

impl JsonSchema for BodyFileSchema {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "BodyFile".into()
    }
    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "description": "A file sent as the whole body, streamed from disk: its path relative to the chain file (not a template), or {path, content_type}.",
            "anyOf": [
                {"type": "string"},
                {"type": "object", "required": ["path"], "additionalProperties": false,
                 "properties": {
                    "path": {"type": "string"},
                    "content_type": {"type": "string", "description": "Default: the step's Content-Type header, else guessed from the file name, else application/octet-stream."}
                 }}
            ]
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_at_names_a_file_and_two_are_text() {
        assert_eq!(at_file("@report.pdf"), Some("report.pdf"));
        assert_eq!(at_file("@@handle"), None);
        assert_eq!(at_file("plain"), None);
        assert_eq!(at_file("a@b"), None);
        assert_eq!(unescaped("@@handle"), "@handle");
        assert_eq!(unescaped("@@@x"), "@@x");
        assert_eq!(unescaped("a@@b"), "a@@b");
    }
}
