//! `pytopus serve`: chains run by webhooks (`hooks.rs`), by an HTTP API
//! (`api.rs`) and by schedules (`schedule.rs`), on one tokio runtime.
//!
//! The engine's runs are not `Send` (observers are plain `&mut`), so they run
//! on a `LocalSet` beside the HTTP server: handlers hand a [`Job`] to the
//! runner and wait for its [`RunOutcome`] ([`Shared::submit`] starts one).
//! The runner runs each through the run session every driver uses
//! ([`crate::session::Session::run_isolated`]): a cookie jar per run, the
//! chain's route as its metrics label, a panicking run failed alone.

pub mod api;
pub mod hooks;
pub mod log;
mod openapi;
pub mod origin;
pub mod schedule;
pub mod signature;
pub mod ui;

use std::collections::{HashMap, VecDeque};
use std::future::Future;
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use indexmap::IndexMap;
use serde_json::{Value, json};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, mpsc, oneshot, watch};

use crate::chain::model::{Overlap, SignatureScheme};
use crate::diagnostic::Diagnostics;
use crate::engine::{self, Cancel, Observers, RunStatus, StepError};
use crate::history;
use crate::plan::ValidChain;
use crate::plan::{TRIGGER_VAR, ValidTrigger};
use crate::report::metrics::Metrics;
use crate::secret::{Redactor, Secret, Secrets};
use crate::session::notify::Notifier;
use crate::session::{Finished, Jar, Report, Run, Session};
use crate::transport::Transport;
pub use log::{Log, LogFormat};
use schedule::{Schedule, SharedClock};

/// How many finished runs `GET /runs/<id>` remembers.
const KEPT_RUNS: usize = 1000;

/// One chain being served.
pub struct ServedChain {
    /// The name in URLs: the file name without its extension.
    pub route: String,
    pub chain: ValidChain,
    /// `trigger.secret`, rendered when the server started.
    pub webhook_secret: Option<Secret>,
}

/// Everything `serve` needs.
pub struct Server {
    pub chains: Vec<ServedChain>,
    /// `Authorization: Bearer` token for the API (and for unsigned webhooks
    /// when `remote`).
    pub token: Option<Secret>,
    /// Listening beyond loopback (`--allow-remote`).
    pub remote: bool,
    pub body_limit: usize,
    /// How long running chains may take to finish after a stop signal.
    pub shutdown_grace: Duration,
    pub log: Log,
    pub transport: Arc<dyn Transport>,
    pub secrets: Secrets,
    pub redactor: Redactor,
    pub clock: SharedClock,
    /// Record each run in the history database (off with `--no-history`
    /// or `PYTOPUS_HISTORY=off`).
    pub history: bool,
    /// Host names a loopback server also answers to (`--allow-host`), beside
    /// its own address and `localhost`.
    pub allowed_hosts: Vec<String>,
    /// Serve the dashboard at `/` (off with `--no-ui`).
    pub ui: bool,
}

/// What the HTTP handlers know of a chain (the `ValidChain` itself stays on
/// the runner's thread).
pub struct ChainInfo {
    pub route: String,
    pub title: String,
    pub description: Option<String>,
    pub file: String,
    pub vars: IndexMap<String, Value>,
    pub signature: Option<SignatureScheme>,
    pub header: Option<String>,
    pub secret: Option<Secret>,
    pub tolerance: Duration,
    pub timeout: Duration,
    pub max_concurrent: usize,
    pub permits: Arc<Semaphore>,
    pub schedule: Option<(Schedule, Overlap)>,
    /// The chain has `trigger:`.
    pub webhook: bool,
    /// Variables a caller may not set: they decide where a request goes and
    /// `trigger.origin_vars` does not open them.
    pub fixed_vars: Vec<String>,
    /// `inputs:`: what a caller's values are checked against.
    pub inputs: Vec<crate::plan::inputs::Input>,
    /// The steps' names, in order (`finally` steps too).
    pub steps: Vec<String>,
    /// The chain file's full path, as the history names it.
    pub path: String,
    /// The steps and what each waits for, as an SVG picture.
    pub graph: String,
}

