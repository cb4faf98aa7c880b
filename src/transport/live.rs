//! The live transport: one reqwest client per run (keep-alive, gzip/brotli,
//! rustls, redirects, proxy environment variables), plus one per distinct
//! `tls:` settings (client certificate, private CA, `verify: false`).

use std::borrow::Cow;
use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use tokio::io::AsyncWriteExt;

use super::plain::{self, Plain};
use super::{
    BodySink, HttpRequest, HttpResponse, SendFuture, TlsSettings, Transport, TransportError,
};

const USER_AGENT: &str = concat!("pytopus/", env!("CARGO_PKG_VERSION"));

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
            max_redirects: super::MAX_REDIRECTS,
        }
    }
}

/// Clients for requests with `tls:` settings, by settings.
/// A failure to build one (a bad PEM file) is kept too, so it is reported the
/// same way on every attempt without reading the files again.
type TlsClients = HashMap<Arc<TlsSettings>, Result<reqwest::Client, TransportError>>;

/// Sends requests over the network.
///
/// Redirects and cookies are handled here rather than by reqwest: its cookie
/// layer parsed every request's URL again, cookies or not (a twentieth of a
/// 10,000-request fan-out). With the jar here, redirects are followed here
/// too, so that the cookies a redirect sets reach its target.
pub struct LiveTransport {
    client: reqwest::Client,
    /// Plain `http://` requests, when no proxy may apply (see plain.rs).
    plain: Option<Plain>,
    /// For steps with `tls:`; each built on first use.
    tls_clients: Mutex<TlsClients>,
    /// Hosts already warned about for `tls.verify: false` in this run.
    unverified_hosts: Mutex<HashSet<String>>,
    /// One cookie jar for the run, whichever client sends.
    jar: Mutex<cookie_store::CookieStore>,
    opts: LiveOptions,
}

impl LiveTransport {
    pub fn new(opts: &LiveOptions) -> Result<Self, TransportError> {
        let client = build_client(opts)?;
        Ok(LiveTransport {
            client,
            plain: Plain::new(opts.connect_timeout, USER_AGENT),
            tls_clients: Mutex::new(HashMap::new()),
            unverified_hosts: Mutex::new(HashSet::new()),
            jar: Mutex::new(cookie_store::CookieStore::default()),
            opts: opts.clone(),
        })
    }

