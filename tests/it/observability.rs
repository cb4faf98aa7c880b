//! `pytopus run --metrics/--pushgateway/--junit/--har` against real HTTP
//! servers on 127.0.0.1 (wiremock): each file is read back with a parser
//! (the text exposition format, XML, the `har` crate) and checked.

use std::collections::BTreeMap;

use crate::support::{Scratch, closed_port, pytopus, run, run_cmd};
use quick_xml::XmlVersion;
use quick_xml::events::Event as Xml;
use serde_json::json;
use wiremock::matchers::{method, path, path_regex};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

const CANARY: &str = "CANARY-51d0e7-secret";

/// Four steps: a plain GET carrying a secret in a header and the query, a
/// GET that gets a 500 and is retried, a `for_each` of two, an expectation
/// that fails with `on_error: continue`, and a step `when` skips.
const CHAIN: &str = r#"
name: Observed
steps:
  - name: GetUser
    url: "{{ base }}/users/1?token={{ secret('CANARY') }}"
    headers: {X-Token: "{{ secret('CANARY') }}"}
  - name: Flaky
    url: "{{ base }}/flaky"
    retry: {on: [500], backoff: 10ms, jitter: false}
  - name: Each
    for_each: [2, 3]
    url: "{{ base }}/users/{{ item }}"
  - name: Check
    url: "{{ base }}/users/1"
    expect: {json: {"$.name": Bob}}
    on_error: continue
  - name: Later
    when: "{{ false }}"
    url: "{{ base }}/never"
"#;

async fn server() -> MockServer {
    let server = MockServer::start().await;
    // The server echoes the token back, in the body and a header: the worst
    // case for leaks.
    Mock::given(path_regex("^/users/[0-9]+$"))
        .respond_with(|req: &Request| {
            let token = req
                .headers
                .get("x-token")
                .and_then(|v| v.to_str().ok())
                .unwrap_or("")
                .to_string();
            ResponseTemplate::new(200)
                .insert_header("x-echo", token.as_str())
                .set_body_json(json!({"name": "Ann", "token": token}))
        })
        .mount(&server)
        .await;
    Mock::given(path("/flaky"))
        .respond_with(ResponseTemplate::new(500).set_body_string("boom"))
        .up_to_n_times(1)
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(path("/flaky"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"ok": true})))
        .expect(1)
        .mount(&server)
        .await;
    server
}

/// Runs `chain` with the canary secret and `base` set, and `args` after.
fn run_with(base: &str, chain: &str, args: &[&str]) -> (crate::support::Output, Scratch) {
    let dir = Scratch::new();
    let file = dir.file("c.yaml", chain);
    let mut cmd = pytopus();
    cmd.env("PYTOPUS_KEYRING", "off")
        .env("PYTOPUS_SECRET_CANARY", CANARY)
        .args([
            "run",
            file.to_str().unwrap(),
            "--var",
            &format!("base={base}"),
        ])
        .args(args);
    (run_cmd(&mut cmd), dir)
}

/// One sample of the text exposition format: name, labels, value.
#[derive(Debug)]
struct Sample {
    name: String,
    labels: BTreeMap<String, String>,
    value: f64,
}

/// Parses the Prometheus text format (what this test needs of it: no
/// escaped quotes or commas in label values), checking that every sample's
/// family has a HELP and a TYPE line before it.
fn parse_metrics(text: &str) -> Vec<Sample> {
    let mut typed: BTreeMap<String, String> = BTreeMap::new();
    let mut helped = Vec::new();
    let mut samples = Vec::new();
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("# HELP ") {
            helped.push(rest.split(' ').next().unwrap().to_string());
            continue;
        }
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (name, kind) = rest.split_once(' ').unwrap();
            typed.insert(name.to_string(), kind.to_string());
            continue;
        }
        assert!(!line.starts_with('#'), "unexpected comment line: {line}");
        let (series, value) = line.rsplit_once(' ').unwrap();
        let (name, labels) = match series.split_once('{') {
            Some((n, l)) => (n, l.strip_suffix('}').unwrap()),
            None => (series, ""),
        };
        let labels: BTreeMap<String, String> = labels
            .split(',')
            .filter(|l| !l.is_empty())
            .map(|l| {
                let (k, v) = l.split_once('=').unwrap();
                (k.to_string(), v.trim_matches('"').to_string())
            })
            .collect();
        let family = ["_bucket", "_sum", "_count"]
            .iter()
            .find_map(|s| {
                name.strip_suffix(s)
                    .filter(|f| typed.get(*f).is_some_and(|t| t == "histogram"))
            })
            .unwrap_or(name);
        assert!(typed.contains_key(family), "{name} has no TYPE line");
        assert!(
            helped.iter().any(|h| h == family),
            "{name} has no HELP line"
        );
        samples.push(Sample {
            name: name.to_string(),
            labels,
            value: value.parse().unwrap(),
        });
    }
    samples
}

