//! The live transport: one reqwest client per run (keep-alive, gzip/brotli,
//! rustls, redirects, proxy environment variables).

use std::path::Path;
use std::time::{Duration, Instant};

use tokio::io::AsyncWriteExt;

use super::{BodySink, HttpRequest, HttpResponse, SendFuture, Transport, TransportError};

/// Settings for the live client.
#[derive(Debug, Clone)]
pub struct LiveOptions {
    pub connect_timeout: Duration,
    pub max_redirects: usize,
}

impl Default for LiveOptions {
    fn default() -> Self {
        LiveOptions {
            connect_timeout: Duration::from_secs(10),
            max_redirects: 10,
        }
    }
}

/// Sends requests over the network.
pub struct LiveTransport {
    client: reqwest::Client,
    /// For steps with `follow_redirects: false`; built on first use.
    no_redirects: std::sync::OnceLock<Result<reqwest::Client, TransportError>>,
    /// One cookie jar for the run, whichever client sends.
    jar: std::sync::Arc<reqwest::cookie::Jar>,
    opts: LiveOptions,
}

impl LiveTransport {
    pub fn new(opts: &LiveOptions) -> Result<Self, TransportError> {
        let jar = std::sync::Arc::new(reqwest::cookie::Jar::default());
        let client = build_client(
            opts,
            &jar,
            reqwest::redirect::Policy::limited(opts.max_redirects),
        )?;
        Ok(LiveTransport {
            client,
            no_redirects: std::sync::OnceLock::new(),
            jar,
            opts: opts.clone(),
        })
    }

    fn client_for(&self, req: &HttpRequest) -> Result<&reqwest::Client, TransportError> {
        if req.follow_redirects {
            return Ok(&self.client);
        }
        self.no_redirects
            .get_or_init(|| build_client(&self.opts, &self.jar, reqwest::redirect::Policy::none()))
            .as_ref()
            .map_err(Clone::clone)
    }

    async fn send_inner(
        &self,
        req: &HttpRequest,
        sink: &BodySink,
    ) -> Result<HttpResponse, TransportError> {
        let method = reqwest::Method::from_bytes(req.method.as_bytes()).map_err(|_| {
            TransportError::Request(format!("`{}` is not a valid HTTP method", req.method))
        })?;
        let url = reqwest::Url::parse(&req.url).map_err(|e| {
            TransportError::Request(format!("`{}` is not a valid URL: {e}", req.url))
        })?;
        let mut builder = self
            .client_for(req)?
            .request(method, url)
            .timeout(req.timeout);
        for (k, v) in &req.headers {
            let name = reqwest::header::HeaderName::from_bytes(k.as_bytes()).map_err(|_| {
                TransportError::Request(format!("`{k}` is not a valid header name"))
            })?;
            let value = reqwest::header::HeaderValue::from_str(v).map_err(|_| {
                TransportError::Request(format!(
                    "the value of header `{k}` contains characters not allowed in a header"
                ))
            })?;
            builder = builder.header(name, value);
        }
        if let Some(body) = &req.body {
            builder = builder.body(body.clone());
        }
        let started = Instant::now();
        let mut resp = builder
            .send()
            .await
            .map_err(|e| classify(&e, req.timeout))?;
        let status = resp.status().as_u16();
        let final_url = resp.url().to_string();
        let headers = resp
            .headers()
            .iter()
            .map(|(k, v)| {
                (
                    k.as_str().to_string(),
                    String::from_utf8_lossy(v.as_bytes()).into_owned(),
                )
            })
            .collect();
        let (body, saved_bytes) = match sink {
            BodySink::Memory => {
                let bytes = resp
                    .bytes()
                    .await
                    .map_err(|e| body_error(&e, req.timeout))?;
                (bytes.to_vec(), None)
            }
            BodySink::File(path) => (
                Vec::new(),
                Some(stream_to_file(&mut resp, path, req.timeout).await?),
            ),
        };
        Ok(HttpResponse {
            status,
            headers,
            body,
            saved_bytes,
            url: final_url,
            elapsed: started.elapsed(),
        })
    }
}

