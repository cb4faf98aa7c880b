//! `--report F`: a JSON record of the run — every step's request (secrets
//! redacted), status, attempts, timings, outputs and error.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use serde_json::{Value, json};

use crate::engine::{Event, Observer, RunReport, StepError, StepOutcome};
use crate::secret::Redactor;

/// Writes the report file when the run finishes.
pub struct JsonReport {
    path: PathBuf,
    redactor: Redactor,
    /// Set when the file could not be written, so the run can exit non-zero.
    failed: Arc<AtomicBool>,
}

impl JsonReport {
    pub fn new(path: PathBuf, redactor: Redactor, failed: Arc<AtomicBool>) -> Self {
        JsonReport {
            path,
            redactor,
            failed,
        }
    }
}

/// The report as JSON data.
pub fn to_json(report: &RunReport) -> Value {
    json!({
        "chain": report.chain,
        "file": report.file,
        "status": report.status.as_str(),
        "dry_run": report.dry_run,
        "started_at": humantime::format_rfc3339_millis(report.started).to_string(),
        "duration_ms": report.elapsed.as_millis() as u64,
        "steps": report.steps.iter().map(step_json).collect::<Vec<_>>(),
        "output": report.output.as_deref(),
        "output_error": report.output_error.as_ref().map(|e| json!({"message": e.message, "template": e.template})),
    })
}

fn step_json(o: &StepOutcome) -> Value {
    let request = o.request.as_ref().map(|r| {
        json!({
            "method": r.method,
            "url": r.url,
            "headers": r.headers.iter().map(|(k, v)| json!([k, v])).collect::<Vec<_>>(),
            "body": r.body.as_ref().map(|b| String::from_utf8_lossy(b).into_owned()),
        })
    });
    let response = o.response.as_ref().map(|r| {
        json!({
            "status": r.status,
            "url": r.url,
            "headers": r.headers.iter().map(|(k, v)| json!([k, v])).collect::<Vec<_>>(),
            "body_bytes": r.body_len,
            "body_excerpt": r.body_excerpt,
        })
    });
    json!({
        "name": o.name,
        "status": o.status.as_str(),
        "attempts": o.attempts,
        "elapsed_ms": o.elapsed.as_millis() as u64,
        "request": request,
        "response": response,
        "outputs": o.outputs,
        "error": o.error.as_ref().map(error_json),
        "continued": o.continued,
    })
}

fn error_json(e: &StepError) -> Value {
    let mut v = json!({"kind": e.kind(), "message": e.summary()});
    if let StepError::Expectations { mismatches, .. } = e {
        v["mismatches"] = mismatches
            .iter()
            .map(|m| json!({"what": m.what, "expected": m.expected, "actual": m.actual}))
            .collect();
    }
    v
}

impl Observer for JsonReport {
    fn on_event(&mut self, event: &Event<'_>) {
        if let Event::RunFinished { report } = event {
            let value = self.redactor.redact_json(&to_json(report));
            let text = serde_json::to_string_pretty(&value).unwrap_or_default() + "\n";
            let tmp = self.path.with_extension("pytopus-partial");
            if let Err(e) =
                std::fs::write(&tmp, text).and_then(|()| std::fs::rename(&tmp, &self.path))
            {
                // Say so, and let the CLI fail the run: a CI job must not pass without its report.
                super::to_stderr(&format!(
                    "error: cannot write the report to {}: {e}\n",
                    self.path.display()
                ));
                self.failed.store(true, Ordering::Relaxed);
            }
        }
    }
}
