//! The network: every request goes through one [`Client`] (redirect policy,
//! cookies, credential stripping, the response size limit), which sends
//! each hop through a route, the [`Transport`] trait: live (reqwest, with
//! plain HTTP below it when no proxy applies), recording (wraps another and
//! keeps every exchange), replaying (answers from a tape, no network).

mod body;
mod client;
mod live;
mod plain;
pub mod redirect;
mod tape;
mod tls;
pub mod upload;

use std::future::Future;
use std::path::PathBuf;
use std::pin::Pin;
use std::time::Duration;

pub use body::{DEFAULT_BODY_LIMIT, ReplyBody};
pub use client::Client;
pub use live::{LiveOptions, LiveTransport};
pub use redirect::MAX_REDIRECTS;
pub use tape::{Exchange, Recorder, Replayer, Tape};
pub use tls::warm_up as warm_up_tls;
pub use upload::Body;

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
    /// In memory, or files streamed when it is sent (see [`upload`]).
    pub body: Option<Body>,
    /// Per-attempt timeout.
    pub timeout: Duration,
    /// Follow 3xx redirects (the default), or return the 3xx itself.
    pub follow_redirects: bool,
    /// Client certificate and trust settings; `None` is the default client.
    pub tls: Option<std::sync::Arc<TlsSettings>>,
    /// The most bytes of response body kept in memory.
    pub body_limit: u64,
}

/// What an `auth:` scheme put on a request, to take off on a redirect to
/// another origin.
#[derive(Debug, Clone, Default)]
pub struct Added {
    pub headers: Vec<String>,
    pub query: Vec<String>,
    /// A scheme whose credential covers the request itself (AWS SigV4)
    /// signs every redirect hop again while it stays on the first origin;
    /// once a hop leaves it, nothing is signed any more.
    pub signer: Option<std::sync::Arc<dyn Signer>>,
}

impl Added {
    pub fn is_empty(&self) -> bool {
        self.headers.is_empty() && self.query.is_empty() && self.signer.is_none()
    }
}

/// Signs a request as it is about to be sent. [`Client`] calls it for each
/// redirect hop on the first origin, once the hop's method, URL, headers
/// and body are final (the first hop comes signed by whoever built it).
pub trait Signer: Send + Sync + std::fmt::Debug {
    /// Signs `req` in place, replacing the headers the signature sets; the
    /// error says why it could not (never holding a credential).
    fn sign(&self, req: &mut HttpRequest) -> Result<(), String>;
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
    /// The password of a PKCS#12 `client_cert`, rendered for the request.
    pub password: Option<Password>,
}

/// A PKCS#12 password: compared and hashed (a client per distinct value),
/// never shown.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Password(pub String);

impl std::fmt::Debug for Password {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Password(***)")
    }
}

/// Where the response body goes.
#[derive(Debug, Clone)]
pub enum BodySink {
    Memory,
    /// Streamed to this file (`save_to`); the response then has an empty body.
    File(PathBuf),
}

/// Response headers: names in lower case, in the order received, read as
/// `(name, value)` text pairs. Values that are not UTF-8 read lossily.
///
/// Copied out of the HTTP library's map as soon as they arrive, all into
/// one string: that map's values share the buffer the response was read
/// into, and while they lived the connection had to read the next response
/// into a new one (a 1000-step run touched 1.2 MB of fresh memory for it,
/// a sixth of its page faults: bench/README.md, session 10). One string
/// and one list of offsets rather than two strings a header: most readers
/// (`for_each` items looking up their content type, the history writing
/// every step's headers) never need the pairs, which are made on first
/// use by what reads them as a slice.
#[derive(Debug, Clone, Default)]
pub struct Headers {
    /// Every name and value, one after another.
    packed: String,
    /// Where each name and its value end in `packed`.
    ends: Vec<(usize, usize)>,
    pairs: std::sync::OnceLock<Vec<(String, String)>>,
}