/// State shared by the handlers.
pub struct Shared {
    pub chains: Vec<ChainInfo>,
    jobs: mpsc::UnboundedSender<Job>,
    runs: Mutex<RunStore>,
    pub metrics: Metrics,
    pub token: Option<Secret>,
    pub remote: bool,
    pub redactor: Redactor,
    pub log: Log,
    pub clock: SharedClock,
    /// The `Host` values a loopback server answers to; `None` when remote
    /// (the token guards it then).
    pub hosts: Option<Vec<String>>,
    /// Set when a stop signal came: new runs are refused.
    stopping: AtomicBool,
    /// Signed requests already received (replay protection).
    seen: Mutex<Seen>,
    /// The dashboard's logins, CSRF key and live runs.
    pub ui: ui::UiState,
    /// Runs are recorded in the history: the dashboard lists them from it.
    pub history: bool,
}

/// At most this many signed requests are remembered; the oldest go first.
const SEEN_KEPT: usize = 50_000;

/// Signed webhook requests already received, each until it expires.
#[derive(Default)]
struct Seen {
    until: HashMap<String, SystemTime>,
    order: VecDeque<(SystemTime, String)>,
}

impl Shared {
    pub fn chain(&self, route: &str) -> Option<(usize, &ChainInfo)> {
        self.chains
            .iter()
            .enumerate()
            .find(|(_, c)| c.route == route)
    }

    /// Whether a signed request (`key`, for chain `route`) is new; it is
    /// then remembered for `keep`.
    pub fn first_sight(&self, route: &str, key: String, now: SystemTime, keep: Duration) -> bool {
        let Ok(mut seen) = self.seen.lock() else {
            return true;
        };
        while let Some((expires, _)) = seen.order.front()
            && (*expires <= now || seen.order.len() >= SEEN_KEPT)
        {
            if let Some((at, key)) = seen.order.pop_front()
                && seen.until.get(&key) == Some(&at)
            {
                seen.until.remove(&key);
            }
        }
        let key = format!("{route} {key}");
        if seen.until.get(&key).is_some_and(|t| *t > now) {
            return false;
        }
        let expires = now.checked_add(keep).unwrap_or(now);
        seen.until.insert(key.clone(), expires);
        seen.order.push_back((expires, key));
        true
    }

    pub fn stopping(&self) -> bool {
        self.stopping.load(Ordering::Relaxed)
    }

    /// Starts a run; the receiver gets its outcome.
    pub fn submit(&self, start: Start) -> (String, oneshot::Receiver<Arc<RunOutcome>>) {
        let id = uuid::Uuid::new_v4().simple().to_string();
        let (tx, rx) = oneshot::channel();
        let chain = &self.chains[start.chain];
        self.ui.live.start(&id);
        if let Ok(mut runs) = self.runs.lock() {
            runs.insert(RunRecord {
                id: id.clone(),
                chain: chain.route.clone(),
                kind: start.kind,
                started_at: SystemTime::now(),
                outcome: None,
            });
        }
        let job = Job {
            id: id.clone(),
            start,
            reply: tx,
        };
        if let Err(mpsc::error::SendError(job)) = self.jobs.send(job) {
            // The runner is gone (shutting down): say so rather than hang.
            let outcome = Arc::new(RunOutcome::refused(&job.id, "the server is shutting down"));
            self.finish(&outcome);
            let _ = job.reply.send(outcome);
        }
        (id, rx)
    }

    fn finish(&self, outcome: &Arc<RunOutcome>) {
        if let Ok(mut runs) = self.runs.lock()
            && let Some(r) = runs.by_id.get_mut(&outcome.id)
        {
            r.outcome = Some(Arc::clone(outcome));
        }
    }

    /// A run's record as JSON, if it is still remembered.
    pub fn run_json(&self, id: &str) -> Option<Value> {
        let runs = self.runs.lock().ok()?;
        runs.by_id.get(id).map(RunRecord::to_json)
    }

    /// The most recent runs, newest first.
    /// How long each step of each finished run took: (run id, step, ms),
    /// for the dashboard's percentiles.
    pub fn step_times(&self) -> Vec<(String, String, u64)> {
        let Ok(runs) = self.runs.lock() else {
            return Vec::new();
        };
        let mut out = Vec::new();
        for r in runs.by_id.values() {
            let Some(o) = &r.outcome else { continue };
            for s in o.report["steps"].as_array().into_iter().flatten() {
                if let (Some(name), Some(ms)) = (s["name"].as_str(), s["elapsed_ms"].as_u64())
                    && s["status"] != "not_run"
                    && s["status"] != "skipped"
                {
                    out.push((r.id.clone(), name.to_string(), ms));
                }
            }
        }
        out
    }

