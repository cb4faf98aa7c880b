//! `pytopus run` (once, or once per `--data` row) and `pytopus validate`.

use std::io::IsTerminal;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use futures_util::stream::{self, StreamExt};
use serde_json::Value;

use super::args::{GraphFormat, OutputFormat, RunArgs, ValidateArgs};
use super::fail::{Fail, Outcome};
use super::inputs::{VarOverrides, load_chain, read_source};
use super::{Exit, print_diagnostics, print_stdout, stderr_color};
use crate::chain::{self, ParsedChain};
use crate::diagnostic::{Diagnostic, Diagnostics};
use crate::engine::{self, Cancel, Observers, RunOptions, RunReport, RunStatus, StepStatus};
use crate::report::curl::CurlLog;
use crate::report::har::Har;
use crate::report::json::JsonReport;
use crate::report::junit::JUnit;
use crate::report::metrics::{self, Metrics};
use crate::report::plain::PlainLog;
use crate::report::progress::Progress;
use crate::report::trace::TraceLog;
use crate::report::{self, Verbosity, to_stderr};
use crate::secret::{Redactor, Secrets};
use crate::transport::{Client, LiveOptions, LiveTransport, Recorder, Replayer, Tape, Transport};

// The reading of `--data` files; declared here so the command line's module
// list stays as it is.
use super::data::{self, Row};

pub fn validate(args: ValidateArgs) -> Exit {
    let mut exit = Exit::Success;
    for (i, chain) in args.chains.iter().enumerate() {
        match load_chain(chain, &args.vars) {
            Ok(c) => {
                // The process ends after the last chain: freeing it node by
                // node would only cost time (5% of validating 50 steps).
                let c = std::mem::ManuallyDrop::new(c);
                let name = if chain == "-" {
                    "<stdin>"
                } else {
                    chain.as_str()
                };
                let n = c.steps.len();
                let steps = if n == 1 { "step" } else { "steps" };
                to_stderr(&format!("{name}: ok ({n} {steps})\n"));
                if args.graph {
                    let graph = match args.format {
                        GraphFormat::Text => crate::plan::graph::text(&c),
                        GraphFormat::Dot => crate::plan::graph::dot(&c),
                    };
                    if let Err(e) =
                        std::io::Write::write_all(&mut std::io::stdout(), graph.as_bytes())
                        && e.kind() != std::io::ErrorKind::BrokenPipe
                    {
                        to_stderr(&format!("error: cannot write the graph: {e}\n"));
                        exit = Exit::StepFailed;
                    }
                }
                if i + 1 < args.chains.len() {
                    drop(std::mem::ManuallyDrop::into_inner(c));
                }
            }
            Err(d) => {
                print_diagnostics(&d);
                exit = Exit::Usage;
            }
        }
    }
    exit
}

/// The network for this run: live or replayed, maybe recorded, always
/// through one [`Client`].
struct Network {
    client: Client,
    /// `--record`: the route that keeps the exchanges.
    recorder: Option<Arc<Recorder>>,
}

fn network(args: &RunArgs, redactor: &Redactor) -> Result<Network, Fail> {
    let base: Box<dyn Transport> = match &args.replay {
        Some(path) => {
            let tape = Tape::load(path).map_err(Fail::usage)?;
            Box::new(Replayer::new(
                tape,
                path.display().to_string(),
                redactor.clone(),
            ))
        }
        None => Box::new(
            LiveTransport::new(&LiveOptions::default())
                .map_err(|e| Fail::failed(format!("cannot start the HTTP client: {e}")))?,
        ),
    };
    let (route, recorder): (Arc<dyn Transport>, _) = match &args.record {
        Some(_) => {
            let recorder = Arc::new(Recorder::new(base, redactor.clone()));
            (Arc::clone(&recorder) as Arc<dyn Transport>, Some(recorder))
        }
        None => (Arc::from(base), None),
    };
    Ok(Network {
        client: Client::new(route, redactor.clone()),
        recorder,
    })
}

pub async fn run(args: RunArgs) -> Outcome {
    match args.every {
        Some(every) => run_every(&args, every).await,
        None => run_once(&args).await,
    }
}

/// `--every`: the chain again and again, each run starting `every` after the
/// one before started, until Ctrl-C or SIGTERM (exit 130). A failed run is
/// reported like any run and does not stop the next one.
async fn run_every(args: &RunArgs, every: std::time::Duration) -> Outcome {
    // A chain that cannot load will not load on the next round either.
    load_chain(&args.chain, &args.vars)?;
    let mut round: u64 = 0;
    loop {
        round += 1;
        let started = tokio::time::Instant::now();
        if verbosity(args) > Verbosity::Quiet {
            let now = humantime::format_rfc3339_seconds(std::time::SystemTime::now());
            to_stderr(&format!("run {round} at {now}\n"));
        }
        match run_once(args).await {
            // A failed run is reported and the next one still starts.
            Ok(_) | Err(Fail::Failed(_)) => {}
            // The file changed into something invalid: stop, it will not
            // heal. Interrupted: stop.
            Err(stop @ (Fail::Usage(_) | Fail::Interrupted)) => return Err(stop),
        }
        tokio::select! {
            _ = tokio::time::sleep_until(started + every) => {}
            _ = interrupted() => return Err(Fail::Interrupted),
        }
    }
}