    fn client_for(
        &self,
        req: &HttpRequest,
        url: &reqwest::Url,
    ) -> Result<Cow<'_, reqwest::Client>, TransportError> {
        let Some(tls) = &req.tls else {
            return Ok(Cow::Borrowed(&self.client));
        };
        if !tls.verify {
            self.warn_unverified(url);
        }
        // A poisoned lock only means another request panicked while
        // holding it; the map itself is still consistent.
        let mut clients = self.tls_clients.lock().unwrap_or_else(|e| e.into_inner());
        let client = clients.entry(Arc::clone(tls)).or_insert_with(|| {
            with_tls(base_builder(&self.opts), tls).and_then(|b| {
                b.build()
                    .map_err(|e| TransportError::Tls(tls_build_error(tls, &e)))
            })
        });
        client.clone().map(Cow::Owned)
    }

    /// The `Cookie` header the jar has for `url`.
    fn cookies_for(&self, url: &reqwest::Url) -> Option<reqwest::header::HeaderValue> {
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
        drop(jar);
        if text.is_empty() {
            return None;
        }
        reqwest::header::HeaderValue::from_str(&text).ok()
    }

    /// Keeps the cookies a response sets.
    fn keep_cookies(&self, headers: &reqwest::header::HeaderMap, url: &reqwest::Url) {
        let mut set = headers
            .get_all(reqwest::header::SET_COOKIE)
            .iter()
            .filter_map(|v| std::str::from_utf8(v.as_bytes()).ok())
            .filter_map(|v| cookie_store::RawCookie::parse(v).ok())
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

    /// `tls.verify: false` is said out loud once per host and run, on stderr
    /// whatever the verbosity: it is the kind of setting that is added to get
    /// past an error and then forgotten.
    fn warn_unverified(&self, url: &reqwest::Url) {
        let host = match (url.host_str(), url.port()) {
            (Some(h), Some(p)) => format!("{h}:{p}"),
            (Some(h), None) => h.to_string(),
            (None, _) => url.scheme().to_string(),
        };
        let mut warned = self
            .unverified_hosts
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        if warned.insert(host.clone()) {
            crate::report::to_stderr(&format!(
                "warning: TLS certificate verification is off for {host} (tls.verify: false): \
                 anyone on the network can read and change this traffic\n"
            ));
        }
    }

    async fn send_inner(
        &self,
        req: &HttpRequest,
        sink: &BodySink,
    ) -> Result<HttpResponse, TransportError> {
        let mut method = reqwest::Method::from_bytes(req.method.as_bytes()).map_err(|_| {
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
        let mut body = req.body.clone();
        let client = self.client_for(req, &url)?;
        let started = Instant::now();
        let mut redirects = 0;
        // One deadline for the request, the redirects it leads to and the body.
        let left = || {
            req.timeout
                .saturating_sub(started.elapsed())
                .max(Duration::from_millis(1))
        };
        let resp = loop {
            let left = left();
            let mut request_headers = headers.clone();
            // The jar's cookies, unless the request brings its own `Cookie`.
            if !headers.contains_key(reqwest::header::COOKIE)
                && let Some(cookies) = self.cookies_for(&url)
            {
                request_headers.insert(reqwest::header::COOKIE, cookies);
            }
            // Plain HTTP goes around reqwest when it can (see plain.rs).
            let plain = match (&self.plain, sink, &req.tls) {
                (Some(p), BodySink::Memory, None) => p.uri(&url).map(|uri| (p, uri)),
                _ => None,
            };
            let resp = match plain {
                Some((p, uri)) => {
                    let request = p.request(&method, uri, request_headers, body.as_ref());
                    Received::Plain(p.send(request, left, req.timeout).await?)
                }
                None => {
                    // Built in place rather than through `RequestBuilder`, which
                    // would insert the headers one by one into a second map.
                    let mut request = reqwest::Request::new(method.clone(), url.clone());
                    *request.timeout_mut() = Some(left);
                    *request.headers_mut() = request_headers;
                    if let Some(b) = &body {
                        *request.body_mut() = Some(b.clone().into());
                    }
                    Received::Reqwest(
                        client
                            .execute(request)
                            .await
                            .map_err(|e| classify(&e, req.timeout))?,
                    )
                }
            };
            self.keep_cookies(resp.headers(), &url);
            if !req.follow_redirects {
                break resp;
            }
            let Some(next) = redirect_target(resp.status(), resp.headers(), &url)? else {
                break resp;
            };
            if redirects == self.opts.max_redirects {
                return Err(TransportError::Other(format!(
                    "too many redirects (more than {}), the last to {next}",
                    self.opts.max_redirects
                )));
            }
            redirects += 1;
            follow_redirect(
                resp.status(),
                &mut method,
                &mut body,
                &mut headers,
                &url,
                &next,
            );
            url = next;
        };
        let status = resp.status().as_u16();
        let headers = super::Headers::from_map(resp.headers());
        let (final_url, body, saved_bytes) = match (resp, sink) {
            (Received::Plain(resp), _) => {
                // As reqwest words it: the URL of the request, without a fragment.
                url.set_fragment(None);
                let bytes = plain::body(resp, left(), req.timeout).await?;
                (String::from(url), owned_body(bytes), None)
            }
            (Received::Reqwest(resp), BodySink::Memory) => {
                let final_url = resp.url().as_str().to_owned();
                let bytes = resp
                    .bytes()
                    .await
                    .map_err(|e| body_error(&e, req.timeout))?;
                (final_url, owned_body(bytes), None)
            }
            (Received::Reqwest(mut resp), BodySink::File(path)) => (
                resp.url().as_str().to_owned(),
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

/// A response, from whichever client sent the request. Not boxed: it lives
/// in the sending future, which the common (plain) case would otherwise
/// pay an allocation a request for.
#[allow(clippy::large_enum_variant)]
enum Received {
    Plain(plain::Response),
    Reqwest(reqwest::Response),
}

impl Received {
    fn status(&self) -> reqwest::StatusCode {
        match self {
            Received::Plain(r) => r.status(),
            Received::Reqwest(r) => r.status(),
        }
    }

    fn headers(&self) -> &reqwest::header::HeaderMap {
        match self {
            Received::Plain(r) => r.headers(),
            Received::Reqwest(r) => r.headers(),
        }
    }
}

/// A body as the response keeps it. A large one is taken over when its
/// buffer is not shared (no copy of 100 MB). A small one is copied: taken
/// over, it would be the connection's read buffer (8 KB), which it then
/// allocated again for every response, in fresh memory (a page fault a
/// request: bench/README.md, session 10).
fn owned_body(bytes: bytes::Bytes) -> Vec<u8> {
    if bytes.len() < 64 << 10 {
        bytes.to_vec()
    } else {
        Vec::from(bytes)
    }
}

/// Where a 301, 302, 303, 307 or 308 response sends the request next;
/// `None` for any other response, or one without a usable `Location`.
fn redirect_target(
    status: reqwest::StatusCode,
    headers: &reqwest::header::HeaderMap,
    url: &reqwest::Url,
) -> Result<Option<reqwest::Url>, TransportError> {
    if !super::is_redirect(status.as_u16()) {
        return Ok(None);
    }
    let Some(location) = headers
        .get(reqwest::header::LOCATION)
        .and_then(|l| std::str::from_utf8(l.as_bytes()).ok())
    else {
        return Ok(None);
    };
    let Ok(next) = url.join(location) else {
        return Ok(None);
    };
    if !matches!(next.scheme(), "http" | "https") {
        return Err(TransportError::Other(format!(
            "a redirect to `{next}`: only http and https URLs are followed"
        )));
    }
    Ok(Some(next))
}

/// Turns the request into the one a redirect asks for, as browsers (and
/// reqwest) do: 303, and 301/302 after a POST, become a GET without a body;
/// credentials and cookies the request carried are dropped when the
/// redirect leaves the host, and `Referer` names the page that redirected.
fn follow_redirect(
    status: reqwest::StatusCode,
    method: &mut reqwest::Method,
    body: &mut Option<Vec<u8>>,
    headers: &mut reqwest::header::HeaderMap,
    from: &reqwest::Url,
    to: &reqwest::Url,
) {
    use reqwest::header;
    let to_get = match status.as_u16() {
        301 | 302 => *method == reqwest::Method::POST,
        303 => true,
        _ => false,
    };
    if to_get {
        if *method != reqwest::Method::HEAD {
            *method = reqwest::Method::GET;
        }
        *body = None;
        for h in [
            header::CONTENT_TYPE,
            header::CONTENT_LENGTH,
            header::CONTENT_ENCODING,
            header::TRANSFER_ENCODING,
        ] {
            headers.remove(h);
        }
    }
    let cross_host = to.host_str() != from.host_str()
        || to.port_or_known_default() != from.port_or_known_default()
        || to.scheme() != from.scheme();
    if cross_host {
        headers.remove(header::AUTHORIZATION);
        headers.remove(header::COOKIE);
        headers.remove("cookie2");
        headers.remove(header::PROXY_AUTHORIZATION);
        headers.remove(header::WWW_AUTHENTICATE);
    }
    // No `Referer` from an https page to an http one.
    if !(to.scheme() == "http" && from.scheme() == "https") {
        let mut referer = from.clone();
        let _ = referer.set_username("");
        let _ = referer.set_password(None);
        referer.set_fragment(None);
        if let Ok(v) = header::HeaderValue::from_str(referer.as_str()) {
            headers.insert(header::REFERER, v);
        }
    }
}

impl Transport for LiveTransport {
    fn send<'a>(&'a self, req: &'a HttpRequest, sink: &'a BodySink) -> SendFuture<'a> {
        Box::pin(self.send_inner(req, sink))
    }
}

fn build_client(opts: &LiveOptions) -> Result<reqwest::Client, TransportError> {
    base_builder(opts)
        .tls_backend_preconfigured(lazy_roots_tls_config())
        .build()
        .map_err(|e| TransportError::Other(error_chain(&e)))
}

/// The TLS settings of the default clients: what reqwest would build
/// (aws-lc-rs, TLS 1.2 and 1.3, ALPN h2 then http/1.1, the platform's
/// verifier over the system's roots), except that the verifier, and so the
/// reading of the system's root certificates, waits for the first TLS
/// handshake. Reading them was most of the work of a one-request run, and a
/// chain that only speaks plain HTTP never needs them.
fn lazy_roots_tls_config() -> rustls::ClientConfig {
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let verifier = Arc::new(LazyPlatformVerifier {
        provider: Arc::clone(&provider),
        inner: OnceLock::new(),
    });
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap_or_else(|_| {
            // aws-lc-rs supports both default versions; this is unreachable,
            // and TLS 1.3 alone would still work.
            rustls::ClientConfig::builder_with_provider(Arc::new(
                rustls::crypto::aws_lc_rs::default_provider(),
            ))
            .with_protocol_versions(&[&rustls::version::TLS13])
            .expect("aws-lc-rs supports TLS 1.3")
        })
        .dangerous()
        .with_custom_certificate_verifier(verifier)
        .with_no_client_auth();
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    config
}

/// `rustls_platform_verifier::Verifier`, created on first use.
#[derive(Debug)]
struct LazyPlatformVerifier {
    provider: Arc<rustls::crypto::CryptoProvider>,
    inner: OnceLock<Result<Arc<rustls_platform_verifier::Verifier>, rustls::Error>>,
}

impl LazyPlatformVerifier {
    fn verifier(&self) -> Result<&rustls_platform_verifier::Verifier, rustls::Error> {
        self.inner
            .get_or_init(|| {
                rustls_platform_verifier::Verifier::new(Arc::clone(&self.provider)).map(Arc::new)
            })
            .as_deref()
            .map_err(Clone::clone)
    }
}

impl rustls::client::danger::ServerCertVerifier for LazyPlatformVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &rustls::pki_types::CertificateDer<'_>,
        intermediates: &[rustls::pki_types::CertificateDer<'_>],
        server_name: &rustls::pki_types::ServerName<'_>,
        ocsp_response: &[u8],
        now: rustls::pki_types::UnixTime,
    ) -> Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
        self.verifier()?.verify_server_cert(
            end_entity,
            intermediates,
            server_name,
            ocsp_response,
            now,
        )
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &rustls::pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &rustls::pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

/// What every client shares, with or without `tls:` settings. Redirects and
/// cookies are handled by [`LiveTransport`].
fn base_builder(opts: &LiveOptions) -> reqwest::ClientBuilder {
    reqwest::Client::builder()
        .user_agent(USER_AGENT)
        .connect_timeout(opts.connect_timeout)
        .redirect(reqwest::redirect::Policy::none())
}

/// Adds a step's `tls:` settings: the client identity, extra trusted CAs
/// (beside the system's, which stay trusted), and `verify: false`.
fn with_tls(
    mut builder: reqwest::ClientBuilder,
    tls: &TlsSettings,
) -> Result<reqwest::ClientBuilder, TransportError> {
    if let Some(cert) = &tls.client_cert {
        builder = builder.identity(identity(cert, tls.client_key.as_deref())?);
    }
    if let Some(ca) = &tls.ca_cert {
        builder = builder.tls_certs_merge(ca_certificates(ca)?);
    }
    if !tls.verify {
        builder = builder.tls_danger_accept_invalid_certs(true);
    }
    Ok(builder)
}

/// One `-----BEGIN LABEL-----` … `-----END LABEL-----` block of a PEM file.
struct PemBlock {
    label: String,
    /// The block's text, BEGIN and END lines included.
    text: String,
}

const KEY_LABELS: &[&str] = &["PRIVATE KEY", "RSA PRIVATE KEY", "EC PRIVATE KEY"];

fn tls_error(path: &Path, problem: impl std::fmt::Display) -> TransportError {
    TransportError::Tls(format!("{}: {problem}", path.display()))
}

/// Reads a PEM file into its blocks, with an error that names the file and
/// says what is wrong when it is not PEM at all.
fn pem_blocks(path: &Path, expected: &str) -> Result<Vec<PemBlock>, TransportError> {
    let bytes = std::fs::read(path).map_err(|e| tls_error(path, format!("cannot read: {e}")))?;
    let Ok(text) = std::str::from_utf8(&bytes) else {
        // A DER certificate or key is an ASN.1 SEQUENCE: it starts with 0x30.
        let hint = if bytes.first() == Some(&0x30) {
            " (it looks like binary DER: convert it with \
             `openssl x509 -inform der -in FILE -out FILE.pem`, or `openssl pkey` for a key)"
        } else {
            ""
        };
        return Err(tls_error(
            path,
            format!("not a PEM file: expected {expected}{hint}"),
        ));
    };
    let mut blocks = Vec::new();
    let mut open: Option<(String, usize, String)> = None;
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if let Some((label, start, body)) = &mut open {
            body.push_str(line);
            body.push('\n');
            if let Some(end) = line
                .strip_prefix("-----END ")
                .and_then(|l| l.strip_suffix("-----"))
            {
                if end != label {
                    return Err(tls_error(
                        path,
                        format!(
                            "the `{label}` block that starts on line {start} ends with `{end}`"
                        ),
                    ));
                }
                blocks.push(PemBlock {
                    label: std::mem::take(label),
                    text: std::mem::take(body),
                });
                open = None;
            }
        } else if let Some(label) = line
            .strip_prefix("-----BEGIN ")
            .and_then(|l| l.strip_suffix("-----"))
        {
            open = Some((label.to_string(), n + 1, format!("{line}\n")));
        }
    }
    if let Some((label, start, _)) = open {
        return Err(tls_error(
            path,
            format!("the `{label}` block that starts on line {start} has no END line"),
        ));
    }
    if blocks.is_empty() {
        return Err(tls_error(
            path,
            format!("not a PEM file: expected {expected}, found no `-----BEGIN` line"),
        ));
    }
    Ok(blocks)
}

/// The private key blocks of a file, refusing the kinds rustls cannot use.
fn keys_in<'a>(path: &Path, blocks: &'a [PemBlock]) -> Result<Vec<&'a PemBlock>, TransportError> {
    // PKCS#8 `ENCRYPTED PRIVATE KEY`, or the older OpenSSL `Proc-Type` header.
    let encrypted = |b: &PemBlock| {
        b.label == "ENCRYPTED PRIVATE KEY"
            || (b.label.ends_with("PRIVATE KEY") && b.text.contains("Proc-Type: 4,ENCRYPTED"))
    };
    if blocks.iter().any(encrypted) {
        return Err(tls_error(
            path,
            "the private key is encrypted with a passphrase, which pytopus cannot use: \
             decrypt it with `openssl pkey -in KEY -out KEY.plain`",
        ));
    }
    let keys: Vec<&PemBlock> = blocks
        .iter()
        .filter(|b| KEY_LABELS.contains(&b.label.as_str()))
        .collect();
    if keys.len() > 1 {
        return Err(tls_error(
            path,
            format!("{} private keys found, expected one", keys.len()),
        ));
    }
    Ok(keys)
}

/// The client identity: the certificate chain from `cert`, the key from
/// `key` or, without one, from `cert` too.
fn identity(cert: &Path, key: Option<&Path>) -> Result<reqwest::Identity, TransportError> {
    let cert_blocks = pem_blocks(cert, "a PEM `CERTIFICATE` block")?;
    let certs: Vec<&PemBlock> = cert_blocks
        .iter()
        .filter(|b| b.label == "CERTIFICATE")
        .collect();
    if certs.is_empty() {
        return Err(tls_error(
            cert,
            "no certificate found (expected a PEM `CERTIFICATE` block)",
        ));
    }
    // Checked here so that a broken certificate is blamed on its file, not on the key.
    let chain: String = certs.iter().map(|b| b.text.as_str()).collect();
    reqwest::Certificate::from_pem_bundle(chain.as_bytes()).map_err(|e| {
        tls_error(
            cert,
            format!("a certificate is not valid: {}", local_error(&e)),
        )
    })?;
    let key_blocks;
    let (key_path, key_block) = match key {
        Some(key) => {
            key_blocks = pem_blocks(key, "a PEM `PRIVATE KEY` block")?;
            let keys = keys_in(key, &key_blocks)?;
            let Some(block) = keys.first() else {
                return Err(tls_error(
                    key,
                    "no private key found (expected a PEM `PRIVATE KEY` block)",
                ));
            };
            (key, *block)
        }
        None => {
            let keys = keys_in(cert, &cert_blocks)?;
            let Some(block) = keys.first() else {
                return Err(tls_error(
                    cert,
                    "no private key found (expected a PEM `PRIVATE KEY` block, or set client_key)",
                ));
            };
            (cert, *block)
        }
    };
    // reqwest wants the chain and the key in one buffer; other blocks
    // (`EC PARAMETERS` from `openssl ecparam`) would make it fail.
    let pem = format!("{chain}{}", key_block.text);
    reqwest::Identity::from_pem(pem.as_bytes()).map_err(|e| {
        tls_error(
            key_path,
            format!("the private key is not valid: {}", local_error(&e)),
        )
    })
}

/// Every certificate of a CA bundle.
fn ca_certificates(path: &Path) -> Result<Vec<reqwest::Certificate>, TransportError> {
    let blocks = pem_blocks(path, "PEM `CERTIFICATE` blocks")?;
    let pem: String = blocks
        .iter()
        .filter(|b| b.label == "CERTIFICATE")
        .map(|b| b.text.as_str())
        .collect();
    if pem.is_empty() {
        return Err(tls_error(
            path,
            "no certificate found (expected PEM `CERTIFICATE` blocks)",
        ));
    }
    reqwest::Certificate::from_pem_bundle(pem.as_bytes()).map_err(|e| {
        tls_error(
            path,
            format!("a certificate is not valid: {}", local_error(&e)),
        )
    })
}

/// Why a client with `tls:` settings could not be built, naming the file at
/// fault. By then each file has been read and its PEM parsed, so what is
/// left is DER that rustls refuses, or a key that does not match its
/// certificate; rebuilding with the client identity alone tells the client
/// files from the CA file (this runs only when something is wrong).
fn tls_build_error(tls: &TlsSettings, e: &reqwest::Error) -> String {
    let why = local_error(e);
    let key = tls.client_key.as_ref().or(tls.client_cert.as_ref());
    if let (Some(cert), Some(key)) = (&tls.client_cert, key) {
        if why.contains("KeyMismatch") {
            return format!(
                "{}: the private key does not belong to the certificate in {}",
                key.display(),
                cert.display()
            );
        }
        if why.contains("private key") {
            return format!("{}: the private key cannot be used: {why}", key.display());
        }
        let identity_alone = identity(cert, tls.client_key.as_deref())
            .ok()
            .and_then(|id| reqwest::Client::builder().identity(id).build().ok());
        if identity_alone.is_none() {
            return format!(
                "{}: the certificate cannot be used: {why}{}",
                cert.display(),
                der_hint(&why)
            );
        }
    }
    match &tls.ca_cert {
        Some(ca) => format!(
            "{}: a CA certificate cannot be used: {why}{}",
            ca.display(),
            der_hint(&why)
        ),
        None => format!("the `tls:` settings cannot be used: {why}"),
    }
}

/// A reqwest error about a local file, without the words that suit a
/// handshake ("invalid peer certificate") or say nothing ("builder error").
fn local_error(e: &reqwest::Error) -> String {
    error_chain(e)
        .replace("builder error: ", "")
        .replace("invalid peer certificate: ", "")
        .replace("unexpected error: ", "")
}

fn der_hint(why: &str) -> &'static str {
    if why.contains("BadEncoding") {
        " (the PEM block does not hold a valid X.509 certificate)"
    } else {
        ""
    }
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

fn body_error(e: &reqwest::Error, timeout: Duration) -> TransportError {
    if e.is_timeout() {
        slow_body(timeout)
    } else {
        TransportError::Body(error_chain(e))
    }
}

fn classify(e: &reqwest::Error, timeout: Duration) -> TransportError {
    let chain = error_chain(e);
    let lower = chain.to_ascii_lowercase();
    if e.is_timeout() {
        no_response(timeout)
    } else if lower.contains("certificate") || lower.contains("tls") || lower.contains("handshake")
    {
        let hint = handshake_hint(&chain);
        TransportError::Tls(format!("{}{hint}", without_byte_dumps(&chain)))
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
