//! `inputs:` and `outputs:`: a chain as a function. Every caller is checked
//! before anything is sent.

use serde_json::{Value, json};
use wiremock::matchers::path_regex;
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::serve::{Setup, client, serve_while, served};
use crate::support::{Scratch, run, run_chain};

const CHAIN: &str = r#"name: lookup
inputs:
  user_id: {type: integer, minimum: 1, description: The user to fetch}
  stage: {type: string, enum: [dev, prod], default: dev}
outputs:
  user: {type: integer}
steps:
  - name: U
    url: "{{ base }}/{{ stage }}/users/{{ user_id }}"
output: {user: "{{ U.id }}"}
"#;

async fn api() -> MockServer {
    let server = MockServer::start().await;
    Mock::given(path_regex("^/(dev|prod)/users/"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"id": 7})))
        .mount(&server)
        .await;
    server
}

async fn hits(server: &MockServer) -> usize {
    server.received_requests().await.unwrap().len()
}

#[tokio::test]
async fn var_values_are_checked_and_typed_before_anything_is_sent() {
    let server = api().await;
    for (args, message) in [
        (
            vec![],
            "error: input `user_id` is required (The user to fetch)",
        ),
        (
            vec!["--var", "user_id=abc"],
            "error: input `user_id`: \"abc\" is not of type \"integer\"",
        ),
        (
            vec!["--var", "user_id=0"],
            "input `user_id`: 0 is less than the minimum of 1",
        ),
        (
            vec!["--var", "user_id=1", "--var", "stage=qa"],
            "input `stage`: \"qa\" is not one of",
        ),
    ] {
        let (out, _d) = run_chain(&server.uri(), CHAIN, &args);
        assert_eq!(out.code, 2, "{args:?}: {}", out.stderr);
        assert!(out.stderr.contains(message), "{args:?}: {}", out.stderr);
    }
    assert_eq!(hits(&server).await, 0, "nothing was sent");
    let (out, _d) = run_chain(&server.uri(), CHAIN, &["--var", "user_id=3", "-q"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(out.stdout, "{\n  \"user\": 7\n}\n");
    let paths: Vec<String> = server
        .received_requests()
        .await
        .unwrap()
        .iter()
        .map(|r| r.url.path().to_string())
        .collect();
    assert_eq!(paths, ["/dev/users/3"], "the default filled `stage`");
}

#[tokio::test]
async fn data_rows_are_read_as_the_declared_types() {
    let server = api().await;
    let dir = Scratch::new();
    let chain = dir.file("c.yaml", CHAIN);
    let bad = dir.file("bad.csv", "user_id,stage\n1,dev\nx,prod\n");
    let base = format!("base={}", server.uri());
    let out = run(&[
        "run",
        chain.to_str().unwrap(),
        "--data",
        bad.to_str().unwrap(),
        "--var",
        &base,
    ]);
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(
        out.stderr
            .contains("row 2: input `user_id`: \"x\" is not of type \"integer\""),
        "{}",
        out.stderr
    );
    assert_eq!(hits(&server).await, 0);
    let good = dir.file("good.csv", "user_id,stage\n1,dev\n2,prod\n");
    let out = run(&[
        "run",
        chain.to_str().unwrap(),
        "--data",
        good.to_str().unwrap(),
        "--var",
        &base,
        "-q",
    ]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(
        serde_json::from_str::<Value>(&out.stdout).unwrap(),
        json!([{"user": 7}, {"user": 7}])
    );
}

#[tokio::test]
async fn a_sub_chain_checks_what_with_gives_it() {
    let server = api().await;
    let dir = Scratch::new();
    dir.file(
        "lookup.yaml",
        &CHAIN
            .replace("{{ base }}", "{{ host }}")
            .replace("inputs:\n", "inputs:\n  host: {type: string}\n"),
    );
    let parent = |with: &str| {
        format!(
            "steps:\n  - name: L\n    chain: lookup.yaml\n    with: {{host: \"{{{{ base }}}}\", {with}}}\n"
        )
    };
    // Missing: found when the chain is checked.
    let missing = dir.file("missing.yaml", &parent("stage: prod"));
    let out = run(&[
        "validate",
        missing.to_str().unwrap(),
        "--var",
        "base=http://x.test",
    ]);
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(
        out.stderr.contains("needs input `user_id`"),
        "{}",
        out.stderr
    );
    // A value known only at run time: checked then.
    let late = dir.file("late.yaml", &parent("user_id: \"{{ 'abc' }}\""));
    let base = format!("base={}", server.uri());
    let out = run(&["run", late.to_str().unwrap(), "--var", &base, "-q"]);
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert!(
        out.stderr
            .contains("input `user_id`: \"abc\" is not of type \"integer\""),
        "{}",
        out.stderr
    );
    assert_eq!(hits(&server).await, 0);
}

#[tokio::test]
async fn declared_outputs_are_checked() {
    let server = api().await;
    // The chain's output gives text where `outputs:` says integer.
    let wrong = CHAIN.replace(
        "output: {user: \"{{ U.id }}\"}",
        "output: {user: \"id {{ U.id }}\"}",
    );
    let (out, _d) = run_chain(&server.uri(), &wrong, &["--var", "user_id=1", "-q"]);
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert!(
        out.stderr
            .contains("`output` does not hold what `outputs:` declares: output `user`"),
        "{}",
        out.stderr
    );
    let missing_key = CHAIN.replace(
        "output: {user: \"{{ U.id }}\"}",
        "output: {id: \"{{ U.id }}\"}",
    );
    let (out, _d) = run_chain(&server.uri(), &missing_key, &["--var", "user_id=1"]);
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(
        out.stderr
            .contains("`output` has no `user`, which `outputs:` declares"),
        "{}",
        out.stderr
    );
}

#[test]
fn declarations_are_checked() {
    let dir = Scratch::new();
    for (inputs, message) in [
        ("n: {type: integer, minimun: 1}", "unknown key `minimun`"),
        ("n: {type: strin}", "the schema of input `n` is not valid"),
        (
            "n: {type: string, pattern: \"(\"}",
            "the schema of input `n` is not valid",
        ),
        (
            "n: {type: integer, default: x}",
            "the `default` of input `n` does not fit its schema",
        ),
        ("env: {type: string}", "`env` cannot name an input"),
        (
            "n: {type: string, required: maybe}",
            "`required` is `true` or `false`",
        ),
    ] {
        let file = dir.file(
            "c.yaml",
            &format!("inputs:\n  {inputs}\nsteps:\n  - {{name: A, url: 'https://x.test/'}}\n"),
        );
        let out = run(&["validate", file.to_str().unwrap()]);
        assert_eq!(out.code, 2, "{inputs}: {}", out.stderr);
        assert!(out.stderr.contains(message), "{inputs}: {}", out.stderr);
    }
    let both = dir.file("c.yaml", "vars: {n: 1}\ninputs:\n  n: {type: integer}\nsteps:\n  - {name: A, url: 'https://x.test/'}\n");
    let out = run(&["validate", both.to_str().unwrap()]);
    assert!(
        out.stderr.contains("`n` is an input and a variable"),
        "{}",
        out.stderr
    );
}

#[test]
fn inputs_prints_them_for_people_and_for_tools() {
    let dir = Scratch::new();
    let file = dir.file("c.yaml", CHAIN);
    let out = run(&["inputs", file.to_str().unwrap()]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(
        out.stdout,
        "inputs:\n  user_id (integer, required) — The user to fetch\n  stage (string, default \"dev\")\noutputs:\n  user (integer)\n"
    );
    let out = run(&["inputs", file.to_str().unwrap(), "--format", "json-schema"]);
    let v: Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(v["inputs"]["required"], json!(["user_id"]));
    assert_eq!(
        v["inputs"]["properties"]["stage"]["enum"],
        json!(["dev", "prod"])
    );
    assert_eq!(v["outputs"]["properties"]["user"]["type"], "integer");
    // A schema a validator accepts.
    assert!(v["inputs"]["$schema"].as_str().unwrap().contains("2020-12"));
}

#[tokio::test]
async fn serve_checks_a_callers_values_against_the_inputs() {
    let chain = "trigger: {}\ninputs:\n  n: {type: integer, maximum: 10}\nsteps:\n  - name: A\n    url: \"https://api.test/n/{{ n }}\"\n";
    let setup = Setup::new(vec![served("counted", chain)]);
    setup.fake.gate.add_permits(10);
    let sent = setup.fake.clone();
    serve_while(setup, |base, _| async move {
        let post = |body: Value| {
            let base = base.clone();
            async move {
                client()
                    .post(format!("{base}/chains/counted/run"))
                    .json(&body)
                    .send()
                    .await
                    .unwrap()
            }
        };
        let r = post(json!({"vars": {"n": 99}})).await;
        assert_eq!(r.status(), 422);
        assert!(
            r.text()
                .await
                .unwrap()
                .contains("input `n`: 99 is greater than the maximum of 10")
        );
        let r = post(json!({})).await;
        assert_eq!(r.status(), 422);
        assert!(r.text().await.unwrap().contains("input `n` is required"));
        let r = post(json!({"vars": {"n": "3"}})).await;
        assert_eq!(r.status(), 200, "text read as the declared type");
        let list: Value = client()
            .get(format!("{base}/chains"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(list["chains"][0]["inputs"]["required"], json!(["n"]));
    })
    .await;
    assert_eq!(sent.sent(), 1);
}
