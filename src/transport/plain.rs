//! Requests that no proxy applies to, `http://` and `https://`, sent through
//! the same connection pool, HTTP/1 and HTTP/2 implementations, TLS
//! connector and response decoding that reqwest uses (hyper-util's pooled
//! client, hyper, hyper-rustls, tower-http's decompression), without
//! reqwest's per-request layers around them.
//!
//! Those layers cost more than the whole request beneath them on a local
//! network: each request's URL was parsed twice more (once to check a
//! redirect policy this transport turns off, once to give the response a
//! URL it already had), its headers copied twice, two timers boxed, and
//! the request kept for a retry policy that never retries an HTTP/1 request
//! (bench/README.md, sessions 12 and 17).
//!
//! What reqwest adds to a request is added here the same way: its default
//! `Accept: */*` and the `User-Agent`, after the request's own headers and
//! only when the request has none; `Accept-Encoding: gzip,deflate,br` and the
//! decoding of such responses (tower-http does both, as in reqwest); TCP
//! no-delay and keep-alive; the connect timeout; idle connections closed
//! after 90 s; TLS with the one configuration of the request's `tls:`
//! settings (tls.rs), which reqwest is given too, and HTTP/2 when the
//! server chooses it by ALPN. Requests through a proxy, and URLs that
//! `http::Uri` does not take as they are, go through reqwest. This route
//! only moves bytes: redirects, cookies and limits are [`super::Client`]'s,
//! as for reqwest's.

use std::time::Duration;

use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use reqwest::header::{self, HeaderMap, HeaderValue};
use tower_http::decompression::{Decompression, DecompressionBody};
use tower_service::Service;

use super::TransportError;
use super::live::{broken, error_chain, no_response, tls_failure};
use super::upload::WireBody;

type Pooled = Decompression<Client<HttpsConnector<HttpConnector>, WireBody>>;

/// A response whose body has not been read yet.
pub(super) type Response = http::Response<DecompressionBody<hyper::body::Incoming>>;

/// The direct client of a run, for one TLS configuration.
pub(super) struct Plain {
    client: Pooled,
    user_agent: HeaderValue,
}

impl Plain {
    pub(super) fn new(
        connect_timeout: Duration,
        user_agent: &'static str,
        mut tls: rustls::ClientConfig,
    ) -> Plain {
        // hyper-rustls offers h2 and http/1.1 itself, as the configuration does.
        tls.alpn_protocols.clear();
        let mut http = HttpConnector::new();
        http.enforce_http(false);
        http.set_nodelay(true);
        http.set_keepalive(Some(Duration::from_secs(15)));
        http.set_connect_timeout(Some(connect_timeout));
        let connector = hyper_rustls::HttpsConnectorBuilder::new()
            .with_tls_config(tls)
            .https_or_http()
            .enable_http1()
            .enable_http2()
            .wrap_connector(http);
        let pool = Client::builder(hyper_util::rt::TokioExecutor::new())
            .timer(hyper_util::rt::TokioTimer::new())
            .pool_timer(hyper_util::rt::TokioTimer::new())
            .pool_idle_timeout(Duration::from_secs(90))
            .build(connector);
        let client = Decompression::new(pool).gzip(true).deflate(true).br(true);
        Plain {
            client,
            user_agent: HeaderValue::from_static(user_agent),
        }
    }

    /// The request, with what reqwest would add to it.
    pub(super) fn request(
        &self,
        method: &reqwest::Method,
        uri: http::Uri,
        mut headers: HeaderMap,
        body: WireBody,
    ) -> http::Request<WireBody> {
        if let header::Entry::Vacant(e) = headers.entry(header::ACCEPT) {
            e.insert(HeaderValue::from_static("*/*"));
        }
        if let header::Entry::Vacant(e) = headers.entry(header::USER_AGENT) {
            e.insert(self.user_agent.clone());
        }
        let mut request = http::Request::new(body);
        *request.method_mut() = method.clone();
        *request.uri_mut() = uri;
        *request.headers_mut() = headers;
        request
    }

    /// Sends the request; `timeout` is what is left of the step's.
    pub(super) async fn send(
        &self,
        request: http::Request<WireBody>,
        timeout: Duration,
        step_timeout: Duration,
    ) -> Result<Response, TransportError> {
        let mut client = self.client.clone();
        match tokio::time::timeout(timeout, client.call(request)).await {
            Ok(Ok(resp)) => Ok(resp),
            Ok(Err(e)) if timed_out(&e) => Err(no_response(step_timeout)),
            Ok(Err(e)) => Err(classify(&e)),
            Err(_) => Err(no_response(step_timeout)),
        }
    }
}

/// What went wrong, in the words the reqwest route uses.
fn classify(e: &hyper_util::client::legacy::Error) -> TransportError {
    let chain = error_chain(e);
    if let Some(tls) = tls_failure(&chain) {
        tls
    } else if e.is_connect() {
        TransportError::Connect(chain)
    } else if broken(e) {
        TransportError::Broken(chain)
    } else {
        TransportError::Other(chain)
    }
}

/// A connection that timed out (reqwest reports it as a timeout too).
fn timed_out(e: &(dyn std::error::Error + 'static)) -> bool {
    let mut cur = Some(e);
    while let Some(err) = cur {
        if err
            .downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::TimedOut)
        {
            return true;
        }
        cur = err.source();
    }
    false
}
