//! Control flow: `when`, `on_error: continue` and GraphQL steps, against
//! servers started here.

use crate::support::run_chain;
use serde_json::{Value, json};
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
    let dir = crate::support::Scratch::new();
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

/// A tiny HTTP/1.1 server that answers `GET /item/N` with `{"n": N}` after a
/// random delay, and records the most requests it ever had in flight.
mod inflight {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpListener;

    pub struct Server {
        pub base: String,
        pub max: Arc<AtomicUsize>,
        pub total: Arc<AtomicUsize>,
    }

    pub async fn start() -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let now = Arc::new(AtomicUsize::new(0));
        let max = Arc::new(AtomicUsize::new(0));
        let total = Arc::new(AtomicUsize::new(0));
        let (m, t) = (Arc::clone(&max), Arc::clone(&total));
        tokio::spawn(async move {
            loop {
                let Ok((mut sock, _)) = listener.accept().await else {
                    return;
                };
                let (now, max, total) = (Arc::clone(&now), Arc::clone(&m), Arc::clone(&t));
                tokio::spawn(async move {
                    let mut buf = Vec::new();
                    let mut chunk = [0u8; 4096];
                    loop {
                        // One request at a time on this connection (keep-alive).
                        while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
                            match sock.read(&mut chunk).await {
                                Ok(0) | Err(_) => return,
                                Ok(n) => buf.extend_from_slice(&chunk[..n]),
                            }
                        }
                        let end = buf.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
                        let head = String::from_utf8_lossy(&buf[..end]).to_string();
                        buf.drain(..end);
                        let n: u64 = head
                            .split_whitespace()
                            .nth(1)
                            .and_then(|p| p.rsplit('/').next())
                            .and_then(|x| x.parse().ok())
                            .unwrap_or(0);
                        let inside = now.fetch_add(1, Ordering::SeqCst) + 1;
                        max.fetch_max(inside, Ordering::SeqCst);
                        total.fetch_add(1, Ordering::SeqCst);
                        tokio::time::sleep(std::time::Duration::from_millis(fastrand::u64(5..40)))
                            .await;
                        now.fetch_sub(1, Ordering::SeqCst);
                        let body = if n == 13 {
                            "{\"error\": \"unlucky\"}".to_string()
                        } else {
                            format!("{{\"n\": {n}}}")
                        };
                        let status = if n == 13 {
                            "500 Internal Server Error"
                        } else {
                            "200 OK"
                        };
                        let resp = format!(
                            "HTTP/1.1 {status}\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{body}",
                            body.len()
                        );
                        if sock.write_all(resp.as_bytes()).await.is_err() {
                            return;
                        }
                    }
                });
            }
        });
        Server { base, max, total }
    }
}

// The server's tasks need a thread of their own while the test waits for pytopus.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn for_each_keeps_input_order_and_respects_concurrency() {
    use std::sync::atomic::Ordering;
    let server = inflight::start().await;
    let chain = r#"
vars: {ids: [5, 3, 9, 1, 7, 2, 8, 4, 6, 10, 12, 11, 14, 15, 16, 17, 18, 19, 20, 21]}
steps:
  - name: Items
    for_each: "{{ ids }}"
    concurrency: 4
    url: "{{ base }}/item/{{ item }}"
    expect: {json: {"$.n": "{{ item }}"}}
    extract: {n: "$.n"}
