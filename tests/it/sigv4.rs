//! `auth: {type: aws_sigv4}`: AWS's published Signature Version 4 test
//! suite run through pytopus's signing (`pytopus::auth::sigv4`), and signed
//! requests received by a local server — checked there, retried,
//! redirected — with the keys kept out of everything pytopus writes.
//!
//! The suite is test data in the repository, `tests/data/aws-sigv4/` (its
//! source and licence are in `tests/data/README.md`).

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, SystemTime};

use pytopus::auth::sigv4::{self, Config, Rules};
use pytopus::transport::{Body, HttpRequest};
use serde_json::Value;

const SUITE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/aws-sigv4");

/// How a vector is run when not exactly as the suite writes it.
enum How {
    AsIs,
    /// Signed with the path encoded once (S3's rule): the reason.
    SingleEncoding(&'static str),
    /// pytopus never sends this request line (the URL standard removes dot
    /// segments before a request is sent): its signature must be the one
    /// the suite gives for the same request normalised, this vector.
    SameAs(&'static str),
    /// Not run: the reason.
    Skip(&'static str),
}

fn how(name: &str) -> How {
    const RAW: &str = "the request line holds a raw space or UTF-8, which pytopus sends \
                       percent-encoded; the suite expects that encoding signed as is, which is \
                       S3's rule (other services encode it again: `double-encode-path`)";
    match name {
        "get-header-value-multiline" => {
            How::Skip("a header folded over several lines (obs-fold), which no client sends")
        }
        "post-sts-header-after" => How::Skip(
            "the session token added after signing (`omit_session_token`): pytopus always \
             signs it, as the AWS SDKs do by default",
        ),
        "get-space-normalized" | "get-space-unnormalized" | "get-utf8" => How::SingleEncoding(RAW),
        "get-relative-unnormalized" => How::SameAs("get-relative-normalized"),
        "get-relative-relative-unnormalized" => How::SameAs("get-relative-relative-normalized"),
        "get-slash-dot-slash-unnormalized" => How::SameAs("get-slash-dot-slash-normalized"),
        "get-slash-pointless-dot-unnormalized" => How::SameAs("get-slash-pointless-dot-normalized"),
        _ => How::AsIs,
    }
}

/// One vector: its context, the request pytopus makes of it, and the
/// `Authorization` the suite expects.
struct Vector {
    context: Value,
    request: HttpRequest,
    authorization: String,
}

fn read(dir: &Path, file: &str) -> String {
    std::fs::read_to_string(dir.join(file))
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", dir.join(file).display()))
}

fn load(name: &str) -> Vector {
    let dir = Path::new(SUITE).join(name);
    let context: Value = serde_json::from_str(&read(&dir, "context.json")).unwrap();
    let text = read(&dir, "request.txt");
    let (head, body) = match text.split_once("\n\n") {
        Some((h, b)) => (h, Some(b)),
        None => (text.as_str(), None),
    };
    let mut lines = head.lines();
    let line = lines.next().unwrap();
    let (method, rest) = line.split_once(' ').unwrap();
    let target = rest.strip_suffix(" HTTP/1.1").unwrap();
    let mut host = String::new();
    let mut headers = Vec::new();
    for l in lines {
        assert!(
            !l.starts_with([' ', '\t']),
            "{name}: a folded header line cannot be sent"
        );
        let (k, v) = l.split_once(':').unwrap();
        if k.eq_ignore_ascii_case("host") {
            host = v.trim().to_string();
        } else {
            headers.push((k.to_string(), v.to_string()));
        }
    }
    let signed = read(&dir, "header-signed-request.txt");
    let authorization = signed
        .lines()
        .find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.eq_ignore_ascii_case("authorization")
                .then(|| v.trim().to_string())
        })
        .unwrap_or_else(|| panic!("{name}: no Authorization in header-signed-request.txt"));
    Vector {
        context,
        request: HttpRequest {
            method: method.into(),
            url: format!("https://{host}{target}"),
            parsed_url: None,
            headers,
            body: body
                .filter(|b| !b.is_empty())
                .map(|b| Body::Bytes(b.as_bytes().to_vec())),
            timeout: Duration::from_secs(30),
            follow_redirects: true,
            tls: None,
            body_limit: 1 << 20,
        },
        authorization,
    }
}

fn suite_config(context: &Value) -> Config {
    let creds = &context["credentials"];
    let text = |v: &Value| v.as_str().unwrap().to_string();
    Config {
        access_key_id: text(&creds["access_key_id"]),
        secret_access_key: text(&creds["secret_access_key"]),
        session_token: creds.get("token").map(text),
        region: text(&context["region"]),
        service: text(&context["service"]),
        redactor: pytopus::secret::Redactor::default(),
    }
}

fn suite_time(context: &Value) -> SystemTime {
    let ts: jiff::Timestamp = context["timestamp"].as_str().unwrap().parse().unwrap();
    SystemTime::from(ts)
}

fn header<'r>(req: &'r HttpRequest, name: &str) -> Option<&'r str> {
    req.headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