    pub fn recent_runs(&self, limit: usize) -> Vec<Value> {
        let Ok(runs) = self.runs.lock() else {
            return Vec::new();
        };
        runs.order
            .iter()
            .rev()
            .take(limit)
            .filter_map(|id| runs.by_id.get(id))
            .map(|r| {
                let mut v = r.to_json();
                if let Some(o) = v.as_object_mut() {
                    o.remove("report");
                    o.remove("output");
                }
                v
            })
            .collect()
    }
}

/// What started a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Webhook,
    Api,
    Schedule,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Webhook => "webhook",
            Kind::Api => "api",
            Kind::Schedule => "schedule",
        }
    }
}

/// A run to start.
pub struct Start {
    pub chain: usize,
    pub kind: Kind,
    /// Variables over the chain's own (`POST /chains/<name>/run`).
    pub vars: IndexMap<String, Value>,
    /// The `trigger` variable.
    pub trigger: Value,
    /// Held while the run lasts (`max_concurrent`).
    pub permit: Option<OwnedSemaphorePermit>,
}

struct Job {
    id: String,
    start: Start,
    reply: oneshot::Sender<Arc<RunOutcome>>,
}

/// How a run ended, ready to send back (already redacted).
#[derive(Debug)]
pub struct RunOutcome {
    pub id: String,
    pub status: &'static str,
    /// 200 passed; 422 the input did not fit the chain (a template could
    /// not render); 502 a call the chain made failed; 503 interrupted.
    pub http_status: u16,
    pub output: Value,
    /// The failure screen, as `pytopus run` prints it (no colours).
    pub error: Option<String>,
    /// The `--report` JSON of the run.
    pub report: Value,
    pub duration: Duration,
}

impl RunOutcome {
    fn refused(id: &str, why: &str) -> RunOutcome {
        RunOutcome {
            id: id.into(),
            status: "interrupted",
            http_status: 503,
            output: Value::Null,
            error: Some(why.into()),
            report: Value::Null,
            duration: Duration::ZERO,
        }
    }

    /// A run that ended in a panic: a bug in pytopus, not in the chain. The
    /// server goes on; the caller learns that much and no more.
    fn panicked(id: String, why: &str, duration: Duration) -> RunOutcome {
        RunOutcome {
            id,
            status: "failed",
            http_status: 500,
            output: Value::Null,
            error: Some(format!(
                "error: internal error in pytopus (a bug; please report it): {why}"
            )),
            report: Value::Null,
            duration,
        }
    }

    /// A finished run's outcome; `finished.json` is its report (the
    /// session keeps it: [`Report::Keep`]).
    fn new(id: String, chain: &ValidChain, finished: &Finished, redactor: &Redactor) -> RunOutcome {
        let report = &finished.report;
        let http_status = match report.status {
            RunStatus::Passed => 200,
            RunStatus::Interrupted => 503,
            RunStatus::Failed => {
                let render = report.output_error.is_some()
                    || report.steps.iter().any(|s| {
                        s.status == engine::StepStatus::Failed
                            && !s.continued
                            && matches!(s.error, Some(StepError::Render { .. }))
                    });
                if render { 422 } else { 502 }
            }
        };
        let error = crate::report::failure(chain, report, redactor)
            .map(|d| redactor.redact(&Diagnostics::from(d).render(false)));
        RunOutcome {
            id,
            status: report.status.as_str(),
            http_status,
            output: redactor.redact_json(report.output.as_deref().unwrap_or(&Value::Null)),
            error,
            report: finished
                .json
                .as_ref()
                .map_or(Value::Null, |r| redactor.redact_json(r)),
            duration: report.elapsed,
        }
    }

    /// The body of a failed run's response.
    pub fn error_json(&self, chain: &str) -> Value {
        json!({
            "run_id": self.id,
            "chain": chain,
            "status": self.status,
            "error": self.error,
            "report": self.report,
        })
    }
}

struct RunRecord {
    id: String,
    chain: String,
    kind: Kind,
    started_at: SystemTime,
    outcome: Option<Arc<RunOutcome>>,
}

impl RunRecord {
    fn to_json(&self) -> Value {
        let started = humantime::format_rfc3339_millis(self.started_at).to_string();
        match &self.outcome {
            None => json!({
                "id": self.id, "chain": self.chain, "trigger": self.kind.as_str(),
                "status": "running", "started_at": started,
            }),
            Some(o) => json!({
                "id": self.id, "chain": self.chain, "trigger": self.kind.as_str(),
                "status": o.status, "started_at": started,
                "duration_ms": o.duration.as_millis() as u64,
                "output": o.output, "error": o.error, "report": o.report,
            }),
        }
    }
}

