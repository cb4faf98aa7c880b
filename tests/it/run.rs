//! `pytopus run` against real HTTP servers on 127.0.0.1 (wiremock): the happy
//! path, every way a call can fail, retries, record/replay and the outputs.

use std::time::Duration;

use crate::support::{Scratch, closed_port, pytopus, run, run_chain, run_cmd, scrub};
use serde_json::{Value, json};
use wiremock::matchers::{body_json, method, path, query_param};
use wiremock::{Mock, MockServer, ResponseTemplate};

/// Mounts `verb route` answering `fail` `times` times, then `ok` once; the
/// server checks that both happened.
async fn fails_then_answers(
    server: &MockServer,
    verb: &str,
    route: &str,
    fail: ResponseTemplate,
    times: u64,
    ok: ResponseTemplate,
) {
    Mock::given(method(verb))
        .and(path(route))
        .respond_with(fail)
        .up_to_n_times(times)
        .expect(times)
        .mount(server)
        .await;
    Mock::given(method(verb))
        .and(path(route))
        .respond_with(ok)
        .expect(1)
        .mount(server)
        .await;
}

fn user() -> Value {
    json!({"id": 1, "name": "Leanne Graham", "address": {"city": "Gwenborough"}})
}

async fn server_with_user_and_posts() -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/users/1"))
        .respond_with(ResponseTemplate::new(200).set_body_json(user()))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/posts"))
        .and(query_param("userId", "1"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!([
            {"id": 11, "userId": 1, "title": "first"},
            {"id": 12, "userId": 1, "title": "second"}
        ])))
        .expect(1)
        .mount(&server)
        .await;
    server
}

const CHAIN: &str = r#"
name: user posts
vars: {user_id: 1}
defaults:
  headers: {Accept: application/json}
steps:
  - name: GetUser
    url: "{{ base }}/users/{{ user_id }}"
  - name: GetPosts
    url: "{{ base }}/posts"
    query_params: {userId: "{{ GetUser.id }}"}
    extract: {first_title: "$[0].title", titles: "$[*].title"}
    expect: {status: 200, json: {"$[1].id": 12}}
  - name: Create
    method: POST
    url: "{{ base }}/posts"
    body: {userId: "{{ GetUser.id }}", title: "re: {{ first_title }}", tags: "{{ titles }}", city: "{{ GetUser | jsonpath('$.address.city') }}"}
    expect: {status: 201}
output:
  user: "{{ GetUser.name }}"
  posts: "{{ GetPosts | length }}"
  created: "{{ Create.id }}"
  status: "{{ steps.Create.status }}"
"#;

async fn full_server() -> MockServer {
    let server = server_with_user_and_posts().await;
    Mock::given(method("POST"))
        .and(path("/posts"))
        // Native values: the id stays a number, the list stays a list.
        .and(body_json(json!({
            "userId": 1, "title": "re: first", "tags": ["first", "second"], "city": "Gwenborough"
        })))
        .respond_with(ResponseTemplate::new(201).set_body_json(json!({"id": 101})))
        .expect(1)
        .mount(&server)
        .await;
    server
}

