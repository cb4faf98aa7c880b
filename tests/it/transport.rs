//! Plain `http://` requests skip reqwest's per-request layers (see
//! src/transport/plain.rs) unless a proxy may apply. These tests run the same
//! chains both ways — the direct path by default, reqwest's when a proxy
//! variable is set and `NO_PROXY` exempts the test server — and check that a
//! server, and a user, cannot tell the difference.

use std::io::Write;

use crate::support::{Output, Scratch, closed_port, pytopus, run_cmd, scrub};
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

/// Runs `chain` with `base` set; `through_reqwest` sets a proxy that
/// `NO_PROXY` exempts 127.0.0.1 from, which sends every request through
/// reqwest, straight to the server. The scratch directory reads `TMP` in
/// the messages.
fn run_both_ways(chain: &str, base: &str, through_reqwest: bool) -> (Output, Value) {
    let dir = Scratch::new();
    let path = dir.file("c.yaml", chain);
    let report = dir.path("report.json");
    let mut cmd = pytopus();
    cmd.args([
        "run",
        path.to_str().unwrap(),
        "--var",
        &format!("base={base}"),
    ])
    .args(["--no-history", "-q", "--report", report.to_str().unwrap()]);
    if through_reqwest {
        cmd.env("HTTP_PROXY", format!("http://127.0.0.1:{}", closed_port()))
            .env("NO_PROXY", "127.0.0.1");
    }
    let mut out = run_cmd(&mut cmd);
    out.stderr = out
        .stderr
        .replace(&dir.dir.path().display().to_string(), "TMP");
    let report = std::fs::read_to_string(&report)
        .ok()
        .and_then(|t| serde_json::from_str(&t).ok())
        .unwrap_or(Value::Null);
    (out, without_times(report))
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
    let (direct, direct_report) = run_both_ways(CHAIN, &direct_server.uri(), false);
    let reqwest_server = server().await;
    let (via_reqwest, reqwest_report) = run_both_ways(CHAIN, &reqwest_server.uri(), true);
    assert_eq!(direct.code, 0, "{}", direct.stderr);
    assert_eq!(via_reqwest.code, 0, "{}", via_reqwest.stderr);

    // What the user sees: the output, and every step of the report (the
    // request, the decoded body, the response's headers, the final URL).
    assert_eq!(direct.stdout, via_reqwest.stdout);
    let out: Value = serde_json::from_str(&direct.stdout).unwrap();
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
    let (direct, _) = run_both_ways(chain, &base, false);
    let (via_reqwest, _) = run_both_ways(chain, &base, true);
    assert_eq!(direct.code, 1);
    assert_eq!(via_reqwest.code, 1);
    assert!(
        direct.stderr.contains("could not connect") && direct.stderr.contains("refused"),
        "{}",
        direct.stderr
    );
    assert_eq!(direct.stderr, via_reqwest.stderr);

    // A response slower than the step's timeout.
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(200).set_delay(std::time::Duration::from_millis(1500)))
        .mount(&server)
        .await;
    let chain = "steps:\n  - {name: slow, url: \"{{ base }}/x\", timeout: 200ms}\n";
    let (direct, _) = run_both_ways(chain, &server.uri(), false);
    let (via_reqwest, _) = run_both_ways(chain, &server.uri(), true);
    assert_eq!(direct.code, 1);
    assert!(
        direct.stderr.contains("no response within 200ms"),
        "{}",
        direct.stderr
    );
    assert_eq!(
        scrub(&direct.stderr, &server.uri(), None),
        scrub(&via_reqwest.stderr, &server.uri(), None)
    );
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