impl Transport for LiveTransport {
    fn send<'a>(&'a self, req: &'a HttpRequest, sink: &'a BodySink) -> SendFuture<'a> {
        Box::pin(self.send_inner(req, sink))
    }
}

fn build_client(
    opts: &LiveOptions,
    jar: &std::sync::Arc<reqwest::cookie::Jar>,
    redirects: reqwest::redirect::Policy,
) -> Result<reqwest::Client, TransportError> {
    reqwest::Client::builder()
        .user_agent(concat!("pytopus/", env!("CARGO_PKG_VERSION")))
        .connect_timeout(opts.connect_timeout)
        // Cookies set by one step are sent by the next, like a browser session.
        .cookie_provider(std::sync::Arc::clone(jar))
        .redirect(redirects)
        .build()
        .map_err(|e| TransportError::Other(error_chain(&e)))
}

/// Streams the body into a temporary file beside `path`, then renames it, so
/// a failed download never leaves a half-written file where the old one was.
async fn stream_to_file(
    resp: &mut reqwest::Response,
    path: &Path,
    timeout: Duration,
) -> Result<u64, TransportError> {
    let io = |e: std::io::Error| TransportError::Body(format!("writing {}: {e}", path.display()));
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        tokio::fs::create_dir_all(dir).await.map_err(io)?;
    }
    let tmp = path.with_extension(format!(
        "{}pytopus-partial",
        path.extension()
            .map(|e| format!("{}.", e.to_string_lossy()))
            .unwrap_or_default()
    ));
    let mut file = tokio::fs::File::create(&tmp).await.map_err(io)?;
    let mut written = 0u64;
    let result: Result<(), TransportError> = async {
        while let Some(chunk) = resp.chunk().await.map_err(|e| body_error(&e, timeout))? {
            file.write_all(&chunk).await.map_err(io)?;
            written += chunk.len() as u64;
        }
        file.flush().await.map_err(io)?;
        Ok(())
    }
    .await;
    drop(file);
    match result {
        Ok(()) => {
            tokio::fs::rename(&tmp, path).await.map_err(io)?;
            Ok(written)
        }
        Err(e) => {
            let _ = tokio::fs::remove_file(&tmp).await;
            Err(e)
        }
    }
}

/// Writes an in-memory body to `path` the same careful way (used by replay).
pub(crate) async fn write_file(path: &Path, bytes: &[u8]) -> Result<u64, TransportError> {
    let io = |e: std::io::Error| TransportError::Body(format!("writing {}: {e}", path.display()));
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        tokio::fs::create_dir_all(dir).await.map_err(io)?;
    }
    let tmp = path.with_extension("pytopus-partial");
    tokio::fs::write(&tmp, bytes).await.map_err(io)?;
    tokio::fs::rename(&tmp, path).await.map_err(io)?;
    Ok(bytes.len() as u64)
}

fn body_error(e: &reqwest::Error, timeout: Duration) -> TransportError {
    if e.is_timeout() {
        TransportError::Timeout(format!(
            "the whole response did not arrive within {}",
            humantime::format_duration(timeout)
        ))
    } else {
        TransportError::Body(error_chain(e))
    }
}

fn classify(e: &reqwest::Error, timeout: Duration) -> TransportError {
    let chain = error_chain(e);
    let lower = chain.to_ascii_lowercase();
    if e.is_timeout() {
        TransportError::Timeout(format!(
            "no response within {}",
            humantime::format_duration(timeout)
        ))
    } else if lower.contains("certificate") || lower.contains("tls") || lower.contains("handshake")
    {
        TransportError::Tls(chain)
    } else if e.is_connect() {
        TransportError::Connect(chain)
    } else if e.is_builder() {
        TransportError::Request(chain)
    } else if e.is_redirect() && !lower.contains("too many redirects") {
        TransportError::Other(format!("too many redirects: {chain}"))
    } else {
        TransportError::Other(chain)
    }
}

/// Wrapper messages that say nothing the step error does not already say.
const NOISE: &[&str] = &[
    "error sending request",
    "client error (Connect)",
    "client error (SendRequest)",
    "error following redirect",
    "error decoding response body",
];

/// The error and its causes, most specific last, without repeats, without
/// generic wrappers and without the URL (which the step error shows anyway).
fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
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
