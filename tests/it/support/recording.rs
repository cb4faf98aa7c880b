//! A small HTTP(S) server on 127.0.0.1:0 that writes down every request it
//! gets (method, target, headers, body) and answers by path:
//! `/redirect-to?url=U&status=N` redirects to `U` with status `N` (302 by
//! default) and sets a cookie; anything else answers `200 {"ok": true}`.
//! Reachable as `127.0.0.1` and as `localhost`, two origins on one server.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// One request as it arrived.
#[derive(Debug, Clone)]
pub struct Seen {
    pub method: String,
    /// Path and query.
    pub target: String,
    /// Names in lower case.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Seen {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

pub struct Recording {
    pub port: u16,
    pub scheme: &'static str,
    seen: Arc<Mutex<Vec<Seen>>>,
}

impl Recording {
    /// Plain HTTP, or HTTPS with `tls`.
    pub fn start(tls: Option<rustls::ServerConfig>) -> Recording {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
        let port = listener.local_addr().expect("addr").port();
        let seen: Arc<Mutex<Vec<Seen>>> = Arc::default();
        let tls = tls.map(Arc::new);
        let scheme = if tls.is_some() { "https" } else { "http" };
        let log = Arc::clone(&seen);
        std::thread::spawn(move || {
            for sock in listener.incoming().flatten() {
                let (tls, log) = (tls.clone(), Arc::clone(&log));
                std::thread::spawn(move || {
                    let _ = sock.set_read_timeout(Some(Duration::from_secs(10)));
                    match tls {
                        Some(config) => {
                            let Ok(conn) = rustls::ServerConnection::new(config) else {
                                return;
                            };
                            answer(rustls::StreamOwned::new(conn, sock), &log);
                        }
                        None => answer(sock, &log),
                    }
                });
            }
        });
        Recording { port, scheme, seen }
    }

    /// `scheme://127.0.0.1:PORT`.
    pub fn by_ip(&self) -> String {
        format!("{}://127.0.0.1:{}", self.scheme, self.port)
    }

    /// `scheme://localhost:PORT`: the same server, another origin.
    pub fn by_name(&self) -> String {
        format!("{}://localhost:{}", self.scheme, self.port)
    }

    pub fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }
}

fn answer<S: Read + Write>(stream: S, log: &Mutex<Vec<Seen>>) {
    let mut reader = BufReader::new(stream);
    let mut line = String::new();
    if reader.read_line(&mut line).unwrap_or(0) == 0 {
        return;
    }
    let mut parts = line.split_whitespace();
    let method = parts.next().unwrap_or_default().to_string();
    let target = parts.next().unwrap_or_default().to_string();
    let mut headers = Vec::new();
    loop {
        let mut h = String::new();
        if reader.read_line(&mut h).unwrap_or(0) == 0 {
            return;
        }
        let h = h.trim_end();
        if h.is_empty() {
            break;
        }
        if let Some((k, v)) = h.split_once(':') {
            headers.push((k.trim().to_ascii_lowercase(), v.trim().to_string()));
        }
    }
    let length: usize = headers
        .iter()
        .find(|(k, _)| k == "content-length")
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or(0);
    let mut body = vec![0; length];
    if reader.read_exact(&mut body).is_err() {
        return;
    }
    let url = url::Url::parse(&format!("http://x{target}")).expect("a request target");
    log.lock().unwrap().push(Seen {
        method,
        target,
        headers,
        body,
    });
    let query: Vec<(String, String)> = url.query_pairs().into_owned().collect();
    let param = |name: &str| {
        query
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
    };
    let response = if url.path() == "/redirect-to" {
        let status = param("status").unwrap_or_else(|| "302".into());
        format!(
            "HTTP/1.1 {status} Redirect\r\nlocation: {}\r\nset-cookie: jar=from-{}; Path=/\r\n\
             content-length: 0\r\nconnection: close\r\n\r\n",
            param("url").unwrap_or_default(),
            url.path().trim_start_matches('/'),
        )
    } else {
        let body = r#"{"ok": true}"#;
        format!(
            "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\
             connection: close\r\n\r\n{body}",
            body.len()
        )
    };
    let mut stream = reader.into_inner();
    let _ = stream.write_all(response.as_bytes());
    let _ = stream.flush();
}
