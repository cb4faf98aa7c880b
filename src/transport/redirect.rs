//! The redirect policy, one for every request pytopus sends (docs/reference.md,
//! "Redirects"). Pure functions of the request being followed and the
//! response that redirects it, so every rule is tested here on its own.
//!
//! - Followed: 301, 302, 303, 307 and 308 with a `Location`, to http or https
//!   URLs only, at most [`MAX_REDIRECTS`] times.
//! - 303 becomes a GET (a HEAD stays a HEAD); 301 and 302 after a POST
//!   become a GET, as browsers and curl do. The body and the headers that
//!   describe it go with the method change. 307 and 308 keep both.
//! - Once a redirect leaves the first request's origin (scheme, host, port),
//!   the request loses for good: `Authorization`, `Proxy-Authorization`,
//!   `Cookie` (the jar still adds the new origin's own cookies), every header
//!   and query parameter an `auth:` scheme added, every header whose value
//!   holds a secret, and the client certificate.
//! - `Referer` is strict-origin-when-cross-origin: the full URL (without
//!   fragment or user info) to the same origin, the origin alone to another,
//!   nothing from https to http, and nothing when the URL holds a secret.

use std::sync::Arc;

use super::{Added, Body, TlsSettings, TransportError};

/// The most redirects one request follows.
pub const MAX_REDIRECTS: usize = 10;

/// Headers that carry credentials whoever wrote them.
const CREDENTIAL_HEADERS: &[&str] = &["authorization", "proxy-authorization", "cookie", "cookie2"];

/// Headers that describe a body, dropped with it.
const BODY_HEADERS: &[&str] = &[
    "content-type",
    "content-length",
    "content-encoding",
    "transfer-encoding",
];

/// A status that redirects when it comes with a `Location`.
pub fn is_redirect(status: u16) -> bool {
    matches!(status, 301 | 302 | 303 | 307 | 308)
}

/// One request of a redirect chain, as it is about to be sent.
#[derive(Debug, Clone)]
pub struct Hop {
    pub method: String,
    pub url: url::Url,
    pub headers: Vec<(String, String)>,
    pub body: Option<Body>,
    pub tls: Option<Arc<TlsSettings>>,
    /// Credentials were taken off at an earlier hop: they stay off.
    pub stripped: bool,
}

/// Where a response sends the request next: `None` when it is not a
/// redirect or has no usable `Location`; an error for a scheme pytopus does
/// not follow.
pub fn target(
    status: u16,
    location: Option<&str>,
    from: &url::Url,
) -> Result<Option<url::Url>, TransportError> {
    if !is_redirect(status) {
        return Ok(None);
    }
    let Some(next) = location.and_then(|l| from.join(l.trim()).ok()) else {
        return Ok(None);
    };
    if !matches!(next.scheme(), "http" | "https") {
        return Err(TransportError::Other(format!(
            "a redirect to a `{}:` URL: only http and https URLs are followed",
            next.scheme()
        )));
    }
    Ok(Some(next))
}

