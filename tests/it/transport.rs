//! Every request goes through one pipeline (src/transport/client.rs):
//! redirects, cookies, credential stripping and limits. Below it, a plain
//! `http://` request that no proxy applies to skips reqwest's per-request
//! layers (src/transport/plain.rs). These tests run the same chains through
//! both routes, in this process, and check that a server and a user cannot
//! tell the difference, and that the redirect policy holds on each route
//! and over HTTPS.

use std::io::Write;

use crate::support::{Scratch, closed_port, pytopus, run_cmd, scrub};
use pytopus::engine::RunStatus;
use serde_json::{Value, json};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

fn gzip(text: &str) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(text.as_bytes()).unwrap();
    e.finish().unwrap()
}

fn zlib(text: &str) -> Vec<u8> {
    let mut e = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(text.as_bytes()).unwrap();
    e.finish().unwrap()
}

async fn server() -> MockServer {
    let server = MockServer::start().await;
    let compressed = |bytes: Vec<u8>, coding: &str| {
        ResponseTemplate::new(200)
            .insert_header("content-type", "application/json")
            .insert_header("content-encoding", coding)
            .set_body_bytes(bytes)
    };
    Mock::given(method("GET"))
        .and(path("/gz"))
        .respond_with(compressed(gzip(r#"{"next": "/df", "n": 1}"#), "gzip"))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/df"))
        .respond_with(compressed(zlib(r#"{"next": "/redir", "n": 2}"#), "deflate"))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/redir"))
        .respond_with(
            ResponseTemplate::new(302)
                .insert_header("location", "/final?from=redir")
                .insert_header("set-cookie", "session=abc; Path=/"),
        )
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/final"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"done": true})))
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/echo"))
        .respond_with(|req: &Request| {
            ResponseTemplate::new(201)
                .insert_header("x-seen-length", req.body.len().to_string())
                .set_body_bytes(req.body.clone())
                .insert_header("content-type", "application/json")
        })
        .mount(&server)
        .await;
    server
}

const CHAIN: &str = r#"
name: both ways
steps:
  - name: gz
    url: "{{ base }}/gz"
  - name: df
    url: "{{ base }}{{ gz.next }}"
  - name: redir
    url: "{{ base }}{{ df.next }}#part"
    headers: {X-Quoted: 'a "b" \c'}
  - name: post
    method: POST
    url: "{{ base }}/echo"
    body: {n: "{{ df.n }}", text: "tab\there"}
  - name: empty_post
    method: POST
    url: "{{ base }}/echo"
output:
  n: "{{ gz.n }} {{ df.n }}"
  done: "{{ redir.done }}"
  echoed: "{{ post }}"
  status: "{{ steps.post.status }}"
  length: "{{ steps.post.headers['x-seen-length'] }}"
"#;

/// The two ways a plain `http://` request can leave: straight through the
/// pool (when no proxy applies) or through reqwest.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Route {
    Plain,
    Reqwest,
}

pub(crate) const ROUTES: [Route; 2] = [Route::Plain, Route::Reqwest];

/// A chain loaded from text with the variable `base` (its file name is
/// `c.yaml` in `dir`, for relative paths).
pub(crate) fn load(dir: &std::path::Path, text: &str, base: &str) -> pytopus::plan::ValidChain {
    let source = std::sync::Arc::new(pytopus::diagnostic::Source {
        name: dir.join("c.yaml").display().to_string(),
        text: text.to_string(),
    });
    let parsed = pytopus::chain::parse(source).expect("the test chain parses");
    let mut vars = parsed.chain.vars.clone();
    vars.insert("base".into(), Value::String(base.into()));
    pytopus::compile::validate(parsed, vars)
        .unwrap_or_else(|d| panic!("the test chain is valid: {}", d.render(false)))
}

/// Runs `chain` in this process over `route`, with `base` set and the
/// secrets given, and returns the report and its `--report` JSON.
async fn run_on(
    route: Route,
    chain: &str,
    base: &str,
    secrets: &[(&str, &str)],
) -> (pytopus::engine::RunReport, Value) {
    use pytopus::secret::{MemoryStore, Redactor, Secret, SecretStore, Secrets};
    use pytopus::transport::{Client, LiveOptions, LiveTransport};
    let dir = Scratch::new();
    let chain = load(dir.dir.path(), chain, base);
    let redactor = Redactor::default();
    let store = std::sync::Arc::new(MemoryStore::default());
    for (name, value) in secrets {
        store.set(name, &Secret::new(*value)).unwrap();
    }
    let opts = pytopus::engine::RunOptions {
        redactor: redactor.clone(),
        secrets: Some(Secrets::new(
            move || Ok(store.clone() as std::sync::Arc<dyn SecretStore>),
            redactor.clone(),
        )),
        ..Default::default()
    };
    let live = LiveTransport::new(&LiveOptions {
        reqwest_only: route == Route::Reqwest,
        ..LiveOptions::default()
    })
    .unwrap();
    let client = Client::new(std::sync::Arc::new(live), redactor);
    let report = pytopus::engine::run(
        &chain,
        &client,
        &mut pytopus::engine::Observers::default(),
        &opts,
        pytopus::engine::Cancel::never(),
    )
    .await;
    let json = without_times(pytopus::report::json::to_json(&report));
    (report, json)
}

/// What a failed step says, as the user reads it.
pub(crate) fn failure(report: &pytopus::engine::RunReport) -> String {
    report
        .failed_step()
        .and_then(|s| s.error.as_ref())
        .map(|e| e.summary())
        .unwrap_or_default()
}

/// A report without what differs from run to run.
fn without_times(v: Value) -> Value {
    match v {
        Value::Object(m) => Value::Object(
            m.into_iter()
                .filter(|(k, _)| {
                    !matches!(
                        k.as_str(),
                        "elapsed_ms" | "duration_ms" | "started_at" | "file"
                    )
                })
                .map(|(k, v)| (k, without_times(v)))
                .collect(),
        ),
        Value::Array(items) => {
            // A response header `date`: the pair itself changes.
            let items: Vec<Value> = items
                .into_iter()
                .filter(|i| i.get(0).and_then(Value::as_str) != Some("date"))
                .collect();
            Value::Array(items.into_iter().map(without_times).collect())
        }
        other => other,
    }
}

/// The method, path, query and headers of each request a server received,
/// headers as sorted `name: value` lines (`host` names the port).
async fn requests_seen(server: &MockServer) -> Vec<(String, String, Vec<String>)> {
    let mut seen = Vec::new();
    for r in server.received_requests().await.unwrap() {
        let mut headers: Vec<String> = r
            .headers
            .iter()
            .map(|(k, v)| format!("{k}: {}", v.to_str().unwrap_or("?")))
            .collect();
        headers.sort();
        let target = match r.url.query() {
            Some(q) => format!("{}?{q}", r.url.path()),
            None => r.url.path().to_string(),
        };
        seen.push((r.method.to_string(), target, headers));
    }
    seen
}

#[tokio::test]
async fn plain_http_is_sent_and_read_as_reqwest_does() {
    let direct_server = server().await;
    let (direct, direct_report) = run_on(Route::Plain, CHAIN, &direct_server.uri(), &[]).await;
    let reqwest_server = server().await;
    let (via_reqwest, reqwest_report) =
        run_on(Route::Reqwest, CHAIN, &reqwest_server.uri(), &[]).await;
    assert_eq!(direct.status, RunStatus::Passed, "{}", failure(&direct));
    assert_eq!(
        via_reqwest.status,
        RunStatus::Passed,
        "{}",
        failure(&via_reqwest)
    );

    // What the user sees: the output, and every step of the report (the
    // request, the decoded body, the response's headers, the final URL).
    assert_eq!(direct.output, via_reqwest.output);
    let out: &Value = direct.output.as_deref().unwrap();
    assert_eq!(out["n"], "1 2", "gzip and deflate bodies decoded");
    assert_eq!(out["done"], true);
    assert_eq!(out["status"], 201);
    let direct_text = scrub(&direct_report.to_string(), &direct_server.uri(), None);
    let reqwest_text = scrub(&reqwest_report.to_string(), &reqwest_server.uri(), None);
    assert_eq!(direct_text, reqwest_text);
    let steps = direct_report["steps"].as_array().unwrap();
    assert_eq!(steps.len(), 5);
    // The decoded body, without the encoding's headers (as reqwest gives it).
    let gz = &steps[0]["response"];
    assert!(gz["body_excerpt"].as_str().unwrap().contains("\"next\""));
    let names: Vec<&str> = gz["headers"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|h| h[0].as_str())
        .collect();
    assert!(!names.contains(&"content-encoding"), "{names:?}");
    assert!(!names.contains(&"content-length"), "{names:?}");
    // The redirect's target, without the fragment.
    assert_eq!(
        steps[2]["response"]["url"],
        "http://SERVER/final?from=redir".replace("http://SERVER", &direct_server.uri())
    );

    // What the server sees: the same requests with the same headers.
    let direct_seen = requests_seen(&direct_server).await;
    let reqwest_seen = requests_seen(&reqwest_server).await;
    let host = |uri: &str| uri.trim_start_matches("http://").to_string();
    let normalise = |seen: Vec<(String, String, Vec<String>)>, uri: &str| {
        let h = host(uri);
        seen.into_iter()
            .map(|(m, t, hs)| {
                (
                    m,
                    t,
                    hs.into_iter()
                        .map(|l| l.replace(&h, "HOST"))
                        .collect::<Vec<_>>(),
                )
            })
            .collect::<Vec<_>>()
    };
    let direct_seen = normalise(direct_seen, &direct_server.uri());
    assert_eq!(direct_seen, normalise(reqwest_seen, &reqwest_server.uri()));
    assert_eq!(direct_seen.len(), 6, "{direct_seen:#?}");
    let first = &direct_seen[0].2;
    for expected in [
        "accept: */*",
        "accept-encoding: gzip,deflate,br",
        "host: HOST",
        concat!("user-agent: pytopus/", env!("CARGO_PKG_VERSION")),
    ] {
        assert!(first.contains(&expected.to_string()), "{first:?}");
    }
    // The cookie the redirect set reached its target.
    assert_eq!(direct_seen[3].1, "/final?from=redir");
    assert!(
        direct_seen[3]
            .2
            .contains(&"cookie: session=abc".to_string())
    );
    assert!(
        direct_seen[2]
            .2
            .contains(&"x-quoted: a \"b\" \\c".to_string())
    );
    // The JSON body went with its length and type.
    assert!(direct_seen[4].2.contains(&"content-length: 26".to_string()));
    assert!(
        direct_seen[4]
            .2
            .contains(&"content-type: application/json".to_string())
    );
}

#[tokio::test]
async fn failures_read_the_same_both_ways() {
    let chain = "steps:\n  - {name: down, url: \"{{ base }}/x\"}\n";
    let base = format!("http://127.0.0.1:{}", closed_port());
    let (direct, _) = run_on(Route::Plain, chain, &base, &[]).await;
    let (via_reqwest, _) = run_on(Route::Reqwest, chain, &base, &[]).await;
    assert_eq!(direct.status, RunStatus::Failed);
    let message = failure(&direct);
    assert!(
        message.contains("could not connect") && message.contains("refused"),
        "{message}"
    );
    assert_eq!(message, failure(&via_reqwest));

    // A response slower than the step's timeout.
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(200).set_delay(std::time::Duration::from_millis(1500)))
        .mount(&server)
        .await;
    let chain = "steps:\n  - {name: slow, url: \"{{ base }}/x\", timeout: 200ms}\n";
    let (direct, _) = run_on(Route::Plain, chain, &server.uri(), &[]).await;
    let (via_reqwest, _) = run_on(Route::Reqwest, chain, &server.uri(), &[]).await;
    assert!(
        failure(&direct).contains("no response within 200ms"),
        "{}",
        failure(&direct)
    );
    assert_eq!(failure(&direct), failure(&via_reqwest));
}

/// A recording server on HTTPS whose certificate `ca` signed.
fn https_recording(ca: &crate::tls::Ca) -> crate::support::recording::Recording {
    use crate::tls::{private_key, provider};
    let cert = ca.server_cert();
    let config = rustls::ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(vec![cert.der.clone()], private_key(&cert))
        .unwrap();
    crate::support::recording::Recording::start(Some(config))
}

/// TLS failures read the same on both routes: an `https://` URL on a
/// plain-HTTP port, and a server whose certificate comes from a CA the run
/// does not trust.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_failures_read_the_same_both_ways() {
    use crate::tls::Ca;
    let chain = "steps:\n  - {name: tls, url: \"{{ base }}/x\"}\n";
    let plain = MockServer::start().await;
    let base = plain.uri().replacen("http://", "https://", 1);
    let (direct, _) = run_on(Route::Plain, chain, &base, &[]).await;
    let (via_reqwest, _) = run_on(Route::Reqwest, chain, &base, &[]).await;
    let message = failure(&direct);
    assert!(message.contains("did not answer TLS"), "{message}");
    assert_eq!(message, failure(&via_reqwest));

    let ca = Ca::new("a CA nobody trusts");
    let server = https_recording(&ca);
    let (direct, _) = run_on(Route::Plain, chain, &server.by_ip(), &[]).await;
    let (via_reqwest, _) = run_on(Route::Reqwest, chain, &server.by_ip(), &[]).await;
    let message = failure(&direct);
    assert!(
        message.contains("not signed by a CA this client trusts"),
        "{message}"
    );
    assert_eq!(message, failure(&via_reqwest));
}

#[tokio::test]
async fn a_proxy_in_the_environment_still_gets_plain_http_requests() {
    // The "proxy" answers whatever it is asked; the target host does not exist.
    let proxy = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"via": "proxy"})))
        .expect(1)
        .mount(&proxy)
        .await;
    let dir = Scratch::new();
    let chain = dir.file(
        "c.yaml",
        "steps:\n  - {name: far, url: \"http://upstream.invalid/thing\"}\n",
    );
    let out = run_cmd(
        pytopus()
            .args(["run", chain.to_str().unwrap(), "--no-history", "-q"])
            .env("HTTP_PROXY", proxy.uri()),
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    let body: Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(body["via"], "proxy");
    let asked = &proxy.received_requests().await.unwrap()[0];
    assert_eq!(asked.url.path(), "/thing");
}

