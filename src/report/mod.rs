//! Observers of the engine's events: live progress on a terminal, a plain log
//! off one, the JSON report, Prometheus metrics, JUnit XML and HAR. Also the
//! rendering of a failed step, which every front end shares.

pub mod curl;
pub mod dry_run;
pub mod har;
pub mod json;
pub mod junit;
pub mod metrics;
pub mod plain;
pub mod progress;
pub mod trace;

use std::borrow::Cow;
use std::fmt::Write as _;

use crate::diagnostic::Diagnostic;
use crate::engine::check::status_text;
use crate::engine::{RunReport, StepError, StepOutcome, StepStatus, show_duration};
use crate::plan::ValidChain;
use crate::secret::Redactor;
use crate::transport::TransportError;

/// Writes to stderr, control characters escaped (see
/// [`crate::diagnostic::printable`]). A closed stderr (`2>&1 | head -1`)
/// must not turn into a panic: what could not be said is dropped.
pub fn to_stderr(text: &str) {
    to_stderr_styled(&crate::diagnostic::printable(text));
}

/// Writes text pytopus styled itself (diagnostics with their colours, whose
/// parts were escaped as they were put together) to stderr as it is.
pub fn to_stderr_styled(text: &str) {
    use std::io::Write;
    let mut err = std::io::stderr().lock();
    let _ = err.write_all(text.as_bytes()).and_then(|()| err.flush());
}

/// Says, once a run is over, that a secret too short to redact was used.
pub fn warn_short_secrets(redactor: &Redactor) {
    if redactor.short_secrets() {
        to_stderr(&format!(
            "warning: a secret shorter than {} characters was used and is not redacted \
             (hiding every occurrence of so few characters would hide nothing); use a longer one\n",
            crate::secret::SHORTEST
        ));
    }
}

/// What a line about the run shows: secrets redacted, controls escaped.
pub fn shown(redactor: &Redactor, text: &str) -> String {
    crate::diagnostic::printable(&redactor.redact(text)).into_owned()
}

/// How much a person wants to see.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Verbosity {
    Quiet,
    Normal,
    Verbose,
}

/// Prints [`run_summary`] on stderr, with a coloured mark when `color`.
pub fn print_summary(report: &RunReport, redactor: &Redactor, color: bool) {
    use crate::engine::RunStatus;
    let text = shown(redactor, &run_summary(report));
    let (mark, code) = match report.status {
        RunStatus::Passed if report.dry_run => ("·", "36"),
        RunStatus::Passed => ("✓", "32"),
        _ => ("✗", "31"),
    };
    let mark = if color {
        format!("\x1b[{code}m{mark}\x1b[0m")
    } else {
        mark.to_string()
    };
    to_stderr_styled(&format!("{mark} {text}"));
}

/// The last lines of a run on stderr: how it ended, how many steps did
/// what, the time, then each failure `on_error: continue` let pass.
pub fn run_summary(report: &RunReport) -> String {
    use crate::engine::RunStatus;
    let how = match report.status {
        RunStatus::Passed if report.dry_run => "dry run".to_string(),
        RunStatus::Passed => "passed".to_string(),
        RunStatus::Interrupted => "interrupted".to_string(),
        RunStatus::Failed => match report.failed_step() {
            Some(s) => format!("failed at `{}`", s.name),
            None => "failed".to_string(),
        },
    };
    let mut out = format!("{how}: {}", counts(&report.steps));
    if !report.teardown.is_empty() {
        let _ = write!(out, "; finally: {}", counts(&report.teardown));
    }
    let _ = writeln!(out, " in {}", show_duration(report.elapsed));
    for s in report
        .steps
        .iter()
        .filter(|s| s.status == StepStatus::Failed && s.continued)
    {
        let why = s
            .error
            .as_ref()
            .map_or_else(|| "failed".to_string(), StepError::summary);
        let _ = writeln!(out, "  continued after `{}`: {why}", s.name);
    }
    out
}

