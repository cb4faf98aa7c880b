//! `type: aws_sigv4`: AWS Signature Version 4, made by the AWS SDK's own
//! signer (the `aws-sigv4` crate). A signature covers the request as it
//! is sent — method, URL, headers, body and the time — so it is made for
//! every attempt, and again for every redirect hop that stays on the first
//! origin ([`Config`] is the transport's [`Signer`]).
//!
//! What pytopus decides, the crate does not: which URL is signed (the one
//! the URL standard makes of the request's, exactly as the transport sends
//! it), which headers (all the request has, but the few the signer itself
//! leaves out), the body's hash, and each service's canonical form
//! ([`Rules`]: S3 signs its path as sent, the others normalise it and
//! encode it again).

use std::time::SystemTime;

use aws_sigv4::http_request::{
    PayloadChecksumKind, PercentEncodingMode, SessionTokenMode, SignableBody, SignableRequest,
    SigningSettings, UriPathNormalizationMode,
};

use crate::transport::{Body, HttpRequest, Signer};

/// Where a key left out of the chain comes from.
pub const ENV_ACCESS_KEY_ID: &str = "AWS_ACCESS_KEY_ID";
pub const ENV_SECRET_ACCESS_KEY: &str = "AWS_SECRET_ACCESS_KEY";
pub const ENV_SESSION_TOKEN: &str = "AWS_SESSION_TOKEN";
/// Where a region left out of the chain comes from, in this order.
pub const ENV_REGION: [&str; 2] = ["AWS_REGION", "AWS_DEFAULT_REGION"];

/// The headers a signature sets; a request's own are replaced.
pub const SIGNATURE_HEADERS: [&str; 4] = [
    "authorization",
    "x-amz-date",
    "x-amz-security-token",
    "x-amz-content-sha256",
];

/// The value of `x-amz-content-sha256` that signs without the body.
const UNSIGNED_PAYLOAD: &str = "UNSIGNED-PAYLOAD";

/// Everything a signature needs, rendered.
#[derive(Clone)]
pub struct Config {
    pub access_key_id: String,
    pub secret_access_key: String,
    pub session_token: Option<String>,
    pub region: String,
    pub service: String,
    /// Told each signature: a value computed from the secret key, it is
    /// `***` wherever it would show (a server that echoes the request).
    pub redactor: crate::secret::Redactor,
}

impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Config")
            .field("region", &self.region)
            .field("service", &self.service)
            .field("session_token", &self.session_token.as_ref().map(|_| "***"))
            .finish_non_exhaustive()
    }
}

impl Signer for Config {
    fn sign(&self, req: &mut HttpRequest) -> Result<(), String> {
        sign(req, self, SystemTime::now()).map(|_| ())
    }
}

/// How a service wants its requests put in canonical form.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rules {
    /// Remove `.` and `..` segments and repeated `/` from the signed path.
    pub normalize_path: bool,
    /// Percent-encode the path once more when signing; without it, the path
    /// is first sent in AWS's encoding (every byte but `A-Z a-z 0-9 - . _ ~`
    /// and `/` as `%XX`), and signed as sent.
    pub double_encode: bool,
    /// Send the payload's hash as `x-amz-content-sha256` (S3 requires it).
    pub content_sha256: bool,
}

impl Rules {
    /// S3 (and its `s3-object-lambda` and `s3-outposts` endpoints) signs
    /// the path as sent and wants the body's hash in a header; every other
    /// service normalises and double-encodes the path.
    pub fn for_service(service: &str) -> Rules {
        let s3 = matches!(service, "s3" | "s3-object-lambda" | "s3-outposts");
        Rules {
            normalize_path: !s3,
            double_encode: !s3,
            content_sha256: s3,
        }
    }
}

/// Signs `req` as of `time`, by the rules of `config.service`. Returns the
/// names of the headers it set.
pub fn sign(
    req: &mut HttpRequest,
    config: &Config,
    time: SystemTime,
) -> Result<Vec<&'static str>, String> {
    sign_with(req, config, Rules::for_service(&config.service), time)
}

