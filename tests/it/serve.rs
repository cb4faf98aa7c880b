//! `pytopus serve`, in process: webhooks and their signatures, limits, the
//! API and its token, async runs, schedules on tokio's paused clock, and
//! graceful shutdown. The chains' own calls go to a fake transport; the last
//! test runs the real binary and posts a GitHub-style signed webhook to it.

use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use pytopus::chain;
use pytopus::diagnostic::Source;
use pytopus::secret::{MemoryStore, Redactor, Secret, SecretStore, Secrets};
use pytopus::serve::schedule::{SharedClock, SystemClock, TokioClock};
use pytopus::serve::signature::sign_hex;
use pytopus::serve::{Log, LogFormat, ServedChain, Server, serve};
use pytopus::transport::{HttpRequest, Reply, SendFuture, Transport};
use serde_json::{Value, json};
use tokio::sync::{Notify, Semaphore};

pub(crate) const HOOK_SECRET: &str = "hook-secret-4f9a2c";

/// Answers every request with `{"url", "json"}` (the request's JSON body);
/// `/fail` answers 500; `/slow` waits for a permit of `gate` first; `/panic`
/// panics, as a bug in the engine would.
#[derive(Clone)]
pub(crate) struct Fake {
    pub(crate) sent: Arc<Mutex<Vec<HttpRequest>>>,
    pub(crate) gate: Arc<Semaphore>,
}

impl Default for Fake {
    fn default() -> Self {
        Fake {
            sent: Arc::default(),
            gate: Arc::new(Semaphore::new(0)),
        }
    }
}

impl Fake {
    pub(crate) fn sent(&self) -> usize {
        self.sent.lock().unwrap().len()
    }
}

impl Transport for Fake {
    fn send<'a>(&'a self, req: &'a HttpRequest, _left: Duration) -> SendFuture<'a> {
        self.sent.lock().unwrap().push(req.clone());
        Box::pin(async move {
            // A bug inside a run, as a test double can make one.
            assert!(!req.url.contains("/panic"), "a run hit a bug");
            if req.url.contains("/slow") {
                let _permit = self.gate.acquire().await;
            }
            let json: Value = req
                .body
                .as_ref()
                .and_then(|b| b.bytes())
                .and_then(|b| serde_json::from_slice(b).ok())
                .unwrap_or(Value::Null);
            let status = if req.url.contains("/fail") { 500 } else { 200 };
            Ok(Reply::full(
                status,
                vec![("content-type".into(), "application/json".into())].into(),
                serde_json::to_vec(&json!({"url": req.url, "json": json})).unwrap(),
                req.url.clone(),
            ))
        })
    }
}

pub(crate) fn served(route: &str, yaml: &str) -> ServedChain {
    let source = Arc::new(Source {
        name: format!("{route}.yaml"),
        text: yaml.to_string(),
    });
    let parsed = chain::parse(source).expect("the test chain parses");
    let vars = parsed.chain.vars.clone();
    let valid = pytopus::compile::validate(parsed, vars)
        .unwrap_or_else(|d| panic!("the test chain is valid: {}", d.render(false)));
    let webhook_secret = valid
        .trigger
        .as_ref()
        .and_then(|t| t.signature)
        .map(|_| Secret::new(HOOK_SECRET));
    ServedChain {
        route: route.into(),
        chain: valid,
        webhook_secret,
    }
}

pub(crate) struct Setup {
    pub(crate) chains: Vec<ServedChain>,
    pub(crate) fake: Fake,
    pub(crate) token: Option<&'static str>,
    pub(crate) remote: bool,
    pub(crate) body_limit: usize,
    pub(crate) grace: Duration,
    pub(crate) clock: SharedClock,
    pub(crate) lines: Arc<Mutex<Vec<String>>>,
    pub(crate) secrets: Option<Secrets>,
    pub(crate) redactor: Redactor,
    pub(crate) allowed_hosts: Vec<String>,
}

