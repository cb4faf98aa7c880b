//! One run session: what every run a driver starts has in common, set up
//! once, and [`Session::run`], the one way a driver runs a chain.
//!
//! The drivers — the command line (`run`, each `--data` row, `--every`,
//! `--watch`) and `serve` (webhooks, schedules, runs started through its
//! API) — hand in what differs between them and nothing else:
//!
//! - the secrets and their redactor ([`secrets_for_run`] builds them);
//! - the route requests take (live, a tape, a recorder, a test double) and
//!   whose cookie jar a run uses ([`Jar`]);
//! - the cancellation signal (the command line's Ctrl-C, `serve`'s stop);
//! - per run, their own observers (the display, files written at the end,
//!   `serve`'s per-route metrics), the way the run tells the person
//!   something, and where its report goes ([`Report`]).
//!
//! The session then, for every run: builds the run's [`Client`] over the
//! shared route, assembles the observers — the driver's, the JSON report,
//! the history — runs the engine with the cancellation signal and hands
//! back what happened ([`Finished`]). [`Session::run_isolated`] also keeps
//! a panicking run (a bug in pytopus) from stopping the driver.

pub mod notify;

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use futures_util::FutureExt as _;
use indexmap::IndexMap;
use serde_json::Value;

use crate::auth::oauth2::Notify;
use crate::engine::{self, Cancel, Observers, RunOptions, RunReport, StepOutcome};
use crate::history::{self, Recorder, Recording};
use crate::plan::ValidChain;
use crate::report::json::{Collect, JsonReport};
use crate::secret::{Redactor, Secrets};
use crate::transport::{Client, LiveOptions, LiveTransport, Transport};

/// Where secrets come from: `PYTOPUS_SECRET_<NAME>`, then the OS keyring
/// (opened only if a secret is not in the environment). `PYTOPUS_KEYRING=off`
/// leaves the keyring alone: secrets then come from the environment only.
/// Every secret read is told to `redactor`.
pub fn secrets_for_run(redactor: &Redactor) -> Secrets {
    if std::env::var("PYTOPUS_KEYRING").is_ok_and(|v| v.eq_ignore_ascii_case("off")) {
        return Secrets::env_only(redactor.clone());
    }
    Secrets::new(crate::secret::open_default, redactor.clone())
}

/// The live network (reqwest, and the plain-HTTP pool below the same
/// [`Client`]), as every driver starts it.
pub fn live() -> Result<LiveTransport, String> {
    LiveTransport::new(&LiveOptions::default())
        .map_err(|e| format!("cannot start the HTTP client: {e}"))
}

/// Whose cookie jar a run uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Jar {
    /// One jar for every run of the session: the command line's runs of
    /// one command (the `--data` rows share what one of them logged in to).
    Shared,
    /// A jar of its own for each run: `serve`, whose runs are started by
    /// callers who must not see each other's cookies.
    PerRun,
}

/// Where a run's JSON report (the `--report` format) goes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Report {
    /// Nowhere.
    #[default]
    None,
    /// Kept in [`Finished::json`] for the driver (a `--data` row's entry,
    /// the `report` of `serve`'s answer).
    Keep,
    /// Written to this file when the run finishes (`--report`).
    File(PathBuf),
}

/// One run of a chain, as a driver asks for it. [`Run::new`] gives the
/// plain run of the chain with its own variables.
pub struct Run<'a> {
    pub chain: &'a ValidChain,
    /// Variables instead of the chain's own (`serve`: the caller's values
    /// and `trigger`).
    pub vars: Option<&'a IndexMap<String, Value>>,
    /// The driver's observers: its display, its files, its metrics. The
    /// session adds the report's and the history's after them.
    pub observers: Observers,
    /// How the run tells the person something (the OAuth2 device-code
    /// prompt), when not the session's way.
    pub notify: Option<Notify>,
    pub report: Report,
    /// Where the history files the run; `None`: it is not recorded.
    pub history: Option<history::Entry>,
    /// `--shard K/N` (see [`RunOptions::shard`]).
    pub shard: Option<(usize, usize)>,
    /// `--resume` (see [`RunOptions::resume`]).
    pub resume: Option<Vec<Option<StepOutcome>>>,
    /// `--from`/`--until`/`--step` (see [`RunOptions::only`]).
    pub only: Option<std::ops::RangeInclusive<usize>>,
    /// This run only renders its requests (an MCP tool's `dry_run`), in a
    /// session whose runs otherwise send them.
    pub dry_run: bool,
    /// Stops this run alone (an MCP call its client cancels), instead of
    /// the session's signal.
    pub cancel: Option<Cancel>,
}

