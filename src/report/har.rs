//! `--har F`: every request and response of the run as HAR 1.2 (the HTTP
//! Archive format browsers' developer tools and proxies read): each retry
//! attempt, `for_each` item and page is an entry of its own.
//!
//! What pytopus does not know is written as HAR says: `-1` for sizes and
//! for the timings that do not apply (blocked, dns, connect, ssl); the whole
//! attempt, from sending to the last byte, is `wait` (send and receive are
//! `0`: the client does not time them apart). `httpVersion` is empty.

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use base64::Engine as _;
use serde_json::{Value, json};

use crate::engine::{Event, Observer};
use crate::secret::Redactor;
use crate::transport::upload::{Multipart, PartData};
use crate::transport::{Body, HttpRequest, HttpResponse, TransportError, reason_phrase};

/// Bodies above this size are cut, with a comment saying so.
const MAX_BODY: usize = 1024 * 1024;

struct Entry {
    started: SystemTime,
    value: Value,
}

#[derive(Default)]
struct Archive {
    pages: Vec<Value>,
    entries: Vec<Entry>,
}

/// The archive of one `pytopus run`, shared by the observers of its runs
/// (one HAR page per run, so per `--data` row).
#[derive(Clone)]
pub struct Har {
    archive: Arc<Mutex<Archive>>,
    redactor: Redactor,
}

impl Har {
    /// Bodies are redacted with `redactor` as they are kept (before they
    /// are cut), and the whole archive again when written.
    pub fn new(redactor: Redactor) -> Self {
        Har {
            archive: Arc::default(),
            redactor,
        }
    }

    /// An observer for one run; `row` is its `--data` row, if any.
    pub fn observer(&self, row: Option<usize>) -> HarObserver {
        HarObserver {
            har: self.clone(),
            page: match row {
                Some(n) => format!("row {n}"),
                None => "run".to_string(),
            },
            row,
        }
    }

    /// The HAR document, every known secret redacted.
    pub fn json(&self) -> Value {
        let (pages, entries) = match self.archive.lock() {
            Ok(a) => {
                let mut entries: Vec<(SystemTime, &Value)> =
                    a.entries.iter().map(|e| (e.started, &e.value)).collect();
                // Items running at once finish in any order; HAR lists by start.
                entries.sort_by_key(|(t, _)| *t);
                let entries: Vec<Value> = entries.into_iter().map(|(_, v)| v.clone()).collect();
                (a.pages.clone(), entries)
            }
            Err(_) => (Vec::new(), Vec::new()),
        };
        let doc = json!({"log": {
            "version": "1.2",
            "creator": {"name": "pytopus", "version": env!("CARGO_PKG_VERSION")},
            "pages": pages,
            "entries": entries,
        }});
        self.redactor.redact_json(&doc)
    }

    /// Writes the archive to `path`, whole or not at all.
    pub fn write(&self, path: &Path) -> std::io::Result<()> {
        let text = serde_json::to_string_pretty(&self.json()).unwrap_or_default() + "\n";
        crate::files::write(path, text.as_bytes())
    }

    fn add(&self, f: impl FnOnce(&mut Archive)) {
        if let Ok(mut a) = self.archive.lock() {
            f(&mut a);
        }
    }

    /// A body as HAR text: UTF-8 as is, anything else in base64; cut at
    /// [`MAX_BODY`]. Returns (text, encoding, comment).
    fn body(&self, bytes: &[u8]) -> (String, Option<&'static str>, Option<String>) {
        let cut_note = |kept: usize, of: usize| {
            (of > kept).then(|| format!("truncated: the first {kept} of {of} bytes are kept"))
        };
        match std::str::from_utf8(bytes) {
            Ok(text) => {
                let text = self.redactor.redact(text);
                let mut end = text.len().min(MAX_BODY);
                while !text.is_char_boundary(end) {
                    end -= 1;
                }
                let comment = cut_note(end, text.len());
                (text[..end].to_string(), None, comment)
            }
            Err(_) => {
                let cut = bytes.len().min(MAX_BODY);
                (
                    base64::engine::general_purpose::STANDARD.encode(&bytes[..cut]),
                    Some("base64"),
                    cut_note(cut, bytes.len()),
                )
            }
        }
    }
}

/// Adds one run's exchanges to [`Har`].
pub struct HarObserver {
    har: Har,
    page: String,
    row: Option<usize>,
}

fn iso(t: SystemTime) -> String {
    humantime::format_rfc3339_millis(t).to_string()
}

fn millis(d: Duration) -> f64 {
    (d.as_secs_f64() * 1_000_000.0).round() / 1000.0
}

fn pairs(list: &[(String, String)]) -> Vec<Value> {
    list.iter()
        .map(|(k, v)| json!({"name": k, "value": crate::secret::header_value(k, v)}))
        .collect()
}

fn header<'h>(headers: &'h [(String, String)], name: &str) -> Option<&'h str> {
    headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

impl HarObserver {
    fn request(&self, r: &HttpRequest) -> Value {
        let query: Vec<Value> = url::Url::parse(&r.url)
            .map(|u| {
                u.query_pairs()
                    .map(|(k, v)| json!({"name": k, "value": v}))
                    .collect()
            })
            .unwrap_or_default();
        let mut v = json!({
            "method": r.method,
            "url": r.url,
            "httpVersion": "",
            "cookies": [],
            "headers": pairs(&r.headers),
            "queryString": query,
            "headersSize": -1,
            "bodySize": r.body.as_ref().map_or(0, Body::len),
        });
        if let Some(body) = &r.body {
            let (text, encoding, comment) = self.har.body(&body.shown());
            let mut post = json!({
                "mimeType": header(&r.headers, "content-type").unwrap_or(""),
                "text": text,
            });
            if let Body::Multipart(m) = body {
                post["params"] = self.params(m);
            }
            // HAR 1.2 has no `encoding` for postData; say so in its comment.
            if let Some(e) = encoding {
                post["comment"] = json!(format!("text is {e}"));
            }
            if let Some(c) = comment {
                post["comment"] = json!(c);
            }
            v["postData"] = post;
        }
        v
    }

