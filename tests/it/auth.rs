//! Authentication against servers started here: every scheme, the OAuth2
//! token lifecycle, JWT verification on the server side, redirect safety,
//! and a canary secret that must appear in no output.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use crate::support::{Output, Scratch, pytopus, run_cmd};
use serde_json::{Value, json};
use wiremock::matchers::{body_string_contains, header, method, path, query_param};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

/// Runs `chain` with `base` set, the keyring off, and extra environment.
fn run_with(base: &str, chain: &str, env: &[(&str, &str)], args: &[&str]) -> (Output, Scratch) {
    let dir = Scratch::new();
    let file = dir.file("c.yaml", chain);
    let mut cmd = pytopus();
    cmd.env("PYTOPUS_KEYRING", "off")
        .args([
            "run",
            file.to_str().unwrap(),
            "--var",
            &format!("base={base}"),
        ])
        .args(args);
    for (k, v) in env {
        cmd.env(k, v);
    }
    (run_cmd(&mut cmd), dir)
}

fn ok_json() -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_json(json!({"ok": true}))
}

#[tokio::test]
async fn static_schemes_put_credentials_where_they_belong() {
    let server = MockServer::start().await;
    Mock::given(path("/basic"))
        .and(header("authorization", "Basic YW5uOnBhNTV3b3Jk"))
        .respond_with(ok_json())
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(path("/bearer"))
        .and(header("authorization", "Bearer t0k3n-from-env"))
        .respond_with(ok_json())
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(path("/key-header"))
        .and(header("x-api-key", "k3y-k3y"))
        .respond_with(ok_json())
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(path("/key-query"))
        .and(query_param("api_key", "k3y-k3y"))
        .and(query_param("q", "1"))
        .respond_with(ok_json())
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(path("/key-cookie"))
        .and(header("cookie", "sid=k3y-k3y"))
        .respond_with(ok_json())
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(path("/headers"))
        .and(header("x-client", "pytopus"))
        .and(header("x-secret", "k3y-k3y"))
        .respond_with(ok_json())
        .expect(1)
        .mount(&server)
        .await;
    let chain = r#"
vars: {user: ann}
defaults:
  auth: {type: api_key, in: header, name: X-Api-Key, key: "{{ secret('api_key') }}"}
steps:
  - name: Basic
    url: "{{ base }}/basic"
    auth: {type: basic, username: "{{ user }}", password: "{{ secret('password') }}"}
  - name: Bearer
    url: "{{ base }}/bearer"
    auth: {type: bearer, token: "{{ env.MY_TOKEN }}"}
  - name: KeyHeader
    url: "{{ base }}/key-header"
  - name: KeyQuery
    url: "{{ base }}/key-query?q=1"
    auth: {type: api_key, location: query, param_name: api_key, key: "{{ secret('api_key') }}"}
  - name: KeyCookie
    url: "{{ base }}/key-cookie"
    auth: {type: api_key, in: cookie, name: sid, key: "{{ secret('api_key') }}"}
  - name: Headers
    url: "{{ base }}/headers"
    auth: {type: headers, headers: {X-Client: pytopus, X-Secret: "{{ secret('api_key') }}"}}
"#;
    let env = [
        ("PYTOPUS_SECRET_PASSWORD", "pa55word"),
        ("PYTOPUS_SECRET_API_KEY", "k3y-k3y"),
        ("MY_TOKEN", "t0k3n-from-env"),
    ];
    let (out, _dir) = run_with(&server.uri(), chain, &env, &["-vv"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(
        !out.stderr.contains("k3y-k3y") && !out.stderr.contains("pa55word"),
        "{}",
        out.stderr
    );
    assert!(out.stderr.contains("X-Api-Key: ***"), "{}", out.stderr);
}

#[test]
fn a_missing_secret_is_named_with_both_ways_to_provide_it() {
    let (out, _dir) = run_with(
        "http://127.0.0.1:9",
        "steps:\n  - name: A\n    url: \"{{ base }}/a\"\n    auth: {type: bearer, token: \"{{ secret('github_token') }}\"}\n",
        &[],
        &[],
    );
    assert_eq!(out.code, 2);
    assert_eq!(
        out.stderr,
        "error: secret `github_token` is not set: store it with `pytopus auth set github_token`, or set the environment variable PYTOPUS_SECRET_GITHUB_TOKEN\n"
    );
}

/// A token endpoint that counts calls and hands out `tok-1`, `tok-2`, …
/// (and rotating refresh tokens `rt-1`, `rt-2`, …).
struct TokenEndpoint {
    calls: Arc<AtomicUsize>,
    expires_in: u64,
}

impl Respond for TokenEndpoint {
    fn respond(&self, _req: &Request) -> ResponseTemplate {
        let n = self.calls.fetch_add(1, Ordering::SeqCst) + 1;
        ResponseTemplate::new(200).set_body_json(json!({
            "access_token": format!("tok-{n}"),
            "token_type": "Bearer",
            "expires_in": self.expires_in,
            "refresh_token": format!("rt-{n}"),
        }))
    }
}

const CLIENT_CREDENTIALS: &str = r#"
defaults:
  auth:
    type: oauth2
    grant: client_credentials
    token_url: "{{ base }}/token"
    client_id: pytopus
    client_secret: "{{ secret('client_secret') }}"
    scope: read
steps:
  - name: One
    url: "{{ base }}/api/one"
  - name: Two
    url: "{{ base }}/api/two"
output: "{{ Two.ok }}"
"#;

#[tokio::test]
async fn client_credentials_token_is_fetched_once_and_reused() {
    let server = MockServer::start().await;
    let calls = Arc::new(AtomicUsize::new(0));
    Mock::given(method("POST"))
        .and(path("/token"))
        // client_secret_basic: base64("pytopus:s3cret")
        .and(header("authorization", "Basic cHl0b3B1czpzM2NyZXQ="))
        .and(body_string_contains("grant_type=client_credentials"))
        .and(body_string_contains("scope=read"))
        .respond_with(TokenEndpoint {
            calls: Arc::clone(&calls),
            expires_in: 3600,
        })
        .mount(&server)
        .await;
    Mock::given(path("/api/one"))
        .and(header("authorization", "Bearer tok-1"))
        .respond_with(ok_json())
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(path("/api/two"))
        .and(header("authorization", "Bearer tok-1"))
        .respond_with(ok_json())
        .expect(1)
        .mount(&server)
        .await;
    let (out, _dir) = run_with(
        &server.uri(),
        CLIENT_CREDENTIALS,
        &[("PYTOPUS_SECRET_CLIENT_SECRET", "s3cret")],
        &["-q"],
    );
    assert_eq!(
        (out.code, out.stdout.as_str()),
        (0, "true\n"),
        "{}",
        out.stderr
    );
    assert_eq!(calls.load(Ordering::SeqCst), 1, "one token for both steps");
}

#[tokio::test]
async fn a_wrong_client_secret_shows_the_oauth2_error_plainly() {
    let server = MockServer::start().await;
    Mock::given(path("/token"))
        .respond_with(ResponseTemplate::new(401).set_body_json(
            json!({"error": "invalid_client", "error_description": "Client authentication failed"}),
        ))
        .mount(&server)
        .await;
    let (out, _dir) = run_with(
        &server.uri(),
        CLIENT_CREDENTIALS,
        &[("PYTOPUS_SECRET_CLIENT_SECRET", "wrong-secret")],
        &["-q"],
    );
    assert_eq!(out.code, 1);
    assert!(
        out.stderr.contains(
            "error: step `One` failed: authentication failed: the token endpoint refused: invalid_client (Client authentication failed), status 401"
        ),
        "{}",
        out.stderr
    );
    assert!(!out.stderr.contains("wrong-secret"));
}

/// An API that accepts only the newest token handed out.
struct NewestTokenOnly(Arc<AtomicUsize>);

impl Respond for NewestTokenOnly {
    fn respond(&self, req: &Request) -> ResponseTemplate {
        let newest = format!("Bearer tok-{}", self.0.load(Ordering::SeqCst));
        let got = req
            .headers
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        if got == newest {
            ok_json()
        } else {
            ResponseTemplate::new(401).set_body_json(json!({"error": "expired"}))
        }
    }
}

#[tokio::test]
async fn a_401_fetches_a_new_token_once_and_retries() {
    let server = MockServer::start().await;
    let calls = Arc::new(AtomicUsize::new(0));
    Mock::given(path("/token"))
        .respond_with(TokenEndpoint {
            calls: Arc::clone(&calls),
            expires_in: 3600,
        })
        .mount(&server)
        .await;
    // The first token is rejected as if revoked: only tokens after it work.
    Mock::given(path("/api/one"))
        .and(header("authorization", "Bearer tok-1"))
        .respond_with(ResponseTemplate::new(401))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(path("/api/one"))
        .respond_with(NewestTokenOnly(Arc::clone(&calls)))
        .mount(&server)
        .await;
    Mock::given(path("/api/two"))
        .respond_with(NewestTokenOnly(Arc::clone(&calls)))
        .mount(&server)
        .await;
    let (out, _dir) = run_with(
        &server.uri(),
        CLIENT_CREDENTIALS,
        &[("PYTOPUS_SECRET_CLIENT_SECRET", "s3cret")],
        &["-q"],
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    // The renewal used the refresh token tok-1 came with.
    assert_eq!(calls.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn a_401_after_renewing_fails_instead_of_looping() {
    let server = MockServer::start().await;
    let calls = Arc::new(AtomicUsize::new(0));
    Mock::given(path("/token"))
        .respond_with(TokenEndpoint {
            calls: Arc::clone(&calls),
            expires_in: 3600,
        })
        .mount(&server)
        .await;
    Mock::given(path("/api/one"))
        .respond_with(ResponseTemplate::new(401))
        .expect(2)
        .mount(&server)
        .await;
    let (out, _dir) = run_with(
        &server.uri(),
        CLIENT_CREDENTIALS,
        &[("PYTOPUS_SECRET_CLIENT_SECRET", "s3cret")],
        &["-q"],
    );
    assert_eq!(out.code, 1);
    assert!(
        out.stderr
            .contains("expected status 2xx, got 401 Unauthorized"),
        "{}",
        out.stderr
    );
    assert_eq!(calls.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn an_expired_token_is_refreshed_with_the_rotated_refresh_token() {
    let server = MockServer::start().await;
    let calls = Arc::new(AtomicUsize::new(0));
    // First: the configured refresh token. Then: the one the last answer rotated to.
    Mock::given(path("/token"))
        .and(body_string_contains("grant_type=refresh_token"))
        .and(body_string_contains("refresh_token=initial-rt"))
        .respond_with(TokenEndpoint {
            calls: Arc::clone(&calls),
            expires_in: 1,
        })
        .up_to_n_times(1)
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(path("/token"))
        .and(body_string_contains("refresh_token=rt-1"))
        .respond_with(TokenEndpoint {
            calls: Arc::clone(&calls),
            expires_in: 1,
        })
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(path("/api/one"))
        .and(header("authorization", "Bearer tok-1"))
        .respond_with(ok_json().set_delay(std::time::Duration::from_millis(1100)))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(path("/api/two"))
        .and(header("authorization", "Bearer tok-2"))
        .respond_with(ok_json())
        .expect(1)
        .mount(&server)
        .await;
    let chain = r#"
defaults:
  auth:
    type: oauth2
    grant_type: refresh_token
    token_url: "{{ base }}/token"
    client_id: pytopus
    client_auth: body
    refresh_token: "{{ secret('refresh') }}"
steps:
  - name: One
    url: "{{ base }}/api/one"
  - name: Two
    url: "{{ base }}/api/two"
"#;
    let (out, _dir) = run_with(
        &server.uri(),
        chain,
        &[("PYTOPUS_SECRET_REFRESH", "initial-rt")],
        &["-q"],
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(calls.load(Ordering::SeqCst), 2);
}

/// Accepts only an HS256 JWT signed with `key` whose `sub` is `ann` and that has `exp`.
struct VerifiesJwt(&'static str);

impl wiremock::Match for VerifiesJwt {
    fn matches(&self, req: &Request) -> bool {
        let Some(token) = req
            .headers
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
        else {
            return false;
        };
        let key = jsonwebtoken::DecodingKey::from_secret(self.0.as_bytes());
        let mut v = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::HS256);
        v.set_audience(&["api"]);
        jsonwebtoken::decode::<Value>(token, &key, &v).is_ok_and(|d| d.claims["sub"] == "ann")
    }
}

#[tokio::test]
async fn signed_jwts_verify_on_the_server() {
    let server = MockServer::start().await;
    Mock::given(path("/jwt"))
        .and(VerifiesJwt("jwt-signing-key"))
        .respond_with(ok_json())
        .expect(1)
        .mount(&server)
        .await;
    let chain = "steps:\n  - name: J\n    url: \"{{ base }}/jwt\"\n    auth: {type: jwt, algorithm: HS256, secret: \"{{ secret('jwt_key') }}\", claims: {sub: ann, aud: api}, expires_in: 2m}\n";
    let (out, _dir) = run_with(
        &server.uri(),
        chain,
        &[("PYTOPUS_SECRET_JWT_KEY", "jwt-signing-key")],
        &["-vv"],
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(
        out.stderr.contains("Authorization: Bearer ***"),
        "{}",
        out.stderr
    );
}

#[tokio::test]
async fn credentials_are_dropped_when_a_redirect_leaves_the_origin() {
    let elsewhere = MockServer::start().await;
    Mock::given(path("/landing"))
        .respond_with(|req: &Request| {
            let leaked = req.headers.contains_key("x-api-key")
                || req.headers.contains_key("authorization")
                || req.url.query().is_some_and(|q| q.contains("key"));
            ResponseTemplate::new(200).set_body_json(json!({"leaked": leaked}))
        })
        .expect(2)
        .mount(&elsewhere)
        .await;
    let origin = MockServer::start().await;
    Mock::given(path("/go"))
        .and(header("x-api-key", "k3y-k3y"))
        .respond_with(
            ResponseTemplate::new(302)
                .insert_header("Location", format!("{}/landing", elsewhere.uri())),
        )
        .expect(1)
        .mount(&origin)
        .await;
    Mock::given(path("/goq"))
        .and(query_param("key", "k3y-k3y"))
        .respond_with(ResponseTemplate::new(307).insert_header(
            "Location",
            format!("{}/landing?key=k3y-k3y", elsewhere.uri()),
        ))
        .expect(1)
        .mount(&origin)
        .await;
    Mock::given(path("/here"))
        .respond_with(ResponseTemplate::new(302).insert_header("Location", "/here-too"))
        .mount(&origin)
        .await;
    Mock::given(path("/here-too"))
        .and(header("x-api-key", "k3y-k3y"))
        .respond_with(ok_json())
        .expect(1)
        .mount(&origin)
        .await;
    let chain = r#"
steps:
  - name: Header
    url: "{{ base }}/go"
    auth: {type: api_key, name: X-Api-Key, key: "{{ secret('k') }}"}
  - name: Query
    url: "{{ base }}/goq"
    auth: {type: api_key, in: query, name: key, key: "{{ secret('k') }}"}
  - name: SameOrigin
    url: "{{ base }}/here"
    auth: {type: api_key, name: X-Api-Key, key: "{{ secret('k') }}"}
output: ["{{ Header.leaked }}", "{{ Query.leaked }}", "{{ SameOrigin.ok }}"]
"#;
    let (out, _dir) = run_with(
        &origin.uri(),
        chain,
        &[("PYTOPUS_SECRET_K", "k3y-k3y")],
        &["-q", "--output", "raw"],
    );
    assert_eq!(
        (out.code, out.stdout.as_str()),
        (0, "[false,false,true]\n"),
        "{}",
        out.stderr
    );
}

#[tokio::test]
async fn a_canary_secret_appears_in_no_output() {
    const CANARY: &str = "CANARY-7f3a9c-secret";
    let server = MockServer::start().await;
    // The server echoes the credential back, in the body and a header: the
    // worst case for leaks.
    Mock::given(path("/echo"))
        .respond_with(|req: &Request| {
            let auth = req
                .headers
                .get("authorization")
                .and_then(|v| v.to_str().ok())
                .unwrap_or("")
                .to_string();
            ResponseTemplate::new(200)
                .insert_header("x-echo", auth.as_str())
                .set_body_json(json!({"you_sent": auth}))
        })
        .mount(&server)
        .await;
    Mock::given(path("/fail"))
        .respond_with(|req: &Request| {
            let auth = req
                .headers
                .get("authorization")
                .and_then(|v| v.to_str().ok())
                .unwrap_or("")
                .to_string();
            ResponseTemplate::new(403).set_body_json(json!({"rejected": auth}))
        })
        .mount(&server)
        .await;
    let chain = r#"
steps:
  - name: Echo
    url: "{{ base }}/echo?token={{ secret('canary') | urlencode }}"
    auth: {type: basic, username: ann, password: "{{ secret('canary') }}"}
    extract: {seen: "$.you_sent", echoed: "header:x-echo"}
  - name: Fail
    method: POST
    url: "{{ base }}/fail"
    headers: {X-Token: "{{ secret('canary') }}"}
    body: {token: "{{ secret('canary') }}", seen: "{{ seen }}"}
    auth: {type: bearer, token: "{{ secret('canary') }}"}
"#;
    let env = [("PYTOPUS_SECRET_CANARY", CANARY)];
    let dir = Scratch::new();
    let report = dir.path("report.json");
    let tape = dir.path("tape.json");
    let (failed, _d1) = run_with(
        &server.uri(),
        chain,
        &env,
        &[
            "-vvv",
            "--report",
            report.to_str().unwrap(),
            "--record",
            tape.to_str().unwrap(),
        ],
    );
    assert_eq!(failed.code, 1, "{}", failed.stderr);
    let ok_chain = chain.split("  - name: Fail").next().unwrap().to_string()
        + "output: {seen: \"{{ seen }}\", echoed: \"{{ echoed }}\", raw: \"{{ secret('canary') }}\"}\n";
    let (passed, _d2) = run_with(&server.uri(), &ok_chain, &env, &[]);
    assert_eq!(passed.code, 0, "{}", passed.stderr);
    let (dry, _d3) = run_with(&server.uri(), chain, &env, &["--dry-run"]);
    assert_eq!(dry.code, 0, "{}", dry.stderr);
    let (replayed, _d4) = run_with(
        &server.uri(),
        chain,
        &env,
        &["--replay", tape.to_str().unwrap(), "-vvv"],
    );
    let encoded = "Q0FOQVJZLTdmM2E5Yy1zZWNyZXQ"; // base64 of the canary, inside "ann:…"'s base64
    for (what, text) in [
        ("stderr of the failed run", failed.stderr),
        ("stdout of the failed run", failed.stdout),
        ("report", std::fs::read_to_string(&report).unwrap()),
        ("tape", std::fs::read_to_string(&tape).unwrap()),
        ("stdout", passed.stdout.clone()),
        ("stderr", passed.stderr),
        ("dry-run stdout", dry.stdout),
        ("dry-run stderr", dry.stderr),
        ("replay stderr", replayed.stderr),
        ("replay stdout", replayed.stdout),
    ] {
        assert!(
            !text.contains(CANARY),
            "the canary leaked into {what}:\n{text}"
        );
        assert!(
            !text.contains(encoded),
            "the canary's base64 leaked into {what}:\n{text}"
        );
        assert!(
            !text.contains("YW5uOkNBTkFSWS03ZjNhOWMtc2VjcmV0"),
            "basic credentials leaked into {what}:\n{text}"
        );
    }
    assert!(
        passed.stdout.contains("\"raw\": \"***\""),
        "{}",
        passed.stdout
    );
}

#[tokio::test]
async fn the_device_code_grant_tells_the_user_where_to_go_and_polls() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/device"))
        .and(body_string_contains("client_id=pytopus-cli"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "device_code": "dev-code-123", "user_code": "WDJB-MJHT",
            "verification_uri": "https://example.test/device", "interval": 1, "expires_in": 60
        })))
        .expect(1)
        .mount(&server)
        .await;
    // Pending once, then granted.
    Mock::given(path("/token"))
        .and(body_string_contains("device_code=dev-code-123"))
        .respond_with(
            ResponseTemplate::new(400).set_body_json(json!({"error": "authorization_pending"})),
        )
        .up_to_n_times(1)
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(path("/token"))
        .and(body_string_contains(
            "grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Adevice_code",
        ))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"access_token": "device-tok", "expires_in": 600})),
        )
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(path("/api"))
        .and(header("authorization", "Bearer device-tok"))
        .respond_with(ok_json())
        .expect(1)
        .mount(&server)
        .await;
    let chain = r#"
steps:
  - name: Api
    url: "{{ base }}/api"
    auth: {type: oauth2, grant: device_code, device_url: "{{ base }}/device", token_url: "{{ base }}/token", client_id: pytopus-cli}
"#;
    let (out, _dir) = run_with(&server.uri(), chain, &[], &[]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(
        out.stderr.contains(
            "To authorize pytopus, open https://example.test/device and enter the code WDJB-MJHT"
        ),
        "{}",
        out.stderr
    );
}
