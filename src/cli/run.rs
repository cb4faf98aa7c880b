//! `pytopus run` and `pytopus validate`.

use std::io::IsTerminal;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use serde_json::Value;

use super::args::{OutputFormat, RunArgs, ValidateArgs};
use super::inputs::load_chain;
use super::{Exit, print_diagnostics, print_stdout, stderr_color};
use crate::diagnostic::Diagnostic;
use crate::engine::{self, Cancel, Observers, RunOptions, RunReport, RunStatus, StepStatus};
use crate::report::json::JsonReport;
use crate::report::plain::PlainLog;
use crate::report::progress::Progress;
use crate::report::{self, Verbosity, to_stderr};
use crate::secret::{Redactor, Secrets};
use crate::transport::{LiveOptions, LiveTransport, Recorder, Replayer, Tape, Transport};

pub fn validate(args: ValidateArgs) -> Exit {
    let mut exit = Exit::Success;
    for chain in &args.chains {
        match load_chain(chain, &args.vars) {
            Ok(c) => {
                let name = if chain == "-" {
                    "<stdin>"
                } else {
                    chain.as_str()
                };
                let n = c.steps.len();
                let steps = if n == 1 { "step" } else { "steps" };
                to_stderr(&format!("{name}: ok ({n} {steps})\n"));
            }
            Err(d) => {
                print_diagnostics(&d);
                exit = Exit::Usage;
            }
        }
    }
    exit
}

/// The network for this run: live or replayed, maybe recorded.
enum Network {
    Direct(Box<dyn Transport>),
    Recording(Recorder),
}

impl Network {
    fn transport(&self) -> &dyn Transport {
        match self {
            Network::Direct(t) => t.as_ref(),
            Network::Recording(r) => r,
        }
    }
}

fn network(args: &RunArgs, redactor: &Redactor) -> Result<Network, (Diagnostic, Exit)> {
    let base: Box<dyn Transport> = match &args.replay {
        Some(path) => {
            let tape = Tape::load(path).map_err(|e| (Diagnostic::new(e), Exit::Usage))?;
            Box::new(Replayer::new(
                tape,
                path.display().to_string(),
                redactor.clone(),
            ))
        }
        None => Box::new(LiveTransport::new(&LiveOptions::default()).map_err(|e| {
            (
                Diagnostic::new(format!("cannot start the HTTP client: {e}")),
                Exit::StepFailed,
            )
        })?),
    };
    Ok(match &args.record {
        Some(_) => Network::Recording(Recorder::new(base, redactor.clone())),
        None => Network::Direct(base),
    })
}

pub async fn run(args: RunArgs) -> Exit {
    let chain = match load_chain(&args.chain, &args.vars) {
        Ok(c) => c,
        Err(d) => {
            print_diagnostics(&d);
            return Exit::Usage;
        }
    };
    // Files the run will write are checked before anything is sent: a CI job
    // must not make its requests and then lose the report or the tape.
    for (flag, path) in [("--report", &args.report), ("--record", &args.record)] {
        if let Some(p) = path
            && let Err(e) = check_writable(p)
        {
            print_diagnostics(&Diagnostic::new(format!("{flag} {}: {e}", p.display())).into());
            return Exit::Usage;
        }
    }
    let redactor = Redactor::default();
    let secrets = secrets_for_run(&redactor);
    // Every secret the chain names is looked up before anything is sent.
    if !args.dry_run {
        for name in &chain.secret_names {
            if let Err(e) = secrets.get(name) {
                print_diagnostics(&Diagnostic::new(e.to_string()).into());
                return Exit::Usage;
            }
        }
    }
    let net = match network(&args, &redactor) {
        Ok(n) => n,
        Err((d, exit)) => {
            print_diagnostics(&d.into());
            return exit;
        }
    };

    let verbosity = if args.quiet {
        Verbosity::Quiet
    } else if args.verbose {
        Verbosity::Verbose
    } else {
        Verbosity::Normal
    };
    let mut observers = Observers::default();
    let live =
        std::io::stderr().is_terminal() && !args.no_progress && verbosity == Verbosity::Normal;
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
    let signals = tokio::spawn(async move {
        interrupted().await;
        handle.cancel();
    });
    let opts = RunOptions {
        dry_run: args.dry_run,
        redactor: redactor.clone(),
        secrets: Some(secrets),
        persist_tokens: !args.dry_run,
        notify: Some(Arc::new(|message: &str| to_stderr(&format!("{message}\n")))),
    };
    let report = engine::run(&chain, net.transport(), &mut observers, &opts, cancel).await;
    signals.abort();
    drop(observers);

    let mut outputs_ok = !report_failed.load(Ordering::Relaxed);
    if let (Some(path), Network::Recording(rec)) = (&args.record, &net)
        && let Err(e) = rec.tape().save(path)
    {
        to_stderr(&format!("error: {e}\n"));
        outputs_ok = false;
    }

    if let Some(d) = report::failure(&chain, &report, &redactor) {
        print_diagnostics(&d.into());
    }
    match report.status {
        RunStatus::Interrupted => Exit::Interrupted,
        RunStatus::Failed => Exit::StepFailed,
        RunStatus::Passed if !outputs_ok => Exit::StepFailed,
        RunStatus::Passed if report.dry_run => {
            print_stdout(&redactor.redact(&dry_run_text(&report)))
        }
        RunStatus::Passed => {
            let value = redactor.redact_json(report.output.as_ref().unwrap_or(&Value::Null));
            match format_output(&value, args.output) {
                Ok(text) => print_stdout(&text),
                Err(e) => {
                    to_stderr(&format!("error: cannot print the result: {e}\n"));
                    Exit::StepFailed
                }
            }
        }
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
async fn interrupted() {
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
    if path.is_dir() {
        return Err("is a directory".into());
    }
    let probe = path.with_extension("pytopus-partial");
    std::fs::write(&probe, b"")
        .and_then(|()| std::fs::remove_file(&probe))
        .map_err(|e| format!("cannot be written ({e})"))
}

/// The result as `--output` asks.
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

/// `--dry-run` prints every request it would have sent, as HTTP messages.
fn dry_run_text(report: &RunReport) -> String {
    let mut out = String::new();
    for step in &report.steps {
        if step.status != StepStatus::DryRun {
            continue;
        }
        let requests: Vec<(String, &crate::transport::HttpRequest)> =
            if step.item_requests.is_empty() {
                step.request
                    .iter()
                    .map(|r| (step.name.clone(), r))
                    .collect()
            } else {
                step.item_requests
                    .iter()
                    .enumerate()
                    .map(|(i, r)| (format!("{} [{i}]", step.name), r))
                    .collect()
            };
        for (title, req) in requests {
            if !out.is_empty() {
                out.push('\n');
            }
            // Placeholders (`<GetUser.id>`) read better unescaped.
            let url = req.url.replace("%3C", "<").replace("%3E", ">");
            out.push_str(&format!("# {title}\n{} {url}\n", req.method));
            for (k, v) in &req.headers {
                out.push_str(&format!("{k}: {v}\n"));
            }
            if let Some(body) = &req.body {
                out.push('\n');
                out.push_str(&String::from_utf8_lossy(body));
                out.push('\n');
            }
        }
    }
    out
}
