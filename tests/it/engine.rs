//! The engine as a library: a fake `Transport` and a recording `Observer`
//! show the seams later features plug into (auth, metrics, reporters).

use std::sync::{Arc, Mutex};
use std::time::Duration;

use pytopus::chain;
use pytopus::diagnostic::Source;
use pytopus::engine::{
    self, Cancel, Event, Observer, RunOptions, RunStatus, StepResult, StepStatus,
};
use pytopus::transport::{Client, HttpRequest, Reply, SendFuture, Transport, TransportError};
use serde_json::json;

/// Answers from a script of responses and remembers what it was sent.
struct Scripted {
    answers: Mutex<Vec<Result<(u16, &'static str), TransportError>>>,
    sent: Arc<Mutex<Vec<HttpRequest>>>,
}

impl Transport for Scripted {
    fn send<'a>(&'a self, req: &'a HttpRequest, _left: Duration) -> SendFuture<'a> {
        self.sent.lock().unwrap().push(req.clone());
        let next = self.answers.lock().unwrap().remove(0);
        Box::pin(async move {
            let (status, body) = next?;
            Ok(Reply::full(
                status,
                vec![("content-type".into(), "application/json".into())].into(),
                body.as_bytes().to_vec(),
                req.url.clone(),
            ))
        })
    }
}

/// The pipeline every run sends through, over a test route.
fn client(route: impl Transport + 'static) -> Client {
    Client::new(Arc::new(route), pytopus::secret::Redactor::default())
}

/// Writes down every event as a short line.
#[derive(Default)]
struct Log(Vec<String>);

impl Observer for Log {
    fn on_event(&mut self, event: &Event<'_>) {
        self.0.push(match event {
            Event::RunStarted { chain, .. } => format!("start {}", chain.name),
            Event::StepStarted { step, request, .. } => {
                format!("send {} {}", step.name, request.url)
            }
            Event::Retrying {
                step,
                attempt,
                reason,
                ..
            } => format!("retry {} after {attempt}: {reason}", step.name),
            Event::StepFinished { step, outcome, .. } => {
                format!("done {} {}", step.name, outcome.status.as_str())
            }
            Event::RunFinished { report } => format!("end {}", report.status.as_str()),
            Event::ItemsStarted { step, total, .. } => format!("items {} {total}", step.name),
            Event::ItemFinished { step, item, .. } => format!("item {} {item}", step.name),
            Event::RateLimited {
                step, connector, ..
            } => format!("wait {} {connector}", step.name),
            Event::Polling { step, count, .. } => format!("poll {} {count}", step.name),
            Event::Exchange {
                step,
                attempt,
                response,
                ..
            } => match response {
                Ok(r) => format!("exchange {} {attempt}: {}", step.name, r.status),
                Err(e) => format!("exchange {} {attempt}: {}", step.name, e.kind()),
            },
        });
    }
}

fn load(text: &str) -> pytopus::plan::ValidChain {
    let source = Arc::new(Source {
        name: "t.yaml".into(),
        text: text.into(),
    });
    let parsed = chain::parse(source).expect("parses");
    let vars = parsed.chain.vars.clone();
    pytopus::compile::validate(parsed, vars).expect("valid")
}

const CHAIN: &str = r#"
name: seams
steps:
  - name: A
    url: http://api.test/a
    retry: {backoff: 1ms}
    extract: {n: "$.n"}
  - name: B
    method: PUT
    url: http://api.test/b/{{ n }}
    body: {n: "{{ n }}", from: "{{ steps.A.status }}"}
output: "{{ B.ok }}"
"#;

#[tokio::test]
async fn events_flow_in_order_and_results_feed_later_steps() {
    let chain = load(CHAIN);
    let sent = Arc::new(Mutex::new(Vec::new()));
    let transport = Scripted {
        answers: Mutex::new(vec![
            Err(TransportError::Connect("refused".into())),
            Ok((200, r#"{"n": 5}"#)),
            Ok((200, r#"{"ok": true}"#)),
        ]),
        sent: Arc::clone(&sent),
    };
    let mut log = Log::default();
    let report = engine::run(
        &chain,
        &client(transport),
        &mut log,
        &RunOptions::default(),
        Cancel::never(),
    )
    .await;

    assert_eq!(report.status, RunStatus::Passed);
    assert_eq!(report.output.as_deref(), Some(&json!(true)));
    assert_eq!(report.steps[0].attempts, 2);
    assert_eq!(report.steps[0].outputs["n"], json!(5));
    assert_eq!(
        log.0,
        [
            "start seams",
            "send A http://api.test/a",
            "exchange A 1: connect",
            "retry A after 1: could not connect: refused",
            "exchange A 2: 200",
            "done A passed",
            "send B http://api.test/b/5",
            "exchange B 1: 200",
            "done B passed",
            "end passed",
        ]
    );
    let sent = sent.lock().unwrap();
    assert_eq!(sent.len(), 3);
    assert_eq!(sent[2].method, "PUT");
    let body: serde_json::Value =
        serde_json::from_slice(sent[2].body.as_ref().and_then(|b| b.bytes()).unwrap()).unwrap();
    assert_eq!(body, json!({"n": 5, "from": 200}));
}

#[tokio::test]
async fn a_failed_step_stops_the_run_and_later_steps_are_not_run() {
    let chain = load(CHAIN);
    let transport = Scripted {
        answers: Mutex::new(vec![Ok((500, r#"{"error": "boom"}"#))]),
        sent: Arc::default(),
    };
    let mut log = Log::default();
    let report = engine::run(
        &chain,
        &client(transport),
        &mut log,
        &RunOptions::default(),
        Cancel::never(),
    )
    .await;
    assert_eq!(report.status, RunStatus::Failed);
    assert_eq!(report.steps[0].status, StepStatus::Failed);
    assert_eq!(report.steps[1].status, StepStatus::NotRun);
    assert_eq!(report.output, None);
    assert_eq!(log.0.last().map(String::as_str), Some("end failed"));
}

#[tokio::test]
async fn cancelling_interrupts_the_step_in_flight() {
    struct Hang;
    impl Transport for Hang {
        fn send<'a>(&'a self, _req: &'a HttpRequest, _left: Duration) -> SendFuture<'a> {
            Box::pin(std::future::pending())
        }
    }
    let chain = load(CHAIN);
    let (handle, cancel) = Cancel::new();
    let mut log = Log::default();
    let opts = RunOptions::default();
    let hang = client(Hang);
    let run = engine::run(&chain, &hang, &mut log, &opts, cancel);
    let stop = async {
        tokio::time::sleep(Duration::from_millis(20)).await;
        handle.cancel();
    };
    let (report, ()) = tokio::join!(run, stop);
    assert_eq!(report.status, RunStatus::Interrupted);
    assert_eq!(report.steps[1].status, StepStatus::NotRun);
}

/// Counts token requests; answers every one after a pause, so concurrent
/// callers overlap.
struct SlowTokenEndpoint(Arc<Mutex<usize>>);

impl Transport for SlowTokenEndpoint {
    fn send<'a>(&'a self, req: &'a HttpRequest, _left: Duration) -> SendFuture<'a> {
        let n = {
            let mut calls = self.0.lock().unwrap();
            *calls += 1;
            *calls
        };
        Box::pin(async move {
            tokio::time::sleep(Duration::from_millis(50)).await;
            Ok(Reply::full(
                200,
                vec![("content-type".into(), "application/json".into())].into(),
                format!(r#"{{"access_token": "tok-{n}", "expires_in": 3600}}"#).into_bytes(),
                req.url.clone(),
            ))
        })
    }
}

#[tokio::test]
async fn concurrent_requests_share_one_token_fetch() {
    use pytopus::auth::oauth2::{ClientAuthKind, Config, GrantKind, Tokens};
    let calls = Arc::new(Mutex::new(0));
    let transport = SlowTokenEndpoint(Arc::clone(&calls));
    let tokens = Tokens::new(
        None,
        pytopus::secret::Redactor::default(),
        Arc::new(|_: &str| {}),
    );
    let cfg = Config {
        grant: GrantKind::ClientCredentials,
        token_url: "http://auth.test/token".into(),
        client_id: "c".into(),
        client_secret: Some("s3cret".into()),
        scope: None,
        audience: None,
        client_auth: ClientAuthKind::Basic,
        refresh_token: None,
        username: None,
        password: None,
        device_url: None,
    };
    let client = client(transport);
    let all =
        futures_util::future::join_all((0..16).map(|_| tokens.access_token(&cfg, &client, false)))
            .await;
    assert!(all.iter().all(|t| t.as_deref() == Ok("tok-1")), "{all:?}");
    assert_eq!(
        *calls.lock().unwrap(),
        1,
        "sixteen concurrent callers, one fetch"
    );
}

/// A token endpoint that answers only the right client secret, counting calls.
struct StrictTokenEndpoint(Arc<Mutex<usize>>);

impl Transport for StrictTokenEndpoint {
    fn send<'a>(&'a self, req: &'a HttpRequest, _left: Duration) -> SendFuture<'a> {
        let n = {
            let mut calls = self.0.lock().unwrap();
            *calls += 1;
            *calls
        };
        // Basic c:right
        let good = req
            .headers
            .iter()
            .any(|(k, v)| k.eq_ignore_ascii_case("authorization") && v == "Basic YzpyaWdodA==");
        let (status, body) = if good {
            (
                200,
                format!(r#"{{"access_token": "tok-{n}", "expires_in": 3600}}"#),
            )
        } else {
            (401, r#"{"error": "invalid_client"}"#.to_string())
        };
        Box::pin(async move {
            Ok(Reply::full(
                status,
                vec![("content-type".into(), "application/json".into())].into(),
                body.into_bytes(),
                req.url.clone(),
            ))
        })
    }
}

#[tokio::test]
async fn a_cached_token_is_not_used_with_other_credentials() {
    use pytopus::auth::oauth2::{ClientAuthKind, Config, GrantKind, Tokens};
    use pytopus::secret::{MemoryStore, Redactor, SecretStore, Secrets};
    let store: Arc<dyn SecretStore> = Arc::new(MemoryStore::default());
    let calls = Arc::new(Mutex::new(0));
    let client = client(StrictTokenEndpoint(Arc::clone(&calls)));
    // A new run each time: the cache between them is the keyring.
    let fetch = |secret: &str| {
        let store = Arc::clone(&store);
        let tokens = Tokens::new(
            Some(Secrets::new(
                move || Ok(Arc::clone(&store)),
                Redactor::default(),
            )),
            Redactor::default(),
            Arc::new(|_: &str| {}),
        );
        let cfg = Config {
            grant: GrantKind::ClientCredentials,
            token_url: "http://auth.test/token".into(),
            client_id: "c".into(),
            client_secret: Some(secret.into()),
            scope: None,
            audience: None,
            client_auth: ClientAuthKind::Basic,
            refresh_token: None,
            username: None,
            password: None,
            device_url: None,
        };
        let client = &client;
        async move { tokens.access_token(&cfg, client, false).await }
    };
    assert_eq!(fetch("right").await.as_deref(), Ok("tok-1"));
    // The secret was rotated or mistyped: the cached token must not hide it.
    let wrong = fetch("wrong").await;
    assert!(
        wrong.as_ref().is_err_and(|e| e.contains("invalid_client")),
        "{wrong:?}"
    );
    assert_eq!(*calls.lock().unwrap(), 2);
    // The right secret again: the token cached by the first run.
    assert_eq!(fetch("right").await.as_deref(), Ok("tok-1"));
    assert_eq!(*calls.lock().unwrap(), 2);
    // One entry per grant, whatever the secret; its name holds no secret.
    let names = store.list().unwrap();
    assert_eq!(names.len(), 1, "{names:?}");
    assert!(names[0].starts_with("oauth2-token-"), "{names:?}");
}

/// Only what later templates read is bound into their context: a step's
/// result (by name), its `steps.<name>` metadata, both, or neither.
#[test]
fn the_chain_knows_what_later_templates_read_of_each_step() {
    use pytopus::plan::Reads;
    let chain = load(
        r#"
steps:
  - name: A
    url: http://api.test/a
  - name: B
    url: http://api.test/b/{{ A.id }}
  - name: C
    url: http://api.test/c/{{ steps.B.status }}
  - name: D
    url: http://api.test/d
    extract: {d: "$.d"}
  - name: E
    url: http://api.test/e/{{ d }}
  - name: F
    url: http://api.test/f
output: {c: "{{ C.x }}", s: "{{ steps.C.attempts }}"}
"#,
    );
    let r = |result, meta, last| Reads { result, meta, last };
    assert_eq!(
        chain.read_later,
        [
            r(true, false, 1),  // A: B reads A.id
            r(false, true, 2),  // B: C reads steps.B.status
            r(true, true, 6),   // C: output reads both
            r(false, false, 0), // D: only its extracted variable is read
            r(false, false, 0), // E
            r(false, false, 0), // F: `output` is a template that does not read it
        ]
    );
    let whole = load(
        "steps:\n  - name: A\n    url: http://api.test/a\n  - name: B\n    url: \"http://api.test/{{ steps | length }}\"\n",
    );
    // B is the run's output: read after the last step.
    assert_eq!(whole.read_later, [r(false, true, 1), r(false, false, 2)]);
}

/// Runs `chain` against scripted answers; checks that it passed and returns
/// the report with the URLs sent, in order.
async fn run_passing(
    chain: &pytopus::plan::ValidChain,
    answers: Vec<Result<(u16, &'static str), TransportError>>,
) -> (engine::RunReport, Vec<String>) {
    let sent = Arc::new(Mutex::new(Vec::new()));
    let transport = Scripted {
        answers: Mutex::new(answers),
        sent: Arc::clone(&sent),
    };
    let report = engine::run(
        chain,
        &client(transport),
        &mut Log::default(),
        &RunOptions::default(),
        Cancel::never(),
    )
    .await;
    assert_eq!(report.status, RunStatus::Passed);
    let urls: Vec<String> = sent.lock().unwrap().iter().map(|r| r.url.clone()).collect();
    (report, urls)
}

/// Only a sequential run compacts results: with `parallel: auto` they stay
/// decoded, and no body text is kept beside them.
#[tokio::test]
async fn no_body_text_is_kept_where_nothing_is_compacted() {
    let chain = load(
        r#"
parallel: auto
steps:
  - name: A
    url: http://api.test/a
  - name: B
    url: http://api.test/b/{{ A.id }}
"#,
    );
    let (report, urls) = run_passing(
        &chain,
        vec![Ok((200, r#"{"id": 1}"#)), Ok((200, r#"{"b": 2}"#))],
    )
    .await;
    assert_eq!(urls[1], "http://api.test/b/1");
    assert!(report.steps.iter().all(|s| s.text.is_none()));
    assert!(
        report
            .steps
            .iter()
            .all(|s| matches!(s.result, StepResult::Value(_)))
    );
}

/// A GraphQL step's result is `data`, not the body it came in: what is kept
/// as text once no step reads it is `data`'s JSON.
#[tokio::test]
async fn a_compacted_graphql_result_is_its_data() {
    let chain = load(
        r#"
steps:
  - name: Q
    url: http://api.test/graphql
    graphql: {query: "{ user { id } }"}
  - name: B
    url: http://api.test/b/{{ Q.user.id }}
  - name: C
    url: http://api.test/c
"#,
    );
    let (report, urls) = run_passing(
        &chain,
        vec![
            Ok((200, r#"{"data": {"user": {"id": 5}}}"#)),
            Ok((200, "{}")),
            Ok((200, "{}")),
        ],
    )
    .await;
    assert_eq!(urls[1], "http://api.test/b/5");
    assert!(
        matches!(&report.steps[0].result, StepResult::Json(t) if &**t == r#"{"user":{"id":5}}"#),
        "{:?}",
        report.steps[0].result
    );
}

/// A result leaves the template context after its last reader, not before:
/// here A is read two steps later, by name and under `steps`.
#[tokio::test]
async fn a_result_stays_readable_until_its_last_reader() {
    let chain = load(
        r#"
steps:
  - name: A
    url: http://api.test/a
  - name: B
    url: http://api.test/b/{{ A.id }}
  - name: C
    url: http://api.test/c/{{ A.id }}/{{ steps.A.status }}/{{ B.n[0] }}
  - name: D
    url: http://api.test/d
"#,
    );
    let (report, urls) = run_passing(
        &chain,
        vec![
            Ok((200, r#"{"id": 7}"#)),
            Ok((200, r#"{"n": [1]}"#)),
            Ok((200, r#"{}"#)),
            Ok((200, r#"{"d": true}"#)),
        ],
    )
    .await;
    assert_eq!(urls[1], "http://api.test/b/7");
    assert_eq!(urls[2], "http://api.test/c/7/200/1");
    let results: Vec<serde_json::Value> = report
        .steps
        .iter()
        .map(|s| s.result.value().into_owned())
        .collect();
    assert_eq!(
        results,
        [
            json!({"id": 7}),
            json!({"n": [1]}),
            json!({}),
            json!({"d": true})
        ]
    );
}

#[tokio::test]
async fn unread_results_are_not_bound_and_read_ones_are() {
    let chain = load(
        r#"
steps:
  - name: A
    url: http://api.test/a
  - name: B
    url: http://api.test/b/{{ A.id }}/{{ steps.A.status }}
  - name: C
    url: http://api.test/c
"#,
    );
    let (report, urls) = run_passing(
        &chain,
        vec![
            Ok((200, r#"{"id": 7}"#)),
            Ok((201, "\n  {\"b\": 1}\n")),
            Ok((200, r#"{"c": [1, 2]}"#)),
        ],
    )
    .await;
    assert_eq!(urls[1], "http://api.test/b/7/200");
    // The implicit output is C's result, shared with C's outcome.
    assert_eq!(report.output.as_deref(), Some(&json!({"c": [1, 2]})));
    let StepResult::Value(c) = &report.steps[2].result else {
        panic!("the output step's result is kept decoded")
    };
    assert!(Arc::ptr_eq(report.output.as_ref().unwrap(), c));
    // No step reads A or B any more: they are kept as JSON text, the body
    // as it came (not written out again), without surrounding blanks.
    assert!(
        matches!(&report.steps[0].result, StepResult::Json(t) if &**t == r#"{"id": 7}"#),
        "{:?}",
        report.steps[0].result
    );
    assert_eq!(*report.steps[1].result.value(), json!({"b": 1}));
    assert!(
        matches!(&report.steps[1].result, StepResult::Json(t) if &**t == r#"{"b": 1}"#),
        "{:?}",
        report.steps[1].result
    );
    // Only compaction needs the body's text; none is left over.
    assert!(report.steps.iter().all(|s| s.text.is_none()));
}