/// `2 ok, 1 failed, 3 not run`: how many steps ended each way.
fn counts(steps: &[StepOutcome]) -> String {
    let count = |f: &dyn Fn(&StepOutcome) -> bool| steps.iter().filter(|s| f(s)).count();
    let parts = [
        (
            count(&|s| s.status == StepStatus::Passed && !s.reused),
            "ok",
        ),
        (count(&|s| s.reused), "reused from the history"),
        (
            count(&|s| s.status == StepStatus::DryRun),
            "shown, not sent",
        ),
        (
            count(&|s| s.status == StepStatus::Failed && !s.continued),
            "failed",
        ),
        (
            count(&|s| s.status == StepStatus::Failed && s.continued),
            "failed and continued (on_error)",
        ),
        (count(&|s| s.status == StepStatus::Skipped), "skipped"),
        (count(&|s| s.status == StepStatus::NotRun), "not run"),
    ];
    parts
        .iter()
        .filter(|(n, _)| *n > 0)
        .map(|(n, what)| format!("{n} {what}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// `[2/3] Job poll 3: not done yet; again in 2s`.
pub fn poll_line(
    index: usize,
    total: usize,
    step: &str,
    count: u32,
    delay: std::time::Duration,
) -> String {
    format!(
        "[{}/{total}] {step} poll {count}: not done yet; again in {}",
        index + 1,
        show_duration(delay)
    )
}

/// The URL a finished step's line shows: for a `for_each` step, its URL as
/// written (each item had its own), else the URL sent.
pub fn shown_url<'a>(step: &'a crate::plan::ValidStep, o: &'a StepOutcome) -> Cow<'a, str> {
    use crate::template::Tmpl;
    let sent = || o.request.as_ref().map_or("", |r| r.url.as_str());
    if o.items.is_none() || o.status == StepStatus::DryRun {
        return Cow::Borrowed(sent());
    }
    match &step.url {
        Tmpl::Literal(v) => v
            .as_str()
            .map_or_else(|| Cow::Borrowed(sent()), Cow::Borrowed),
        t => t.string_names().map_or_else(
            || Cow::Borrowed(sent()),
            |n| Cow::Owned(n.source().to_string()),
        ),
    }
}

/// `GET https://… → 200 OK (12ms, 2 retries)` for a finished step.
pub fn step_summary(method: &str, url: &str, o: &StepOutcome) -> String {
    if o.status == StepStatus::NotRun {
        return format!("{method} (not run)");
    }
    if o.reused {
        let url = o.response.as_ref().map_or(url, |r| r.url.as_str());
        return format!("{method} {url} (reused from the history)");
    }
    if url.is_empty() && o.status == StepStatus::Passed {
        // A sub-chain step sends nothing itself.
        return format!("sub-chain → ok ({})", show_duration(o.elapsed));
    }
    if o.status == StepStatus::Skipped {
        let why = o.skipped_because.as_deref().unwrap_or("`when` is false");
        return format!("{method} (skipped: {why})");
    }
    let mut s = if url.is_empty() {
        format!("{method} (request not sent)")
    } else {
        // Dry-run placeholders (`<Step.field>`) read better unescaped.
        if url.contains("%3C") || url.contains("%3E") {
            format!("{method} {}", url.replace("%3C", "<").replace("%3E", ">"))
        } else {
            format!("{method} {url}")
        }
    };
    match (&o.response, o.status) {
        (_, StepStatus::DryRun) => s.push_str(" (dry run, not sent)"),
        (Some(_), StepStatus::Passed) if o.items.is_some() => {
            let n = o.items.unwrap_or(0);
            let items = if n == 1 { "item" } else { "items" };
            let _ = write!(s, " → {n} {items} ({}", show_duration(o.elapsed));
            let retries = o.attempts.saturating_sub(n as u32);
            if retries > 0 {
                let _ = write!(
                    s,
                    ", {retries} {}",
                    if retries == 1 { "retry" } else { "retries" }
                );
            }
            s.push(')');
        }
        (Some(r), _) => {
            let _ = write!(
                s,
                " → {} ({}",
                status_text(r.status),
                show_duration(o.elapsed)
            );
            let sent = o.pages.or(o.polls).unwrap_or(1);
            if let Some(p) = o.pages {
                let _ = write!(s, ", {p} {}", if p == 1 { "page" } else { "pages" });
            }
            if let Some(p) = o.polls {
                let _ = write!(s, ", {p} {}", if p == 1 { "poll" } else { "polls" });
            }
            if o.attempts > sent {
                let n = o.attempts - sent;
                let _ = write!(s, ", {n} {}", if n == 1 { "retry" } else { "retries" });
            }
            s.push(')');
        }
        (None, _) => {
            if let Some(e) = &o.error {
                let _ = write!(s, " → {}", e.short());
            }
        }
    }
    s
}

/// The one-screen explanation of why a run failed: which step, where it is
/// in the file, what was sent, what came back.
pub fn failure(chain: &ValidChain, report: &RunReport, redactor: &Redactor) -> Option<Diagnostic> {
    if let Some(e) = &report.output_error {
        let d = Diagnostic::new(format!("cannot render `output`: {}", e.message))
            .at(&chain.source, chain.spans.value("output"))
            .note(format!("template: {}", e.template));
        return Some(d);
    }
    // `finally` steps come after the others, as in the chain's plan.
    let (index, o) = report
        .steps
        .iter()
        .chain(&report.teardown)
        .enumerate()
        .find(|(_, s)| s.status == StepStatus::Failed && !s.continued)?;
    let step = chain.steps.get(index)?;
    let kind = if o.teardown { "finally step" } else { "step" };
    let headline = match &o.error {
        Some(StepError::Interrupted) => format!("{kind} `{}` was interrupted", o.name),
        Some(e) => match o.item {
            Some((i, n)) => format!(
                "{kind} `{}` failed on item {} of {n} (index {i}): {}",
                o.name,
                i + 1,
                e.summary()
            ),
            None => format!("{kind} `{}` failed: {}", o.name, e.summary()),
        },
        None => format!("{kind} `{}` failed", o.name),
    };
    // Point at what failed: the field whose template broke, the expectation
    // that did not hold, the extract that could not apply, the URL that did
    // not answer. `locate` falls back to the step when the field is not there.
    let field = match &o.error {
        Some(StepError::Render { field, .. }) => field.clone(),
        Some(StepError::Transport { .. }) | Some(StepError::Request(_)) => "url".into(),
        Some(StepError::Extract { name, .. }) => format!("extract.{name}"),
        Some(StepError::Auth(_)) => "auth".into(),
        Some(StepError::Poll { .. }) => "poll.until".into(),
        Some(StepError::Expectations { mismatches, .. }) => match mismatches.first() {
            Some(m) if !m.field.is_empty() => m.field.clone(),
            _ => "expect".into(),
        },
        _ => String::new(),
    };
    let loc = if field.is_empty() {
        step.loc
    } else if field == "auth" && chain.spans.value(&format!("{}.auth", step.path)).is_none() {
        // The step uses `defaults.auth`.
        chain.spans.value("defaults.auth").or(step.loc)
    } else {
        chain.locate(index, &field)
    };
    let mut d = Diagnostic::new(redactor.redact(&headline)).at(&chain.source, loc);
    if let Some(StepError::Expectations { mismatches, .. }) = &o.error
        && mismatches.len() > 1
    {
        for m in mismatches {
            d = d.note(redactor.redact(&format!(
                "{}: expected {}, got {}",
                m.what, m.expected, m.actual
            )));
        }
    }
    if let Some(StepError::Render { error, .. }) = &o.error {
        // Reading a step that was skipped, or failed and was continued past,
        // finds null: say so.
        for other in &report.steps {
            let unfinished = other.status == StepStatus::Skipped || other.continued;
            if unfinished && error.template.contains(other.name.as_str()) {
                let why = if other.continued {
                    "failed (`on_error: continue`)"
                } else {
                    "was skipped (`when` was false)"
                };
                d = d.note(format!(
                    "note: step `{}` {why}, so its result is null; guard with `{{% if not steps.{}.skipped %}}`, `steps.{}.error` or `| default(…)`",
                    other.name, other.name, other.name
                ));
            }
        }
    }
    match &o.error {
        Some(StepError::Transport { note: Some(n), .. })
        | Some(StepError::Expectations { note: Some(n), .. }) => {
            d = d.note(n.clone());
        }
        _ => {}
    }
    if let Some(StepError::Transport {
        error: TransportError::Tls(_),
        ..
    }) = &o.error
    {
        d = d.note(
            "help: if the server's certificate comes from a private CA, set tls.ca_cert to the \
             CA's PEM file (SSL_CERT_FILE also works, but replaces the system's CAs); \
             tls.client_cert and tls.client_key give a client certificate (mTLS)",
        );
    }
    if let Some(req) = &o.request {
        let attempts = if o.attempts > 1 {
            format!(" ({} attempts)", o.attempts)
        } else {
            String::new()
        };
        d = d.note(redactor.redact(&format!("request: {} {}{attempts}", req.method, req.url)));
    }
    if let Some(r) = &o.response {
        let ct = r
            .headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case("content-type"))
            .map(|(_, v)| format!("{v}, "))
            .unwrap_or_default();
        d = d.note(format!(
            "response: {} ({ct}{} bytes)",
            status_text(r.status),
            r.body_len
        ));
        let excerpt = body_excerpt(&r.body_excerpt);
        if !excerpt.is_empty() {
            d = d.note(redactor.redact(&excerpt));
        }
    }
    Some(d)
}

/// At most 10 lines / 600 characters of a body, indented.
fn body_excerpt(body: &str) -> String {
    let mut out = String::new();
    let mut total = 0;
    for (i, line) in body.lines().enumerate() {
        if i == 10 || total > 600 {
            out.push_str("\n    …");
            break;
        }
        let mut line: String = line.chars().take(160).collect();
        if line.len() < body.lines().nth(i).map_or(0, str::len) {
            line.push('…');
        }
        total += line.len();
        if i > 0 {
            out.push('\n');
        }
        out.push_str("    ");
        out.push_str(&line);
    }
    if out.trim().is_empty() {
        String::new()
    } else {
        format!("body:\n{out}")
    }
}
