//! Record and replay: `--record F` keeps every exchange of a run in a tape
//! (a JSON file); `--replay F` answers from it with no network, so chains run
//! offline and in CI.
//!
//! Replay matches a request to the first unused exchange with the same method
//! and URL; bodies are not compared (they often carry `uuid()` or `now()`).
//! Both are routes under [`super::Client`]: a redirect is recorded as the
//! exchanges it is made of, and replayed through the same redirect policy.

use std::path::Path;
use std::sync::Mutex;
use std::time::Duration;

use base64::Engine as _;
use indexmap::IndexMap;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::body::{self, Reading};
use super::upload::{FileRef, PartData};
use super::{Body, HttpRequest, Reply, ReplyBody, SendFuture, Transport, TransportError};
use crate::secret::Redactor;

/// A recorded run.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Tape {
    /// Format version; 1.
    pub version: u32,
    pub exchanges: Vec<Exchange>,
}

/// One request and what came back: a response or a transport error.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Exchange {
    pub request: TapeRequest,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub response: Option<TapeResponse>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<TransportError>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TapeRequest {
    pub method: String,
    pub url: String,
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    pub headers: IndexMap<String, HeaderValues>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<TapeBody>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TapeResponse {
    pub status: u16,
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    pub headers: IndexMap<String, HeaderValues>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<TapeBody>,
    /// The final URL when redirects were followed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    #[serde(default)]
    pub elapsed_ms: u64,
}

/// One header value, or several for a repeated header (`set-cookie`).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(untagged)]
pub enum HeaderValues {
    One(String),
    Many(Vec<String>),
}

/// A body: JSON kept as JSON so tapes stay readable and editable. A
/// streamed request body is kept as what it was made of, its files by path
/// and size, never their bytes (replay does not compare request bodies).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum TapeBody {
    Json(Value),
    Text(String),
    Base64(String),
    /// `multipart:` — each part.
    Multipart(Vec<TapePart>),
    /// `body_file:` — the file.
    File(TapeFile),
}

/// One part of a recorded multipart request body: a field's value, or a file.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TapePart {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub filename: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<Box<TapeBody>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file: Option<TapeFile>,
}

/// A file a request sent: where it was read from and how many bytes.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TapeFile {
    pub path: String,
    pub bytes: u64,
}

impl TapeFile {
    fn of(f: &FileRef) -> TapeFile {
        TapeFile {
            path: f.path.display().to_string(),
            bytes: f.len,
        }
    }
}

impl TapeBody {
    fn from_bytes(bytes: &[u8], content_type: Option<&str>) -> Option<TapeBody> {
        if bytes.is_empty() {
            return None;
        }
        let is_json = content_type.is_some_and(|c| c.to_ascii_lowercase().contains("json"));
        // Readable beats byte-exact: a JSON body is kept as JSON, and replay
        // sends it back compact (the decoded result is the same).
        if is_json && let Ok(v) = serde_json::from_slice::<Value>(bytes) {
            return Some(TapeBody::Json(v));
        }
        match std::str::from_utf8(bytes) {
            Ok(s) => Some(TapeBody::Text(s.to_string())),
            Err(_) => Some(TapeBody::Base64(
                base64::engine::general_purpose::STANDARD.encode(bytes),
            )),
        }
    }

    fn to_bytes(&self) -> Result<Vec<u8>, String> {
        match self {
            TapeBody::Json(v) => serde_json::to_vec(v).map_err(|e| e.to_string()),
            TapeBody::Text(s) => Ok(s.clone().into_bytes()),
            TapeBody::Base64(s) => base64::engine::general_purpose::STANDARD
                .decode(s)
                .map_err(|e| format!("bad base64 body in tape: {e}")),
            TapeBody::Multipart(_) | TapeBody::File(_) => Err(
                "a tape's response body is `multipart` or `file`, which only a request's can be"
                    .into(),
            ),
        }
    }

