//! `pytopus import postman` (issue #26, item 1): Postman collections
//! (tests/data/postman, v2.1 with an environment, and v2.0) become chains
//! that `validate` accepts and that send, against a local server, what the
//! collection describes — with extracted values passed on and the tests
//! translated into `expect` that pass and fail as they should. Credentials
//! never appear in the chain or the notes.

use std::path::{Path, PathBuf};

use base64::Engine as _;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

use crate::support::{Scratch, pytopus, run_cmd};

fn data(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/postman")
        .join(name)
}

fn text(name: &str) -> String {
    std::fs::read_to_string(data(name)).unwrap()
}

/// The values the fixtures hold that must never be written out.
const SECRETS: &[&str] = &[
    "cs_9b8a7c6d5e4f3a2b1c0d",
    "S3cure-admin-pw!",
    "ak_live_5f3c9e1b7d2a4c6e8f0a1b3c",
    "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJsZWdhY3kifQ.c2lnbmF0dXJl",
    "hunter2-hunter2",
    "pa55word-legacy",
    "digest-pw-123",
];

fn import_cli(args: &[&str]) -> crate::support::Output {
    let mut cmd = pytopus();
    cmd.args(["import", "postman"]).args(args);
    run_cmd(&mut cmd)
}

fn assert_no_secrets(what: &str, text: &str) {
    for s in SECRETS {
        assert!(!text.contains(s), "{what} shows the secret `{s}`:\n{text}");
    }
}

/// `validate` accepts the chain, saved beside the file it uploads.
fn assert_valid(yaml: &str) {
    let dir = Scratch::new();
    dir.file("avatar.png", "\u{89}PNG fake");
    let chain = dir.file("chain.yaml", yaml);
    let out = run_cmd(pytopus().args(["validate", chain.to_str().unwrap()]));
    assert_eq!(out.code, 0, "{}\n{yaml}", out.stderr);
}

#[test]
fn shop_collection_v2_1_with_environment() {
    let out = import_cli(&[
        data("shop.postman_collection.json").to_str().unwrap(),
        "--environment",
        data("staging.postman_environment.json").to_str().unwrap(),
    ]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_no_secrets("the chain", &out.stdout);
    assert_no_secrets("the notes", &out.stderr);
    insta::assert_snapshot!(format!("{}# stderr:\n{}", out.stdout, out.stderr));
    assert_valid(&out.stdout);
    // Every untranslated line is on stderr with its request and line, and
    // in the chain as a comment.
    for (who, line, text) in [
        ("Users / List users", 7, "console.log(pm.response.json());"),
        (
            "Users / List users",
            8,
            "if (pm.response.json().users.length > 1) {",
        ),
        (
            "Users / List users",
            9,
            "pm.environment.set(\"secondId\", pm.response.json().users[1].id);",
        ),
    ] {
        assert!(
            out.stderr.contains(&format!(
                "note: {who}: line {line}: {text} — not translated"
            )),
            "{who} line {line}:\n{}",
            out.stderr
        );
        assert!(
            out.stdout
                .contains(&format!("# test script line {line}: {text}\n")),
            "{text}:\n{}",
            out.stdout
        );
    }
}

#[test]
fn legacy_collection_v2_0() {
    let out = import_cli(&[data("legacy-v2.0.postman_collection.json")
        .to_str()
        .unwrap()]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_no_secrets("the chain", &out.stdout);
    assert_no_secrets("the notes", &out.stderr);
    insta::assert_snapshot!(format!("{}# stderr:\n{}", out.stdout, out.stderr));
    assert_valid(&out.stdout);
}

/// The library's import of the shop collection, its `baseUrl` the server.
fn shop_for(server: &str) -> pytopus::import::request::Imported {
    let env = text("staging.postman_environment.json")
        .replace("https://staging.shop.example.com", server);
    pytopus::import::postman::import(&text("shop.postman_collection.json"), Some(&env)).unwrap()
}

fn json(body: serde_json::Value) -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_json(body)
}

fn header<'r>(r: &'r Request, name: &str) -> Option<&'r str> {
    r.headers.get(name).and_then(|v| v.to_str().ok())
}

fn run_imported(imported: &pytopus::import::request::Imported) -> crate::support::Output {
    let dir = Scratch::new();
    dir.file("avatar.png", "\u{89}PNG fake");
    let chain = dir.file("chain.yaml", &imported.yaml);
    let mut cmd = pytopus();
    cmd.env("PYTOPUS_KEYRING", "off")
        .args(["run", chain.to_str().unwrap(), "-q", "--no-history"]);
    for (name, value) in &imported.secrets {
        cmd.env(pytopus::secret::env_var_name(name), value.expose());
    }
    run_cmd(&mut cmd)
}