impl Setup {
    pub(crate) fn new(chains: Vec<ServedChain>) -> Self {
        Setup {
            chains,
            fake: Fake::default(),
            token: None,
            remote: false,
            body_limit: 1024 * 1024,
            grace: Duration::from_secs(30),
            clock: Arc::new(SystemClock),
            lines: Arc::default(),
            secrets: None,
            redactor: Redactor::default(),
            allowed_hosts: Vec::new(),
        }
    }
}

/// Serves `setup` on 127.0.0.1:0 while `test` runs with the base URL and a
/// stop button; stops it after (if the test did not) and waits for the end.
pub(crate) async fn serve_while<F, Fut>(setup: Setup, test: F) -> Fut::Output
where
    F: FnOnce(String, Arc<Notify>) -> Fut,
    Fut: Future,
{
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let stop = Arc::new(Notify::new());
    let lines = Arc::clone(&setup.lines);
    let redactor = setup.redactor.clone();
    let server = Server {
        chains: setup.chains,
        token: setup.token.map(Secret::new),
        remote: setup.remote,
        body_limit: setup.body_limit,
        shutdown_grace: setup.grace,
        log: Log::new(LogFormat::Json, redactor.clone())
            .with_sink(move |l| lines.lock().unwrap().push(l.to_string())),
        transport: Arc::new(setup.fake),
        secrets: setup
            .secrets
            .unwrap_or_else(|| Secrets::env_only(redactor.clone())),
        redactor,
        clock: setup.clock,
        // The user's history database stays out of tests.
        history: false,
        allowed_hosts: setup.allowed_hosts,
        ui: true,
    };
    let stopped = {
        let stop = Arc::clone(&stop);
        async move { stop.notified().await }
    };
    let body = {
        let stop = Arc::clone(&stop);
        async move {
            let out = test(base, Arc::clone(&stop)).await;
            stop.notify_one();
            out
        }
    };
    let (result, out) = tokio::join!(serve(server, listener, stopped), body);
    result.expect("the server ran");
    out
}

pub(crate) fn client() -> reqwest::Client {
    reqwest::Client::builder().no_proxy().build().unwrap()
}

/// Log lines of one event, as JSON.
fn events(lines: &Mutex<Vec<String>>, event: &str) -> Vec<Value> {
    lines
        .lock()
        .unwrap()
        .iter()
        .map(|l| serde_json::from_str::<Value>(l).expect("JSON log line"))
        .filter(|v| v["event"] == event)
        .collect()
}

const GITHUB: &str = r##"
trigger:
  secret: "{{ secret('gh_hook') }}"
  signature: github
steps:
  - name: Notify
    method: POST
    url: https://slack.test/hook
    body: {text: "#{{ trigger.body.issue.number }} {{ trigger.body.issue.title }}", event: "{{ trigger.headers['x-github-event'] }}"}
output: {sent: "{{ Notify.json.text }}", event: "{{ Notify.json.event }}", q: "{{ trigger.query.x | default('none') }}"}
"##;

