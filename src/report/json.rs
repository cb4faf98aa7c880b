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
    to_json_with(report, |output| output.clone())
}

/// The report as JSON data, with the run's output as `output` makes it (the
/// history leaves out one that is too large to keep).
///
/// Built by moving values into maps: `json!` would copy every nested value
/// once more (it serialises its arguments), which for a 1000-step chain was
/// a fifth of the run's instructions.
pub fn to_json_with(report: &RunReport, output: impl Fn(&Value) -> Value) -> Value {
    object([
        ("chain", Value::from(report.chain.as_str())),
        ("file", Value::from(report.file.as_str())),
        ("status", Value::from(report.status.as_str())),
        ("dry_run", Value::from(report.dry_run)),
        (
            "started_at",
            Value::from(humantime::format_rfc3339_millis(report.started).to_string()),
        ),
        (
            "duration_ms",
            Value::from(report.elapsed.as_millis() as u64),
        ),
        (
            "steps",
            Value::Array(report.steps.iter().map(step_json).collect()),
        ),
        (
            "output",
            report.output.as_deref().map_or(Value::Null, output),
        ),
        (
            "output_error",
            report.output_error.as_ref().map_or(Value::Null, |e| {
                object([
                    ("message", Value::from(e.message.as_str())),
                    ("template", Value::from(e.template.as_str())),
                ])
            }),
        ),
    ])
}

fn object<const N: usize>(entries: [(&str, Value); N]) -> Value {
    Value::Object(
        entries
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect(),
    )
}

fn pairs(headers: &[(String, String)]) -> Value {
    Value::Array(
        headers
            .iter()
            .map(|(k, v)| Value::Array(vec![Value::from(k.as_str()), Value::from(v.as_str())]))
            .collect(),
    )
}

fn step_json(o: &StepOutcome) -> Value {
    let request = o.request.as_ref().map_or(Value::Null, |r| {
        object([
            ("method", Value::from(r.method.as_str())),
            ("url", Value::from(r.url.as_str())),
            ("headers", pairs(&r.headers)),
            (
                "body",
                r.body.as_ref().map_or(Value::Null, |b| {
                    Value::from(String::from_utf8_lossy(b).into_owned())
                }),
            ),
        ])
    });
    let response = o.response.as_ref().map_or(Value::Null, |r| {
        object([
            ("status", Value::from(r.status)),
            ("url", Value::from(r.url.as_str())),
            ("headers", pairs(&r.headers)),
            ("body_bytes", Value::from(r.body_len)),
            ("body_excerpt", Value::from(r.body_excerpt.as_str())),
        ])
    });
    object([
        ("name", Value::from(o.name.as_str())),
        ("status", Value::from(o.status.as_str())),
        ("attempts", Value::from(o.attempts)),
        ("elapsed_ms", Value::from(o.elapsed.as_millis() as u64)),
        ("request", request),
        ("response", response),
        (
            "outputs",
            Value::Object(
                o.outputs
                    .iter()
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect(),
            ),
        ),
        ("error", o.error.as_ref().map_or(Value::Null, error_json)),
        ("continued", Value::from(o.continued)),
    ])
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
            let value = to_json(report);
            let value = self.redactor.redact_json_cow(&value);
            let text = serde_json::to_string_pretty(&*value).unwrap_or_default() + "\n";
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