/// Signs a vector's request by pytopus, with the suite's time, keys and
/// settings (`normalize`, `sign_body`).
fn sign_vector(v: &Vector, double_encode: bool) -> HttpRequest {
    let rules = Rules {
        normalize_path: v.context["normalize"].as_bool().unwrap(),
        double_encode,
        content_sha256: v.context["sign_body"].as_bool().unwrap(),
    };
    let mut req = v.request.clone();
    sigv4::sign_with(
        &mut req,
        &suite_config(&v.context),
        rules,
        suite_time(&v.context),
    )
    .unwrap_or_else(|e| panic!("{}: {e}", v.request.url));
    req
}

#[test]
fn the_aws_sigv4_test_suite_signs_as_aws_does() {
    let mut names: Vec<String> = std::fs::read_dir(SUITE)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(names.len(), 39, "{names:?}");
    let mut passed = 0;
    let mut skipped = Vec::new();
    for name in &names {
        let expected = match how(name) {
            How::Skip(why) => {
                skipped.push(format!("{name}: {why}"));
                continue;
            }
            How::SameAs(twin) => {
                let twin = load(twin);
                let v = load(name);
                let signed = sign_vector(&v, true);
                assert!(
                    !signed.url.contains("/."),
                    "{name}: pytopus would send {}",
                    signed.url
                );
                (signed, twin.authorization)
            }
            How::SingleEncoding(why) => {
                let v = load(name);
                let signed = sign_vector(&v, false);
                assert_eq!(
                    header(&signed, "authorization"),
                    Some(v.authorization.as_str()),
                    "{name}, signed with the path encoded once: {why}"
                );
                (signed, v.authorization)
            }
            How::AsIs => {
                let v = load(name);
                let signed = sign_vector(&v, true);
                if let Some(token) = v.context["credentials"].get("token") {
                    assert_eq!(
                        header(&signed, "x-amz-security-token"),
                        token.as_str(),
                        "{name}"
                    );
                }
                if v.context["sign_body"].as_bool() == Some(true) {
                    assert!(header(&signed, "x-amz-content-sha256").is_some(), "{name}");
                }
                (signed, v.authorization)
            }
        };
        let (signed, authorization) = expected;
        assert_eq!(
            header(&signed, "authorization"),
            Some(authorization.as_str()),
            "{name}"
        );
        assert_eq!(
            header(&signed, "x-amz-date"),
            Some("20150830T123600Z"),
            "{name}"
        );
        passed += 1;
    }
    assert_eq!((passed, skipped.len()), (37, 2), "skipped: {skipped:#?}");
}

/// S3's rules in the suite's terms: the unnormalised vectors pass with
/// the path encoded once, and the same paths signed for another service
/// (normalised, encoded twice) do not.
#[test]
fn s3_rules_sign_repeated_slashes_as_sent() {
    let v = load("get-slashes-unnormalized");
    let s3 = Rules::for_service("s3");
    let mut req = v.request.clone();
    sigv4::sign_with(
        &mut req,
        &suite_config(&v.context),
        Rules {
            content_sha256: false,
            ..s3
        },
        suite_time(&v.context),
    )
    .unwrap();
    assert_eq!(
        header(&req, "authorization"),
        Some(v.authorization.as_str())
    );
    let normalized = load("get-slashes-normalized");
    assert_ne!(v.authorization, normalized.authorization);
    assert_eq!(
        Rules::for_service("execute-api"),
        Rules {
            normalize_path: true,
            double_encode: true,
            content_sha256: false
        }
    );
}

// ---------------------------------------------------------------------------
// Against a local server.

const CHAIN_SECRET: &str = "chain-secret-key/0123+abcd";
const CHAIN_TOKEN: &str = "chain-session-token-4567";
const ENV_SECRET: &str = "env-secret-key/89ab+cdef";
const ENV_TOKEN: &str = "env-session-token-cdef";