impl Headers {
    /// Headers as received.
    pub fn from_map(raw: &reqwest::header::HeaderMap) -> Headers {
        let size = raw.iter().map(|(k, v)| k.as_str().len() + v.len()).sum();
        let mut packed = String::with_capacity(size);
        let mut ends = Vec::with_capacity(raw.len());
        for (k, v) in raw {
            packed.push_str(k.as_str());
            let name_end = packed.len();
            packed.push_str(&value_text(v.as_bytes()));
            ends.push((name_end, packed.len()));
        }
        Headers {
            packed,
            ends,
            pairs: std::sync::OnceLock::new(),
        }
    }

    /// Each `(name, value)`, in order, without making the pairs.
    pub fn entries(&self) -> impl Iterator<Item = (&str, &str)> {
        let packed = self.ends.iter().scan(0, |start, &(name_end, end)| {
            let pair = (
                self.packed.get(*start..name_end).unwrap_or_default(),
                self.packed.get(name_end..end).unwrap_or_default(),
            );
            *start = end;
            Some(pair)
        });
        // Headers made from pairs have no packed form.
        let pairs = match (self.ends.is_empty(), self.pairs.get()) {
            (true, Some(p)) => &p[..],
            _ => &[],
        };
        packed.chain(pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())))
    }

    fn text(&self) -> &Vec<(String, String)> {
        self.pairs.get_or_init(|| {
            self.entries()
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                .collect()
        })
    }

    /// The first value of `name` (case-insensitive).
    pub fn get(&self, name: &str) -> Option<&str> {
        self.entries()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v)
    }
}

impl serde::Serialize for Headers {
    /// As the pairs would be: a list of `[name, value]`.
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.entries().map(|(k, v)| [k, v]))
    }
}

fn value_text(bytes: &[u8]) -> std::borrow::Cow<'_, str> {
    match std::str::from_utf8(bytes) {
        Ok(text) => std::borrow::Cow::Borrowed(text),
        Err(_) => String::from_utf8_lossy(bytes),
    }
}

impl std::ops::Deref for Headers {
    type Target = [(String, String)];
    fn deref(&self) -> &Self::Target {
        self.text()
    }
}

impl<'a> IntoIterator for &'a Headers {
    type Item = &'a (String, String);
    type IntoIter = std::slice::Iter<'a, (String, String)>;
    fn into_iter(self) -> Self::IntoIter {
        self.text().iter()
    }
}

impl From<Vec<(String, String)>> for Headers {
    fn from(pairs: Vec<(String, String)>) -> Headers {
        Headers {
            packed: String::new(),
            ends: Vec::new(),
            pairs: std::sync::OnceLock::from(pairs),
        }
    }
}

impl FromIterator<(String, String)> for Headers {
    fn from_iter<I: IntoIterator<Item = (String, String)>>(pairs: I) -> Headers {
        Headers::from(pairs.into_iter().collect::<Vec<_>>())
    }
}

impl PartialEq for Headers {
    fn eq(&self, other: &Headers) -> bool {
        self.entries().eq(other.entries())
    }
}

/// A response, with the body in memory or already written to a file.
#[derive(Debug, Clone)]
pub struct HttpResponse {
    pub status: u16,
    pub headers: Headers,
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
        self.headers.get(name)
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
    /// The connection broke before the whole answer arrived (reset,
    /// closed mid-message); retried like a refused connection.
    Broken(String),
    /// Failed while reading the body; retried like a refused connection.
    Body(String),
    /// The body is larger than the step's `max_response_size`.
    TooLarge(String),
    /// Writing the body to `save_to` failed.
    Write(String),
    /// Too many redirects, protocol errors and anything else.
    Other(String),
    /// `--replay` has no recorded answer for this request.
    NotRecorded(String),
}

impl TransportError {
    /// The network failed under the request: what `retry: {on: [connect]}`
    /// retries (with refused connections and DNS failures).
    pub fn is_network(&self) -> bool {
        matches!(
            self,
            TransportError::Connect(_) | TransportError::Broken(_) | TransportError::Body(_)
        )
    }