#[tokio::test]
async fn runs_a_chain_feeding_each_step_from_the_ones_before() {
    let server = full_server().await;
    let dir = Scratch::new();
    let chain = dir.file("chain.yaml", CHAIN);
    let out = run(&[
        "run",
        chain.to_str().unwrap(),
        "--var",
        &format!("base={}", server.uri()),
    ]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let result: Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(
        result,
        json!({"user": "Leanne Graham", "posts": 2, "created": 101, "status": 201})
    );
    insta::assert_snapshot!(scrub(&out.stderr, &server.uri(), Some(dir.dir.path())), @r"
    [1/3] ok GetUser GET http://SERVER/users/1 → 200 OK ([T])
    [2/3] ok GetPosts GET http://SERVER/posts?userId=1 → 200 OK ([T])
    [3/3] ok Create POST http://SERVER/posts → 201 Created ([T])
    ✓ passed: 3 ok in [T]
    ");
}

#[tokio::test]
async fn output_formats_for_scripts() {
    let server = full_server().await;
    let dir = Scratch::new();
    let chain = dir.file(
        "chain.yaml",
        &CHAIN.replace(
            "output:\n  user: \"{{ GetUser.name }}\"\n  posts: \"{{ GetPosts | length }}\"\n  created: \"{{ Create.id }}\"\n  status: \"{{ steps.Create.status }}\"\n",
            "output: \"{{ GetUser.name }}\"\n",
        ),
    );
    let base = format!("base={}", server.uri());
    let out = run(&[
        "run",
        chain.to_str().unwrap(),
        "--var",
        &base,
        "--output",
        "raw",
        "-q",
    ]);
    assert_eq!(
        (out.code, out.stdout.as_str(), out.stderr.as_str()),
        (0, "Leanne Graham\n", "")
    );
}

#[tokio::test]
async fn yaml_output_and_last_step_result_without_output() {
    let server = server_with_user_and_posts().await;
    let (out, _dir) = run_chain(
        &server.uri(),
        "steps:\n  - name: GetUser\n    url: \"{{ base }}/users/1\"\n  - name: GetPosts\n    url: \"{{ base }}/posts?userId={{ GetUser.id }}\"\n",
        &["--output", "yaml", "-q"],
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    insta::assert_snapshot!(out.stdout, @r"
    - id: 11
      userId: 1
      title: first
    - id: 12
      userId: 1
      title: second
    ");
}

#[tokio::test]
async fn the_seed_chain_runs_unchanged_against_a_local_copy_of_its_api() {
    let server = server_with_user_and_posts().await;
    let seed =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/examples/config.json"))
            .unwrap();
    let dir = Scratch::new();
    let chain = dir.file(
        "config.json",
        &seed.replace("https://jsonplaceholder.typicode.com", &server.uri()),
    );
    let out = run(&["run", chain.to_str().unwrap(), "-q"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let result: Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(result[1]["title"], "second");
}

#[tokio::test]
async fn dry_run_renders_everything_and_sends_nothing() {
    let server = MockServer::start().await;
    Mock::given(wiremock::matchers::any())
        .respond_with(ResponseTemplate::new(200))
        .expect(0)
        .mount(&server)
        .await;
    let dir = Scratch::new();
    let chain = dir.file("chain.yaml", CHAIN);
    let out = run(&[
        "run",
        chain.to_str().unwrap(),
        "--dry-run",
        "--var",
        &format!("base={}", server.uri()),
    ]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    insta::assert_snapshot!(scrub(&out.stdout, &server.uri(), None), @r#"
    # GetUser
    GET http://SERVER/users/1
    Accept: application/json

    # GetPosts
    GET http://SERVER/posts?userId=<GetUser.id>
    Accept: application/json

    # Create
    POST http://SERVER/posts
    Accept: application/json
    content-type: application/json

    {"userId":"<GetUser.id>","title":"re: <first_title>","tags":"<titles>","city":"<GetUser.address.city>"}
    "#);
}

#[tokio::test]
async fn a_failed_status_shows_the_request_and_the_response_body() {
    let server = MockServer::start().await;
    Mock::given(path("/users/1"))
        .respond_with(
            ResponseTemplate::new(404)
                .set_body_raw(r#"{"error": "no such user"}"#, "application/json"),
        )
        .expect(1)
        .mount(&server)
        .await;
    let dir = Scratch::new();
    let chain = dir.file(
        "c.yaml",
        "steps:\n  - name: GetUser\n    url: \"{{ base }}/users/1\"\n  - name: Never\n    url: \"{{ base }}/never\"\n",
    );
    let report = dir.path("report.json");
    let out = run(&[
        "run",
        chain.to_str().unwrap(),
        "--var",
        &format!("base={}", server.uri()),
        "--report",
        report.to_str().unwrap(),
    ]);
    assert_eq!(out.code, 1);
    assert_eq!(out.stdout, "");
    insta::assert_snapshot!(scrub(&out.stderr, &server.uri(), Some(dir.dir.path())), @r#"
    [1/2] FAIL GetUser GET http://SERVER/users/1 → 404 Not Found ([T])
    [2/2] skip Never GET (not run)
    error: step `GetUser` failed: expected status 2xx, got 404 Not Found
     --> TMP/c.yaml:2:5
      |
    2 |   - name: GetUser
      |     ^
      = request: GET http://SERVER/users/1
      = response: 404 Not Found (application/json, 25 bytes)
      = body:
        {"error": "no such user"}
    ✗ failed at `GetUser`: 1 failed, 1 not run in [T]
    "#);
    let rep: Value = serde_json::from_str(&std::fs::read_to_string(&report).unwrap()).unwrap();
    assert_eq!(rep["status"], "failed");
    assert_eq!(rep["steps"][0]["status"], "failed");
    assert_eq!(rep["steps"][0]["response"]["status"], 404);
    assert_eq!(rep["steps"][0]["error"]["kind"], "expectation");
    assert_eq!(rep["steps"][1]["status"], "not_run");
}

#[tokio::test]
async fn failed_expectations_say_what_was_expected_and_what_came() {
    let server = MockServer::start().await;
    Mock::given(path("/users/1"))
        .respond_with(ResponseTemplate::new(200).set_body_json(user()))
        .mount(&server)
        .await;
    let dir = Scratch::new();
    let chain = dir.file(
        "c.yaml",
        r#"
steps:
  - name: GetUser
    url: "{{ base }}/users/1"
    expect:
      status: [200, 201]
      json: {"$.name": "Ervin Howell", "$.id": 1, "$.address.zip": "92998"}
      headers: {content-type: xml}
      body_contains: [Leanne, Ervin]
"#,
    );
    let out = run(&[
        "run",
        chain.to_str().unwrap(),
        "--var",
        &format!("base={}", server.uri()),
        "-q",
    ]);
    assert_eq!(out.code, 1);
    insta::assert_snapshot!(scrub(&out.stderr, &server.uri(), Some(dir.dir.path())), @r#"
    error: step `GetUser` failed: 4 expectations failed
     --> TMP/c.yaml:7:24
      |
    7 |       json: {"$.name": "Ervin Howell", "$.id": 1, "$.address.zip": "92998"}
      |                        ^
      = $.name: expected "Ervin Howell", got "Leanne Graham"
      = $.address.zip: expected "92998", got nothing (no such value in the response)
      = header content-type: expected a value containing "xml", got "application/json"
      = body: expected to contain "Ervin", got a body of 64 bytes without it
      = request: GET http://SERVER/users/1
      = response: 200 OK (application/json, 64 bytes)
      = body:
        {"id":1,"name":"Leanne Graham","address":{"city":"Gwenborough"}}
    "#);
}

#[tokio::test]
async fn a_jsonpath_on_a_body_that_is_not_json_is_a_clear_error() {
    let server = MockServer::start().await;
    Mock::given(path("/page"))
        .respond_with(ResponseTemplate::new(200).set_body_raw("<html>hello</html>", "text/html"))
        .mount(&server)
        .await;
    let (out, dir) = run_chain(
        &server.uri(),
        "steps:\n  - name: Page\n    url: \"{{ base }}/page\"\n    extract: {id: \"$.id\"}\n",
        &["-q"],
    );
    assert_eq!(out.code, 1);
    insta::assert_snapshot!(scrub(&out.stderr, &server.uri(), Some(dir.dir.path())), @r#"
    error: step `Page` failed: cannot extract `id`: the response body is not JSON, so `$.id` cannot be applied
     --> TMP/c.yaml:4:19
      |
    4 |     extract: {id: "$.id"}
      |                   ^
      = request: GET http://SERVER/page
      = response: 200 OK (text/html, 18 bytes)
      = body:
        <html>hello</html>
    "#);
}

#[tokio::test]
async fn truncated_json_names_the_parse_error() {
    let server = MockServer::start().await;
    Mock::given(path("/users/1"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_raw(r#"{"id": 1, "name": "Lea"#, "application/json"),
        )
        .mount(&server)
        .await;
    let (out, _dir) = run_chain(
        &server.uri(),
        "steps:\n  - name: GetUser\n    url: \"{{ base }}/users/1\"\n    extract: {name: \"$.name\"}\n",
        &["-q"],
    );
    assert_eq!(out.code, 1);
    assert!(
        out.stderr.contains(
            "cannot extract `name`: the response body is not valid JSON (EOF while parsing a string at line 1 column 22), so `$.name` cannot be applied"
        ),
        "{}",
        out.stderr
    );
}

#[tokio::test]
async fn refused_connections_are_retried_then_reported() {
    let port = closed_port();
    let dir = Scratch::new();
    let chain = dir.file(
        "c.yaml",
        &format!("steps:\n  - name: Down\n    url: http://127.0.0.1:{port}/x\n    retry: {{backoff: 10ms}}\n"),
    );
    let out = run(&["run", chain.to_str().unwrap()]);
    assert_eq!(out.code, 1);
    let err = out.stderr.replace(&port.to_string(), "PORT");
    assert!(
        err.contains("Down attempt 1 failed (could not connect"),
        "{err}"
    );
    assert!(
        err.contains("Down attempt 2 failed (could not connect"),
        "{err}"
    );
    assert!(
        err.contains("error: step `Down` failed: could not connect: "),
        "{err}"
    );
    assert!(
        err.contains("= request: GET http://127.0.0.1:PORT/x (3 attempts)"),
        "{err}"
    );
}

#[tokio::test]
async fn a_slow_server_times_out() {
    let server = MockServer::start().await;
    Mock::given(path("/slow"))
        .respond_with(ResponseTemplate::new(200).set_delay(Duration::from_secs(5)))
        .expect(1)
        .mount(&server)
        .await;
    let (out, _dir) = run_chain(
        &server.uri(),
        "steps:\n  - name: Slow\n    url: \"{{ base }}/slow\"\n    timeout: 200ms\n    retry: {attempts: 1}\n",
        &["-q"],
    );
    assert_eq!(out.code, 1);
    assert!(
        out.stderr.contains("error: step `Slow` failed: timed out"),
        "{}",
        out.stderr
    );
}

#[tokio::test]
async fn a_503_then_200_succeeds_on_the_second_attempt() {
    let server = MockServer::start().await;
    fails_then_answers(
        &server,
        "GET",
        "/flaky",
        ResponseTemplate::new(503),
        1,
        ResponseTemplate::new(200).set_body_json(json!({"ok": true})),
    )
    .await;
    let (out, _dir) = run_chain(
        &server.uri(),
        "steps:\n  - name: Flaky\n    url: \"{{ base }}/flaky\"\n    retry: {backoff: 10ms, jitter: false}\noutput: \"{{ steps.Flaky.attempts }}\"\n",
        &[],
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(out.stdout, "2\n");
    insta::assert_snapshot!(scrub(&out.stderr, &server.uri(), None), @r"
    [1/1] Flaky attempt 1 failed (503 Service Unavailable); retrying in [T]
    [1/1] ok Flaky GET http://SERVER/flaky → 200 OK ([T], 1 retry)
    ✓ passed: 1 ok in [T]
    ");
}

#[tokio::test]
async fn a_429_waits_as_long_as_retry_after_says() {
    let server = MockServer::start().await;
    fails_then_answers(
        &server,
        "GET",
        "/limited",
        ResponseTemplate::new(429).insert_header("Retry-After", "1"),
        1,
        ResponseTemplate::new(200).set_body_json(json!({"ok": true})),
    )
    .await;
    let (out, _dir) = run_chain(
        &server.uri(),
        "steps:\n  - name: Limited\n    url: \"{{ base }}/limited\"\n    retry: {backoff: 10ms}\n",
        &[],
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(
        out.stderr
            .contains("Limited attempt 1 failed (429 Too Many Requests); retrying in 1.0s"),
        "{}",
        out.stderr
    );
}

#[tokio::test]
async fn post_is_not_retried_unless_the_step_asks() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/orders"))
        .respond_with(ResponseTemplate::new(503))
        .expect(1)
        .mount(&server)
        .await;
    let dir = Scratch::new();
    // defaults.retry applies to idempotent methods only.
    let chain = dir.file(
        "c.yaml",
        "defaults: {retry: {attempts: 5, backoff: 10ms}}\nsteps:\n  - name: Order\n    method: POST\n    url: \"{{ base }}/orders\"\n    body: {item: 1}\n",
    );
    let out = run(&[
        "run",
        chain.to_str().unwrap(),
        "--var",
        &format!("base={}", server.uri()),
        "-q",
    ]);
    assert_eq!(out.code, 1);
    assert!(
        out.stderr
            .contains("expected status 2xx, got 503 Service Unavailable"),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr
            .contains("= POST is not retried unless the step asks (add `retry:` to the step)"),
        "{}",
        out.stderr
    );
}

#[tokio::test]
async fn post_is_retried_when_the_step_asks() {
    let server = MockServer::start().await;
    fails_then_answers(
        &server,
        "POST",
        "/orders",
        ResponseTemplate::new(503),
        2,
        ResponseTemplate::new(201).set_body_json(json!({"id": 7})),
    )
    .await;
    let (out, _dir) = run_chain(
        &server.uri(),
        "steps:\n  - name: Order\n    method: POST\n    url: \"{{ base }}/orders\"\n    body: {item: 1}\n    retry: {attempts: 3, backoff: 10ms}\n",
        &["-q"],
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(out.stdout, "{\n  \"id\": 7\n}\n");
}

#[tokio::test]
async fn record_then_replay_gives_identical_output_with_no_network() {
    let dir = Scratch::new();
    let chain = dir.file("chain.yaml", CHAIN);
    let tape = dir.path("tape.json");
    let recorded = {
        let server = full_server().await;
        let base = format!("base={}", server.uri());
        let out = run(&[
            "run",
            chain.to_str().unwrap(),
            "--var",
            &base,
            "--record",
            tape.to_str().unwrap(),
            "-q",
        ]);
        assert_eq!(out.code, 0, "{}", out.stderr);
        (out.stdout, base)
        // The server stops here.
    };
    let out = run(&[
        "run",
        chain.to_str().unwrap(),
        "--var",
        &recorded.1,
        "--replay",
        tape.to_str().unwrap(),
        "-q",
    ]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(out.stdout, recorded.0);
    let t: Value = serde_json::from_str(&std::fs::read_to_string(&tape).unwrap()).unwrap();
    assert_eq!(t["exchanges"].as_array().unwrap().len(), 3);
}

#[tokio::test]
async fn replay_without_a_recorded_answer_fails_clearly() {
    let dir = Scratch::new();
    let tape = dir.file("tape.json", r#"{"version": 1, "exchanges": []}"#);
    let chain = dir.file(
        "c.yaml",
        "steps:\n  - name: A\n    url: http://example.test/a\n",
    );
    let out = run(&[
        "run",
        chain.to_str().unwrap(),
        "--replay",
        tape.to_str().unwrap(),
        "-q",
    ]);
    assert_eq!(out.code, 1);
    assert!(
        out.stderr
            .contains("has no (unused) recorded answer for GET http://example.test/a"),
        "{}",
        out.stderr
    );
    let bad = dir.file("bad.json", "{not json");
    let out = run(&[
        "run",
        chain.to_str().unwrap(),
        "--replay",
        bad.to_str().unwrap(),
        "-q",
    ]);
    assert_eq!(out.code, 2);
    assert!(
        out.stderr.contains("is not a valid pytopus tape"),
        "{}",
        out.stderr
    );
}

#[tokio::test]
async fn a_missing_field_at_run_time_names_it() {
    let server = server_with_user_and_posts().await;
    let (out, dir) = run_chain(
        &server.uri(),
        "steps:\n  - name: GetUser\n    url: \"{{ base }}/users/1\"\n  - name: GetPosts\n    url: \"{{ base }}/posts\"\n    query_params: {userId: \"{{ GetUser.identifier }}\"}\n",
        &["-q"],
    );
    // Only the first mock is hit; relax the server's expectations.
    server.reset().await;
    assert_eq!(out.code, 1);
    insta::assert_snapshot!(scrub(&out.stderr, &server.uri(), Some(dir.dir.path())), @r#"
    error: step `GetPosts` failed: cannot render `query_params.userId`: undefined value `GetUser.identifier` in `{{ GetUser.identifier }}`
     --> TMP/c.yaml:6:28
      |
    6 |     query_params: {userId: "{{ GetUser.identifier }}"}
      |                            ^
    "#);
}

#[tokio::test]
async fn save_to_streams_the_body_to_a_file() {
    let server = MockServer::start().await;
    let big = "x".repeat(200_000);
    Mock::given(path("/file"))
        .respond_with(
            ResponseTemplate::new(200).set_body_raw(big.clone(), "application/octet-stream"),
        )
        .mount(&server)
        .await;
    let dir = Scratch::new();
    let target = dir.path("out/data.bin");
    let chain = dir.file(
        "c.yaml",
        &format!(
            "steps:\n  - name: Download\n    url: \"{{{{ base }}}}/file\"\n    save_to: {}\n",
            target.display()
        ),
    );
    let out = run(&[
        "run",
        chain.to_str().unwrap(),
        "--var",
        &format!("base={}", server.uri()),
        "-q",
    ]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(std::fs::read_to_string(&target).unwrap(), big);
    let result: Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(
        result,
        json!({"saved_to": target.display().to_string(), "bytes": 200_000})
    );
}

#[tokio::test]
async fn form_bodies_are_urlencoded() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/login"))
        .and(wiremock::matchers::header(
            "content-type",
            "application/x-www-form-urlencoded",
        ))
        .and(wiremock::matchers::body_string(
            "user=ann+lee&tags=a&tags=b&n=3",
        ))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"ok": 1})))
        .expect(1)
        .mount(&server)
        .await;
    let (out, _dir) = run_chain(
        &server.uri(),
        "vars: {n: 3}\nsteps:\n  - name: Login\n    method: post\n    url: \"{{ base }}/login\"\n    form: {user: ann lee, tags: [a, b], n: \"{{ n }}\"}\n",
        &["-q"],
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
}

#[tokio::test]
async fn redirects_are_followed_and_headers_extracted() {
    let server = MockServer::start().await;
    Mock::given(path("/old"))
        .respond_with(ResponseTemplate::new(302).insert_header("Location", "/new"))
        .mount(&server)
        .await;
    Mock::given(path("/new"))
        .respond_with(
            ResponseTemplate::new(200)
                .insert_header("X-Request-Id", "abc-123")
                .set_body_json(json!({"moved": true})),
        )
        .mount(&server)
        .await;
    let (out, _dir) = run_chain(
        &server.uri(),
        "steps:\n  - name: Get\n    url: \"{{ base }}/old\"\n    extract: {rid: \"header:X-Request-Id\", code: status}\noutput: {rid: \"{{ rid }}\", code: \"{{ code }}\", url: \"{{ steps.Get.url }}\"}\n",
        &["-q"],
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    let v: Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(
        v,
        json!({"rid": "abc-123", "code": 200, "url": format!("{}/new", server.uri())})
    );
}

#[tokio::test]
async fn chains_can_come_from_stdin() {
    let server = server_with_user_and_posts().await;
    let text = r#"{"steps": [{"name": "U", "url": "{{ base }}/users/1"}, {"name": "P", "url": "{{ base }}/posts", "query": {"userId": "{{ U.id }}"}}]}"#;
    let out = run_cmd(
        pytopus()
            .args([
                "run",
                "-",
                "--var",
                &format!("base={}", server.uri()),
                "-q",
                "--output",
                "raw",
            ])
            .write_stdin(text),
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(out.stdout.starts_with("[{\"id\":11"), "{}", out.stdout);
}

#[tokio::test]
async fn vars_file_and_var_override_in_order() {
    let server = MockServer::start().await;
    Mock::given(path("/users/3"))
        .and(query_param("lang", "fr"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"id": 3})))
        .expect(1)
        .mount(&server)
        .await;
    let dir = Scratch::new();
    let vars = dir.file("vars.json", r#"{"user_id": 2, "lang": "fr"}"#);
    let chain = dir.file(
        "c.yaml",
        "vars: {user_id: 1, lang: en}\nsteps:\n  - name: U\n    url: \"{{ base }}/users/{{ user_id }}\"\n    query: {lang: \"{{ lang }}\"}\n",
    );
    let out = run(&[
        "run",
        chain.to_str().unwrap(),
        "--vars-file",
        vars.to_str().unwrap(),
        "--var",
        "user_id=3",
        "--var",
        &format!("base={}", server.uri()),
        "-q",
    ]);
    assert_eq!(out.code, 0, "{}", out.stderr);
}

#[cfg(unix)]
#[tokio::test]
async fn ctrl_c_stops_the_run_with_status_130_and_still_writes_the_report() {
    interrupt_with("INT").await;
}

#[cfg(unix)]
#[tokio::test]
async fn sigterm_stops_the_run_like_ctrl_c() {
    interrupt_with("TERM").await;
}

#[cfg(unix)]
async fn interrupt_with(signal: &str) {
    let server = MockServer::start().await;
    Mock::given(path("/slow"))
        .respond_with(ResponseTemplate::new(200).set_delay(Duration::from_secs(20)))
        .mount(&server)
        .await;
    let dir = Scratch::new();
    let chain = dir.file(
        "c.yaml",
        "steps:\n  - name: Slow\n    url: \"{{ base }}/slow\"\n",
    );
    let report = dir.path("r.json");
    let child = crate::support::spawn_chain(
        &chain,
        &server.uri(),
        &["--report", report.to_str().unwrap(), "-q"],
    );
    crate::support::signal_when_busy(&server, child.id(), signal).await;
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(130));
    let rep: Value = serde_json::from_str(&std::fs::read_to_string(&report).unwrap()).unwrap();
    assert_eq!(rep["status"], "interrupted");
    assert_eq!(rep["steps"][0]["error"]["kind"], "interrupted");
}

#[tokio::test]
async fn an_expected_error_status_is_an_answer_not_a_retry() {
    let server = MockServer::start().await;
    Mock::given(path("/busy"))
        .respond_with(ResponseTemplate::new(503))
        .expect(1)
        .mount(&server)
        .await;
    let (out, _dir) = run_chain(
        &server.uri(),
        "steps:\n  - name: Busy\n    url: \"{{ base }}/busy\"\n    expect: {status: 503}\noutput: \"{{ steps.Busy.attempts }}\"\n",
        &["-q"],
    );
    assert_eq!(
        (out.code, out.stdout.as_str()),
        (0, "1\n"),
        "{}",
        out.stderr
    );
}

#[tokio::test]
async fn optional_variables_guarded_by_default_are_not_errors() {
    let server = MockServer::start().await;
    Mock::given(path("/items"))
        .and(query_param("page", "1"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!([])))
        .expect(1)
        .mount(&server)
        .await;
    let (out, _dir) = run_chain(
        &server.uri(),
        "steps:\n  - name: Items\n    url: \"{{ base }}/items\"\n    query: {page: \"{{ page | default(1) }}\"}\n",
        &["-q"],
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
}

#[tokio::test]
async fn repeated_headers_are_joined_for_extract_and_expect() {
    let server = MockServer::start().await;
    Mock::given(path("/h"))
        .respond_with(
            ResponseTemplate::new(200)
                .append_header("X-Multi", "a")
                .append_header("X-Multi", "b"),
        )
        .mount(&server)
        .await;
    let (out, _dir) = run_chain(
        &server.uri(),
        "steps:\n  - name: H\n    url: \"{{ base }}/h\"\n    extract: {multi: \"header:x-multi\"}\n    expect: {headers: {X-Multi: b}}\noutput: \"{{ multi }}\"\n",
        &["-q"],
    );
    assert_eq!(
        (out.code, out.stdout.as_str()),
        (0, "\"a, b\"\n"),
        "{}",
        out.stderr
    );
}

#[tokio::test]
async fn cookies_set_by_one_step_are_sent_by_the_next() {
    let server = MockServer::start().await;
    Mock::given(path("/login"))
        .respond_with(
            ResponseTemplate::new(200).insert_header("Set-Cookie", "session=s3ss10n; Path=/"),
        )
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(path("/me"))
        .and(wiremock::matchers::header("cookie", "session=s3ss10n"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"me": 1})))
        .expect(1)
        .mount(&server)
        .await;
    let (out, _dir) = run_chain(
        &server.uri(),
        "steps:\n  - name: Login\n    url: \"{{ base }}/login\"\n  - name: Me\n    url: \"{{ base }}/me\"\n",
        &["-q"],
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
}

#[tokio::test]
async fn a_cookie_set_by_a_redirect_reaches_its_target() {
    let server = MockServer::start().await;
    Mock::given(path("/login"))
        .respond_with(
            ResponseTemplate::new(302)
                .insert_header("Set-Cookie", "sid=r3d1r; Path=/")
                .insert_header("Location", "/home"),
        )
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(path("/home"))
        .and(wiremock::matchers::header("cookie", "sid=r3d1r"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"home": true})))
        .expect(1)
        .mount(&server)
        .await;
    let (out, _dir) = run_chain(
        &server.uri(),
        "steps:\n  - name: Login\n    url: \"{{ base }}/login\"\n",
        &["-q"],
    );
    assert_eq!(
        (out.code, out.stdout.as_str()),
        (0, "{\n  \"home\": true\n}\n"),
        "{}",
        out.stderr
    );
}

#[tokio::test]
async fn a_303_after_a_post_is_followed_with_a_get_and_no_body() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/orders"))
        .respond_with(ResponseTemplate::new(303).insert_header("Location", "/orders/7"))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/orders/7"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"id": 7})))
        .expect(1)
        .mount(&server)
        .await;
    let (out, _dir) = run_chain(
        &server.uri(),
        "steps:\n  - name: Order\n    method: POST\n    url: \"{{ base }}/orders\"\n    body: {item: 1}\noutput: \"{{ Order.id }}\"\n",
        &["-q"],
    );
    assert_eq!(
        (out.code, out.stdout.as_str()),
        (0, "7\n"),
        "{}",
        out.stderr
    );
    let received = server.received_requests().await.unwrap();
    let get = received
        .iter()
        .find(|r| r.method.as_str() == "GET")
        .unwrap();
    assert!(get.body.is_empty());
    assert!(get.headers.get("content-type").is_none());
}

#[tokio::test]
async fn a_redirect_to_another_host_drops_the_authorization_header() {
    let other = MockServer::start().await;
    Mock::given(path("/landing"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"ok": 1})))
        .expect(1)
        .mount(&other)
        .await;
    let server = MockServer::start().await;
    Mock::given(path("/go"))
        .respond_with(
            ResponseTemplate::new(307)
                .insert_header("Location", format!("{}/landing", other.uri())),
        )
        .expect(1)
        .mount(&server)
        .await;
    let (out, _dir) = run_chain(
        &server.uri(),
        "steps:\n  - name: Go\n    url: \"{{ base }}/go\"\n    headers: {Authorization: Bearer s3cr3t-t0ken, X-Trace: t1}\n",
        &["-q"],
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    let first = &server.received_requests().await.unwrap()[0];
    assert_eq!(
        first.headers.get("authorization").unwrap(),
        "Bearer s3cr3t-t0ken"
    );
    let landed = &other.received_requests().await.unwrap()[0];
    assert!(landed.headers.get("authorization").is_none());
    assert_eq!(landed.headers.get("x-trace").unwrap(), "t1");
    // Another origin learns only where the request came from, not the page.
    assert_eq!(
        landed.headers.get("referer").unwrap().to_str().unwrap(),
        format!("{}/", server.uri())
    );
}

#[tokio::test]
async fn a_redirect_loop_stops_with_a_clear_error() {
    let server = MockServer::start().await;
    Mock::given(path("/a"))
        .respond_with(ResponseTemplate::new(302).insert_header("Location", "/b"))
        .mount(&server)
        .await;
    Mock::given(path("/b"))
        .respond_with(ResponseTemplate::new(302).insert_header("Location", "/a"))
        .mount(&server)
        .await;
    let (out, _dir) = run_chain(
        &server.uri(),
        "steps:\n  - name: Loop\n    url: \"{{ base }}/a\"\n",
        &["-q"],
    );
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert!(
        out.stderr.contains("too many redirects (more than 10)"),
        "{}",
        out.stderr
    );
    // The first request and ten redirects, then it stops.
    assert_eq!(server.received_requests().await.unwrap().len(), 11);
}

#[tokio::test]
async fn an_unwritable_report_or_tape_stops_the_run_before_anything_is_sent() {
    let server = MockServer::start().await;
    Mock::given(wiremock::matchers::any())
        .respond_with(ResponseTemplate::new(200))
        .expect(0)
        .mount(&server)
        .await;
    let dir = Scratch::new();
    let chain = dir.file("c.yaml", "steps:\n  - name: A\n    url: \"{{ base }}/a\"\n");
    let base = format!("base={}", server.uri());
    for flag in ["--report", "--record"] {
        let out = run(&[
            "run",
            chain.to_str().unwrap(),
            "--var",
            &base,
            flag,
            "/nonexistent-dir/x.json",
        ]);
        assert_eq!(out.code, 2, "{flag}: {}", out.stderr);
        assert!(
            out.stderr.starts_with(&format!(
                "error: {flag} /nonexistent-dir/x.json: cannot be written"
            )),
            "{}",
            out.stderr
        );
        let out = run(&["run", chain.to_str().unwrap(), "--var", &base, flag, "-"]);
        assert_eq!(out.code, 2, "{flag} -: {}", out.stderr);
    }
}

#[tokio::test]
async fn a_password_in_the_url_appears_in_no_output() {
    let server = MockServer::start().await;
    Mock::given(path("/private"))
        .respond_with(ResponseTemplate::new(403).set_body_json(json!({"error": "forbidden"})))
        .mount(&server)
        .await;
    let dir = Scratch::new();
    let authority = server
        .uri()
        .replace("http://", "http://ann:Pa55w0rd-canary@");
    let chain = dir.file(
        "c.yaml",
        "steps:\n  - name: P\n    url: \"{{ base }}/private\"\n",
    );
    let report = dir.path("report.json");
    let tape = dir.path("tape.json");
    let out = run(&[
        "run",
        chain.to_str().unwrap(),
        "--var",
        &format!("base={authority}"),
        "-vvv",
        "--report",
        report.to_str().unwrap(),
        "--record",
        tape.to_str().unwrap(),
    ]);
    assert_eq!(out.code, 1);
    assert!(out.stderr.contains("ann:***@"), "{}", out.stderr);
    for (what, text) in [
        ("stderr", out.stderr.clone()),
        ("stdout", out.stdout.clone()),
        ("report", std::fs::read_to_string(&report).unwrap()),
        ("tape", std::fs::read_to_string(&tape).unwrap()),
    ] {
        assert!(
            !text.contains("Pa55w0rd-canary"),
            "the password leaked into {what}:\n{text}"
        );
    }
}

#[test]
fn a_closed_stderr_is_not_a_panic() {
    // `validate` writes once per file; after `head` exits the later writes fail.
    let bin = assert_cmd::cargo::cargo_bin("pytopus");
    let files = vec!["tests/chains/invalid/unknown_key.yaml"; 200].join(" ");
    let out = std::process::Command::new("bash")
        .arg("-c")
        .arg(format!(
            "'{}' validate {files} 2>&1 | head -c 1 >/dev/null; echo ${{PIPESTATUS[0]}}",
            bin.display()
        ))
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "2");
}

#[tokio::test]
async fn a_redirect_can_be_checked_instead_of_followed() {
    let server = MockServer::start().await;
    Mock::given(path("/old"))
        .respond_with(ResponseTemplate::new(301).insert_header("Location", "/new"))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(path("/new"))
        .respond_with(ResponseTemplate::new(200))
        .expect(0)
        .mount(&server)
        .await;
    let (out, _dir) = run_chain(
        &server.uri(),
        "steps:\n  - name: Old\n    url: \"{{ base }}/old\"\n    follow_redirects: false\n    expect: {status: 301, headers: {location: /new}}\n    extract: {to: \"header:location\"}\noutput: \"{{ to }}\"\n",
        &["-q"],
    );
    assert_eq!(
        (out.code, out.stdout.as_str()),
        (0, "\"/new\"\n"),
        "{}",
        out.stderr
    );
}

#[test]
fn dry_run_shows_what_needs_a_response_as_written() {
    let chain = "steps:\n  - name: Posts\n    url: https://api.test/posts\n  - name: Count\n    method: POST\n    url: https://api.test/count/{{ Posts | length }}\n    body: {n: \"{{ Posts | length }}\", id: \"{{ Posts[0].id }}\", fixed: 1}\n";
    let out = run_cmd(
        pytopus()
            .args(["run", "-", "--dry-run", "-q"])
            .write_stdin(chain),
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(
        out.stdout
            .contains("POST https://api.test/count/{{ Posts | length }}\n"),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout
            .contains(r#"{"n":"{{ Posts | length }}","id":"<Posts[0].id>","fixed":1}"#),
        "{}",
        out.stdout
    );
}

#[test]
fn dry_run_of_a_fan_out_over_a_response_shows_one_request_for_every_item() {
    let chain = "steps:\n  - name: Users\n    url: https://api.test/users\n  - name: Posts\n    for_each: \"{{ Users }}\"\n    url: https://api.test/posts\n    query_params: {user: \"{{ item.id }}\"}\n  - name: Known\n    for_each: [a, b]\n    url: https://api.test/k/{{ item }}\n";
    let out = run_cmd(
        pytopus()
            .args(["run", "-", "--dry-run", "--no-progress"])
            .write_stdin(chain),
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(
        out.stdout,
        "# Users\nGET https://api.test/users\n\n\
         # Posts [<item>]\nGET https://api.test/posts?user=<item.id>\n\
         # Posts: one request per item of `{{ Users }}`; how many comes from a response, unknown in a dry run\n\n\
         # Known [0]\nGET https://api.test/k/a\n\n\
         # Known [1]\nGET https://api.test/k/b\n"
    );
    assert!(!out.stderr.contains("FAIL"), "{}", out.stderr);
}

#[test]
fn dry_run_shows_a_sub_chains_requests_and_what_paginate_will_follow() {
    let dir = Scratch::new();
    dir.file(
        "lib.yaml",
        "vars: {id: 0}\nsteps:\n  - name: One\n    url: https://api.test/one/{{ id }}\n",
    );
    let main = dir.file(
        "main.yaml",
        "steps:\n  - name: Sub\n    chain: lib.yaml\n    with: {id: 7}\n  - name: All\n    url: https://api.test/all\n    paginate: {next_url: \"$.next\", max_pages: 5}\n",
    );
    let out = run_cmd(pytopus().args(["run", main.to_str().unwrap(), "--dry-run", "-q"]));
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(
        out.stdout,
        "# Sub › One\nGET https://api.test/one/7\n\n\
         # All\nGET https://api.test/all\n\
         # All: the first page; `paginate` then follows the URL at `$.next` in each response, up to 5 pages\n"
    );
}

#[tokio::test]
async fn verbose_levels_show_lines_then_headers_then_bodies() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/items"))
        .respond_with(
            ResponseTemplate::new(201)
                .insert_header("x-answer", "forty-two")
                .set_body_json(json!({"id": 7, "note": "x".repeat(3000)})),
        )
        .mount(&server)
        .await;
    let chain = "steps:\n  - name: Make\n    method: POST\n    url: \"{{ base }}/items\"\n    headers: {X-Asked: please}\n    body: {title: hello}\n";
    let uri = server.uri();
    let (v1, _d1) = run_chain(&uri, chain, &["-v"]);
    assert_eq!(v1.code, 0, "{}", v1.stderr);
    assert!(
        v1.stderr.contains(&format!("> POST {uri}/items")),
        "{}",
        v1.stderr
    );
    assert!(
        v1.stderr.contains(&format!("< 201 Created {uri}/items")),
        "{}",
        v1.stderr
    );
    assert!(!v1.stderr.contains("x-answer"), "{}", v1.stderr);

    let (v2, _d2) = run_chain(&uri, chain, &["-vv"]);
    assert!(v2.stderr.contains("> X-Asked: please"), "{}", v2.stderr);
    assert!(v2.stderr.contains("< x-answer: forty-two"), "{}", v2.stderr);
    assert!(
        !v2.stderr.contains("{\"title\":\"hello\"}"),
        "{}",
        v2.stderr
    );

    let (v3, _d3) = run_chain(&uri, chain, &["-vvv"]);
    assert!(
        v3.stderr.contains("> {\"title\":\"hello\"} (17 bytes)"),
        "{}",
        v3.stderr
    );
    // Long bodies are cut, with their size.
    assert!(
        v3.stderr.contains("x… (3018 bytes in all)"),
        "{}",
        v3.stderr
    );

    // PYTOPUS_LOG takes a tracing filter instead of -v.
    let dir = Scratch::new();
    let path = dir.file("c.yaml", chain);
    let out = run_cmd(
        pytopus()
            .args([
                "run",
                path.to_str().unwrap(),
                "--var",
                &format!("base={uri}"),
            ])
            .env("PYTOPUS_LOG", "pytopus::http=debug"),
    );
    assert!(
        out.stderr
            .contains("DEBUG pytopus::http: < x-answer: forty-two"),
        "{}",
        out.stderr
    );
}

#[tokio::test]
async fn verbose_traces_every_attempt() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(503))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"ok": true})))
        .mount(&server)
        .await;
    let chain = "steps:\n  - name: Flaky\n    url: \"{{ base }}/x\"\n    retry: {attempts: 2, backoff: 10ms}\n";
    let (out, _d) = run_chain(&server.uri(), chain, &["-v"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(out.stderr.matches("> GET ").count(), 2, "{}", out.stderr);
    assert!(
        out.stderr.contains("< 503 Service Unavailable"),
        "{}",
        out.stderr
    );
    assert!(out.stderr.contains("< 200 OK"), "{}", out.stderr);
}

#[tokio::test]
async fn the_last_line_sums_the_run_up_and_repeats_what_on_error_let_pass() {
    let server = MockServer::start().await;
    Mock::given(path("/down"))
        .respond_with(ResponseTemplate::new(500))
        .mount(&server)
        .await;
    Mock::given(path("/ok"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!([1, 2, 3])))
        .mount(&server)
        .await;
    let chain = "steps:\n  - name: Flaky\n    url: \"{{ base }}/down\"\n    on_error: continue\n  - name: List\n    url: \"{{ base }}/ok\"\n  - name: Each\n    for_each: \"{{ List }}\"\n    url: \"{{ base }}/ok?n={{ item }}\"\n  - name: Never\n    when: \"{{ false }}\"\n    url: \"{{ base }}/ok\"\n";
    let (out, dir) = run_chain(&server.uri(), chain, &["--no-progress"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    insta::assert_snapshot!(scrub(&out.stderr, &server.uri(), Some(dir.dir.path())), @r#"
    [1/4] FAIL (continued) Flaky GET http://SERVER/down → 500 Internal Server Error ([T])
    [2/4] ok List GET http://SERVER/ok → 200 OK ([T])
    [3/4] ok Each GET {{ base }}/ok?n={{ item }} → 3 items ([T])
    [4/4] skip Never GET (skipped: `when` is false)
    ✓ passed: 2 ok, 1 failed and continued (on_error), 1 skipped in [T]
      continued after `Flaky`: expected status 2xx, got 500 Internal Server Error
    "#);
    // -q: nothing but the result.
    let (quiet, _dir) = run_chain(&server.uri(), chain, &["-q"]);
    assert_eq!(quiet.stderr, "");
}

#[tokio::test]
async fn header_lines_of_a_trace_do_not_repeat_the_step() {
    let server = MockServer::start().await;
    Mock::given(path("/h"))
        .respond_with(ResponseTemplate::new(200).insert_header("x-one", "1"))
        .mount(&server)
        .await;
    let chain = "steps:\n  - name: H\n    url: \"{{ base }}/h\"\n    headers: {X-Asked: yes}\n";
    let (out, _dir) = run_chain(&server.uri(), chain, &["-vv", "--no-progress"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let headers: Vec<&str> = out
        .stderr
        .lines()
        .filter(|l| l.starts_with("> X-Asked") || l.starts_with("< x-one"))
        .collect();
    assert_eq!(headers, ["> X-Asked: yes", "< x-one: 1"], "{}", out.stderr);
    assert!(
        out.stderr
            .lines()
            .any(|l| l.starts_with("> GET ") && l.ends_with("step=\"H\"")),
        "{}",
        out.stderr
    );
}

/// `--step`, `--from`, `--until`: part of a chain, the earlier results it
/// reads taken from the last recorded run.
#[tokio::test]
async fn part_of_a_chain_runs_with_earlier_results_from_the_history() {
    let server = MockServer::start().await;
    Mock::given(path("/a"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"id": 1})))
        .mount(&server)
        .await;
    Mock::given(path("/b/1"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"n": 2})))
        .mount(&server)
        .await;
    Mock::given(path("/c/2"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"done": true})))
        .mount(&server)
        .await;
    let dir = Scratch::new();
    let chain = dir.file(
        "c.yaml",
        "steps:\n  - {name: A, url: \"{{ base }}/a\"}\n  - {name: B, url: \"{{ base }}/b/{{ A.id }}\"}\n  - {name: C, url: \"{{ base }}/c/{{ B.n }}\"}\n",
    );
    let base = format!("base={}", server.uri());
    let part = |flags: &[&str]| {
        let mut args = vec![
            "run",
            chain.to_str().unwrap(),
            "--var",
            &base,
            "--no-progress",
        ];
        args.extend_from_slice(flags);
        run(&args)
    };
    let hits = || async {
        let all = server.received_requests().await.unwrap();
        let paths: Vec<String> = all.iter().map(|r| r.url.path().to_string()).collect();
        server.reset().await;
        paths
    };
    // Nothing recorded yet: B cannot run alone.
    let out = part(&["--step", "B"]);
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(
        out.stderr
            .contains("`B` reads `A`, and the history has no run of"),
        "{}",
        out.stderr
    );
    assert!(out.stderr.contains("--until A`"), "{}", out.stderr);
    // --until needs nothing earlier, and prints the result of where it stopped.
    let out = part(&["--until", "A"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(out.stdout, "{\n  \"id\": 1\n}\n");
    assert!(out.stderr.contains("1 ok, 2 not run"), "{}", out.stderr);
    let _ = hits().await;
    // The last run (the part above) has A: B runs alone with it.
    for m in [
        ("/a", json!({"id": 1})),
        ("/b/1", json!({"n": 2})),
        ("/c/2", json!({"done": true})),
    ] {
        Mock::given(path(m.0))
            .respond_with(ResponseTemplate::new(200).set_body_json(m.1))
            .mount(&server)
            .await;
    }
    let out = part(&["--step", "B"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(out.stdout, "{\n  \"n\": 2\n}\n");
    assert!(
        out.stderr.contains("the results of `A` are taken from run"),
        "{}",
        out.stderr
    );
    assert_eq!(hits().await, ["/b/1"]);
    for m in [("/c/2", json!({"done": true}))] {
        Mock::given(path(m.0))
            .respond_with(ResponseTemplate::new(200).set_body_json(m.1))
            .mount(&server)
            .await;
    }
    // --from C: B's result from the last run (the --step B run).
    let out = part(&["--from", "C"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(out.stdout, "{\n  \"done\": true\n}\n");
    assert_eq!(hits().await, ["/c/2"]);
    // Names are checked.
    let out = part(&["--from", "Bb"]);
    assert_eq!(out.code, 2);
    assert!(
        out.stderr
            .contains("error: --from Bb: the chain has no step `Bb`"),
        "{}",
        out.stderr
    );
    assert!(out.stderr.contains("did you mean `B`?"), "{}", out.stderr);
    let out = part(&["--from", "C", "--until", "A"]);
    assert_eq!(out.code, 2);
    assert!(
        out.stderr.contains("--from C comes after --until A"),
        "{}",
        out.stderr
    );
}

#[tokio::test]
async fn headers_from_the_command_line_replace_the_chains() {
    let server = MockServer::start().await;
    Mock::given(path("/h"))
        .and(wiremock::matchers::header("x-env", "staging"))
        .and(wiremock::matchers::header("x-extra", "1"))
        .respond_with(ResponseTemplate::new(200))
        .expect(2)
        .mount(&server)
        .await;
    let chain = "defaults: {headers: {X-Env: prod}}\nsteps:\n  - {name: A, url: \"{{ base }}/h\"}\n  - {name: B, url: \"{{ base }}/h\", headers: {x-env: prod2}}\n";
    let (out, _d) = run_chain(
        &server.uri(),
        chain,
        &["-q", "-H", "x-env: staging", "--header", "X-Extra:1"],
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    // Sent as written: a template in a -H value is not rendered.
    let (out, _d) = run_chain(
        &server.uri(),
        chain,
        &["-q", "--dry-run", "-H", "X-T: {{ base }}"],
    );
    assert!(out.stdout.contains("X-T: {{ base }}\n"), "{}", out.stdout);
    for bad in ["NoColon", "Bad Name: x", "X: a\nb"] {
        let (out, _d) = run_chain(&server.uri(), chain, &["-H", bad]);
        assert_eq!(out.code, 2, "{bad}: {}", out.stderr);
        assert!(out.stderr.contains("'--header"), "{}", out.stderr);
    }
}

/// `--every`: Ctrl-C during a run ends the loop, not just that run.
#[cfg(unix)]
#[tokio::test]
async fn ctrl_c_during_a_run_ends_every() {
    let server = MockServer::start().await;
    Mock::given(path("/slow"))
        .respond_with(ResponseTemplate::new(200).set_delay(Duration::from_secs(30)))
        .mount(&server)
        .await;
    let dir = Scratch::new();
    let chain = dir.file(
        "c.yaml",
        "steps:\n  - name: Slow\n    url: \"{{ base }}/slow\"\n",
    );
    let child = crate::support::spawn_chain(&chain, &server.uri(), &["--every", "1s", "-q"]);
    crate::support::signal_when_busy(&server, child.id(), "INT").await;
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(130));
}

/// YAML anchors, aliases and `<<` merges share values between steps: an
/// alias copies a whole map, and a merge's keys give way to the map's own.
#[test]
fn anchors_aliases_and_merges_share_headers_between_steps() {
    let server = crate::support::recording::Recording::start(None);
    let chain = "steps:
  - name: A
    url: \"{{ base }}/a\"
    headers: &common {X-Team: blue, X-Trace: 'on'}
  - name: B
    url: \"{{ base }}/b\"
    headers:
      X-Trace: 'off'
      <<: [*common, {X-Extra: yes, X-Team: red}]
  - name: C
    url: \"{{ base }}/c\"
    headers: *common
";
    let (out, _dir) = run_chain(&server.by_ip(), chain, &["-q"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let seen = server.seen();
    let got: Vec<_> = seen
        .iter()
        .map(|s| {
            (
                s.target.as_str(),
                s.header("x-team"),
                s.header("x-trace"),
                s.header("x-extra"),
            )
        })
        .collect();
    assert_eq!(
        got,
        [
            ("/a", Some("blue"), Some("on"), None),
            ("/b", Some("blue"), Some("off"), Some("yes")),
            ("/c", Some("blue"), Some("on"), None),
        ]
    );
}
