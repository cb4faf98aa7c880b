//! What every run of one command shares: the run session
//! ([`crate::session`]: secrets, network, engine, report, history) with the
//! command line's own parts — the network's route (live, recorded or
//! replayed), the files written once at the end, and Ctrl-C.

use std::io::IsTerminal;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use super::args::RunArgs;
use super::fail::Fail;
use super::run::{tracing_wanted, verbosity};
use super::stderr_color;
use crate::engine::{Cancel, Observers};
use crate::report::Verbosity;
use crate::report::curl::CurlLog;
use crate::report::har::Har;
use crate::report::junit::JUnit;
use crate::report::metrics::{self, Metrics};
use crate::report::plain::PlainLog;
use crate::report::progress::Progress;
use crate::report::to_stderr;
use crate::report::trace::TraceLog;
use crate::secret::{Redactor, Secrets};
use crate::session::{Jar, secrets_for_run};
use crate::transport::{Recorder, Replayer, Tape, Transport};

/// The route of this command's requests: live or replayed, maybe
/// recorded (`--record`: then also the recorder, whose tape is saved at
/// the end).
type Route = (Arc<dyn Transport>, Option<Arc<Recorder>>);

fn network(args: &RunArgs, redactor: &Redactor) -> Result<Route, Fail> {
    let base: Box<dyn Transport> = match &args.replay {
        Some(path) => {
            let tape = Tape::load(path).map_err(Fail::usage)?;
            Box::new(Replayer::new(
                tape,
                path.display().to_string(),
                redactor.clone(),
            ))
        }
        None => Box::new(crate::session::live().map_err(Fail::failed)?),
    };
    Ok(match &args.record {
        Some(_) => {
            let recorder = Arc::new(Recorder::new(base, redactor.clone()));
            (Arc::clone(&recorder) as Arc<dyn Transport>, Some(recorder))
        }
        None => (Arc::from(base), None),
    })
}

/// One command's runs (one chain, or each `--data` row): the shared run
/// session ([`crate::session::Session`]) with what only the command line
/// has — the tape, the files written at the end, Ctrl-C — set up once and
/// checked before anything is sent.
pub(super) struct Session {
    /// The secrets, the network, the engine, the report and the history.
    pub(super) runs: crate::session::Session,
    /// `--record`: the route that keeps the exchanges.
    recorder: Option<Arc<Recorder>>,
    pub(super) files: FileOutputs,
    pub(super) verbosity: Verbosity,
    /// Set at the first Ctrl-C or SIGTERM.
    pub(super) stopped: Arc<AtomicBool>,
    _signals: AbortOnDrop,
}

impl Session {
    /// The files the runs will write can be written, every secret they
    /// name is there, the network (live, recorded or a tape) is ready.
    pub(super) fn open(args: &RunArgs, secret_names: &[String]) -> Result<Session, Fail> {
        check_outputs(args)?;
        let redactor = Redactor::default();
        let secrets = secrets_for_run(&redactor);
        check_secrets(args, &secrets, secret_names)?;
        let (route, recorder) = network(args, &redactor)?;
        let files = FileOutputs::new(args, &redactor);
        // Ctrl-C or SIGTERM stops the runs between (or during) requests
        // (a second one stops `finally` steps); the reports and the tape
        // are still written.
        let (handle, cancel) = Cancel::new();
        let stopped = Arc::new(AtomicBool::new(false));
        let signals = AbortOnDrop(tokio::spawn({
            let stopped = Arc::clone(&stopped);
            async move {
                loop {
                    interrupted().await;
                    stopped.store(true, Ordering::Relaxed);
                    handle.cancel();
                }
            }
        }));
        let runs = crate::session::Session::new(redactor, secrets, route, Jar::Shared, cancel)
            .dry_run(args.dry_run)
            .history(!args.no_history && crate::history::enabled_by_env())
            .history_beside_large_results(true)
            .notify(Arc::new(|message: &str| to_stderr(&format!("{message}\n"))));
        Ok(Session {
            runs,
            recorder,
            files,
            verbosity: verbosity(args),
            stopped,
            _signals: signals,
        })
    }

    pub(super) fn redactor(&self) -> &Redactor {
        self.runs.redactor()
    }

    /// The observers every run of the session has: `-v` traces, the live
    /// display or the plain log, and the files written at the end (`row`:
    /// the `--data` row). `live`: whether the live display may be used.
    pub(super) fn observers(&self, args: &RunArgs, row: Option<usize>, live: bool) -> Observers {
        let mut observers = Observers::default();
        if tracing_wanted(args) {
            observers
                .0
                .push(Box::new(TraceLog::new(self.redactor().clone())));
        }
        if args.curl {
            let prefix = row.map(|r| format!("[row {r}] ")).unwrap_or_default();
            observers.0.push(Box::new(CurlLog::new(
                self.redactor().clone(),
                Some(self.runs.secrets().clone()),
                &prefix,
            )));
        }
        // `--curl` prints lines the live display would draw over.
        let live = live
            && std::io::stderr().is_terminal()
            && !args.no_progress
            && !args.curl
            && self.verbosity == Verbosity::Normal;
        if live {
            observers.0.push(Box::new(Progress::new(
                stderr_color(),
                self.redactor().clone(),
            )));
        } else if row.is_none() {
            observers.0.push(Box::new(PlainLog::new(
                std::io::stderr(),
                self.verbosity,
                self.redactor().clone(),
            )));
        }
        self.files.observe(&mut observers, row);
        observers
    }

