//! Observers of the engine's events: live progress on a terminal, a plain log
//! off one, and the JSON report. Also the rendering of a failed step, which
//! every front end shares.

pub mod json;
pub mod plain;
pub mod progress;

use std::fmt::Write as _;

use crate::chain::ValidChain;
use crate::diagnostic::Diagnostic;
use crate::engine::check::status_text;
use crate::engine::{RunReport, StepError, StepOutcome, StepStatus, show_duration};
use crate::secret::Redactor;

/// How much a person wants to see.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Verbosity {
    Quiet,
    Normal,
    Verbose,
}

/// `GET https://… → 200 OK (12ms, 2 retries)` for a finished step.
pub fn step_summary(method: &str, url: &str, o: &StepOutcome) -> String {
    let mut s = if url.is_empty() {
        format!("{method} (request not sent)")
    } else {
        format!("{method} {url}")
    };
    match (&o.response, o.status) {
        (_, StepStatus::DryRun) => s.push_str(" (dry run, not sent)"),
        (Some(r), _) => {
            let _ = write!(
                s,
                " → {} ({}",
                status_text(r.status),
                show_duration(o.elapsed)
            );
            if o.attempts > 1 {
                let n = o.attempts - 1;
                let _ = write!(s, ", {n} {}", if n == 1 { "retry" } else { "retries" });
            }
            s.push(')');
        }
        (None, _) => {
            if let Some(e) = &o.error {
                let _ = write!(s, " → {} error", e.kind());
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
            .note(format!("template: {}", e.template));
        return Some(d);
    }
    let (index, o) = report
        .steps
        .iter()
        .enumerate()
        .find(|(_, s)| s.status == StepStatus::Failed)?;
    let step = &chain.steps[index];
    let headline = match &o.error {
        Some(StepError::Interrupted) => format!("step `{}` was interrupted", o.name),
        Some(e) => format!("step `{}` failed: {}", o.name, e.summary()),
        None => format!("step `{}` failed", o.name),
    };
    let loc = match &o.error {
        // Point at the field whose template failed, when the step wrote it.
        Some(StepError::Render { field, .. }) => chain.locate(index, field),
        _ => step.loc,
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
    match &o.error {
        Some(StepError::Transport { note: Some(n), .. })
        | Some(StepError::Expectations { note: Some(n), .. }) => {
            d = d.note(n.clone());
        }
        _ => {}
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
        let line: String = line.chars().take(160).collect();
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