    /// A request body as a tape keeps it.
    fn of_request(body: &Body, content_type: Option<&str>) -> Option<TapeBody> {
        match body {
            Body::Bytes(b) => TapeBody::from_bytes(b, content_type),
            Body::File(f) => Some(TapeBody::File(TapeFile::of(f))),
            Body::Multipart(m) => Some(TapeBody::Multipart(
                m.parts
                    .iter()
                    .map(|p| {
                        let (value, file) = match &p.data {
                            PartData::Bytes(b) => (
                                Some(Box::new(
                                    TapeBody::from_bytes(b, p.content_type.as_deref())
                                        .unwrap_or(TapeBody::Text(String::new())),
                                )),
                                None,
                            ),
                            PartData::File(f) => (None, Some(TapeFile::of(f))),
                        };
                        TapePart {
                            name: p.name.clone(),
                            filename: p.filename.clone(),
                            content_type: p.content_type.clone(),
                            value,
                            file,
                        }
                    })
                    .collect(),
            )),
        }
    }
}

/// Headers as a tape keeps them: credentials as `***` (replay compares no
/// header; a tape is a file people share).
fn headers_to_map(headers: &[(String, String)]) -> IndexMap<String, HeaderValues> {
    let mut map: IndexMap<String, HeaderValues> = IndexMap::new();
    for (k, v) in headers {
        let v = &crate::secret::header_value(k, v).into_owned();
        let k = k.to_ascii_lowercase();
        match map.get_mut(&k) {
            None => {
                map.insert(k, HeaderValues::One(v.clone()));
            }
            Some(HeaderValues::One(first)) => {
                let first = std::mem::take(first);
                map.insert(k, HeaderValues::Many(vec![first, v.clone()]));
            }
            Some(HeaderValues::Many(list)) => list.push(v.clone()),
        }
    }
    map
}

fn map_to_headers(map: &IndexMap<String, HeaderValues>) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for (k, v) in map {
        match v {
            HeaderValues::One(s) => out.push((k.to_ascii_lowercase(), s.clone())),
            HeaderValues::Many(list) => {
                out.extend(list.iter().map(|s| (k.to_ascii_lowercase(), s.clone())))
            }
        }
    }
    out
}

impl Tape {
    /// Reads a tape; errors say which file and why.
    pub fn load(path: &Path) -> Result<Tape, String> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read tape {}: {e}", path.display()))?;
        let tape: Tape = serde_json::from_str(&text)
            .map_err(|e| format!("{} is not a valid pytopus tape: {e}", path.display()))?;
        if tape.version != 1 {
            return Err(format!(
                "{} is a version {} tape; this pytopus reads version 1",
                path.display(),
                tape.version
            ));
        }
        Ok(tape)
    }

    /// Writes the tape atomically (temporary file, then rename).
    pub fn save(&self, path: &Path) -> Result<(), String> {
        let text = serde_json::to_string_pretty(self).map_err(|e| e.to_string())?;
        crate::files::write(path, (text + "\n").as_bytes())
            .map_err(|e| format!("cannot write tape {}: {e}", path.display()))
    }
}

/// Records every exchange made through the transport it wraps.
pub struct Recorder {
    inner: Box<dyn Transport>,
    exchanges: Mutex<Vec<Exchange>>,
    redactor: Redactor,
}

impl Recorder {
    pub fn new(inner: Box<dyn Transport>, redactor: Redactor) -> Self {
        Recorder {
            inner,
            exchanges: Mutex::new(Vec::new()),
            redactor,
        }
    }

    /// The tape so far, with secrets redacted.
    pub fn tape(&self) -> Tape {
        let exchanges = self.exchanges.lock().map(|e| e.clone()).unwrap_or_default();
        let text = serde_json::to_string(&exchanges).unwrap_or_default();
        let exchanges = serde_json::from_str(&self.redactor.redact(&text)).unwrap_or(exchanges);
        Tape {
            version: 1,
            exchanges,
        }
    }

