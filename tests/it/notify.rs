//! `notify:`: failure notifications from `serve` (in process, the receiver
//! being the served chains' fake transport, on tokio's paused clock) and
//! from `run --every` (the binary, against a local receiver): once per
//! failing streak, once on recovery, the JSON and Slack formats, a
//! receiver that is down, no secret reaching the receiver, and
//! `validate`'s errors.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use pytopus::secret::{MemoryStore, Secret, SecretStore, Secrets};
use pytopus::serve::schedule::TokioClock;
use serde_json::{Value, json};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::serve::{Setup, serve_while, served};
use crate::support::Scratch;

/// 10:07:30 UTC on 2024-05-01.
fn may_first() -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_secs(1_714_558_050)
}

/// Fails at 10:15, 10:30 and 10:45 (the fake answers `/fail` with 500),
/// passes from 11:00.
const FLAKY: &str = r#"
schedule: "*/15 * * * *"
notify:
  url: "https://hooks.test/notify"
  on: [failure, recovery]
steps:
  - name: Beat
    url: "https://api.test/{{ 'ok' if trigger.time >= '2024-05-01T11:00' else 'fail' }}"
"#;

/// The requests the fake got for `prefix`, with their JSON bodies.
fn sent_to(setup_fake: &crate::serve::Fake, prefix: &str) -> Vec<Value> {
    setup_fake
        .sent
        .lock()
        .unwrap()
        .iter()
        .filter(|r| r.url.starts_with(prefix))
        .map(|r| {
            assert_eq!(r.method, "POST");
            serde_json::from_slice(r.body.as_ref().and_then(|b| b.bytes()).unwrap()).unwrap()
        })
        .collect()
}

/// Serves `chain` as `route` on the fake clock from 10:07:30 for `minutes`.
async fn serve_schedule(setup: Setup, minutes: u64) {
    serve_while(setup, |_, _| async move {
        tokio::time::sleep(Duration::from_secs(minutes * 60)).await;
    })
    .await;
}

#[tokio::test(start_paused = true)]
async fn a_failing_schedule_notifies_once_and_its_recovery_once() {
    let mut setup = Setup::new(vec![served("flaky", FLAKY)]);
    setup.clock = Arc::new(TokioClock::new(may_first()));
    let fake = setup.fake.clone();
    // 10:15, 10:30, 10:45 fail; 11:00, 11:15 pass.
    serve_schedule(setup, 70).await;
    let beats = fake
        .sent
        .lock()
        .unwrap()
        .iter()
        .filter(|r| r.url.starts_with("https://api.test/"))
        .count();
    assert_eq!(beats, 5);
    let sent = sent_to(&fake, "https://hooks.test/notify");
    assert_eq!(sent.len(), 2, "{sent:#?}");
    let failed = &sent[0];
    assert_eq!(failed["status"], "failed");
    assert_eq!(failed["chain"], "flaky.yaml");
    assert_eq!(failed["failed_step"], "Beat");
    // When the run started, by the system's clock (the schedule's is fake).
    assert!(failed["started"].as_str().unwrap().ends_with('Z'));
    assert!(failed["elapsed_ms"].is_u64());
    assert!(failed["run_id"].as_str().is_some_and(|id| !id.is_empty()));
    let error = failed["error"].as_str().unwrap();
    assert!(
        error.contains("step `Beat` failed") && error.contains("500"),
        "{error}"
    );
    assert_eq!(
        failed["summary"].as_str().unwrap(),
        format!(
            "pytopus: chain `flaky.yaml` failed (run {}): {error}",
            failed["run_id"].as_str().unwrap()
        )
    );
    let recovered = &sent[1];
    assert_eq!(recovered["status"], "recovered");
    assert_eq!(recovered["failed_runs"], 3);
    assert_eq!(recovered["failed_step"], Value::Null);
    assert!(
        recovered["summary"]
            .as_str()
            .unwrap()
            .contains("recovered (run ")
    );
}