/// The issue's chain: `127.0.0.1` redirects to `localhost` (another origin
/// on the same server), with a hand-written cookie and, optionally, an
/// `auth:` scheme that adds a header and a query parameter.
fn redirect_chain(status: u16, method: &str, with_auth: bool, tls: &str) -> String {
    let auth = if with_auth {
        "    auth: {type: api_key, in: query, name: api_key, key: \"{{ secret('tok') }}\"}\n"
    } else {
        ""
    };
    let extra = if with_auth {
        "      X-Token: \"{{ secret('tok') }}\"\n"
    } else {
        ""
    };
    format!(
        "steps:\n  - name: R\n    method: {method}\n    url: \"{{{{ base }}}}/redirect-to\"\n    query_params: {{url: \"{{{{ there }}}}/anything?api_key=echoed\", status: {status}}}\n    headers:\n      Cookie: session=abc\n      Authorization: Basic aGFuZDp3cml0dGVu\n{extra}{auth}    body: {{\"a\": 1}}\n{tls}"
    )
}

/// What the second origin received, for one combination.
async fn landed(
    route: Route,
    server: &crate::support::recording::Recording,
    chain: &str,
) -> crate::support::recording::Seen {
    let there = server.by_name();
    let chain = chain.replace("{{ there }}", &there);
    let before = server.seen().len();
    let (report, _) = run_on(
        route,
        &chain,
        &server.by_ip(),
        &[("tok", "tok-3f9a-secret")],
    )
    .await;
    assert_eq!(report.status, RunStatus::Passed, "{}", failure(&report));
    let seen = server.seen();
    assert_eq!(seen.len(), before + 2, "{seen:#?}");
    assert!(
        seen[before]
            .header("host")
            .unwrap()
            .starts_with("127.0.0.1")
    );
    assert!(
        seen[before + 1]
            .header("host")
            .unwrap()
            .starts_with("localhost")
    );
    seen[before + 1].clone()
}

