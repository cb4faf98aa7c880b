//! What a hostile caller, page or server can do to pytopus, one test per
//! defect of the security review (issue "Security and resource limits"):
//! each of these failed before its fix.

use std::sync::Arc;

use pytopus::secret::{MemoryStore, Secret, SecretStore, Secrets};
use pytopus::serve::signature::sign_hex;
use serde_json::{Value, json};

use crate::serve::{HOOK_SECRET, Setup, client, serve_while, served};

const STRIPE: &str = r#"
trigger:
  secret: "{{ secret('stripe_hook') }}"
  signature: stripe
steps:
  - name: Record
    method: POST
    url: https://ledger.test/events
    body: {type: "{{ trigger.body.type }}"}
"#;

const SLACK: &str = r#"
trigger:
  secret: "{{ secret('slack_hook') }}"
  signature: slack
steps:
  - name: Reply
    url: https://slack.test/reply
"#;

/// Item 1: a timestamp past what the clock can hold, in a header nobody has
/// authenticated yet, overflowed `SystemTime + Duration` and, with
/// `panic = "abort"`, ended the server. Now it is a 401 and the server goes
/// on answering, signed requests included.
#[tokio::test]
async fn a_huge_signed_timestamp_is_refused_and_serve_goes_on() {
    let setup = Setup::new(vec![served("stripe", STRIPE), served("slack", SLACK)]);
    let fake = setup.fake.clone();
    serve_while(setup, |base, _| async move {
        for (hook, header, value) in [
            ("stripe", "stripe-signature", "t=9223372036854775808,v1=00"),
            ("stripe", "stripe-signature", "t=18446744073709551615,v1=00"),
            ("stripe", "stripe-signature", "t=-1,v1=00"),
            ("stripe", "stripe-signature", "t=,v1=00"),
            ("slack", "x-slack-request-timestamp", "9223372036854775808"),
            (
                "slack",
                "x-slack-request-timestamp",
                "99999999999999999999999",
            ),
        ] {
            let r = client()
                .post(format!("{base}/hooks/{hook}"))
                .header(header, value)
                .header("x-slack-signature", "v0=00")
                .body("{}")
                .send()
                .await
                .unwrap_or_else(|e| panic!("{header}: {value}: the server dropped us: {e}"));
            assert_eq!(r.status(), 401, "{header}: {value}");
            let body: Value = r.json().await.unwrap();
            let msg = body["error"].as_str().unwrap();
            assert!(msg.contains("malformed signature"), "{value}: {msg}");
        }
        // Still serving: health, and a properly signed webhook runs.
        let health = client()
            .get(format!("{base}/healthz"))
            .send()
            .await
            .unwrap();
        assert_eq!(health.status(), 200);
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs();
        let body = r#"{"type":"charge.succeeded"}"#;
        let sig = sign_hex(HOOK_SECRET.as_bytes(), format!("{now}.{body}").as_bytes());
        let ok = client()
            .post(format!("{base}/hooks/stripe"))
            .header("stripe-signature", format!("t={now},v1={sig}"))
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(ok.status(), 200);
    })
    .await;
    assert_eq!(fake.sent(), 1, "only the signed webhook ran");
}

/// A chain that sends a stored token to `{{ base }}`: what a web page
/// would like to point elsewhere.
const TOKENED: &str = r#"
vars: {base: "https://api.test", who: nobody}
steps:
  - name: Me
    url: "{{ base }}/me"
    query_params: {who: "{{ who }}"}
    auth: {type: bearer, token: "{{ secret('api_token') }}"}
"#;

fn with_token(mut setup: Setup) -> Setup {
    let store = Arc::new(MemoryStore::default());
    store
        .set("api_token", &Secret::new("tok-cafe-4711-secret"))
        .unwrap();
    setup.secrets = Some(Secrets::new(
        move || Ok(store.clone() as Arc<dyn SecretStore>),
        setup.redactor.clone(),
    ));
    setup
}