#[tokio::test]
async fn github_signature_valid_invalid_missing() {
    let setup = Setup::new(vec![served("issues", GITHUB)]);
    let fake = setup.fake.clone();
    let lines = Arc::clone(&setup.lines);
    serve_while(setup, |base, _| async move {
        let body = r#"{"action":"opened","issue":{"number":7,"title":"Crash"}}"#;
        let sig = format!(
            "sha256={}",
            sign_hex(HOOK_SECRET.as_bytes(), body.as_bytes())
        );
        let url = format!("{base}/hooks/issues?x=1");
        let ok = client()
            .post(&url)
            .header("content-type", "application/json")
            .header("x-github-event", "issues")
            .header("x-hub-signature-256", &sig)
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(ok.status(), 200);
        assert!(ok.headers().contains_key("x-pytopus-run"));
        let out: Value = ok.json().await.unwrap();
        assert_eq!(
            out,
            json!({"sent": "#7 Crash", "event": "issues", "q": "1"})
        );

        let tampered = client()
            .post(&url)
            .header("x-hub-signature-256", &sig)
            .body(body.replace("Crash", "Crush"))
            .send()
            .await
            .unwrap();
        assert_eq!(tampered.status(), 401);
        let why: Value = tampered.json().await.unwrap();
        assert_eq!(why["error"], "signature does not match the body");

        let missing = client().post(&url).body(body).send().await.unwrap();
        assert_eq!(missing.status(), 401);
        let why: Value = missing.json().await.unwrap();
        assert_eq!(
            why["error"],
            "missing signature header `x-hub-signature-256`"
        );

        let unknown = client()
            .post(format!("{base}/hooks/isues"))
            .send()
            .await
            .unwrap();
        assert_eq!(unknown.status(), 404);
        let why: Value = unknown.json().await.unwrap();
        assert!(
            why["error"]
                .as_str()
                .unwrap()
                .contains("did you mean `issues`")
        );
    })
    .await;
    assert_eq!(fake.sent(), 1, "refused requests never run the chain");
    assert_eq!(events(&lines, "rejected").len(), 2);
    let runs = events(&lines, "run");
    assert_eq!(runs.len(), 1);
    assert_eq!(runs[0]["status"], "passed");
    assert_eq!(runs[0]["trigger"], "webhook");
    let requests = events(&lines, "request");
    assert_eq!(requests.len(), 4);
    assert!(
        lines
            .lock()
            .unwrap()
            .iter()
            .all(|l| !l.contains(HOOK_SECRET))
    );
}

/// A fixed "now" for the signed timestamps (tokio's clock is not paused here,
/// so it moves on by the few milliseconds the test takes).
fn fixed_clock() -> (SharedClock, u64) {
    let now = 1_700_000_000;
    let clock = TokioClock::new(SystemTime::UNIX_EPOCH + Duration::from_secs(now));
    (Arc::new(clock), now)
}

#[tokio::test]
async fn slack_and_stripe_refuse_old_timestamps() {
    let slack = r#"
trigger: {secret: "{{ secret('s') }}", signature: slack, tolerance: 5m}
steps: [{name: Echo, method: POST, url: "https://x.test/a", body: "{{ trigger.body }}"}]
output: "{{ Echo.json.text }}"
"#;
    let stripe = r#"
trigger: {secret: "{{ secret('s') }}", signature: stripe}
steps: [{name: Echo, method: POST, url: "https://x.test/b", body: "{{ trigger.body }}"}]
output: "{{ Echo.json.type }}"
"#;
    let mut setup = Setup::new(vec![served("slack", slack), served("stripe", stripe)]);
    let (clock, now) = fixed_clock();
    setup.clock = clock;
    let fake = setup.fake.clone();
    serve_while(setup, |base, _| async move {
        let body = r#"{"text":"hi"}"#;
        let slack_post = |ts: u64| {
            let sig = format!(
                "v0={}",
                sign_hex(HOOK_SECRET.as_bytes(), format!("v0:{ts}:{body}").as_bytes())
            );
            client()
                .post(format!("{base}/hooks/slack"))
                .header("content-type", "application/json")
                .header("x-slack-request-timestamp", ts.to_string())
                .header("x-slack-signature", sig)
                .body(body)
                .send()
        };
        let fresh = slack_post(now - 10).await.unwrap();
        assert_eq!(fresh.status(), 200);
        assert_eq!(fresh.json::<Value>().await.unwrap(), json!("hi"));
        let replayed = slack_post(now - 600).await.unwrap();
        assert_eq!(replayed.status(), 401);
        let why: Value = replayed.json().await.unwrap();
        assert!(
            why["error"].as_str().unwrap().contains("at most 300s"),
            "{why}"
        );

        let event = r#"{"type":"invoice.paid"}"#;
        let stripe_post = |ts: u64| {
            let sig = sign_hex(HOOK_SECRET.as_bytes(), format!("{ts}.{event}").as_bytes());
            client()
                .post(format!("{base}/hooks/stripe"))
                .header("stripe-signature", format!("t={ts},v1={sig}"))
                .body(event)
                .send()
        };
        let fresh = stripe_post(now).await.unwrap();
        assert_eq!(fresh.status(), 200);
        assert_eq!(fresh.json::<Value>().await.unwrap(), json!("invoice.paid"));
        assert_eq!(stripe_post(now - 3600).await.unwrap().status(), 401);
    })
    .await;
    assert_eq!(fake.sent(), 2);
}

