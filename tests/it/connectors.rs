//! Connectors: lookup order, endpoint rendering, overrides, errors, the
//! `connectors` commands, and rate limits — against servers started here.

use crate::support::{Scratch, pytopus, run_cmd};
use serde_json::{Value, json};
use wiremock::matchers::{body_json, header, method, path, query_param};
use wiremock::{Mock, MockServer, ResponseTemplate};

/// A connector file for a local API.
const LOCAL: &str = r#"
name: local
description: A local test API
base_url: http://127.0.0.1:9
headers: {X-Api: local, Accept: application/json}
endpoints:
  get_repo:
    description: One repository
    path: /repos/{owner}/{repo}
    query: {state: open, per_page: null}
  create:
    method: POST
    path: /items
    body: {title: "{{ params.title }}", tags: "{{ params.tags | default([]) }}"}
test:
  endpoint: get_repo
  params: {owner: o, repo: r}
"#;

fn run_in(dir: &Scratch, args: &[&str], env: &[(&str, &str)]) -> crate::support::Output {
    let mut cmd = pytopus();
    cmd.current_dir(dir.dir.path()).args(args);
    for (k, v) in env {
        cmd.env(k, v);
    }
    run_cmd(&mut cmd)
}

#[tokio::test]
async fn endpoint_paths_params_query_and_step_overrides() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/repos/rust%2Flang/r%20x"))
        .and(query_param("state", "closed"))
        .and(query_param("per_page", "5"))
        .and(header("x-api", "local"))
        .and(header("x-step", "1"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"id": 7})))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/items"))
        .and(body_json(json!({"title": "T7", "tags": []})))
        .respond_with(ResponseTemplate::new(201).set_body_json(json!({"ok": true})))
        .expect(1)
        .mount(&server)
        .await;
    let dir = Scratch::new();
    dir.file("connectors/local.yaml", LOCAL);
    dir.file(
        "c.yaml",
        r#"
steps:
  - name: Repo
    connector: local
    endpoint: get_repo
    params: {owner: rust/lang, repo: "r x", state: "{{ state }}"}
    query_params: {per_page: 5}
    headers: {X-Step: "1"}
  - name: Create
    connector: local
    endpoint: create
    params: {title: "T{{ Repo.id }}"}
output: "{{ Create }}"
vars: {state: closed}
"#,
    );
    let out = run_in(
        &dir,
        &["run", "c.yaml", "-q"],
        &[("PYTOPUS_LOCAL_BASE_URL", &server.uri())],
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(
        serde_json::from_str::<Value>(&out.stdout).unwrap(),
        json!({"ok": true})
    );
}

#[tokio::test]
async fn lookup_order_chain_then_beside_then_user_then_built_in() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(|req: &wiremock::Request| {
            ResponseTemplate::new(200).set_body_json(json!({"path": req.url.path()}))
        })
        .mount(&server)
        .await;
    let dir = Scratch::new();
    let user = Scratch::new();
    // The user's httpbin shadows the built-in one…
    user.file(
        "pytopus/connectors/httpbin.yaml",
        &format!("name: httpbin\nbase_url: {}/user\n", server.uri()),
    );
    let chain = "steps:\n  - {name: A, connector: httpbin, url: /x}\noutput: \"{{ A.path }}\"\n";
    dir.file("c.yaml", chain);
    let env = [("XDG_CONFIG_HOME", user.dir.path().to_str().unwrap())];
    let out = run_in(&dir, &["run", "c.yaml", "-q"], &env);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(out.stdout.trim(), "\"/user/x\"");

    // …one beside the chain shadows the user's…
    dir.file(
        "connectors/httpbin.yaml",
        &format!("name: httpbin\nbase_url: {}/beside\n", server.uri()),
    );
    let out = run_in(&dir, &["run", "c.yaml", "-q"], &env);
    assert_eq!(out.stdout.trim(), "\"/beside/x\"", "{}", out.stderr);

    // …and the chain's own entry (a file path, relative to the chain) wins.
    dir.file(
        "mine.yaml",
        &format!("name: httpbin\nbase_url: {}/chain\n", server.uri()),
    );
    dir.file("c.yaml", &format!("connectors: [mine.yaml]\n{chain}"));
    let out = run_in(&dir, &["run", "c.yaml", "-q"], &env);
    assert_eq!(out.stdout.trim(), "\"/chain/x\"", "{}", out.stderr);

    // The environment's base URL beats them all.
    let env2 = [
        env[0],
        (
            "PYTOPUS_HTTPBIN_BASE_URL",
            &*format!("{}/env", server.uri()),
        ),
    ];
    let out = run_in(&dir, &["run", "c.yaml", "-q"], &env2);
    assert_eq!(out.stdout.trim(), "\"/env/x\"", "{}", out.stderr);
}