/// The value of the sample `name` whose labels include `labels`.
fn value(samples: &[Sample], name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    samples
        .iter()
        .find(|s| {
            s.name == name
                && labels
                    .iter()
                    .all(|(k, v)| s.labels.get(*k).map(String::as_str) == Some(*v))
        })
        .map(|s| s.value)
}

/// An XML element, flattened: its name, attributes and text.
#[derive(Debug)]
struct Element {
    name: String,
    attrs: BTreeMap<String, String>,
    text: String,
    depth: usize,
}

/// Reads an XML document into its elements in document order, failing on
/// anything malformed (unclosed or mismatched tags, bad escapes).
fn parse_xml(text: &str) -> Vec<Element> {
    let mut reader = quick_xml::Reader::from_str(text);
    reader.config_mut().check_end_names = true;
    let mut out: Vec<Element> = Vec::new();
    let mut open: Vec<usize> = Vec::new();
    loop {
        let event = reader.read_event().expect("well-formed XML");
        let element = |e: &quick_xml::events::BytesStart, depth: usize| Element {
            name: e.name().as_ref().to_string(),
            attrs: e
                .attributes()
                .map(|a| {
                    let a = a.expect("a well-formed attribute");
                    (
                        a.key.as_ref().to_string(),
                        a.normalized_value(XmlVersion::Implicit1_0)
                            .expect("escaped attribute")
                            .into_owned(),
                    )
                })
                .collect(),
            text: String::new(),
            depth,
        };
        match event {
            Xml::Start(e) => {
                out.push(element(&e, open.len()));
                open.push(out.len() - 1);
            }
            Xml::Empty(e) => out.push(element(&e, open.len())),
            Xml::End(_) => {
                open.pop();
            }
            Xml::Text(t) => {
                if let Some(&i) = open.last() {
                    out[i].text.push_str(&t.xml10_content());
                }
            }
            Xml::GeneralRef(r) => {
                let c = match r.resolve_char_ref().expect("a valid reference") {
                    Some(c) => c,
                    None => match r.xml10_content().as_ref() {
                        "lt" => '<',
                        "gt" => '>',
                        "amp" => '&',
                        "quot" => '"',
                        "apos" => '\'',
                        other => panic!("unknown entity &{other};"),
                    },
                };
                if let Some(&i) = open.last() {
                    out[i].text.push(c);
                }
            }
            Xml::Eof => break,
            _ => {}
        }
    }
    assert!(open.is_empty(), "unclosed elements");
    out
}

fn har_log(path: &std::path::Path) -> har::v1_2::Log {
    let har = har::from_path(path).expect("a HAR file the har crate reads");
    match har.log {
        har::Spec::V1_2(log) => log,
        har::Spec::V1_3(_) => panic!("HAR 1.2 expected, got 1.3"),
    }
}

fn assert_no_canary(what: &str, text: &str) {
    assert!(
        !text.contains(CANARY),
        "the canary leaked into {what}:\n{text}"
    );
}