/// Item 1 of the architecture issue: one redirect policy on every route,
/// with and without `auth:`, for every redirect status. The hand-written
/// `Cookie` went to the other origin when the step had no `auth:`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redirect_to_another_origin_carries_no_credential_on_any_route() {
    let server = crate::support::recording::Recording::start(None);
    for route in ROUTES {
        for with_auth in [false, true] {
            for (status, method, after) in [
                (301, "POST", "GET"),
                (302, "POST", "GET"),
                (303, "PUT", "GET"),
                (307, "POST", "POST"),
                (308, "PUT", "PUT"),
                (302, "DELETE", "DELETE"),
                (303, "HEAD", "HEAD"),
            ] {
                let chain = redirect_chain(status, method, with_auth, "");
                let seen = landed(route, &server, &chain).await;
                let case = format!("{route:?} auth={with_auth} {method} {status}");
                assert_eq!(seen.method, after, "{case}");
                for h in ["cookie", "authorization", "x-token", "proxy-authorization"] {
                    assert_eq!(seen.header(h), None, "{case}: {h} reached the other origin");
                }
                assert!(!seen.target.contains("tok-3f9a"), "{case}: {}", seen.target);
                // A parameter named like the one `auth:` added is taken off
                // the next URL too; without `auth:` it is just a parameter.
                assert_eq!(
                    seen.target.contains("api_key"),
                    !with_auth,
                    "{case}: {}",
                    seen.target
                );
                // The origin alone; nothing when the URL held the key.
                let referer = format!("{}/", server.by_ip());
                let expected = (!with_auth).then_some(referer.as_str());
                assert_eq!(seen.header("referer"), expected, "{case}");
                // The body goes with a method change, and with any 303.
                let keeps_body = after == method && status != 303;
                assert_eq!(!seen.body.is_empty(), keeps_body, "{case}");
            }
        }
    }
}

