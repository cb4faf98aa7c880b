//! The network, behind a trait: the engine sends an [`HttpRequest`] and gets
//! an [`HttpResponse`] or a [`TransportError`]. Implementations: live
//! (reqwest), recording (wraps another and keeps every exchange), replaying
//! (answers from a tape, no network).

mod live;
mod tape;

use std::future::Future;
use std::path::PathBuf;
use std::pin::Pin;
use std::time::Duration;

pub use live::{LiveOptions, LiveTransport};
pub use tape::{Exchange, Recorder, Replayer, Tape};

/// A fully rendered request, ready to send.
#[derive(Debug, Clone, PartialEq)]
pub struct HttpRequest {
    pub method: String,
    /// Absolute URL with the query string already applied.
    pub url: String,
    /// `url`, already parsed by whoever built the request, so the transport
    /// does not parse it again. Used only while it still matches `url`
    /// (credentials in the query and paging rewrite `url`).
    pub parsed_url: Option<url::Url>,
    pub headers: Vec<(String, String)>,
    pub body: Option<Vec<u8>>,
    /// Per-attempt timeout.
    pub timeout: Duration,
    /// Follow 3xx redirects (the default), or return the 3xx itself.
    pub follow_redirects: bool,
    /// Client certificate and trust settings; `None` is the default client.
    pub tls: Option<std::sync::Arc<TlsSettings>>,
}

/// TLS settings for a request (`tls:` in a chain, paths already resolved).
/// The live transport keeps one client per distinct value.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct TlsSettings {
    /// PEM: the client certificate chain, possibly with the key.
    pub client_cert: Option<PathBuf>,
    /// PEM: the client key, when not in `client_cert`.
    pub client_key: Option<PathBuf>,
    /// PEM: CA certificates trusted in addition to the system's.
    pub ca_cert: Option<PathBuf>,
    /// `false` accepts any server certificate.
    pub verify: bool,
}

/// Where the response body goes.
#[derive(Debug, Clone)]
pub enum BodySink {
    Memory,
    /// Streamed to this file (`save_to`); the response then has an empty body.
    File(PathBuf),
}

/// A response, with the body in memory or already written to a file.
#[derive(Debug, Clone)]
pub struct HttpResponse {
    pub status: u16,
    /// Header names in lower case, in the order received.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    /// Set when the body was streamed to a file: how many bytes were written.
    pub saved_bytes: Option<u64>,
    /// The final URL, after redirects.
    pub url: String,
    pub elapsed: Duration,
}

impl HttpResponse {
    /// The first header with this name (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// Every value of a header (case-insensitive), joined with `, ` as
    /// RFC 9110 §5.3 allows; `None` when absent.
    pub fn header_joined(&self, name: &str) -> Option<String> {
        let values: Vec<&str> = self
            .headers
            .iter()
            .filter(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
            .collect();
        (!values.is_empty()).then(|| values.join(", "))
    }
}

/// Why no response came.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "kind", content = "message", rename_all = "snake_case")]
pub enum TransportError {
    /// Could not connect (refused, DNS, unreachable).
    Connect(String),
    /// The attempt took longer than its timeout.
    Timeout(String),
    /// The TLS handshake failed (certificate problems included).
    Tls(String),
    /// The request could not be built (bad URL, bad header).
    Request(String),
    /// Failed while reading the body or writing it to `save_to`.
    Body(String),
    /// Too many redirects, protocol errors and anything else.
    Other(String),
    /// `--replay` has no recorded answer for this request.
    NotRecorded(String),
}

impl TransportError {
    pub fn kind(&self) -> &'static str {
        match self {
            TransportError::Connect(_) => "connect",
            TransportError::Timeout(_) => "timeout",
            TransportError::Tls(_) => "tls",
            TransportError::Request(_) => "request",
            TransportError::Body(_) => "body",
            TransportError::Other(_) => "http",
            TransportError::NotRecorded(_) => "replay",
        }
    }
}

impl std::fmt::Display for TransportError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            TransportError::Connect(m) => write!(f, "could not connect: {m}"),
            TransportError::Timeout(m) => write!(f, "timed out: {m}"),
            TransportError::Tls(m) => write!(f, "TLS error: {m}"),
            TransportError::Request(m) => write!(f, "invalid request: {m}"),
            TransportError::Body(m) => write!(f, "reading the response body failed: {m}"),
            TransportError::Other(m) => write!(f, "{m}"),
            TransportError::NotRecorded(m) => write!(f, "{m}"),
        }
    }
}

/// The most redirects one request follows (the live transport's default,
/// and the limit of [`crate::auth::redirect`]).
pub const MAX_REDIRECTS: usize = 10;

/// A status that redirects when it comes with a `Location`.
pub fn is_redirect(status: u16) -> bool {
    matches!(status, 301 | 302 | 303 | 307 | 308)
}

/// The reason phrase of a status code (`Not Found`), when it has a standard one.
pub fn reason_phrase(code: u16) -> Option<&'static str> {
    reqwest::StatusCode::from_u16(code).ok()?.canonical_reason()
}

/// A boxed future, so `Transport` stays object-safe.
pub type SendFuture<'a> =
    Pin<Box<dyn Future<Output = Result<HttpResponse, TransportError>> + Send + 'a>>;

/// Sends requests. One instance serves a whole run.
pub trait Transport: Send + Sync {
    fn send<'a>(&'a self, req: &'a HttpRequest, sink: &'a BodySink) -> SendFuture<'a>;

    /// True when answers come from a recording: retries need not wait.
    fn is_replay(&self) -> bool {
        false
    }
}