/// Turns `hop` into the request `status` asks for at `next`. `first` is the
/// origin of the chain's first request; `added` what `auth:` put on it;
/// `holds_secret` says whether a text (a URL, a header's value) carries a
/// secret.
pub fn follow(
    hop: &mut Hop,
    status: u16,
    mut next: url::Url,
    first: &url::Origin,
    added: &Added,
    holds_secret: impl Fn(&str) -> bool,
) {
    let to_get = match status {
        303 => hop.method != "HEAD",
        301 | 302 => hop.method == "POST",
        _ => false,
    };
    if to_get {
        hop.method = "GET".into();
    }
    if to_get || (status == 303 && hop.method == "HEAD") {
        hop.body = None;
        hop.headers
            .retain(|(k, _)| !BODY_HEADERS.iter().any(|b| k.eq_ignore_ascii_case(b)));
    }
    if next.origin() != *first {
        hop.stripped = true;
    }
    if hop.stripped {
        hop.headers.retain(|(k, v)| {
            !CREDENTIAL_HEADERS.iter().any(|c| k.eq_ignore_ascii_case(c))
                && !added.headers.iter().any(|a| k.eq_ignore_ascii_case(a))
                && !holds_secret(v)
        });
        if !added.query.is_empty() && next.query().is_some() {
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
        if let Some(tls) = &hop.tls
            && tls.client_cert.is_some()
        {
            hop.tls = Some(Arc::new(TlsSettings {
                client_cert: None,
                client_key: None,
                password: None,
                ..TlsSettings::clone(tls)
            }));
        }
    }
    hop.headers
        .retain(|(k, _)| !k.eq_ignore_ascii_case("referer"));
    if let Some(referer) = referer(&hop.url, &next, |u| holds_secret(u.as_str())) {
        hop.headers.push(("referer".into(), referer));
    }
    hop.url = next;
}

/// The `Referer` a request to `to` gets when `from` redirected it there.
fn referer(
    from: &url::Url,
    to: &url::Url,
    holds_secret: impl Fn(&url::Url) -> bool,
) -> Option<String> {
    if (from.scheme() == "https" && to.scheme() == "http") || holds_secret(from) {
        return None;
    }
    if from.origin() == to.origin() {
        let mut url = from.clone();
        let _ = url.set_username("");
        let _ = url.set_password(None);
        url.set_fragment(None);
        Some(url.into())
    } else {
        Some(format!("{}/", from.origin().ascii_serialization()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(s: &str) -> url::Url {
        url::Url::parse(s).unwrap()
    }

    fn hop(method: &str, at: &str) -> Hop {
        Hop {
            method: method.into(),
            url: url(at),
            headers: vec![
                ("authorization".into(), "Bearer t".into()),
                ("Cookie".into(), "session=abc".into()),
                ("X-Api-Key".into(), "k".into()),
                ("content-type".into(), "application/json".into()),
                ("accept".into(), "*/*".into()),
            ],
            body: Some(Body::Bytes(b"{}".to_vec())),
            tls: Some(Arc::new(TlsSettings {
                client_cert: Some("c.pem".into()),
                client_key: None,
                ca_cert: Some("ca.pem".into()),
                verify: true,
                password: None,
            })),
            stripped: false,
        }
    }

    fn names(h: &Hop) -> Vec<String> {
        h.headers
            .iter()
            .map(|(k, _)| k.to_ascii_lowercase())
            .collect()
    }

    fn added() -> Added {
        Added {
            headers: vec!["X-Api-Key".into()],
            query: vec!["api_key".into()],
            signer: None,
        }
    }

    fn no_secret(_: &str) -> bool {
        false
    }

    #[test]
    fn targets() {
        let from = url("http://a.test/x/y?q=1");
        assert_eq!(
            target(302, Some("/z"), &from).unwrap().unwrap().as_str(),
            "http://a.test/z"
        );
        assert_eq!(
            target(307, Some("w"), &from).unwrap().unwrap().as_str(),
            "http://a.test/x/w"
        );
        assert!(target(200, Some("/z"), &from).unwrap().is_none());
        assert!(target(304, Some("/z"), &from).unwrap().is_none());
        assert!(target(302, None, &from).unwrap().is_none());
        assert!(target(302, Some("http://[::1"), &from).unwrap().is_none());
        let err = target(301, Some("file:///etc/passwd"), &from).unwrap_err();
        assert!(err.to_string().contains("only http and https"), "{err}");
    }

    #[test]
    fn same_origin_keeps_credentials_and_the_full_referer() {
        let first = url("http://a.test/start").origin();
        let mut h = hop("GET", "http://a.test/start?page=2#top");
        follow(
            &mut h,
            302,
            url("http://a.test/next"),
            &first,
            &added(),
            no_secret,
        );
        assert!(!h.stripped);
        let n = names(&h);
        for kept in ["authorization", "cookie", "x-api-key"] {
            assert!(n.contains(&kept.to_string()), "{kept}: {n:?}");
        }
        assert!(h.tls.as_ref().unwrap().client_cert.is_some());
        let referer = &h.headers.iter().find(|(k, _)| k == "referer").unwrap().1;
        assert_eq!(referer, "http://a.test/start?page=2");
    }

    #[test]
    fn another_origin_loses_every_credential_for_good() {
        let first = url("http://127.0.0.1:18080/redirect-to").origin();
        for to in [
            "http://localhost:18080/anything",
            "http://127.0.0.1:18081/anything",
            "https://127.0.0.1:18080/anything",
        ] {
            let mut h = hop("GET", "http://127.0.0.1:18080/redirect-to");
            let next = url(&format!("{to}?api_key=leaked&keep=1"));
            follow(&mut h, 302, next, &first, &added(), no_secret);
            assert!(h.stripped, "{to}");
            let n = names(&h);
            assert!(!n.contains(&"authorization".to_string()), "{to}: {n:?}");
            assert!(!n.contains(&"cookie".to_string()), "{to}: {n:?}");
            assert!(!n.contains(&"x-api-key".to_string()), "{to}: {n:?}");
            assert!(n.contains(&"accept".to_string()));
            assert_eq!(h.url.query(), Some("keep=1"), "{to}");
            let tls = h.tls.as_ref().unwrap();
            assert!(tls.client_cert.is_none() && tls.ca_cert.is_some(), "{to}");
            let referer = &h.headers.iter().find(|(k, _)| k == "referer").unwrap().1;
            assert_eq!(referer, "http://127.0.0.1:18080/", "only the origin");
        }
        // Back at the first origin, the credentials stay off.
        let mut h = hop("GET", "http://other.test/");
        h.stripped = true;
        follow(
            &mut h,
            302,
            url("http://127.0.0.1:18080/back"),
            &first,
            &added(),
            no_secret,
        );
        assert!(!names(&h).contains(&"authorization".to_string()));
    }

    #[test]
    fn a_header_holding_a_secret_stays_behind() {
        let first = url("http://a.test/").origin();
        let mut h = hop("GET", "http://a.test/");
        h.headers.push(("X-Token".into(), "pre-s3cret".into()));
        h.headers.push(("X-Plain".into(), "fine".into()));
        follow(
            &mut h,
            302,
            url("http://b.test/"),
            &first,
            &Added::default(),
            |t: &str| t.contains("s3cret"),
        );
        let n = names(&h);
        assert!(!n.contains(&"x-token".to_string()), "{n:?}");
        assert!(n.contains(&"x-plain".to_string()), "{n:?}");
    }

    #[test]
    fn methods_change_as_browsers_do() {
        let first = url("http://a.test/").origin();
        let cases = [
            ("POST", 301, "GET", false),
            ("POST", 302, "GET", false),
            ("POST", 303, "GET", false),
            ("PUT", 303, "GET", false),
            ("HEAD", 303, "HEAD", false),
            ("DELETE", 302, "DELETE", true),
            ("PUT", 301, "PUT", true),
            ("POST", 307, "POST", true),
            ("POST", 308, "POST", true),
            ("GET", 302, "GET", true),
        ];
        for (method, status, after, keeps_body) in cases {
            let mut h = hop(method, "http://a.test/");
            follow(
                &mut h,
                status,
                url("http://a.test/b"),
                &first,
                &added(),
                no_secret,
            );
            assert_eq!(h.method, after, "{method} {status}");
            assert_eq!(h.body.is_some(), keeps_body, "{method} {status}");
            assert_eq!(
                names(&h).contains(&"content-type".to_string()),
                keeps_body,
                "{method} {status}"
            );
        }
    }

    #[test]
    fn no_referer_downgraded_or_with_a_secret() {
        let first = url("https://a.test/").origin();
        let mut h = hop("GET", "https://a.test/x");
        follow(
            &mut h,
            302,
            url("http://a.test/y"),
            &first,
            &added(),
            no_secret,
        );
        assert!(!names(&h).contains(&"referer".to_string()));
        let mut h = hop("GET", "https://a.test/x?token=s3cret");
        h.headers
            .push(("Referer".into(), "https://spoofed/".into()));
        follow(
            &mut h,
            302,
            url("https://a.test/y"),
            &first,
            &added(),
            |t: &str| t.contains("s3cret"),
        );
        assert!(
            !names(&h).contains(&"referer".to_string()),
            "{:?}",
            h.headers
        );
    }
}
