//! Data-driven runs: `pytopus run chain --data rows.csv|json|jsonl`, with
//! `--parallel N` and `--shard K/N`, against real HTTP servers (wiremock).

use std::collections::BTreeMap;
use std::time::Duration;

use crate::support::{Scratch, pytopus, run, run_chain, run_cmd};
use serde_json::{Value, json};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

/// POSTs the row's fields and returns what the server echoed.
const ECHO: &str = r#"
steps:
  - name: Echo
    method: POST
    url: "{{ base }}/echo"
    body: {id: "{{ id }}", name: "{{ name }}"}
output: "{{ Echo }}"
"#;

/// A server that answers POST /echo with the request's JSON body, `expect`
/// times; an `id` in `fail` gets a 500 instead.
async fn echo_server(expect: u64, fail: &'static [i64]) -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/echo"))
        .respond_with(move |req: &Request| {
            let body: Value = serde_json::from_slice(&req.body).unwrap_or(Value::Null);
            if body["id"].as_i64().is_some_and(|id| fail.contains(&id)) {
                return ResponseTemplate::new(500).set_body_string("row failed on purpose");
            }
            ResponseTemplate::new(200).set_body_json(body)
        })
        .expect(expect)
        .mount(&server)
        .await;
    server
}

/// The `id`s of the JSON bodies the server received, in arrival order.
async fn ids_received(server: &MockServer) -> Vec<i64> {
    server
        .received_requests()
        .await
        .unwrap_or_default()
        .iter()
        .filter_map(|r| serde_json::from_slice::<Value>(&r.body).ok())
        .filter_map(|b| b["id"].as_i64())
        .collect()
}

/// Runs `chain` over the data file `name` (written with `rows`) and `args`.
fn run_data(
    base: &str,
    chain: &str,
    name: &str,
    rows: &str,
    args: &[&str],
) -> crate::support::Output {
    let dir = Scratch::new();
    let data = dir.file(name, rows);
    let mut all = vec!["--data", data.to_str().unwrap()];
    all.extend_from_slice(args);
    run_chain(base, chain, &all).0
}

fn stdout_json(out: &crate::support::Output) -> Value {
    serde_json::from_str(&out.stdout)
        .unwrap_or_else(|e| panic!("stdout is not JSON ({e}):\n{}\n{}", out.stdout, out.stderr))
}