#[tokio::test]
async fn metrics_junit_and_har_describe_every_request_of_the_run() {
    let server = server().await;
    let dir = Scratch::new();
    let (metrics, junit, har) = (
        dir.path("pytopus.prom"),
        dir.path("junit.xml"),
        dir.path("run.har"),
    );
    let (out, _d) = run_with(
        &server.uri(),
        CHAIN,
        &[
            "--metrics",
            metrics.to_str().unwrap(),
            "--junit",
            junit.to_str().unwrap(),
            "--har",
            har.to_str().unwrap(),
        ],
    );
    assert_eq!(out.code, 0, "{}", out.stderr);

    // Metrics: six requests, one 500 that was retried, one failure.
    let text = std::fs::read_to_string(&metrics).unwrap();
    assert_no_canary("the metrics", &text);
    let samples = parse_metrics(&text);
    let requests = |step: &str, code: &str| {
        value(
            &samples,
            "pytopus_http_requests_total",
            &[
                ("chain", "Observed"),
                ("step", step),
                ("method", "GET"),
                ("code", code),
            ],
        )
    };
    assert_eq!(requests("GetUser", "200"), Some(1.0));
    assert_eq!(requests("Flaky", "500"), Some(1.0));
    assert_eq!(requests("Flaky", "200"), Some(1.0));
    assert_eq!(requests("Each", "200"), Some(2.0));
    assert_eq!(requests("Check", "200"), Some(1.0));
    assert_eq!(requests("Later", "200"), None);
    let total: f64 = samples
        .iter()
        .filter(|s| s.name == "pytopus_http_requests_total")
        .map(|s| s.value)
        .sum();
    assert_eq!(total, 6.0);
    assert_eq!(
        value(&samples, "pytopus_retries_total", &[("step", "Flaky")]),
        Some(1.0)
    );
    assert_eq!(
        value(
            &samples,
            "pytopus_runs_total",
            &[("chain", "Observed"), ("status", "passed")]
        ),
        Some(1.0)
    );
    assert_eq!(
        value(
            &samples,
            "pytopus_step_failures_total",
            &[("step", "Check"), ("kind", "expectation")]
        ),
        Some(1.0)
    );
    assert_eq!(
        value(
            &samples,
            "pytopus_step_duration_seconds_count",
            &[("step", "Flaky")]
        ),
        Some(1.0)
    );
    assert_eq!(
        value(
            &samples,
            "pytopus_step_duration_seconds_bucket",
            &[("step", "Later"), ("le", "+Inf")]
        ),
        None,
        "a skipped step has no duration"
    );
    assert_eq!(
        value(&samples, "pytopus_run_duration_seconds_count", &[]),
        Some(1.0)
    );

    // JUnit: one suite, a case per step, the continued failure as a failure.
    assert_valid_junit(&junit);
    let xml = std::fs::read_to_string(&junit).unwrap();
    assert_no_canary("the JUnit report", &xml);
    let elements = parse_xml(&xml);
    let root = &elements[0];
    assert_eq!((root.name.as_str(), root.depth), ("testsuites", 0));
    assert_eq!(root.attrs["tests"], "5");
    assert_eq!(root.attrs["failures"], "1");
    assert_eq!(root.attrs["skipped"], "1");
    let suites: Vec<&Element> = elements.iter().filter(|e| e.name == "testsuite").collect();
    assert_eq!(suites.len(), 1);
    assert_eq!(suites[0].attrs["name"], "Observed");
    assert_eq!(suites[0].attrs["tests"], "5");
    let cases: Vec<&Element> = elements.iter().filter(|e| e.name == "testcase").collect();
    let names: Vec<&str> = cases.iter().map(|c| c.attrs["name"].as_str()).collect();
    assert_eq!(names, ["GetUser", "Flaky", "Each", "Check", "Later"]);
    assert!(cases.iter().all(|c| c.attrs["classname"] == "Observed"));
    assert!(cases.iter().all(|c| c.attrs["time"].parse::<f64>().is_ok()));
    let failure = elements.iter().find(|e| e.name == "failure").unwrap();
    assert_eq!(failure.attrs["type"], "expectation");
    assert_eq!(
        failure.attrs["message"],
        "$.name: expected \"Bob\", got \"Ann\" (on_error: continue)"
    );
    assert!(
        failure.text.contains("request: GET http://") && failure.text.contains("200 OK"),
        "{}",
        failure.text
    );
    let skipped = elements.iter().find(|e| e.name == "skipped").unwrap();
    assert_eq!(skipped.attrs["message"], "`when` was false");

    // HAR: an entry per attempt and per item, in order.
    let har_text = std::fs::read_to_string(&har).unwrap();
    assert_no_canary("the HAR archive", &har_text);
    let log = har_log(&har);
    assert_eq!(log.creator.name, "pytopus");
    let entries = &log.entries;
    let seen: Vec<(String, i64)> = entries
        .iter()
        .map(|e| (e.request.url.replace(&server.uri(), ""), e.response.status))
        .collect();
    assert_eq!(
        seen,
        [
            ("/users/1?token=***".to_string(), 200),
            ("/flaky".to_string(), 500),
            ("/flaky".to_string(), 200),
            ("/users/2".to_string(), 200),
            ("/users/3".to_string(), 200),
            ("/users/1".to_string(), 200),
        ]
    );
    let first = &entries[0];
    assert_eq!(first.request.method, "GET");
    assert!(
        first
            .request
            .query_string
            .iter()
            .any(|q| q.name == "token" && q.value == "***")
    );
    assert!(
        first
            .request
            .headers
            .iter()
            .any(|h| h.name.eq_ignore_ascii_case("x-token") && h.value == "***")
    );
    assert_eq!(
        first.response.content.text.as_deref(),
        Some(r#"{"name":"Ann","token":"***"}"#)
    );
    assert_eq!(
        first.response.content.mime_type.as_deref(),
        Some("application/json")
    );
    assert!(first.started_date_time.ends_with('Z'));
    assert_eq!(first.timings.wait, first.time);
    assert_eq!(entries[1].response.status_text, "Internal Server Error");
    assert_eq!(entries[1].comment.as_deref(), Some("step Flaky, attempt 1"));
    assert_eq!(entries[2].comment.as_deref(), Some("step Flaky, attempt 2"));
    assert_eq!(
        entries[4].comment.as_deref(),
        Some("step Each, item 1, attempt 1")
    );
}

#[tokio::test]
async fn a_failed_request_and_its_body_are_in_the_har_and_the_junit_failure() {
    let server = MockServer::start().await;
    Mock::given(path("/reject"))
        .respond_with(|req: &Request| {
            let token = req
                .headers
                .get("x-token")
                .and_then(|v| v.to_str().ok())
                .unwrap_or("")
                .to_string();
            ResponseTemplate::new(403).set_body_json(json!({"rejected": token, "why": "<&>"}))
        })
        .mount(&server)
        .await;
    let port = closed_port();
    let chain = format!(
        r#"
name: Rejected
steps:
  - name: Down
    url: "http://127.0.0.1:{port}/x"
    retry: {{attempts: 1}}
    on_error: continue
  - name: Post
    method: POST
    url: "{{{{ base }}}}/reject?token={{{{ secret('CANARY') }}}}"
    headers: {{X-Token: "{{{{ secret('CANARY') }}}}"}}
    body: {{token: "{{{{ secret('CANARY') }}}}"}}
  - name: After
    url: "{{{{ base }}}}/after"
"#
    );
    let dir = Scratch::new();
    let (junit, har, metrics) = (
        dir.path("junit.xml"),
        dir.path("run.har"),
        dir.path("m.prom"),
    );
    let (out, _d) = run_with(
        &server.uri(),
        &chain,
        &[
            "--junit",
            junit.to_str().unwrap(),
            "--har",
            har.to_str().unwrap(),
            "--metrics",
            metrics.to_str().unwrap(),
        ],
    );
    assert_eq!(out.code, 1, "{}", out.stderr);
    for (what, file) in [("JUnit", &junit), ("HAR", &har), ("metrics", &metrics)] {
        assert_no_canary(what, &std::fs::read_to_string(file).unwrap());
    }

    assert_valid_junit(&junit);
    let elements = parse_xml(&std::fs::read_to_string(&junit).unwrap());
    let failures: Vec<&Element> = elements.iter().filter(|e| e.name == "failure").collect();
    assert_eq!(failures.len(), 2);
    assert_eq!(failures[0].attrs["type"], "connect");
    assert_eq!(failures[1].attrs["type"], "expectation");
    assert_eq!(
        failures[1].attrs["message"],
        "expected status 2xx, got 403 Forbidden"
    );
    assert!(
        failures[1].text.contains(r#""rejected":"***""#) && failures[1].text.contains("<&>"),
        "{}",
        failures[1].text
    );
    let skipped = elements.iter().find(|e| e.name == "skipped").unwrap();
    assert_eq!(skipped.attrs["message"], "not run: an earlier step failed");

    let log = har_log(&har);
    assert_eq!(log.entries.len(), 2);
    let down = &log.entries[0].response;
    assert_eq!(down.status, 0);
    assert!(
        down.comment
            .as_deref()
            .unwrap_or("")
            .contains("could not connect"),
        "{down:?}"
    );
    let post = &log.entries[1];
    assert_eq!(post.request.method, "POST");
    let data = post.request.post_data.as_ref().expect("postData");
    assert_eq!(data.mime_type, "application/json");
    assert_eq!(data.text.as_deref(), Some(r#"{"token":"***"}"#));
    assert_eq!(post.response.status, 403);

    let samples = parse_metrics(&std::fs::read_to_string(&metrics).unwrap());
    assert_eq!(
        value(
            &samples,
            "pytopus_http_requests_total",
            &[("step", "Down"), ("code", "none")]
        ),
        Some(1.0)
    );
    assert_eq!(
        value(
            &samples,
            "pytopus_step_failures_total",
            &[("step", "Down"), ("kind", "connect")]
        ),
        Some(1.0)
    );
    assert_eq!(
        value(&samples, "pytopus_runs_total", &[("status", "failed")]),
        Some(1.0)
    );
}

#[tokio::test]
async fn data_rows_add_up_in_one_metrics_file_and_get_a_suite_each() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/echo"))
        .respond_with(|req: &Request| {
            let body: serde_json::Value = serde_json::from_slice(&req.body).unwrap();
            if body["id"] == 2 {
                return ResponseTemplate::new(500).set_body_string("row failed on purpose");
            }
            ResponseTemplate::new(200).set_body_json(body)
        })
        .expect(3)
        .mount(&server)
        .await;
    let dir = Scratch::new();
    let chain = dir.file(
        "c.yaml",
        "name: Echo\nsteps:\n  - name: Post\n    method: POST\n    url: \"{{ base }}/echo\"\n    body: {id: \"{{ id }}\"}\n",
    );
    let rows = dir.file("rows.csv", "id\n1\n2\n3\n");
    let (metrics, junit, har) = (
        dir.path("m.prom"),
        dir.path("junit.xml"),
        dir.path("run.har"),
    );
    let out = run(&[
        "run",
        chain.to_str().unwrap(),
        "--var",
        &format!("base={}", server.uri()),
        "--data",
        rows.to_str().unwrap(),
        "--parallel",
        "3",
        "--metrics",
        metrics.to_str().unwrap(),
        "--junit",
        junit.to_str().unwrap(),
        "--har",
        har.to_str().unwrap(),
    ]);
    assert_eq!(out.code, 1, "{}", out.stderr);

    let samples = parse_metrics(&std::fs::read_to_string(&metrics).unwrap());
    let runs = |status| value(&samples, "pytopus_runs_total", &[("status", status)]);
    assert_eq!((runs("passed"), runs("failed")), (Some(2.0), Some(1.0)));
    let requests = |code| value(&samples, "pytopus_http_requests_total", &[("code", code)]);
    assert_eq!((requests("200"), requests("500")), (Some(2.0), Some(1.0)));
    assert_eq!(
        value(&samples, "pytopus_run_duration_seconds_count", &[]),
        Some(3.0)
    );

    assert_valid_junit(&junit);
    let elements = parse_xml(&std::fs::read_to_string(&junit).unwrap());
    let suites: Vec<&str> = elements
        .iter()
        .filter(|e| e.name == "testsuite")
        .map(|e| e.attrs["name"].as_str())
        .collect();
    assert_eq!(suites, ["Echo [row 1]", "Echo [row 2]", "Echo [row 3]"]);
    assert_eq!(elements[0].attrs["tests"], "3");
    assert_eq!(elements[0].attrs["failures"], "1");

    let log = har_log(&har);
    let mut pages: Vec<String> = log
        .pages
        .unwrap_or_default()
        .into_iter()
        .map(|p| p.id)
        .collect();
    pages.sort();
    assert_eq!(pages, ["row 1", "row 2", "row 3"]);
    assert_eq!(log.entries.len(), 3);
}

#[tokio::test]
async fn metrics_are_pushed_to_the_pushgateway_group_of_the_chain() {
    let gateway = MockServer::start().await;
    Mock::given(method("PUT"))
        .and(path("/metrics/job/pytopus/chain/Pushed"))
        .respond_with(ResponseTemplate::new(200))
        .expect(1)
        .mount(&gateway)
        .await;
    // A chain without `name:` is named by its path, which has `/`.
    Mock::given(method("PUT"))
        .and(path_regex(
            "^/metrics/job/pytopus/chain@base64/[A-Za-z0-9_=-]+$",
        ))
        .respond_with(ResponseTemplate::new(200))
        .expect(1)
        .mount(&gateway)
        .await;
    let api = MockServer::start().await;
    Mock::given(path("/a"))
        .respond_with(ResponseTemplate::new(200))
        .mount(&api)
        .await;
    for chain in [
        "name: Pushed\nsteps:\n  - name: A\n    url: \"{{ base }}/a\"\n",
        "steps:\n  - name: A\n    url: \"{{ base }}/a\"\n",
    ] {
        let (out, _d) = run_with(&api.uri(), chain, &["--pushgateway", &gateway.uri()]);
        assert_eq!(out.code, 0, "{}", out.stderr);
        assert!(!out.stderr.contains("warning"), "{}", out.stderr);
    }
    let pushed = gateway.received_requests().await.unwrap();
    let body = String::from_utf8_lossy(&pushed[0].body);
    assert!(
        body.contains("pytopus_runs_total{chain=\"Pushed\",status=\"passed\"} 1"),
        "{body}"
    );
    assert!(
        pushed[0]
            .headers
            .get("content-type")
            .is_some_and(|v| v.to_str().unwrap().starts_with("text/plain; version=0.0.4")),
    );
}

#[tokio::test]
async fn shards_push_to_groups_of_their_own() {
    let gateway = MockServer::start().await;
    for k in [1, 2] {
        Mock::given(method("PUT"))
            .and(path(format!(
                "/metrics/job/pytopus/chain/Split/shard/{k}-of-2"
            )))
            .respond_with(ResponseTemplate::new(200))
            .expect(1)
            .mount(&gateway)
            .await;
    }
    let api = MockServer::start().await;
    Mock::given(path_regex("^/i/"))
        .respond_with(ResponseTemplate::new(200))
        .mount(&api)
        .await;
    let chain = "name: Split\nsteps:\n  - name: A\n    for_each: [1, 2, 3, 4]\n    url: \"{{ base }}/i/{{ item }}\"\n";
    for shard in ["1/2", "2/2"] {
        let (out, _d) = run_with(
            &api.uri(),
            chain,
            &["--pushgateway", &gateway.uri(), "--shard", shard],
        );
        assert_eq!(out.code, 0, "{}", out.stderr);
        assert!(!out.stderr.contains("warning"), "{}", out.stderr);
    }
    // Each shard replaced only its own group (the mocks expect one PUT each).
    let paths: Vec<String> = gateway
        .received_requests()
        .await
        .unwrap()
        .iter()
        .map(|r| r.url.path().to_string())
        .collect();
    assert_eq!(
        paths,
        [
            "/metrics/job/pytopus/chain/Split/shard/1-of-2",
            "/metrics/job/pytopus/chain/Split/shard/2-of-2"
        ]
    );
}

#[tokio::test]
async fn a_failed_push_is_a_warning_and_the_run_still_passes() {
    let gateway = MockServer::start().await;
    Mock::given(method("PUT"))
        .respond_with(ResponseTemplate::new(400).set_body_string(format!("bad metrics {CANARY}")))
        .mount(&gateway)
        .await;
    let api = MockServer::start().await;
    Mock::given(path("/a"))
        .respond_with(ResponseTemplate::new(200))
        .mount(&api)
        .await;
    let chain = "name: Pushed\nsteps:\n  - name: A\n    url: \"{{ base }}/a\"\n    headers: {X-Token: \"{{ secret('CANARY') }}\"}\n";
    let port = closed_port();
    let down = format!("http://127.0.0.1:{port}");
    for (url, why) in [
        (gateway.uri(), "400 Bad Request: bad metrics ***"),
        (down.clone(), "could not connect"),
    ] {
        let (out, _d) = run_with(&api.uri(), chain, &["--pushgateway", &url]);
        assert_eq!(out.code, 0, "{}", out.stderr);
        assert_no_canary("stderr", &out.stderr);
        let expected = format!(
            "warning: cannot push the metrics to {url}/metrics/job/pytopus/chain/Pushed: {why}"
        );
        assert!(out.stderr.contains(&expected), "{}", out.stderr);
    }
    // A dry run sends nothing, the push included.
    let (out, _d) = run_with(&api.uri(), chain, &["--pushgateway", &down, "--dry-run"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(!out.stderr.contains("warning"), "{}", out.stderr);
}

#[tokio::test]
async fn unwritable_output_files_stop_the_run_before_anything_is_sent() {
    let server = MockServer::start().await;
    Mock::given(wiremock::matchers::any())
        .respond_with(ResponseTemplate::new(200))
        .expect(0)
        .mount(&server)
        .await;
    let dir = Scratch::new();
    let chain = dir.file("c.yaml", "steps:\n  - name: A\n    url: \"{{ base }}/a\"\n");
    let rows = dir.file("rows.csv", "id\n1\n");
    let base = format!("base={}", server.uri());
    for flag in ["--metrics", "--junit", "--har"] {
        for data in [None, Some(rows.to_str().unwrap())] {
            let mut args = vec!["run", chain.to_str().unwrap(), "--var", &base];
            if let Some(d) = data {
                args.extend(["--data", d]);
            }
            let out = run(&[args.as_slice(), &[flag, "/nonexistent-dir/x"]].concat());
            assert_eq!(out.code, 2, "{flag}: {}", out.stderr);
            assert!(
                out.stderr.starts_with(&format!(
                    "error: {flag} /nonexistent-dir/x: cannot be written"
                )),
                "{}",
                out.stderr
            );
            let out = run(&[args.as_slice(), &[flag, "-"]].concat());
            assert_eq!(out.code, 2, "{flag} -: {}", out.stderr);
        }
    }
    let out = run(&[
        "run",
        chain.to_str().unwrap(),
        "--pushgateway",
        "ftp://example.com",
    ]);
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(
        out.stderr.contains("must be http or https"),
        "{}",
        out.stderr
    );
}

/// The JUnit XML schema CI systems read, kept in tests/fixtures.
fn junit_xsd() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/junit.xsd")
}

/// Runs libxml2's validator (`xmllint`, Debian's libxml2-utils) on `file`
/// against the schema; `None` when xmllint is not installed and
/// `PYTOPUS_REQUIRE_XMLLINT` is not set (CI sets it and installs the tool,
/// so there the check always runs).
fn xmllint(file: &std::path::Path) -> Option<std::process::Output> {
    match std::process::Command::new("xmllint")
        .arg("--noout")
        .arg("--schema")
        .arg(junit_xsd())
        .arg(file)
        .output()
    {
        Ok(out) => Some(out),
        Err(e) if std::env::var_os("PYTOPUS_REQUIRE_XMLLINT").is_some() => {
            panic!("cannot run xmllint ({e}): install libxml2-utils to validate the JUnit files")
        }
        Err(e) => {
            eprintln!(
                "notice: xmllint is not installed ({e}): {} was not checked against \
                 tests/fixtures/junit.xsd (install libxml2-utils; CI requires it)",
                file.display()
            );
            None
        }
    }
}

fn assert_valid_junit(file: &std::path::Path) {
    let Some(out) = xmllint(file) else {
        return;
    };
    assert!(
        out.status.success(),
        "{} is not valid against tests/fixtures/junit.xsd:\n{}\n{}",
        file.display(),
        String::from_utf8_lossy(&out.stderr),
        std::fs::read_to_string(file).unwrap_or_default()
    );
}

/// The validation above can fail: the schema refuses what CI systems would
/// not read (a suite without a name, a case with a negative time).
#[test]
fn the_junit_schema_refuses_reports_ci_systems_would_not_read() {
    let dir = Scratch::new();
    let good = dir.file(
        "good.xml",
        r#"<?xml version="1.0" encoding="UTF-8"?>
<testsuites name="c" tests="1" failures="0" errors="0" skipped="0" time="0.1">
  <testsuite name="c" tests="1" failures="0" errors="0" skipped="0" time="0.1">
    <testcase name="Step" classname="c" time="0.1"/>
  </testsuite>
</testsuites>
"#,
    );
    assert_valid_junit(&good);
    for (name, xml) in [
        (
            "nameless.xml",
            r#"<testsuites><testsuite tests="1"><testcase name="S" classname="c" time="0.1"/></testsuite></testsuites>"#,
        ),
        (
            "negative.xml",
            r#"<testsuites><testsuite name="c" tests="1"><testcase name="S" classname="c" time="-1"/></testsuite></testsuites>"#,
        ),
        (
            "unknown.xml",
            r#"<testsuites><testsuite name="c" tests="1"><testcase name="S" classname="c" time="0.1"><oops/></testcase></testsuite></testsuites>"#,
        ),
    ] {
        let file = dir.file(name, xml);
        let Some(out) = xmllint(&file) else {
            return;
        };
        assert!(!out.status.success(), "{name} passed the schema: {xml}");
    }
}
