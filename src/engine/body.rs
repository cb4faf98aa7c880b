//! A step's request body, rendered: `body`, `form`, `graphql`, and the
//! uploads (`multipart`, `body_file`), whose files are measured here and
//! streamed by the transport when the request is sent.

use std::path::Path;
use std::sync::Arc;

use serde_json::Value;

use super::outcome::StepError;
use super::step::StepRunner;
use crate::plan::{BodySpec, PartSource, PartSpec};
use crate::template::{Tmpl, value_to_text};
use crate::transport::Body;
use crate::transport::upload::{FileRef, Multipart, Part, PartData};

impl StepRunner<'_> {
    /// The body (`body`, `graphql`, `form`, `multipart`, `body_file`),
    /// with the content type it implies unless the step set one.
    pub(super) fn render_body(
        &self,
        ctx: &minijinja::Value,
        headers: &mut Vec<(String, String)>,
    ) -> Result<Option<Body>, StepError> {
        let step = self.step;
        Ok(match step.body.as_deref() {
            None => None,
            Some(BodySpec::Value(t)) => {
                let mut v = self.render_field("body", t, ctx)?;
                // A connector endpoint's optional fields that were not given
                // render to null: they are left out, as in a form.
                if let (Some(c), Value::Object(fields)) = (&step.connector, &mut v)
                    && c.endpoint_body
                {
                    fields.retain(|_, v| !v.is_null());
                }
                let (bytes, ct) = match v {
                    Value::String(s) => (s.into_bytes(), "text/plain; charset=utf-8"),
                    other => (
                        serde_json::to_vec(&other)
                            .map_err(|e| StepError::Request(e.to_string()))?,
                        "application/json",
                    ),
                };
                content_type(headers, ct);
                Some(Body::Bytes(bytes))
            }
            Some(BodySpec::GraphQl {
                query,
                variables,
                operation_name,
            }) => {
                let mut doc = serde_json::Map::new();
                doc.insert("query".into(), Value::String(query.clone()));
                if let Some(v) = variables {
                    doc.insert(
                        "variables".into(),
                        self.render_field("graphql.variables", v, ctx)?,
                    );
                }
                if let Some(op) = operation_name {
                    doc.insert("operationName".into(), Value::String(op.clone()));
                }
                content_type(headers, "application/json");
                Some(Body::Bytes(
                    serde_json::to_vec(&Value::Object(doc))
                        .map_err(|e| StepError::Request(e.to_string()))?,
                ))
            }
            Some(BodySpec::Form(fields)) => {
                let mut ser = url::form_urlencoded::Serializer::new(String::new());
                for (k, t) in fields {
                    match self.render_field(&format!("form.{k}"), t, ctx)? {
                        Value::Null => {}
                        Value::Array(items) => {
                            for item in items {
                                ser.append_pair(k, &value_to_text(&item));
                            }
                        }
                        other => {
                            ser.append_pair(k, &value_to_text(&other));
                        }
                    }
                }
                content_type(headers, "application/x-www-form-urlencoded");
                Some(Body::Bytes(ser.finish().into_bytes()))
            }
            Some(BodySpec::Multipart(parts)) => {
                let m = self.render_multipart(parts, ctx)?;
                multipart_type(headers, &m);
                Some(Body::Multipart(Arc::new(m)))
            }
            Some(BodySpec::File {
                path,
                content_type: ct,
            }) => {
                let file = measure(path)?;
                let ct = match ct {
                    Some(t) => self.render_header_value("body_file.content_type", t, ctx)?,
                    None => guess_type(path),
                };
                content_type(headers, &ct);
                Some(Body::File(Arc::new(file)))
            }
        })
    }

    /// The parts of `multipart:`, rendered; its files measured (their
    /// bytes are read when the request is sent).
    fn render_multipart(
        &self,
        parts: &[PartSpec],
        ctx: &minijinja::Value,
    ) -> Result<Multipart, StepError> {
        let mut out = Vec::with_capacity(parts.len());
        for spec in parts {
            let field = format!("multipart.{}", spec.name);
            let filename = match &spec.filename {
                Some(t) => Some(self.render_text(&format!("{field}.filename"), t, ctx)?),
                None => None,
            };
            let content_type = match &spec.content_type {
                Some(t) => {
                    Some(self.render_header_value(&format!("{field}.content_type"), t, ctx)?)
                }
                None => None,
            };
            let part =
                |data: PartData, filename: Option<String>, content_type: Option<String>| Part {
                    name: spec.name.clone(),
                    filename,
                    content_type,
                    data,
                };
            match &spec.source {
                PartSource::File(path) => {
                    let file = measure(path)?;
                    let filename = filename
                        .or_else(|| path.file_name().map(|n| n.to_string_lossy().into_owned()));
                    let content_type = content_type.or_else(|| {
                        Some(guess_type(Path::new(
                            filename.as_deref().unwrap_or_default(),
                        )))
                    });
                    out.push(part(PartData::File(file), filename, content_type));
                }
                PartSource::Field(t) => match self.render_field(&field, t, ctx)? {
                    Value::Null => {}
                    Value::Array(items) => {
                        for item in items.iter().filter(|i| !i.is_null()) {
                            let text = value_to_text(item).into_bytes();
                            out.push(part(
                                PartData::Bytes(text),
                                filename.clone(),
                                content_type.clone(),
                            ));
                        }
                    }
                    other => {
                        let text = value_to_text(&other).into_bytes();
                        out.push(part(PartData::Bytes(text), filename, content_type));
                    }
                },
                PartSource::Value(t) => {
                    match self.render_field(&format!("{field}.value"), t, ctx)? {
                        Value::Null => {}
                        Value::String(s) => out.push(part(
                            PartData::Bytes(s.into_bytes()),
                            filename,
                            content_type,
                        )),
                        other => {
                            let json = serde_json::to_vec(&other)
                                .map_err(|e| StepError::Request(e.to_string()))?;
                            let content_type =
                                content_type.or_else(|| Some("application/json".into()));
                            out.push(part(PartData::Bytes(json), filename, content_type));
                        }
                    }
                }
            }
        }
        Ok(Multipart::new(out))
    }

    /// A content type the chain gives: a template whose text must be fit
    /// for a header (it goes into the part's or the request's head).
    fn render_header_value(
        &self,
        field: &str,
        t: &Tmpl,
        ctx: &minijinja::Value,
    ) -> Result<String, StepError> {
        let text = self.render_text(field, t, ctx)?;
        if text.chars().any(|c| c.is_control()) {
            return Err(StepError::Request(format!(
                "`{field}` has a line break or another control character, which a header cannot"
            )));
        }
        Ok(text)
    }
}