#[tokio::test]
async fn csv_rows_with_quoted_fields_run_once_each_in_row_order() {
    let server = echo_server(4, &[]).await;
    // A comma, doubled quotes and a line break inside quotes, an empty cell;
    // cells are typed like --var values (`007` stays text).
    let csv = "id,name\n1,\"Smith, J\"\n2,\"say \"\"hi\"\"\"\n3,\"two\nlines\"\n007,\n";
    let out = run_data(&server.uri(), ECHO, "rows.csv", csv, &[]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(
        stdout_json(&out),
        json!([
            {"id": 1, "name": "Smith, J"},
            {"id": 2, "name": "say \"hi\""},
            {"id": 3, "name": "two\nlines"},
            {"id": "007", "name": ""},
        ])
    );
    assert!(
        out.stderr.contains("[row 1] [1/1] ok Echo POST"),
        "{}",
        out.stderr
    );
    assert!(out.stderr.ends_with("4 rows passed\n"), "{}", out.stderr);
}

#[tokio::test]
async fn json_and_json_lines_rows_keep_their_values() {
    let server = echo_server(4, &[]).await;
    let json_rows = r#"[{"id": 1, "name": {"first": "Ada"}}, {"id": 2, "name": [1, 2]}]"#;
    let out = run_data(&server.uri(), ECHO, "rows.json", json_rows, &[]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(
        stdout_json(&out),
        json!([{"id": 1, "name": {"first": "Ada"}}, {"id": 2, "name": [1, 2]}])
    );
    // JSON Lines: one object per line, blank lines skipped; "3" stays a string.
    let lines = "{\"id\": \"3\", \"name\": null}\n\n{\"id\": 4, \"name\": true}\n";
    let out = run_data(
        &server.uri(),
        ECHO,
        "rows.jsonl",
        lines,
        &["--output", "yaml"],
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    let value: Value = serde_saphyr::from_str(&out.stdout).unwrap();
    assert_eq!(
        value,
        json!([{"id": "3", "name": null}, {"id": 4, "name": true}])
    );
}

#[tokio::test]
async fn rows_can_come_from_standard_input() {
    let server = echo_server(2, &[]).await;
    let dir = Scratch::new();
    let chain = dir.file("c.yaml", ECHO);
    let out = run_cmd(
        pytopus()
            .args(["run", chain.to_str().unwrap(), "--data", "-", "-q"])
            .args(["--var", &format!("base={}", server.uri())])
            .write_stdin("{\"id\": 1, \"name\": \"a\"}\n{\"id\": 2, \"name\": \"b\"}\n"),
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(
        stdout_json(&out),
        json!([{"id": 1, "name": "a"}, {"id": 2, "name": "b"}])
    );
    assert_eq!(out.stderr, "");
}

#[tokio::test]
async fn bad_data_files_are_usage_errors_that_name_the_file_and_line() {
    let server = echo_server(0, &[]).await;
    let cases: &[(&str, &str, &[&str])] = &[
        (
            "rows.csv",
            "id,name\n1,a\n2,b,c\n",
            &[
                "invalid CSV: this row has 3 fields, the header has 2",
                "rows.csv:3:1",
            ],
        ),
        (
            "rows.csv",
            "id,user-name\n1,a\n",
            &[
                "CSV column `user-name` is not a valid variable name",
                "rows.csv:1:4",
            ],
        ),
        (
            "rows.json",
            "[{\"id\": 1, \"name\": \"a\"},\n {\"id\": 2 \"name\": \"b\"}]",
            &["invalid JSON", "rows.json:2:"],
        ),
        (
            "rows.json",
            "{\"id\": 1, \"name\": \"a\"}",
            &["a JSON data file must be an array of objects"],
        ),
        (
            "rows.json",
            "[{\"id\": 1, \"name\": \"a\"},\n 7]",
            &["row 2 is not an object of variables", "rows.json:2:2"],
        ),
        (
            "rows.jsonl",
            "{\"id\": 1, \"name\": \"a\"}\n{\"id\": 2, \"name\": }\n",
            &["invalid JSON Lines", "rows.jsonl:2:"],
        ),
    ];
    for (name, text, expected) in cases {
        let out = run_data(&server.uri(), ECHO, name, text, &[]);
        assert_eq!(out.code, 2, "{name} {text:?}:\n{}", out.stderr);
        assert_eq!(out.stdout, "");
        for e in *expected {
            assert!(
                out.stderr.contains(e),
                "{name} {text:?}: stderr lacks {e:?}:\n{}",
                out.stderr
            );
        }
    }
    let out = run(&["run", "c.yaml", "--data", "no/such/rows.csv"]);
    assert_eq!(out.code, 2);
    assert!(
        out.stderr
            .contains("cannot read data file `no/such/rows.csv`: no such file"),
        "{}",
        out.stderr
    );
}

#[tokio::test]
async fn an_invalid_row_stops_the_run_before_anything_is_sent() {
    let server = echo_server(0, &[]).await;
    let lines = "{\"id\": 1, \"name\": \"a\"}\n{\"id\": 2}\n{\"id\": 3}\n";
    let out = run_data(&server.uri(), ECHO, "rows.jsonl", lines, &[]);
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert_eq!(out.stdout, "");
    assert!(
        out.stderr
            .starts_with("error: row 2: `name` is not defined\n"),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr.contains("= note: row 2 is line 2 of "),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr.ends_with("error: row 3 is invalid too\n"),
        "{}",
        out.stderr
    );
}

#[tokio::test]
async fn parallel_rows_print_their_results_in_row_order() {
    let server = MockServer::start().await;
    // Row 1 is slow, the others answer after a random short delay: rows
    // finish out of order.
    Mock::given(method("POST"))
        .and(path("/echo"))
        .respond_with(|req: &Request| {
            let body: Value = serde_json::from_slice(&req.body).unwrap_or(Value::Null);
            let delay = match body["id"].as_u64() {
                Some(1) => 1500,
                _ => fastrand::u64(10..150),
            };
            ResponseTemplate::new(200)
                .set_body_json(body)
                .set_delay(Duration::from_millis(delay))
        })
        .expect(8)
        .mount(&server)
        .await;
    let csv: String = std::iter::once("id,name\n".to_string())
        .chain((1..=8).map(|i| format!("{i},n{i}\n")))
        .collect();
    let out = run_data(&server.uri(), ECHO, "rows.csv", &csv, &["--parallel", "4"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let expected: Vec<Value> = (1..=8)
        .map(|i| json!({"id": i, "name": format!("n{i}")}))
        .collect();
    assert_eq!(stdout_json(&out), Value::Array(expected));
    // While row 1 waited, the three other places ran rows 2 to 8.
    let done = |row: usize| {
        out.stderr
            .find(&format!("[row {row}] [1/1] ok"))
            .unwrap_or_else(|| panic!("row {row} not logged:\n{}", out.stderr))
    };
    for row in 2..=8 {
        assert!(done(row) < done(1), "{}", out.stderr);
    }
}

#[tokio::test]
async fn a_failed_row_is_null_and_the_others_still_run() {
    let server = echo_server(3, &[2]).await;
    let dir = Scratch::new();
    let report = dir.path("report.json");
    let csv = "id,name\n1,a\n2,b\n3,c\n";
    let out = run_data(
        &server.uri(),
        ECHO,
        "rows.csv",
        csv,
        &["--report", report.to_str().unwrap(), "--parallel", "2"],
    );
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert_eq!(
        stdout_json(&out),
        json!([{"id": 1, "name": "a"}, null, {"id": 3, "name": "c"}])
    );
    assert!(
        out.stderr.contains("error: row 2: step `Echo` failed"),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr.ends_with("error: 1 of 3 rows failed: row 2\n"),
        "{}",
        out.stderr
    );
    let rep: Value = serde_json::from_str(&std::fs::read_to_string(&report).unwrap()).unwrap();
    assert_eq!(rep["status"], "failed");
    assert_eq!(rep["shard"], Value::Null);
    let rows = rep["rows"].as_array().unwrap();
    let summary: Vec<(Value, Value, Value)> = rows
        .iter()
        .map(|r| {
            (
                r["row"].clone(),
                r["status"].clone(),
                r["vars"]["id"].clone(),
            )
        })
        .collect();
    assert_eq!(
        summary,
        [
            (json!(1), json!("passed"), json!(1)),
            (json!(2), json!("failed"), json!(2)),
            (json!(3), json!("passed"), json!(3)),
        ]
    );
    assert_eq!(rows[1]["steps"][0]["response"]["status"], 500);
    assert_eq!(rows[2]["output"], json!({"id": 3, "name": "c"}));
}

#[tokio::test]
async fn raw_output_is_one_line_per_row() {
    let server = echo_server(3, &[2]).await;
    let chain = ECHO.replace("output: \"{{ Echo }}\"", "output: \"{{ Echo.name }}\"");
    let csv = "id,name\n1,a b\n2,x\n3,c\n";
    let out = run_data(
        &server.uri(),
        &chain,
        "rows.csv",
        csv,
        &["--output", "raw", "-q"],
    );
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert_eq!(out.stdout, "a b\n\nc\n");
}

#[tokio::test]
async fn row_fields_override_vars_files_and_var_overrides_rows() {
    let server = echo_server(1, &[]).await;
    let chain = r#"
vars: {a: chain, b: chain, c: chain, d: chain}
steps:
  - name: Echo
    method: POST
    url: "{{ base }}/echo"
    body: {id: "{{ id }}", name: ["{{ a }}", "{{ b }}", "{{ c }}", "{{ d }}"]}
output: "{{ Echo.name }}"
"#;
    let dir = Scratch::new();
    let vars = dir.file("vars.yaml", "{b: file, c: file, d: file}");
    let out = run_data(
        &server.uri(),
        chain,
        "rows.csv",
        "id,c,d\n1,row,row\n",
        &["--vars-file", vars.to_str().unwrap(), "--var", "d=cli"],
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(stdout_json(&out), json!([["chain", "file", "row", "cli"]]));
}

#[tokio::test]
async fn shards_cover_every_row_exactly_once() {
    const ROWS: i64 = 10;
    const N: i64 = 3;
    let server = echo_server(ROWS as u64, &[]).await;
    let dir = Scratch::new();
    let csv: String = std::iter::once("id,name\n".to_string())
        .chain((1..=ROWS).map(|i| format!("{i},n{i}\n")))
        .collect();
    let data = dir.file("rows.csv", &csv);
    let mut seen: BTreeMap<i64, usize> = BTreeMap::new();
    for k in 1..=N {
        let before = ids_received(&server).await.len();
        let shard = format!("{k}/{N}");
        let (out, _dir) = run_chain(
            &server.uri(),
            ECHO,
            &["--data", data.to_str().unwrap(), "--shard", &shard, "-q"],
        );
        assert_eq!(out.code, 0, "{shard}: {}", out.stderr);
        // This shard's rows: 0-based index i with i mod N = K-1.
        let mine: Vec<i64> = (1..=ROWS).filter(|id| (id - 1) % N == k - 1).collect();
        let printed: Vec<i64> = stdout_json(&out)
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v["id"].as_i64().unwrap())
            .collect();
        assert_eq!(printed, mine, "{shard}: stdout lists this shard's rows");
        let ids = ids_received(&server).await;
        assert_eq!(ids[before..], mine[..], "{shard}: the rows sent");
        for id in &ids[before..] {
            *seen.entry(*id).or_default() += 1;
        }
    }
    let expected: BTreeMap<i64, usize> = (1..=ROWS).map(|id| (id, 1)).collect();
    assert_eq!(seen, expected, "every row exactly once across the shards");
}

#[tokio::test]
async fn an_empty_shard_prints_an_empty_list() {
    let server = echo_server(0, &[]).await;
    let out = run_data(
        &server.uri(),
        ECHO,
        "rows.csv",
        "id,name\n1,a\n2,b\n",
        &["--shard", "3/3"],
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(out.stdout, "[]\n");
    assert!(
        out.stderr
            .contains("no rows to run: shard 3/3 of the 2 rows of "),
        "{}",
        out.stderr
    );
}

#[test]
fn bad_shard_and_parallel_flags_are_usage_errors() {
    let dir = Scratch::new();
    let chain = dir.file("c.yaml", ECHO);
    let data = dir.file("rows.csv", "id,name\n1,a\n");
    let (chain, data) = (chain.to_str().unwrap(), data.to_str().unwrap());
    let cases: &[(&[&str], &str)] = &[
        (
            &["--shard", "4/3"],
            "invalid value '4/3' for '--shard <K/N>': K must be from 1 to 3",
        ),
        (&["--shard", "0/3"], "K must be from 1 to 3"),
        (
            &["--shard", "1/0"],
            "N, the number of shards, must be at least 1",
        ),
        (&["--shard", "2"], "write K/N"),
        (&["--shard", "a/3"], "K `a` is not a whole number"),
        (&["--parallel", "0"], "N must be at least 1"),
    ];
    for (args, message) in cases {
        let mut all = vec!["run", chain, "--data", data];
        all.extend_from_slice(args);
        let out = run(&all);
        assert_eq!(out.code, 2, "{args:?}");
        assert!(out.stderr.contains(message), "{args:?}:\n{}", out.stderr);
    }
    let out = run(&["run", chain, "--parallel", "2"]);
    assert_eq!(out.code, 2);
    assert!(
        out.stderr.contains("--data <F>"),
        "--parallel needs --data:\n{}",
        out.stderr
    );
    let out = run_cmd(
        pytopus()
            .args(["run", "-", "--data", "-"])
            .write_stdin(ECHO),
    );
    assert_eq!(out.code, 2);
    assert!(
        out.stderr.contains("cannot both read standard input"),
        "{}",
        out.stderr
    );
}

#[tokio::test]
async fn rows_are_recorded_on_one_tape_and_replayed_offline() {
    let server = echo_server(3, &[]).await;
    let dir = Scratch::new();
    let tape = dir.path("tape.json");
    let data = dir.file("rows.csv", "id,name\n1,a\n2,b\n3,c\n");
    let (recorded, _d) = run_chain(
        &server.uri(),
        ECHO,
        &[
            "--data",
            data.to_str().unwrap(),
            "--record",
            tape.to_str().unwrap(),
            "-q",
        ],
    );
    assert_eq!(recorded.code, 0, "{}", recorded.stderr);
    let uri = server.uri();
    drop(server);
    let (replayed, _d) = run_chain(
        &uri,
        ECHO,
        &[
            "--data",
            data.to_str().unwrap(),
            "--replay",
            tape.to_str().unwrap(),
            "-q",
        ],
    );
    assert_eq!(replayed.code, 0, "{}", replayed.stderr);
    assert_eq!(replayed.stdout, recorded.stdout);
    assert_eq!(
        stdout_json(&replayed),
        json!([{"id": 1, "name": "a"}, {"id": 2, "name": "b"}, {"id": 3, "name": "c"}])
    );
}

#[test]
fn a_dry_run_prints_every_rows_requests() {
    let dir = Scratch::new();
    let data = dir.file("rows.csv", "id,name\n1,a\n2,b\n");
    let out = run_cmd(
        pytopus()
            .args(["run", "-", "--dry-run", "-q", "--data", data.to_str().unwrap()])
            .write_stdin(
                "steps:\n  - name: Get\n    url: \"https://api.example.com/users/{{ id }}\"\n    query_params: {name: \"{{ name }}\"}\n",
            ),
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(
        out.stdout,
        "# [row 1] Get\nGET https://api.example.com/users/1?name=a\n\n# [row 2] Get\nGET https://api.example.com/users/2?name=b\n"
    );
}

#[cfg(unix)]
#[tokio::test]
async fn an_interrupt_stops_the_rows_and_still_writes_the_report() {
    let server = MockServer::start().await;
    Mock::given(path("/echo"))
        .respond_with(ResponseTemplate::new(200).set_delay(Duration::from_secs(20)))
        .mount(&server)
        .await;
    let dir = Scratch::new();
    let chain = dir.file("c.yaml", ECHO);
    let data = dir.file("rows.csv", "id,name\n1,a\n2,b\n3,c\n");
    let report = dir.path("r.json");
    let child = crate::support::spawn_chain(
        &chain,
        &server.uri(),
        &[
            "--data",
            data.to_str().unwrap(),
            "--report",
            report.to_str().unwrap(),
            "-q",
        ],
    );
    crate::support::signal_when_busy(&server, child.id(), "TERM").await;
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(130));
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "[\n  null,\n  null,\n  null\n]\n"
    );
    let rep: Value = serde_json::from_str(&std::fs::read_to_string(&report).unwrap()).unwrap();
    assert_eq!(rep["status"], "interrupted");
    let statuses: Vec<&str> = rep["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["status"].as_str().unwrap())
        .collect();
    assert_eq!(statuses, ["interrupted", "not_run", "not_run"]);
    assert_eq!(server.received_requests().await.unwrap().len(), 1);
}