#[tokio::test]
async fn an_inline_entry_overlays_a_built_in_connector() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/status/204"))
        .and(header("x-extra", "yes"))
        .respond_with(ResponseTemplate::new(204))
        .expect(1)
        .mount(&server)
        .await;
    let dir = Scratch::new();
    dir.file(
        "c.yaml",
        &format!(
            r#"
connectors:
  httpbin: {{base_url: "{}", headers: {{X-Extra: "yes"}}}}
steps:
  - name: S
    connector: httpbin
    endpoint: status
    params: {{code: 204}}
    expect: {{status: 204}}
"#,
            server.uri()
        ),
    );
    let out = run_in(&dir, &["run", "c.yaml", "-q"], &[]);
    assert_eq!(out.code, 0, "{}", out.stderr);
}

#[test]
fn step_errors_name_the_connector_the_endpoint_and_its_parameters() {
    let dir = Scratch::new();
    dir.file("connectors/local.yaml", LOCAL);
    dir.file(
        "c.yaml",
        r#"steps:
  - name: A
    connector: local
    endpoint: get_rep
  - name: B
    connector: local
    endpoint: get_repo
    params: {owner: x, color: red}
  - name: C
    connector: local
    url: https://elsewhere.example.com/
  - name: D
    connector: nope
    url: /x
  - name: E
    endpoint: get_repo
"#,
    );
    let out = run_in(&dir, &["validate", "c.yaml"], &[]);
    assert_eq!(out.code, 2);
    let expected = [
        "error: connector `local` has no endpoint `get_rep`\n --> c.yaml:4:15",
        "help: did you mean `get_repo`?",
        "error: endpoint `get_repo` of connector `local` has no parameter `color`\n --> c.yaml:8:24",
        "help: it takes owner (path, required), repo (path, required), state (query, optional, default \"open\"), per_page (query, optional)",
        "error: endpoint `get_repo` of connector `local` needs `repo`",
        "error: with `connector: local`, `url` must be a path such as `/users`",
        "error: there is no connector named `nope`\n  --> c.yaml:13:16",
        "error: `endpoint` needs `connector:`",
    ];
    for e in expected {
        assert!(out.stderr.contains(e), "missing {e:?} in:\n{}", out.stderr);
    }
}

