//! Control flow: `when`, `on_error: continue` and GraphQL steps, against
//! servers started here.

mod support;

use serde_json::{Value, json};
use support::run_chain;
use wiremock::matchers::{body_json, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

#[tokio::test]
async fn when_false_skips_the_step_and_says_so() {
    let server = MockServer::start().await;
    Mock::given(path("/flags"))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(json!({"beta": false, "stable": true})),
        )
        .mount(&server)
        .await;
    Mock::given(path("/beta"))
        .respond_with(ResponseTemplate::new(200))
        .expect(0)
        .mount(&server)
        .await;
    Mock::given(path("/stable"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"ran": true})))
        .expect(1)
        .mount(&server)
        .await;
    let chain = r#"
steps:
  - name: Flags
    url: "{{ base }}/flags"
  - name: Beta
    when: "{{ Flags.beta }}"
    url: "{{ base }}/beta"
  - name: Stable
    when: "{{ Flags.stable and not steps.Beta.skipped is false }}"
    url: "{{ base }}/stable"
output: {beta_skipped: "{{ steps.Beta.skipped }}", beta: "{{ Beta }}", stable: "{{ Stable.ran }}"}
"#;
    let (out, _dir) = run_chain(&server.uri(), chain, &[]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let v: Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(
        v,
        json!({"beta_skipped": true, "beta": null, "stable": true})
    );
    assert!(
        out.stderr
            .contains("[2/3] skip Beta GET (skipped: `when` is false)"),
        "{}",
        out.stderr
    );
}

#[tokio::test]
async fn reading_a_skipped_step_is_a_clear_error() {
    let server = MockServer::start().await;
    Mock::given(path("/never"))
        .respond_with(ResponseTemplate::new(200))
        .expect(0)
        .mount(&server)
        .await;
    let chain = "steps:\n  - name: A\n    when: \"{{ 1 > 2 }}\"\n    url: \"{{ base }}/never\"\n  - name: B\n    url: \"{{ base }}/b/{{ A.id }}\"\n";
    let (out, _dir) = run_chain(&server.uri(), chain, &["-q"]);
    assert_eq!(out.code, 1);
    assert!(
        out.stderr.contains("undefined value `A.id`"),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr
            .contains("note: step `A` was skipped (`when` was false), so its result is null"),
        "{}",
        out.stderr
    );
}

#[tokio::test]
async fn on_error_continue_records_the_error_and_the_run_passes() {
    let server = MockServer::start().await;
    Mock::given(path("/optional"))
        .respond_with(ResponseTemplate::new(503).set_body_string("down"))
        .mount(&server)
        .await;
    Mock::given(path("/fallback"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"from": "fallback"})))
        .expect(1)
        .mount(&server)
        .await;
    let dir = support::Scratch::new();
    let report = dir.path("r.json");
    let chain = r#"
steps:
  - name: Optional
    url: "{{ base }}/optional"
    retry: {attempts: 1}
    on_error: continue
  - name: Fallback
    when: "{{ steps.Optional.error is not none }}"
    url: "{{ base }}/fallback"
output:
  kind: "{{ steps.Optional.error.kind }}"
  status: "{{ steps.Optional.error.status }}"
  used: "{{ Fallback.from }}"
"#;
    let (out, _d) = run_chain(
        &server.uri(),
        chain,
        &["--report", report.to_str().unwrap()],
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    let v: Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(
        v,
        json!({"kind": "expectation", "status": 503, "used": "fallback"})
    );
    assert!(
        out.stderr.contains("[1/2] FAIL (continued) Optional"),
        "{}",
        out.stderr
    );
    let r: Value = serde_json::from_str(&std::fs::read_to_string(&report).unwrap()).unwrap();
    assert_eq!(r["status"], "passed");
    assert_eq!(r["steps"][0]["status"], "failed");
    assert_eq!(r["steps"][0]["continued"], true);
}

#[tokio::test]
async fn graphql_posts_the_query_and_the_result_is_data() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/graphql"))
        .and(body_json(json!({
            "query": "query($id: ID!) { User(id: $id) { name } }",
            "variables": {"id": 1},
            "operationName": "GetUser"
        })))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(json!({"data": {"User": {"name": "Ann"}}})),
        )
        .expect(1)
        .mount(&server)
        .await;
    let chain = r#"
vars: {user_id: 1}
steps:
  - name: User
    url: "{{ base }}/graphql"
    graphql:
      query: "query($id: ID!) { User(id: $id) { name } }"
      variables: {id: "{{ user_id }}"}
      operation_name: GetUser
    extract: {name: "$.User.name"}
output: "{{ name }} / {{ User.User.name }}"
"#;
    let (out, _dir) = run_chain(&server.uri(), chain, &["-q"]);
    assert_eq!(
        (out.code, out.stdout.as_str()),
        (0, "\"Ann / Ann\"\n"),
        "{}",
        out.stderr
    );
}

#[tokio::test]
async fn graphql_errors_fail_the_step_with_messages_and_paths() {
    let server = MockServer::start().await;
    Mock::given(path("/graphql"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "data": {"User": null},
            "errors": [
                {"message": "User 99 not found", "path": ["User"]},
                {"message": "Cannot query field \"nam\"", "path": ["User", 0, "nam"]}
            ]
        })))
        .mount(&server)
        .await;
    let chain = "steps:\n  - name: User\n    url: \"{{ base }}/graphql\"\n    graphql: {query: \"{ User(id: 99) { nam } }\"}\n";
    let (out, _dir) = run_chain(&server.uri(), chain, &["-q"]);
    assert_eq!(out.code, 1);
    assert!(
        out.stderr.contains(
            "failed: 2 GraphQL errors: User 99 not found (at User); Cannot query field \"nam\" (at User.0.nam)"
        ),
        "{}",
        out.stderr
    );
}