impl<'a> Run<'a> {
    pub fn new(chain: &'a ValidChain) -> Run<'a> {
        Run {
            chain,
            vars: None,
            observers: Observers::default(),
            notify: None,
            report: Report::None,
            history: None,
            shard: None,
            resume: None,
            only: None,
            dry_run: false,
            cancel: None,
        }
    }
}

/// What a run left.
pub struct Finished {
    pub report: RunReport,
    /// [`Report::Keep`]: the JSON report, not redacted yet (the driver
    /// redacts it when it writes it, with every secret known by then).
    pub json: Option<Value>,
    /// [`Report::File`]: false when the file could not be written (said on
    /// stderr; a CI job must not pass without its report).
    pub report_written: bool,
    /// How storing the run in the history goes, when it is to be stored
    /// ([`Recording::wait`]: a large result may still be being stored while
    /// the driver prints it).
    pub recorded: Option<Recording>,
}

/// What every run of one driver shares. See the module's documentation.
pub struct Session {
    redactor: Redactor,
    secrets: Secrets,
    route: Arc<dyn Transport>,
    /// The one client of [`Jar::Shared`]; `None`: a client per run.
    shared: Option<Client>,
    cancel: Cancel,
    dry_run: bool,
    history: bool,
    /// A large result's history record is written while the driver prints it.
    history_beside: bool,
    /// The history database, when not the user's (tests).
    history_db: Option<PathBuf>,
    notify: Option<Notify>,
}

impl Session {
    /// A session whose runs send through `route`, stop when `cancel`
    /// fires, and do not record their history until told to
    /// ([`Session::history`]).
    pub fn new(
        redactor: Redactor,
        secrets: Secrets,
        route: Arc<dyn Transport>,
        jar: Jar,
        cancel: Cancel,
    ) -> Session {
        let shared =
            (jar == Jar::Shared).then(|| Client::new(Arc::clone(&route), redactor.clone()));
        Session {
            redactor,
            secrets,
            route,
            shared,
            cancel,
            dry_run: false,
            history: false,
            history_beside: false,
            history_db: None,
            notify: None,
        }
    }

    /// `--dry-run`: every request rendered, none sent, no OAuth2 token
    /// kept, nothing recorded in the history.
    pub fn dry_run(mut self, dry_run: bool) -> Session {
        self.dry_run = dry_run;
        self
    }

    /// Whether runs given a [`Run::history`] entry are recorded (off with
    /// `--no-history` or `PYTOPUS_HISTORY=off`; the driver decides).
    pub fn history(mut self, on: bool) -> Session {
        self.history = on;
        self
    }

    /// A short run's large result is stored in the history on a thread of
    /// its own, so the driver can print it meanwhile and then wait for
    /// [`Finished::recorded`] (the command line; `serve` prints nothing).
    pub fn history_beside_large_results(mut self, yes: bool) -> Session {
        self.history_beside = yes;
        self
    }

    /// How runs tell the person something, unless a run says otherwise.
    pub fn notify(mut self, notify: Notify) -> Session {
        self.notify = Some(notify);
        self
    }

    /// Learns every secret the runs come across; every output redacts with it.
    pub fn redactor(&self) -> &Redactor {
        &self.redactor
    }

    /// Where `secret("NAME")` comes from for the runs.
    pub fn secrets(&self) -> &Secrets {
        &self.secrets
    }

    /// Whether a run given a history entry is recorded: a driver that
    /// would compute the entry for nothing asks first.
    pub fn records_history(&self) -> bool {
        self.history && !self.dry_run
    }

    /// The engine's options for `run` (its notify, resume and part are
    /// taken from it).
    fn options(&self, run: &mut Run<'_>) -> RunOptions {
        let dry_run = self.dry_run || run.dry_run;
        RunOptions {
            dry_run,
            redactor: self.redactor.clone(),
            secrets: Some(self.secrets.clone()),
            persist_tokens: !dry_run,
            notify: run.notify.take().or_else(|| self.notify.clone()),
            shard: run.shard,
            resume: run.resume.take(),
            only: run.only.take(),
        }
    }