/// The parts of an `Authorization: AWS4-HMAC-SHA256 …` header.
#[derive(Debug)]
struct Parsed {
    access_key_id: String,
    date: String,
    region: String,
    service: String,
    signed_headers: Vec<String>,
    signature: String,
}

fn parse_authorization(value: &str) -> Parsed {
    let rest = value
        .strip_prefix("AWS4-HMAC-SHA256 Credential=")
        .unwrap_or_else(|| panic!("not a SigV4 Authorization: {value}"));
    let (credential, rest) = rest.split_once(", SignedHeaders=").unwrap();
    let (signed, signature) = rest.split_once(", Signature=").unwrap();
    let parts: Vec<&str> = credential.split('/').collect();
    assert_eq!(parts.len(), 5, "{credential}");
    assert_eq!(parts[4], "aws4_request");
    assert_eq!(signature.len(), 64);
    assert!(signature.bytes().all(|b| b.is_ascii_hexdigit()));
    Parsed {
        access_key_id: parts[0].into(),
        date: parts[1].into(),
        region: parts[2].into(),
        service: parts[3].into(),
        signed_headers: signed.split(';').map(String::from).collect(),
        signature: signature.into(),
    }
}

fn received_header<'r>(req: &'r wiremock::Request, name: &str) -> Option<&'r str> {
    req.headers.get(name).and_then(|v| v.to_str().ok())
}

/// Checks the signature a server received against the request as it
/// arrived: signed again here, from the headers it names, with its time.
fn verify(req: &wiremock::Request, secret: &str, token: Option<&str>) -> Parsed {
    let auth = received_header(req, "authorization").expect("an Authorization header");
    let parsed = parse_authorization(auth);
    let date = received_header(req, "x-amz-date").expect("x-amz-date");
    assert_eq!(date.len(), 16, "{date}");
    assert!(date.starts_with(&parsed.date), "{date} vs {}", parsed.date);
    assert_eq!(received_header(req, "x-amz-security-token"), token);
    let at = jiff::civil::DateTime::strptime("%Y%m%dT%H%M%SZ", date)
        .unwrap()
        .to_zoned(jiff::tz::TimeZone::UTC)
        .unwrap()
        .timestamp();
    let mut headers = Vec::new();
    for name in &parsed.signed_headers {
        if matches!(
            name.as_str(),
            "host" | "x-amz-date" | "x-amz-security-token" | "x-amz-content-sha256"
        ) {
            continue;
        }
        for v in req.headers.get_all(name.as_str()) {
            headers.push((name.clone(), v.to_str().unwrap().to_string()));
        }
    }
    let mut again = HttpRequest {
        method: req.method.to_string(),
        // wiremock's URL names `localhost`; the signature covers the
        // `Host` the request came with.
        url: format!(
            "http://{}{}{}",
            received_header(req, "host").expect("a Host header"),
            req.url.path(),
            req.url.query().map(|q| format!("?{q}")).unwrap_or_default()
        ),
        parsed_url: None,
        headers,
        body: (!req.body.is_empty()).then(|| Body::Bytes(req.body.clone())),
        timeout: Duration::from_secs(30),
        follow_redirects: true,
        tls: None,
        body_limit: 1 << 20,
    };
    let config = Config {
        access_key_id: parsed.access_key_id.clone(),
        secret_access_key: secret.into(),
        session_token: token.map(String::from),
        region: parsed.region.clone(),
        service: parsed.service.clone(),
        redactor: pytopus::secret::Redactor::default(),
    };
    sigv4::sign(&mut again, &config, SystemTime::from(at)).unwrap();
    assert_eq!(
        header(&again, "authorization"),
        Some(auth),
        "the signature does not match the request {} {} as received",
        req.method,
        req.url
    );
    parsed
}

fn sha256_hex(bytes: &[u8]) -> String {
    aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, bytes)
        .as_ref()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

