//! `pytopus import har` (issue #26, item 2): a browser's capture becomes a
//! chain whose later requests read what earlier responses gave — checked
//! by running it against a server that answers with other tokens and ids
//! than the capture holds.

use std::path::Path;

use crate::support::{Scratch, pytopus, run, run_cmd};
use serde_json::json;
use wiremock::matchers::{body_json, header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

fn fixture() -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/har/shop.har")
        .display()
        .to_string()
}

#[test]
fn a_capture_becomes_a_chain_with_its_data_flow_and_no_secret() {
    let out = run(&["import", "har", &fixture(), "--host", "shop.example.com"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    insta::assert_snapshot!(
        "har_import_shop",
        format!("{}# stderr:\n{}", out.stdout, out.stderr)
    );
    for secret in [
        "hunter2-Secret!",
        "sk_live_abcdefgh12345",
        "s3ss10nvalue42",
        "tok_9f8e7d6c5b4a",
    ] {
        assert!(!out.stdout.contains(secret), "{secret} in the chain");
        assert!(!out.stderr.contains(secret), "{secret} in the notes");
    }
    // The chain is valid as written.
    let dir = Scratch::new();
    let chain = dir.file("shop.yaml", &out.stdout);
    let valid = run(&["validate", chain.to_str().unwrap()]);
    assert_eq!(valid.code, 0, "{}", valid.stderr);
}

#[tokio::test]
async fn the_imported_chain_sends_what_the_server_gives_it_now() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/"))
        .respond_with(ResponseTemplate::new(200).set_body_string("<html></html>"))
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/api/login"))
        .and(body_json(
            json!({"email": "ann@example.com", "password": "pw-from-keyring"}),
        ))
        .respond_with(
            ResponseTemplate::new(200)
                .insert_header("set-cookie", "sid=fresh-session; Path=/")
                .set_body_json(json!({"token": "tok_fresh0001", "user": {"id": "usr_87654321"}})),
        )
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/api/users/usr_87654321"))
        .and(header("authorization", "Bearer tok_fresh0001"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"id": "usr_87654321", "cart": {"id": 77770001}})),
        )
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/api/carts/77770001/items"))
        .and(body_json(
            json!({"sku": "SKU-1", "qty": 2, "cart": 77770001}),
        ))
        .respond_with(ResponseTemplate::new(201).set_body_json(json!({"item_id": "itm_fresh9999"})))
        .mount(&server)
        .await;
    Mock::given(method("DELETE"))
        .and(path("/api/carts/77770001/items/itm_fresh9999"))
        .respond_with(ResponseTemplate::new(204))
        .mount(&server)
        .await;
    Mock::given(path("/api/old-orders"))
        .respond_with(ResponseTemplate::new(302).insert_header("location", "/api/orders"))
        .mount(&server)
        .await;
    Mock::given(path("/api/orders"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"orders": []})))
        .mount(&server)
        .await;
    Mock::given(path("/api/missing"))
        .respond_with(ResponseTemplate::new(404))
        .mount(&server)
        .await;
    Mock::given(path("/api/partner/stock"))
        .and(header("x-api-key", "key-from-keyring"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"stock": 3})))
        .mount(&server)
        .await;

    let out = run(&["import", "har", &fixture(), "--host", "shop.example.com"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let dir = Scratch::new();
    let chain = dir.file("shop.yaml", &out.stdout);
    let mut cmd = pytopus();
    cmd.env("PYTOPUS_KEYRING", "off")
        .env("PYTOPUS_SECRET_EXAMPLE_PASSWORD", "pw-from-keyring")
        .env("PYTOPUS_SECRET_EXAMPLE_X_API_KEY", "key-from-keyring")
        .args([
            "run",
            chain.to_str().unwrap(),
            "--no-history",
            "-q",
            "--var",
        ])
        .arg(format!("base_url={}", server.uri()));
    let ran = run_cmd(&mut cmd);
    assert_eq!(ran.code, 0, "{}\n{}", ran.stderr, out.stdout);

    let got = server.received_requests().await.unwrap();
    let paths: Vec<String> = got
        .iter()
        .map(|r| format!("{} {}", r.method, r.url.path()))
        .collect();
    assert_eq!(
        paths,
        [
            "GET /",
            "POST /api/login",
            "GET /api/users/usr_87654321",
            "POST /api/carts/77770001/items",
            "DELETE /api/carts/77770001/items/itm_fresh9999",
            "GET /api/old-orders",
            "GET /api/orders",
            "GET /api/missing",
            "GET /api/partner/stock",
        ]
    );
    // The session cookie came from the jar, the user's own cookie as captured.
    let cookie = got[2]
        .headers
        .get("cookie")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    assert!(cookie.contains("theme=dark"), "{cookie}");
    assert!(!cookie.contains("s3ss10nvalue42"), "{cookie}");
    // Nothing the browser added by itself was sent.
    for r in &got {
        for name in ["sec-ch-ua", "sec-fetch-mode", "accept-language"] {
            assert!(r.headers.get(name).is_none(), "{name} sent to {}", r.url);
        }
    }
}

#[test]
fn filters_and_bad_captures() {
    let all = run(&["import", "har", &fixture()]);
    assert_eq!(all.code, 0, "{}", all.stderr);
    assert!(
        all.stdout.contains("analytics.tracker.test"),
        "{}",
        all.stdout
    );
    let stat = run(&[
        "import",
        "har",
        &fixture(),
        "--include-static",
        "--method",
        "get",
    ]);
    assert_eq!(stat.code, 0, "{}", stat.stderr);
    assert!(stat.stdout.contains("/static/app.js"), "{}", stat.stdout);
    assert!(!stat.stdout.contains("method: POST"), "{}", stat.stdout);
    assert!(
        stat.stderr.contains("requests of other methods"),
        "{}",
        stat.stderr
    );

    let dir = Scratch::new();
    for (name, text, says) in [
        ("empty.har", "", "not a HAR file"),
        ("html.har", "<html>", "not a HAR file"),
        ("nolog.har", "{\"entries\": []}", "not a HAR file"),
        (
            "none.har",
            "{\"log\": {\"entries\": []}}",
            "no request of the capture is left",
        ),
        (
            "badurl.har",
            "{\"log\": {\"entries\": [{\"request\": {\"method\": \"GET\", \"url\": \"ws://x.test/\"}}]}}",
            "1 requests that are not http or https",
        ),
    ] {
        let file = dir.file(name, text);
        let out = run(&["import", "har", file.to_str().unwrap()]);
        assert_eq!(out.code, 2, "{name}: {}", out.stderr);
        assert!(out.stderr.contains(says), "{name}: {}", out.stderr);
    }
    let missing = run(&["import", "har", "/nonexistent/x.har"]);
    assert_eq!(missing.code, 2);
    assert!(missing.stderr.contains("cannot read"), "{}", missing.stderr);
}

/// The excerpt docs/reference.md shows is what the import writes.
#[test]
fn the_documented_excerpt_is_what_import_writes() {
    let docs =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/reference.md"))
            .unwrap();
    let after = docs
        .split("<!-- har-import: shop -->\n```yaml\n")
        .nth(1)
        .expect("the marked excerpt in docs/reference.md");
    let excerpt = after.split("```").next().unwrap();
    let notes = after
        .split("```text\n")
        .nth(1)
        .and_then(|t| t.split("```").next())
        .unwrap();
    let out = run(&["import", "har", &fixture(), "--host", "shop.example.com"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(
        out.stdout.contains(excerpt),
        "docs excerpt not in:\n{}",
        out.stdout
    );
    for line in notes.lines() {
        assert!(out.stderr.contains(line), "{line}\nnot in:\n{}", out.stderr);
    }
}