const ECHO: &str = r#"
trigger: {max_concurrent: 1}
vars: {path: slow, who: nobody}
steps:
  - name: Call
    method: POST
    url: "https://api.test/{{ path }}"
    body: {who: "{{ who }}"}
output: "{{ Call.json.who }}"
"#;

#[tokio::test]
async fn body_limit_and_concurrency_limit() {
    let mut setup = Setup::new(vec![served("echo", ECHO)]);
    setup.body_limit = 1024;
    let fake = setup.fake.clone();
    let gate = Arc::clone(&fake.gate);
    serve_while(setup, |base, _| async move {
        let big = client()
            .post(format!("{base}/hooks/echo"))
            .body(vec![b'x'; 4096])
            .send()
            .await
            .unwrap();
        assert_eq!(big.status(), 413);

        // The first run waits at the gate; the second finds no room.
        let first = client()
            .post(format!("{base}/hooks/echo?async=true"))
            .send()
            .await
            .unwrap();
        assert_eq!(first.status(), 202);
        let started: Value = first.json().await.unwrap();
        let second = client()
            .post(format!("{base}/chains/echo/run"))
            .send()
            .await
            .unwrap();
        assert_eq!(second.status(), 429);
        assert_eq!(second.headers()["retry-after"], "1");

        gate.add_permits(1);
        let done = wait_for_run(&base, started["run_id"].as_str().unwrap(), None).await;
        assert_eq!(done["status"], "passed");
        assert_eq!(done["output"], "nobody");
        // Room again.
        gate.add_permits(1);
        let third = client()
            .post(format!("{base}/chains/echo/run"))
            .json(&json!({"vars": {"who": "third"}}))
            .send()
            .await
            .unwrap();
        assert_eq!(third.status(), 200);
        assert_eq!(third.json::<Value>().await.unwrap(), "third");
    })
    .await;
    assert_eq!(fake.sent(), 2);
}