/// Item 2: a web page could make a loopback `serve` send the chain's token
/// to the page's own host: a `text/plain` POST needs no CORS preflight,
/// `vars` rewrote the URL, and nothing checked `Host` or `Origin`.
#[tokio::test]
async fn web_pages_cannot_start_runs_or_move_credentials() {
    let setup = with_token(Setup::new(vec![served("me", TOKENED)]));
    let fake = setup.fake.clone();
    let counted = fake.clone();
    serve_while(setup, |base, _| async move {
        let run = format!("{base}/chains/me/run");
        let port = base.rsplit(':').next().unwrap().to_string();
        let steal = r#"{"vars": {"base": "http://evil.example"}}"#;

        // The page's simple request: text/plain, with the page's Origin.
        let r = client()
            .post(&run)
            .header("content-type", "text/plain")
            .header("origin", "http://evil.example")
            .body(steal)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 403);
        let msg: Value = r.json().await.unwrap();
        assert!(
            msg["error"].as_str().unwrap().contains("cross-origin"),
            "{msg}"
        );

        // Without the Origin (an old browser): still not JSON.
        let r = client()
            .post(&run)
            .header("content-type", "text/plain")
            .body(steal)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 415);

        // A browser that says only where it fetched from.
        let r = client()
            .post(&run)
            .header("sec-fetch-site", "cross-site")
            .json(&json!({}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 403);

        // DNS rebinding: the page's name now points at 127.0.0.1, so its
        // request is "same-origin" to the browser, under a foreign Host.
        let r = client()
            .post(&run)
            .header("host", format!("evil.example:{port}"))
            .header("origin", format!("http://evil.example:{port}"))
            .json(&json!({}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 421);
        let r = client()
            .get(format!("{base}/runs"))
            .header("host", format!("evil.example:{port}"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 421, "reading runs by a rebound name");

        // Even a well-formed JSON call may not move the request elsewhere…
        let r = client()
            .post(&run)
            .json(&json!({"vars": {"base": "http://evil.example"}}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 403);
        let msg: Value = r.json().await.unwrap();
        assert!(
            msg["error"]
                .as_str()
                .unwrap()
                .contains("trigger.origin_vars"),
            "{msg}"
        );
        // …nor set a variable the chain does not declare.
        let r = client()
            .post(&run)
            .json(&json!({"vars": {"wh0": "x"}}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 400);
        let msg: Value = r.json().await.unwrap();
        assert!(
            msg["error"]
                .as_str()
                .unwrap()
                .contains("did you mean `who`"),
            "{msg}"
        );
        assert_eq!(counted.sent(), 0, "nothing was sent for a refused call");

        // What a script on this machine does still works: a declared
        // variable, as JSON, from its own origin or none.
        let r = client()
            .post(&run)
            .header("origin", &base)
            .json(&json!({"vars": {"who": "me"}}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        let r = client().post(&run).send().await.unwrap();
        assert_eq!(r.status(), 200, "no body needs no content type");
        let r = client()
            .post(&run)
            .header("host", format!("localhost:{port}"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
    })
    .await;
    let sent = fake.sent.lock().unwrap();
    assert_eq!(sent.len(), 3);
    assert!(
        sent.iter()
            .all(|r| r.url.starts_with("https://api.test/me"))
    );
    assert!(sent[0].url.ends_with("who=me"), "{}", sent[0].url);
}

/// A chain may open a variable that decides the host; then (and only then)
/// a caller may set it.
#[tokio::test]
async fn origin_vars_opens_a_host_to_callers() {
    let open = "vars: {base: \"https://a.test\", tenant: t1}\ntrigger: {origin_vars: [base]}\nsteps:\n  - name: A\n    url: \"{{ base }}/x\"\n  - name: B\n    url: \"https://{{ tenant }}.b.test/y\"\n";
    let setup = Setup::new(vec![served("open", open)]);
    let fake = setup.fake.clone();
    serve_while(setup, |base, _| async move {
        let run = format!("{base}/chains/open/run");
        let r = client()
            .post(&run)
            .json(&json!({"vars": {"base": "https://c.test"}}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        let r = client()
            .post(&run)
            .json(&json!({"vars": {"tenant": "evil.example/"}}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 403);
    })
    .await;
    let urls: Vec<String> = fake
        .sent
        .lock()
        .unwrap()
        .iter()
        .map(|r| r.url.clone())
        .collect();
    assert_eq!(urls, ["https://c.test/x", "https://t1.b.test/y"]);
}

/// The same rules hold for webhooks: no page may post one, and an unsigned
/// one answers only to the server's own names; a signed one is accepted
/// under a tunnel's name (its signature authenticates it).
#[tokio::test]
async fn webhooks_refuse_pages_and_foreign_hosts_unless_signed() {
    let unsigned = "trigger: {}\nsteps: [{name: A, url: https://api.test/a}]\n";
    let github = "trigger: {secret: \"{{ secret('gh') }}\", signature: github}\nsteps: [{name: A, url: https://api.test/b}]\n";
    let mut setup = Setup::new(vec![served("open", unsigned), served("gh", github)]);
    setup.allowed_hosts = vec!["hooks.example.net".into()];
    let fake = setup.fake.clone();
    serve_while(setup, |base, _| async move {
        let page = client()
            .post(format!("{base}/hooks/open"))
            .header("origin", "https://evil.example")
            .header("content-type", "text/plain")
            .body("x")
            .send()
            .await
            .unwrap();
        assert_eq!(page.status(), 403);
        let tunnel = client()
            .post(format!("{base}/hooks/open"))
            .header("host", "abc.tunnel.example")
            .send()
            .await
            .unwrap();
        assert_eq!(tunnel.status(), 421);
        let allowed = client()
            .post(format!("{base}/hooks/open"))
            .header("host", "hooks.example.net")
            .send()
            .await
            .unwrap();
        assert_eq!(allowed.status(), 200, "--allow-host");
        let body = "{}";
        let signed = client()
            .post(format!("{base}/hooks/gh"))
            .header("host", "abc.tunnel.example")
            .header(
                "x-hub-signature-256",
                format!(
                    "sha256={}",
                    sign_hex(HOOK_SECRET.as_bytes(), body.as_bytes())
                ),
            )
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(signed.status(), 200);
    })
    .await;
    assert_eq!(fake.sent(), 2);
}

/// `trigger.origin_vars` must name the chain's variables.
#[test]
fn origin_vars_must_be_variables() {
    let scratch = crate::support::Scratch::new();
    let chain = scratch.file(
        "c.yaml",
        "vars: {base: \"https://a.test\"}\ntrigger: {origin_vars: [bsae]}\nsteps:\n  - name: A\n    url: \"{{ base }}/x\"\n",
    );
    let out = crate::support::pytopus()
        .arg("validate")
        .arg(&chain)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("`bsae` is not a variable of this chain"),
        "{err}"
    );
    assert!(err.contains("did you mean `base`?"), "{err}");
}

/// Item 4, and the architecture issue's own example: `127.0.0.1` redirects
/// to `localhost`. With `auth:`, the hand-written cookie followed the
/// redirect; without it, `Referer` carried the full URL with the secret
/// token in its query.
#[test]
fn a_redirect_to_another_origin_takes_no_cookie_and_no_secret_in_the_referer() {
    for auth in [
        "",
        "    auth: {type: bearer, token: \"{{ secret('tok') }}\"}\n",
    ] {
        let server = crate::support::recording::Recording::start(None);
        let scratch = crate::support::Scratch::new();
        let chain = scratch.file(
            "c.yaml",
            &format!(
                "steps:\n  - name: R\n    url: {}/redirect-to\n    query_params: {{url: \"{}/anything\", token: \"{{{{ secret('tok') }}}}\"}}\n    headers: {{Cookie: \"session=abc\"}}\n{auth}",
                server.by_ip(),
                server.by_name()
            ),
        );
        let out = crate::support::pytopus()
            .args(["run", chain.to_str().unwrap(), "-q", "--no-history"])
            .env("PYTOPUS_SECRET_TOK", "tok-5ec7e7-in-the-url")
            .output()
            .unwrap();
        assert_eq!(
            out.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let seen = server.seen();
        assert_eq!(seen.len(), 2, "{seen:#?}");
        assert_eq!(seen[0].header("cookie"), Some("session=abc"));
        let landed = &seen[1];
        assert!(landed.header("host").unwrap().starts_with("localhost"));
        assert_eq!(
            landed.header("cookie"),
            None,
            "{auth}: the cookie crossed origins"
        );
        assert_eq!(landed.header("authorization"), None, "{auth}");
        assert_eq!(
            landed.header("referer"),
            None,
            "{auth}: a URL holding a secret is never a Referer"
        );
    }
}

/// Item 7: what flows back out of `serve`. A chain that forwards its
/// trigger's headers sent the server's own API token downstream; a failed
/// webhook run answered its caller with what the chain's calls answered.
#[tokio::test]
async fn webhooks_neither_forward_credentials_nor_tell_callers_why_a_run_failed() {
    let forward = "trigger: {}\nsteps:\n  - name: Fwd\n    method: POST\n    url: https://downstream.test/in\n    body: {headers: \"{{ trigger.headers }}\"}\n";
    let failing = "trigger: {}\nsteps:\n  - name: Down\n    url: https://api.test/fail\n";
    let mut setup = Setup::new(vec![served("fwd", forward), served("failing", failing)]);
    const TOKEN: &str = "serve-token-0123456789";
    setup.token = Some(TOKEN);
    setup.remote = true;
    let fake = setup.fake.clone();
    serve_while(setup, |base, _| async move {
        let r = client()
            .post(format!("{base}/hooks/fwd"))
            .bearer_auth(TOKEN)
            .header("x-gitlab-token", "gitlab-hook-secret")
            .header("x-event", "push")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        let r = client()
            .post(format!("{base}/hooks/failing"))
            .bearer_auth(TOKEN)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 502);
        let body: Value = r.json().await.unwrap();
        let keys: Vec<&str> = body
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        assert_eq!(keys, ["run_id", "status", "status_url"], "{body}");
        assert_eq!(body["status"], "failed");
        // The detail is there for whoever holds the token.
        let run = client()
            .get(format!("{base}{}", body["status_url"].as_str().unwrap()))
            .bearer_auth(TOKEN)
            .send()
            .await
            .unwrap();
        let run: Value = run.json().await.unwrap();
        assert!(run["error"].as_str().unwrap().contains("500"), "{run}");
    })
    .await;
    let sent = fake.sent.lock().unwrap();
    let forwarded =
        String::from_utf8_lossy(sent[0].body.as_ref().and_then(|b| b.bytes()).unwrap()).to_string();
    assert!(forwarded.contains("x-event"), "{forwarded}");
    assert!(!forwarded.contains(TOKEN), "{forwarded}");
    assert!(!forwarded.contains("gitlab-hook-secret"), "{forwarded}");
    assert!(
        !forwarded.to_ascii_lowercase().contains("authorization"),
        "{forwarded}"
    );
}

/// Item 8: a signed request sent again runs once (GitHub's delivery id;
/// Stripe's signed timestamp and signature), and the API token is read as
/// RFC 9110 reads it (scheme in any case, spaces around the token).
#[tokio::test]
async fn replayed_webhooks_run_once_and_the_bearer_scheme_is_case_insensitive() {
    let github = "trigger: {secret: \"{{ secret('gh') }}\", signature: github}\nsteps: [{name: A, url: https://api.test/gh}]\n";
    let mut setup = Setup::new(vec![served("gh", github), served("stripe", STRIPE)]);
    const TOKEN: &str = "serve-token-0123456789";
    setup.token = Some(TOKEN);
    let fake = setup.fake.clone();
    serve_while(setup, |base, _| async move {
        let body = r#"{"action":"opened"}"#;
        let sig = format!(
            "sha256={}",
            sign_hex(HOOK_SECRET.as_bytes(), body.as_bytes())
        );
        let send = |delivery: &'static str| {
            client()
                .post(format!("{base}/hooks/gh"))
                .header("x-hub-signature-256", sig.clone())
                .header("x-github-delivery", delivery)
                .body(body)
                .send()
        };
        assert_eq!(
            send("72d3162e-cc78-11e3-81ab-4c9367dc0958")
                .await
                .unwrap()
                .status(),
            200
        );
        let again = send("72d3162e-cc78-11e3-81ab-4c9367dc0958").await.unwrap();
        assert_eq!(again.status(), 409);
        assert_eq!(send("a-new-delivery").await.unwrap().status(), 200);

        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs();
        let event = r#"{"type":"charge.succeeded"}"#;
        let header = format!(
            "t={now},v1={}",
            sign_hex(HOOK_SECRET.as_bytes(), format!("{now}.{event}").as_bytes())
        );
        for expected in [200, 409] {
            let r = client()
                .post(format!("{base}/hooks/stripe"))
                .header("stripe-signature", &header)
                .body(event)
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), expected);
        }

        for auth in [
            format!("bearer {TOKEN}"),
            format!("BEARER   {TOKEN}  "),
            format!("Bearer\t{TOKEN}"),
        ] {
            let r = client()
                .get(format!("{base}/chains"))
                .header("authorization", auth.clone())
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), 200, "{auth:?}");
        }
        for auth in [
            format!("Basic {TOKEN}"),
            TOKEN.to_string(),
            format!("Bearer{TOKEN}"),
        ] {
            let r = client()
                .get(format!("{base}/chains"))
                .header("authorization", auth.clone())
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), 401, "{auth:?}");
        }
    })
    .await;
    assert_eq!(fake.sent(), 3, "two deliveries and one Stripe event ran");
}

/// Item 6: what a server sends, or a chain file holds, is shown on the
/// terminal, never obeyed: the failure screen, `-vvv` and error messages
/// printed an escape sequence that retitled the window and cleared it.
#[tokio::test]
async fn control_characters_from_outside_are_shown_not_obeyed() {
    use wiremock::matchers::path;
    use wiremock::{Mock, MockServer, ResponseTemplate};
    const EVIL: &str = "\u{1b}]0;owned\u{7}\u{1b}[2J\u{9b}31m\rgone\u{7f}";
    let server = MockServer::start().await;
    Mock::given(path("/evil"))
        .respond_with(
            ResponseTemplate::new(500).set_body_string(format!("{{\"message\": \"{EVIL}\"}}")),
        )
        .mount(&server)
        .await;
    let chain = "steps:\n  - {name: E, url: \"{{ base }}/evil\"}\n";
    for args in [&["--no-history"][..], &["--no-history", "-vvv"]] {
        let (out, _dir) = crate::support::run_chain(&server.uri(), chain, args);
        assert_eq!(out.code, 1);
        assert!(out.stderr.contains("]0;owned"), "{}", out.stderr);
        for c in ['\u{1b}', '\u{7}', '\u{9b}', '\r', '\u{7f}'] {
            assert!(
                !out.stderr.contains(c),
                "{args:?}: {c:?} in\n{}",
                out.stderr
            );
        }
        assert!(out.stderr.contains("\\x1b"), "{}", out.stderr);
    }
    // A chain file's own text, quoted back in an error.
    let scratch = crate::support::Scratch::new();
    let bad = scratch.file(
        "bad.yaml",
        "steps:\n  - name: \"A\u{1b}[2J\"\n    url: http://x.test/\n",
    );
    let out = crate::support::pytopus()
        .args(["validate", bad.to_str().unwrap()])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(!stderr.contains('\u{1b}'), "{stderr}");
    assert!(stderr.contains("\\x1b"), "{stderr}");
}

/// A server that answers its connections in turn from `script`: each entry
/// is what one connection gets (the bytes are written after the request's
/// first bytes arrive, then the connection is closed); later connections get the
/// last entry. Returns the base URL and the count of connections.
fn scripted_server(script: Vec<&'static [u8]>) -> (String, Arc<std::sync::atomic::AtomicUsize>) {
    use std::io::{Read as _, Write as _};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let count = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let seen = Arc::clone(&count);
    std::thread::spawn(move || {
        for mut sock in listener.incoming().flatten() {
            let n = seen.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            let answer = script[n.min(script.len() - 1)];
            // One read: a request's head (or a TLS hello) arrives whole.
            let mut buf = [0u8; 4096];
            let _ = sock.read(&mut buf);
            let _ = sock.write_all(answer);
            let _ = sock.shutdown(std::net::Shutdown::Both);
        }
    });
    (base, count)
}

const WHOLE: &[u8] =
    b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 8\r\nconnection: close\r\n\r\n{\"ok\":1}";

/// Item 9: a connection that breaks — before the answer, or in the middle
/// of its body — is retried for an idempotent request like a refused
/// connection (it was one attempt, with `response: null` and no word of
/// the status that had arrived); a POST is not retried.
#[tokio::test]
async fn a_broken_connection_is_retried_for_idempotent_requests() {
    let truncated: &[u8] =
        b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 100\r\n\r\n{\"ok\":";
    for first in [&b""[..], truncated] {
        let (base, count) = scripted_server(vec![first, WHOLE]);
        let chain = "steps:\n  - {name: G, url: \"{{ base }}/x\"}\n";
        let (out, _dir) = crate::support::run_chain(&base, chain, &["-q", "--no-history"]);
        assert_eq!(out.code, 0, "{}", out.stderr);
        assert_eq!(count.load(std::sync::atomic::Ordering::SeqCst), 2);

        let (base, count) = scripted_server(vec![first, WHOLE]);
        let post = "steps:\n  - {name: P, method: POST, url: \"{{ base }}/x\"}\n";
        let (out, _dir) = crate::support::run_chain(&base, post, &["--no-history"]);
        assert_eq!(out.code, 1, "{}", out.stderr);
        assert_eq!(
            count.load(std::sync::atomic::Ordering::SeqCst),
            1,
            "a POST is sent once"
        );
        if first.is_empty() {
            assert!(out.stderr.contains("connection broke"), "{}", out.stderr);
        } else {
            assert!(
                out.stderr.contains("after status 200 arrived"),
                "{}",
                out.stderr
            );
        }
    }
}

/// Item 8: `https://` to a plain-HTTP port is a TLS error that says so,
/// and is not retried.
#[tokio::test]
async fn https_to_a_plain_port_says_so_once() {
    let (base, count) = scripted_server(vec![WHOLE]);
    let https = base.replace("http://", "https://");
    let chain = "steps:\n  - {name: S, url: \"{{ base }}/x\", retry: {backoff: 10ms}}\n";
    let (out, _dir) = crate::support::run_chain(&https, chain, &["--no-history"]);
    assert_eq!(out.code, 1);
    assert!(
        out.stderr.contains("plain HTTP on this port?"),
        "{}",
        out.stderr
    );
    assert_eq!(
        count.load(std::sync::atomic::Ordering::SeqCst),
        1,
        "not retried"
    );
}

/// Item 5: redaction by taint, in every channel. A secret transformed by a
/// template (`b64encode`, `upper`, `urlencode`, a concatenation, JSON in
/// JSON), read from `env.` under a secret's name, cut by the 2 KiB excerpt,
/// or written by hand in a sensitive header went out in clear.
#[tokio::test]
async fn every_form_of_a_secret_is_redacted_in_every_channel() {
    use base64::Engine as _;
    use wiremock::matchers::path;
    use wiremock::{Mock, MockServer, Request, ResponseTemplate};
    const CANARY: &str = "CAN\"ARY-7f3a9c-qx-secret";
    const ENV_TOKEN: &str = "env-token-5d1e77aa";
    const HAND: &str = "hand-written-credential-99";
    let server = MockServer::start().await;
    // Echoes every header and the body back; the body first pads to put the
    // canary across the 2 KiB excerpt's end.
    let echo = |req: &Request| {
        let headers: serde_json::Map<String, Value> = req
            .headers
            .iter()
            .map(|(k, v)| {
                (
                    k.to_string(),
                    Value::String(v.to_str().unwrap_or("").into()),
                )
            })
            .collect();
        let text = format!(
            "{}{CANARY}{}",
            "p".repeat(2048 - 14),
            serde_json::json!({"headers": headers, "body": String::from_utf8_lossy(&req.body), "url": req.url.to_string()})
        );
        text
    };
    Mock::given(path("/echo"))
        .respond_with(move |req: &Request| ResponseTemplate::new(200).set_body_string(echo(req)))
        .mount(&server)
        .await;
    Mock::given(path("/fail"))
        .respond_with(move |req: &Request| ResponseTemplate::new(500).set_body_string(echo(req)))
        .mount(&server)
        .await;
    let chain = r#"
steps:
  - name: Echo
    method: POST
    url: "{{ base }}/echo?t={{ secret('canary') | urlencode }}"
    headers:
      X-B64: "{{ secret('canary') | b64encode }}"
      X-Upper: "{{ secret('canary') | upper }}"
      X-Env: "{{ env.PYTOPUS_SECRET_CANARY }}"
      X-Other: "{{ env.MY_SERVICE_TOKEN }}"
      Authorization: "Basic hand-written-credential-99"
    body:
      pair: "ann:{{ secret('canary') }}"
      doubled: "{{ {'inner': secret('canary')} | tojson | tojson }}"
  - name: Fail
    method: POST
    url: "{{ base }}/fail"
    headers: {X-B64: "{{ secret('canary') | b64encode }}"}
output: {echoed: "{{ Echo }}"}
"#;
    let dir = crate::support::Scratch::new();
    let file = dir.file("c.yaml", chain);
    let history = dir.path("history");
    let outputs = [
        "report.json",
        "run.har",
        "junit.xml",
        "run.prom",
        "tape.json",
    ];
    let mut cmd = crate::support::pytopus();
    cmd.env("PYTOPUS_KEYRING", "off")
        .env("PYTOPUS_SECRET_CANARY", CANARY)
        .env("MY_SERVICE_TOKEN", ENV_TOKEN)
        .env("PYTOPUS_HISTORY_DIR", &history)
        .args(["run", file.to_str().unwrap(), "--var"])
        .arg(format!("base={}", server.uri()))
        .args(["-vvv", "--report"])
        .arg(dir.path(outputs[0]))
        .arg("--har")
        .arg(dir.path(outputs[1]))
        .arg("--junit")
        .arg(dir.path(outputs[2]))
        .arg("--metrics")
        .arg(dir.path(outputs[3]))
        .arg("--record")
        .arg(dir.path(outputs[4]));
    let out = crate::support::run_cmd(&mut cmd);
    assert_eq!(out.code, 1, "{}", out.stderr);
    let shown = crate::support::run_cmd(
        crate::support::pytopus()
            .env("PYTOPUS_HISTORY_DIR", &history)
            .args(["history", "show", "1"]),
    );
    assert_eq!(shown.code, 0, "{}", shown.stderr);

    let b64 = base64::engine::general_purpose::STANDARD.encode(CANARY);
    let quoted = serde_json::to_string(CANARY).unwrap();
    let forms = [
        ("the secret", CANARY.to_string()),
        ("its base64", b64),
        ("in upper case", CANARY.to_uppercase()),
        (
            "url-encoded",
            url::form_urlencoded::byte_serialize(CANARY.as_bytes()).collect(),
        ),
        ("JSON-escaped", quoted[1..quoted.len() - 1].to_string()),
        ("cut at the excerpt", CANARY[..14].to_string()),
        ("the env token", ENV_TOKEN.to_string()),
        ("the hand-written credential", HAND.to_string()),
    ];
    let mut channels = vec![
        ("stdout".to_string(), out.stdout.clone()),
        ("stderr".to_string(), out.stderr.clone()),
        ("history show".to_string(), shown.stdout.clone()),
    ];
    for name in outputs {
        channels.push((
            name.to_string(),
            std::fs::read_to_string(dir.path(name)).unwrap(),
        ));
    }
    for (channel, text) in &channels {
        for (form, value) in &forms {
            assert!(
                !text.contains(value.as_str()),
                "{form} leaked into {channel}:\n{text}"
            );
        }
    }
    // The parts that are not secret still show.
    let report = &channels[3].1;
    assert!(report.contains("Basic ***"), "{report}");
    assert!(out.stderr.contains("/echo?t=***"), "{}", out.stderr);
}

/// Item 5: a secret too short to redact is said so, not silently shown.
#[test]
fn a_secret_too_short_to_redact_is_warned_about() {
    let dir = crate::support::Scratch::new();
    let chain = dir.file(
        "c.yaml",
        "steps:\n  - {name: A, url: \"http://127.0.0.1:9/?pin={{ secret('pin') }}\"}\n",
    );
    let out = crate::support::run_cmd(
        crate::support::pytopus()
            .env("PYTOPUS_KEYRING", "off")
            .env("PYTOPUS_SECRET_PIN", "123")
            .args([
                "run",
                chain.to_str().unwrap(),
                "--dry-run",
                "-q",
                "--no-history",
            ]),
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(
        out.stderr
            .contains("shorter than 4 characters was used and is not redacted"),
        "{}",
        out.stderr
    );
}

/// Item 8: what `validate` let through and how it reported many problems:
/// a literal `ftp://` URL and `for_each: 5` failed only at run time,
/// headers differing only in case were sent twice, and every one of
/// thousands of problems was printed (20,000 took 37 s, a "did you mean"
/// each compared against every name).
#[test]
fn validate_catches_what_runs_would_trip_on_and_shows_the_first_fifty() {
    let dir = crate::support::Scratch::new();
    let chain = dir.file(
        "c.yaml",
        "steps:\n  - {name: A, url: \"ftp://example.com/f\"}\n  - {name: B, for_each: 5, url: \"http://x.test/{{ item }}\"}\n  - {name: C, url: \"http://x.test/\", headers: {Accept: a, accept: b}}\n",
    );
    let out = crate::support::run_cmd(
        crate::support::pytopus().args(["validate", chain.to_str().unwrap()]),
    );
    assert_eq!(out.code, 2);
    for expected in [
        "`ftp:` URLs cannot be sent",
        "`for_each` needs a list, not a number",
        "header `accept` is given twice",
    ] {
        assert!(out.stderr.contains(expected), "{expected}:\n{}", out.stderr);
    }

    let mut many = String::from("steps:\n");
    for i in 0..300 {
        many.push_str(&format!("  - {{name: S{i}, url: \"{{{{ nope{i} }}}}\"}}\n"));
    }
    let chain = dir.file("many.yaml", &many);
    let out = crate::support::run_cmd(
        crate::support::pytopus().args(["validate", chain.to_str().unwrap()]),
    );
    assert_eq!(out.code, 2);
    assert_eq!(out.stderr.matches("error: ").count(), 50, "{}", out.stderr);
    assert!(
        out.stderr.contains("… and 250 more problems not shown"),
        "{}",
        out.stderr
    );
    assert!(out.stderr.contains("300 problems in"), "{}", out.stderr);
}

/// Item 3: inputs have limits too. `/dev/zero` as a chain, as stdin or as a
/// vars file grew memory without end (to 2.1 GB before it was stopped).
#[test]
fn endless_inputs_are_refused_not_read_forever() {
    let dir = crate::support::Scratch::new();
    let chain = dir.file("c.yaml", "steps: [{name: A, url: \"http://x.test/\"}]\n");
    for args in [
        vec!["validate", "/dev/zero"],
        vec![
            "validate",
            chain.to_str().unwrap(),
            "--vars-file",
            "/dev/zero",
        ],
    ] {
        let out = crate::support::run_cmd(crate::support::pytopus().args(&args));
        assert_eq!(out.code, 2, "{args:?}: {}", out.stderr);
        assert!(
            out.stderr.contains("larger than 16 MiB"),
            "{args:?}: {}",
            out.stderr
        );
    }
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_pytopus"));
    crate::support::isolate(&mut cmd);
    let out = cmd
        .args(["run", "-", "--dry-run"])
        .stdin(std::fs::File::open("/dev/zero").unwrap())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("standard input: it is larger than 16 MiB"),
        "{stderr}"
    );
}
