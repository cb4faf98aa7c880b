//! `expect` beyond equal values (issue #24, item 9): checks on what a
//! JSONPath selects, on headers, on the response time and the body size,
//! and a JSON Schema — each failure saying where, what was expected and
//! what came; mistakes in the checks themselves refused by `validate`.

use std::time::Duration;

use crate::support::{Scratch, run, scrub};
use serde_json::{Value, json};
use wiremock::matchers::path;
use wiremock::{Mock, MockServer, ResponseTemplate};

fn order() -> Value {
    json!({
        "id": "ord_7f3a",
        "status": "paid",
        "total": 42.5,
        "created": "2026-11-30T10:00:00Z",
        "items": [
            {"sku": "A-1", "price": 20, "qty": 1},
            {"sku": "B-2", "price": 22.5, "qty": 2},
        ],
        "tags": ["new", "gift"],
        "coupon": null,
    })
}

async fn server() -> MockServer {
    let server = MockServer::start().await;
    Mock::given(path("/orders/1"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(order())
                .insert_header("x-ratelimit-remaining", "57")
                .insert_header("etag", "\"v3\""),
        )
        .mount(&server)
        .await;
    Mock::given(path("/slow"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"ok": true}))
                .set_delay(Duration::from_millis(300)),
        )
        .mount(&server)
        .await;
    server
}

fn run_chain(dir: &Scratch, text: &str, base: &str, extra: &[&str]) -> crate::support::Output {
    let chain = dir.file("c.yaml", text);
    let mut args = vec![
        "run",
        chain.to_str().unwrap(),
        "--no-history",
        "-q",
        "--var",
    ];
    let var = format!("base={base}");
    args.push(&var);
    args.extend_from_slice(extra);
    run(&args)
}