/// The same origin keeps what the request carried, and the cookies the
/// redirect set reach it; another origin gets neither.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cookies_stay_with_their_origin() {
    let server = crate::support::recording::Recording::start(None);
    for route in ROUTES {
        let chain = "steps:\n  - name: R\n    url: \"{{ base }}/redirect-to\"\n    query_params: {url: /anything}\n    headers: {Authorization: Bearer hand-written}\n";
        let before = server.seen().len();
        let (report, _) = run_on(route, chain, &server.by_ip(), &[]).await;
        assert_eq!(report.status, RunStatus::Passed, "{}", failure(&report));
        let seen = &server.seen()[before + 1];
        assert_eq!(
            seen.header("cookie"),
            Some("jar=from-redirect-to"),
            "{route:?}"
        );
        assert_eq!(seen.header("authorization"), Some("Bearer hand-written"));
        assert_eq!(
            seen.header("referer").unwrap(),
            format!("{}/redirect-to?url=%2Fanything", server.by_ip())
        );
        let chain = chain.replace("/anything", &format!("{}/anything", server.by_name()));
        let before = server.seen().len();
        run_on(route, &chain, &server.by_ip(), &[]).await;
        let seen = &server.seen()[before + 1];
        assert_eq!(
            seen.header("cookie"),
            None,
            "{route:?}: the jar's cookie crossed origins"
        );
    }
}

