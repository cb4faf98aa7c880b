//! `on_success`, `on_failure` and `expect.that` in a chain: jumps, an end,
//! runs again, conditions over the response, and the mistakes validation
//! refuses.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use crate::support::{Scratch, run, run_chain};
use serde_json::{Value, json};
use wiremock::matchers::path;
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

/// Answers 503 (with `Retry-After: 0`) `fails` times, then 200 with the count.
struct Flaky {
    hits: Arc<AtomicUsize>,
    fails: usize,
}

impl Respond for Flaky {
    fn respond(&self, _: &Request) -> ResponseTemplate {
        let n = self.hits.fetch_add(1, Ordering::SeqCst) + 1;
        if n <= self.fails {
            ResponseTemplate::new(503).insert_header("retry-after", "0")
        } else {
            ResponseTemplate::new(200).set_body_json(json!({"n": n, "state": "ready"}))
        }
    }
}

async fn server(fails: usize) -> (MockServer, Arc<AtomicUsize>) {
    let server = MockServer::start().await;
    let hits = Arc::new(AtomicUsize::new(0));
    Mock::given(path("/flaky"))
        .respond_with(Flaky {
            hits: Arc::clone(&hits),
            fails,
        })
        .mount(&server)
        .await;
    for p in ["/a", "/b", "/c"] {
        Mock::given(path(p))
            .respond_with(ResponseTemplate::new(200).set_body_json(json!({"at": p})))
            .mount(&server)
            .await;
    }
    (server, hits)
}

async fn paths(server: &MockServer) -> Vec<String> {
    server
        .received_requests()
        .await
        .unwrap_or_default()
        .iter()
        .map(|r| r.url.path().to_string())
        .collect()
}

