//! `pytopus mcp`: a client speaking the protocol by hand over the child's
//! stdin and stdout lists the tools and their schemas, calls chains against
//! a local server, gets structured output, `isError` results, progress
//! notifications and cancellation — and never one byte of the secret.

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdin, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use serde_json::{Value, json};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::support::{Scratch, isolate, pytopus};

const CANARY: &str = "canary-7f3e9b1c5d";

/// A protocol client over a child's pipes; every byte it receives is kept.
struct Client {
    child: Child,
    stdin: Option<ChildStdin>,
    lines: mpsc::Receiver<String>,
    received: String,
    next_id: u64,
}

impl Client {
    fn start(args: &[&str]) -> Client {
        Client::start_with(args, &[])
    }

    fn start_with(args: &[&str], envs: &[(&str, &str)]) -> Client {
        let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_pytopus"));
        isolate(&mut cmd)
            .arg("mcp")
            .args(args)
            .env("PYTOPUS_SECRET_API_TOKEN", CANARY)
            .envs(envs.iter().copied())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = cmd.spawn().expect("pytopus starts");
        let stdin = child.stdin.take().unwrap();
        let stdout = child.stdout.take().unwrap();
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { return };
                if tx.send(line).is_err() {
                    return;
                }
            }
        });
        let mut c = Client {
            child,
            stdin: Some(stdin),
            lines,
            received: String::new(),
            next_id: 1,
        };
        let init = c.request(
            "initialize",
            json!({
                "protocolVersion": "2025-06-18",
                "capabilities": {},
                "clientInfo": {"name": "pytopus-test", "version": "0"},
            }),
        );
        assert_eq!(init["result"]["serverInfo"]["name"], "pytopus", "{init}");
        c.notify("notifications/initialized", json!({}));
        c
    }

    fn send(&mut self, msg: Value) {
        let stdin = self.stdin.as_mut().expect("open");
        writeln!(stdin, "{msg}").unwrap();
        stdin.flush().unwrap();
    }

    fn notify(&mut self, method: &str, params: Value) {
        self.send(json!({"jsonrpc": "2.0", "method": method, "params": params}));
    }

    /// Sends a request; returns its id.
    fn start_request(&mut self, method: &str, params: Value) -> u64 {
        let id = self.next_id;
        self.next_id += 1;
        self.send(json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params}));
        id
    }

    /// The next message from the server, or `None` after `wait`.
    fn next(&mut self, wait: Duration) -> Option<Value> {
        let line = self.lines.recv_timeout(wait).ok()?;
        self.received.push_str(&line);
        self.received.push('\n');
        Some(serde_json::from_str(&line).expect("every line is JSON-RPC"))
    }

    /// Messages until the response to `id` (which comes last).
    fn until_response(&mut self, id: u64) -> Vec<Value> {
        let mut seen = Vec::new();
        loop {
            let msg = self
                .next(Duration::from_secs(20))
                .unwrap_or_else(|| panic!("no response to request {id}; got {seen:#?}"));
            let done = msg["id"] == json!(id) && msg.get("method").is_none();
            seen.push(msg);
            if done {
                return seen;
            }
        }
    }

    fn request(&mut self, method: &str, params: Value) -> Value {
        let id = self.start_request(method, params);
        self.until_response(id).pop().unwrap()
    }

    fn call(&mut self, tool: &str, args: Value) -> Value {
        let r = self.request("tools/call", json!({"name": tool, "arguments": args}));
        assert!(
            r.get("error").is_none(),
            "a tool result, not a protocol error: {r}"
        );
        r["result"].clone()
    }

    /// Closes stdin; the server ends; returns all it sent, stderr included.
    fn finish(mut self) -> String {
        drop(self.stdin.take());
        while self.next(Duration::from_secs(5)).is_some() {}
        let mut stderr = String::new();
        std::io::Read::read_to_string(&mut self.child.stderr.take().unwrap(), &mut stderr).unwrap();
        let status = self.child.wait().unwrap();
        assert!(
            status.success(),
            "mcp exits 0 when the client leaves: {status:?} {stderr}"
        );
        std::mem::take(&mut self.received) + &stderr
    }
}

