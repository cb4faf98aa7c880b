//! Who may call `serve` from a browser: nobody but its own pages. A web page
//! can send a simple request (`text/plain`, no preflight) to a loopback
//! server, or reach it through a DNS name rebound to 127.0.0.1; both would
//! start runs holding the user's credentials. So every request with a
//! foreign `Origin` (or `Sec-Fetch-Site: cross-site`) is refused, and a
//! loopback server answers only to its own address, `localhost`, and the
//! names `--allow-host` adds. Signed webhooks are exempt from the `Host`
//! check (a tunnel forwards them under its own name; the signature is what
//! authenticates them), never from the `Origin` check.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::middleware::Next;
use axum::response::Response;

use super::Shared;
use super::api::error_response;

/// The `Host` values a loopback server on `port` answers to: its address
/// and `localhost` (IPv4 and IPv6), without the port when it is 80, and the
/// names given (lower case; a name without a port matches any port).
pub fn loopback_hosts(port: u16, extra: &[String]) -> Vec<String> {
    let mut hosts = Vec::new();
    for name in ["127.0.0.1", "localhost", "[::1]"] {
        hosts.push(format!("{name}:{port}"));
        if port == 80 {
            hosts.push(name.to_string());
        }
    }
    hosts.extend(extra.iter().map(|h| h.trim().to_ascii_lowercase()));
    hosts
}

/// `host[:port]` split; the port is `None` when absent or not a number.
fn split_host(value: &str) -> (&str, Option<u16>) {
    // `[::1]:8080`: the port follows the bracket.
    let colon = match value.rfind(']') {
        Some(b) => value[b..].find(':').map(|c| b + c),
        None => value.rfind(':'),
    };
    match colon {
        Some(c) => (&value[..c], value[c + 1..].parse().ok()),
        None => (value, None),
    }
}

/// `value` (a `Host` header) is one of `allowed`.
pub fn host_allowed(value: &str, allowed: &[String]) -> bool {
    let value = value.trim().to_ascii_lowercase();
    let (host, _) = split_host(&value);
    allowed
        .iter()
        .any(|a| *a == value || (split_host(a).1.is_none() && a == host))
}

/// `origin` (an `Origin` header) names the same server as `host` (the
/// request's `Host`): same host, and the same port, or a default port when
/// `Host` has none (behind a proxy that terminates TLS).
pub fn same_origin(origin: &str, host: &str) -> bool {
    let Ok(url) = url::Url::parse(origin) else {
        return false;
    };
    let (Some(o_host), Some(o_port)) = (url.host_str(), url.port_or_known_default()) else {
        return false;
    };
    let host = host.trim().to_ascii_lowercase();
    let (h, port) = split_host(&host);
    if !o_host.eq_ignore_ascii_case(h) {
        return false;
    }
    match port {
        Some(p) => p == o_port,
        None => url.port().is_none(),
    }
}

/// A header's value fit for a message: printable ASCII, 80 characters at most.
fn shown(value: &[u8]) -> String {
    let mut out: String = value
        .iter()
        .take(80)
        .flat_map(|b| std::ascii::escape_default(*b))
        .map(char::from)
        .collect();
    if value.len() > 80 {
        out.push('…');
    }
    out
}

/// Why a request is refused, if it is.
pub fn refusal(
    headers: &HeaderMap,
    hosts: Option<&[String]>,
    signed_webhook: bool,
) -> Option<(StatusCode, String)> {
    let host = headers.get(header::HOST);
    let host_text = host.and_then(|h| h.to_str().ok());
    if let Some(origin) = headers.get(header::ORIGIN) {
        let same = match (origin.to_str(), host_text) {
            (Ok(o), Some(h)) => same_origin(o, h),
            _ => false,
        };
        if !same {
            return Some((
                StatusCode::FORBIDDEN,
                format!(
                    "cross-origin request refused: `Origin: {}` is not this server; web pages may not call pytopus serve",
                    shown(origin.as_bytes())
                ),
            ));
        }
    }
    if headers
        .get("sec-fetch-site")
        .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"cross-site"))
    {
        return Some((
            StatusCode::FORBIDDEN,
            "cross-site request refused: web pages may not call pytopus serve".into(),
        ));
    }
    let (Some(hosts), false) = (hosts, signed_webhook) else {
        return None;
    };
    match host_text {
        Some(h) if host_allowed(h, hosts) => None,
        _ => {
            let given = host.map_or_else(|| "none".to_string(), |h| shown(h.as_bytes()));
            let own: Vec<&str> = hosts.iter().take(2).map(String::as_str).collect();
            Some((
                StatusCode::MISDIRECTED_REQUEST,
                format!(
                    "`Host: {given}` is not this server: on a loopback address it answers to {} only; start it with --allow-host NAME to accept a name a tunnel or proxy forwards",
                    own.join(" and ")
                ),
            ))
        }
    }
}