/// Over HTTPS (with a private CA) the policy is the same on both routes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_policy_holds_over_https() {
    use crate::tls::Ca;
    let ca = Ca::new("redirect test CA");
    let server = https_recording(&ca);
    let dir = Scratch::new();
    let ca_file = dir.file("ca.pem", &ca.pem);
    let tls = format!(
        "    tls: {{ca_cert: {:?}}}\n",
        ca_file.display().to_string()
    );
    for (route, with_auth) in ROUTES.into_iter().flat_map(|r| [(r, false), (r, true)]) {
        for (status, method, after) in [(302, "POST", "GET"), (307, "POST", "POST")] {
            let chain = redirect_chain(status, method, with_auth, &tls);
            let seen = landed(route, &server, &chain).await;
            assert_eq!(seen.method, after);
            for h in ["cookie", "authorization", "x-token"] {
                assert_eq!(
                    seen.header(h),
                    None,
                    "{route:?} https auth={with_auth} {status}: {h}"
                );
            }
            assert_eq!(
                seen.target.contains("api_key"),
                !with_auth,
                "{}",
                seen.target
            );
        }
    }
}

/// Decompression stops at the response size limit: a small gzip body that
/// inflates far beyond it fails the step with kind `body` (it aborted the
/// process before), on both routes; a body exactly at the limit passes.
#[tokio::test]
async fn a_gzip_bomb_stops_at_the_limit() {
    let server = MockServer::start().await;
    let bomb = {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        let zeros = vec![0u8; 1 << 20];
        for _ in 0..64 {
            e.write_all(&zeros).unwrap();
        }
        e.finish().unwrap()
    };
    assert!(bomb.len() < 256 << 10, "{} bytes", bomb.len());
    Mock::given(path("/bomb"))
        .respond_with(
            ResponseTemplate::new(200)
                .insert_header("content-encoding", "gzip")
                .insert_header("content-type", "application/octet-stream")
                .set_body_bytes(bomb),
        )
        .mount(&server)
        .await;
    Mock::given(path("/exact"))
        .respond_with(ResponseTemplate::new(200).set_body_bytes(vec![b'x'; 1024]))
        .mount(&server)
        .await;
    for route in ROUTES {
        let chain = "steps:\n  - {name: B, url: \"{{ base }}/bomb\", max_response_size: 1MiB}\n";
        let (report, json) = run_on(route, chain, &server.uri(), &[]).await;
        assert_eq!(report.status, RunStatus::Failed, "{route:?}");
        assert_eq!(json["steps"][0]["error"]["kind"], "body", "{json}");
        let message = failure(&report);
        assert!(message.contains("larger than 1 MiB"), "{message}");
        assert!(message.contains("max_response_size"), "{message}");

        let at = "steps:\n  - {name: E, url: \"{{ base }}/exact\", max_response_size: 1024}\n";
        let (report, _) = run_on(route, at, &server.uri(), &[]).await;
        assert_eq!(report.status, RunStatus::Passed, "{}", failure(&report));
        let over = at.replace("1024", "1023");
        let (report, _) = run_on(route, &over, &server.uri(), &[]).await;
        assert!(
            failure(&report).contains("larger than 1023 bytes"),
            "{}",
            failure(&report)
        );
    }
}