    /// Writes what is written once all runs are done: the files, the
    /// pushed metrics, the tape. False when one could not be written.
    pub(super) async fn finish(&self, args: &RunArgs) -> bool {
        let mut ok = self.files.finish(args, self.redactor()).await;
        if let (Some(path), Some(rec)) = (&args.record, &self.recorder)
            && let Err(e) = rec.tape().save(path)
        {
            to_stderr(&format!("error: {e}\n"));
            ok = false;
        }
        ok
    }
}

/// `--metrics`, `--pushgateway`, `--junit` and `--har`: observers fed by
/// every run (every `--data` row), written once when all are done.
pub(super) struct FileOutputs {
    metrics: Option<Metrics>,
    junit: Option<JUnit>,
    har: Option<Har>,
}

impl FileOutputs {
    pub(super) fn new(args: &RunArgs, redactor: &Redactor) -> Self {
        FileOutputs {
            metrics: (args.metrics.is_some() || args.pushgateway.is_some()).then(Metrics::new),
            junit: args.junit.is_some().then(JUnit::new),
            har: args.har.is_some().then(|| Har::new(redactor.clone())),
        }
    }

    /// Adds the observers of one run (`row`: its `--data` row).
    pub(super) fn observe(&self, observers: &mut Observers, row: Option<usize>) {
        if let Some(m) = &self.metrics {
            observers.0.push(Box::new(m.observer()));
        }
        if let Some(j) = &self.junit {
            observers.0.push(Box::new(j.observer(row)));
        }
        if let Some(h) = &self.har {
            observers.0.push(Box::new(h.observer(row)));
        }
    }

    /// Writes the files and pushes the metrics. False when a file could not
    /// be written (the run then exits 1, as for `--report`); a failed push
    /// is only a warning: the chain's own work was done.
    pub(super) async fn finish(&self, args: &RunArgs, redactor: &Redactor) -> bool {
        let mut ok = true;
        let mut check = |what: &str, path: &Path, written: std::io::Result<()>| {
            if let Err(e) = written {
                to_stderr(&redactor.redact(&format!(
                    "error: cannot write the {what} to {}: {e}\n",
                    path.display()
                )));
                ok = false;
            }
        };
        if let (Some(m), Some(path)) = (&self.metrics, &args.metrics) {
            check("metrics", path, m.write(path, redactor));
        }
        if let (Some(j), Some(path)) = (&self.junit, &args.junit) {
            check("JUnit report", path, j.write(path, redactor));
        }
        if let (Some(h), Some(path)) = (&self.har, &args.har) {
            check("HAR archive", path, h.write(path));
        }
        // A dry run sends nothing, the push included.
        let mut group: Vec<(&str, String)> = Vec::new();
        if let Some(s) = args.shard {
            group.push(("shard", format!("{}-of-{}", s.index, s.count)));
        }
        if let Some(d) = &args.data {
            group.push(("data", d.display().to_string()));
        }
        if let (Some(m), Some(url), false) = (&self.metrics, &args.pushgateway, args.dry_run)
            && let Err(why) = metrics::push(m, url, &group, redactor).await
        {
            to_stderr(&format!("warning: {why}\n"));
        }
        ok
    }
}

/// Files the run will write are checked before anything is sent: a CI job
/// must not make its requests and then lose the report or the tape.
pub(super) fn check_outputs(args: &RunArgs) -> Result<(), Fail> {
    for (flag, path) in [
        ("--report", &args.report),
        ("--record", &args.record),
        ("--metrics", &args.metrics),
        ("--junit", &args.junit),
        ("--har", &args.har),
    ] {
        if let Some(p) = path
            && let Err(e) = check_writable(p)
        {
            return Err(Fail::usage(format!("{flag} {}: {e}", p.display())));
        }
    }
    Ok(())
}

/// Every secret the chain names is looked up before anything is sent.
pub(super) fn check_secrets(
    args: &RunArgs,
    secrets: &Secrets,
    names: &[String],
) -> Result<(), Fail> {
    if !args.dry_run {
        for name in names {
            secrets.get(name).map_err(|e| Fail::usage(e.to_string()))?;
        }
    }
    Ok(())
}

/// A task that stops when its handle is dropped: the signal listener of a
/// run that `--watch` abandons must not outlive it.
pub(super) struct AbortOnDrop(pub(super) tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Waits for Ctrl-C, or SIGTERM on Unix (what CI runners and `timeout` send).
pub(crate) async fn interrupted() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        if let Ok(mut term) = signal(SignalKind::terminate()) {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
            return;
        }
    }
    if tokio::signal::ctrl_c().await.is_err() {
        std::future::pending::<()>().await;
    }
}

/// Whether `path` can be written, by writing a scratch file beside it.
pub(super) fn check_writable(path: &std::path::Path) -> Result<(), String> {
    if path.as_os_str() == "-" {
        return Err("give a file name; stdout carries only the result".into());
    }
    crate::files::check_writable(path).map_err(|e| match e.kind() {
        std::io::ErrorKind::IsADirectory => "is a directory".to_string(),
        _ => format!("cannot be written ({e})"),
    })
}
