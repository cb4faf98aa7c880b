//! Arazzo files run natively: `pytopus run FILE.arazzo.yaml` against a
//! local pet store, the spec's features one by one, and the problems
//! `validate` finds, each at its place in the Arazzo file.

mod export;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use crate::support::{Scratch, run};
use serde_json::{Value, json};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/arazzo");

/// A pet store: a login that hands out a token, pets, an endpoint that
/// fails twice before it answers.
struct Store {
    pet_status: &'static str,
    flaky: Arc<AtomicUsize>,
}

impl Respond for Store {
    fn respond(&self, req: &Request) -> ResponseTemplate {
        let auth = req
            .headers
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        match (req.method.as_str(), req.url.path()) {
            ("POST", "/v1/login") => {
                let body: Value = serde_json::from_slice(&req.body).unwrap_or_default();
                if body["password"] != "hunter2" {
                    return ResponseTemplate::new(401)
                        .set_body_json(json!({"error": "bad password"}));
                }
                ResponseTemplate::new(200)
                    .insert_header("X-Rate-Limit", "100")
                    .set_body_json(json!({"token": format!("tok-{}", body["username"].as_str().unwrap_or(""))}))
            }
            _ if auth != "Bearer tok-alice" && req.url.path() == "/v1/pets" => {
                ResponseTemplate::new(401).set_body_json(json!({"error": "who are you?"}))
            }
            ("GET", "/v1/pets") => ResponseTemplate::new(200).set_body_json(json!([
                {"id": 7, "name": "Rex", "status": "available"},
                {"id": 8, "name": "Tom", "status": "sold"}
            ])),
            ("GET", "/v1/pets/7") => ResponseTemplate::new(200)
                .set_body_json(json!({"id": 7, "name": "Rex", "status": self.pet_status})),
            ("GET", "/v1/flaky") => {
                if self.flaky.fetch_add(1, Ordering::SeqCst) < 2 {
                    ResponseTemplate::new(503).insert_header("Retry-After", "0")
                } else {
                    ResponseTemplate::new(200).set_body_json(json!({"ok": true}))
                }
            }
            ("GET", "/v1/health") => ResponseTemplate::new(200).set_body_json(json!({"up": true})),
            _ => ResponseTemplate::new(404),
        }
    }
}

async fn store(pet_status: &'static str) -> MockServer {
    let server = MockServer::start().await;
    Mock::given(wiremock::matchers::any())
        .respond_with(Store {
            pet_status,
            flaky: Arc::new(AtomicUsize::new(0)),
        })
        .mount(&server)
        .await;
    server
}

/// The requests the store received: `METHOD /path?query`.
async fn received(server: &MockServer) -> Vec<String> {
    server
        .received_requests()
        .await
        .unwrap_or_default()
        .iter()
        .map(|r| match r.url.query() {
            Some(q) => format!("{} {}?{q}", r.method, r.url.path()),
            None => format!("{} {}", r.method, r.url.path()),
        })
        .collect()
}

fn run_pets(server: &MockServer, extra: &[&str]) -> crate::support::Output {
    let file = format!("{FIXTURES}/pets.arazzo.yaml");
    let server_var = format!("server_petstore={}/v1", server.uri());
    let mut args = vec![
        "run",
        &file,
        "--var",
        &server_var,
        "--var",
        "username=alice",
        "--no-progress",
    ];
    args.extend_from_slice(extra);
    let mut cmd = crate::support::pytopus();
    cmd.args(&args).env("PYTOPUS_SECRET_PASSWORD", "hunter2");
    crate::support::run_cmd(&mut cmd)
}

