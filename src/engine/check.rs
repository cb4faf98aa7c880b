//! After the response: decode the body, check `expect`, apply `extract`.

use indexmap::IndexMap;
use serde_json::Value;

use super::outcome::{Mismatch, StepError};
use super::predicate::{self, Subject};
use crate::chain::expect::ByteCount;
use crate::chain::model::DurationSpec;
use crate::chain::model::StatusPattern;
use crate::jsonpath::JsonPath;
use crate::plan::{BodySchema, Expectations, Extractor};
use crate::transport::HttpResponse;

/// The response body as a step result: JSON when it is JSON, else text.
pub struct Decoded {
    pub value: Value,
    /// Why a body announced (or looking) as JSON did not parse.
    pub json_error: Option<String>,
    pub is_json: bool,
}

/// Response headers as a JSON map: lower-case names, a repeated header's
/// values joined with `, `.
pub fn headers_json(headers: &crate::transport::Headers) -> serde_json::Map<String, Value> {
    let mut out = serde_json::Map::new();
    for (k, v) in headers.iter() {
        let name = k.to_ascii_lowercase();
        match out.get_mut(&name) {
            Some(Value::String(joined)) => {
                joined.push_str(", ");
                joined.push_str(v);
            }
            _ => {
                out.insert(name, Value::String(v.to_string()));
            }
        }
    }
    out
}

/// What `response` is in `expect.that` and in the `when` of `on_success`
/// and `on_failure` actions.
pub fn response_value(
    status: u16,
    headers: &crate::transport::Headers,
    body: &Value,
    url: &str,
    method: &str,
) -> Value {
    serde_json::json!({
        "status": status,
        "headers": headers_json(headers),
        "body": body,
        "url": url,
        "method": method,
    })
}

/// Decodes a body. JSON content types are parsed as JSON; bodies with no
/// content type or `text/plain` are parsed as JSON when they look like it.
pub fn decode(resp: &HttpResponse, saved_to: Option<&str>) -> Decoded {
    if let (Some(path), Some(bytes)) = (saved_to, resp.saved_bytes) {
        return Decoded {
            value: serde_json::json!({"saved_to": path, "bytes": bytes}),
            json_error: None,
            is_json: false,
        };
    }
    let body = &resp.body;
    if body.iter().all(u8::is_ascii_whitespace) {
        return Decoded {
            value: Value::Null,
            json_error: None,
            is_json: false,
        };
    }
    let ct = resp
        .header("content-type")
        .unwrap_or("")
        .to_ascii_lowercase();
    let announced = ct.contains("json");
    let sniff = (ct.is_empty() || ct.starts_with("text/plain"))
        && matches!(
            body.iter().find(|b| !b.is_ascii_whitespace()),
            Some(b'{' | b'[')
        );
    if announced || sniff {
        match serde_json::from_slice::<Value>(body) {
            Ok(v) => {
                return Decoded {
                    value: v,
                    json_error: None,
                    is_json: true,
                };
            }
            Err(e) => {
                return Decoded {
                    value: Value::String(body_text(body, resp.header("content-type"))),
                    json_error: Some(e.to_string()),
                    is_json: false,
                };
            }
        }
    }
    Decoded {
        value: Value::String(body_text(body, resp.header("content-type"))),
        json_error: None,
        is_json: false,
    }
}

/// The body as text, in the charset the `Content-Type` names (UTF-8 when it
/// names none); bytes that do not decode become U+FFFD.
pub fn body_text(body: &[u8], content_type: Option<&str>) -> String {
    let charset = content_type.and_then(|ct| {
        ct.split(';')
            .skip(1)
            .find_map(|p| {
                p.trim()
                    .strip_prefix("charset=")
                    .or_else(|| p.trim().strip_prefix("CHARSET="))
            })
            .map(|c| c.trim_matches('"'))
    });
    match charset.and_then(|c| encoding_rs::Encoding::for_label(c.as_bytes())) {
        Some(enc) if enc != encoding_rs::UTF_8 => enc.decode(body).0.into_owned(),
        // `from_utf8` checks ASCII a word at a time; the lossy decoder only
        // runs for bodies that need it.
        _ => match std::str::from_utf8(body) {
            Ok(text) => text.to_owned(),
            Err(_) => String::from_utf8_lossy(body).into_owned(),
        },
    }
}

/// A status code with its reason phrase: `404 Not Found`.
pub fn status_text(code: u16) -> String {
    match crate::transport::reason_phrase(code) {
        Some(r) => format!("{code} {r}"),
        None => code.to_string(),
    }
}