const CHAIN: &str = r#"
steps:
  - name: Post
    method: POST
    url: "{{ base }}/api/items?b=2&a=1&sp=a%20b"
    headers: {X-Custom: "  spaced   value  "}
    body: {name: widget}
    auth:
      type: aws_sigv4
      access_key_id: AKIDCHAIN
      secret_access_key: "{{ secret('aws') }}"
      session_token: "{{ secret('aws_token') }}"
      region: eu-west-1
      service: execute-api
  - name: Put
    method: PUT
    url: "{{ base }}/bucket/my key (1).txt"
    headers: {Content-Type: text/plain}
    body: "hello s3"
    auth: {type: aws_sigv4, service: s3}
  - name: Flaky
    url: "{{ base }}/flaky"
    retry: {attempts: 2, backoff: 1100ms, jitter: false, on: [503]}
    auth: {type: aws_sigv4, service: execute-api}
  - name: Moved
    method: POST
    url: "{{ base }}/old"
    body: {moved: true}
    auth: {type: aws_sigv4, service: execute-api}
  - name: Away
    url: "{{ base }}/away"
    auth: {type: aws_sigv4, service: execute-api}
  - name: Upload
    method: PUT
    url: "{{ base }}/upload"
    body_file: payload.bin
    auth: {type: aws_sigv4, service: execute-api}
  - name: Form
    url: "{{ base }}/form"
    multipart: {note: "a field", doc: "@payload.bin"}
    auth: {type: aws_sigv4, service: execute-api}
  - name: Echo
    url: "{{ base }}/echo"
    auth: {type: aws_sigv4, service: execute-api}
"#;