#[tokio::test]
async fn every_kind_of_check_passes_on_a_response_that_meets_it() {
    let server = server().await;
    let dir = Scratch::new();
    dir.file(
        "order.schema.json",
        &json!({
            "type": "object",
            "required": ["id", "items"],
            "properties": {
                "id": {"type": "string", "pattern": "^ord_"},
                "items": {"type": "array", "items": {"$ref": "#/$defs/item"}}
            },
            "$defs": {"item": {"type": "object", "required": ["sku", "price"],
                               "properties": {"price": {"type": "number", "minimum": 0}}}}
        })
        .to_string(),
    );
    let out = run_chain(
        &dir,
        r#"
vars: {least: 1}
steps:
  - name: Order
    url: "{{ base }}/orders/1"
    expect:
      json: {$.status: paid}
      headers:
        content-type: json
        x-ratelimit-remaining: {gt: 0, matches: "^[0-9]+$"}
        etag: {starts_with: '"v'}
        x-debug: {exists: false}
      assert:
        $.id: {type: string, matches: "^ord_[0-9a-f]+$", ne: ""}
        $.total: {gt: 40, le: 42.5, type: number}
        $.created: {ge: "2026-01-01", lt: "2027"}
        $.items: {count: 2, is_empty: false}
        $.items[*].price: {every: {gt: 0}, some: {eq: 22.5}, count: {ge: "{{ least }}"}}
        $.items[?@.qty > 1].sku: {eq: [B-2]}
        $.tags: {contains: gift, not: {contains: old}}
        $.status: {one_of: [paid, refunded]}
        $.coupon: {exists: true, eq: null, is_empty: true}
        $.missing: {exists: false}
        $..nowhere: {exists: false}
      body_size: {gt: 0, le: 1KiB}
      duration: {lt: 1m}
      schema: order.schema.json
  - name: Inline
    url: "{{ base }}/orders/1"
    expect:
      schema: {type: object, required: [total], properties: {total: {minimum: 0}}}
"#,
        &server.uri(),
        &[],
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
}

#[tokio::test]
async fn failed_checks_say_where_what_was_expected_and_what_came() {
    let server = server().await;
    let dir = Scratch::new();
    let out = run_chain(
        &dir,
        r#"
steps:
  - name: Order
    url: "{{ base }}/orders/1"
    expect:
      assert:
        $.items[*].price: {every: {gt: 21}}
        $.items: {count: {ge: 3}}
        $.id: {matches: "^inv_", starts_with: ord}
        $.total: {lt: 10}
        $.coupon: {exists: false}
        $.refund: {gt: 0}
      headers:
        x-ratelimit-remaining: {lt: 10}
        etag: {exists: false}
      body_size: {lt: 10}
"#,
        &server.uri(),
        &[],
    );
    assert_eq!(out.code, 1, "{}", out.stderr);
    let text = scrub(&out.stderr, &server.uri(), Some(dir.dir.path()));
    let head: String = text
        .lines()
        .take_while(|l| !l.contains("= request:"))
        .collect::<Vec<_>>()
        .join("\n");
    insta::assert_snapshot!(head, @r#"
    error: step `Order` failed: 9 expectations failed
     --> TMP/c.yaml:7:27
      |
    7 |         $.items[*].price: {every: {gt: 21}}
      |                           ^
      = $['items'][0]['price']: expected > 21, got 20
      = $.items count: expected >= 3, got 2
      = $.id: expected to match /^inv_/, got "ord_7f3a"
      = $.total: expected < 10, got 42.5
      = $.coupon: expected not to exist, got null
      = $.refund: expected > 0, got nothing (no such value in the response)
      = header x-ratelimit-remaining: expected < 10, got "57"
      = header etag: expected not to exist, got "\"v3\""
      = body size: expected < 10 bytes, got 193 bytes
    "#);
}

#[tokio::test]
async fn a_schema_failure_names_each_place_in_the_body_and_the_report_keeps_them() {
    let server = server().await;
    let dir = Scratch::new();
    dir.file(
        "strict.yaml",
        "type: object\nproperties:\n  total: {type: integer}\n  items:\n    type: array\n    items: {properties: {price: {type: integer}}, additionalProperties: false}\n",
    );
    let report = dir.path("report.json");
    let out = run_chain(
        &dir,
        "steps:\n  - name: Order\n    url: \"{{ base }}/orders/1\"\n    expect:\n      schema: strict.yaml\n",
        &server.uri(),
        &["--report", report.to_str().unwrap()],
    );
    assert_eq!(out.code, 1, "{}", out.stderr);
    let text = scrub(&out.stderr, &server.uri(), Some(dir.dir.path()));
    assert!(text.contains(" --> TMP/c.yaml:5:15"), "{text}");
    for line in [
        "= $.total: expected to match the schema (it is not of type \"integer\"), got 42.5",
        "= $.items[1].price: expected to match the schema (it is not of type \"integer\"), got 22.5",
    ] {
        assert!(text.contains(line), "{line}\n{text}");
    }
    // Extra properties: every item has `sku` and `qty`.
    assert_eq!(
        text.matches("Additional properties are not allowed")
            .count(),
        2,
        "{text}"
    );
    let report: Value = serde_json::from_str(&std::fs::read_to_string(&report).unwrap()).unwrap();
    let mismatches = report["steps"][0]["error"]["mismatches"]
        .as_array()
        .unwrap();
    assert_eq!(mismatches.len(), 4, "{mismatches:?}");
    assert_eq!(mismatches[0]["what"], "$.total");
    assert_eq!(mismatches[0]["actual"], "42.5");
}

#[tokio::test]
async fn checks_on_a_body_that_is_not_json_say_so() {
    let server = MockServer::start().await;
    Mock::given(path("/page"))
        .respond_with(ResponseTemplate::new(200).set_body_raw("<p>hi</p>", "text/html"))
        .mount(&server)
        .await;
    let dir = Scratch::new();
    let out = run_chain(
        &dir,
        "steps:\n  - name: Page\n    url: \"{{ base }}/page\"\n    expect:\n      assert: {$.a: {exists: true}}\n      schema: {type: object}\n      body_size: {ge: 9}\n",
        &server.uri(),
        &[],
    );
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert!(
        out.stderr
            .contains("$.a: expected a JSON body to look in, got a body that is not JSON"),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr
            .contains("body: expected JSON matching the schema"),
        "{}",
        out.stderr
    );
    assert!(!out.stderr.contains("body size"), "{}", out.stderr);
}

#[tokio::test]
async fn a_slow_answer_breaks_a_duration_bound() {
    let server = server().await;
    let dir = Scratch::new();
    let out = run_chain(
        &dir,
        "steps:\n  - name: Slow\n    url: \"{{ base }}/slow\"\n    expect:\n      duration: {lt: 100ms}\n",
        &server.uri(),
        &[],
    );
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert!(
        out.stderr
            .contains("failed: duration: expected < 100ms, got "),
        "{}",
        out.stderr
    );
}

/// Mistakes in the checks are found by `validate`, with a position, before
/// anything is sent.
#[test]
fn mistakes_in_checks_are_validation_errors() {
    let dir = Scratch::new();
    dir.file("broken.json", "{\"type\": ");
    let cases = [
        ("assert: {$.a: {equals: 1}}", "unknown field `equals`"),
        ("assert: {$.a: {}}", "no check given"),
        (
            "assert: {$.a: {matches: \"(\"}}",
            "is not a valid regular expression",
        ),
        (
            "assert: {$.a: {every: {matches: \"[z-a]\"}}}",
            "is not a valid regular expression",
        ),
        ("assert: {$.a: {count: -1}}", "whole number"),
        ("assert: {$.a: {type: text}}", "unknown variant `text`"),
        ("assert: {$.a: {exists: maybe}}", "expected a boolean"),
        (
            "assert: {\"a.b\": {exists: true}}",
            "a JSONPath starts with `$`",
        ),
        ("assert: {$.a: {gt: \"{{ nope( }}\"}}", "nope"),
        (
            "headers: {etag: [1]}",
            "neither text the value must contain nor a map of checks",
        ),
        (
            "headers: {etag: {matches: \"(\"}}",
            "is not a valid regular expression",
        ),
        ("duration: {lt: soon}", "not a duration"),
        ("duration: {}", "gives no bound"),
        ("body_size: {le: 1XB}", "not a size unit"),
        ("schema: missing.json", "cannot read"),
        ("schema: broken.json", "is not JSON"),
        ("schema: {type: 12}", "not a usable JSON Schema"),
        (
            "schema: {$ref: \"https://example.com/s.json\"}",
            "not a usable JSON Schema",
        ),
        ("schema: 3", "a file name or a JSON Schema"),
    ];
    for (i, (expect, says)) in cases.iter().enumerate() {
        let file = dir.file(
            &format!("c{i}.yaml"),
            &format!(
                "steps:\n  - name: A\n    url: http://127.0.0.1:9/\n    expect:\n      {expect}\n"
            ),
        );
        let out = run(&["validate", file.to_str().unwrap()]);
        assert_eq!(out.code, 2, "{expect}: {}", out.stderr);
        assert!(out.stderr.contains(says), "{expect}: {}", out.stderr);
        assert!(
            out.stderr.contains(&format!("c{i}.yaml:5:")),
            "{expect}: no position: {}",
            out.stderr
        );
    }
}

/// A secret in a check is `***` in every message and report, whether the
/// check failed on it or beside it.
#[tokio::test]
async fn a_secret_in_a_check_never_shows() {
    let server = server().await;
    let dir = Scratch::new();
    let chain = dir.file(
        "c.yaml",
        r#"
steps:
  - name: Order
    url: "{{ base }}/orders/1"
    expect:
      assert:
        $.id: {eq: "{{ secret('canary') }}", starts_with: "{{ secret('canary') }}"}
        $.tags: {contains: "{{ secret('canary') }}"}
      headers:
        etag: {eq: "{{ secret('canary') }}"}
"#,
    );
    let report = dir.path("report.json");
    let junit = dir.path("junit.xml");
    let mut cmd = crate::support::pytopus();
    cmd.env("PYTOPUS_KEYRING", "off")
        .env("PYTOPUS_SECRET_CANARY", "canary-7d1e-value")
        .args([
            "run",
            chain.to_str().unwrap(),
            "--no-history",
            "-vv",
            "--var",
        ])
        .arg(format!("base={}", server.uri()))
        .args(["--report", report.to_str().unwrap()])
        .args(["--junit", junit.to_str().unwrap()]);
    let out = crate::support::run_cmd(&mut cmd);
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert!(out.stderr.contains("expected \"***\""), "{}", out.stderr);
    for (channel, text) in [
        ("stdout", out.stdout.clone()),
        ("stderr", out.stderr.clone()),
        ("--report", std::fs::read_to_string(&report).unwrap()),
        ("--junit", std::fs::read_to_string(&junit).unwrap()),
    ] {
        assert!(!text.contains("canary-7d1e"), "{channel}:\n{text}");
    }
}