fn show_patterns(p: &[StatusPattern]) -> String {
    let parts: Vec<String> = p
        .iter()
        .map(|s| match s {
            StatusPattern::Code(c) => c.to_string(),
            StatusPattern::Class(k) => format!("{k}xx"),
        })
        .collect();
    match parts.as_slice() {
        [one] => one.clone(),
        _ => format!("one of {}", parts.join(", ")),
    }
}

/// A JSON value shown in a message, shortened when long.
pub fn show(v: &Value) -> String {
    let s = v.to_string();
    if s.chars().count() > 120 {
        let cut: String = s.chars().take(117).collect();
        format!("{cut}...")
    } else {
        s
    }
}

/// Inputs to the expectation check, with templates already rendered.
pub struct RenderedExpect<'a> {
    pub spec: &'a Expectations,
    pub json: Vec<Value>,
    pub headers: Vec<(String, RenderedHeader)>,
    /// Each `expect.assert` entry's checks, rendered.
    pub asserts: Vec<Value>,
    pub body_contains: Vec<String>,
}

/// `expect.headers.NAME`, rendered.
pub enum RenderedHeader {
    Contains(String),
    Checks(Value),
}

/// Whether `code` is what `expect.status` asks for (explicitly, or 2xx by default).
pub fn status_expected(spec: &Expectations, code: u16) -> bool {
    !spec.status.is_empty() && status_matches(&spec.status, code)
}

fn status_matches(patterns: &[StatusPattern], code: u16) -> bool {
    patterns.iter().any(|p| match *p {
        StatusPattern::Code(c) => c == code,
        StatusPattern::Class(k) => code / 100 == k,
    })
}

/// Checks every expectation and reports each that did not hold.
pub fn expect(
    e: &RenderedExpect<'_>,
    resp: &HttpResponse,
    decoded: &Decoded,
) -> Result<(), StepError> {
    let mut mismatches = Vec::new();
    let mut note = None;
    let patterns: &[StatusPattern] = if e.spec.status.is_empty() {
        &[StatusPattern::Class(2)]
    } else {
        &e.spec.status
    };
    if !status_matches(patterns, resp.status) {
        let field = if e.spec.status.is_empty() {
            ""
        } else {
            "expect.status"
        };
        mismatches.push(Mismatch {
            field: field.into(),
            what: "status".into(),
            expected: show_patterns(patterns),
            actual: status_text(resp.status),
        });
    }
    for ((path, _), want) in e.spec.json.iter().zip(&e.json) {
        let from = mismatches.len();
        check_json(path, want, decoded, &mut mismatches, &mut note);
        tag(
            &mut mismatches,
            from,
            format!("expect.json.{}", path.as_str()),
        );
    }
    for ((path, _), checks) in e.spec.asserts.iter().zip(&e.asserts) {
        let from = mismatches.len();
        if decoded.is_json {
            assert_path(path, checks, &decoded.value, &mut mismatches);
        } else {
            note = Some(not_json_note(decoded));
            mismatches.push(Mismatch {
                field: String::new(),
                what: path.as_str().to_string(),
                expected: "a JSON body to look in".into(),
                actual: "a body that is not JSON".into(),
            });
        }
        tag(
            &mut mismatches,
            from,
            format!("expect.assert.{}", path.as_str()),
        );
    }
    for (name, want) in &e.headers {
        let from = mismatches.len();
        check_header(name, want, resp, &mut mismatches);
        tag(&mut mismatches, from, format!("expect.headers.{name}"));
    }
    measures(e.spec, resp, &mut mismatches);
    if let Some(schema) = &e.spec.schema {
        let from = mismatches.len();
        if decoded.is_json {
            schema_errors(schema, &decoded.value, &mut mismatches);
        } else {
            note = Some(not_json_note(decoded));
            mismatches.push(Mismatch {
                field: String::new(),
                what: "body".into(),
                expected: format!("JSON matching the schema {}", schema.source),
                actual: "a body that is not JSON".into(),
            });
        }
        tag(&mut mismatches, from, "expect.schema".into());
    }
    if !e.body_contains.is_empty() {
        let text = body_text(&resp.body, resp.header("content-type"));
        for want in &e.body_contains {
            if !text.contains(want.as_str()) {
                mismatches.push(Mismatch {
                    field: "expect.body_contains".into(),
                    what: "body".into(),
                    expected: format!("to contain {want:?}"),
                    actual: format!("a body of {} bytes without it", resp.body.len()),
                });
            }
        }
    }
    if mismatches.is_empty() {
        Ok(())
    } else {
        Err(StepError::Expectations { mismatches, note })
    }
}

/// Sets the key the mismatches from `from` on came from.
fn tag(mismatches: &mut [Mismatch], from: usize, field: String) {
    for m in mismatches.iter_mut().skip(from) {
        m.field.clone_from(&field);
    }
}

