//! `multipart:` and `body_file:`: the parts and files a step uploads. The
//! files were looked at by `resolve` (there, readable, their size); a file
//! that cannot be sent is an error here, before anything is sent.

use std::path::PathBuf;

use indexmap::IndexMap;
use serde_json::Value;

use super::{Validator, chain_dir};
use crate::chain::parts::{at_file, unescaped};
use crate::chain::spans::{join_index, join_key};
use crate::plan::{BodySpec, PartSource, PartSpec};
use crate::template::Tmpl;

/// The keys of a part written as a map.
const PART_KEYS: &[&str] = &["file", "value", "filename", "content_type"];

impl Validator<'_> {
    /// `multipart:` → its parts, in the order written.
    pub(super) fn multipart(
        &mut self,
        parts: &IndexMap<String, Value>,
        path: &str,
        at: usize,
    ) -> Option<BodySpec> {
        let before = self.diags.len();
        let mut out = Vec::with_capacity(parts.len());
        for (name, value) in parts {
            let p = join_key(path, name);
            match value {
                Value::Array(items) => {
                    for (k, item) in items.iter().enumerate() {
                        let ip = join_index(&p, k);
                        if item.is_array() {
                            self.error_value(
                                &ip,
                                "a list inside a part's list: each element is one part",
                                Some("help: an element is text, \"@path\" or a map with `file` or `value`".into()),
                            );
                            continue;
                        }
                        self.part(name, item, &ip, at, &mut out);
                    }
                }
                other => self.part(name, other, &p, at, &mut out),
            }
        }
        (self.diags.len() == before).then_some(BodySpec::Multipart(out))
    }

    /// One part: text (a template), `"@path"`, or a map.
    fn part(&mut self, name: &str, value: &Value, path: &str, at: usize, out: &mut Vec<PartSpec>) {
        let spec = |source, filename, content_type| PartSpec {
            name: name.to_string(),
            source,
            filename,
            content_type,
        };
        match value {
            Value::String(s) => {
                if let Some(file) = at_file(s) {
                    if let Some(p) = self.upload_file(file, path) {
                        out.push(spec(PartSource::File(p), None, None));
                    }
                } else if let Some(t) = self.compile_text(path, unescaped(s), at) {
                    out.push(spec(PartSource::Field(t), None, None));
                }
            }
            Value::Object(map) => {
                self.only_keys(map, PART_KEYS, path, "a multipart part", || {
                    "help: a part map has `file` (a path) or `value`, and may have `filename` and `content_type`".into()
                });
                let filename = self.part_text(map, "filename", path, at);
                let content_type = self.part_text(map, "content_type", path, at);
                match (map.get("file"), map.get("value")) {
                    (Some(Value::String(f)), None) => {
                        if let Some(p) = self.upload_file(f, &join_key(path, "file")) {
                            out.push(spec(PartSource::File(p), filename, content_type));
                        }
                    }
                    (Some(_), None) => self.error_value(
                        &join_key(path, "file"),
                        "`file` is a path, written as text",
                        None,
                    ),
                    (None, Some(v)) => {
                        if let Some(t) = self.compile(&join_key(path, "value"), v, at) {
                            out.push(spec(PartSource::Value(t), filename, content_type));
                        }
                    }
                    (Some(_), Some(_)) => self.error(
                        &join_key(path, "value"),
                        "a part has `file` or `value`, not both",
                        None,
                    ),
                    (None, None) => self.error_value(
                        path,
                        format!("part `{name}` is a map without `file` or `value`"),
                        Some(
                            "help: a file is `{file: path}`; to send JSON, write `{value: {…}}`"
                                .into(),
                        ),
                    ),
                }
            }
            other => {
                if let Some(t) = self.compile(path, other, at) {
                    out.push(spec(PartSource::Field(t), None, None));
                }
            }
        }
    }

    /// `filename` or `content_type` of a part map: text, a template.
    fn part_text(
        &mut self,
        map: &serde_json::Map<String, Value>,
        key: &str,
        path: &str,
        at: usize,
    ) -> Option<Tmpl> {
        let p = join_key(path, key);
        match map.get(key)? {
            Value::String(s) => self.compile_text(&p, s, at),
            _ => {
                self.error_value(&p, format!("`{key}` must be text"), None);
                None
            }
        }
    }

    /// Reports the keys of `map` that are not in `keys`.
    fn only_keys(
        &mut self,
        map: &serde_json::Map<String, Value>,
        keys: &[&str],
        path: &str,
        what: &str,
        help: impl Fn() -> String,
    ) {
        for key in map.keys().filter(|k| !keys.contains(&k.as_str())) {
            let hint = match crate::diagnostic::suggest(key, keys.iter().copied()) {
                Some(near) => format!("help: did you mean `{near}`?"),
                None => help(),
            };
            self.error(
                &join_key(path, key),
                format!("unknown key `{key}` in {what}"),
                Some(hint),
            );
        }
    }

    /// A file to upload, as written: joined to the chain's directory, and
    /// there (`resolve` looked). Paths are not templates: every file a
    /// chain sends is known and checked before anything is sent, and no
    /// variable (which a `serve` caller may set) chooses a file to send.
    fn upload_file(&mut self, file: &str, path: &str) -> Option<PathBuf> {
        if file.contains("{{") || file.contains("{%") {
            self.error_value(
                path,
                format!("a file path is not a template: `{file}`"),
                Some("help: write the path out (relative to the chain file); for text starting with `@`, write `@@`".into()),
            );
            return None;
        }
        if file.trim().is_empty() {
            self.error_value(
                path,
                "no file path after `@`",
                Some("help: `\"@report.pdf\"` sends a file; `\"@@\"` is the text `@`".into()),
            );
            return None;
        }
        let full = chain_dir(&self.source.name).join(file);
        match self.resolved.upload(&full) {
            Ok(_) => Some(full),
            Err(why) => {
                self.error_value(
                    path,
                    format!("cannot upload {}: {why}", full.display()),
                    None,
                );
                None
            }
        }
    }

    /// `body_file:` — a path, or `{path, content_type}`.
    pub(super) fn body_file(&mut self, spec: &Value, path: &str, at: usize) -> Option<BodySpec> {
        match spec {
            Value::String(f) => Some(BodySpec::File {
                path: self.upload_file(f, path)?,
                content_type: None,
            }),
            Value::Object(map) => {
                self.only_keys(map, &["path", "content_type"], path, "`body_file`", || {
                    "help: `body_file` has `path` and may have `content_type`".into()
                });
                let content_type = self.part_text(map, "content_type", path, at);
                match map.get("path") {
                    Some(Value::String(f)) => Some(BodySpec::File {
                        path: self.upload_file(f, &join_key(path, "path"))?,
                        content_type,
                    }),
                    _ => {
                        self.error_value(path, "`body_file` needs `path`, written as text", None);
                        None
                    }
                }
            }
            _ => {
                self.error_value(
                    path,
                    "`body_file` is a path, or `{path, content_type}`",
                    None,
                );
                None
            }
        }
    }
}