#[tokio::test]
async fn a_server_receives_requests_signed_as_sent_and_the_keys_never_show() {
    use wiremock::matchers::path;
    use wiremock::{Mock, MockServer, ResponseTemplate};
    let server = MockServer::start().await;
    let other = MockServer::start().await;
    Mock::given(path("/flaky"))
        .respond_with(ResponseTemplate::new(503))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(path("/old"))
        .respond_with(ResponseTemplate::new(307).insert_header("location", "/new?x=1"))
        .mount(&server)
        .await;
    Mock::given(path("/away"))
        .respond_with(
            ResponseTemplate::new(302)
                .insert_header("location", format!("{}/landing", other.uri())),
        )
        .mount(&server)
        .await;
    // A server that echoes the request's headers, as httpbin does.
    Mock::given(path("/echo"))
        .respond_with(|req: &wiremock::Request| {
            let auth = req
                .headers
                .get("authorization")
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
                .to_string();
            ResponseTemplate::new(200).set_body_json(serde_json::json!({"authorization": auth}))
        })
        .mount(&server)
        .await;
    Mock::given(wiremock::matchers::any())
        .respond_with(ResponseTemplate::new(200).set_body_json(serde_json::json!({"ok": true})))
        .mount(&server)
        .await;
    Mock::given(wiremock::matchers::any())
        .respond_with(ResponseTemplate::new(200).set_body_string("landed"))
        .mount(&other)
        .await;

    let dir = crate::support::Scratch::new();
    let file = dir.file("aws.yaml", CHAIN);
    dir.file("payload.bin", &"streamed from disk\n".repeat(20_000));
    let run = |extra: &[&str], log: Option<&str>| {
        let mut cmd = crate::support::pytopus();
        cmd.env("PYTOPUS_KEYRING", "off")
            .env("PYTOPUS_SECRET_AWS", CHAIN_SECRET)
            .env("PYTOPUS_SECRET_AWS_TOKEN", CHAIN_TOKEN)
            .env("AWS_ACCESS_KEY_ID", "AKIDFROMENV")
            .env("AWS_SECRET_ACCESS_KEY", ENV_SECRET)
            .env("AWS_SESSION_TOKEN", ENV_TOKEN)
            .env("AWS_DEFAULT_REGION", "us-west-2")
            .args(["run", file.to_str().unwrap(), "--no-history", "--var"])
            .arg(format!("base={}", server.uri()))
            .args(extra);
        if let Some(filter) = log {
            cmd.env("PYTOPUS_LOG", filter);
        }
        crate::support::run_cmd(&mut cmd)
    };
    let report = dir.path("report.json");
    let har = dir.path("run.har");
    let out = run(
        &[
            "-vvv",
            "--report",
            report.to_str().unwrap(),
            "--har",
            har.to_str().unwrap(),
        ],
        None,
    );
    assert_eq!(out.code, 0, "{}", out.stderr);

    let got = server.received_requests().await.unwrap();
    let at =
        |p: &str| -> Vec<&wiremock::Request> { got.iter().filter(|r| r.url.path() == p).collect() };
    // The chain's keys, from secrets, with a session token.
    let post = at("/api/items");
    assert_eq!(post.len(), 1);
    let p = verify(post[0], CHAIN_SECRET, Some(CHAIN_TOKEN));
    assert_eq!(
        (
            p.access_key_id.as_str(),
            p.region.as_str(),
            p.service.as_str()
        ),
        ("AKIDCHAIN", "eu-west-1", "execute-api")
    );
    for h in [
        "content-type",
        "host",
        "x-amz-date",
        "x-amz-security-token",
        "x-custom",
    ] {
        assert!(p.signed_headers.iter().any(|s| s == h), "{h}: {p:?}");
    }
    assert!(received_header(post[0], "x-amz-content-sha256").is_none());
    assert_eq!(post[0].url.query(), Some("b=2&a=1&sp=a%20b"));

    // From the environment: the keys, their token, AWS_DEFAULT_REGION; S3
    // gets the body's hash and the path in AWS's encoding.
    let put: Vec<&wiremock::Request> = got
        .iter()
        .filter(|r| r.url.path().starts_with("/bucket/"))
        .collect();
    assert_eq!(put.len(), 1);
    assert_eq!(put[0].url.path(), "/bucket/my%20key%20%281%29.txt");
    let p = verify(put[0], ENV_SECRET, Some(ENV_TOKEN));
    assert_eq!(
        (
            p.access_key_id.as_str(),
            p.region.as_str(),
            p.service.as_str()
        ),
        ("AKIDFROMENV", "us-west-2", "s3")
    );
    assert_eq!(
        received_header(put[0], "x-amz-content-sha256"),
        Some(sha256_hex(&put[0].body).as_str())
    );

    // A retry is signed again, at the time it is sent.
    let flaky = at("/flaky");
    assert_eq!(flaky.len(), 2);
    let first = verify(flaky[0], ENV_SECRET, Some(ENV_TOKEN));
    let second = verify(flaky[1], ENV_SECRET, Some(ENV_TOKEN));
    assert_ne!(
        received_header(flaky[0], "x-amz-date"),
        received_header(flaky[1], "x-amz-date")
    );
    assert_ne!(first.signature, second.signature);

    // A redirect on the same origin is signed for where it goes, body and all.
    let moved = at("/new");
    assert_eq!(moved.len(), 1);
    assert_eq!(moved[0].method.as_str(), "POST");
    assert_eq!(moved[0].body, br#"{"moved":true}"#);
    verify(moved[0], ENV_SECRET, Some(ENV_TOKEN));

    // A body streamed from disk is hashed from the file, whole or as a
    // multipart part.
    let upload = at("/upload");
    assert_eq!(upload.len(), 1);
    assert_eq!(upload[0].body.len(), 19 * 20_000);
    verify(upload[0], ENV_SECRET, Some(ENV_TOKEN));
    let form = at("/form");
    assert_eq!(form.len(), 1);
    assert!(form[0].body.len() > 19 * 20_000);
    verify(form[0], ENV_SECRET, Some(ENV_TOKEN));

    // One to another origin takes nothing of the signature along.
    let landed = other.received_requests().await.unwrap();
    assert_eq!(landed.len(), 1);
    for (name, _) in landed[0].headers.iter() {
        let name = name.as_str();
        assert!(
            name != "authorization" && !name.starts_with("x-amz-"),
            "{name} went to another origin"
        );
    }

    // Nothing written holds a key or a token; the scheme still shows.
    let mut channels = vec![
        ("stdout", out.stdout.clone()),
        ("stderr (-vvv)", out.stderr.clone()),
        ("--report", std::fs::read_to_string(&report).unwrap()),
        ("--har", std::fs::read_to_string(&har).unwrap()),
    ];
    assert!(
        channels[2].1.contains("AWS4-HMAC-SHA256 ***"),
        "{}",
        channels[2].1
    );
    let traced = run(&[], Some("trace"));
    assert_eq!(traced.code, 0, "{}", traced.stderr);
    channels.push(("stderr (PYTOPUS_LOG=trace)", traced.stderr));
    // The signatures are computed from the secret key: `***` too, even
    // where a server echoes them back.
    assert!(
        out.stdout.contains("Signature=***"),
        "the echoed signature: {}",
        out.stdout
    );
    let signatures: Vec<String> = got
        .iter()
        .filter_map(|r| received_header(r, "authorization"))
        .map(|a| parse_authorization(a).signature)
        .collect();
    assert!(signatures.len() >= 8, "{signatures:?}");
    for (channel, text) in &channels {
        for sig in &signatures {
            assert!(
                !text.contains(sig.as_str()),
                "a signature leaked into {channel}"
            );
        }
        for secret in [CHAIN_SECRET, CHAIN_TOKEN, ENV_SECRET, ENV_TOKEN] {
            assert!(
                !text.contains(secret),
                "{secret} leaked into {channel}:\n{text}"
            );
            let encoded: String = url::form_urlencoded::byte_serialize(secret.as_bytes()).collect();
            assert!(!text.contains(&encoded), "{secret} leaked into {channel}");
        }
    }
}

#[tokio::test]
async fn missing_credentials_fail_the_step_before_anything_is_sent() {
    let server = wiremock::MockServer::start().await;
    let dir = crate::support::Scratch::new();
    let file = dir.file(
        "aws.yaml",
        "steps:\n  - name: S3\n    url: \"{{ base }}/b\"\n    auth: {type: aws_sigv4, service: s3, region: us-east-1}\n",
    );
    let mut cmd = crate::support::pytopus();
    cmd.args(["run", file.to_str().unwrap(), "--no-history", "--var"])
        .arg(format!("base={}", server.uri()));
    let out = crate::support::run_cmd(&mut cmd);
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert!(
        out.stderr.contains("no AWS credentials") && out.stderr.contains("AWS_ACCESS_KEY_ID"),
        "{}",
        out.stderr
    );
    assert_eq!(server.received_requests().await.unwrap().len(), 0);

    // Keys but no region anywhere.
    let file = dir.file(
        "noregion.yaml",
        "steps:\n  - name: S3\n    url: \"{{ base }}/b\"\n    auth: {type: aws_sigv4, service: s3}\n",
    );
    let mut cmd = crate::support::pytopus();
    cmd.env("AWS_ACCESS_KEY_ID", "AKIDX")
        .env("AWS_SECRET_ACCESS_KEY", ENV_SECRET)
        .args(["run", file.to_str().unwrap(), "--no-history", "--var"])
        .arg(format!("base={}", server.uri()));
    let out = crate::support::run_cmd(&mut cmd);
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert!(out.stderr.contains("no AWS region"), "{}", out.stderr);
    assert!(out.stderr.contains("AWS_DEFAULT_REGION"), "{}", out.stderr);
    assert!(!out.stderr.contains(ENV_SECRET), "{}", out.stderr);
    assert_eq!(server.received_requests().await.unwrap().len(), 0);
}

#[test]
fn half_given_keys_and_empty_names_are_validation_errors() {
    let dir = crate::support::Scratch::new();
    let cases: BTreeMap<&str, (&str, &str)> = [
        (
            "key-only",
            (
                "auth: {type: aws_sigv4, service: s3, access_key_id: AKID}",
                "`access_key_id` needs `secret_access_key` beside it",
            ),
        ),
        (
            "secret-only",
            (
                "auth: {type: aws_sigv4, service: s3, secret_access_key: \"{{ secret('aws') }}\"}",
                "`secret_access_key` needs `access_key_id` beside it",
            ),
        ),
        (
            "empty-service",
            (
                "auth: {type: aws_sigv4, service: \"\"}",
                "`service` is empty",
            ),
        ),
        (
            "no-service",
            ("auth: {type: aws_sigv4, region: us-east-1}", "service"),
        ),
    ]
    .into_iter()
    .collect();
    for (name, (auth, message)) in cases {
        let file = dir.file(
            &format!("{name}.yaml"),
            &format!("steps:\n  - name: A\n    url: https://s3.amazonaws.com/\n    {auth}\n"),
        );
        let out = crate::support::run(&["validate", file.to_str().unwrap()]);
        assert_eq!(out.code, 2, "{name}: {}", out.stderr);
        assert!(out.stderr.contains(message), "{name}: {}", out.stderr);
        assert!(
            out.stderr.contains(":4:"),
            "{name}: no position: {}",
            out.stderr
        );
    }
}

#[test]
fn a_dry_run_signs_nothing_and_needs_no_keys() {
    let dir = crate::support::Scratch::new();
    let file = dir.file(
        "aws.yaml",
        "steps:\n  - name: A\n    url: https://s3.amazonaws.com/b\n    auth: {type: aws_sigv4, service: s3}\n",
    );
    let mut cmd = crate::support::pytopus();
    cmd.args(["run", file.to_str().unwrap(), "--dry-run", "-q"]);
    let out = crate::support::run_cmd(&mut cmd);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(
        out.stdout.contains("authorization: AWS4-HMAC-SHA256"),
        "{}",
        out.stdout
    );
}