/// Polls `GET /runs/<id>` until the run is no longer running.
pub(crate) async fn wait_for_run(base: &str, id: &str, token: Option<&str>) -> Value {
    for _ in 0..200 {
        let mut req = client().get(format!("{base}/runs/{id}"));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        let v: Value = req.send().await.unwrap().json().await.unwrap();
        if v["status"] != "running" {
            return v;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("run {id} did not finish");
}

/// The report `GET /runs/<id>` shows is the run's `--report` JSON (the run
/// session keeps it for serve), every field there, secrets redacted.
#[tokio::test]
async fn a_served_runs_report_is_the_report_json_redacted() {
    let chain = r#"
steps:
  - name: Call
    url: https://api.test/ok
    headers: {X-Key: "{{ secret('api') }}"}
"#;
    let mut setup = Setup::new(vec![served("keyed", chain)]);
    let store = Arc::new(MemoryStore::default());
    store
        .set("api", &Secret::new("sk-report-98765xyz"))
        .unwrap();
    setup.secrets = Some(Secrets::new(
        move || Ok(store.clone() as Arc<dyn SecretStore>),
        setup.redactor.clone(),
    ));
    serve_while(setup, |base, _| async move {
        let started = client()
            .post(format!("{base}/chains/keyed/run?async=true"))
            .send()
            .await
            .unwrap();
        let id = started.json::<Value>().await.unwrap()["run_id"]
            .as_str()
            .unwrap()
            .to_string();
        let run = wait_for_run(&base, &id, None).await;
        assert_eq!(run["status"], "passed", "{run}");
        let report = &run["report"];
        let keys = |v: &Value| -> Vec<String> {
            let mut k: Vec<String> = v.as_object().unwrap().keys().cloned().collect();
            k.sort();
            k
        };
        assert_eq!(
            keys(report),
            [
                "chain",
                "dry_run",
                "duration_ms",
                "file",
                "output",
                "output_error",
                "started_at",
                "status",
                "steps"
            ]
        );
        assert_eq!(report["file"], "keyed.yaml");
        assert_eq!(report["status"], "passed");
        let step = &report["steps"][0];
        assert_eq!(
            keys(step),
            [
                "attempts",
                "continued",
                "elapsed_ms",
                "error",
                "name",
                "outputs",
                "request",
                "response",
                "status"
            ]
        );
        assert_eq!(step["request"]["url"], "https://api.test/ok");
        assert_eq!(report["output"], run["output"]);
        let text = report.to_string();
        assert!(!text.contains("sk-report-98765xyz"), "{text}");
        assert!(text.contains("***"), "{text}");
    })
    .await;
}

#[tokio::test]
async fn api_runs_sync_async_and_failures_are_redacted() {
    let failing = r#"
trigger: {}
steps:
  - name: Broken
    url: https://api.test/fail
    headers: {Authorization: "Bearer {{ secret('api') }}"}
"#;
    let bad_input = r#"
trigger: {}
steps:
  - name: Needs
    url: "https://api.test/{{ trigger.body.id.missing }}"
"#;
    let mut setup = Setup::new(vec![
        served("echo", ECHO),
        served("failing", failing),
        served("input", bad_input),
    ]);
    let store = Arc::new(MemoryStore::default());
    store
        .set("api", &Secret::new("sk-live-abcdef123456"))
        .unwrap();
    setup.secrets = Some(Secrets::new(
        move || Ok(store.clone() as Arc<dyn SecretStore>),
        setup.redactor.clone(),
    ));
    setup.fake.gate.add_permits(100);
    serve_while(setup, |base, _| async move {
        let list: Value = client()
            .get(format!("{base}/chains"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let names: Vec<&str> = list["chains"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["name"].as_str().unwrap())
            .collect();
        assert_eq!(names, ["echo", "failing", "input"]);
        assert_eq!(
            list["chains"][0]["vars"],
            json!({"path": "slow", "who": "nobody"})
        );

        let started = client()
            .post(format!("{base}/chains/echo/run?async=true"))
            .json(&json!({"vars": {"who": "agent"}}))
            .send()
            .await
            .unwrap();
        assert_eq!(started.status(), 202);
        let id = started.json::<Value>().await.unwrap()["run_id"]
            .as_str()
            .unwrap()
            .to_string();
        let run = wait_for_run(&base, &id, None).await;
        assert_eq!(run["status"], "passed");
        assert_eq!(run["trigger"], "api");
        assert_eq!(run["output"], "agent");
        assert_eq!(run["report"]["steps"][0]["status"], "passed");

        let bad = client()
            .post(format!("{base}/chains/echo/run"))
            .json(&json!({"vars": {"trigger": 1}}))
            .send()
            .await
            .unwrap();
        assert_eq!(bad.status(), 400);

        let failed = client()
            .post(format!("{base}/chains/failing/run"))
            .send()
            .await
            .unwrap();
        assert_eq!(failed.status(), 502);
        let text = failed.text().await.unwrap();
        assert!(!text.contains("sk-live-abcdef123456"), "{text}");
        assert!(text.contains("Bearer ***"), "{text}");
        let v: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(v["status"], "failed");
        assert!(
            v["error"]
                .as_str()
                .unwrap()
                .contains("step `Broken` failed"),
            "{v}"
        );

        let unfit = client()
            .post(format!("{base}/hooks/input"))
            .json(&json!({"id": 3}))
            .send()
            .await
            .unwrap();
        assert_eq!(unfit.status(), 422);

        let metrics = client()
            .get(format!("{base}/metrics"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(
            metrics.contains(r#"pytopus_runs_total{chain="echo",status="passed"} 1"#),
            "{metrics}"
        );
        assert!(
            metrics.contains(r#"pytopus_runs_total{chain="failing",status="failed"} 1"#),
            "{metrics}"
        );
        assert!(
            metrics.contains("pytopus_run_duration_seconds_count{chain=\"echo\"} 1"),
            "{metrics}"
        );
        // The `--metrics` observer feeds it: requests, steps and failures too.
        assert!(
            metrics.contains("# TYPE pytopus_http_requests_total counter"),
            "{metrics}"
        );
        assert!(
            metrics.contains(r#"pytopus_step_failures_total{chain="failing",step="Broken","#),
            "{metrics}"
        );
        assert!(
            metrics.contains("# TYPE pytopus_step_duration_seconds histogram"),
            "{metrics}"
        );
        assert!(!metrics.contains("sk-live-abcdef123456"), "{metrics}");

        let doc: Value = client()
            .get(format!("{base}/openapi.json"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(doc["openapi"], "3.1.0");
        assert!(doc["paths"]["/chains/{name}/run"]["post"].is_object());
        let health = client()
            .get(format!("{base}/healthz"))
            .send()
            .await
            .unwrap();
        assert_eq!(health.status(), 200);
    })
    .await;
}

#[tokio::test]
async fn token_guards_the_api_but_not_signed_webhooks() {
    let unsigned = "trigger: {}\nsteps: [{name: A, url: https://api.test/a}]\n";
    let mut setup = Setup::new(vec![served("issues", GITHUB), served("open", unsigned)]);
    const TOKEN: &str = "0123456789abcdef-token";
    setup.token = Some(TOKEN);
    setup.remote = true;
    serve_while(setup, |base, _| async move {
        for path in [
            "/chains",
            "/healthz",
            "/metrics",
            "/openapi.json",
            "/runs/x",
        ] {
            let r = client().get(format!("{base}{path}")).send().await.unwrap();
            assert_eq!(r.status(), 401, "{path} without a token");
            assert_eq!(r.headers()["www-authenticate"], "Bearer");
            let wrong = client()
                .get(format!("{base}{path}"))
                .bearer_auth("0123456789abcdef-tokeN")
                .send()
                .await
                .unwrap();
            assert_eq!(wrong.status(), 401, "{path} with a wrong token");
        }
        let ok = client()
            .get(format!("{base}/chains"))
            .bearer_auth(TOKEN)
            .send()
            .await
            .unwrap();
        assert_eq!(ok.status(), 200);
        let run = client()
            .post(format!("{base}/chains/open/run"))
            .bearer_auth(TOKEN)
            .send()
            .await
            .unwrap();
        assert_eq!(run.status(), 200);

        // A signed webhook is authenticated by its signature…
        let body = r#"{"issue":{"number":1,"title":"t"}}"#;
        let sig = format!(
            "sha256={}",
            sign_hex(HOOK_SECRET.as_bytes(), body.as_bytes())
        );
        let hook = client()
            .post(format!("{base}/hooks/issues"))
            .header("x-hub-signature-256", sig)
            .header("x-github-event", "issues")
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(hook.status(), 200);
        // …an unsigned one on a public address needs the token.
        let open = client()
            .post(format!("{base}/hooks/open"))
            .send()
            .await
            .unwrap();
        assert_eq!(open.status(), 401);
        let open = client()
            .post(format!("{base}/hooks/open"))
            .bearer_auth(TOKEN)
            .send()
            .await
            .unwrap();
        assert_eq!(open.status(), 200);
    })
    .await;
}

const HEARTBEAT: &str = r#"
schedule: "*/15 * * * *"
steps:
  - name: Beat
    method: POST
    url: https://api.test/beat
    body: {kind: "{{ trigger.kind }}", at: "{{ trigger.time }}"}
"#;

/// 10:07:30 UTC on 2024-05-01.
fn may_first() -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_secs(1_714_558_050)
}

#[tokio::test(start_paused = true)]
async fn schedule_fires_on_time_with_a_fake_clock() {
    let mut setup = Setup::new(vec![served("heartbeat", HEARTBEAT)]);
    setup.clock = Arc::new(TokioClock::new(may_first()));
    let fake = setup.fake.clone();
    let lines = Arc::clone(&setup.lines);
    let probe = fake.clone();
    serve_while(setup, |_, _| async move {
        // 10:07:30 → 10:14:59: nothing yet.
        tokio::time::sleep(Duration::from_secs(449)).await;
        assert_eq!(probe.sent(), 0);
        // 10:15 and 10:30 fire; 10:45 is after the stop.
        tokio::time::sleep(Duration::from_secs(25 * 60)).await;
    })
    .await;
    let sent = fake.sent.lock().unwrap().clone();
    let bodies: Vec<Value> = sent
        .iter()
        .map(|r| serde_json::from_slice(r.body.as_ref().and_then(|b| b.bytes()).unwrap()).unwrap())
        .collect();
    assert_eq!(
        bodies,
        [
            json!({"kind": "schedule", "at": "2024-05-01T10:15:00Z"}),
            json!({"kind": "schedule", "at": "2024-05-01T10:30:00Z"}),
        ]
    );
    let runs = events(&lines, "run");
    assert_eq!(runs.len(), 2);
    assert!(
        runs.iter()
            .all(|r| r["trigger"] == "schedule" && r["status"] == "passed")
    );
}

#[tokio::test(start_paused = true)]
async fn overlapping_scheduled_runs_are_skipped() {
    let slow = HEARTBEAT.replace("https://api.test/beat", "https://api.test/slow");
    let mut setup = Setup::new(vec![served("slow", &slow)]);
    setup.clock = Arc::new(TokioClock::new(may_first()));
    setup.grace = Duration::from_secs(1);
    let fake = setup.fake.clone();
    let lines = Arc::clone(&setup.lines);
    serve_while(setup, |_, _| async move {
        // Fires at 10:15 (runs and hangs), 10:30 and 10:45 (both skipped).
        tokio::time::sleep(Duration::from_secs(40 * 60)).await;
    })
    .await;
    assert_eq!(fake.sent(), 1);
    assert_eq!(events(&lines, "skipped").len(), 2);
    // The hanging run was interrupted when the grace period ran out.
    let runs = events(&lines, "run");
    assert_eq!(runs.len(), 1);
    assert_eq!(runs[0]["status"], "interrupted");
    assert_eq!(events(&lines, "stopped")[0]["interrupted_runs"], true);
}

#[tokio::test]
async fn shutdown_lets_a_running_chain_finish() {
    let setup = Setup::new(vec![served("echo", ECHO)]);
    let fake = setup.fake.clone();
    let gate = Arc::clone(&fake.gate);
    let lines = Arc::clone(&setup.lines);
    serve_while(setup, |base, stop| async move {
        let request = tokio::spawn(
            client()
                .post(format!("{base}/chains/echo/run"))
                .json(&json!({"vars": {"who": "in flight"}}))
                .send(),
        );
        while fake.sent() == 0 {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        stop.notify_one();
        // The server now refuses new work but waits for the run.
        tokio::time::sleep(Duration::from_millis(100)).await;
        assert!(!request.is_finished());
        gate.add_permits(1);
        let response = request.await.unwrap().unwrap();
        assert_eq!(response.status(), 200);
        assert_eq!(response.json::<Value>().await.unwrap(), "in flight");
    })
    .await;
    assert_eq!(events(&lines, "run")[0]["status"], "passed");
    assert_eq!(events(&lines, "stopped")[0]["interrupted_runs"], false);
}

#[tokio::test]
async fn shutdown_interrupts_runs_past_the_deadline() {
    let mut setup = Setup::new(vec![served("echo", ECHO)]);
    setup.grace = Duration::from_millis(200);
    let fake = setup.fake.clone();
    serve_while(setup, |base, stop| async move {
        let request = tokio::spawn(client().post(format!("{base}/chains/echo/run")).send());
        while fake.sent() == 0 {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        stop.notify_one();
        let response = request.await.unwrap().unwrap();
        assert_eq!(response.status(), 503);
        let v: Value = response.json().await.unwrap();
        assert_eq!(v["status"], "interrupted");
    })
    .await;
}

/// The real binary, a real HTTP client and a GitHub-style signed webhook,
/// with a local server standing in for Slack.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn binary_serves_a_signed_github_webhook_end_to_end() {
    use std::io::{BufRead, BufReader};
    use wiremock::matchers::{body_partial_json, method, path};
    use wiremock::{Mock, MockServer, ResponseTemplate};

    let slack = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/services/T0/B0"))
        .and(body_partial_json(
            json!({"text": "New issue #42: It crashes"}),
        ))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"ok": true})))
        .expect(1)
        .mount(&slack)
        .await;
    let scratch = crate::support::Scratch::new();
    scratch.file(
        "new-issue.yaml",
        &format!(
            r#"
trigger:
  secret: "{{{{ secret('gh_hook') }}}}"
  signature: github
steps:
  - name: Slack
    method: POST
    url: {}/services/T0/B0
    body: {{text: "New issue #{{{{ trigger.body.issue.number }}}}: {{{{ trigger.body.issue.title }}}}"}}
output: {{ok: "{{{{ Slack.ok }}}}", event: "{{{{ trigger.headers['x-github-event'] }}}}"}}
"#,
            slack.uri()
        ),
    );
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_pytopus"));
    crate::support::isolate(&mut cmd);
    let mut child = cmd
        .args(["serve", "--listen", "127.0.0.1:0", "--log-format", "json"])
        .arg(scratch.dir.path())
        .env("PYTOPUS_SECRET_GH_HOOK", HOOK_SECRET)
        .env("PYTOPUS_KEYRING", "off")
        .env_remove("PYTOPUS_SERVE_TOKEN")
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("pytopus serve starts");
    let mut stderr = BufReader::new(child.stderr.take().unwrap());
    let mut first = String::new();
    stderr.read_line(&mut first).unwrap();
    let started: Value = serde_json::from_str(&first).unwrap_or_else(|_| panic!("{first}"));
    assert_eq!(started["event"], "listening");
    let base = started["url"].as_str().unwrap().to_string();

    let body = r#"{"action":"opened","issue":{"number":42,"title":"It crashes"}}"#;
    let sig = format!(
        "sha256={}",
        sign_hex(HOOK_SECRET.as_bytes(), body.as_bytes())
    );
    let response = client()
        .post(format!("{base}/hooks/new-issue"))
        .header("content-type", "application/json")
        .header("x-github-event", "issues")
        .header("x-hub-signature-256", sig)
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.json::<Value>().await.unwrap(),
        json!({"ok": true, "event": "issues"})
    );

    crate::support::send_signal(child.id(), "TERM");
    let exit = child.wait().unwrap();
    assert_eq!(exit.code(), Some(0));
    let rest: Vec<String> = stderr.lines().map(Result::unwrap).collect();
    let all = rest.join("\n");
    assert!(all.contains(r#""event":"run""#), "{all}");
    assert!(all.contains(r#""event":"stopped""#), "{all}");
    assert!(!all.contains(HOOK_SECRET));
    slack.verify().await;
}

/// A bug that panics inside one run fails that run (500, said plainly) and
/// nothing else: the server answers the next request and runs the next
/// chain. Release builds used to abort the whole process on it.
#[tokio::test]
async fn a_panicking_run_does_not_stop_the_server() {
    let buggy = "steps:\n  - {name: A, url: https://api.test/panic}\n";
    let fine = "steps:\n  - {name: A, url: https://api.test/ok}\n";
    let setup = Setup::new(vec![served("buggy", buggy), served("fine", fine)]);
    let lines = Arc::clone(&setup.lines);
    serve_while(setup, |base, _| async move {
        let r = client()
            .post(format!("{base}/chains/buggy/run"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 500);
        let body: Value = r.json().await.unwrap();
        let error = body["error"].as_str().unwrap();
        assert!(error.contains("internal error"), "{error}");
        assert!(error.contains("a run hit a bug"), "{error}");
        for _ in 0..2 {
            let r = client()
                .post(format!("{base}/chains/fine/run"))
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), 200);
        }
        let health = client()
            .get(format!("{base}/healthz"))
            .send()
            .await
            .unwrap();
        assert_eq!(health.status(), 200);
    })
    .await;
    let runs = events(&lines, "run");
    assert_eq!(runs[0]["status"], "panicked", "{runs:?}");
    assert_eq!(runs.len(), 3);
}