#[tokio::test]
async fn retry_runs_the_step_again_until_it_passes() {
    let (server, hits) = server(2).await;
    let chain = r#"
defaults: {retry: {attempts: 1}}
steps:
  - name: Flaky
    url: "{{ base }}/flaky"
    on_failure:
      - retry: {limit: 3}
output: {n: "{{ Flaky.n }}", attempts: "{{ steps.Flaky.attempts }}"}
"#;
    let (out, _d) = run_chain(&server.uri(), chain, &[]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(hits.load(Ordering::SeqCst), 3);
    assert_eq!(
        serde_json::from_str::<Value>(&out.stdout).unwrap(),
        json!({"n": 3, "attempts": 3})
    );
    assert!(
        out.stderr.contains("on_failure retry 1 of 3"),
        "{}",
        out.stderr
    );
}

#[tokio::test]
async fn retry_gives_up_at_its_limit_and_the_failure_stops_the_run() {
    let (server, hits) = server(5).await;
    let chain = r#"
defaults: {retry: {attempts: 1}}
steps:
  - name: Flaky
    url: "{{ base }}/flaky"
    on_failure:
      - retry: {limit: 2, after: 1ms}
  - name: After
    url: "{{ base }}/a"
"#;
    let (out, _d) = run_chain(&server.uri(), chain, &[]);
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert_eq!(hits.load(Ordering::SeqCst), 3);
    assert_eq!(paths(&server).await, ["/flaky", "/flaky", "/flaky"]);
}

#[tokio::test]
async fn goto_on_failure_handles_it_and_goto_on_success_jumps_over_steps() {
    let (server, _) = server(99).await;
    let chain = r#"
defaults: {retry: {attempts: 1}}
steps:
  - name: Flaky
    url: "{{ base }}/flaky"
    on_failure:
      - goto: Fallback
        when: "{{ response.status == 503 }}"
  - name: Skipped
    url: "{{ base }}/a"
  - name: Fallback
    url: "{{ base }}/b"
    on_success:
      - goto: Last
        when: "{{ response.body.at == '/b' }}"
  - name: AlsoSkipped
    url: "{{ base }}/a"
  - name: Last
    url: "{{ base }}/c"
output: {skipped: "{{ steps.Skipped.skipped }}", last: "{{ Last.at }}", error: "{{ steps.Flaky.error.kind }}"}
"#;
    let (out, _d) = run_chain(&server.uri(), chain, &[]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(paths(&server).await, ["/flaky", "/b", "/c"]);
    assert_eq!(
        serde_json::from_str::<Value>(&out.stdout).unwrap(),
        json!({"skipped": true, "last": "/c", "error": "expectation"})
    );
}

#[tokio::test]
async fn end_stops_the_steps_but_not_the_finally_steps() {
    let (server, _) = server(0).await;
    let chain = r#"
steps:
  - name: A
    url: "{{ base }}/a"
    on_success:
      - end: true
  - name: B
    url: "{{ base }}/b"
finally:
  - name: Cleanup
    url: "{{ base }}/c"
"#;
    let (out, _d) = run_chain(&server.uri(), chain, &[]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(paths(&server).await, ["/a", "/c"]);
}

#[tokio::test]
async fn a_goto_that_always_goes_back_is_stopped() {
    let (server, _) = server(0).await;
    let chain = r#"
steps:
  - name: A
    url: "{{ base }}/a"
  - name: B
    url: "{{ base }}/b"
    on_success:
      - goto: A
"#;
    let (out, _d) = run_chain(&server.uri(), chain, &[]);
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert!(
        out.stderr.contains("go round in a circle"),
        "{}",
        out.stderr
    );
    assert_eq!(paths(&server).await.len(), 10_000);
}

#[tokio::test]
async fn expect_that_checks_conditions_over_the_response() {
    let (server, _) = server(0).await;
    let chain = r#"
steps:
  - name: Flaky
    url: "{{ base }}/flaky"
    expect:
      that:
        - "{{ response.status == 200 and response.body.state is matching('^rea') }}"
        - "{{ response.headers['content-type'] is matching('json') }}"
        - "{{ response.body.n > 5 }}"
"#;
    let (out, _d) = run_chain(&server.uri(), chain, &[]);
    assert_eq!(out.code, 1, "{}", out.stderr);
    // Only the third does not hold, and the message names it.
    assert!(
        out.stderr
            .contains("{{ response.body.n > 5 }}: expected true, got false"),
        "{}",
        out.stderr
    );
    assert_eq!(
        out.stderr.matches("expected true").count(),
        1,
        "{}",
        out.stderr
    );
}

#[test]
fn mistakes_in_actions_are_validation_errors_at_their_place() {
    let cases: &[(&str, &str)] = &[
        (
            "steps:\n  - name: A\n    url: http://x\n    on_success:\n      - goto: Nope\n",
            "there is no step named `Nope`\n --> /c.yaml:5:15",
        ),
        (
            "steps:\n  - name: A\n    url: http://x\n    on_success:\n      - retry: {limit: 2}\n",
            "`retry` is an `on_failure` action",
        ),
        (
            "steps:\n  - name: A\n    url: http://x\n    on_failure:\n      - {goto: A, end: true}\n",
            "an action is one of `goto: STEP`, `end: true` and `retry: {limit, after}`",
        ),
        (
            "parallel: auto\nsteps:\n  - name: A\n    url: http://x\n    on_failure:\n      - end: true\n",
            "`on_failure` needs the steps to run in order",
        ),
        (
            "steps:\n  - name: A\n    url: http://x\nfinally:\n  - name: B\n    url: http://x\n    on_success:\n      - end: true\n",
            "a `finally` step cannot have `on_success`",
        ),
        (
            "steps:\n  - name: A\n    url: http://x\n  - name: B\n    url: http://x\n    on_success:\n      - goto: A\n        when: \"{{ nosuch }}\"\n",
            "`nosuch` is not defined",
        ),
    ];
    for (chain, want) in cases {
        let dir = Scratch::new();
        let file = dir.file("c.yaml", chain);
        let out = run(&["validate", file.to_str().unwrap()]);
        assert_eq!(out.code, 2, "{chain}");
        let text = out
            .stderr
            .replace(&dir.dir.path().display().to_string(), "");
        assert!(text.contains(want), "{chain}\nwanted: {want}\n{text}");
    }
}

#[test]
fn a_condition_over_a_response_that_never_came_does_not_hold() {
    // Nothing listens on port 9: the step fails without an answer, so the
    // retry that asks for a 503 does not apply and the goto after it does.
    let chain = r#"
defaults: {retry: {attempts: 1}, timeout: 2s}
steps:
  - name: Down
    url: http://127.0.0.1:9/x
    on_failure:
      - retry: {limit: 5}
        when: "{{ response.status == 503 }}"
      - goto: Done
        when: "{{ response.status is none }}"
  - name: Skipped
    url: http://127.0.0.1:9/y
  - name: Done
    url: http://127.0.0.1:9/z
    on_error: continue
output: {down: "{{ steps.Down.error.kind }}", skipped: "{{ steps.Skipped.skipped }}"}
"#;
    let (out, _d) = run_chain("http://unused", chain, &[]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(!out.stderr.contains("on_failure retry"), "{}", out.stderr);
    assert_eq!(
        serde_json::from_str::<Value>(&out.stdout).unwrap(),
        json!({"down": "connect", "skipped": true})
    );
}