/// Sets the content type a body implies, unless the step set one.
fn content_type(headers: &mut Vec<(String, String)>, ct: &str) {
    if !headers
        .iter()
        .any(|(k, _)| k.eq_ignore_ascii_case("content-type"))
    {
        headers.push(("content-type".into(), ct.into()));
    }
}

/// A multipart body's content type, with its boundary: the step's own
/// `Content-Type` (`multipart/mixed`, say) gets the boundary added when it
/// has none.
fn multipart_type(headers: &mut Vec<(String, String)>, m: &Multipart) {
    match headers
        .iter_mut()
        .find(|(k, _)| k.eq_ignore_ascii_case("content-type"))
    {
        None => headers.push(("content-type".into(), m.content_type())),
        Some((_, v)) if !v.to_ascii_lowercase().contains("boundary=") => {
            v.push_str(&format!("; boundary={}", m.boundary));
        }
        Some(_) => {}
    }
}

/// A file to send, as it is now.
fn measure(path: &Path) -> Result<FileRef, StepError> {
    FileRef::measure(path)
        .map_err(|why| StepError::Request(format!("cannot send {}: {why}", path.display())))
}

/// The content type of a file, from its name's extension; else bytes.
fn guess_type(path: &Path) -> String {
    mime_guess::from_path(path)
        .first_raw()
        .unwrap_or("application/octet-stream")
        .to_string()
}