    /// A multipart body's parts as HAR `params`: a field's value, a file's
    /// name and type (its bytes are not kept; the comment says where from).
    fn params(&self, m: &Multipart) -> Value {
        let params: Vec<Value> = m
            .parts
            .iter()
            .map(|p| {
                let mut param = json!({"name": p.name});
                if let Some(f) = &p.filename {
                    param["fileName"] = json!(f);
                }
                if let Some(ct) = &p.content_type {
                    param["contentType"] = json!(ct);
                }
                match &p.data {
                    PartData::Bytes(b) => {
                        param["value"] = json!(self.har.body(b).0);
                    }
                    PartData::File(f) => {
                        param["comment"] = json!(format!(
                            "{} bytes from the file {}, not kept here",
                            f.len,
                            f.path.display()
                        ));
                    }
                }
                param
            })
            .collect();
        Value::Array(params)
    }

    fn response(&self, r: &HttpResponse) -> Value {
        let mime = header(&r.headers, "content-type").unwrap_or("x-unknown");
        let mut content = json!({"size": r.body.len(), "mimeType": mime});
        match r.saved_bytes {
            Some(n) => {
                content["size"] = json!(n);
                content["comment"] = json!("written to the step's save_to file, not kept here");
            }
            None => {
                let (text, encoding, comment) = self.har.body(&r.body);
                content["text"] = json!(text);
                if let Some(e) = encoding {
                    content["encoding"] = json!(e);
                }
                if let Some(c) = comment {
                    content["comment"] = json!(c);
                }
            }
        }
        json!({
            "status": r.status,
            "statusText": reason_phrase(r.status).unwrap_or(""),
            "httpVersion": "",
            "cookies": [],
            "headers": pairs(&r.headers),
            "content": content,
            "redirectURL": header(&r.headers, "location").unwrap_or(""),
            "headersSize": -1,
            "bodySize": r.saved_bytes.unwrap_or(r.body.len() as u64),
        })
    }

    /// No response came: HAR has no place for that, so the response is
    /// empty with status 0 (as browsers write failed requests) and the
    /// error is its comment.
    fn no_response(e: &TransportError) -> Value {
        json!({
            "status": 0,
            "statusText": "",
            "httpVersion": "",
            "cookies": [],
            "headers": [],
            "content": {"size": 0, "mimeType": "x-unknown"},
            "redirectURL": "",
            "headersSize": -1,
            "bodySize": -1,
            "comment": e.to_string(),
        })
    }
}

impl Observer for HarObserver {
    fn on_event(&mut self, event: &Event<'_>) {
        match event {
            Event::RunStarted { chain, .. } => {
                let title = match self.row {
                    Some(n) => format!("{} [row {n}]", chain.name),
                    None => chain.name.clone(),
                };
                let page = json!({
                    "startedDateTime": iso(SystemTime::now()),
                    "id": self.page,
                    "title": title,
                    "pageTimings": {"onContentLoad": -1, "onLoad": -1},
                });
                self.har.add(|a| a.pages.push(page));
            }
            Event::Exchange {
                step,
                item,
                attempt,
                request,
                response,
                started,
                elapsed,
                ..
            } => {
                let response = match response {
                    Ok(r) => self.response(r),
                    Err(e) => Self::no_response(e),
                };
                let mut comment = format!("step {}", step.name);
                if let Some(i) = item {
                    comment.push_str(&format!(", item {i}"));
                }
                comment.push_str(&format!(", attempt {attempt}"));
                let ms = millis(*elapsed);
                let value = json!({
                    "pageref": self.page,
                    "startedDateTime": iso(*started),
                    "time": ms,
                    "request": self.request(request),
                    "response": response,
                    "cache": {},
                    "timings": {
                        "blocked": -1, "dns": -1, "connect": -1, "ssl": -1,
                        "send": 0, "wait": ms, "receive": 0,
                    },
                    "comment": comment,
                });
                let started = *started;
                self.har.add(|a| a.entries.push(Entry { started, value }));
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn big_bodies_are_cut_and_binary_ones_are_base64() {
        let har = Har::new(Redactor::default());
        let big = "é".repeat(MAX_BODY); // 2 bytes a character
        let (text, encoding, comment) = har.body(big.as_bytes());
        assert_eq!(text.len(), MAX_BODY);
        assert_eq!(encoding, None);
        assert_eq!(
            comment.as_deref(),
            Some("truncated: the first 1048576 of 2097152 bytes are kept")
        );
        let (text, encoding, comment) = har.body(&[0xff, 0x00, 0x41]);
        assert_eq!(
            (text.as_str(), encoding, comment),
            ("/wBB", Some("base64"), None)
        );
    }

    #[test]
    fn secrets_are_redacted_before_a_body_is_cut() {
        let redactor = Redactor::default();
        redactor.add("SECRET-VALUE");
        let har = Har::new(redactor);
        let body = "x".repeat(MAX_BODY - 4) + "SECRET-VALUE";
        let (text, _, _) = har.body(body.as_bytes());
        assert!(text.ends_with("x***"), "{}", &text[text.len() - 10..]);
    }
}