/// The runs `GET /runs/<id>` can answer for, oldest dropped first.
#[derive(Default)]
struct RunStore {
    by_id: HashMap<String, RunRecord>,
    order: VecDeque<String>,
}

impl RunStore {
    fn insert(&mut self, r: RunRecord) {
        while self.order.len() >= KEPT_RUNS {
            if let Some(old) = self.order.pop_front() {
                self.by_id.remove(&old);
            }
        }
        self.order.push_back(r.id.clone());
        self.by_id.insert(r.id.clone(), r);
    }
}

/// The `trigger` variable of a run that no request started.
pub fn bare_trigger(kind: Kind, at: SystemTime) -> Value {
    json!({
        "kind": kind.as_str(),
        "body": null,
        "headers": {},
        "query": {},
        "time": humantime::format_rfc3339_seconds(at).to_string(),
    })
}

/// What the runner needs, on its own thread.
struct Runner {
    chains: Vec<ServedChain>,
    shared: Arc<Shared>,
    /// The secrets, the network (a cookie jar per run), the engine, the
    /// report and the history: the command line's run session.
    session: Session,
    /// `notify:`: whether each chain is failing, per chain route.
    notifier: Notifier,
    running: watch::Sender<usize>,
}

impl Runner {
    async fn run(self: Rc<Self>, job: Job) {
        self.running.send_modify(|n| *n += 1);
        let Job { id, start, reply } = job;
        let served = &self.chains[start.chain];
        let chain = &served.chain;
        let mut vars = chain.vars.clone();
        vars.extend(start.vars);
        vars.insert(TRIGGER_VAR.into(), start.trigger);
        let log = self.shared.log.clone();
        let route = served.route.clone();
        let mut run = Run::new(chain);
        run.vars = Some(&vars);
        run.notify = Some(Arc::new(move |message: &str| {
            log.line(
                "notice",
                &[("chain", route.clone().into()), ("message", message.into())],
            )
        }));
        // The same observer as `--metrics`, so `GET /metrics` has the same
        // names and labels: runs, steps, requests, retries, waits, failures.
        run.observers = Observers(vec![
            Box::new(self.shared.metrics.observer_labelled(&served.route)),
            // The dashboard's page of the run, live.
            self.shared
                .ui
                .live
                .observer(&id, self.session.redactor().clone()),
        ]);
        run.report = Report::Keep;
        // Served runs are recorded in the history like `pytopus run`'s.
        if self.session.records_history() {
            run.history = std::fs::canonicalize(&chain.source.name)
                .ok()
                .map(|path| history::Entry::new(path.display().to_string(), &chain.source.text));
        }
        let started = std::time::Instant::now();
        // A panic is a bug in pytopus; it fails this run, never the server.
        let finished = self.session.run_isolated(run).await;
        drop(start.permit);
        let finished = match finished {
            Ok(finished) => finished,
            Err(why) => {
                let outcome = Arc::new(RunOutcome::panicked(id, &why, started.elapsed()));
                self.shared.log.line(
                    "run",
                    &[
                        ("chain", served.route.clone().into()),
                        ("id", outcome.id.clone().into()),
                        ("trigger", start.kind.as_str().into()),
                        ("status", "panicked".into()),
                        ("error", why.into()),
                    ],
                );
                self.shared.finish(&outcome);
                let _ = reply.send(outcome);
                self.running.send_modify(|n| *n -= 1);
                return;
            }
        };
        if let Some(Err(e)) = finished.recorded.as_ref().and_then(|r| r.wait()) {
            self.shared.log.line(
                "warning",
                &[
                    ("chain", served.route.clone().into()),
                    (
                        "message",
                        self.session
                            .redactor()
                            .redact(&format!("not recorded in the history: {e}"))
                            .into(),
                    ),
                ],
            );
        }
        let outcome = Arc::new(RunOutcome::new(
            id,
            chain,
            &finished,
            self.session.redactor(),
        ));
        let first_line = outcome
            .error
            .as_deref()
            .and_then(|e| e.lines().next())
            .map(|l| l.trim_start_matches("error: ").to_string());
        self.shared.log.line(
            "run",
            &[
                ("chain", served.route.clone().into()),
                ("id", outcome.id.clone().into()),
                ("trigger", start.kind.as_str().into()),
                ("status", outcome.status.into()),
                ("ms", (outcome.duration.as_millis() as u64).into()),
                (
                    "error",
                    first_line.map(Value::String).unwrap_or(Value::Null),
                ),
            ],
        );
        self.shared.finish(&outcome);
        let run_id = outcome.id.clone();
        let _ = reply.send(outcome);
        // After the answer: a slow receiver never holds up the caller. The
        // run counts as running until its notification is sent, so a stop
        // lets it finish.
        self.notifier
            .after(
                &self.session,
                &served.route,
                chain,
                &finished.report,
                Some(&run_id),
            )
            .await;
        self.running.send_modify(|n| *n -= 1);
    }
}