#[test]
fn a_bad_connector_file_is_reported_at_its_line_and_column() {
    let dir = Scratch::new();
    dir.file(
        "connectors/local.yaml",
        "name: local\nbase_url: http://127.0.0.1:9\nendpoints:\n  get:\n    path: /x\n    metod: GET\n",
    );
    dir.file(
        "c.yaml",
        "steps:\n  - {name: A, connector: local, endpoint: get}\n",
    );
    let out = run_in(&dir, &["validate", "c.yaml"], &[]);
    assert_eq!(out.code, 2);
    assert!(
        out.stderr.contains(
            "error: unknown key `metod` in `endpoints.get`\n --> connectors/local.yaml:6:5"
        ),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr.contains("did you mean `method`?"),
        "{}",
        out.stderr
    );

    dir.file(
        "connectors/local.yaml",
        "name: local\nbase_url: not a url\nendpoints:\n  get: {path: \"x/{a b}\"}\nrate_limit: {requests: 0, per: 1m}\n",
    );
    let out = run_in(&dir, &["validate", "c.yaml"], &[]);
    assert_eq!(out.code, 2);
    let missing = dir.file(
        "m.yaml",
        "connectors: [gone.yaml]\nsteps:\n  - {name: A, connector: gone, url: /x}\n",
    );
    let m = run_in(&dir, &["validate", missing.to_str().unwrap()], &[]);
    assert_eq!(m.code, 2);
    assert!(
        m.stderr.contains("error: cannot read connector file") && m.stderr.contains("m.yaml:1:14"),
        "{}",
        m.stderr
    );
    for e in [
        "error: `not a url` is not an absolute http(s) URL\n --> connectors/local.yaml:2:11",
        "error: the path `x/{a b}` must start with `/`\n --> connectors/local.yaml:4:15",
        "error: `{a b}` in `x/{a b}` is not a parameter name",
        "error: `rate_limit.requests` must be at least 1\n --> connectors/local.yaml:5:24",
    ] {
        assert!(out.stderr.contains(e), "missing {e:?} in:\n{}", out.stderr);
    }
}