/// The middleware: refuses cross-origin and misdirected requests before
/// any route sees them.
pub async fn guard(State(shared): State<Arc<Shared>>, req: Request, next: Next) -> Response {
    let signed_webhook = req
        .uri()
        .path()
        .strip_prefix("/hooks/")
        .and_then(|name| shared.chain(name))
        .is_some_and(|(_, c)| c.signature.is_some());
    match refusal(req.headers(), shared.hosts.as_deref(), signed_webhook) {
        None => next.run(req).await,
        Some((status, message)) => error_response(status, &message),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn headers(list: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in list {
            h.append(*k, HeaderValue::from_str(v).unwrap());
        }
        h
    }

    #[test]
    fn loopback_answers_to_its_own_names_only() {
        let hosts = loopback_hosts(8080, &["Hooks.Example.NET".into()]);
        for ok in [
            "127.0.0.1:8080",
            "localhost:8080",
            "LOCALHOST:8080",
            "[::1]:8080",
            "hooks.example.net",
            "hooks.example.net:443",
        ] {
            assert!(host_allowed(ok, &hosts), "{ok}");
        }
        for bad in [
            "evil.example:8080",
            "127.0.0.1",
            "127.0.0.1:8081",
            "localhost",
            "localhost.evil.example:8080",
            "",
            "127.0.0.1:8080.evil",
        ] {
            assert!(!host_allowed(bad, &hosts), "{bad}");
        }
        assert!(host_allowed("localhost", &loopback_hosts(80, &[])));
    }

    #[test]
    fn origins_compare_host_and_port() {
        assert!(same_origin("http://127.0.0.1:8080", "127.0.0.1:8080"));
        assert!(same_origin("http://LocalHost:8080", "localhost:8080"));
        assert!(same_origin("https://pytopus.example", "pytopus.example"));
        assert!(!same_origin("http://127.0.0.1:8081", "127.0.0.1:8080"));
        assert!(!same_origin("http://evil.example", "127.0.0.1:8080"));
        assert!(!same_origin("null", "127.0.0.1:8080"));
        assert!(!same_origin("http://127.0.0.1:8080", "evil.example:8080"));
        assert!(!same_origin(
            "https://pytopus.example:8443",
            "pytopus.example"
        ));
    }

    #[test]
    fn refusals() {
        let hosts = loopback_hosts(8080, &[]);
        let own = Some(hosts.as_slice());
        let ok = headers(&[("host", "127.0.0.1:8080")]);
        assert_eq!(refusal(&ok, own, false), None);
        let same = headers(&[
            ("host", "localhost:8080"),
            ("origin", "http://localhost:8080"),
        ]);
        assert_eq!(refusal(&same, own, false), None);
        let page = headers(&[
            ("host", "127.0.0.1:8080"),
            ("origin", "http://evil.example"),
        ]);
        let (status, msg) = refusal(&page, own, false).unwrap();
        assert_eq!(status, StatusCode::FORBIDDEN);
        assert!(msg.contains("evil.example"), "{msg}");
        // A signed webhook still may not come from a page.
        assert!(refusal(&page, own, true).is_some());
        let null = headers(&[("host", "127.0.0.1:8080"), ("origin", "null")]);
        assert!(refusal(&null, own, false).is_some());
        let fetch = headers(&[("host", "127.0.0.1:8080"), ("sec-fetch-site", "cross-site")]);
        assert!(refusal(&fetch, own, false).is_some());
        // DNS rebinding: the page's own name, now resolving to 127.0.0.1.
        let rebound = headers(&[
            ("host", "evil.example:8080"),
            ("origin", "http://evil.example:8080"),
        ]);
        let (status, msg) = refusal(&rebound, own, false).unwrap();
        assert_eq!(status, StatusCode::MISDIRECTED_REQUEST);
        assert!(msg.contains("--allow-host"), "{msg}");
        let tunnel = headers(&[("host", "abc.tunnel.example")]);
        assert!(refusal(&tunnel, own, false).is_some());
        assert_eq!(refusal(&tunnel, own, true), None);
        assert!(refusal(&HeaderMap::new(), own, false).is_some());
        // Remote servers check no Host (their token guards them).
        assert_eq!(refusal(&tunnel, None, false), None);
    }
}
