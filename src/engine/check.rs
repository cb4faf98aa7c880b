//! After the response: decode the body, check `expect`, apply `extract`.

use indexmap::IndexMap;
use serde_json::Value;

use super::outcome::{Mismatch, StepError};
use crate::chain::model::StatusPattern;
use crate::plan::{Expectations, Extractor};
use crate::transport::HttpResponse;

/// The response body as a step result: JSON when it is JSON, else text.
pub struct Decoded {
    pub value: Value,
    /// Why a body announced (or looking) as JSON did not parse.
    pub json_error: Option<String>,
    pub is_json: bool,
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
    pub headers: Vec<(String, String)>,
    pub body_contains: Vec<String>,
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
        mismatches.push(Mismatch {
            what: "status".into(),
            expected: show_patterns(patterns),
            actual: status_text(resp.status),
        });
    }
    for ((path, _), want) in e.spec.json.iter().zip(&e.json) {
        if !decoded.is_json {
            note = Some(not_json_note(decoded));
            mismatches.push(Mismatch {
                what: path.as_str().to_string(),
                expected: show(want),
                actual: "a body that is not JSON".into(),
            });
            continue;
        }
        match path.extract(&decoded.value) {
            Ok(got) if &got == want || loosely_equal(&got, want) => {}
            Ok(got) => mismatches.push(Mismatch {
                what: path.as_str().to_string(),
                expected: show(want),
                actual: show(&got),
            }),
            Err(_) => mismatches.push(Mismatch {
                what: path.as_str().to_string(),
                expected: show(want),
                actual: "nothing (no such value in the response)".into(),
            }),
        }
    }
    for (name, want) in &e.headers {
        match resp.header_joined(name) {
            Some(got) if got.contains(want.as_str()) => {}
            Some(got) => mismatches.push(Mismatch {
                what: format!("header {}", name.to_ascii_lowercase()),
                expected: format!("a value containing {want:?}"),
                actual: format!("{got:?}"),
            }),
            None => mismatches.push(Mismatch {
                what: format!("header {}", name.to_ascii_lowercase()),
                expected: format!("a value containing {want:?}"),
                actual: "no such header".into(),
            }),
        }
    }
    if !e.body_contains.is_empty() {
        let text = body_text(&resp.body, resp.header("content-type"));
        for want in &e.body_contains {
            if !text.contains(want.as_str()) {
                mismatches.push(Mismatch {
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