/// One `expect.json` entry: the path's value equal to `want`.
fn check_json(
    path: &JsonPath,
    want: &Value,
    decoded: &Decoded,
    mismatches: &mut Vec<Mismatch>,
    note: &mut Option<String>,
) {
    if !decoded.is_json {
        *note = Some(not_json_note(decoded));
        mismatches.push(Mismatch {
            field: String::new(),
            what: path.as_str().to_string(),
            expected: show(want),
            actual: "a body that is not JSON".into(),
        });
        return;
    }
    match path.extract(&decoded.value) {
        Ok(got) if &got == want || loosely_equal(&got, want) => {}
        Ok(got) => mismatches.push(Mismatch {
            field: String::new(),
            what: path.as_str().to_string(),
            expected: show(want),
            actual: show(&got),
        }),
        Err(_) => mismatches.push(Mismatch {
            field: String::new(),
            what: path.as_str().to_string(),
            expected: show(want),
            actual: "nothing (no such value in the response)".into(),
        }),
    }
}

/// One `expect.headers` entry: text the value contains, or checks on it.
fn check_header(
    name: &str,
    want: &RenderedHeader,
    resp: &HttpResponse,
    mismatches: &mut Vec<Mismatch>,
) {
    let want = match want {
        RenderedHeader::Contains(text) => text,
        RenderedHeader::Checks(checks) => {
            let got = resp.header_joined(name).map(Value::String);
            let what = format!("header {}", name.to_ascii_lowercase());
            predicate::check(
                checks,
                Subject {
                    what: &what,
                    value: got.as_ref(),
                    text_numbers: true,
                    locations: None,
                },
                mismatches,
            );
            return;
        }
    };
    match resp.header_joined(name) {
        Some(got) if got.contains(want.as_str()) => {}
        Some(got) => mismatches.push(Mismatch {
            field: String::new(),
            what: format!("header {}", name.to_ascii_lowercase()),
            expected: format!("a value containing {want:?}"),
            actual: format!("{got:?}"),
        }),
        None => mismatches.push(Mismatch {
            field: String::new(),
            what: format!("header {}", name.to_ascii_lowercase()),
            expected: format!("a value containing {want:?}"),
            actual: "no such header".into(),
        }),
    }
}

/// One `expect.assert` entry: a singular path's value (or nothing), or the
/// list of what any other path selects, each element knowing where it is.
fn assert_path(path: &JsonPath, checks: &Value, body: &Value, out: &mut Vec<Mismatch>) {
    let found = match path.select_located(body) {
        Ok(f) => f,
        Err(e) => {
            out.push(Mismatch {
                field: String::new(),
                what: path.as_str().to_string(),
                expected: "a path that can be applied".into(),
                actual: e,
            });
            return;
        }
    };
    let what = path.as_str();
    let subject = |value, locations| Subject {
        what,
        value,
        text_numbers: false,
        locations,
    };
    if path.is_singular() {
        predicate::check(checks, subject(found.first().map(|(_, v)| *v), None), out);
        return;
    }
    let (locations, values): (Vec<String>, Vec<Value>) =
        found.into_iter().map(|(at, v)| (at, v.clone())).unzip();
    let list = Value::Array(values);
    // To `exists`, an empty selection is nothing; to the other checks, an
    // empty list.
    let mut rest = checks.clone();
    if let Some(m) = rest.as_object_mut()
        && let Some(exists) = m.remove("exists")
    {
        let present = (!locations.is_empty()).then_some(&list);
        let only = Value::Object(std::iter::once(("exists".to_string(), exists)).collect());
        predicate::check(&only, subject(present, None), out);
        if m.is_empty() {
            return;
        }
    }
    predicate::check(&rest, subject(Some(&list), Some(&locations)), out);
}

/// `expect.duration` and `expect.body_size`.
fn measures(spec: &Expectations, resp: &HttpResponse, out: &mut Vec<Mismatch>) {
    let took = DurationSpec(resp.elapsed);
    for (op, bound) in spec.duration.broken(took) {
        out.push(Mismatch {
            field: String::new(),
            what: "duration".into(),
            expected: format!("{op} {}", crate::engine::show_duration(bound.0)),
            actual: crate::engine::show_duration(resp.elapsed),
        });
    }
    let size = resp.saved_bytes.unwrap_or(resp.body.len() as u64);
    for (op, bound) in spec.body_size.broken(ByteCount(size)) {
        out.push(Mismatch {
            field: String::new(),
            what: "body size".into(),
            expected: format!("{op} {} bytes", bound.0),
            actual: format!("{size} bytes"),
        });
    }
}

