//! The live route: sends one exchange over the network, with one set of
//! clients per distinct `tls:` settings (one TLS configuration each, tls.rs).
//! A request that no proxy applies to, `http://` or `https://`, goes through
//! the pool, HTTP/1 and HTTP/2 code and decoder that reqwest uses, without
//! reqwest's per-request layers (plain.rs); a request through a proxy goes
//! through reqwest. Which route a request takes is decided by the proxy
//! rules reqwest itself follows (the environment and, on macOS and Windows,
//! the system's settings), the same on every platform. Redirects, cookies
//! and limits are [`super::Client`]'s.

use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use hyper_util::client::proxy::matcher::Matcher;

use super::plain::Plain;
use super::tls::{lazy_roots_tls_config, tls_config};
use super::upload::WireBody;
use super::{
    Body, HttpRequest, Reply, ReplyBody, SendFuture, TlsSettings, Transport, TransportError,
};

const USER_AGENT: &str = concat!("pytopus/", env!("CARGO_PKG_VERSION"));

/// Settings for the live client.
#[derive(Debug, Clone)]
pub struct LiveOptions {
    pub connect_timeout: Duration,
    /// Send every request through reqwest, as through a proxy (the
    /// transport tests run both routes).
    pub reqwest_only: bool,
}

impl Default for LiveOptions {
    fn default() -> Self {
        LiveOptions {
            connect_timeout: Duration::from_secs(10),
            reqwest_only: false,
        }
    }
}

/// The clients of one `tls:` setting, by settings. A failure to build them
/// (a bad PEM file) is kept too, so it is reported the same way on every
/// attempt without reading the files again.
type TlsClients = HashMap<Arc<TlsSettings>, Result<Arc<Clients>, TransportError>>;

/// The two routes' clients for one TLS configuration.
struct Clients {
    /// Requests no proxy applies to (see plain.rs); `None` when every
    /// request goes through reqwest.
    direct: Option<Plain>,
    /// Requests through a proxy, built on first use.
    proxied: OnceLock<Result<reqwest::Client, TransportError>>,
    config: rustls::ClientConfig,
}

impl Clients {
    fn new(config: rustls::ClientConfig, opts: &LiveOptions) -> Clients {
        Clients {
            direct: (!opts.reqwest_only)
                .then(|| Plain::new(opts.connect_timeout, USER_AGENT, config.clone())),
            proxied: OnceLock::new(),
            config,
        }
    }

    fn proxied(&self, opts: &LiveOptions) -> Result<&reqwest::Client, TransportError> {
        self.proxied
            .get_or_init(|| {
                base_builder(opts)
                    .tls_backend_preconfigured(self.config.clone())
                    .build()
                    .map_err(|e| TransportError::Other(error_chain(&e)))
            })
            .as_ref()
            .map_err(Clone::clone)
    }
}

/// Sends requests over the network, one exchange at a time.
pub struct LiveTransport {
    /// For steps without `tls:`.
    default: Clients,
    /// The proxy rules, to tell which requests go through reqwest.
    proxies: Matcher,
    /// For steps with `tls:`; each built on first use.
    tls_clients: Mutex<TlsClients>,
    opts: LiveOptions,
}

impl LiveTransport {
    pub fn new(opts: &LiveOptions) -> Result<Self, TransportError> {
        let default = Clients::new(lazy_roots_tls_config(), opts);
        // Built now rather than on first use, so that a system whose proxy
        // settings cannot be read says so before the first step.
        default.proxied(opts)?;
        Ok(LiveTransport {
            default,
            proxies: Matcher::from_system(),
            tls_clients: Mutex::new(HashMap::new()),
            opts: opts.clone(),
        })
    }

    /// The clients for a request's `tls:` settings.
    fn clients_for(&self, req: &HttpRequest) -> Result<Option<Arc<Clients>>, TransportError> {
        let Some(tls) = &req.tls else {
            return Ok(None);
        };
        // A poisoned lock only means another request panicked while
        // holding it; the map itself is still consistent.
        let mut clients = self.tls_clients.lock().unwrap_or_else(|e| e.into_inner());
        clients
            .entry(Arc::clone(tls))
            .or_insert_with(|| tls_config(tls).map(|c| Arc::new(Clients::new(c, &self.opts))))
            .clone()
            .map(Some)
    }

    /// The URI to send `url` to directly, when it may: `http` or `https`,
    /// no proxy for this URL, and a URL that `http::Uri` takes as it is.
    fn direct_uri(&self, url: &url::Url) -> Option<http::Uri> {
        if !matches!(url.scheme(), "http" | "https") {
            return None;
        }
        let uri: http::Uri = url.as_str().parse().ok()?;
        self.proxies.intercept(&uri).is_none().then_some(uri)
    }