#[tokio::test(start_paused = true)]
async fn without_recovery_only_the_start_of_each_streak_is_told_to_slack() {
    // Fails until 10:45, passes at 11:00, fails again at 11:15.
    let chain = FLAKY
        .replace(
            "url: \"https://hooks.test/notify\"\n  on: [failure, recovery]",
            "slack: \"https://hooks.slack.test/services/T/B/x\"",
        )
        .replace(
            "trigger.time >= '2024-05-01T11:00'",
            "trigger.time[11:16] == '11:00'",
        );
    let mut setup = Setup::new(vec![served("flaky", &chain)]);
    setup.clock = Arc::new(TokioClock::new(may_first()));
    let fake = setup.fake.clone();
    serve_schedule(setup, 70).await;
    let sent = sent_to(&fake, "https://hooks.slack.test/");
    assert_eq!(sent.len(), 2, "{sent:#?}");
    for message in &sent {
        // Slack's incoming webhook format: one `text`, nothing else.
        let text = message["text"].as_str().unwrap();
        assert!(
            text.starts_with("pytopus: chain `flaky.yaml` failed (run ") && text.contains("500"),
            "{text}"
        );
        assert_eq!(message.as_object().unwrap().len(), 1);
    }
}

#[tokio::test(start_paused = true)]
async fn a_receiver_that_fails_is_a_warning_in_the_log_and_runs_go_on() {
    let chain = FLAKY.replace("https://hooks.test/notify", "https://hooks.test/fail");
    let mut setup = Setup::new(vec![served("flaky", &chain)]);
    setup.clock = Arc::new(TokioClock::new(may_first()));
    let fake = setup.fake.clone();
    let lines = Arc::clone(&setup.lines);
    serve_schedule(setup, 70).await;
    assert_eq!(sent_to(&fake, "https://hooks.test/fail").len(), 2);
    let lines = lines.lock().unwrap();
    let warnings: Vec<Value> = lines
        .iter()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .filter(|v| v["event"] == "warning")
        .collect();
    assert_eq!(warnings.len(), 2, "{lines:#?}");
    let message = warnings[0]["message"].as_str().unwrap();
    assert!(
        message.contains("the `failed` notification of chain `flaky.yaml` was not sent")
            && message.contains("https://hooks.test/fail answered 500"),
        "{message}"
    );
    // The receiver's answer (it echoes the summary) is not shown.
    assert!(!message.contains("summary"), "{message}");
    let runs = lines
        .iter()
        .filter(|l| l.contains("\"event\":\"run\""))
        .count();
    assert_eq!(runs, 5);
}

#[tokio::test(start_paused = true)]
async fn a_secret_in_the_failure_never_reaches_the_receiver() {
    const CANARY: &str = "canary-sk-7f3e9d1c";
    let chain = r#"
schedule: "*/15 * * * *"
notify:
  url: "https://hooks.test/notify?key={{ secret('hook_key') }}"
steps:
  - name: Beat
    url: "https://api.test/ok/{{ secret('canary') }}"
    expect: {json: {"$.url": "elsewhere"}}
"#;
    let mut setup = Setup::new(vec![served("canary", chain)]);
    setup.clock = Arc::new(TokioClock::new(may_first()));
    let store = Arc::new(MemoryStore::default());
    store.set("canary", &Secret::new(CANARY)).unwrap();
    store
        .set("hook_key", &Secret::new("hk-5a5a5a5a5a"))
        .unwrap();
    setup.secrets = Some(Secrets::new(
        move || Ok(store.clone() as Arc<dyn SecretStore>),
        setup.redactor.clone(),
    ));
    let fake = setup.fake.clone();
    let lines = Arc::clone(&setup.lines);
    serve_schedule(setup, 10).await;
    let sent: Vec<_> = fake
        .sent
        .lock()
        .unwrap()
        .iter()
        .filter(|r| r.url.starts_with("https://hooks.test/"))
        .cloned()
        .collect();
    assert_eq!(sent.len(), 1);
    // The URL's secret is sent (the receiver needs it), and nothing else is.
    assert_eq!(sent[0].url, "https://hooks.test/notify?key=hk-5a5a5a5a5a");
    let body = String::from_utf8(sent[0].body.as_ref().unwrap().bytes().unwrap().to_vec()).unwrap();
    assert!(!body.contains(CANARY), "{body}");
    let summary: Value = serde_json::from_str(&body).unwrap();
    let error = summary["error"].as_str().unwrap();
    assert!(error.contains("https://api.test/ok/***"), "{error}");
    assert!(!lines.lock().unwrap().iter().any(|l| l.contains(CANARY)));
}