/// Signs `req` as of `time` by `rules`: the headers [`SIGNATURE_HEADERS`]
/// are set (old values of theirs removed first), and for single encoding
/// the URL's path is rewritten in AWS's encoding.
pub fn sign_with(
    req: &mut HttpRequest,
    config: &Config,
    rules: Rules,
    time: SystemTime,
) -> Result<Vec<&'static str>, String> {
    let mut url = match &req.parsed_url {
        Some(u) if u.as_str() == req.url => u.clone(),
        _ => url::Url::parse(&req.url)
            .map_err(|e| format!("`{}` is not a valid URL: {e}", req.url))?,
    };
    if url.host_str().is_none_or(str::is_empty) {
        return Err(format!(
            "`{}` has no host: AWS signatures sign one",
            url.as_str()
        ));
    }
    // What is sent is the URL standard's form of the URL (dot segments
    // resolved, the host lowercased): that is what is signed.
    if url.as_str() != req.url {
        req.url = url.to_string();
        req.parsed_url = Some(url.clone());
    }
    if !rules.double_encode {
        let path = aws_encoded_path(url.path());
        if path != url.path() {
            url.set_path(&path);
            req.url = url.to_string();
            req.parsed_url = Some(url.clone());
        }
    }
    // Signed as sent: no fragment, no user name or password (reqwest
    // sends neither in the request line or `Host`).
    url.set_fragment(None);
    let _ = url.set_username("");
    let _ = url.set_password(None);

    let unsigned = req.headers.iter().any(|(k, v)| {
        k.eq_ignore_ascii_case("x-amz-content-sha256") && v.trim() == UNSIGNED_PAYLOAD
    });
    req.headers
        .retain(|(k, _)| !SIGNATURE_HEADERS.iter().any(|h| k.eq_ignore_ascii_case(h)));
    for (name, value) in &req.headers {
        // The signer would fail on these (or worse); so would sending them.
        http::HeaderName::from_bytes(name.as_bytes())
            .map_err(|_| format!("`{name}` is not a valid header name"))?;
        http::HeaderValue::from_str(value)
            .map_err(|_| format!("the header `{name}` has a value that cannot be sent"))?;
    }

    let mut settings = SigningSettings::default();
    settings.percent_encoding_mode = if rules.double_encode {
        PercentEncodingMode::Double
    } else {
        PercentEncodingMode::Single
    };
    settings.uri_path_normalization_mode = if rules.normalize_path {
        UriPathNormalizationMode::Enabled
    } else {
        UriPathNormalizationMode::Disabled
    };
    settings.payload_checksum_kind = if rules.content_sha256 || unsigned {
        PayloadChecksumKind::XAmzSha256
    } else {
        PayloadChecksumKind::NoHeader
    };
    settings.session_token_mode = SessionTokenMode::Include;

    let identity = aws_credential_types::Credentials::new(
        config.access_key_id.as_str(),
        config.secret_access_key.as_str(),
        config.session_token.clone(),
        None,
        "pytopus",
    )
    .into();
    let params = aws_sigv4::sign::v4::SigningParams::builder()
        .identity(&identity)
        .region(&config.region)
        .name(&config.service)
        .time(time)
        .settings(settings)
        .build()
        .map_err(|e| format!("cannot sign: {e}"))?
        .into();
    let body = match &req.body {
        _ if unsigned => SignableBody::UnsignedPayload,
        None => SignableBody::Bytes(&[]),
        Some(Body::Bytes(b)) => SignableBody::Bytes(b),
        // A streamed body (a file, a multipart upload) is read once to
        // hash it; `x-amz-content-sha256: UNSIGNED-PAYLOAD` spares that
        // where the service accepts it (S3).
        Some(streamed) => {
            use sha2::Digest as _;
            let mut hash = sha2::Sha256::new();
            streamed.feed(|chunk| hash.update(chunk))?;
            SignableBody::Precomputed(format!("{:x}", hash.finalize()))
        }
    };
    let signable = SignableRequest::new(
        &req.method,
        url.as_str(),
        req.headers.iter().map(|(k, v)| (k.as_str(), v.as_str())),
        body,
    )
    .map_err(|e| format!("cannot sign the request: {e}"))?;
    let (instructions, signature) = aws_sigv4::http_request::sign(signable, &params)
        .map_err(|e| format!("cannot sign the request: {e}"))?
        .into_parts();
    config.redactor.add(&signature);
    let (headers, _query) = instructions.into_parts();
    let mut set = Vec::with_capacity(headers.len());
    for h in headers {
        req.headers
            .push((h.name().to_string(), h.value().to_string()));
        set.push(h.name());
    }
    Ok(set)
}