#[tokio::test]
async fn runs_every_workflow_in_dependency_order_with_outputs_criteria_and_actions() {
    let server = store("available").await;
    let out = run_pets(&server, &[]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let output: Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(
        output,
        // The token came back for a request that held a secret: it is one too.
        json!({"login": {"token": "***"}, "pets": {"name": "Rex", "status": "available"}})
    );
    assert_eq!(
        received(&server).await,
        [
            "POST /v1/login",
            "GET /v1/pets?limit=2&status=available",
            "GET /v1/pets/7",
            "GET /v1/flaky",
            "GET /v1/flaky",
            "GET /v1/flaky",
            "GET /v1/health",
        ]
    );
    let requests = server.received_requests().await.unwrap();
    // The replacement set the user name; the password came from the secret.
    let login: Value = serde_json::from_slice(&requests[0].body).unwrap();
    assert_eq!(login, json!({"username": "alice", "password": "hunter2"}));
    assert_eq!(requests[0].headers["content-type"], "application/json");
    // `x-security` with a workflow's output; an embedded expression in a header.
    assert_eq!(requests[1].headers["authorization"], "Bearer tok-alice");
    assert_eq!(requests[2].headers["x-trace"], "pet-7");
    // The secret is no one's business but the server's.
    assert!(!out.stdout.contains("hunter2") && !out.stderr.contains("hunter2"));
}

#[tokio::test]
async fn a_goto_whose_criteria_hold_jumps_over_steps() {
    let server = store("sold").await;
    let out = run_pets(&server, &["--workflow", "pets"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    // `--workflow pets` runs `login` first: pets depends on it.
    assert_eq!(
        received(&server).await,
        [
            "POST /v1/login",
            "GET /v1/pets?limit=2&status=available",
            "GET /v1/pets/7",
            "GET /v1/health"
        ]
    );
    let output: Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(output, json!({"name": "Rex", "status": "sold"}));
}

#[tokio::test]
async fn unmet_success_criteria_fail_the_run_and_say_which() {
    let server = store("available").await;
    // Bob's token opens no pets: the list's criterion finds none.
    let out = run_pets(&server, &["--var", "username=bob"]);
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert!(
        out.stderr
            .contains("jsonpath(\"$[?(@.status == 'available')]\")"),
        "{}",
        out.stderr
    );
    // Nothing after the failed step was sent.
    assert_eq!(
        received(&server).await,
        ["POST /v1/login", "GET /v1/pets?limit=2&status=available"]
    );
}

#[tokio::test]
async fn a_missing_secret_stops_the_run_before_anything_is_sent() {
    let server = store("available").await;
    let file = format!("{FIXTURES}/pets.arazzo.yaml");
    let server_var = format!("server_petstore={}/v1", server.uri());
    let out = run(&[
        "run",
        &file,
        "--var",
        &server_var,
        "--var",
        "username=alice",
    ]);
    assert_ne!(out.code, 0);
    assert!(out.stderr.contains("password"), "{}", out.stderr);
    assert!(received(&server).await.is_empty());
}

/// Writes an Arazzo file beside the pet store's description.
fn arazzo(dir: &Scratch, steps: &str) -> String {
    std::fs::copy(
        format!("{FIXTURES}/petstore.yaml"),
        dir.dir.path().join("petstore.yaml"),
    )
    .unwrap();
    let text = format!(
        "arazzo: 1.0.1\ninfo: {{title: t, version: '1'}}\nsourceDescriptions:\n  - {{name: petstore, url: petstore.yaml}}\nworkflows:\n  - workflowId: w\n    steps:\n{steps}"
    );
    dir.file("t.arazzo.yaml", &text).display().to_string()
}

#[test]
fn validate_points_at_the_place_in_the_arazzo_file() {
    let cases: &[(&str, &str)] = &[
        (
            "      - stepId: a\n        operationId: nosuch\n",
            "/t.arazzo.yaml:9:9\n  |\n9 |         operationId: nosuch",
        ),
        (
            "      - stepId: a\n        operationId: nosuch\n",
            "no operation has `operationId: nosuch`",
        ),
        (
            "      - stepId: a\n        operationId: listPets\n        parameters:\n          - {name: x, in: query, value: $request.body}\n",
            "does not support `$request` expressions",
        ),
        (
            "      - stepId: a\n        operationId: listPets\n        successCriteria:\n          - condition: $statusCode = 200\n",
            "error: cannot read the condition `$statusCode = 200` at `= 200`\n  --> /t.arazzo.yaml:11:13",
        ),
        (
            "      - stepId: a\n        operationId: listPets\n        onSuccess:\n          - {name: n, type: goto, stepId: b}\n",
            "there is no step `b` in this workflow",
        ),
        (
            "      - stepId: a\n        operationId: getPetById\n",
            "the path `/pets/{petId}` needs `petId`",
        ),
        (
            "      - stepId: a\n        operationId: listPets\n        successCriteria:\n          - {context: $response.body, condition: /a, type: xpath}\n",
            "an XPath criterion is not supported",
        ),
        (
            "      - stepId: a\n        operationId: listPets\n        parameters:\n          - {name: x, in: query, value: $steps.zz.outputs.y}\n",
            "no step `zz` runs before this",
        ),
    ];
    for (steps, want) in cases {
        let dir = Scratch::new();
        let file = arazzo(&dir, steps);
        let out = run(&["validate", &file]);
        assert_eq!(out.code, 2, "{steps}\n{}", out.stderr);
        let text = out
            .stderr
            .replace(&dir.dir.path().display().to_string(), "");
        assert!(text.contains(want), "{steps}\nwanted {want}\n{text}");
    }
}

#[test]
fn a_workflow_that_is_not_there_is_named_with_the_ones_that_are() {
    let file = format!("{FIXTURES}/pets.arazzo.yaml");
    let out = run(&["validate", &file, "--workflow", "nosuch"]);
    assert_eq!(out.code, 2);
    assert!(
        out.stderr
            .contains("there is no workflow `nosuch`; the workflows are `login`, `pets`"),
        "{}",
        out.stderr
    );
}

/// The pet store the specification's pet-coupons example calls.
struct Coupons;

impl Respond for Coupons {
    fn respond(&self, req: &Request) -> ResponseTemplate {
        match (req.method.as_str(), req.url.path()) {
            ("GET", "/api/v3/pet/findByTags") => {
                ResponseTemplate::new(200).set_body_json(json!([{"id": 11, "name": "Dotty"}]))
            }
            ("GET", "/api/v3/pet/findByStatus") => {
                ResponseTemplate::new(200).set_body_json(json!([{"id": 12, "name": "Rex"}]))
            }
            ("GET", "/api/v3/pet/11/coupons") => {
                ResponseTemplate::new(200).set_body_json(json!({"couponCode": "SAVE10"}))
            }
            ("POST", "/api/v3/store/order") => {
                let order: Value = serde_json::from_slice(&req.body).unwrap_or_default();
                ResponseTemplate::new(200)
                    .set_body_json(json!({"id": 500 + order["petId"].as_i64().unwrap_or(0)}))
            }
            _ => ResponseTemplate::new(404),
        }
    }
}

#[tokio::test]
async fn the_specifications_pet_coupons_example_runs_against_a_local_store() {
    let server = MockServer::start().await;
    Mock::given(wiremock::matchers::any())
        .respond_with(Coupons)
        .mount(&server)
        .await;
    let dir = Scratch::new();
    let vars = dir.file("tags.yaml", "my_pet_tags: [puppy, dalmatian]\n");
    let file = format!("{FIXTURES}/spec/pet-coupons.arazzo.yaml");
    let base = format!("server_pet_coupons={}/api/v3", server.uri());
    let out = run(&[
        "run",
        &file,
        "--workflow",
        "apply-coupon",
        "--var",
        &base,
        "--vars-file",
        vars.to_str().unwrap(),
        "--no-progress",
    ]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(
        serde_json::from_str::<Value>(&out.stdout).unwrap(),
        json!({"apply_coupon_pet_order_id": 511})
    );
    assert_eq!(
        received(&server).await,
        [
            "GET /api/v3/pet/findByTags?pet_tags=puppy&pet_tags=dalmatian",
            "GET /api/v3/pet/11/coupons",
            "POST /api/v3/store/order",
        ]
    );
    let requests = server.received_requests().await.unwrap();
    // The reused workflow got its inputs from the step that ran it; the one
    // it was not given is null.
    assert_eq!(
        serde_json::from_slice::<Value>(&requests[2].body).unwrap(),
        json!({"petId": 11, "quantity": null, "couponCode": "SAVE10", "status": "placed", "complete": false})
    );

    // The other workflow reuses the same one, and a parameter from `components`.
    let out = run(&[
        "run",
        &file,
        "--workflow",
        "buy-available-pet",
        "--var",
        &base,
        "--no-progress",
    ]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(
        serde_json::from_str::<Value>(&out.stdout).unwrap(),
        json!({"buy_pet_order_id": 512})
    );
    assert!(
        received(&server).await.contains(
            &"GET /api/v3/pet/findByStatus?status=available&page=1&pageSize=10".to_string()
        )
    );
}

#[test]
fn the_example_as_published_is_refused_with_each_expression_it_cannot_read() {
    // The published example writes some expressions in ways the
    // specification does not define: each is a validation error, at its line.
    let adapted =
        std::fs::read_to_string(format!("{FIXTURES}/spec/pet-coupons.arazzo.yaml")).unwrap();
    let published: String = adapted
        .lines()
        .map(|l| match l.split_once(" # was: ") {
            Some((code, was)) => {
                let key = code.split_once(": ").map_or(code, |(k, _)| k);
                format!("{key}: {was}\n")
            }
            None => format!("{l}\n"),
        })
        .collect();
    let dir = Scratch::new();
    std::fs::copy(
        format!("{FIXTURES}/spec/pet-coupons.openapi.yaml"),
        dir.dir.path().join("pet-coupons.openapi.yaml"),
    )
    .unwrap();
    let file = dir.file("pet-coupons.arazzo.yaml", &published);
    let out = run(&["validate", file.to_str().unwrap()]);
    assert_eq!(out.code, 2, "{}", out.stderr);
    for (line, what) in [
        (35, "my_pet_id"),
        (46, "my_coupon_code"),
        (57, "my_order_id"),
        (90, "my_order_id"),
        (125, "step_order_id"),
    ] {
        assert!(
            out.stderr
                .contains(&format!("pet-coupons.arazzo.yaml:{line}:")),
            "line {line} ({what}) not reported:\n{}",
            out.stderr
        );
    }
    // Each is said once, and nothing that follows from it is said at all.
    assert_eq!(out.stderr.matches("error:").count(), 6, "{}", out.stderr);
}

#[tokio::test]
async fn every_output_of_a_chain_run_comes_from_an_arazzo_run_with_the_secret_hidden() {
    let server = store("available").await;
    let dir = Scratch::new();
    let report = dir.dir.path().join("r.json");
    let junit = dir.dir.path().join("j.xml");
    let har = dir.dir.path().join("h.har");
    let out = run_pets(
        &server,
        &[
            "--report",
            report.to_str().unwrap(),
            "--junit",
            junit.to_str().unwrap(),
            "--har",
            har.to_str().unwrap(),
            "-vvv",
        ],
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    let report_text = std::fs::read_to_string(&report).unwrap();
    let junit_text = std::fs::read_to_string(&junit).unwrap();
    let har_text = std::fs::read_to_string(&har).unwrap();
    let report: Value = serde_json::from_str(&report_text).unwrap();
    let names: Vec<&str> = report["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["logIn", "list", "one", "flaky", "health"]);
    for name in names {
        assert!(
            junit_text.contains(&format!("name=\"{name}\"")),
            "{junit_text}"
        );
    }
    // Every attempt of the step that ran again is in the HAR.
    assert!(har_text.matches("/v1/flaky").count() >= 3);
    for (what, text) in [
        ("stdout", &out.stdout),
        ("stderr -vvv", &out.stderr),
        ("report", &report_text),
        ("junit", &junit_text),
        ("har", &har_text),
    ] {
        assert!(!text.contains("hunter2"), "the secret is in {what}");
    }
}

#[tokio::test]
async fn a_jsonpath_criterion_filters_the_context_itself_as_in_the_specification() {
    let server = MockServer::start().await;
    Mock::given(wiremock::matchers::path("/v1/pets"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"pets": [{"id": 1}]})))
        .mount(&server)
        .await;
    Mock::given(wiremock::matchers::path("/v1/health"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"up": true})))
        .mount(&server)
        .await;
    let dir = Scratch::new();
    let steps = "      - stepId: a\n        operationId: listPets\n        successCriteria:\n          - context: $response.body\n            condition: $[?count(@.pets) > 0]\n            type: jsonpath\n      - stepId: b\n        operationId: health\n        successCriteria:\n          - context: $response.body\n            condition: $[?count(@.pets) > 0]\n            type: jsonpath\n";
    let file = arazzo(&dir, steps);
    let base = format!("server_petstore={}/v1", server.uri());
    let out = run(&["run", &file, "--var", &base, "--no-progress"]);
    // The list has `pets`; the health answer has none, so `b` fails.
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert!(out.stderr.contains("ok a GET"), "{}", out.stderr);
    assert!(out.stderr.contains("FAIL b GET"), "{}", out.stderr);
}

#[tokio::test]
async fn a_source_description_given_by_url_is_fetched_and_a_missing_one_is_an_error_at_its_line() {
    let server = store("available").await;
    let docs = MockServer::start().await;
    let petstore = std::fs::read_to_string(format!("{FIXTURES}/petstore.yaml")).unwrap();
    Mock::given(wiremock::matchers::path("/specs/petstore.yaml"))
        .respond_with(ResponseTemplate::new(200).set_body_string(petstore))
        .mount(&docs)
        .await;
    let dir = Scratch::new();
    let text = |url: &str| {
        format!(
            "arazzo: 1.0.1\ninfo: {{title: t, version: '1'}}\nsourceDescriptions:\n  - name: petstore\n    url: {url}\n    type: openapi\nworkflows:\n  - workflowId: w\n    steps:\n      - stepId: up\n        operationId: health\n        successCriteria:\n          - condition: $statusCode == 200\n"
        )
    };
    let good = dir.file(
        "good.arazzo.yaml",
        &text(&format!("{}/specs/petstore.yaml", docs.uri())),
    );
    let base = format!("server_petstore={}/v1", server.uri());
    let out = run(&[
        "run",
        good.to_str().unwrap(),
        "--var",
        &base,
        "--no-progress",
    ]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(received(&server).await, ["GET /v1/health"]);

    let bad = dir.file(
        "bad.arazzo.yaml",
        &text(&format!("{}/specs/nope.yaml", docs.uri())),
    );
    let out = run(&["validate", bad.to_str().unwrap()]);
    assert_eq!(out.code, 2);
    assert!(
        out.stderr.contains("the server answered 404"),
        "{}",
        out.stderr
    );
    assert!(out.stderr.contains("bad.arazzo.yaml:5:5"), "{}", out.stderr);
}

#[tokio::test]
async fn workflows_of_another_arazzo_file_run_in_place_and_its_problems_point_into_it() {
    let server = store("available").await;
    let dir = Scratch::new();
    std::fs::copy(
        format!("{FIXTURES}/petstore.yaml"),
        dir.dir.path().join("petstore.yaml"),
    )
    .unwrap();
    dir.file(
        "auth.arazzo.yaml",
        "arazzo: 1.0.1\ninfo: {title: auth, version: '1'}\nsourceDescriptions:\n  - {name: store, url: petstore.yaml, type: openapi}\nworkflows:\n  - workflowId: up\n    steps:\n      - stepId: health\n        operationId: health\n  - workflowId: login\n    inputs:\n      type: object\n      properties:\n        user: {type: string}\n    steps:\n      - stepId: in\n        operationId: loginUser\n        requestBody:\n          payload: {username: $inputs.user, password: hunter2}\n        successCriteria:\n          - condition: $statusCode == 200\n        outputs:\n          token: $response.body#/token\n    outputs:\n      token: $steps.in.outputs.token\n",
    );
    let main = dir.file(
        "main.arazzo.yaml",
        "arazzo: 1.0.1\ninfo: {title: main, version: '1'}\nsourceDescriptions:\n  - {name: petstore, url: petstore.yaml, type: openapi}\n  - {name: auth, url: auth.arazzo.yaml, type: arazzo}\nworkflows:\n  - workflowId: pets\n    dependsOn: [$sourceDescriptions.auth.up]\n    steps:\n      - stepId: login\n        workflowId: $sourceDescriptions.auth.login\n        parameters:\n          - {name: user, value: alice}\n      - stepId: list\n        operationId: listPets\n        parameters:\n          - {name: Authorization, in: header, value: 'Bearer {$steps.login.outputs.token}'}\n        successCriteria:\n          - condition: $statusCode == 200\n        outputs:\n          first: $response.body#/0/name\n    outputs:\n      first: $steps.list.outputs.first\n",
    );
    let base = format!("server_petstore={}/v1", server.uri());
    let store_base = format!("server_store={}/v1", server.uri());
    let out = run(&[
        "run",
        main.to_str().unwrap(),
        "--var",
        &base,
        "--var",
        &store_base,
        "--no-progress",
    ]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(
        received(&server).await,
        ["GET /v1/health", "POST /v1/login", "GET /v1/pets"]
    );
    assert_eq!(
        serde_json::from_str::<Value>(&out.stdout).unwrap(),
        json!({"first": "Rex"})
    );

    // A mistake in the other file is shown in the other file.
    let text = std::fs::read_to_string(dir.dir.path().join("auth.arazzo.yaml")).unwrap();
    dir.file(
        "auth.arazzo.yaml",
        &text.replace("operationId: loginUser", "operationId: logInUser"),
    );
    let out = run(&["validate", main.to_str().unwrap()]);
    assert_eq!(out.code, 2);
    assert!(
        out.stderr
            .contains("no operation has `operationId: logInUser`"),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr.contains("auth.arazzo.yaml:17:9"),
        "{}",
        out.stderr
    );
}