/// The imported chain run against a server: each request as the
/// collection describes it, the token the first step extracts sent by the
/// next ones (the collection's bearer auth), the user id a script set in
/// the next URLs, the secrets' values sent where the collection had them.
#[tokio::test(flavor = "multi_thread")]
async fn imported_chain_sends_what_the_collection_describes() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/oauth/token"))
        .respond_with(json(serde_json::json!({
            "access_token": "tok-from-server", "token_type": "Bearer", "expires_in": 3600
        })))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/users"))
        .respond_with(json(
            serde_json::json!({"users": [{"id": 7, "name": "Ada"}, {"id": 8, "name": "Bob"}]}),
        ))
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/users"))
        .respond_with(ResponseTemplate::new(201).set_body_json(
            serde_json::json!({"id": 9, "name": "Ada Lovelace", "roles": ["admin"]}),
        ))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/users/7"))
        .respond_with(
            ResponseTemplate::new(200)
                .insert_header("ETag", "W/\"1\"")
                .set_body_string("Ada Lovelace"),
        )
        .mount(&server)
        .await;
    for (m, p) in [
        ("POST", "/users/7/avatar"),
        ("GET", "/admin/users/7"),
        ("GET", "/search"),
        ("GET", "/reports/daily"),
        ("POST", "/legacy/export"),
    ] {
        Mock::given(method(m))
            .and(path(p))
            .respond_with(ResponseTemplate::new(200))
            .mount(&server)
            .await;
    }

    let imported = shop_for(&server.uri());
    let ran = run_imported(&imported);
    assert_eq!(ran.code, 0, "{}\n{}", ran.stderr, imported.yaml);

    let got = server.received_requests().await.unwrap();
    let seen: Vec<String> = got
        .iter()
        .map(|r| format!("{} {}", r.method, r.url.path()))
        .collect();
    assert_eq!(
        seen,
        [
            "POST /oauth/token",
            "GET /users",
            "POST /users",
            "GET /users/7",
            "POST /users/7/avatar",
            "GET /admin/users/7",
            "GET /search",
            "POST /oauth/token",
            "GET /reports/daily",
            "POST /legacy/export",
        ]
    );
    let body = |i: usize| String::from_utf8_lossy(&got[i].body).into_owned();
    let bearer = Some("Bearer tok-from-server");

    // Get token: a form with the environment's client id and secret, no auth.
    assert_eq!(
        body(0),
        "grant_type=client_credentials&client_id=shop-web&client_secret=cs_9b8a7c6d5e4f3a2b1c0d"
    );
    assert_eq!(header(&got[0], "authorization"), None);
    // List users: the extracted token, the query without its disabled parameter.
    assert_eq!(header(&got[1], "authorization"), bearer);
    assert_eq!(got[1].url.query(), Some("page=1&limit=20"));
    assert_eq!(header(&got[1], "accept"), Some("application/json"));
    assert_eq!(header(&got[1], "x-debug"), None);
    // Create user: the JSON body with the environment's user name.
    assert_eq!(header(&got[2], "authorization"), bearer);
    let sent: serde_json::Value = serde_json::from_slice(&got[2].body).unwrap();
    assert_eq!(
        sent,
        serde_json::json!({"name": "Ada Lovelace", "email": "ada@example.com", "roles": ["admin"]})
    );
    assert_eq!(header(&got[2], "x-trace").map(str::len), Some(36));
    // Upload avatar: the folder's Basic auth, the form's field and file.
    let basic = base64::engine::general_purpose::STANDARD.encode("admin:S3cure-admin-pw!");
    assert_eq!(
        header(&got[4], "authorization"),
        Some(format!("Basic {basic}").as_str())
    );
    assert!(
        header(&got[4], "content-type").is_some_and(|t| t.starts_with("multipart/form-data")),
        "{:?}",
        got[4].headers
    );
    assert!(
        body(4).contains("name=\"caption\"\r\n\r\nAda at 20\r\n"),
        "{}",
        body(4)
    );
    assert!(body(4).contains("filename=\"avatar.png\""), "{}", body(4));
    assert!(body(4).contains("PNG fake"), "{}", body(4));
    assert_eq!(
        header(&got[5], "authorization"),
        Some(format!("Basic {basic}").as_str())
    );
    // Search: the API key in its header, the query as written.
    assert_eq!(
        header(&got[6], "x-api-key"),
        Some("ak_live_5f3c9e1b7d2a4c6e8f0a1b3c")
    );
    assert_eq!(got[6].url.query(), Some("q=red%20shoes&sort=price"));
    // Partner report: OAuth2 client credentials in the token request's body.
    let token_request = body(7);
    for part in [
        "grant_type=client_credentials",
        "client_id=shop-web",
        "client_secret=cs_9b8a7c6d5e4f3a2b1c0d",
        "scope=reports%3Aread",
    ] {
        assert!(token_request.contains(part), "{part}: {token_request}");
    }
    assert_eq!(header(&got[8], "authorization"), bearer);
    // Legacy export: the header's bearer token, the text body as written.
    assert_eq!(
        header(&got[9], "authorization"),
        Some("Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJsZWdhY3kifQ.c2lnbmF0dXJl")
    );
    assert_eq!(header(&got[9], "content-type"), Some("text/csv"));
    assert_eq!(body(9), "id,name\n7,Ada\n");
}