/// `path` in AWS's encoding: each segment decoded, then every byte but the
/// unreserved ones (`A-Z a-z 0-9 - . _ ~`) written as `%XX`.
fn aws_encoded_path(path: &str) -> String {
    const KEEP: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
        .remove(b'-')
        .remove(b'.')
        .remove(b'_')
        .remove(b'~');
    path.split('/')
        .map(|segment| {
            let raw: Vec<u8> = percent_encoding::percent_decode_str(segment).collect();
            percent_encoding::percent_encode(&raw, KEEP).to_string()
        })
        .collect::<Vec<_>>()
        .join("/")
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn config(token: Option<&str>, service: &str) -> Config {
        Config {
            access_key_id: "AKIDEXAMPLE".into(),
            secret_access_key: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY".into(),
            session_token: token.map(String::from),
            region: "us-east-1".into(),
            service: service.into(),
            redactor: crate::secret::Redactor::default(),
        }
    }

    fn request(method: &str, url: &str, body: Option<&[u8]>) -> HttpRequest {
        HttpRequest {
            method: method.into(),
            url: url.into(),
            parsed_url: None,
            headers: vec![("accept".into(), "*/*".into())],
            body: body.map(|b| Body::Bytes(b.to_vec())),
            timeout: Duration::from_secs(30),
            follow_redirects: true,
            tls: None,
            body_limit: 1 << 20,
        }
    }

    /// 2015-08-30T12:36:00Z, the test suite's time.
    fn suite_time() -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(1_440_938_160)
    }

    fn header<'r>(req: &'r HttpRequest, name: &str) -> Option<&'r str> {
        req.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    #[test]
    fn s3_sends_the_body_hash_and_keeps_repeated_slashes_in_the_path() {
        let mut req = request(
            "PUT",
            "https://bucket.s3.amazonaws.com//a//b(1).txt",
            Some(b"hello"),
        );
        let set = sign(&mut req, &config(None, "s3"), suite_time()).unwrap();
        assert!(set.contains(&"x-amz-content-sha256"));
        assert_eq!(
            header(&req, "x-amz-content-sha256"),
            Some("2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824")
        );
        // The path is sent as signed: AWS's encoding, slashes kept.
        assert_eq!(req.url, "https://bucket.s3.amazonaws.com//a//b%281%29.txt");
        let auth = header(&req, "authorization").unwrap();
        assert!(
            auth.contains("SignedHeaders=accept;host;x-amz-content-sha256;x-amz-date,"),
            "{auth}"
        );
    }

    #[test]
    fn other_services_send_no_body_hash_but_sign_the_body() {
        let mut a = request("POST", "https://sts.amazonaws.com/", Some(b"one"));
        let mut b = request("POST", "https://sts.amazonaws.com/", Some(b"two"));
        sign(&mut a, &config(None, "sts"), suite_time()).unwrap();
        sign(&mut b, &config(None, "sts"), suite_time()).unwrap();
        assert_eq!(header(&a, "x-amz-content-sha256"), None);
        assert_ne!(header(&a, "authorization"), header(&b, "authorization"));
    }

    #[test]
    fn signing_again_replaces_the_old_signature() {
        let mut req = request("GET", "https://example.amazonaws.com/", None);
        let c = config(Some("session-token-value"), "service");
        sign(&mut req, &c, suite_time()).unwrap();
        let first = header(&req, "authorization").unwrap().to_string();
        sign(&mut req, &c, suite_time() + Duration::from_secs(5)).unwrap();
        for name in ["authorization", "x-amz-date", "x-amz-security-token"] {
            let n = req
                .headers
                .iter()
                .filter(|(k, _)| k.eq_ignore_ascii_case(name))
                .count();
            assert_eq!(n, 1, "{name}");
        }
        assert_eq!(header(&req, "x-amz-date"), Some("20150830T123605Z"));
        assert_ne!(header(&req, "authorization").unwrap(), first);
    }

    #[test]
    fn unsigned_payload_is_kept_when_the_chain_asks_for_it() {
        let mut req = request("PUT", "https://b.s3.amazonaws.com/k", Some(b"data"));
        req.headers
            .push(("X-Amz-Content-Sha256".into(), "UNSIGNED-PAYLOAD".into()));
        sign(&mut req, &config(None, "s3"), suite_time()).unwrap();
        assert_eq!(
            header(&req, "x-amz-content-sha256"),
            Some("UNSIGNED-PAYLOAD")
        );
    }

    #[test]
    fn bad_requests_are_errors_not_panics() {
        let c = config(None, "service");
        for url in [
            "mailto:someone@example.com",
            "not a url",
            "file:///etc/passwd",
        ] {
            assert!(sign(&mut request("GET", url, None), &c, suite_time()).is_err());
        }
        let mut req = request("GET", "https://example.amazonaws.com/", None);
        req.headers.push(("x-bad".into(), "line\nbreak".into()));
        assert!(sign(&mut req, &c, suite_time()).is_err());
        let mut req = request("GET", "https://example.amazonaws.com/", None);
        req.headers.push(("bad name".into(), "v".into()));
        assert!(sign(&mut req, &c, suite_time()).is_err());
        // A user name in the URL is not signed as part of the host.
        let mut a = request("GET", "https://u:p@example.amazonaws.com:8443/", None);
        let mut b = request("GET", "https://example.amazonaws.com:8443/", None);
        sign(&mut a, &c, suite_time()).unwrap();
        sign(&mut b, &c, suite_time()).unwrap();
        assert_eq!(header(&a, "authorization"), header(&b, "authorization"));
    }

    #[test]
    fn the_debug_form_holds_no_key() {
        let c = config(Some("the-session-token"), "s3");
        let shown = format!("{c:?}");
        assert!(!shown.contains("wJalr"), "{shown}");
        assert!(!shown.contains("the-session-token"), "{shown}");
    }

    #[test]
    fn aws_encoding_decodes_then_encodes_each_segment() {
        assert_eq!(aws_encoded_path("/a%20b/c+d/%7e~"), "/a%20b/c%2Bd/~~");
        assert_eq!(aws_encoded_path("/x%2Fy/"), "/x%2Fy/");
        assert_eq!(aws_encoded_path("/%E1%88%B4"), "/%E1%88%B4");
    }
}