#[test]
fn every_built_in_connector_loads_and_shows() {
    let dir = Scratch::new();
    let out = run_in(&dir, &["connectors", "list"], &[]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    for name in [
        "github",
        "gitlab",
        "slack",
        "stripe",
        "google-sheets",
        "google-drive",
        "x",
        "notion",
        "jira",
        "openai",
        "jsonplaceholder",
        "httpbin",
    ] {
        let line = out
            .stdout
            .lines()
            .find(|l| l.split_whitespace().next() == Some(name))
            .unwrap_or_else(|| panic!("{name} not listed:\n{}", out.stdout));
        assert!(line.contains("built-in"), "{line}");
        let show = run_in(&dir, &["connectors", "show", name], &[]);
        assert_eq!(show.code, 0, "{name}: {}", show.stderr);
        assert!(show.stdout.contains("endpoints:"), "{}", show.stdout);
        let text = std::fs::read_to_string(format!(
            "{}/connectors/{name}.yaml",
            env!("CARGO_MANIFEST_DIR")
        ))
        .unwrap();
        let c: Value = serde_saphyr::from_str(&text).unwrap();
        assert!(
            c["endpoints"].as_object().is_some_and(|e| e.len() >= 4),
            "{name} has a handful of endpoints"
        );
        assert!(c["test"].is_object(), "{name} has a test request");
    }
}

#[test]
fn show_lists_endpoints_with_their_parameters() {
    let dir = Scratch::new();
    dir.file("connectors/local.yaml", LOCAL);
    let out = run_in(&dir, &["connectors", "show", "local"], &[]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    insta::assert_snapshot!(out.stdout, @r#"
    local — A local test API
    source:     connectors/local.yaml
    base_url:   http://127.0.0.1:9   (PYTOPUS_LOCAL_BASE_URL replaces it)
    auth:       none
    rate limit: -
    test:       endpoint get_repo

    endpoints:
      get_repo  GET    /repos/{owner}/{repo}
                One repository
                params: owner (path, required), repo (path, required), state (query, optional, default "open"), per_page (query, optional)
      create    POST   /items
                params: title (body, required), tags (body, optional)
    "#);
}

#[tokio::test]
async fn connectors_test_reports_auth_and_rate_limit_headers_without_the_secret() {
    const CANARY: &str = "CANARY-conn-5e1f";
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/rate_limit"))
        .and(header("authorization", format!("Bearer {CANARY}").as_str()))
        .respond_with(
            ResponseTemplate::new(200)
                .insert_header("x-ratelimit-limit", "5000")
                .insert_header("x-ratelimit-remaining", "4999")
                .insert_header("x-ratelimit-reset", "1893456000")
                .set_body_json(json!({"echo": CANARY})),
        )
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/rate_limit"))
        .respond_with(ResponseTemplate::new(401))
        .with_priority(10)
        .mount(&server)
        .await;
    let dir = Scratch::new();
    let env = [
        ("PYTOPUS_GITHUB_BASE_URL", server.uri()),
        ("PYTOPUS_SECRET_GITHUB_TOKEN", CANARY.to_string()),
        ("PYTOPUS_KEYRING", "off".to_string()),
    ];
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let out = run_in(&dir, &["connectors", "test", "github"], &env);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(
        out.stderr.contains("auth:       ok (bearer)"),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr.contains(
            "rate limit: x-ratelimit-limit: 5000, x-ratelimit-remaining: 4999, x-ratelimit-reset: 1893456000"
        ),
        "{}",
        out.stderr
    );
    assert!(!out.stderr.contains(CANARY) && !out.stdout.contains(CANARY));

    // A wrong token: the server says 401, and so does pytopus.
    let env = [
        ("PYTOPUS_GITHUB_BASE_URL", server.uri()),
        ("PYTOPUS_SECRET_GITHUB_TOKEN", "wrong".to_string()),
        ("PYTOPUS_KEYRING", "off".to_string()),
    ];
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let out = run_in(&dir, &["connectors", "test", "github"], &env);
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert!(
        out.stderr
            .contains("auth:       rejected (401) — check the credentials in secret github_token"),
        "{}",
        out.stderr
    );

    // No secret at all: a clear error naming it, before anything is sent.
    let env = [
        ("PYTOPUS_GITHUB_BASE_URL", server.uri()),
        ("PYTOPUS_KEYRING", "off".to_string()),
    ];
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let out = run_in(&dir, &["connectors", "test", "github"], &env);
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert!(out.stderr.contains("github_token"), "{}", out.stderr);
}

#[test]
fn new_asks_for_what_is_missing_and_writes_a_loadable_file() {
    let dir = Scratch::new();
    let out = run_cmd(
        pytopus()
            .current_dir(dir.dir.path())
            .args(["connectors", "new"])
            .write_stdin("crm\nhttps://api.crm.example.com/v2/\n\n"),
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(out.stderr.contains("Connector name: "), "{}", out.stderr);
    assert!(
        out.stderr.contains("wrote connectors/crm.yaml"),
        "{}",
        out.stderr
    );
    let show = run_in(&dir, &["connectors", "show", "crm"], &[]);
    assert_eq!(show.code, 0, "{}", show.stderr);
    assert!(
        show.stdout
            .contains("auth:       bearer (secrets: crm_token)"),
        "{}",
        show.stdout
    );
    assert!(
        show.stdout.contains("https://api.crm.example.com/v2 "),
        "{}",
        show.stdout
    );

    // Not overwritten without --force; bad answers from a pipe are errors.
    let again = run_in(
        &dir,
        &[
            "connectors",
            "new",
            "--name",
            "crm",
            "--base-url",
            "https://x.example",
            "--auth",
            "none",
        ],
        &[],
    );
    assert_eq!(again.code, 2);
    assert!(again.stderr.contains("already exists"), "{}", again.stderr);
    let bad = run_cmd(
        pytopus()
            .current_dir(dir.dir.path())
            .args(["connectors", "new"])
            .write_stdin("Bad Name\n"),
    );
    assert_eq!(bad.code, 2);
    assert!(
        bad.stderr.contains("is not a valid connector name"),
        "{}",
        bad.stderr
    );
}

#[tokio::test]
async fn a_rate_limited_connector_makes_requests_wait_and_says_so() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({})))
        .mount(&server)
        .await;
    let dir = Scratch::new();
    dir.file(
        "c.yaml",
        &format!(
            r#"
connectors:
  slow: {{base_url: "{}", rate_limit: {{requests: 1, per: 2s}}}}
steps:
  - name: Items
    connector: slow
    url: /item/{{{{ item }}}}
    for_each: [1, 2]
    concurrency: 2
"#,
            server.uri()
        ),
    );
    let out = run_in(&dir, &["run", "c.yaml", "--no-progress"], &[]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(
        out.stderr.contains("Items waits") && out.stderr.contains("for the slow rate limit"),
        "{}",
        out.stderr
    );
    assert_eq!(server.received_requests().await.unwrap().len(), 2);
}

#[tokio::test]
async fn an_imported_openapi_document_runs_as_a_connector() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/api/v3/pet"))
        .and(header("api_key", "k-123"))
        // Optional fields not given are left out, not sent as null.
        .and(body_json(
            json!({"name": "Rex", "photoUrls": [], "status": "available"}),
        ))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"id": 7, "name": "Rex"})))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/api/v3/pet/7"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"id": 7, "status": "sold"})))
        .expect(1)
        .mount(&server)
        .await;
    let dir = Scratch::new();
    let spec = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/openapi/petstore.yaml"
    );

    // The Petstore's server URL is relative: without an address, nothing is written.
    let out = run_in(
        &dir,
        &["connectors", "import", spec, "--name", "petstore"],
        &[],
    );
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(
        out.stderr
            .contains("the API's server URL is relative (`/api/v3`)"),
        "{}",
        out.stderr
    );
    assert!(!dir.path("connectors/petstore.yaml").exists());

    let out = run_in(
        &dir,
        &[
            "connectors",
            "import",
            spec,
            "--name",
            "petstore",
            "--base-url",
            &server.uri(),
        ],
        &[],
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(
        out.stderr
            .contains("wrote connectors/petstore.yaml (19 endpoints)"),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr
            .contains("warning: security scheme `petstore_auth`"),
        "{}",
        out.stderr
    );
    dir.file(
        "pets.yaml",
        r#"
steps:
  - name: Add
    connector: petstore
    endpoint: add_pet
    params: {name: Rex, photoUrls: [], status: available}
  - name: Get
    connector: petstore
    endpoint: get_pet_by_id
    params: {petId: "{{ Add.id }}"}
output: "{{ Get.status }}"
"#,
    );
    let out = run_in(
        &dir,
        &["run", "pets.yaml", "-q"],
        &[
            ("PYTOPUS_KEYRING", "off"),
            ("PYTOPUS_SECRET_PETSTORE_KEY", "k-123"),
        ],
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(out.stdout.trim(), "\"sold\"");

    // An existing file is kept unless --force.
    let again = run_in(
        &dir,
        &[
            "connectors",
            "import",
            spec,
            "--name",
            "petstore",
            "--base-url",
            &server.uri(),
        ],
        &[],
    );
    assert_eq!(again.code, 2);
    assert!(again.stderr.contains("already exists"), "{}", again.stderr);
}

#[test]
fn import_refuses_swagger_2_and_broken_documents() {
    let dir = Scratch::new();
    let swagger = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/openapi/swagger-2.0.yaml"
    );
    let out = run_in(&dir, &["connectors", "import", swagger], &[]);
    assert_eq!(out.code, 2);
    assert!(
        out.stderr.contains("Swagger 2.0 is not supported"),
        "{}",
        out.stderr
    );
    let broken = dir.file("broken.yaml", "openapi: 3.0.3\ninfo: {title: x\n");
    let out = run_in(
        &dir,
        &["connectors", "import", broken.to_str().unwrap()],
        &[],
    );
    assert_eq!(out.code, 2);
    assert!(out.stderr.starts_with("error: "), "{}", out.stderr);
    let missing = run_in(&dir, &["connectors", "import", "nope.yaml"], &[]);
    assert_eq!(missing.code, 2);
    assert!(
        missing.stderr.contains("cannot read nope.yaml"),
        "{}",
        missing.stderr
    );
}