async fn run_once(args: &RunArgs) -> Outcome {
    if let Some(path) = &args.data {
        return run_rows(args, path).await;
    }
    let mut chain = load_chain(&args.chain, &args.vars)?;
    from_command_line(&mut chain, args);
    check_outputs(args)?;
    let redactor = Redactor::default();
    let secrets = secrets_for_run(&redactor);
    check_secrets(args, &secrets, &chain.secret_names)?;
    // History: the chain by its full path and the hash of its text.
    let chain_path = if args.chain == "-" {
        None
    } else {
        std::fs::canonicalize(&args.chain)
            .ok()
            .map(|p| p.display().to_string())
    };
    let content_hash = crate::history::content_hash(&chain.source.text);
    let (resume, only) = if args.resume {
        (
            Some(resume_from(args, chain_path.as_deref(), &content_hash)?),
            None,
        )
    } else {
        match part_of_chain(args, &chain, chain_path.as_deref())? {
            Some((reuse, range)) => (reuse, Some(range)),
            None => (None, None),
        }
    };
    let net = network(args, &redactor)?;

    let verbosity = verbosity(args);
    let mut observers = Observers::default();
    if tracing_wanted(args) {
        observers.0.push(Box::new(TraceLog::new(redactor.clone())));
    }
    if args.curl {
        observers.0.push(Box::new(CurlLog::new(
            redactor.clone(),
            Some(secrets.clone()),
            "",
        )));
    }
    let live = std::io::stderr().is_terminal()
        && !args.no_progress
        && !args.curl
        && verbosity == Verbosity::Normal;
    if live {
        observers
            .0
            .push(Box::new(Progress::new(stderr_color(), redactor.clone())));
    } else {
        observers.0.push(Box::new(PlainLog::new(
            std::io::stderr(),
            verbosity,
            redactor.clone(),
        )));
    }
    let files = FileOutputs::new(args, &redactor);
    files.observe(&mut observers, None);
    let report_failed = Arc::new(AtomicBool::new(false));
    if let Some(path) = &args.report {
        observers.0.push(Box::new(JsonReport::new(
            path.clone(),
            redactor.clone(),
            Arc::clone(&report_failed),
        )));
    }

    // Ctrl-C or SIGTERM stops the run between (or during) requests; the
    // report and the tape are still written.
    let (handle, cancel) = Cancel::new();
    // A second one stops the `finally` steps the first let run.
    let signals = tokio::spawn(async move {
        loop {
            interrupted().await;
            handle.cancel();
        }
    });
    let opts = RunOptions {
        dry_run: args.dry_run,
        redactor: redactor.clone(),
        secrets: Some(secrets),
        persist_tokens: !args.dry_run,
        notify: Some(Arc::new(|message: &str| to_stderr(&format!("{message}\n")))),
        shard: args.shard.map(|s| (s.index, s.count)),
        resume,
        only,
    };
    let report = engine::run(&chain, &net.client, &mut observers, &opts, cancel).await;
    signals.abort();
    drop(observers);
    let mut outputs_ok = !report_failed.load(Ordering::Relaxed);
    outputs_ok &= files.finish(args, &redactor).await;
    let history_path = chain_path
        .as_deref()
        .filter(|_| !args.no_history && !args.dry_run && crate::history::enabled_by_env());
    let exit = std::thread::scope(|scope| {
        let record = |path: &str| {
            crate::history::History::open()
                .and_then(|h| h.record(&report, path, &content_hash, &redactor))
        };
        // A large result takes as long to print as the history takes to
        // store (a 10,000-item one, say): the history is then written on a
        // second thread while the result prints. A small result prints at
        // once, and the thread would only add its start and a heap of its
        // own (a millisecond of a one-request run): it is written after.
        let large = report
            .output
            .as_deref()
            .is_some_and(|o| !crate::history::fits(o, 64 << 10));
        let recording = history_path
            .filter(|_| large)
            .map(|path| scope.spawn(move || record(path)));
        if let (Some(path), Some(rec)) = (&args.record, &net.recorder)
            && let Err(e) = rec.tape().save(path)
        {
            to_stderr(&format!("error: {e}\n"));
            outputs_ok = false;
        }
        if let Some(d) = report::failure(&chain, &report, &redactor) {
            print_diagnostics(&d.into());
        }
        if verbosity != Verbosity::Quiet {
            report::print_summary(&report, &redactor, stderr_color());
        }
        let exit = match report.status {
            RunStatus::Interrupted => Exit::Interrupted,
            RunStatus::Failed => Exit::StepFailed,
            RunStatus::Passed if !outputs_ok => Exit::StepFailed,
            RunStatus::Passed if report.dry_run => {
                print_stdout(&redactor.redact(&dry_run_text(&report, "")))
            }
            RunStatus::Passed => {
                let value =
                    redactor.redact_json_cow(report.output.as_deref().unwrap_or(&Value::Null));
                print_output(&value, args.output)
            }
        };
        // Best effort: the run's result never depends on its history.
        let recorded = match recording {
            Some(r) => Some(
                r.join()
                    .unwrap_or_else(|_| Err("the history writer stopped unexpectedly".into())),
            ),
            None => history_path.map(record),
        };
        if let Some(Err(e)) = recorded {
            to_stderr(&redactor.redact(&format!(
                "warning: this run was not recorded in the history: {e}\n"
            )));
        }
        report::warn_short_secrets(&redactor);
        exit
    });
    if args.every.is_none() {
        // The process ends next: freeing every step's result, one by one,
        // only costs time (6–8% of a 1000-step run). Not under --every,
        // which runs again.
        std::mem::forget(report);
        std::mem::forget(chain);
    }
    Ok(exit)
}