/// Serves until `stop` completes, then stops accepting, lets running chains
/// finish for up to `shutdown_grace`, interrupts the rest and returns.
pub async fn serve(
    server: Server,
    listener: tokio::net::TcpListener,
    stop: impl Future<Output = ()>,
) -> std::io::Result<()> {
    serve_with(server, listener, stop, None).await
}

/// More routes served beside the API, behind the same token and `Host`
/// checks (`/mcp`), with the task that answers them: a future run on the
/// server's thread, as the chains' runs are.
pub struct Extra {
    pub routes: axum::Router,
    pub task: std::pin::Pin<Box<dyn Future<Output = ()>>>,
}

/// [`serve`], with `extra` routes.
pub async fn serve_with(
    server: Server,
    listener: tokio::net::TcpListener,
    stop: impl Future<Output = ()>,
    extra: Option<Extra>,
) -> std::io::Result<()> {
    tokio::task::LocalSet::new()
        .run_until(serve_local(server, listener, stop, extra))
        .await
}

async fn serve_local(
    server: Server,
    listener: tokio::net::TcpListener,
    stop: impl Future<Output = ()>,
    extra: Option<Extra>,
) -> std::io::Result<()> {
    let (jobs_tx, mut jobs_rx) = mpsc::unbounded_channel::<Job>();
    let infos = server.chains.iter().map(info).collect();
    let hosts = if server.remote {
        None
    } else {
        let port = listener.local_addr()?.port();
        Some(origin::loopback_hosts(port, &server.allowed_hosts))
    };
    let shared = Arc::new(Shared {
        chains: infos,
        jobs: jobs_tx,
        runs: Mutex::new(RunStore::default()),
        metrics: Metrics::new(),
        token: server.token,
        remote: server.remote,
        redactor: server.redactor.clone(),
        log: server.log.clone(),
        clock: server.clock,
        hosts,
        stopping: AtomicBool::new(false),
        seen: Mutex::new(Seen::default()),
        ui: ui::UiState::new(server.ui),
        history: server.history,
    });
    let (cancel_handle, cancel) = Cancel::new();
    let (running_tx, mut running_rx) = watch::channel(0usize);
    // Each run has a cookie jar of its own.
    let warn_log = server.log.clone();
    let notifier = Notifier::new(
        Arc::clone(&server.transport),
        Arc::new(move |message: &str| warn_log.line("warning", &[("message", message.into())])),
    );
    let session = Session::new(
        server.redactor,
        server.secrets,
        server.transport,
        Jar::PerRun,
        cancel,
    )
    .history(server.history);
    let runner = Rc::new(Runner {
        chains: server.chains,
        shared: Arc::clone(&shared),
        session,
        notifier,
        running: running_tx,
    });
    let runner_task = tokio::task::spawn_local({
        let runner = Rc::clone(&runner);
        async move {
            while let Some(job) = jobs_rx.recv().await {
                tokio::task::spawn_local(Rc::clone(&runner).run(job));
            }
        }
    });

    let (stop_tx, stop_rx) = watch::channel(false);
    let mut schedulers = Vec::new();
    for (i, c) in shared.chains.iter().enumerate() {
        if let Some((sched, overlap)) = &c.schedule {
            schedulers.push(tokio::task::spawn_local(scheduler(
                Arc::clone(&shared),
                i,
                sched.clone(),
                *overlap,
                stop_rx.clone(),
            )));
        }
    }

    let (extra_routes, extra_task) = match extra {
        Some(e) => (Some(e.routes), Some(tokio::task::spawn_local(e.task))),
        None => (None, None),
    };
    let app = api::router(Arc::clone(&shared), server.body_limit, extra_routes);
    let mut http_stop = stop_rx.clone();
    let http = tokio::task::spawn_local(async move {
        axum::serve(listener, app)
            .with_graceful_shutdown(async move {
                let _ = http_stop.wait_for(|s| *s).await;
            })
            .await
    });

    stop.await;
    shared.stopping.store(true, Ordering::Relaxed);
    let _ = stop_tx.send(true);
    let busy = *running_rx.borrow();
    shared.log.line(
        "shutdown",
        &[
            ("running", busy.into()),
            ("grace_s", server.shutdown_grace.as_secs().into()),
        ],
    );
    let drained = tokio::time::timeout(server.shutdown_grace, running_rx.wait_for(|n| *n == 0))
        .await
        .is_ok();
    if !drained {
        cancel_handle.cancel();
        // Interrupted runs end at their next await point; give them a moment.
        let _ =
            tokio::time::timeout(Duration::from_secs(5), running_rx.wait_for(|n| *n == 0)).await;
    }
    for s in schedulers {
        let _ = s.await;
    }
    // Requests still waiting got their answers above; the server now closes.
    let result = match tokio::time::timeout(Duration::from_secs(5), http).await {
        Ok(Ok(r)) => r,
        Ok(Err(_)) | Err(_) => Ok(()),
    };
    runner_task.abort();
    if let Some(t) = extra_task {
        t.abort();
    }
    shared
        .log
        .line("stopped", &[("interrupted_runs", (!drained).into())]);
    result
}