    /// The history's observer for a run filed under `entry`, if the
    /// session records runs.
    fn recorder(&self, entry: Option<history::Entry>) -> Option<Recorder> {
        let entry = entry.filter(|_| self.records_history())?;
        let recorder =
            Recorder::new(entry, self.redactor.clone()).beside_large_results(self.history_beside);
        Some(match &self.history_db {
            Some(db) => recorder.at(db.clone()),
            None => recorder,
        })
    }

    /// The run's observers: the driver's, then the report's and the
    /// history's (which see the run after every other observer did); and
    /// where those two leave what they made.
    fn observers(&self, run: &mut Run<'_>) -> (Observers, Outputs) {
        let mut observers = std::mem::take(&mut run.observers);
        let mut outputs = Outputs::default();
        match std::mem::take(&mut run.report) {
            Report::None => {}
            Report::Keep => {
                let collect = Collect::new();
                outputs.json = Some(collect.handle());
                observers.0.push(Box::new(collect));
            }
            Report::File(path) => {
                let failed = Arc::new(AtomicBool::new(false));
                outputs.report_failed = Some(Arc::clone(&failed));
                observers.0.push(Box::new(JsonReport::new(
                    path,
                    self.redactor.clone(),
                    failed,
                )));
            }
        }
        let entry = run.history.take().filter(|_| !run.dry_run);
        if let Some(recorder) = self.recorder(entry) {
            outputs.recorded = Some(recorder.recording());
            observers.0.push(Box::new(recorder));
        }
        (observers, outputs)
    }

    /// Runs one chain to its end (or to Ctrl-C, or the driver's stop) and
    /// says what it left. The one function a driver calls to run a chain:
    /// the command line's runs and rows, and every run `serve` starts.
    pub async fn run(&self, mut run: Run<'_>) -> Finished {
        let own;
        let client = match &self.shared {
            Some(client) => client,
            None => {
                own = Client::new(Arc::clone(&self.route), self.redactor.clone());
                &own
            }
        };
        let opts = self.options(&mut run);
        let (mut observers, outputs) = self.observers(&mut run);
        let chain = run.chain;
        let vars = run.vars.unwrap_or(&chain.vars);
        let cancel = run.cancel.take().unwrap_or_else(|| self.cancel.clone());
        let report =
            engine::run_with_vars(chain, vars, client, &mut observers, &opts, cancel).await;
        // Observers finish their work when they go (a row's last log line).
        drop(observers);
        outputs.finished(report)
    }

