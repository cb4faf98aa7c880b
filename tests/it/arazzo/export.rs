//! `pytopus export arazzo`: the document is valid Arazzo (the
//! specification's JSON Schema says so), and running it sends what running
//! the chain sends.

use crate::support::{Scratch, pytopus, run, run_cmd};
use serde_json::{Value, json};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/arazzo");

struct Shop;

impl Respond for Shop {
    fn respond(&self, req: &Request) -> ResponseTemplate {
        match (req.method.as_str(), req.url.path()) {
            ("POST", "/v1/login") => {
                ResponseTemplate::new(200).set_body_json(json!({"token": "tok-1"}))
            }
            ("GET", "/v1/items") => ResponseTemplate::new(200)
                .set_body_json(json!([{"id": 4, "name": "Rex"}, {"id": 5, "name": "Tom"}])),
            ("GET", "/v1/items/4") => {
                ResponseTemplate::new(200).set_body_json(json!({"id": 4, "name": "Rex"}))
            }
            _ => ResponseTemplate::new(404),
        }
    }
}

/// Every request the shop received: method, path and query, the headers
/// that matter, the body.
async fn received(server: &MockServer) -> Vec<String> {
    server
        .received_requests()
        .await
        .unwrap_or_default()
        .iter()
        .map(|r| {
            format!(
                "{} {}{} {} {}",
                r.method,
                r.url.path(),
                r.url.query().map(|q| format!("?{q}")).unwrap_or_default(),
                r.headers
                    .get("authorization")
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or(""),
                String::from_utf8_lossy(&r.body)
            )
        })
        .collect()
}

fn arazzo_schema() -> jsonschema::Validator {
    let text = std::fs::read_to_string(format!("{FIXTURES}/arazzo-1.0.schema.json")).unwrap();
    let schema: Value = serde_json::from_str(&text).unwrap();
    jsonschema::validator_for(&schema).expect("the Arazzo schema compiles")
}

fn assert_valid_arazzo(doc: &Value, what: &str) {
    let v = arazzo_schema();
    let errors: Vec<String> = v
        .iter_errors(doc)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect();
    assert!(
        errors.is_empty(),
        "{what} is not valid Arazzo:\n{}",
        errors.join("\n")
    );
}

#[test]
fn the_arazzo_files_of_the_tests_are_valid_arazzo() {
    for f in ["pets.arazzo.yaml", "spec/pet-coupons.arazzo.yaml"] {
        let text = std::fs::read_to_string(format!("{FIXTURES}/{f}")).unwrap();
        let doc: Value = serde_saphyr::from_str(&text).unwrap();
        assert_valid_arazzo(&doc, f);
    }
}

#[tokio::test]
async fn an_exported_chain_is_valid_arazzo_and_runs_the_same_requests() {
    let server = MockServer::start().await;
    Mock::given(wiremock::matchers::any())
        .respond_with(Shop)
        .mount(&server)
        .await;
    let dir = Scratch::new();
    for f in ["shop.yaml", "shop.connector.yaml"] {
        std::fs::copy(format!("{FIXTURES}/export/{f}"), dir.dir.path().join(f)).unwrap();
    }
    let chain = dir.dir.path().join("shop.yaml");
    let out_dir = dir.dir.path().join("out");
    let out = run(&[
        "export",
        "arazzo",
        chain.to_str().unwrap(),
        "--out",
        out_dir.to_str().unwrap(),
    ]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let arazzo_file = out_dir.join("shop.arazzo.yaml");
    let text = std::fs::read_to_string(&arazzo_file).unwrap();
    let doc: Value = serde_saphyr::from_str(&text).unwrap();
    assert_valid_arazzo(&doc, "the export");
    assert!(out_dir.join("shop.openapi.json").exists());
    // The secret is an input with `format: password`, never a value.
    assert_eq!(
        doc["workflows"][0]["inputs"]["properties"]["shop_password"],
        json!({"type": "string", "format": "password"})
    );

    // The chain, then its export, against the same shop.
    let base = format!("{}/v1", server.uri());
    let mut cmd = pytopus();
    cmd.args([
        "run",
        chain.to_str().unwrap(),
        "--no-progress",
        "-H",
        "X-Run: chain",
    ])
    .env("PYTOPUS_SECRET_SHOP_PASSWORD", "pw-1");
    // The connector's base URL is the description's: point it at the shop.
    let connector = dir.dir.path().join("shop.connector.yaml");
    let text = std::fs::read_to_string(&connector).unwrap();
    std::fs::write(&connector, text.replace("http://127.0.0.1:9/v1", &base)).unwrap();
    let chain_run = run_cmd(&mut cmd);
    assert_eq!(chain_run.code, 0, "{}", chain_run.stderr);
    let by_chain = received(&server).await;
    server.reset().await;
    Mock::given(wiremock::matchers::any())
        .respond_with(Shop)
        .mount(&server)
        .await;
    let server_var = format!("server_shop={base}");
    let mut cmd = pytopus();
    cmd.args([
        "run",
        arazzo_file.to_str().unwrap(),
        "--var",
        &server_var,
        "--no-progress",
    ])
    .env("PYTOPUS_SECRET_SHOP_PASSWORD", "pw-1");
    let arazzo_run = run_cmd(&mut cmd);
    assert_eq!(arazzo_run.code, 0, "{}", arazzo_run.stderr);
    assert_eq!(received(&server).await, by_chain);
    assert_eq!(by_chain.len(), 3);
    assert_eq!(
        serde_json::from_str::<Value>(&arazzo_run.stdout).unwrap(),
        serde_json::from_str::<Value>(&chain_run.stdout).unwrap()
    );
}

#[test]
fn what_arazzo_cannot_say_is_refused_at_its_place_and_nothing_is_written() {
    let dir = Scratch::new();
    std::fs::copy(
        format!("{FIXTURES}/export/shop.connector.yaml"),
        dir.dir.path().join("shop.connector.yaml"),
    )
    .unwrap();
    let chain = dir.file(
        "c.yaml",
        "connectors: [shop.connector.yaml]\nsteps:\n  - name: Items\n    connector: shop\n    endpoint: list_items\n    params: {limit: \"{{ 2 + 2 }}\"}\n  - name: Each\n    connector: shop\n    endpoint: get_item\n    for_each: \"{{ Items }}\"\n    params: {id: \"{{ item.id }}\"}\n  - name: Plain\n    url: https://example.com/x\n",
    );
    let out_dir = dir.dir.path().join("out");
    let out = run(&[
        "export",
        "arazzo",
        chain.to_str().unwrap(),
        "--out",
        out_dir.to_str().unwrap(),
    ]);
    assert_eq!(out.code, 2, "{}", out.stderr);
    for want in [
        "c.yaml:6:14",
        "`{{ 2 + 2 }}` has no Arazzo equivalent",
        "c.yaml:10:5",
        "`for_each` has no Arazzo equivalent",
        "step `Plain` calls a URL, not a connector's endpoint",
    ] {
        assert!(out.stderr.contains(want), "wanted {want}:\n{}", out.stderr);
    }
    assert!(!out_dir.exists(), "nothing is written");
}