/// The translated tests fail when the response breaks them: a wrong
/// `token_type` stops the chain at its first step, saying where.
#[tokio::test(flavor = "multi_thread")]
async fn translated_tests_fail_when_the_response_breaks_them() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/oauth/token"))
        .respond_with(json(
            serde_json::json!({"access_token": "t", "token_type": "MAC"}),
        ))
        .mount(&server)
        .await;
    let ran = run_imported(&shop_for(&server.uri()));
    assert_ne!(ran.code, 0, "{}", ran.stderr);
    assert!(ran.stderr.contains("$.token_type"), "{}", ran.stderr);
    assert!(ran.stderr.contains("MAC"), "{}", ran.stderr);
    assert_eq!(server.received_requests().await.unwrap().len(), 1);
}

/// Names Postman allows and chains do not: step names deduplicated (the
/// folder's name first, then a number), names of digits or no letters,
/// variables with `-` and spaces, a variable defined nowhere (an input).
#[test]
fn names_that_collide_or_are_not_identifiers() {
    let collection = serde_json::json!({
        "info": {"name": "n", "schema": "https://schema.getpostman.com/json/collection/v2.1.0/collection.json"},
        "variable": [{"key": "my host", "value": "http://127.0.0.1:9"}, {"key": "env", "value": "x"}],
        "item": [
            {"name": "List", "request": "{{my host}}/a"},
            {"name": "Things", "item": [{"name": "List", "request": {"url": "{{my host}}/b?e={{env}}"}}]},
            {"name": "List", "request": {"method": "DELETE", "url": {"host": ["{{my host}}"], "path": ["c"]}}},
            {"name": "123", "request": {"url": "{{my host}}/{{who-knows}}"}},
            {"name": "¿?", "request": {"method": "PUT", "url": "{{my host}}/e"}}
        ]
    });
    let imported = pytopus::import::postman::import(&collection.to_string(), None).unwrap();
    let chain: serde_json::Value = serde_saphyr::from_str(&imported.yaml).unwrap();
    let names: Vec<&str> = chain["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["List", "Things_List", "List_2", "Step123", "Put"]);
    assert_eq!(
        chain["vars"],
        serde_json::json!({"my_host": "http://127.0.0.1:9", "env_var": "x"})
    );
    assert_eq!(chain["steps"][1]["url"], "{{ my_host }}/b?e={{ env_var }}");
    assert_eq!(chain["steps"][2]["url"], "{{ my_host }}/c");
    assert_eq!(chain["steps"][3]["url"], "{{ my_host }}/{{ who_knows }}");
    assert!(
        chain["inputs"]["who_knows"].is_object(),
        "{}",
        imported.yaml
    );
    assert!(
        imported
            .notes
            .iter()
            .any(|n| n.contains("`{{who-knows}}` is defined in neither")),
        "{:?}",
        imported.notes
    );
    let out = run_cmd(
        pytopus()
            .args(["validate", "-"])
            .write_stdin(imported.yaml.as_str()),
    );
    assert_eq!(out.code, 0, "{}\n{}", out.stderr, imported.yaml);
}

/// A request that cannot be a step is left out with a note and a comment;
/// the others are imported.
#[test]
fn a_request_that_cannot_be_a_step_is_noted() {
    let collection = serde_json::json!({
        "info": {"name": "n", "schema": "https://schema.getpostman.com/json/collection/v2.1.0/collection.json"},
        "item": [
            {"name": "Files", "request": {"url": "ftp://example.com/x"}},
            {"name": "Nothing", "request": {"method": "GET"}},
            {"name": "Fine", "request": {"url": "https://example.com/x"}}
        ]
    });
    let out = run_cmd(
        pytopus()
            .args(["import", "postman", "-"])
            .write_stdin(collection.to_string()),
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(
        out.stderr.contains(
            "note: Files: `ftp://example.com/x` is not an http or https URL — not imported"
        ),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr
            .contains("note: Nothing: the request has no URL — not imported"),
        "{}",
        out.stderr
    );
    assert!(
        out.stdout
            .contains("# not imported: the request has no URL\n"),
        "{}",
        out.stdout
    );
    assert!(out.stdout.contains("- name: Fine\n"), "{}", out.stdout);
}

/// Each input that is not a collection this imports: exit 2 and a
/// message saying what is wrong, never a panic.
#[test]
fn bad_inputs_are_errors_that_say_why() {
    let dir = Scratch::new();
    let v21 = "https://schema.getpostman.com/json/collection/v2.1.0/collection.json";
    let mut deep = serde_json::json!([{"name": "r", "request": "https://example.com/"}]);
    for i in 0..40 {
        deep = serde_json::json!([{"name": format!("f{i}"), "item": deep}]);
    }
    let deep = serde_json::json!({"info": {"name": "d", "schema": v21}, "item": deep});
    let huge = dir.path("huge.json");
    std::fs::write(&huge, " ".repeat((16 << 20) + 1)).unwrap();
    let cases: Vec<(String, String)> = vec![
        ("{\"info\": ".into(), "the collection is not JSON: EOF while parsing".into()),
        (
            "[".repeat(100_000),
            "the collection is not JSON: recursion limit exceeded".into(),
        ),
        ("[1, 2]".into(), "a JSON object was expected".into()),
        (
            r#"{"id": "1", "name": "old", "order": [], "requests": []}"#.into(),
            "this is a Postman collection v1: export it again as Collection v2.1".into(),
        ),
        (
            r#"{"name": "Staging", "values": []}"#.into(),
            "this is a Postman environment, not a collection: pass it with --environment".into(),
        ),
        (
            r#"{"info": {"name": "x", "schema": "https://schema.getpostman.com/json/collection/v3.0.0/collection.json"}, "item": []}"#.into(),
            "the collection's schema `https://schema.getpostman.com/json/collection/v3.0.0/collect…` is not Postman collection v2.0 or v2.1".into(),
        ),
        (
            r#"{"info": {"name": "x"}, "item": []}"#.into(),
            "the collection's `info.schema` is missing".into(),
        ),
        (
            format!(r#"{{"info": {{"name": "x", "schema": "{v21}"}}, "item": {{}}}}"#),
            "the collection has no `item` list".into(),
        ),
        (
            format!(r#"{{"info": {{"name": "x", "schema": "{v21}"}}, "item": []}}"#),
            "the collection has no requests".into(),
        ),
        (
            format!(r#"{{"info": {{"name": "x", "schema": "{v21}"}}, "item": [{{"name": "a", "request": {{"url": 42}}}}]}}"#),
            "none of the collection's requests could be imported".into(),
        ),
        (
            deep.to_string(),
            "folders nest deeper than 32 levels (at `f39 / f38 / f37".into(),
        ),
    ];
    for (input, message) in cases {
        let file = dir.file("c.json", &input);
        let out = import_cli(&[file.to_str().unwrap()]);
        assert_eq!(out.code, 2, "{message}: {}", out.stderr);
        assert!(
            out.stderr.starts_with("error: ") && out.stderr.contains(&message),
            "expected `{message}`, got: {}",
            out.stderr
        );
        assert!(out.stdout.is_empty(), "{}", out.stdout);
    }
    let out = import_cli(&[huge.to_str().unwrap()]);
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(out.stderr.contains("larger than 16 MiB"), "{}", out.stderr);
    let out = import_cli(&[dir.path("missing.json").to_str().unwrap()]);
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(
        out.stderr.contains("cannot read the collection from `"),
        "{}",
        out.stderr
    );
    // An environment that is not one.
    let out = import_cli(&[
        data("shop.postman_collection.json").to_str().unwrap(),
        "--environment",
        data("shop.postman_collection.json").to_str().unwrap(),
    ]);
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(
        out.stderr
            .contains("the environment is not a Postman environment: it has no `values` list"),
        "{}",
        out.stderr
    );
}