/// A chain for `run --every`: `{{ base }}/flaky` fails twice, then passes.
const EVERY: &str = r#"
notify:
  url: "{{ base }}/notify"
  on: [failure, recovery]
steps:
  - name: Call
    url: "{{ base }}/flaky"
    expect: {status: 200}
"#;

async fn notified(server: &MockServer) -> Vec<Value> {
    server
        .received_requests()
        .await
        .unwrap_or_default()
        .iter()
        .filter(|r| r.url.path() == "/notify")
        .map(|r| serde_json::from_slice(&r.body).unwrap())
        .collect()
}

async fn calls(server: &MockServer) -> usize {
    server
        .received_requests()
        .await
        .unwrap_or_default()
        .iter()
        .filter(|r| r.url.path() == "/flaky")
        .count()
}

/// Runs `chain` with `--every 1s` (its `base` the server) until the server
/// has had `at_least` requests, then stops it as Ctrl-C does.
async fn every_until(
    chain: &std::path::Path,
    server: &MockServer,
    at_least: usize,
) -> std::process::Output {
    let child = crate::support::spawn_chain(chain, &server.uri(), &["--every", "1s", "-q"]);
    for _ in 0..200 {
        if calls(server).await >= at_least {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    crate::support::send_signal(child.id(), "INT");
    child.wait_with_output().unwrap()
}

#[cfg(unix)]
#[tokio::test]
async fn run_every_notifies_once_per_streak_and_once_on_recovery() {
    let server = MockServer::start().await;
    Mock::given(path("/flaky"))
        .respond_with(ResponseTemplate::new(404))
        .up_to_n_times(2)
        .with_priority(1)
        .mount(&server)
        .await;
    Mock::given(path("/flaky"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"ok": true})))
        .with_priority(2)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/notify"))
        .respond_with(ResponseTemplate::new(204))
        .mount(&server)
        .await;
    let dir = Scratch::new();
    let chain = dir.file("c.yaml", EVERY);
    // Two failed runs, then two that pass.
    let out = every_until(&chain, &server, 4).await;
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(calls(&server).await >= 4);
    let sent = notified(&server).await;
    assert_eq!(sent.len(), 2, "{sent:#?}\n{stderr}");
    assert_eq!(sent[0]["status"], "failed");
    assert_eq!(sent[0]["run_id"], Value::Null);
    assert_eq!(sent[0]["failed_step"], "Call");
    assert_eq!(sent[1]["status"], "recovered");
    assert_eq!(sent[1]["failed_runs"], 2);
    assert!(!stderr.contains("warning"), "{stderr}");
}

#[tokio::test]
async fn a_single_run_does_not_notify_and_every_says_when_the_receiver_is_down() {
    let server = MockServer::start().await;
    Mock::given(path("/flaky"))
        .respond_with(ResponseTemplate::new(500))
        .mount(&server)
        .await;
    let (out, _dir) = crate::support::run_chain(&server.uri(), EVERY, &["-q"]);
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert!(notified(&server).await.is_empty());

    // `--every` with a receiver on a closed port: a warning, and the loop goes on.
    let dir = Scratch::new();
    let down = EVERY.replace(
        "{{ base }}/notify",
        &format!("http://127.0.0.1:{}/notify", crate::support::closed_port()),
    );
    let chain = dir.file("c.yaml", &down);
    let out = every_until(&chain, &server, 3).await;
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(130), "{stderr}");
    assert_eq!(
        stderr
            .matches("warning: the `failed` notification of chain `")
            .count(),
        1,
        "{stderr}"
    );
    assert!(
        stderr.contains("c.yaml` was not sent: http://127.0.0.1:"),
        "{stderr}"
    );
}

