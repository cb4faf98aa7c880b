//! The one pipeline every request goes through, whatever sends it (the
//! network, a tape, a test double) and whoever asks (a step, an OAuth2
//! token request, a metrics push): redirects and credential stripping
//! ([`super::redirect`]), the run's cookie jar, the response size limit and
//! where the body goes. Routes below it ([`Transport`]) send one exchange
//! each and decide nothing.

use std::borrow::Cow;
use std::sync::{Arc, Mutex};

use tokio::time::Instant;

use super::body::{self, Reading};
use super::redirect::{self, Hop, MAX_REDIRECTS};
use super::{Added, BodySink, Headers, HttpRequest, HttpResponse, Transport, TransportError};
use crate::secret::Redactor;

/// Sends requests for one run (or one session of runs sharing cookies).
pub struct Client {
    route: Arc<dyn Transport>,
    /// Cookies servers set, sent back to them for the rest of the run.
    jar: Mutex<cookie_store::CookieStore>,
    /// Tells which URLs and header values hold a secret (a redirect to
    /// another origin does not take them along; no `Referer` names them).
    redactor: Redactor,
}

impl Client {
    pub fn new(route: Arc<dyn Transport>, redactor: Redactor) -> Client {
        Client {
            route,
            jar: Mutex::new(cookie_store::CookieStore::default()),
            redactor,
        }
    }

    /// Answers come from a recording: retries need not wait.
    pub fn is_replay(&self) -> bool {
        self.route.is_replay()
    }

    /// Sends `req`, following its redirects by the one policy, and reads
    /// the final response's body into memory or to `sink`'s file. `added`
    /// names the credentials `auth:` put on the request, which a redirect
    /// to another origin takes off.
    pub async fn send(
        &self,
        req: &HttpRequest,
        sink: &BodySink,
        added: &Added,
    ) -> Result<HttpResponse, TransportError> {
        let started = Instant::now();
        let deadline = started + req.timeout;
        let first = match &req.parsed_url {
            Some(u) if u.as_str() == req.url => u.clone(),
            _ => url::Url::parse(&req.url).map_err(|e| {
                TransportError::Request(format!("`{}` is not a valid URL: {e}", req.url))
            })?,
        };
        let origin = first.origin();
        let mut hop: Option<Hop> = None;
        let mut recorded = std::time::Duration::ZERO;
        let mut redirects = 0;
        let reply = loop {
            let url = hop.as_ref().map_or(&first, |h| &h.url);
            let mut wire = self.wire(req, hop.as_ref(), url);
            // A signature covers the request it was made for: a hop that
            // stays on the first origin is signed again as it now is.
            if let (Some(h), Some(signer)) = (&hop, &added.signer)
                && !h.stripped
            {
                signer
                    .sign(wire.to_mut())
                    .map_err(|e| TransportError::Request(format!("signing a redirect: {e}")))?;
            }
            let left = deadline
                .saturating_duration_since(Instant::now())
                .max(std::time::Duration::from_millis(1));
            let reply = self.route.send(&wire, left).await?;
            recorded += reply.elapsed.unwrap_or_default();
            self.keep_cookies(&reply.headers, url);
            let next = if req.follow_redirects {
                redirect::target(reply.status, reply.headers.get("location"), url)?
            } else {
                None
            };
            let Some(next) = next else {
                break reply;
            };
            if redirects == MAX_REDIRECTS {
                return Err(TransportError::Other(format!(
                    "too many redirects (more than {MAX_REDIRECTS}), the last to {next}"
                )));
            }
            redirects += 1;
            let status = reply.status;
            body::discard(reply.body, deadline).await;
            let h = hop.get_or_insert_with(|| Hop {
                method: req.method.clone(),
                url: first.clone(),
                headers: req.headers.clone(),
                body: req.body.clone(),
                tls: req.tls.clone(),
                stripped: false,
            });
            redirect::follow(h, status, next, &origin, added, |text| {
                self.redactor.contains_secret(text)
            });
        };
        let size_hint = match reply.headers.get("content-encoding") {
            None => reply
                .headers
                .get("content-length")
                .and_then(|v| v.trim().parse().ok()),
            Some(_) => None,
        };
        let file = match sink {
            BodySink::Memory => None,
            BodySink::File(path) => Some(path.as_path()),
        };
        let status = reply.status;
        let (body, saved_bytes) = body::read(
            reply.body,
            Reading {
                limit: req.body_limit,
                deadline,
                step_timeout: req.timeout,
                size_hint,
                file,
            },
        )
        .await
        .map_err(|e| match e {
            // Say that an answer had begun: the status is all there is of it.
            TransportError::Body(m) => {
                TransportError::Body(format!("{m} (after status {status} arrived)"))
            }
            other => other,
        })?;
        Ok(HttpResponse {
            status: reply.status,
            headers: reply.headers,
            body,
            saved_bytes,
            url: reply.url,
            elapsed: if self.route.is_replay() {
                recorded
            } else {
                started.elapsed()
            },
        })
    }

    /// The request as the route sends it: the hop's method, URL, headers
    /// and body, and the jar's cookies unless it brings its own `Cookie`.
    /// The first hop of a request without cookies is the request itself.
    fn wire<'r>(
        &self,
        req: &'r HttpRequest,
        hop: Option<&Hop>,
        url: &url::Url,
    ) -> Cow<'r, HttpRequest> {
        let headers = hop.map_or(&req.headers, |h| &h.headers);
        let cookies = if headers
            .iter()
            .any(|(k, _)| k.eq_ignore_ascii_case("cookie"))
        {
            None
        } else {
            self.cookies_for(url)
        };
        let mut wire = match (hop, cookies.is_some()) {
            (None, false) => return Cow::Borrowed(req),
            (None, true) => req.clone(),
            (Some(h), _) => HttpRequest {
                method: h.method.clone(),
                url: h.url.to_string(),
                parsed_url: Some(h.url.clone()),
                headers: h.headers.clone(),
                body: h.body.clone(),
                tls: h.tls.clone(),
                timeout: req.timeout,
                follow_redirects: req.follow_redirects,
                body_limit: req.body_limit,
            },
        };
        if let Some(c) = cookies {
            wire.headers.push(("cookie".into(), c));
        }
        Cow::Owned(wire)
    }

    /// The `Cookie` header the jar has for `url`.
    fn cookies_for(&self, url: &url::Url) -> Option<String> {
        let jar = self.jar.lock().unwrap_or_else(|e| e.into_inner());
        let mut text = String::new();
        for (name, value) in jar.get_request_values(url) {
            if !text.is_empty() {
                text.push_str("; ");
            }
            text.push_str(name);
            text.push('=');
            text.push_str(value);
        }
        (!text.is_empty()).then_some(text)
    }

    /// Keeps the cookies a response sets.
    fn keep_cookies(&self, headers: &Headers, url: &url::Url) {
        let mut set = headers
            .entries()
            .filter(|(k, _)| k.eq_ignore_ascii_case("set-cookie"))
            .filter_map(|(_, v)| cookie_store::RawCookie::parse(v).ok())
            .map(|c| c.into_owned())
            .peekable();
        if set.peek().is_none() {
            return;
        }
        self.jar
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .store_response_cookies(set, url);
    }
}