output: {ns: "{{ n }}", results: "{{ Items | map(attribute='n') | list }}", count: "{{ Items | length }}"}
"#;
    let (out, _dir) = crate::support::run_chain(&server.base, chain, &["-q"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let v: Value = serde_json::from_str(&out.stdout).unwrap();
    let order = json!([
        5, 3, 9, 1, 7, 2, 8, 4, 6, 10, 12, 11, 14, 15, 16, 17, 18, 19, 20, 21
    ]);
    assert_eq!(v["ns"], order);
    assert_eq!(v["results"], order);
    assert_eq!(v["count"], 20);
    let max = server.max.load(Ordering::SeqCst);
    assert!(max <= 4, "at most 4 in flight, saw {max}");
    assert!(max >= 2, "requests did run concurrently (max {max})");
}

// The server's tasks need a thread of their own while the test waits for pytopus.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_item_fails_the_step_unless_continued() {
    use std::sync::atomic::Ordering;
    let server = inflight::start().await;
    let chain = "steps:\n  - name: Items\n    for_each: [1, 13, 2]\n    retry: {attempts: 1}\n    url: \"{{ base }}/item/{{ item }}\"\n";
    let (out, _dir) = crate::support::run_chain(&server.base, chain, &["-q"]);
    assert_eq!(out.code, 1);
    assert!(
        out.stderr
            .contains("expected status 2xx, got 500 Internal Server Error"),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr.contains("failed on item 2 of 3 (index 1)"),
        "{}",
        out.stderr
    );

    let before = server.total.load(Ordering::SeqCst);
    let chain = "steps:\n  - name: Items\n    for_each: [1, 13, 2]\n    retry: {attempts: 1}\n    on_error: continue\n    url: \"{{ base }}/item/{{ item }}\"\n";
    let (out, _dir) = crate::support::run_chain(&server.base, chain, &["-q"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let v: Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(v[0], json!({"n": 1}));
    assert_eq!(v[1]["error"]["status"], 500);
    assert_eq!(v[2], json!({"n": 2}));
    assert_eq!(server.total.load(Ordering::SeqCst) - before, 3);
}

// The server's tasks need a thread of their own while the test waits for pytopus.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn for_each_over_a_map_gives_key_and_value() {
    let server = inflight::start().await;
    let chain = "vars: {m: {a: 1, b: 2}}\nsteps:\n  - name: E\n    for_each: \"{{ m }}\"\n    url: \"{{ base }}/item/{{ item.value }}\"\noutput: \"{{ E | map(attribute='n') | list }}\"\n";
    let (out, _dir) = crate::support::run_chain(&server.base, chain, &["-q", "--output", "raw"]);
    assert_eq!(
        (out.code, out.stdout.as_str()),
        (0, "[1,2]\n"),
        "{}",
        out.stderr
    );
}

mod paging {
    use super::*;
    use wiremock::matchers::query_param;

    /// Three pages: ?p=1 → [1,2], ?p=2 → [3,4], ?p=3 → [5], ?p=4 → [].
    async fn pages(server: &MockServer) {
        for (p, items, next) in [
            ("1", json!([1, 2]), Some("2")),
            ("2", json!([3, 4]), Some("3")),
            ("3", json!([5]), None),
            ("4", json!([]), None),
        ] {
            let mut resp = ResponseTemplate::new(200)
                .insert_header("x-total", "5")
                .set_body_json(json!({"items": items, "next": next.map(|n| format!("/list?p={n}")), "cursor": next}));
            if let Some(n) = next {
                resp = resp.insert_header(
                    "link",
                    format!(
                        "<{}/list?p={n}>; rel=\"next\", <{}/list?p=1>; rel=\"first\"",
                        server.uri(),
                        server.uri()
                    )
                    .as_str(),
                );
            }
            Mock::given(path("/list"))
                .and(query_param("p", p))
                .respond_with(resp)
                .mount(server)
                .await;
        }
    }

    async fn collected(chain_paginate: &str) -> (i32, String, String) {
        let server = MockServer::start().await;
        pages(&server).await;
        let chain = format!(
            "steps:\n  - name: L\n    url: \"{{{{ base }}}}/list?p=1\"\n    paginate: {chain_paginate}\noutput: \"{{{{ L }}}}\"\n"
        );
        let (out, _dir) =
            crate::support::run_chain(&server.uri(), &chain, &["-q", "--output", "raw"]);
        (out.code, out.stdout, out.stderr)
    }

    #[tokio::test]
    async fn by_link_header() {
        assert_eq!(
            collected("{link: true, collect: \"$.items\"}").await.1,
            "[1,2,3,4,5]\n"
        );
    }

    #[tokio::test]
    async fn by_next_url_in_the_body() {
        assert_eq!(
            collected("{next_url: \"$.next\", collect: \"$.items[*]\"}")
                .await
                .1,
            "[1,2,3,4,5]\n"
        );
    }

    #[tokio::test]
    async fn by_cursor() {
        assert_eq!(
            collected("{cursor: \"$.cursor\", cursor_param: p, collect: \"$.items\"}")
                .await
                .1,
            "[1,2,3,4,5]\n"
        );
    }

    #[tokio::test]
    async fn by_counter_until_an_empty_page() {
        assert_eq!(
            collected("{page_param: p, collect: \"$.items\"}").await.1,
            "[1,2,3,4,5]\n"
        );
    }

    #[tokio::test]
    async fn by_counter_until_the_total_header() {
        assert_eq!(
            collected("{page_param: p, total_header: X-Total, collect: \"$.items\"}")
                .await
                .1,
            "[1,2,3,4,5]\n"
        );
    }

    #[tokio::test]
    async fn until_an_expression() {
        assert_eq!(
            collected("{page_param: p, until: \"{{ pages >= 2 }}\", collect: \"$.items\"}")
                .await
                .1,
            "[1,2,3,4]\n"
        );
    }

    #[tokio::test]
    async fn max_pages_is_a_clear_error() {
        let (code, _, stderr) = collected("{link: true, max_pages: 2, collect: \"$.items\"}").await;
        assert_eq!(code, 1);
        assert!(
            stderr.contains("stopped after `max_pages` (2) pages, with more to come"),
            "{stderr}"
        );
    }
}

#[tokio::test]
async fn a_sub_chain_runs_with_its_with_values_and_gives_its_output() {
    let server = MockServer::start().await;
    Mock::given(path("/users/7"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"name": "Ann"})))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(path("/fail"))
        .respond_with(ResponseTemplate::new(404))
        .mount(&server)
        .await;
    let dir = crate::support::Scratch::new();
    std::fs::create_dir_all(dir.path("lib")).unwrap();
    dir.file(
        "lib/user.yaml",
        "vars: {id: 1, base: x}\nsteps:\n  - name: U\n    url: \"{{ base }}/users/{{ id }}\"\noutput: {name: \"{{ U.name }}\", id: \"{{ id }}\"}\n",
    );
    dir.file(
        "lib/broken.yaml",
        "vars: {base: x}\nsteps:\n  - name: Boom\n    url: \"{{ base }}/fail\"\n",
    );
    let main = dir.file(
        "main.yaml",
        "steps:\n  - name: User\n    chain: lib/user.yaml\n    with: {id: 7, base: \"{{ base }}\"}\noutput: \"{{ User }}\"\n",
    );
    let base = format!("base={}", server.uri());
    let out = crate::support::run(&["run", main.to_str().unwrap(), "--var", &base, "-q"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(
        serde_json::from_str::<Value>(&out.stdout).unwrap(),
        json!({"name": "Ann", "id": 7})
    );

    let failing = dir.file(
        "failing.yaml",
        "steps:\n  - name: Sub\n    chain: lib/broken.yaml\n    with: {base: \"{{ base }}\"}\n",
    );
    let out = crate::support::run(&["run", failing.to_str().unwrap(), "--var", &base, "-q"]);
    assert_eq!(out.code, 1);
    assert!(
        out.stderr.contains("step `Sub` failed: in ")
            && out.stderr.contains(
                "broken.yaml, step `Boom` failed: expected status 2xx, got 404 Not Found"
            ),
        "{}",
        out.stderr
    );
}

// The server's tasks need a thread of their own while the test waits for pytopus.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shards_of_a_for_each_cover_every_item_exactly_once() {
    let server = inflight::start().await;
    let chain = "vars: {ids: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]}\nsteps:\n  - name: Items\n    for_each: \"{{ ids }}\"\n    url: \"{{ base }}/item/{{ item }}\"\n    extract: {n: \"$.n\"}\noutput: {n: \"{{ n }}\", first_index: \"{{ steps.Items.outputs.n | length }}\"}\n";
    let mut seen = Vec::new();
    for k in 1..=3 {
        let shard = format!("{k}/3");
        let (out, _dir) =
            crate::support::run_chain(&server.base, chain, &["-q", "--shard", &shard]);
        assert_eq!(out.code, 0, "{}", out.stderr);
        let v: Value = serde_json::from_str(&out.stdout).unwrap();
        seen.extend(
            v["n"]
                .as_array()
                .unwrap()
                .iter()
                .map(|x| x.as_u64().unwrap()),
        );
    }
    seen.sort();
    assert_eq!(seen, (1..=10).collect::<Vec<u64>>());
}