impl Drop for Client {
    fn drop(&mut self) {
        let _ = self.child.kill();
    }
}

fn text(result: &Value) -> String {
    result["content"][0]["text"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

fn chains(server: &MockServer) -> Scratch {
    let dir = Scratch::new();
    let base = server.uri();
    dir.file(
        "get_user.yaml",
        &format!(
            r#"name: Get user
description: Fetches a user's name by id.
vars: {{base: "{base}"}}
inputs:
  user_id: {{type: integer, minimum: 1, description: The user to fetch}}
outputs:
  name: {{type: string}}
steps:
  - name: U
    url: "{{{{ base }}}}/users/{{{{ user_id }}}}"
    auth: {{type: bearer, token: "{{{{ secret('api_token') }}}}"}}
  - name: Posts
    url: "{{{{ base }}}}/users/{{{{ user_id }}}}/posts"
output: {{name: "{{{{ U.name }}}}"}}
"#
        ),
    );
    dir.file(
        "broken.yaml",
        &format!(
            r#"description: Always fails (the server answers 404 with the token in the body).
vars: {{base: "{base}"}}
steps:
  - name: Missing
    url: "{{{{ base }}}}/missing"
    auth: {{type: bearer, token: "{{{{ secret('api_token') }}}}"}}
    expect: {{status: 200}}
"#
        ),
    );
    dir.file(
        "slow.yaml",
        &format!(
            r#"description: Waits for a slow server.
vars: {{base: "{base}"}}
steps:
  - name: Slow
    url: "{{{{ base }}}}/slow"
    timeout: 60s
"#
        ),
    );
    dir.file(
        "remove.yaml",
        &format!(
            r#"description: Deletes a user.
vars: {{base: "{base}"}}
inputs:
  user_id: {{type: integer}}
steps:
  - name: Delete
    method: DELETE
    url: "{{{{ base }}}}/users/{{{{ user_id }}}}"
    auth: {{type: bearer, token: "{{{{ secret('api_token') }}}}"}}
"#
        ),
    );
    dir
}

async fn api() -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/users/7"))
        .respond_with(ResponseTemplate::new(200).set_body_json(
            json!({"id": 7, "name": "Ada", "token_echo": format!("Bearer {CANARY}")}),
        ))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/users/7/posts"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!([])))
        .mount(&server)
        .await;
    Mock::given(path("/missing"))
        .respond_with(
            ResponseTemplate::new(404).set_body_string(format!("no such thing; you sent {CANARY}")),
        )
        .mount(&server)
        .await;
    Mock::given(path("/slow"))
        .respond_with(ResponseTemplate::new(200).set_delay(Duration::from_secs(30)))
        .mount(&server)
        .await;
    server
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chains_are_tools_with_schemas_results_errors_progress_and_no_secret() {
    let server = api().await;
    let dir = chains(&server);
    let d = dir.dir.path().to_str().unwrap();
    let history = Scratch::new();
    let h = history.dir.path().to_str().unwrap();
    let mut c = Client::start_with(&[d], &[("PYTOPUS_HISTORY_DIR", h)]);

    // tools/list: one tool per chain, named after its file.
    let list = c.request("tools/list", json!({}));
    let tools = list["result"]["tools"].as_array().expect("tools").clone();
    let names: Vec<&str> = tools.iter().map(|t| t["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["broken", "get_user", "remove", "slow"]);
    let get = &tools[1];
    assert_eq!(get["description"], "Fetches a user's name by id.");
    assert_eq!(get["title"], "Get user");
    let input = &get["inputSchema"];
    assert_eq!(input["type"], "object");
    assert_eq!(input["properties"]["user_id"]["type"], "integer");
    assert_eq!(input["properties"]["user_id"]["minimum"], 1);
    assert_eq!(input["properties"]["dry_run"]["type"], "boolean");
    assert_eq!(input["required"], json!(["user_id"]));
    assert_eq!(input["additionalProperties"], false);
    assert_eq!(get["outputSchema"]["properties"]["name"]["type"], "string");
    assert_eq!(get["annotations"]["readOnlyHint"], true);
    assert_eq!(get["annotations"]["destructiveHint"], false);
    assert_eq!(get["annotations"]["openWorldHint"], true);
    let remove = &tools[2];
    assert_eq!(remove["annotations"]["readOnlyHint"], false);
    assert_eq!(remove["annotations"]["destructiveHint"], true);
    assert_eq!(remove["annotations"]["idempotentHint"], true);

    // A call with progress: structured output, one notification per step.
    let id = c.start_request(
        "tools/call",
        json!({"name": "get_user", "arguments": {"user_id": 7}, "_meta": {"progressToken": "p1"}}),
    );
    let msgs = c.until_response(id);
    let (result, notes) = msgs.split_last().unwrap();
    let result = &result["result"];
    assert_eq!(result["isError"], false, "{result}");
    assert_eq!(result["structuredContent"], json!({"name": "Ada"}));
    let progress: Vec<&Value> = notes
        .iter()
        .filter(|m| m["method"] == "notifications/progress")
        .map(|m| &m["params"])
        .collect();
    assert_eq!(progress.len(), 2, "{notes:#?}");
    assert_eq!(progress[0]["progressToken"], "p1");
    assert_eq!(progress[1]["progress"], 2.0);
    assert_eq!(progress[1]["total"], 2.0);

    // A failing chain: a tool result with isError and the CLI's message.
    let failed = c.call("broken", json!({}));
    assert_eq!(failed["isError"], true, "{failed}");
    let cli = pytopus()
        .env("PYTOPUS_SECRET_API_TOKEN", CANARY)
        .args(["run", &format!("{d}/broken.yaml")])
        .output()
        .unwrap();
    let cli_says = String::from_utf8_lossy(&cli.stderr).to_string();
    assert!(text(&failed).contains("404"), "{}", text(&failed));
    let cli_error = cli_says.lines().find(|l| l.starts_with("error:"));
    assert_eq!(
        text(&failed).lines().next(),
        cli_error,
        "the CLI's own message"
    );

    // Arguments: only the declared inputs; bad values are error results.
    let unknown = c.call(
        "get_user",
        json!({"user_id": 7, "base": "http://evil.test"}),
    );
    assert_eq!(unknown["isError"], true);
    assert!(
        text(&unknown).contains("`base` is not an argument of `get_user`"),
        "{unknown}"
    );
    let bad = c.call("get_user", json!({"user_id": 0}));
    assert_eq!(bad["isError"], true);
    let missing = c.call("get_user", json!({}));
    assert_eq!(missing["isError"], true);
    assert!(text(&missing).contains("user_id"), "{missing}");
    let no_tool = c.call("get_usr", json!({}));
    assert_eq!(no_tool["isError"], true);
    assert!(
        text(&no_tool).contains("did you mean `get_user`"),
        "{no_tool}"
    );

    // dry_run: the rendered requests, nothing sent.
    let before = server.received_requests().await.unwrap().len();
    let dry = c.call("remove", json!({"user_id": 3, "dry_run": true}));
    assert_eq!(dry["isError"], false, "{dry}");
    assert!(text(&dry).contains("DELETE"), "{dry}");
    assert!(text(&dry).contains("/users/3"), "{dry}");
    assert!(text(&dry).to_lowercase().contains("authorization"), "{dry}");
    assert_eq!(server.received_requests().await.unwrap().len(), before);

    // Cancellation: the run stops; the slow request is abandoned.
    let id = c.start_request("tools/call", json!({"name": "slow", "arguments": {}}));
    for _ in 0..100 {
        let hit = server
            .received_requests()
            .await
            .unwrap()
            .iter()
            .any(|r| r.url.path() == "/slow");
        if hit {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let started = std::time::Instant::now();
    c.notify(
        "notifications/cancelled",
        json!({"requestId": id, "reason": "the user changed their mind"}),
    );
    // The server still answers other calls at once, and never the
    // cancelled one.
    let after = c.request("tools/list", json!({}));
    assert!(after["result"]["tools"].is_array());
    while let Some(m) = c.next(Duration::from_secs(2)) {
        assert_ne!(
            m["id"],
            json!(id),
            "a cancelled request gets no response: {m}"
        );
    }
    assert!(started.elapsed() < Duration::from_secs(20));

    let everything = c.finish();
    assert!(
        !everything.contains(CANARY),
        "the secret reached the client:\n{everything}"
    );

    // Every run is in the history, the cancelled one as interrupted.
    let latest = pytopus()
        .env("PYTOPUS_HISTORY_DIR", h)
        .args(["history", "show", "latest"])
        .output()
        .unwrap();
    let report: Value =
        serde_json::from_slice(&latest.stdout).unwrap_or_else(|e| panic!("{e}: {latest:?}"));
    assert!(
        report["file"].as_str().unwrap().ends_with("slow.yaml"),
        "{report}"
    );
    assert_eq!(report["status"], "interrupted", "{report}");
    let list = history_list(h);
    assert!(list.contains("get_user.yaml"), "{list}");
    assert!(list.contains("broken.yaml"), "{list}");
    assert!(
        !list.contains("remove.yaml"),
        "a dry run is not recorded: {list}"
    );
}

#[test]
fn list_prints_the_tools_and_read_only_hides_the_others() {
    let dir = Scratch::new();
    dir.file(
        "a.yaml",
        "description: Reads.\nsteps: [{name: A, url: 'http://127.0.0.1:9/a', headers: {X-Key: \"{{ secret('api_token') }}\"}}]\n",
    );
    dir.file(
        "b.yaml",
        "description: Writes.\nsteps: [{name: B, method: POST, url: 'http://127.0.0.1:9/b'}]\n",
    );
    let d = dir.dir.path().to_str().unwrap();
    let all = pytopus()
        .env("PYTOPUS_SECRET_API_TOKEN", CANARY)
        .args(["mcp", "--list", d])
        .output()
        .unwrap();
    assert!(all.status.success(), "{all:?}");
    let listed: Value = serde_json::from_slice(&all.stdout).unwrap();
    let names: Vec<&str> = listed["tools"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["a", "b"]);
    assert_eq!(listed["tools"][1]["annotations"]["readOnlyHint"], false);
    assert!(!String::from_utf8_lossy(&all.stdout).contains(CANARY));
    let ro = pytopus()
        .args(["mcp", "--list", "--read-only", d])
        .output()
        .unwrap();
    let listed: Value = serde_json::from_slice(&ro.stdout).unwrap();
    assert_eq!(listed["tools"].as_array().unwrap().len(), 1);
    assert_eq!(listed["tools"][0]["name"], "a");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_long_result_is_cut_with_a_note_and_calls_are_rate_limited() {
    let server = MockServer::start().await;
    Mock::given(path("/big"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"blob": "x".repeat(5000)})))
        .mount(&server)
        .await;
    let dir = Scratch::new();
    dir.file(
        "big.yaml",
        &format!("steps: [{{name: Big, url: '{}/big'}}]\n", server.uri()),
    );
    let d = dir.dir.path().to_str().unwrap();
    let mut c = Client::start(&[
        "--max-result-size",
        "1000",
        "--max-calls-per-minute",
        "2",
        d,
    ]);
    let big = c.call("big", json!({}));
    assert_eq!(big["isError"], true, "{big}");
    assert!(
        text(&big).contains("[pytopus: result cut at 1000 of"),
        "{big}"
    );
    assert!(text(&big).len() < 1200);
    let second = c.call("big", json!({}));
    assert!(text(&second).contains("cut at"));
    let third = c.call("big", json!({}));
    assert_eq!(third["isError"], true);
    assert!(text(&third).contains("--max-calls-per-minute"), "{third}");
    c.finish();
}

/// The `data:` messages of a streamable-HTTP answer (an SSE stream or one
/// JSON body).
fn messages(body: &str) -> Vec<Value> {
    let from_sse: Vec<Value> = body
        .lines()
        .filter_map(|l| l.strip_prefix("data:"))
        .filter_map(|d| serde_json::from_str(d.trim()).ok())
        .collect();
    if from_sse.is_empty() {
        serde_json::from_str(body).into_iter().collect()
    } else {
        from_sse
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_offers_the_same_tools_at_mcp_behind_its_token_and_no_secret() {
    use std::io::BufRead as _;
    let server = api().await;
    let dir = chains(&server);
    const TOKEN: &str = "mcp-test-token-0123456789";
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_pytopus"));
    isolate(&mut cmd);
    let mut child = cmd
        .args(["serve", "--listen", "127.0.0.1:0", "--log-format", "json"])
        .arg(dir.dir.path().join("get_user.yaml"))
        .arg(dir.dir.path().join("broken.yaml"))
        .env("PYTOPUS_SECRET_API_TOKEN", CANARY)
        .env("PYTOPUS_SERVE_TOKEN", TOKEN)
        .env("PYTOPUS_HISTORY", "off")
        .stderr(Stdio::piped())
        .spawn()
        .expect("pytopus serve starts");
    let mut stderr = BufReader::new(child.stderr.take().unwrap());
    let mut first = String::new();
    stderr.read_line(&mut first).unwrap();
    let started: Value = serde_json::from_str(&first).unwrap_or_else(|_| panic!("{first}"));
    let url = format!("{}/mcp", started["url"].as_str().unwrap());
    let http = reqwest::Client::new();
    let mut received = String::new();
    let mut session: Option<String> = None;
    let mut post = async |msg: Value, token: Option<&str>| {
        let mut req = http
            .post(&url)
            .header("content-type", "application/json")
            .header("accept", "application/json, text/event-stream")
            .body(msg.to_string());
        if let Some(t) = token {
            req = req.header("authorization", format!("Bearer {t}"));
        }
        if let Some(s) = &session {
            req = req.header("mcp-session-id", s);
        }
        let r = req.send().await.unwrap();
        let status = r.status().as_u16();
        if let Some(s) = r.headers().get("mcp-session-id") {
            session = Some(s.to_str().unwrap().to_string());
        }
        let headers = format!("{:?}", r.headers());
        let body = r.text().await.unwrap();
        received.push_str(&headers);
        received.push_str(&body);
        (status, messages(&body))
    };

    // Without the token: refused, as the API is.
    let init = json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
        "protocolVersion": "2025-06-18", "capabilities": {},
        "clientInfo": {"name": "t", "version": "0"}}});
    let (status, _) = post(init.clone(), None).await;
    assert_eq!(status, 401);

    let (status, msgs) = post(init, Some(TOKEN)).await;
    assert_eq!(status, 200, "{msgs:?}");
    assert_eq!(msgs[0]["result"]["serverInfo"]["name"], "pytopus");
    let (status, _) = post(
        json!({"jsonrpc": "2.0", "method": "notifications/initialized"}),
        Some(TOKEN),
    )
    .await;
    assert_eq!(status, 202);
    let (_, msgs) = post(
        json!({"jsonrpc": "2.0", "id": 2, "method": "tools/list"}),
        Some(TOKEN),
    )
    .await;
    let names: Vec<&str> = msgs[0]["result"]["tools"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["get_user", "broken"]);
    let (_, msgs) = post(
        json!({"jsonrpc": "2.0", "id": 3, "method": "tools/call",
               "params": {"name": "get_user", "arguments": {"user_id": 7}}}),
        Some(TOKEN),
    )
    .await;
    let result = &msgs.last().unwrap()["result"];
    assert_eq!(
        result["structuredContent"],
        json!({"name": "Ada"}),
        "{msgs:?}"
    );
    let (_, msgs) = post(
        json!({"jsonrpc": "2.0", "id": 4, "method": "tools/call",
               "params": {"name": "broken", "arguments": {}}}),
        Some(TOKEN),
    )
    .await;
    assert_eq!(msgs.last().unwrap()["result"]["isError"], true, "{msgs:?}");
    let (_, msgs) = post(
        json!({"jsonrpc": "2.0", "id": 5, "method": "tools/call",
               "params": {"name": "get_user", "arguments": {"user_id": 7, "dry_run": true}}}),
        Some(TOKEN),
    )
    .await;
    let dry = msgs.last().unwrap()["result"]["content"][0]["text"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(dry.contains("/users/7"), "{dry}");

    crate::support::send_signal(child.id(), "TERM");
    let _ = child.wait();
    assert!(
        !received.contains(CANARY),
        "the secret reached the HTTP client:\n{received}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connector_endpoints_are_tools_through_the_normal_pipeline() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/posts/3"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"id": 3, "title": "t"})))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/posts"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!([{"id": 1}])))
        .mount(&server)
        .await;
    let uri = server.uri();
    let history = Scratch::new();
    let h = history.dir.path().to_str().unwrap();
    let mut c = Client::start_with(
        &["--connectors", "jsonplaceholder"],
        &[
            ("PYTOPUS_JSONPLACEHOLDER_BASE_URL", &uri),
            ("PYTOPUS_HISTORY_DIR", h),
        ],
    );
    let list = c.request("tools/list", json!({}));
    let tools = list["result"]["tools"].as_array().unwrap().clone();
    let get = tools
        .iter()
        .find(|t| t["name"] == "jsonplaceholder_get_post")
        .expect("each endpoint is a tool");
    assert_eq!(get["inputSchema"]["required"], json!(["id"]));
    assert_eq!(get["annotations"]["readOnlyHint"], true);
    let delete = tools
        .iter()
        .find(|t| t["name"] == "jsonplaceholder_delete_post")
        .unwrap();
    assert_eq!(delete["annotations"]["destructiveHint"], true);

    let got = c.call("jsonplaceholder_get_post", json!({"id": 3}));
    assert_eq!(got["isError"], false, "{got}");
    assert_eq!(
        serde_json::from_str::<Value>(&text(&got)).unwrap(),
        json!({"id": 3, "title": "t"})
    );
    // An optional parameter left out is not sent.
    let all = c.call("jsonplaceholder_list_posts", json!({}));
    assert_eq!(all["isError"], false, "{all}");
    let sent = server.received_requests().await.unwrap();
    assert_eq!(sent.last().unwrap().url.query(), None);
    // A value is data, never template text.
    let odd = c.call(
        "jsonplaceholder_get_post",
        json!({"id": "{{ secret('api_token') }}", "dry_run": true}),
    );
    assert!(!text(&odd).contains(CANARY), "{odd}");
    assert!(text(&odd).contains("/posts/"), "{odd}");
    let unknown = c.call("jsonplaceholder_get_post", json!({"id": 3, "auth": "x"}));
    assert_eq!(unknown["isError"], true);
    let everything = c.finish();
    assert!(!everything.contains(CANARY));
    let list = history_list(h);
    assert!(list.contains("jsonplaceholder.get_post"), "{list}");
}

#[tokio::test]
async fn a_client_that_never_ends_a_line_is_stopped_not_buffered_for_ever() {
    use std::io::Write as _;
    let server = api().await;
    let dir = chains(&server);
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_pytopus"));
    isolate(&mut cmd)
        .arg("mcp")
        .arg(dir.dir.path())
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().expect("pytopus starts");
    let mut stdin = child.stdin.take().unwrap();
    // 17 MiB and no newline: one message longer than the 16 MiB a client may send.
    let chunk = vec![b'a'; 1 << 20];
    for _ in 0..17 {
        if stdin.write_all(&chunk).is_err() {
            break; // pytopus stopped reading: what is wanted.
        }
    }
    drop(stdin);
    let out = child.wait_with_output().unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("longer than 16 MiB"), "{err}");
}

/// `pytopus history --limit 50` over the history in `dir`, as text.
fn history_list(dir: &str) -> String {
    let list = pytopus()
        .env("PYTOPUS_HISTORY_DIR", dir)
        .args(["history", "--limit", "50"])
        .output()
        .unwrap();
    String::from_utf8_lossy(&list.stdout).to_string()
}