    /// [`Session::run`], with a panic (a bug in pytopus) caught: it fails
    /// this run and never the driver — `serve` goes on answering. The
    /// error is the panic's message, redacted.
    pub async fn run_isolated(&self, run: Run<'_>) -> Result<Finished, String> {
        std::panic::AssertUnwindSafe(self.run(run))
            .catch_unwind()
            .await
            .map_err(|panic| {
                let why = panic
                    .downcast_ref::<&str>()
                    .map(|s| s.to_string())
                    .or_else(|| panic.downcast_ref::<String>().cloned())
                    .unwrap_or_else(|| "a panic".into());
                self.redactor.redact(&why)
            })
    }
}

/// Where the session's own observers leave what they made.
#[derive(Default)]
struct Outputs {
    json: Option<Collect>,
    report_failed: Option<Arc<AtomicBool>>,
    recorded: Option<Recording>,
}

impl Outputs {
    fn finished(self, report: RunReport) -> Finished {
        Finished {
            report,
            json: self.json.and_then(|c| c.take()),
            report_written: !self
                .report_failed
                .is_some_and(|f| f.load(Ordering::Relaxed)),
            recorded: self.recorded,
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;
    use std::time::Duration;

    use super::*;
    use crate::diagnostic::Source;
    use crate::engine::RunStatus;
    use crate::transport::{HttpRequest, Reply, SendFuture};

    /// Answers every request 200 with `{"ok": true}` and a cookie, and
    /// keeps the requests; a URL with `/panic` in it panics, as a bug would;
    /// one with `/hang` is never answered.
    #[derive(Default)]
    struct Fake {
        sent: Mutex<Vec<HttpRequest>>,
    }

    impl Transport for Fake {
        fn send<'a>(&'a self, req: &'a HttpRequest, _left: Duration) -> SendFuture<'a> {
            self.sent.lock().unwrap().push(req.clone());
            Box::pin(async move {
                assert!(!req.url.contains("/panic"), "a bug near {}", req.url);
                if req.url.contains("/hang") {
                    std::future::pending::<()>().await;
                }
                Ok(Reply::full(
                    200,
                    vec![
                        ("content-type".into(), "application/json".into()),
                        ("set-cookie".into(), "session=abc; Path=/".into()),
                    ]
                    .into(),
                    br#"{"ok": true}"#.to_vec(),
                    req.url.clone(),
                ))
            })
        }
    }

    fn chain(yaml: &str) -> ValidChain {
        let parsed = crate::chain::parse(Arc::new(Source {
            name: "c.yaml".into(),
            text: yaml.into(),
        }))
        .unwrap();
        let vars = parsed.chain.vars.clone();
        crate::compile::validate(parsed, vars).unwrap()
    }

    const ONE: &str = "steps:\n  - {name: A, url: 'http://api.test/a'}\n";

    fn session(fake: &Arc<Fake>, jar: Jar) -> Session {
        let redactor = Redactor::default();
        let secrets = Secrets::env_only(redactor.clone());
        Session::new(
            redactor,
            secrets,
            Arc::clone(fake) as Arc<dyn Transport>,
            jar,
            Cancel::never(),
        )
    }

    fn cookies(fake: &Fake) -> Vec<Option<String>> {
        let sent = fake.sent.lock().unwrap();
        sent.iter()
            .map(|r| {
                r.headers
                    .iter()
                    .find(|(n, _)| n.eq_ignore_ascii_case("cookie"))
                    .map(|(_, v)| v.clone())
            })
            .collect()
    }

    /// The command line's runs share one jar; each of `serve`'s has its own.
    #[tokio::test]
    async fn a_shared_jar_carries_cookies_to_the_next_run_a_per_run_jar_does_not() {
        let chain = chain(ONE);
        for (jar, second) in [(Jar::Shared, Some("session=abc")), (Jar::PerRun, None)] {
            let fake = Arc::new(Fake::default());
            let session = session(&fake, jar);
            for _ in 0..2 {
                let done = session.run(Run::new(&chain)).await;
                assert_eq!(done.report.status, RunStatus::Passed);
            }
            assert_eq!(cookies(&fake), [None, second.map(String::from)], "{jar:?}");
        }
    }

    /// The report a driver keeps is the `--report` JSON of the run; the
    /// file is that JSON, redacted; a file that cannot be written is said.
    #[tokio::test]
    async fn the_report_is_kept_or_written_as_the_run_made_it() {
        let chain = chain(ONE);
        let fake = Arc::new(Fake::default());
        let session = session(&fake, Jar::Shared);
        let mut run = Run::new(&chain);
        run.report = Report::Keep;
        let done = session.run(run).await;
        assert_eq!(
            done.json.as_ref(),
            Some(&crate::report::json::to_json(&done.report))
        );
        assert!(done.report_written && done.recorded.is_none());

        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("report.json");
        let mut run = Run::new(&chain);
        run.report = Report::File(path.clone());
        let done = session.run(run).await;
        assert!(done.report_written && done.json.is_none());
        let written: Value =
            serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        assert_eq!(written, crate::report::json::to_json(&done.report));

        let mut run = Run::new(&chain);
        run.report = Report::File(dir.path().to_path_buf());
        assert!(!session.run(run).await.report_written);
    }

    /// A run given a history entry is stored when the session records
    /// history, and not on a dry run or with the history off.
    #[tokio::test]
    async fn the_history_records_runs_only_when_the_session_does() {
        let chain = chain(ONE);
        let fake = Arc::new(Fake::default());
        let dir = tempfile::tempdir().unwrap();
        let entry = history::Entry::new("/chains/c.yaml", ONE);
        for (history, dry_run, stored) in [
            (true, false, true),
            (false, false, false),
            (true, true, false),
        ] {
            let mut session = session(&fake, Jar::Shared)
                .history(history)
                .dry_run(dry_run);
            session.history_db = Some(dir.path().join("history.sqlite"));
            assert_eq!(session.records_history(), stored);
            let mut run = Run::new(&chain);
            run.history = Some(entry.clone());
            let done = session.run(run).await;
            match done.recorded.and_then(|r| r.wait()) {
                Some(Ok(id)) => assert!(stored && id > 0),
                other => assert!(!stored && other.is_none(), "{other:?}"),
            }
        }
        // Without an entry nothing is stored, whatever the session says.
        let mut session = session(&fake, Jar::Shared).history(true);
        session.history_db = Some(dir.path().join("history.sqlite"));
        assert!(session.run(Run::new(&chain)).await.recorded.is_none());
    }

    /// A panic inside a run is an error of that run, its message redacted;
    /// the session runs the next chain.
    #[tokio::test]
    async fn a_panicking_run_fails_alone_and_its_message_is_redacted() {
        let fake = Arc::new(Fake::default());
        let session = session(&fake, Jar::PerRun);
        session.redactor().add("topsecret-42");
        let buggy = chain("steps:\n  - {name: A, url: 'http://api.test/panic/topsecret-42'}\n");
        let why = match session.run_isolated(Run::new(&buggy)).await {
            Err(why) => why,
            Ok(_) => panic!("the run did not panic"),
        };
        assert!(why.contains("a bug near"), "{why}");
        assert!(!why.contains("topsecret-42"), "{why}");
        let fine = chain(ONE);
        let done = session.run_isolated(Run::new(&fine)).await.unwrap();
        assert_eq!(done.report.status, RunStatus::Passed);
    }

    /// The session's signal stops a run waiting for its answer, and the
    /// steps after it are not sent.
    #[tokio::test]
    async fn a_cancelled_session_interrupts_its_runs() {
        let fake = Arc::new(Fake::default());
        let (handle, cancel) = Cancel::new();
        let redactor = Redactor::default();
        let session = Session::new(
            redactor.clone(),
            Secrets::env_only(redactor),
            Arc::clone(&fake) as Arc<dyn Transport>,
            Jar::Shared,
            cancel,
        );
        let chain = chain(
            "steps:\n  - {name: A, url: 'http://api.test/hang'}\n  - {name: B, url: 'http://api.test/b'}\n",
        );
        let run = async {
            let stopped =
                tokio::time::timeout(Duration::from_secs(10), session.run(Run::new(&chain)));
            stopped.await.expect("the run did not stop")
        };
        let (done, ()) = tokio::join!(run, async {
            tokio::time::sleep(Duration::from_millis(20)).await;
            handle.cancel();
        });
        assert_eq!(done.report.status, RunStatus::Interrupted);
        assert_eq!(fake.sent.lock().unwrap().len(), 1);
    }

    /// The engine's options: the session's secrets and redactor, the
    /// driver's part of the run, and a run's own way of telling the person
    /// over the session's.
    #[test]
    fn the_options_join_the_session_and_the_run() {
        let fake = Arc::new(Fake::default());
        let said = Arc::new(Mutex::new(Vec::<String>::new()));
        let to = |who: &'static str| -> Notify {
            let said = Arc::clone(&said);
            Arc::new(move |m: &str| said.lock().unwrap().push(format!("{who}: {m}")))
        };
        let session = session(&fake, Jar::Shared)
            .dry_run(true)
            .notify(to("session"));
        let chain = chain(ONE);
        let mut run = Run::new(&chain);
        run.shard = Some((1, 3));
        run.only = Some(0..=0);
        let opts = session.options(&mut run);
        assert!(opts.dry_run && !opts.persist_tokens && opts.secrets.is_some());
        assert_eq!((opts.shard, opts.only), (Some((1, 3)), Some(0..=0)));
        (opts.notify.unwrap())("a");
        let mut run = Run::new(&chain);
        run.notify = Some(to("run"));
        let opts = session.dry_run(false).options(&mut run);
        assert!(!opts.dry_run && opts.persist_tokens);
        (opts.notify.unwrap())("b");
        assert_eq!(*said.lock().unwrap(), ["session: a", "run: b"]);
    }
}