    async fn send_inner(&self, req: &HttpRequest, left: Duration) -> Result<Reply, TransportError> {
        let method = reqwest::Method::from_bytes(req.method.as_bytes()).map_err(|_| {
            TransportError::Request(format!("`{}` is not a valid HTTP method", req.method))
        })?;
        let mut url = match &req.parsed_url {
            Some(u) if u.as_str() == req.url => u.clone(),
            _ => reqwest::Url::parse(&req.url).map_err(|e| {
                TransportError::Request(format!("`{}` is not a valid URL: {e}", req.url))
            })?,
        };
        let mut headers = reqwest::header::HeaderMap::with_capacity(req.headers.len());
        for (k, v) in &req.headers {
            let name = reqwest::header::HeaderName::from_bytes(k.as_bytes()).map_err(|_| {
                TransportError::Request(format!("`{k}` is not a valid header name"))
            })?;
            let value = reqwest::header::HeaderValue::from_str(v).map_err(|_| {
                TransportError::Request(format!(
                    "the value of header `{k}` contains characters not allowed in a header"
                ))
            })?;
            headers.append(name, value);
        }
        let tls_clients = self.clients_for(req)?;
        let clients = tls_clients.as_deref().unwrap_or(&self.default);
        if let Some(plain) = &clients.direct
            && let Some(uri) = self.direct_uri(&url)
        {
            let body = match &req.body {
                None => WireBody::default(),
                Some(Body::Bytes(b)) => WireBody::full(b.clone()),
                Some(streamed) => streamed.open()?,
            };
            let request = plain.request(&method, uri, headers, body);
            let resp = plain.send(request, left, req.timeout).await?;
            // As reqwest words it: the URL of the request, without a fragment.
            url.set_fragment(None);
            return Ok(Reply {
                status: resp.status().as_u16(),
                headers: super::Headers::from_map(resp.headers()),
                body: ReplyBody::Plain(resp),
                url: url.into(),
                elapsed: None,
            });
        }
        let client = clients.proxied(&self.opts)?;
        // Built in place rather than through `RequestBuilder`, which would
        // insert the headers one by one into a second map.
        let mut request = reqwest::Request::new(method, url);
        *request.timeout_mut() = Some(left);
        *request.headers_mut() = headers;
        match &req.body {
            None => {}
            Some(Body::Bytes(b)) => *request.body_mut() = Some(b.clone().into()),
            // Its exact length is sent as `Content-Length`.
            Some(streamed) => *request.body_mut() = Some(reqwest::Body::wrap(streamed.open()?)),
        }
        let resp = client
            .execute(request)
            .await
            .map_err(|e| classify(&e, req.timeout))?;
        Ok(Reply {
            status: resp.status().as_u16(),
            headers: super::Headers::from_map(resp.headers()),
            url: resp.url().as_str().to_owned(),
            body: ReplyBody::Reqwest(resp),
            elapsed: None,
        })
    }
}

impl Transport for LiveTransport {
    fn send<'a>(&'a self, req: &'a HttpRequest, left: Duration) -> SendFuture<'a> {
        Box::pin(self.send_inner(req, left))
    }
}

/// What every client shares, with or without `tls:` settings. Redirects and
/// cookies are [`super::Client`]'s.
fn base_builder(opts: &LiveOptions) -> reqwest::ClientBuilder {
    reqwest::Client::builder()
        .user_agent(USER_AGENT)
        .connect_timeout(opts.connect_timeout)
        .redirect(reqwest::redirect::Policy::none())
}

/// A step's `timeout` passed before the response's head arrived (both clients).
pub(super) fn no_response(timeout: Duration) -> TransportError {
    TransportError::Timeout(format!(
        "no response within {}",
        humantime::format_duration(timeout)
    ))
}

/// A step's `timeout` passed while the body was arriving (both clients).
pub(super) fn slow_body(timeout: Duration) -> TransportError {
    TransportError::Timeout(format!(
        "the whole response did not arrive within {}",
        humantime::format_duration(timeout)
    ))
}

pub(super) fn body_error(e: &reqwest::Error, timeout: Duration) -> TransportError {
    if e.is_timeout() {
        slow_body(timeout)
    } else {
        TransportError::Body(error_chain(e))
    }
}

