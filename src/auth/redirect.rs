//! Redirects for authenticated requests, followed here rather than by
//! reqwest: reqwest drops `Authorization` and cookies when a redirect leaves
//! the origin, but keeps custom headers such as `X-Api-Key` and query
//! parameters. Every credential pytopus added is taken off before a request
//! goes to another origin, and stays off.

use crate::transport::{
    BodySink, HttpRequest, HttpResponse, MAX_REDIRECTS, Transport, TransportError, is_redirect,
};

use super::Added;

fn origin(url: &url::Url) -> url::Origin {
    url.origin()
}

/// Sends `req`, following redirects, removing `added` credentials whenever
/// the next URL's origin differs from the first request's.
pub async fn send(
    transport: &dyn Transport,
    req: &HttpRequest,
    sink: &BodySink,
    added: &Added,
) -> Result<HttpResponse, TransportError> {
    let mut current = req.clone();
    current.follow_redirects = false;
    let first = url::Url::parse(&req.url).map_err(|e| TransportError::Request(e.to_string()))?;
    let mut stripped = false;
    for _ in 0..=MAX_REDIRECTS {
        let resp = transport.send(&current, sink).await?;
        let location = resp.header("location");
        let (true, Some(location)) = (is_redirect(resp.status), location) else {
            return Ok(resp);
        };
        let base =
            url::Url::parse(&current.url).map_err(|e| TransportError::Request(e.to_string()))?;
        let mut next = base.join(location).map_err(|e| {
            TransportError::Other(format!("bad redirect location `{location}`: {e}"))
        })?;
        if stripped || origin(&next) != origin(&first) {
            stripped = true;
            current
                .headers
                .retain(|(k, _)| !added.headers.iter().any(|a| a.eq_ignore_ascii_case(k)));
            if !added.query.is_empty() {
                let kept: Vec<(String, String)> = next
                    .query_pairs()
                    .filter(|(k, _)| !added.query.iter().any(|a| a == k))
                    .map(|(k, v)| (k.into_owned(), v.into_owned()))
                    .collect();
                next.set_query(None);
                if !kept.is_empty() {
                    next.query_pairs_mut().extend_pairs(kept);
                }
            }
        }
        // RFC 9110 §15.4: 303 becomes GET; so do 301/302 after a POST, as browsers do.
        if resp.status == 303 || (matches!(resp.status, 301 | 302) && current.method == "POST") {
            current.method = "GET".into();
            current.body = None;
            current
                .headers
                .retain(|(k, _)| !k.eq_ignore_ascii_case("content-type"));
        }
        current.url = next.to_string();
    }
    Err(TransportError::Other(format!(
        "too many redirects (more than {MAX_REDIRECTS})"
    )))
}