/// The first few ways the body breaks `expect.schema`, each where it is.
fn schema_errors(schema: &BodySchema, body: &Value, out: &mut Vec<Mismatch>) {
    const SHOWN: usize = 10;
    let mut n = 0;
    for e in schema.validator.iter_errors(body) {
        n += 1;
        if n > SHOWN {
            continue;
        }
        out.push(Mismatch {
            field: String::new(),
            what: pointer_as_path(&e.instance_path().to_string()),
            expected: format!("to match the schema ({})", schema_words(&e)),
            actual: show(e.instance()),
        });
    }
    if n > SHOWN {
        out.push(Mismatch {
            field: String::new(),
            what: "body".into(),
            expected: format!("to match the schema {}", schema.source),
            actual: format!("{} more ways it does not", n - SHOWN),
        });
    }
}

/// What a schema error says, without the value it quotes (shown apart).
fn schema_words(e: &jsonschema::ValidationError<'_>) -> String {
    let text = e.to_string();
    let quoted = e.instance().to_string();
    match text.strip_prefix(&quoted) {
        Some(rest) => format!("it{rest}"),
        None => text,
    }
}

/// A JSON Pointer (`/items/0/price`) as a JSONPath (`$.items[0].price`).
fn pointer_as_path(pointer: &str) -> String {
    let mut out = String::from("$");
    for raw in pointer.split('/').skip(1) {
        let seg = raw.replace("~1", "/").replace("~0", "~");
        if seg.parse::<usize>().is_ok() {
            out.push_str(&format!("[{seg}]"));
        } else if !seg.is_empty()
            && seg.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
            && !seg.starts_with(|c: char| c.is_ascii_digit())
        {
            out.push('.');
            out.push_str(&seg);
        } else {
            out.push_str(&format!(
                "['{}']",
                seg.replace('\\', "\\\\").replace('\'', "\\'")
            ));
        }
    }
    out
}

/// `1` and `1.0` are the same number; a number and its text are not.
fn loosely_equal(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x.as_f64() == y.as_f64(),
        _ => false,
    }
}

fn not_json_note(decoded: &Decoded) -> String {
    match &decoded.json_error {
        Some(e) => format!("the response body is not valid JSON ({e})"),
        None => "the response body is not JSON".into(),
    }
}

/// The messages of a GraphQL answer's `errors`, each with its `path`.
pub fn graphql_errors(body: &Value) -> Vec<String> {
    let Some(list) = body.get("errors").and_then(Value::as_array) else {
        return Vec::new();
    };
    list.iter()
        .map(|e| {
            let msg = e
                .get("message")
                .and_then(Value::as_str)
                .unwrap_or("(no message)");
            match e.get("path").and_then(Value::as_array) {
                Some(p) if !p.is_empty() => {
                    let path: Vec<String> = p
                        .iter()
                        .map(|x| x.as_str().map_or_else(|| x.to_string(), str::to_string))
                        .collect();
                    format!("{msg} (at {})", path.join("."))
                }
                _ => msg.to_string(),
            }
        })
        .collect()
}

/// Applies every `extract`.
pub fn extract(
    spec: &[(String, Extractor)],
    resp: &HttpResponse,
    decoded: &Decoded,
) -> Result<IndexMap<String, Value>, StepError> {
    let mut out = IndexMap::new();
    for (name, x) in spec {
        let value = match x {
            Extractor::Status => Value::from(resp.status),
            Extractor::Body => decoded.value.clone(),
            Extractor::Header(h) => match resp.header_joined(h) {
                Some(v) => Value::String(v.to_string()),
                None => {
                    return Err(StepError::Extract {
                        name: name.clone(),
                        message: format!("the response has no `{h}` header"),
                    });
                }
            },
            Extractor::Path(p) => {
                if !decoded.is_json {
                    return Err(StepError::Extract {
                        name: name.clone(),
                        message: format!(
                            "{}, so `{}` cannot be applied",
                            not_json_note(decoded),
                            p.as_str()
                        ),
                    });
                }
                p.extract(&decoded.value)
                    .map_err(|message| StepError::Extract {
                        name: name.clone(),
                        message,
                    })?
            }
        };
        out.insert(name.clone(), value);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bodies_are_decoded_in_their_charset() {
        let latin1 = b"caf\xe9";
        assert_eq!(
            body_text(latin1, Some("text/plain; charset=iso-8859-1")),
            "café"
        );
        assert_eq!(
            body_text(latin1, Some("text/plain; charset=\"ISO-8859-1\"")),
            "café"
        );
        assert_eq!(body_text("café".as_bytes(), Some("text/plain")), "café");
        assert_eq!(body_text(latin1, None), "caf\u{fffd}");
    }
}