mod parallel_auto {
    use super::*;
    use std::sync::atomic::Ordering;

    const CHAIN: &str = r#"
steps:
  - {name: a, url: "{{ base }}/x/1", extract: {one: "$.n"}}
  - {name: b, url: "{{ base }}/x/2"}
  - {name: c, url: "{{ base }}/x/3"}
  - {name: d, url: "{{ base }}/x/{{ one + b.n + c.n }}"}
output: {d: "{{ d.n }}", order: "{{ [a.n, b.n, c.n] }}"}
"#;

    // The server's tasks need a thread of their own while the test waits for pytopus.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn independent_steps_run_at_once_and_dependents_wait() {
        let server = inflight::start().await;
        let chain = format!("parallel: auto\n{CHAIN}");
        let (out, _dir) = run_chain(&server.base, &chain, &["-q"]);
        assert_eq!(out.code, 0, "{}", out.stderr);
        let v: Value = serde_json::from_str(&out.stdout).unwrap();
        // `d` read `a` (through `one`), `b` and `c`: it ran after all three.
        assert_eq!(v, json!({"d": 6, "order": [1, 2, 3]}));
        let max = server.max.load(Ordering::SeqCst);
        assert!(
            (2..=3).contains(&max),
            "a, b and c overlap, d waits (max {max})"
        );
        assert_eq!(server.total.load(Ordering::SeqCst), 4);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn without_it_steps_run_one_after_another() {
        let server = inflight::start().await;
        let (out, _dir) = run_chain(&server.base, CHAIN, &["-q"]);
        assert_eq!(out.code, 0, "{}", out.stderr);
        assert_eq!(server.max.load(Ordering::SeqCst), 1);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_failure_stops_what_depends_on_it_and_the_report_says_so() {
        let server = inflight::start().await;
        let chain = r#"
parallel: auto
steps:
  - {name: bad, url: "{{ base }}/x/13", retry: {attempts: 1}}
  - {name: fine, url: "{{ base }}/x/2"}
  - {name: after_bad, url: "{{ base }}/x/{{ bad.n }}"}
"#;
        let scratch = crate::support::Scratch::new();
        let report_path = scratch.dir.path().join("report.json");
        let (out, _dir) = run_chain(
            &server.base,
            chain,
            &["--no-progress", "--report", report_path.to_str().unwrap()],
        );
        assert_eq!(out.code, 1, "{}", out.stderr);
        assert!(out.stderr.contains("got 500"), "{}", out.stderr);
        // `fine` was started with `bad`; `after_bad` never was.
        assert_eq!(server.total.load(Ordering::SeqCst), 2);
        let report: Value =
            serde_json::from_str(&std::fs::read_to_string(&report_path).unwrap()).unwrap();
        let statuses: Vec<&str> = report["steps"]
            .as_array()
            .map(|s| s.iter().filter_map(|s| s["status"].as_str()).collect())
            .unwrap_or_default();
        assert_eq!(statuses, ["failed", "passed", "not_run"], "{report}");
    }

    /// A CRUD chain: the reads between writes run together, the writes
    /// keep their place (a DELETE once ran before the POSTs it followed).
    #[test]
    fn writes_keep_their_place_under_parallel_auto() {
        let dir = crate::support::Scratch::new();
        let chain = r#"name: crud
parallel: auto
steps:
  - {name: CreateUser, method: POST, url: "https://api.test/users"}
  - {name: ListUsers, url: "https://api.test/users"}
  - {name: Status, url: "https://api.test/status"}
  - {name: CreatePosts, method: POST, url: "https://api.test/posts", body: {user: "{{ CreateUser.id }}"}}
  - {name: DeleteUser, method: DELETE, url: "https://api.test/users/{{ CreateUser.id }}"}
  - {name: Gone, url: "https://api.test/users/{{ CreateUser.id }}"}
  - {name: Query, method: POST, url: "https://api.test/gql", graphql: {query: "query { me { id } }"}}
"#;
        let path = dir.file("c.yaml", chain);
        let out = crate::support::run(&["validate", "--graph", path.to_str().unwrap()]);
        assert_eq!(out.code, 0, "{}", out.stderr);
        assert_eq!(
            out.stdout,
            "crud — 7 steps, 5 waves, parallel: auto; together: ListUsers + Status; Gone + Query\n\
             \x20 1  CreateUser\n\
             \x20 2  ListUsers    after CreateUser\n\
             \x20 2  Status       after CreateUser\n\
             \x20 3  CreatePosts  after CreateUser, ListUsers, Status\n\
             \x20 4  DeleteUser   after CreateUser, CreatePosts\n\
             \x20 5  Gone         after CreateUser, DeleteUser\n\
             \x20 5  Query        after DeleteUser\n"
        );
        // Sequential, the same chain says what `parallel: auto` would do.
        let seq = dir.file("s.yaml", &chain.replace("parallel: auto\n", ""));
        let out = crate::support::run(&["validate", "--graph", seq.to_str().unwrap()]);
        assert!(
            out.stdout.starts_with(
                "crud — 7 steps, 5 waves, sequential; `parallel: auto` would run together: ListUsers + Status; Gone + Query\n"
            ),
            "{}",
            out.stdout
        );
        let only_writes = dir.file(
            "w.yaml",
            "steps:\n  - {name: A, method: POST, url: 'https://api.test/a'}\n  - {name: B, method: PUT, url: 'https://api.test/b'}\n",
        );
        let out = crate::support::run(&["validate", "--graph", only_writes.to_str().unwrap()]);
        assert!(
            out.stdout
                .contains("sequential; `parallel: auto` would change nothing"),
            "{}",
            out.stdout
        );
    }

    #[test]
    fn validate_graph_prints_the_waves_as_text_and_dot() {
        let dir = crate::support::Scratch::new();
        let chain = format!(
            "name: demo\nparallel: auto\nvars: {{base: 'http://127.0.0.1:1'}}\n{}  - {{name: e, url: '{{{{ base }}}}/e', needs: [b]}}\n",
            CHAIN.replace("output:", "#output:")
        );
        let path = dir.file("c.yaml", &chain);
        let out = crate::support::run(&["validate", "--graph", path.to_str().unwrap()]);
        assert_eq!(out.code, 0, "{}", out.stderr);
        assert_eq!(
            out.stdout,
            "demo — 5 steps, 2 waves, parallel: auto; together: a + b + c; d + e\n  1  a\n  1  b\n  1  c\n  2  d  after a, b, c\n  2  e  after b\n"
        );
        let out = crate::support::run(&[
            "validate",
            "--graph",
            "--format",
            "dot",
            path.to_str().unwrap(),
        ]);
        assert_eq!(out.code, 0, "{}", out.stderr);
        assert!(
            out.stdout.starts_with("digraph \"demo\" {"),
            "{}",
            out.stdout
        );
        for edge in [
            "\"a\" -> \"d\";",
            "\"b\" -> \"d\";",
            "\"c\" -> \"d\";",
            "\"b\" -> \"e\";",
        ] {
            assert!(out.stdout.contains(edge), "{edge} in {}", out.stdout);
        }
        assert!(!out.stdout.contains("\"a\" -> \"e\""), "{}", out.stdout);
    }

    #[test]
    fn needs_must_name_an_earlier_step() {
        let dir = crate::support::Scratch::new();
        let path = dir.file(
            "c.yaml",
            "steps:\n  - {name: a, url: 'http://x/', needs: [b]}\n  - {name: b, url: 'http://x/', needs: [aa]}\n",
        );
        let out = crate::support::run(&["validate", path.to_str().unwrap()]);
        assert_eq!(out.code, 2);
        assert!(
            out.stderr
                .contains("`needs: b` names a step that does not run before this one"),
            "{}",
            out.stderr
        );
        assert!(
            out.stderr.contains("there is no step named `aa`"),
            "{}",
            out.stderr
        );
        assert!(out.stderr.contains("did you mean `a`?"), "{}", out.stderr);
    }
}