fn classify(e: &reqwest::Error, timeout: Duration) -> TransportError {
    let chain = error_chain(e);
    if e.is_timeout() {
        no_response(timeout)
    } else if let Some(tls) = tls_failure(&chain) {
        tls
    } else if e.is_connect() {
        TransportError::Connect(chain)
    } else if broken(e) {
        TransportError::Broken(chain)
    } else if e.is_builder() {
        TransportError::Request(chain)
    } else if e.is_redirect() && !chain.to_ascii_lowercase().contains("too many redirects") {
        TransportError::Other(format!("too many redirects: {chain}"))
    } else {
        TransportError::Other(chain)
    }
}

/// A failed TLS handshake, told by what rustls says (both routes).
pub(super) fn tls_failure(chain: &str) -> Option<TransportError> {
    let lower = chain.to_ascii_lowercase();
    if chain.contains("InvalidContentType") || lower.contains("corrupt message") {
        // What rustls says when the server answers a ClientHello in plain
        // text: an `https://` URL on a plain-HTTP port.
        Some(TransportError::Tls(format!(
            "the server did not answer TLS — plain HTTP on this port? ({})",
            without_byte_dumps(chain)
        )))
    } else if lower.contains("certificate") || lower.contains("tls") || lower.contains("handshake")
    {
        let hint = handshake_hint(chain);
        Some(TransportError::Tls(format!(
            "{}{hint}",
            without_byte_dumps(chain)
        )))
    } else {
        None
    }
}

/// The connection broke under an exchange: reset, aborted, or closed
/// before the whole message arrived.
pub(super) fn broken(e: &(dyn std::error::Error + 'static)) -> bool {
    let mut cur = Some(e);
    while let Some(err) = cur {
        if let Some(io) = err.downcast_ref::<std::io::Error>()
            && matches!(
                io.kind(),
                std::io::ErrorKind::ConnectionReset
                    | std::io::ErrorKind::ConnectionAborted
                    | std::io::ErrorKind::BrokenPipe
                    | std::io::ErrorKind::UnexpectedEof
            )
        {
            return true;
        }
        if err
            .downcast_ref::<hyper::Error>()
            .is_some_and(|h| h.is_incomplete_message() || h.is_closed() || h.is_canceled())
        {
            return true;
        }
        cur = err.source();
    }
    false
}

/// Drops the `{ signature_algorithm_id: [6, 9, 42, …] }` that some rustls
/// errors carry in their Debug text: bytes of OIDs that help nobody.
fn without_byte_dumps(chain: &str) -> Cow<'_, str> {
    match chain.find(" { signature_algorithm_id: [") {
        Some(start) => match chain[start..].find('}') {
            Some(len) => Cow::Owned(format!("{}{}", &chain[..start], &chain[start + len + 1..])),
            None => Cow::Borrowed(chain),
        },
        None => Cow::Borrowed(chain),
    }
}

/// What rustls's terse names for the common handshake failures mean.
fn handshake_hint(chain: &str) -> &'static str {
    if chain.contains("UnknownIssuer") {
        " (the server's certificate is not signed by a CA this client trusts)"
    } else if chain.contains("BadSignature")
        || chain.contains("UnsupportedSignatureAlgorithmForPublicKey")
    {
        " (a trusted CA has the issuer's name but not its key: is `tls.ca_cert` the CA \
         that signed this certificate?)"
    } else if chain.contains("alert: CertificateRequired") {
        " (the server requires a client certificate: set `tls.client_cert`)"
    } else if [
        "alert: UnknownCA",
        "alert: BadCertificate",
        "alert: AccessDenied",
    ]
    .iter()
    .any(|a| chain.contains(a))
    {
        " (the server did not accept the client certificate)"
    } else {
        ""
    }
}

/// Wrapper messages that say nothing the step error does not already say.
const NOISE: &[&str] = &[
    "error sending request",
    "client error (Connect)",
    "client error (SendRequest)",
    "error following redirect",
    "error decoding response body",
    "request or response body error",
];

/// The error and its causes, most specific last, without repeats, without
/// generic wrappers and without the URL (which the step error shows anyway).
pub(super) fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(err) = cur {
        let mut text = err.to_string();
        if let Some(i) = text.find(" for url (") {
            text.truncate(i);
        }
        let noise = NOISE.iter().any(|n| text.eq_ignore_ascii_case(n));
        if !text.is_empty() && !noise && !parts.iter().any(|p| p.contains(&text)) {
            parts.retain(|p| !text.contains(p.as_str()));
            parts.push(text);
        }
        cur = err.source();
    }
    if parts.is_empty() {
        return e.to_string();
    }
    parts.join(": ")
}
