//! `run --data`: the chain once per row, rows checked before any is sent.

use std::path::Path;
use std::sync::atomic::Ordering;

use futures_util::stream::{self, StreamExt};
use serde_json::Value;

use super::args::{OutputFormat, RunArgs};
use super::fail::{Fail, Outcome};
use super::inputs::{VarOverrides, read_source};
use super::output::format_output;
use super::run::{from_command_line, tracing_wanted};
use super::session::Session;
use super::{Exit, print_diagnostics, print_stdout};
use crate::chain::ParsedChain;
use crate::diagnostic::{Diagnostic, Diagnostics};
use crate::engine::RunStatus;
use crate::report::dry_run::dry_run_text;
use crate::report::plain::PlainLog;
use crate::report::{self, Verbosity, to_stderr};
use crate::session::{Report, Run};

use super::data::{self, Row};

/// `--data`: the chain once per row (of this `--shard`), at most `--parallel`
/// rows at once. Every row is validated before anything is sent; stdout is
/// the list of the rows' results in row order, `null` for a row that failed.
pub(super) async fn run_rows(args: &RunArgs, data_path: &Path) -> Outcome {
    tracing_wanted(args);
    if data_path.as_os_str() == "-" && args.chain == "-" {
        return Err(
            Diagnostic::new("--data - and the chain `-` cannot both read standard input")
                .note("help: give the chain or the data as a file")
                .into(),
        );
    }
    let data = data::read(data_path)?;
    let parsed =
        crate::arazzo::parse_any(read_source(&args.chain)?, args.vars.workflow.as_deref())?;
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
        let checked = validate_row(&parsed, &overrides, row, args)
            .and_then(|chain| super::run::missing_inputs(&chain, None).map(|()| chain));
        match checked {
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
    let session = Session::open(args, &secret_names)?;
    let redactor = session.redactor();
    let verbosity = session.verbosity;
    if rows.is_empty() && verbosity > Verbosity::Quiet {
        let why = match args.shard {
            Some(s) => format!("shard {s} of the {total} rows of {data_name} is empty"),
            None => format!("{data_name} has no rows"),
        };
        to_stderr(&format!("no rows to run: {why}\n"));
    }
    // The rows are sharded already; their `for_each` items are not (no
    // `Run::shard`).
    let runner = RowRunner {
        parsed: &parsed,
        session: &session,
        overrides: &overrides,
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

    let count = |status: RowStatus| runs.iter().filter(|r| r.status == status).count();
    let failed: Vec<usize> = runs
        .iter()
        .filter(|r| r.status == RowStatus::Failed)
        .map(|r| r.number)
        .collect();
    let was_interrupted = session.stopped.load(Ordering::Relaxed)
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

    let mut outputs_ok = session.finish(args).await;
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
    let printed = if args.dry_run {
        let texts: Vec<&str> = runs.iter().map(|r| r.dry_run.as_str()).collect();
        print_stdout(&redactor.redact(&texts.join("\n"))).unwrap_or_else(Fail::report)
    } else {
        let outputs: Vec<Value> = runs
            .iter()
            .map(|r| redactor.redact_json(&r.output))
            .collect();
        match format_rows(outputs, args.output) {
            Ok(text) => print_stdout(&text).unwrap_or_else(Fail::report),
            Err(e) => {
                to_stderr(&format!("error: cannot print the results: {e}\n"));
                Exit::StepFailed
            }
        }
    };
    report::warn_short_secrets(redactor);
    Ok(if was_interrupted {
        Exit::Interrupted
    } else if !failed.is_empty() || !outputs_ok {
        Exit::StepFailed
    } else {
        printed
    })
}

/// The chain, validated with a row's variables.
pub(super) fn validate_row(
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

/// Names the row a diagnostic is about.
pub(super) fn for_row(d: impl Into<Diagnostics>, row: &Row, data_name: &str) -> Diagnostics {
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
pub(super) fn row_list(numbers: &[usize]) -> String {
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
pub(super) enum RowStatus {
    Passed,
    Failed,
    Interrupted,
    /// The run was interrupted before this row started.
    NotRun,
}

/// What a row leaves for stdout and the report.
pub(super) struct RowRun {
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
pub(super) struct RowRunner<'a> {
    parsed: &'a ParsedChain,
    session: &'a Session,
    overrides: &'a VarOverrides,
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
        if self.session.stopped.load(Ordering::Relaxed) {
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
        // Rows run at once: each has its own log, its lines prefixed.
        let mut run = Run::new(&chain);
        run.observers = self.session.observers(self.args, Some(row.number), false);
        run.observers.0.push(Box::new(PlainLog::new(
            RowLines::new(row.number),
            self.session.verbosity,
            self.session.redactor().clone(),
        )));
        if self.keep_report {
            run.report = Report::Keep;
        }
        let finished = self.session.runs.run(run).await;
        let report = finished.report;
        done.status = match report.status {
            RunStatus::Passed => RowStatus::Passed,
            RunStatus::Failed => RowStatus::Failed,
            RunStatus::Interrupted => RowStatus::Interrupted,
        };
        if done.status == RowStatus::Failed
            && let Some(d) = report::failure(&chain, &report, self.session.redactor())
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
        if let Some(Value::Object(fields)) = finished.json {
            entry.extend(fields);
        }
        done.report = Value::Object(entry);
        done
    }
}

/// A row's log lines, each written to stderr whole with `[row N] ` before it,
/// so the lines of rows running at once interleave but never mix.
pub(super) struct RowLines {
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
pub(super) fn write_json(path: &Path, value: &Value) -> std::io::Result<()> {
    let text = serde_json::to_string_pretty(value).unwrap_or_default() + "\n";
    crate::files::write(path, text.as_bytes())
}

/// The rows' results as `--output` asks: a list for `json` and `yaml`, one
/// line per row for `raw` (an empty line for `null`).
pub(super) fn format_rows(outputs: Vec<Value>, format: OutputFormat) -> Result<String, String> {
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