fn info(c: &ServedChain) -> ChainInfo {
    let default = ValidTrigger::default();
    let t = c.chain.trigger.as_ref().unwrap_or(&default);
    ChainInfo {
        route: c.route.clone(),
        title: c.chain.name.clone(),
        description: c.chain.description.clone(),
        file: c.chain.source.name.clone(),
        vars: c.chain.vars.clone(),
        signature: t.signature,
        header: t.header.clone(),
        secret: c.webhook_secret.clone(),
        tolerance: t.tolerance,
        timeout: t.timeout,
        max_concurrent: t.max_concurrent,
        permits: Arc::new(Semaphore::new(t.max_concurrent)),
        schedule: c
            .chain
            .schedule
            .as_ref()
            .map(|s| (s.cron.clone(), s.overlap)),
        webhook: c.chain.trigger.is_some(),
        fixed_vars: c
            .chain
            .origin_vars
            .iter()
            .filter(|v| !t.origin_vars.contains(v))
            .cloned()
            .collect(),
        inputs: c.chain.inputs.clone(),
        steps: c.chain.steps.iter().map(|s| s.name.clone()).collect(),
        path: std::fs::canonicalize(&c.chain.source.name)
            .map(|p| p.display().to_string())
            .unwrap_or_default(),
        graph: ui::graph(&c.chain),
    }
}

/// Starts the chain's scheduled runs until `stop`; `overlap` says what to do
/// when a run is due while the previous scheduled run still runs.
async fn scheduler(
    shared: Arc<Shared>,
    index: usize,
    schedule: Schedule,
    overlap: Overlap,
    mut stop: watch::Receiver<bool>,
) {
    let route = shared.chains[index].route.clone();
    let mut last = shared.clock.now();
    let mut previous: Option<oneshot::Receiver<Arc<RunOutcome>>> = None;
    loop {
        let now = shared.clock.now();
        // Never the same slot twice, even if the sleep ends a hair early.
        let Some(next) = schedule.next_after(now.max(last)) else {
            return;
        };
        tokio::select! {
            _ = tokio::time::sleep(schedule::wait_until(now, next)) => {}
            _ = stop.wait_for(|s| *s) => return,
        }
        last = next;
        let busy = previous
            .as_mut()
            .is_some_and(|rx| matches!(rx.try_recv(), Err(oneshot::error::TryRecvError::Empty)));
        if busy {
            match overlap {
                Overlap::Skip => {
                    shared.log.line(
                        "skipped",
                        &[
                            ("chain", route.clone().into()),
                            (
                                "reason",
                                "the previous scheduled run is still running".into(),
                            ),
                        ],
                    );
                    continue;
                }
                Overlap::Queue => {
                    if let Some(rx) = previous.take() {
                        tokio::select! {
                            _ = rx => {}
                            _ = stop.wait_for(|s| *s) => return,
                        }
                    }
                }
                Overlap::Allow => {}
            }
        }
        let at = shared.clock.now();
        let (_, rx) = shared.submit(Start {
            chain: index,
            kind: Kind::Schedule,
            vars: IndexMap::new(),
            trigger: bare_trigger(Kind::Schedule, at),
            permit: None,
        });
        previous = Some(rx);
    }
}