#[cfg(unix)]
#[tokio::test]
async fn a_notify_chain_runs_with_the_summary_as_its_variables() {
    let server = MockServer::start().await;
    Mock::given(path("/flaky"))
        .respond_with(ResponseTemplate::new(404))
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/told"))
        .respond_with(ResponseTemplate::new(200))
        .mount(&server)
        .await;
    let dir = Scratch::new();
    dir.file(
        "tell.yaml",
        &format!(
            "vars: {{base: '{}'}}\nsteps:\n  - name: Tell\n    method: POST\n    url: \"{{{{ base }}}}/told\"\n    body: {{status: \"{{{{ status }}}}\", step: \"{{{{ failed_step }}}}\", line: \"{{{{ summary }}}}\"}}\n",
            server.uri()
        ),
    );
    let chain = dir.file(
        "c.yaml",
        &EVERY.replace("url: \"{{ base }}/notify\"", "chain: tell.yaml"),
    );
    let out = every_until(&chain, &server, 2).await;
    let stderr = String::from_utf8_lossy(&out.stderr);
    let told: Vec<Value> = server
        .received_requests()
        .await
        .unwrap_or_default()
        .iter()
        .filter(|r| r.url.path() == "/told")
        .map(|r| serde_json::from_slice(&r.body).unwrap())
        .collect();
    assert_eq!(told.len(), 1, "{told:#?}\n{stderr}");
    assert_eq!(told[0]["status"], "failed");
    assert_eq!(told[0]["step"], "Call");
    assert!(
        told[0]["line"]
            .as_str()
            .unwrap()
            .contains("failed: step `Call` failed"),
        "{told:#?}"
    );
}

#[test]
fn validate_places_notify_errors() {
    let dir = Scratch::new();
    for (chain, want) in [
        (
            "notify: {on: [failure]}\n",
            "`notify` needs `url`, `slack` or `chain`",
        ),
        (
            "notify: {url: 'https://a.test', slack: 'https://b.test'}\n",
            "`notify` takes one of `url`, `slack` and `chain`, not more",
        ),
        (
            "notify: {url: 'ftp://a.test/x'}\n",
            "`ftp` is not an http or https URL",
        ),
        (
            "notify: {url: 'not a url'}\n",
            "`not a url` is not a valid URL",
        ),
        (
            "notify: {url: 'https://a.test', on: []}\n",
            "`notify.on` is empty",
        ),
        (
            "notify: {url: 'https://a.test', on: [sometimes]}\n",
            "unknown variant `sometimes`",
        ),
        (
            "notify: {url: 'https://a.test', colour: red}\n",
            "unknown key `colour` in `notify`",
        ),
        (
            "notify: {url: 'https://a.test', timeout: 0s}\n",
            "`notify.timeout` must be more than 0",
        ),
        ("notify: {url: 'https://a.test/{{ nope }}'}\n", "nope"),
        ("notify: {chain: missing.yaml}\n", "cannot read sub-chain"),
    ] {
        let text = format!("{chain}steps:\n  - {{name: A, url: 'https://api.test/a'}}\n");
        let path = dir.file("c.yaml", &text);
        let out = crate::support::run(&["validate", path.to_str().unwrap()]);
        assert_eq!(out.code, 2, "{chain}: {}", out.stderr);
        assert!(out.stderr.contains(want), "{chain}: {}", out.stderr);
        // Every error points into the `notify` line.
        assert!(out.stderr.contains("c.yaml:1:"), "{chain}: {}", out.stderr);
    }
    let ok = dir.file(
        "ok.yaml",
        "notify: {slack: \"{{ secret('slack_hook') }}\", on: [failure, recovery], timeout: 5s}\nsteps:\n  - {name: A, url: 'https://api.test/a'}\n",
    );
    let out = crate::support::run(&["validate", ok.to_str().unwrap()]);
    assert_eq!(out.code, 0, "{}", out.stderr);
}
