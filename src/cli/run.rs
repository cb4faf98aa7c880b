//! `pytopus run` and `pytopus validate`: one chain, once or `--every`.

use std::sync::Arc;

use serde_json::Value;

use super::args::{GraphFormat, InputsArgs, InputsFormat, RunArgs, ValidateArgs};
use super::fail::{Fail, Outcome};
use super::inputs::{load_chain, load_chain_to_run, read_source};
use super::output::print_output;
use super::part::{part_of_chain, resume_from};
use super::rows::run_rows;
use super::session::{Session, interrupted};
use super::{Exit, print_diagnostics, print_stdout, stderr_color};
use crate::diagnostic::{Diagnostic, Diagnostics};
use crate::engine::RunStatus;
use crate::plan::ValidChain;
use crate::report::dry_run::dry_run_text;
use crate::report::{self, Verbosity, to_stderr};
use crate::session::notify::Notifier;
use crate::session::{Report, Run};

pub fn validate(args: ValidateArgs) -> Outcome {
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
                        exit = Fail::failed(format!("cannot write the graph: {e}")).report();
                    }
                }
                if i + 1 < args.chains.len() {
                    drop(std::mem::ManuallyDrop::into_inner(c));
                }
            }
            // Said now, between the other chains' lines; the next is checked.
            Err(d) => exit = Fail::Usage(d).report(),
        }
    }
    Ok(exit)
}

pub async fn run(args: RunArgs) -> Outcome {
    if args.watch {
        return super::watch::watch(&args).await;
    }
    match args.every {
        Some(every) => run_every(&args, every).await,
        None => run_once(&args, None).await,
    }
}

