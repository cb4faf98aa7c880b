//! Plain `http://` requests, sent through the same connection pool, HTTP/1
//! implementation and response decoding that reqwest uses (hyper-util's
//! pooled client, hyper, tower-http's decompression), without reqwest's
//! per-request layers around them.
//!
//! Those layers cost more than the whole request beneath them on a local
//! network: each request's URL was parsed twice more (once to check a
//! redirect policy this transport turns off, once to give the response a
//! URL it already had), its headers copied twice, two timers boxed, and
//! the request kept for a retry policy that never retries an HTTP/1 request
//! (bench/README.md, session 12, compares the two).
//!
//! What reqwest adds to a request is added here the same way: its default
//! `Accept: */*` and the `User-Agent`, after the request's own headers and
//! only when the request has none; `Accept-Encoding: gzip,deflate,br` and the
//! decoding of such responses (tower-http does both, as in reqwest); TCP
//! no-delay and keep-alive; the connect timeout; idle connections closed
//! after 90 s. The live route sends everything else through reqwest:
//! `https`, requests a proxy applies to, `tls:` settings, and URLs that
//! `http::Uri` does not take as they are. This route only moves bytes:
//! redirects, cookies and limits are [`super::Client`]'s, as for reqwest's.

use std::time::Duration;

use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use reqwest::header::{self, HeaderMap, HeaderValue};
use tower_http::decompression::{Decompression, DecompressionBody};
use tower_service::Service;

use super::TransportError;
use super::live::{broken, error_chain, no_response};
use super::upload::WireBody;

type Pooled = Decompression<Client<HttpConnector, WireBody>>;

/// A response whose body has not been read yet.
pub(super) type Response = http::Response<DecompressionBody<hyper::body::Incoming>>;

/// The plain-HTTP client of a run.
pub(super) struct Plain {
    client: Pooled,
    user_agent: HeaderValue,
}

impl Plain {
    pub(super) fn new(connect_timeout: Duration, user_agent: &'static str) -> Plain {
        let mut http = HttpConnector::new();
        http.set_nodelay(true);
        http.set_keepalive(Some(Duration::from_secs(15)));
        http.set_connect_timeout(Some(connect_timeout));
        let pool = Client::builder(hyper_util::rt::TokioExecutor::new())
            .timer(hyper_util::rt::TokioTimer::new())
            .pool_timer(hyper_util::rt::TokioTimer::new())
            .pool_idle_timeout(Duration::from_secs(90))
            .build(http);
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
            Ok(Err(e)) if e.is_connect() => Err(TransportError::Connect(error_chain(&e))),
            Ok(Err(e)) if broken(&e) => Err(TransportError::Broken(error_chain(&e))),
            Ok(Err(e)) => Err(TransportError::Other(error_chain(&e))),
            Err(_) => Err(no_response(step_timeout)),
        }
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