/// `--step`/`--from`/`--until`: the range of steps to run and, when they
/// read steps before it, those steps' results from the last recorded run
/// of this chain. `None` without those flags.
#[allow(clippy::type_complexity)]
fn part_of_chain(
    args: &RunArgs,
    chain: &crate::plan::ValidChain,
    path: Option<&str>,
) -> Result<
    Option<(
        Option<Vec<Option<crate::engine::StepOutcome>>>,
        std::ops::RangeInclusive<usize>,
    )>,
    Fail,
> {
    let from = args.step.as_deref().or(args.from.as_deref());
    let until = args.step.as_deref().or(args.until.as_deref());
    if from.is_none() && until.is_none() {
        return Ok(None);
    }
    let main = &chain.steps[..chain.teardown_from];
    let find = |flag: &str, name: &str| -> Result<usize, Fail> {
        if let Some(i) = main.iter().position(|s| s.name == name) {
            return Ok(i);
        }
        let mut d = Diagnostic::new(if chain.steps.iter().any(|s| s.name == name) {
            format!("{flag} {name}: `{name}` is a `finally` step; name one of `steps`")
        } else {
            format!("{flag} {name}: the chain has no step `{name}`")
        });
        if let Some(best) = crate::diagnostic::suggest(name, main.iter().map(|s| s.name.as_str())) {
            d = d.note(format!("help: did you mean `{best}`?"));
        }
        Err(d.into())
    };
    let flag = |long: &str| if args.step.is_some() { "--step" } else { long }.to_string();
    let start = from
        .map(|n| find(&flag("--from"), n))
        .transpose()?
        .unwrap_or(0);
    let end = until
        .map(|n| find(&flag("--until"), n))
        .transpose()?
        .unwrap_or(main.len().saturating_sub(1));
    if start > end {
        return Err(Fail::usage(format!(
            "--from {} comes after --until {}: nothing to run",
            main[start].name, main[end].name
        )));
    }
    // The earlier steps the part reads (and `output`, printed after it).
    let mut needed: Vec<usize> = (start..=end)
        .flat_map(|i| chain.reads[i].iter().copied())
        .chain(if end + 1 == main.len() {
            chain.output_deps.clone()
        } else {
            Vec::new()
        })
        .filter(|&j| j < start)
        .collect();
    needed.sort_unstable();
    needed.dedup();
    if needed.is_empty() {
        return Ok(Some((None, start..=end)));
    }
    let names = |list: &[usize]| {
        list.iter()
            .map(|&j| format!("`{}`", main[j].name))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let first_run = format!(
        "help: run the chain up to there first: `pytopus run {} --until {}`",
        args.chain,
        main[start - 1].name
    );
    let Some(path) = path.filter(|_| !args.no_history && crate::history::enabled_by_env()) else {
        return Err(Diagnostic::new(format!(
            "{} before {} need{} results from the history, which is off (or the chain is read from stdin)",
            names(&needed),
            main[start].name,
            if needed.len() == 1 { "s" } else { "" }
        ))
        .into());
    };
    let stored = crate::history::History::open()
        .and_then(|h| h.last_run(path))
        .map_err(|e| Fail::usage(format!("cannot read the history: {e}")))?;
    let Some(stored) = stored else {
        return Err(Diagnostic::new(format!(
            "`{}` reads {}, and the history has no run of {} to take their results from",
            main[start].name,
            names(&needed),
            args.chain
        ))
        .note(first_run)
        .into());
    };
    let recorded = crate::history::reusable(&stored);
    let mut reuse: Vec<Option<crate::engine::StepOutcome>> = vec![None; main.len()];
    for o in recorded.into_iter().flatten() {
        if let Some(j) = main[..start].iter().position(|s| s.name == o.name) {
            reuse[j] = Some(o);
        }
    }
    let missing: Vec<usize> = needed
        .iter()
        .copied()
        .filter(|&j| reuse[j].is_none())
        .collect();
    if !missing.is_empty() {
        return Err(Diagnostic::new(format!(
            "run {} of {} in the history has no result for {}, which `{}` reads",
            stored.summary.id,
            args.chain,
            names(&missing),
            main[start].name
        ))
        .note(first_run)
        .into());
    }
    to_stderr(&format!(
        "running {}{}; the results of {} are taken from run {} ({})\n",
        main[start].name,
        if end > start {
            format!(" to {}", main[end].name)
        } else {
            String::new()
        },
        names(&needed),
        stored.summary.id,
        stored.summary.started
    ));
    Ok(Some((Some(reuse), start..=end)))
}

/// `--resume`: the outcomes of the last failed run of this chain to reuse.
fn resume_from(
    args: &RunArgs,
    path: Option<&str>,
    content_hash: &str,
) -> Result<Vec<Option<crate::engine::StepOutcome>>, Fail> {
    let Some(path) = path else {
        return Err(Fail::usage(
            "--resume needs a chain file (the history knows chains by their path)",
        ));
    };
    if args.no_history || !crate::history::enabled_by_env() {
        return Err(Fail::usage(
            "--resume needs the history, which --no-history or PYTOPUS_HISTORY=off turns off",
        ));
    }
    let stored = crate::history::History::open()
        .and_then(|h| h.last_failed(path))
        .map_err(|e| Fail::usage(format!("cannot read the history: {e}")))?;
    let Some(stored) = stored else {
        return Err(Diagnostic::new(format!(
            "the last run of {} in the history did not fail (or there is none): nothing to resume",
            args.chain
        ))
        .note("help: `pytopus history` lists the runs")
        .into());
    };
    if stored.content_hash != content_hash && !args.force {
        return Err(Diagnostic::new(format!(
            "{} changed since run {} failed, so its recorded results may not fit it any more",
            args.chain, stored.summary.id
        ))
        .note("help: run it from the start, or pass --resume --force to reuse them anyway")
        .into());
    }
    let reuse = crate::history::reusable(&stored);
    let n = reuse.iter().filter(|o| o.is_some()).count();
    to_stderr(&format!(
        "resuming run {} ({}): {n} step{} reused, the rest run again; secrets are looked up again\n",
        stored.summary.id,
        stored.summary.started,
        if n == 1 { "" } else { "s" }
    ));
    Ok(reuse)
}

/// `--metrics`, `--pushgateway`, `--junit` and `--har`: observers fed by
/// every run (every `--data` row), written once when all are done.
struct FileOutputs {
    metrics: Option<Metrics>,
    junit: Option<JUnit>,
    har: Option<Har>,
}

impl FileOutputs {
    fn new(args: &RunArgs, redactor: &Redactor) -> Self {
        FileOutputs {
            metrics: (args.metrics.is_some() || args.pushgateway.is_some()).then(Metrics::new),
            junit: args.junit.is_some().then(JUnit::new),
            har: args.har.is_some().then(|| Har::new(redactor.clone())),
        }
    }

    /// Adds the observers of one run (`row`: its `--data` row).
    fn observe(&self, observers: &mut Observers, row: Option<usize>) {
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
    async fn finish(&self, args: &RunArgs, redactor: &Redactor) -> bool {
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
fn check_outputs(args: &RunArgs) -> Result<(), Fail> {
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
fn check_secrets(args: &RunArgs, secrets: &Secrets, names: &[String]) -> Result<(), Fail> {
    if !args.dry_run {
        for name in names {
            secrets.get(name).map_err(|e| Fail::usage(e.to_string()))?;
        }
    }
    Ok(())
}

/// Whether requests are traced: `-v` or `PYTOPUS_LOG` (which also sets up
/// the subscriber, once per process).
fn tracing_wanted(args: &RunArgs) -> bool {
    static INIT: std::sync::Once = std::sync::Once::new();
    let wanted = args.verbose > 0 || std::env::var_os("PYTOPUS_LOG").is_some_and(|v| !v.is_empty());
    if wanted {
        INIT.call_once(|| crate::report::trace::init(args.verbose));
    }
    wanted
}

fn verbosity(args: &RunArgs) -> Verbosity {
    if args.quiet {
        Verbosity::Quiet
    } else if args.verbose > 0 {
        Verbosity::Verbose
    } else {
        Verbosity::Normal
    }
}

/// `--data`: the chain once per row (of this `--shard`), at most `--parallel`
/// rows at once. Every row is validated before anything is sent; stdout is
/// the list of the rows' results in row order, `null` for a row that failed.
async fn run_rows(args: &RunArgs, data_path: &Path) -> Outcome {
    tracing_wanted(args);
    if data_path.as_os_str() == "-" && args.chain == "-" {
        return Err(
            Diagnostic::new("--data - and the chain `-` cannot both read standard input")
                .note("help: give the chain or the data as a file")
                .into(),
        );
    }
    let data = data::read(data_path)?;
    let parsed = read_source(&args.chain).and_then(chain::parse)?;
    let overrides = VarOverrides::read(&args.vars)?;
    let total = data.rows.len();
    let rows: Vec<Row> = data
        .rows
        .into_iter()
        .filter(|r| args.shard.is_none_or(|s| s.keeps(r.number - 1)))
        .collect();
    let data_name = data.name;

    // Every row is checked first: a bad row 900 must not stop the run after
    // 899 rows were sent.
    let mut secret_names: Vec<String> = Vec::new();
    let mut invalid: Vec<usize> = Vec::new();
    for row in &rows {
        match validate_row(&parsed, &overrides, row, args) {
            Ok(chain) => {
                for name in chain.secret_names {
                    if !secret_names.contains(&name) {
                        secret_names.push(name);
                    }
                }
            }
            Err(d) => {
                if invalid.is_empty() {
                    print_diagnostics(&for_row(d, row, &data_name));
                }
                invalid.push(row.number);
            }
        }
    }
    if invalid.len() > 1 {
        let more = &invalid[1..];
        let verb = if more.len() == 1 { "is" } else { "are" };
        to_stderr(&format!("error: {} {verb} invalid too\n", row_list(more)));
    }
    if !invalid.is_empty() {
        // Said above as the rows were checked: the first in full, the
        // others by number.
        return Ok(Exit::Usage);
    }
    check_outputs(args)?;
    let redactor = Redactor::default();
    let secrets = secrets_for_run(&redactor);
    check_secrets(args, &secrets, &secret_names)?;
    let net = network(args, &redactor)?;
    let verbosity = verbosity(args);
    if rows.is_empty() && verbosity > Verbosity::Quiet {
        let why = match args.shard {
            Some(s) => format!("shard {s} of the {total} rows of {data_name} is empty"),
            None => format!("{data_name} has no rows"),
        };
        to_stderr(&format!("no rows to run: {why}\n"));
    }

    // Ctrl-C or SIGTERM interrupts the rows that are running and starts no
    // more; the report and the tape are still written.
    let (handle, cancel) = Cancel::new();
    let stop = Arc::new(AtomicBool::new(false));
    let signals = tokio::spawn({
        let stop = Arc::clone(&stop);
        async move {
            loop {
                interrupted().await;
                stop.store(true, Ordering::Relaxed);
                handle.cancel();
            }
        }
    });
    let opts = RunOptions {
        dry_run: args.dry_run,
        redactor: redactor.clone(),
        secrets: Some(secrets),
        persist_tokens: !args.dry_run,
        notify: Some(Arc::new(|message: &str| to_stderr(&format!("{message}\n")))),
        // The rows are sharded already; their `for_each` items are not.
        shard: None,
        resume: None,
        only: None,
    };
    let files = FileOutputs::new(args, &redactor);
    let runner = RowRunner {
        parsed: &parsed,
        files: &files,
        overrides: &overrides,
        client: &net.client,
        opts: &opts,
        cancel: &cancel,
        stop: &stop,
        verbosity,
        redactor: &redactor,
        data_name: &data_name,
        keep_report: args.report.is_some(),
        args,
    };
    // Rows start in order; a row that finishes frees its place at once (a
    // slow row 1 does not hold back rows 5, 6, …), and the results are put
    // back in row order after.
    let mut runs: Vec<RowRun> = stream::iter(rows.iter().map(|row| runner.run(row)))
        .buffer_unordered(args.parallel)
        .collect()
        .await;
    runs.sort_by_key(|r| r.number);
    signals.abort();

    let count = |status: RowStatus| runs.iter().filter(|r| r.status == status).count();
    let failed: Vec<usize> = runs
        .iter()
        .filter(|r| r.status == RowStatus::Failed)
        .map(|r| r.number)
        .collect();
    let was_interrupted = stop.load(Ordering::Relaxed)
        || count(RowStatus::Interrupted) > 0
        || count(RowStatus::NotRun) > 0;
    if !failed.is_empty() {
        to_stderr(&format!(
            "error: {} of {} rows failed: {}\n",
            failed.len(),
            runs.len(),
            row_list(&failed)
        ));
    } else if was_interrupted {
        to_stderr(&format!(
            "interrupted: {} of {} rows finished\n",
            count(RowStatus::Passed),
            runs.len()
        ));
    } else if verbosity > Verbosity::Quiet && !runs.is_empty() && !args.dry_run {
        let n = runs.len();
        to_stderr(&format!(
            "{n} {} passed\n",
            if n == 1 { "row" } else { "rows" }
        ));
    }

    let mut outputs_ok = files.finish(args, &redactor).await;
    if let Some(path) = &args.report {
        let status = if was_interrupted {
            RunStatus::Interrupted
        } else if failed.is_empty() {
            RunStatus::Passed
        } else {
            RunStatus::Failed
        };
        let doc = serde_json::json!({
            "data": data_name,
            "shard": args.shard.map(|s| s.to_string()),
            "status": status.as_str(),
            "rows": runs.iter().map(|r| r.report.clone()).collect::<Vec<_>>(),
        });
        if let Err(e) = write_json(path, &redactor.redact_json(&doc)) {
            to_stderr(&format!(
                "error: cannot write the report to {}: {e}\n",
                path.display()
            ));
            outputs_ok = false;
        }
    }
    if let (Some(path), Some(rec)) = (&args.record, &net.recorder)
        && let Err(e) = rec.tape().save(path)
    {
        to_stderr(&format!("error: {e}\n"));
        outputs_ok = false;
    }

    let printed = if args.dry_run {
        let texts: Vec<&str> = runs.iter().map(|r| r.dry_run.as_str()).collect();
        print_stdout(&redactor.redact(&texts.join("\n")))
    } else {
        let outputs: Vec<Value> = runs
            .iter()
            .map(|r| redactor.redact_json(&r.output))
            .collect();
        match format_rows(outputs, args.output) {
            Ok(text) => print_stdout(&text),
            Err(e) => {
                to_stderr(&format!("error: cannot print the results: {e}\n"));
                Exit::StepFailed
            }
        }
    };
    report::warn_short_secrets(&redactor);
    Ok(if was_interrupted {
        Exit::Interrupted
    } else if !failed.is_empty() || !outputs_ok {
        Exit::StepFailed
    } else {
        printed
    })
}

/// The chain, validated with a row's variables.
fn validate_row(
    parsed: &ParsedChain,
    overrides: &VarOverrides,
    row: &Row,
    args: &RunArgs,
) -> Result<crate::plan::ValidChain, Diagnostics> {
    let vars = overrides.merge(&parsed.chain.vars, &row.vars);
    let mut chain = crate::compile::validate(parsed.clone(), vars)?;
    from_command_line(&mut chain, args);
    Ok(chain)
}

/// What flags add to every step of the plan: `-H` headers (replacing the
/// chain's of the same name; sent as written, never rendered) and
/// `--insecure`.
fn from_command_line(chain: &mut crate::plan::ValidChain, args: &RunArgs) {
    if args.header.is_empty() && !args.insecure {
        return;
    }
    for step in &mut chain.steps {
        for (name, value) in &args.header {
            step.headers.retain(|(n, _)| !n.eq_ignore_ascii_case(name));
            let literal = crate::template::Tmpl::Literal(Box::new(Value::String(value.clone())));
            step.headers.push((name.clone(), literal));
        }
        if args.insecure {
            let mut tls = step
                .tls
                .as_deref()
                .cloned()
                .unwrap_or(crate::transport::TlsSettings {
                    client_cert: None,
                    client_key: None,
                    ca_cert: None,
                    verify: false,
                    password: None,
                });
            tls.verify = false;
            step.tls = Some(Arc::new(tls));
        }
    }
}

/// Names the row a diagnostic is about.
fn for_row(d: impl Into<Diagnostics>, row: &Row, data_name: &str) -> Diagnostics {
    let mut d = d.into();
    for one in &mut d.0 {
        one.message = format!("row {}: {}", row.number, one.message);
        one.notes.push(format!(
            "note: row {} is line {} of {data_name}",
            row.number, row.line
        ));
    }
    d
}

/// `row 3`, `rows 2, 5 and 9`, or the first twenty and how many more.
fn row_list(numbers: &[usize]) -> String {
    let word = if numbers.len() == 1 { "row" } else { "rows" };
    const SHOWN: usize = 20;
    let shown: Vec<String> = numbers.iter().take(SHOWN).map(|n| n.to_string()).collect();
    let text = match shown.as_slice() {
        [] => String::new(),
        [one] => one.clone(),
        [init @ .., last] if numbers.len() <= SHOWN => format!("{} and {last}", init.join(", ")),
        _ => format!("{} and {} more", shown.join(", "), numbers.len() - SHOWN),
    };
    format!("{word} {text}")
}

/// How a row ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum RowStatus {
    Passed,
    Failed,
    Interrupted,
    /// The run was interrupted before this row started.
    NotRun,
}

/// What a row leaves for stdout and the report.
struct RowRun {
    number: usize,
    status: RowStatus,
    /// The row's result; `null` unless it passed.
    output: Value,
    /// `--dry-run`: the requests it would have sent.
    dry_run: String,
    /// `--report`: the row's entry.
    report: Value,
}

/// What every row shares.
struct RowRunner<'a> {
    parsed: &'a ParsedChain,
    files: &'a FileOutputs,
    overrides: &'a VarOverrides,
    client: &'a Client,
    opts: &'a RunOptions,
    cancel: &'a Cancel,
    stop: &'a AtomicBool,
    verbosity: Verbosity,
    redactor: &'a Redactor,
    data_name: &'a str,
    keep_report: bool,
    args: &'a RunArgs,
}

impl RowRunner<'_> {
    async fn run(&self, row: &Row) -> RowRun {
        let mut entry = serde_json::Map::new();
        entry.insert("row".into(), row.number.into());
        entry.insert(
            "vars".into(),
            Value::Object(row.vars.clone().into_iter().collect()),
        );
        let mut done = RowRun {
            number: row.number,
            status: RowStatus::NotRun,
            output: Value::Null,
            dry_run: String::new(),
            report: Value::Null,
        };
        if self.stop.load(Ordering::Relaxed) {
            entry.insert("status".into(), "not_run".into());
            done.report = Value::Object(entry);
            return done;
        }
        let chain = match validate_row(self.parsed, self.overrides, row, self.args) {
            Ok(c) => c,
            // Checked before the first row started; kept for safety.
            Err(d) => {
                print_diagnostics(&for_row(d, row, self.data_name));
                entry.insert("status".into(), "failed".into());
                done.status = RowStatus::Failed;
                done.report = Value::Object(entry);
                return done;
            }
        };
        let mut observers = Observers::default();
        observers.0.push(Box::new(PlainLog::new(
            RowLines::new(row.number),
            self.verbosity,
            self.redactor.clone(),
        )));
        // Does nothing unless -v or PYTOPUS_LOG set up tracing.
        observers
            .0
            .push(Box::new(TraceLog::new(self.redactor.clone())));
        if self.args.curl {
            observers.0.push(Box::new(CurlLog::new(
                self.redactor.clone(),
                self.opts.secrets.clone(),
                &format!("[row {}] ", row.number),
            )));
        }
        self.files.observe(&mut observers, Some(row.number));
        let report = engine::run(
            &chain,
            self.client,
            &mut observers,
            self.opts,
            self.cancel.clone(),
        )
        .await;
        // The row's last log line is written when its writer goes.
        drop(observers);
        done.status = match report.status {
            RunStatus::Passed => RowStatus::Passed,
            RunStatus::Failed => RowStatus::Failed,
            RunStatus::Interrupted => RowStatus::Interrupted,
        };
        if done.status == RowStatus::Failed
            && let Some(d) = report::failure(&chain, &report, self.redactor)
        {
            print_diagnostics(&for_row(d, row, self.data_name));
        }
        if done.status == RowStatus::Passed {
            if report.dry_run {
                done.dry_run = dry_run_text(&report, &format!("[row {}] ", row.number));
            } else {
                done.output = report.output.as_deref().cloned().unwrap_or(Value::Null);
            }
        }
        if self.keep_report
            && let Value::Object(fields) = report::json::to_json(&report)
        {
            entry.extend(fields);
        }
        done.report = Value::Object(entry);
        done
    }
}

/// A row's log lines, each written to stderr whole with `[row N] ` before it,
/// so the lines of rows running at once interleave but never mix.
struct RowLines {
    prefix: String,
    pending: Vec<u8>,
}

impl RowLines {
    fn new(number: usize) -> Self {
        RowLines {
            prefix: format!("[row {number}] "),
            pending: Vec::new(),
        }
    }
}

impl std::io::Write for RowLines {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.pending.extend_from_slice(buf);
        while let Some(end) = self.pending.iter().position(|&b| b == b'\n') {
            let line: Vec<u8> = self.pending.drain(..=end).collect();
            to_stderr(&format!(
                "{}{}",
                self.prefix,
                String::from_utf8_lossy(&line)
            ));
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Drop for RowLines {
    fn drop(&mut self) {
        if !self.pending.is_empty() {
            let rest = String::from_utf8_lossy(&self.pending).into_owned();
            to_stderr(&format!("{}{rest}\n", self.prefix));
        }
    }
}

/// Writes `value` as pretty JSON to `path`, whole or not at all.
fn write_json(path: &Path, value: &Value) -> std::io::Result<()> {
    let text = serde_json::to_string_pretty(value).unwrap_or_default() + "\n";
    crate::files::write(path, text.as_bytes())
}

/// The rows' results as `--output` asks: a list for `json` and `yaml`, one
/// line per row for `raw` (an empty line for `null`).
fn format_rows(outputs: Vec<Value>, format: OutputFormat) -> Result<String, String> {
    match format {
        OutputFormat::Raw => {
            let mut out = String::new();
            for value in &outputs {
                match value {
                    Value::Null => out.push('\n'),
                    other => out.push_str(&format_output(other, format)?),
                }
            }
            Ok(out)
        }
        _ => format_output(&Value::Array(outputs), format),
    }
}

/// Where secrets come from: `PYTOPUS_SECRET_<NAME>`, then the OS keyring
/// (opened only if a secret is not in the environment). `PYTOPUS_KEYRING=off`
/// leaves the keyring alone: secrets then come from the environment only.
pub fn secrets_for_run(redactor: &Redactor) -> Secrets {
    if std::env::var("PYTOPUS_KEYRING").is_ok_and(|v| v.eq_ignore_ascii_case("off")) {
        return Secrets::env_only(redactor.clone());
    }
    Secrets::new(crate::secret::open_default, redactor.clone())
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
fn check_writable(path: &std::path::Path) -> Result<(), String> {
    if path.as_os_str() == "-" {
        return Err("give a file name; stdout carries only the result".into());
    }
    crate::files::check_writable(path).map_err(|e| match e.kind() {
        std::io::ErrorKind::IsADirectory => "is a directory".to_string(),
        _ => format!("cannot be written ({e})"),
    })
}

/// The result as `--output` asks.
/// Prints the run's result on stdout. JSON is written straight into a
/// buffered stdout rather than built as a string first: a 100 MB result
/// would otherwise be in memory twice.
fn print_output(value: &Value, format: OutputFormat) -> Exit {
    use std::io::{IsTerminal as _, Write as _};
    // On a terminal, the text goes through `print_stdout`, which shows
    // control characters instead of sending them.
    if format != OutputFormat::Json || std::io::stdout().is_terminal() {
        return match format_output(value, format) {
            Ok(text) => print_stdout(&text),
            Err(e) => {
                to_stderr(&format!("error: cannot print the result: {e}\n"));
                Exit::StepFailed
            }
        };
    }
    let mut out = std::io::BufWriter::with_capacity(64 * 1024, std::io::stdout().lock());
    let written = serde_json::to_writer_pretty(&mut out, value)
        .map_err(std::io::Error::from)
        .and_then(|()| out.write_all(b"\n"))
        .and_then(|()| out.flush());
    match written {
        Ok(()) => Exit::Success,
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Exit::Success,
        Err(e) => {
            to_stderr(&format!("error: cannot write to stdout: {e}\n"));
            Exit::StepFailed
        }
    }
}

pub fn format_output(value: &Value, format: OutputFormat) -> Result<String, String> {
    Ok(match format {
        OutputFormat::Json => {
            serde_json::to_string_pretty(value).map_err(|e| e.to_string())? + "\n"
        }
        OutputFormat::Yaml => serde_saphyr::to_string(value).map_err(|e| e.to_string())?,
        OutputFormat::Raw => match value {
            Value::String(s) => format!("{s}\n"),
            Value::Null => String::new(),
            other => serde_json::to_string(other).map_err(|e| e.to_string())? + "\n",
        },
    })
}

/// Percent-escapes of printable ASCII undone, for showing a URL to a person.
fn unescape_for_display(url: &str) -> String {
    let bytes = url.as_bytes();
    let mut out = String::with_capacity(url.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && let Some(hex) = url.get(i + 1..i + 3)
            && let Ok(b) = u8::from_str_radix(hex, 16)
            && (b' '..=b'~').contains(&b)
        {
            out.push(b as char);
            i += 3;
            continue;
        }
        out.push(bytes[i] as char);
        i += 1;
    }
    out
}

/// `--dry-run` prints every request it would have sent, as HTTP messages;
/// each title starts with `label` (a `--data` row's `[row 3] `).
fn dry_run_text(report: &RunReport, label: &str) -> String {
    let mut out = String::new();
    for step in report.steps.iter().chain(&report.teardown) {
        if step.status != StepStatus::DryRun {
            continue;
        }
        let requests: Vec<(String, &crate::transport::HttpRequest)> =
            if step.dry_requests.is_empty() {
                step.request
                    .iter()
                    .map(|r| (step.name.clone(), r))
                    .collect()
            } else {
                step.dry_requests
                    .iter()
                    .map(|(what, r)| (format!("{}{what}", step.name), r))
                    .collect()
            };
        let label = if step.teardown {
            format!("{label}finally ")
        } else {
            label.to_string()
        };
        for (title, req) in requests {
            if !out.is_empty() {
                out.push('\n');
            }
            // Placeholders (`<GetUser.id>`, `{{ … }}`) read better unescaped.
            let url = unescape_for_display(&req.url);
            out.push_str(&format!("# {label}{title}\n{} {url}\n", req.method));
            for (k, v) in &req.headers {
                out.push_str(&format!("{k}: {}\n", crate::secret::header_value(k, v)));
            }
            if let Some(body) = &req.body {
                out.push('\n');
                out.push_str(&String::from_utf8_lossy(body));
                out.push('\n');
            }
        }
        for note in &step.dry_notes {
            out.push_str(&format!("# {label}{}: {note}\n", step.name));
        }
    }
    out
}
