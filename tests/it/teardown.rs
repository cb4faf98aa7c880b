//! `finally:` steps: they run after the others whatever happened — a
//! failure, Ctrl-C — are reported apart, and fail the run when they fail.

use std::time::Duration;

use crate::support::{Scratch, run_chain, scrub};
use serde_json::{Value, json};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const CHAIN: &str = r#"steps:
  - name: Create
    method: POST
    url: "{{ base }}/things"
  - name: Check
    url: "{{ base }}/check"
finally:
  - name: Delete
    method: DELETE
    url: "{{ base }}/things/{{ Create.id }}"
  - name: Audit
    url: "{{ base }}/audit/{{ Check.ok }}"
"#;

async fn server(check_status: u16, delete_status: u16) -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/things"))
        .respond_with(ResponseTemplate::new(201).set_body_json(json!({"id": 7})))
        .mount(&server)
        .await;
    Mock::given(path("/check"))
        .respond_with(ResponseTemplate::new(check_status).set_body_json(json!({"ok": 1})))
        .mount(&server)
        .await;
    Mock::given(method("DELETE"))
        .and(path("/things/7"))
        .respond_with(ResponseTemplate::new(delete_status))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(path("/audit/1"))
        .respond_with(ResponseTemplate::new(200))
        .mount(&server)
        .await;
    server
}

async fn hits(server: &MockServer, p: &str) -> usize {
    let all = server.received_requests().await.unwrap();
    all.iter().filter(|r| r.url.path() == p).count()
}

#[tokio::test]
async fn a_failed_step_still_runs_the_finally_steps_that_can_run() {
    let server = server(500, 200).await;
    let dir = Scratch::new();
    let report = dir.path("r.json");
    let (out, d) = run_chain(
        &server.uri(),
        CHAIN,
        &["--no-progress", "--report", report.to_str().unwrap()],
    );
    assert_eq!(out.code, 1, "{}", out.stderr);
    // What Create made is deleted; Audit reads Check, which failed: skipped.
    assert_eq!(hits(&server, "/things/7").await, 1);
    assert_eq!(hits(&server, "/audit/1").await, 0);
    let text = scrub(&out.stderr, &server.uri(), Some(d.dir.path()));
    assert!(
        text.contains("[3/4] ok finally Delete DELETE http://SERVER/things/7 → 200 OK ([T])\n"),
        "{text}"
    );
    assert!(
        text.contains("[4/4] skip finally Audit GET (skipped: `Check` did not pass)\n"),
        "{text}"
    );
    assert!(
        text.ends_with("✗ failed at `Check`: 1 ok, 1 failed; finally: 1 ok, 1 skipped in [T]\n"),
        "{text}"
    );
    let rep: Value = serde_json::from_str(&std::fs::read_to_string(&report).unwrap()).unwrap();
    let names = |key: &str| -> Vec<(String, String)> {
        rep[key]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| {
                (
                    s["name"].as_str().unwrap().into(),
                    s["status"].as_str().unwrap().into(),
                )
            })
            .collect()
    };
    assert_eq!(
        names("steps"),
        [
            ("Create".into(), "passed".into()),
            ("Check".into(), "failed".into())
        ]
    );
    assert_eq!(
        names("teardown"),
        [
            ("Delete".into(), "passed".into()),
            ("Audit".into(), "skipped".into())
        ]
    );
}

#[tokio::test]
async fn a_failed_finally_step_fails_the_run() {
    let server = server(200, 500).await;
    let (out, d) = run_chain(&server.uri(), CHAIN, &["--no-progress"]);
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert_eq!(out.stdout, "", "no result for a failed run");
    let text = scrub(&out.stderr, &server.uri(), Some(d.dir.path()));
    assert!(
        text.contains("error: finally step `Delete` failed: expected status 2xx, got 500"),
        "{text}"
    );
    // The position of the failed step is in `finally:`.
    assert!(text.contains("c.yaml:8:5"), "{text}");
    // The other finally step still ran.
    assert_eq!(hits(&server, "/audit/1").await, 1);
}