/// `--every`: the chain again and again, each run starting `every` after the
/// one before started, until Ctrl-C or SIGTERM (exit 130). A failed run is
/// reported like any run and does not stop the next one.
pub(super) async fn run_every(args: &RunArgs, every: std::time::Duration) -> Outcome {
    // A chain that cannot load will not load on the next round either.
    load_chain(&args.chain, &args.vars)?;
    // `notify:`: whether the chain is failing lasts from round to round.
    let notifier = Notifier::new(
        Arc::new(crate::session::live().map_err(Fail::failed)?),
        Arc::new(|message: &str| to_stderr(&format!("{message}\n"))),
    );
    let mut round: u64 = 0;
    loop {
        round += 1;
        let started = tokio::time::Instant::now();
        if verbosity(args) > Verbosity::Quiet {
            let now = humantime::format_rfc3339_seconds(std::time::SystemTime::now());
            to_stderr(&format!("run {round} at {now}\n"));
        }
        match run_once(args, Some(&notifier)).await {
            // The run saw Ctrl-C: so does the loop.
            Ok(Exit::Interrupted) => return Ok(Exit::Interrupted),
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

/// One run of the chain (or of its `--data` rows); `notifier`: `--every`'s,
/// told how the run ended (a single run notifies no one).
pub(super) async fn run_once(args: &RunArgs, notifier: Option<&Notifier>) -> Outcome {
    if let Some(path) = &args.data {
        return run_rows(args, path).await;
    }
    // `--dry-run` and `--replay` send nothing: no TLS to start early.
    let mut chain = if args.dry_run || args.replay.is_some() {
        load_chain(&args.chain, &args.vars)?
    } else {
        load_chain_to_run(&args.chain, &args.vars)?
    };
    missing_inputs(&chain, None)?;
    from_command_line(&mut chain, args);
    let session = Session::open(args, &chain.secret_names)?;
    let redactor = session.redactor();
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
    let verbosity = session.verbosity;
    let mut run = Run::new(&chain);
    run.observers = session.observers(args, None, true);
    run.report = args.report.clone().map_or(Report::None, Report::File);
    run.history = chain_path.map(|path| crate::history::Entry { path, content_hash });
    run.shard = args.shard.map(|s| (s.index, s.count));
    run.resume = resume;
    run.only = only;
    let finished = session.runs.run(run).await;
    if let Some(notifier) = notifier {
        notifier
            .after(&session.runs, &args.chain, &chain, &finished.report, None)
            .await;
    }
    let report = finished.report;
    let outputs_ok = finished.report_written & session.finish(args).await;
    if let Some(d) = report::failure(&chain, &report, redactor) {
        print_diagnostics(&d.into());
    }
    if verbosity != Verbosity::Quiet {
        report::print_summary(&report, redactor, stderr_color());
    }
    let exit = match report.status {
        RunStatus::Interrupted => Exit::Interrupted,
        RunStatus::Failed => Exit::StepFailed,
        RunStatus::Passed if !outputs_ok => Exit::StepFailed,
        RunStatus::Passed if report.dry_run => {
            print_stdout(&redactor.redact(&dry_run_text(&report, ""))).unwrap_or_else(Fail::report)
        }
        RunStatus::Passed => {
            let value = redactor.redact_json_cow(report.output.as_deref().unwrap_or(&Value::Null));
            print_output(&value, args.output).unwrap_or_else(Fail::report)
        }
    };
    // Best effort: the run's result never depends on its history. Said
    // last, after the result (a large one printed while it was stored).
    if let Some(Err(e)) = finished.recorded.and_then(|r| r.wait()) {
        to_stderr(&redactor.redact(&format!(
            "warning: this run was not recorded in the history: {e}\n"
        )));
    }
    report::warn_short_secrets(redactor);
    if args.every.is_none() && !args.watch {
        // The process ends next: freeing every step's result, one by one,
        // only costs time (bench/README.md). Not under --every or --watch,
        // which run again.
        std::mem::forget(report);
        std::mem::forget(chain);
    }
    Ok(exit)
}

/// Whether requests are traced: `-v` or `PYTOPUS_LOG` (which also sets up
/// the subscriber, once per process).
pub(super) fn tracing_wanted(args: &RunArgs) -> bool {
    static INIT: std::sync::Once = std::sync::Once::new();
    let wanted = args.verbose > 0 || std::env::var_os("PYTOPUS_LOG").is_some_and(|v| !v.is_empty());
    if wanted {
        INIT.call_once(|| crate::report::trace::init(args.verbose));
    }
    wanted
}

pub(super) fn verbosity(args: &RunArgs) -> Verbosity {
    if args.quiet {
        Verbosity::Quiet
    } else if args.verbose > 0 {
        Verbosity::Verbose
    } else {
        Verbosity::Normal
    }
}

/// What flags add to every step of the plan: `-H` headers (replacing the
/// chain's of the same name; sent as written, never rendered) and
/// `--insecure`.
pub(super) fn from_command_line(chain: &mut crate::plan::ValidChain, args: &RunArgs) {
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

/// What `pytopus inputs` shows of a chain.
struct Declared {
    name: String,
    inputs: Vec<crate::plan::inputs::Input>,
    outputs: Vec<crate::plan::inputs::Input>,
}

/// A run cannot start without its required inputs: the error names each
/// (and the `--data` row, for a row).
pub(super) fn missing_inputs(chain: &ValidChain, row: Option<usize>) -> Result<(), Diagnostics> {
    if chain.missing_inputs.is_empty() {
        return Ok(());
    }
    let mut d = Diagnostics::default();
    for name in &chain.missing_inputs {
        let what = chain
            .inputs
            .iter()
            .find(|i| &i.name == name)
            .and_then(|i| i.description.clone())
            .map(|t| format!(" ({t})"))
            .unwrap_or_default();
        let at = row.map(|r| format!("row {r}: ")).unwrap_or_default();
        d.0.push(
            Diagnostic::new(format!("{at}input `{name}` is required{what}"))
                .at(&chain.source, chain.spans.key(&format!("inputs.{name}")))
                .note(format!(
                    "help: pass it with `--var {name}=VALUE`, in `--vars-file`, or as a `--data` column"
                )),
        );
    }
    Err(d)
}

/// `pytopus inputs CHAIN`: what a caller gives the chain and gets back.
/// Only the declarations are read: a chain whose other templates need
/// `--var` values still shows what it takes.
pub fn inputs(args: InputsArgs) -> Outcome {
    let parsed = read_source(&args.chain).and_then(crate::chain::parse)?;
    let declare = |map: &indexmap::IndexMap<String, Value>, what: &str| {
        map.iter()
            .map(|(name, spec)| {
                let mut schema = spec.clone();
                let required = schema
                    .as_object_mut()
                    .and_then(|m| m.remove("required"))
                    .and_then(|r| r.as_bool());
                crate::plan::inputs::Input::new(name, schema, required)
                    .map_err(|e| Fail::usage(format!("{what}: {e}")))
            })
            .collect::<Result<Vec<_>, Fail>>()
    };
    let chain = Declared {
        name: parsed
            .chain
            .name
            .clone()
            .unwrap_or_else(|| parsed.source.name.clone()),
        inputs: declare(&parsed.chain.inputs, "inputs")?,
        outputs: declare(&parsed.chain.outputs, "outputs")?,
    };
    let text = match args.format {
        InputsFormat::JsonSchema => {
            let doc = serde_json::json!({
                "inputs": crate::plan::inputs::json_schema(&chain.inputs, &format!("{} inputs", chain.name)),
                "outputs": crate::plan::inputs::json_schema(&chain.outputs, &format!("{} outputs", chain.name)),
            });
            serde_json::to_string_pretty(&doc).unwrap_or_default() + "\n"
        }
        InputsFormat::Text => {
            let mut out = String::new();
            for (title, list) in [("inputs", &chain.inputs), ("outputs", &chain.outputs)] {
                if list.is_empty() {
                    out.push_str(&format!("{title}: none declared\n"));
                    continue;
                }
                out.push_str(&format!("{title}:\n"));
                for i in list {
                    let kind = i.schema.get("type").map_or_else(
                        || "any".to_string(),
                        |t| t.to_string().trim_matches('"').to_string(),
                    );
                    let need = if title == "outputs" {
                        String::new()
                    } else if i.required {
                        ", required".to_string()
                    } else {
                        match &i.default {
                            Some(d) => format!(", default {d}"),
                            None => ", optional".to_string(),
                        }
                    };
                    let about = i
                        .description
                        .as_deref()
                        .map(|d| format!(" — {d}"))
                        .unwrap_or_default();
                    out.push_str(&format!("  {} ({kind}{need}){about}\n", i.name));
                }
            }
            out
        }
    };
    print_stdout(&text)
}