    /// Sends through the route it wraps and keeps the exchange; the body is
    /// read here (within the request's limit), to be kept.
    async fn send_inner(&self, req: &HttpRequest, left: Duration) -> Result<Reply, TransportError> {
        let started = std::time::Instant::now();
        let result = match self.inner.send(req, left).await {
            Ok(mut reply) => {
                let bytes = std::mem::replace(&mut reply.body, ReplyBody::Bytes(Vec::new()));
                let how = Reading {
                    limit: req.body_limit,
                    deadline: tokio::time::Instant::now() + left,
                    step_timeout: req.timeout,
                    size_hint: None,
                    file: None,
                };
                body::read(bytes, how).await.map(|(bytes, _)| {
                    reply.body = ReplyBody::Bytes(bytes);
                    reply
                })
            }
            Err(e) => Err(e),
        };
        let content_type = req
            .headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case("content-type"))
            .map(|(_, v)| v.as_str());
        let request = TapeRequest {
            method: req.method.clone(),
            url: req.url.clone(),
            headers: headers_to_map(&req.headers),
            body: req
                .body
                .as_ref()
                .and_then(|b| TapeBody::of_request(b, content_type)),
        };
        let exchange = match &result {
            Ok(reply) => {
                let body: &[u8] = match &reply.body {
                    ReplyBody::Bytes(b) => b,
                    _ => &[],
                };
                Exchange {
                    request,
                    response: Some(TapeResponse {
                        status: reply.status,
                        headers: headers_to_map(&reply.headers),
                        body: TapeBody::from_bytes(body, reply.headers.get("content-type")),
                        url: (reply.url != req.url).then(|| reply.url.clone()),
                        elapsed_ms: reply.elapsed.unwrap_or(started.elapsed()).as_millis() as u64,
                    }),
                    error: None,
                }
            }
            Err(e) => Exchange {
                request,
                response: None,
                error: Some(e.clone()),
            },
        };
        if let Ok(mut list) = self.exchanges.lock() {
            list.push(exchange);
        }
        result
    }
}

impl Transport for Recorder {
    fn send<'a>(&'a self, req: &'a HttpRequest, left: Duration) -> SendFuture<'a> {
        Box::pin(self.send_inner(req, left))
    }

    fn is_replay(&self) -> bool {
        self.inner.is_replay()
    }
}

/// Answers requests from a tape.
pub struct Replayer {
    name: String,
    /// Tapes hold redacted URLs (`api_key=***`): requests are compared redacted too.
    redactor: Redactor,
    exchanges: Vec<Exchange>,
    used: Mutex<Vec<bool>>,
}

impl Replayer {
    pub fn new(tape: Tape, name: impl Into<String>, redactor: Redactor) -> Self {
        let used = Mutex::new(vec![false; tape.exchanges.len()]);
        Replayer {
            name: name.into(),
            redactor,
            exchanges: tape.exchanges,
            used,
        }
    }

    async fn send_inner(&self, req: &HttpRequest) -> Result<Reply, TransportError> {
        let found = {
            let mut used = self
                .used
                .lock()
                .map_err(|_| TransportError::Other("replay state poisoned".into()))?;
            let i = self.exchanges.iter().enumerate().position(|(i, x)| {
                !used[i]
                    && x.request.method.eq_ignore_ascii_case(&req.method)
                    && (x.request.url == req.url || x.request.url == self.redactor.redact(&req.url))
            });
            if let Some(i) = i {
                used[i] = true;
            }
            i
        };
        let Some(i) = found else {
            return Err(TransportError::NotRecorded(format!(
                "the tape {} has no (unused) recorded answer for {} {}",
                self.name, req.method, req.url
            )));
        };
        let x = &self.exchanges[i];
        if let Some(e) = &x.error {
            return Err(e.clone());
        }
        let Some(r) = &x.response else {
            return Err(TransportError::NotRecorded(format!(
                "exchange {} of tape {} has neither a response nor an error",
                i + 1,
                self.name
            )));
        };
        let body = match &r.body {
            Some(b) => b.to_bytes().map_err(TransportError::NotRecorded)?,
            None => Vec::new(),
        };
        let mut headers = map_to_headers(&r.headers);
        if matches!(r.body, Some(TapeBody::Json(_)))
            && !headers.iter().any(|(k, _)| k == "content-type")
        {
            headers.push(("content-type".into(), "application/json".into()));
        }
        Ok(Reply {
            status: r.status,
            headers: headers.into(),
            body: ReplyBody::Bytes(body),
            url: r.url.clone().unwrap_or_else(|| req.url.clone()),
            elapsed: Some(Duration::from_millis(r.elapsed_ms)),
        })
    }
}

impl Transport for Replayer {
    fn send<'a>(&'a self, req: &'a HttpRequest, _left: Duration) -> SendFuture<'a> {
        Box::pin(self.send_inner(req))
    }

    fn is_replay(&self) -> bool {
        true
    }
}