    pub fn kind(&self) -> &'static str {
        match self {
            TransportError::Connect(_) => "connect",
            TransportError::Timeout(_) => "timeout",
            TransportError::Tls(_) => "tls",
            TransportError::Request(_) => "request",
            TransportError::Broken(_) => "connection",
            TransportError::Body(_) | TransportError::TooLarge(_) | TransportError::Write(_) => {
                "body"
            }
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
            TransportError::Broken(m) => write!(f, "the connection broke: {m}"),
            TransportError::Body(m) => write!(f, "reading the response body failed: {m}"),
            TransportError::TooLarge(m) | TransportError::Write(m) => write!(f, "{m}"),
            TransportError::Other(m) => write!(f, "{m}"),
            TransportError::NotRecorded(m) => write!(f, "{m}"),
        }
    }
}

/// The reason phrase of a status code (`Not Found`), when it has a standard one.
pub fn reason_phrase(code: u16) -> Option<&'static str> {
    reqwest::StatusCode::from_u16(code).ok()?.canonical_reason()
}

/// One exchange's answer, its body not read yet.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub headers: Headers,
    pub body: ReplyBody,
    /// The URL that answered (the request's, without its fragment; a tape's
    /// recorded URL).
    pub url: String,
    /// How long the exchange took when it was recorded (replays).
    pub elapsed: Option<Duration>,
}

impl Reply {
    /// An answer whose body is already in memory (tapes, test doubles).
    pub fn full(status: u16, headers: Headers, body: Vec<u8>, url: impl Into<String>) -> Reply {
        Reply {
            status,
            headers,
            body: ReplyBody::Bytes(body),
            url: url.into(),
            elapsed: None,
        }
    }
}

/// A boxed future, so `Transport` stays object-safe.
pub type SendFuture<'a> = Pin<Box<dyn Future<Output = Result<Reply, TransportError>> + Send + 'a>>;

/// A route: sends one request and returns its answer, body unread. It never
/// follows a redirect, keeps no cookies and applies no limit: [`Client`]
/// does all of that, the same for every route.
pub trait Transport: Send + Sync {
    /// `left` is what is left of the step's timeout (`req.timeout`, which
    /// messages name).
    fn send<'a>(&'a self, req: &'a HttpRequest, left: Duration) -> SendFuture<'a>;

    /// True when answers come from a recording: retries need not wait.
    fn is_replay(&self) -> bool {
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::{HeaderMap, HeaderName, HeaderValue};

    #[test]
    fn headers_read_the_same_as_received_or_as_text() {
        let mut raw = HeaderMap::new();
        raw.append("content-type", HeaderValue::from_static("application/json"));
        raw.append("x-a", HeaderValue::from_static("1"));
        raw.append("x-a", HeaderValue::from_static("2"));
        raw.append(
            HeaderName::from_static("x-latin"),
            HeaderValue::from_bytes(b"caf\xe9").unwrap(),
        );
        let h = Headers::from_map(&raw);
        // Nothing of the received map is kept (its values share the
        // response's buffer).
        drop(raw);
        // A lookup by name does not make the pairs.
        assert_eq!(h.get("Content-Type"), Some("application/json"));
        assert_eq!(h.get("x-a"), Some("1"));
        assert_eq!(h.get("missing"), None);
        assert!(h.pairs.get().is_none());
        // A value that is not UTF-8 reads lossily.
        assert_eq!(h.get("x-latin"), Some("caf\u{fffd}"));
        let pairs: Vec<(&str, &str)> = h.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        assert_eq!(
            pairs,
            [
                ("content-type", "application/json"),
                ("x-a", "1"),
                ("x-a", "2"),
                ("x-latin", "caf\u{fffd}")
            ]
        );
        let copy: Headers = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        assert_eq!(copy, h);
        assert_eq!(copy.get("X-A"), Some("1"));
        let response = HttpResponse {
            status: 200,
            headers: h,
            body: Vec::new(),
            saved_bytes: None,
            url: String::new(),
            elapsed: Duration::ZERO,
        };
        assert_eq!(response.header_joined("x-a").as_deref(), Some("1, 2"));
        // Serialised as the pairs are.
        assert_eq!(
            serde_json::to_value(&response.headers).unwrap(),
            serde_json::to_value(&response.headers[..]).unwrap()
        );
        assert_eq!(
            serde_json::to_value(&copy).unwrap(),
            serde_json::to_value(&response.headers).unwrap()
        );
    }
}