#[tokio::test]
async fn a_passing_run_prints_its_result_after_the_finally_steps() {
    let server = server(200, 204).await;
    let chain = format!("{CHAIN}output: {{id: \"{{{{ Create.id }}}}\"}}\n");
    let (out, _d) = run_chain(&server.uri(), &chain, &["-q"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(out.stdout, "{\n  \"id\": 7\n}\n");
    assert_eq!(hits(&server, "/audit/1").await, 1);
}

#[test]
fn finally_steps_are_checked_like_steps() {
    let dir = Scratch::new();
    let later = "refers to `B`, a `finally` step, which runs after every step and `output`";
    for (chain, message, at) in [
        (
            "steps:\n  - {name: A, url: 'https://x.test/a'}\nfinally:\n  - {name: A, url: 'https://x.test/b'}\n",
            "duplicate step name `A`",
            "c.yaml:4:",
        ),
        (
            "steps:\n  - {name: A, url: 'https://x.test/{{ B.id }}'}\nfinally:\n  - {name: B, url: 'https://x.test/b'}\n",
            later,
            "c.yaml:2:",
        ),
        (
            "steps:\n  - {name: A, url: 'https://x.test/a'}\nfinally:\n  - {name: B, url: 'https://x.test/b'}\noutput: '{{ B }}'\n",
            later,
            "c.yaml:5:",
        ),
        (
            "steps:\n  - {name: A, url: 'https://x.test/a'}\nfinally:\n  - {name: B, url: 'https://x.test/{{ nope }}'}\n",
            "`nope` is not defined",
            "c.yaml:4:",
        ),
    ] {
        let path = dir.file("c.yaml", chain);
        let out = crate::support::run(&["validate", path.to_str().unwrap()]);
        assert_eq!(out.code, 2, "{chain}\n{}", out.stderr);
        assert!(out.stderr.contains(message), "{chain}\n{}", out.stderr);
        assert!(out.stderr.contains(at), "{chain}\n{}", out.stderr);
    }
}

/// Ctrl-C stops the steps and the finally steps still run; a second one
/// stops them too.
#[cfg(unix)]
#[tokio::test]
async fn ctrl_c_runs_the_finally_steps_and_a_second_one_stops_them() {
    let server = MockServer::start().await;
    Mock::given(path("/slow"))
        .respond_with(ResponseTemplate::new(200).set_delay(Duration::from_secs(30)))
        .mount(&server)
        .await;
    Mock::given(path("/clean"))
        .respond_with(ResponseTemplate::new(200))
        .mount(&server)
        .await;
    Mock::given(path("/slow-clean"))
        .respond_with(ResponseTemplate::new(200).set_delay(Duration::from_secs(30)))
        .mount(&server)
        .await;
    let dir = Scratch::new();
    let chain = dir.file(
        "c.yaml",
        "steps:\n  - name: Slow\n    url: \"{{ base }}/slow\"\nfinally:\n  - name: Clean\n    url: \"{{ base }}/clean\"\n  - name: SlowClean\n    url: \"{{ base }}/slow-clean\"\n  - name: Last\n    url: \"{{ base }}/clean\"\n",
    );
    let report = dir.path("r.json");
    let child = crate::support::spawn_chain(
        &chain,
        &server.uri(),
        &["--report", report.to_str().unwrap(), "-q"],
    );
    crate::support::signal_when_busy(&server, child.id(), "INT").await;
    // Wait for the finally steps to reach the slow one, then stop them.
    for _ in 0..200 {
        if hits(&server, "/slow-clean").await > 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert_eq!(hits(&server, "/clean").await, 1, "Clean ran after Ctrl-C");
    crate::support::send_signal(child.id(), "INT");
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(130));
    let rep: Value = serde_json::from_str(&std::fs::read_to_string(&report).unwrap()).unwrap();
    assert_eq!(rep["status"], "interrupted");
    let statuses: Vec<&str> = rep["teardown"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["status"].as_str().unwrap())
        .collect();
    assert_eq!(statuses, ["passed", "failed", "not_run"], "{rep}");
    // `Last` was not started after the second Ctrl-C.
    assert_eq!(hits(&server, "/clean").await, 1);
}
