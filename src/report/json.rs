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
    to_json_with(report, report.output.as_deref())
}

/// The report as JSON data, with `output` as the run's output (the history
/// passes `None` for one too large to keep).
pub fn to_json_with(report: &RunReport, output: Option<&Value>) -> Value {
    to_json_detail(report, output, Detail::Full)
}

/// How much of the passed steps a report keeps (the history trims the
/// reports of very long runs; failed steps always keep everything).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Detail {
    /// Everything.
    Full,
    /// Passed steps without their request and response body excerpt.
    NoRequests,
    /// Passed steps without request, excerpt and response headers.
    NoHeaders,
}

/// [`to_json_with`] at a level of detail; below `Full`, the report says
/// `"history_trimmed": true`.
pub fn to_json_detail(report: &RunReport, output: Option<&Value>, detail: Detail) -> Value {
    serde_json::to_value(ReportView::new(report, output, detail)).unwrap_or(Value::Null)
}

/// The same JSON as [`to_json_detail`], written straight to `w` by
/// serde_json: no `Value` tree is built, copied or freed. The history uses
/// it when no secret is known (with secrets, the `Value` path redacts
/// string by string). `no_excerpt` names the steps whose body excerpt is
/// left out (the history's stored results give it back).
pub fn write_json(
    w: impl std::io::Write,
    report: &RunReport,
    output: Option<&Value>,
    detail: Detail,
    no_excerpt: &[bool],
) -> serde_json::Result<()> {
    let mut view = ReportView::new(report, output, detail);
    view.steps.no_excerpt = no_excerpt;
    serde_json::to_writer(w, &view)
}

/// [`write_json`]'s text in three parts, for a report written a part at a
/// time (the history writes a long run's steps on two threads): the text
/// before the first step, and the text after the last; [`write_steps`]
/// writes what goes between. Together, byte for byte what `write_json`
/// writes.
pub fn report_frame(
    report: &RunReport,
    output: Option<&Value>,
    detail: Detail,
) -> serde_json::Result<(Vec<u8>, Vec<u8>)> {
    let mut view = ReportView::new(report, output, detail);
    view.steps.steps = &[];
    let mut text = serde_json::to_vec(&view)?;
    // The first `"steps":[]` is the key: in a string before it, a quote
    // is written `\"`.
    const EMPTY: &[u8] = b"\"steps\":[]";
    let at = text
        .windows(EMPTY.len())
        .position(|w| w == EMPTY)
        .map(|i| i + EMPTY.len() - 1)
        .ok_or_else(|| serde::ser::Error::custom("no steps in the report"))?;
    let after = text.split_off(at);
    Ok((text, after))
}

/// Steps `range` of the report, as [`write_json`] writes them in its list:
/// each after a comma but the run's first. `no_excerpt` is indexed like
/// the run's steps.
pub fn write_steps(
    mut w: impl std::io::Write,
    report: &RunReport,
    range: std::ops::Range<usize>,
    detail: Detail,
    no_excerpt: &[bool],
) -> serde_json::Result<()> {
    let all = StepsView {
        steps: &report.steps,
        detail,
        no_excerpt,
    };
    for i in range {
        let Some(o) = report.steps.get(i) else { break };
        if i > 0 {
            w.write_all(b",").map_err(serde_json::Error::io)?;
        }
        serde_json::to_writer(&mut w, &all.view(i, o))?;
    }
    Ok(())
}

/// About how many bytes the steps of [`write_json`] take at `detail`,
/// from up to 64 steps spread over the run (a long run's full report is
/// tens of MB: not worth writing to learn that it is too big).
pub fn estimate_steps_bytes(report: &RunReport, detail: Detail) -> usize {
    let n = report.steps.len();
    if n == 0 {
        return 0;
    }
    let samples = n.min(64);
    let mut bytes = 0;
    for k in 0..samples {
        let step = &report.steps[k * n / samples];
        bytes += serde_json::to_vec(&StepView::new(step, detail)).map_or(0, |v| v.len() + 1);
    }
    bytes * n / samples
}

#[derive(serde::Serialize)]
struct ReportView<'a> {
    chain: &'a str,
    file: &'a str,
    status: &'a str,
    dry_run: bool,
    started_at: String,
    duration_ms: u64,
    steps: StepsView<'a>,
    /// The `finally` steps (absent when the chain has none).
    #[serde(skip_serializing_if = "is_empty")]
    teardown: StepsView<'a>,
    output: Option<&'a Value>,
    output_error: Option<OutputErrorView<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    history_trimmed: Option<bool>,
}

#[derive(serde::Serialize)]
struct OutputErrorView<'a> {
    message: &'a str,
    template: &'a str,
}

#[derive(serde::Serialize)]
struct StepView<'a> {
    name: &'a str,
    status: &'a str,
    attempts: u32,
    elapsed_ms: u64,
    /// `None` when trimmed away (not even `null` is written).
    #[serde(skip_serializing_if = "Option::is_none")]
    request: Option<Option<RequestView<'a>>>,
    response: Option<ResponseView<'a>>,
    outputs: &'a indexmap::IndexMap<String, Value>,
    error: Option<Value>,
    continued: bool,
}

#[derive(serde::Serialize)]
struct RequestView<'a> {
    method: &'a str,
    url: &'a str,
    headers: Masked<'a>,
    body: Option<std::borrow::Cow<'a, str>>,
}

/// Headers as `[name, value]` pairs, credentials as `***`
/// ([`crate::secret::header_value`]).
#[derive(Clone, Copy)]
enum Masked<'a> {
    Pairs(&'a [(String, String)]),
    Received(&'a crate::transport::Headers),
}

impl serde::Serialize for Masked<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        // A pair is written as the two-element array `[name, value]`.
        fn pair<'h>((k, v): (&'h str, &'h str)) -> (&'h str, std::borrow::Cow<'h, str>) {
            (k, crate::secret::header_value(k, v))
        }
        match self {
            Masked::Pairs(list) => {
                s.collect_seq(list.iter().map(|(k, v)| pair((k.as_str(), v.as_str()))))
            }
            Masked::Received(h) => s.collect_seq(h.entries().map(pair)),
        }
    }
}

#[derive(serde::Serialize)]
struct ResponseView<'a> {
    status: u16,
    url: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    headers: Option<Masked<'a>>,
    body_bytes: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    body_excerpt: Option<&'a str>,
}

impl<'a> ReportView<'a> {
    fn new(report: &'a RunReport, output: Option<&'a Value>, detail: Detail) -> Self {
        ReportView {
            chain: &report.chain,
            file: &report.file,
            status: report.status.as_str(),
            dry_run: report.dry_run,
            started_at: humantime::format_rfc3339_millis(report.started).to_string(),
            duration_ms: report.elapsed.as_millis() as u64,
            steps: StepsView {
                steps: &report.steps,
                detail,
                no_excerpt: &[],
            },
            teardown: StepsView {
                steps: &report.teardown,
                detail,
                no_excerpt: &[],
            },
            output,
            output_error: report.output_error.as_ref().map(|e| OutputErrorView {
                message: &e.message,
                template: &e.template,
            }),
            history_trimmed: (detail != Detail::Full).then_some(true),
        }
    }
}

fn is_empty(v: &StepsView<'_>) -> bool {
    v.steps.is_empty()
}

/// The steps, each viewed as it is written: a 1000-step report does not
/// hold 1000 views at once (260 KB at the history's peak).
struct StepsView<'a> {
    steps: &'a [StepOutcome],
    detail: Detail,
    /// Steps written without their body excerpt.
    no_excerpt: &'a [bool],
}

impl serde::Serialize for StepsView<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.steps.iter().enumerate().map(|(i, o)| self.view(i, o)))
    }
}

impl<'a> StepsView<'a> {
    /// Step `i`, `o`, as the list shows it.
    fn view(&self, i: usize, o: &'a StepOutcome) -> StepView<'a> {
        let mut view = StepView::new(o, self.detail);
        if self.no_excerpt.get(i).copied().unwrap_or(false)
            && let Some(r) = &mut view.response
        {
            r.body_excerpt = None;
        }
        view
    }
}

impl<'a> StepView<'a> {
    fn new(o: &'a StepOutcome, detail: Detail) -> Self {
        // Failed steps keep everything, whatever the detail.
        let detail = if o.status == crate::engine::StepStatus::Failed {
            Detail::Full
        } else {
            detail
        };
        StepView {
            name: &o.name,
            status: o.status.as_str(),
            attempts: o.attempts,
            elapsed_ms: o.elapsed.as_millis() as u64,
            request: (detail == Detail::Full).then(|| {
                o.request.as_ref().map(|r| RequestView {
                    method: &r.method,
                    url: &r.url,
                    headers: Masked::Pairs(&r.headers),
                    body: r.body.as_ref().map(|b| b.shown_text()),
                })
            }),
            response: o.response.as_ref().map(|r| ResponseView {
                status: r.status,
                url: &r.url,
                headers: (detail != Detail::NoHeaders).then_some(Masked::Received(&r.headers)),
                body_bytes: r.body_len,
                body_excerpt: (detail == Detail::Full).then_some(r.body_excerpt.as_str()),
            }),
            outputs: &o.outputs,
            error: o.error.as_ref().map(error_json),
            continued: o.continued,
        }
    }
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
            if let Err(e) = crate::files::write(&self.path, text.as_bytes()) {
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

/// Keeps the run's report as JSON data when the run finishes, for a driver
/// that puts it somewhere else than a file of its own: each row's entry of
/// the `--data` report, the `report` of a run `serve` answers with. Not
/// redacted here: the driver redacts it when it writes it, with every
/// secret known by then.
#[derive(Default)]
pub struct Collect(Arc<std::sync::Mutex<Option<Value>>>);

impl Collect {
    pub fn new() -> Self {
        Collect::default()
    }

    /// A second handle on the same report, to read it after the run.
    pub fn handle(&self) -> Collect {
        Collect(Arc::clone(&self.0))
    }

    /// The report, once the run has finished (`None` before).
    pub fn take(&self) -> Option<Value> {
        self.0.lock().ok().and_then(|mut v| v.take())
    }
}

impl Observer for Collect {
    fn on_event(&mut self, event: &Event<'_>) {
        if let Event::RunFinished { report } = event
            && let Ok(mut slot) = self.0.lock()
        {
            *slot = Some(to_json(report));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::{Mismatch, ResponseInfo, RunStatus, StepStatus};
    use crate::transport::HttpRequest;

    fn to_json_text(report: &RunReport, output: Option<&Value>, detail: Detail) -> String {
        let mut text = Vec::new();
        write_json(&mut text, report, output, detail, &[]).unwrap();
        String::from_utf8(text).unwrap()
    }

    /// What the history writes is the report `to_json` builds, byte for
    /// byte, with passed steps trimmed at the lower details.
    #[test]
    fn the_text_written_is_the_report_and_trims_passed_steps() {
        let mut passed = StepOutcome::not_run("Get \"users\"");
        passed.status = StepStatus::Passed;
        passed.attempts = 2;
        passed.elapsed = std::time::Duration::from_millis(1234);
        passed.request = Some(HttpRequest {
            method: "POST".into(),
            url: "http://api.test/u?q=é".into(),
            parsed_url: None,
            headers: vec![
                ("accept".into(), "application/json".into()),
                (
                    "x-odd".into(),
                    "tab\there \"quoted\" back\\slash \u{1}\u{7f} é😀".into(),
                ),
            ],
            body: Some(crate::transport::Body::Bytes(b"{\"a\":\n1}\xff".to_vec())),
            timeout: std::time::Duration::from_secs(1),
            follow_redirects: true,
            body_limit: crate::transport::DEFAULT_BODY_LIMIT,
            tls: None,
        });
        passed.response = Some(ResponseInfo {
            status: 201,
            headers: vec![("x-a".into(), "1".into()), ("x-a".into(), "2".into())].into(),
            body_excerpt: "{\"id\": 7,\r\n \"note\": \"a\\tb\\u0001\"} …".into(),
            body_len: 12_345_678_901,
            url: "http://api.test/u".into(),
            json_error: None,
        });
        passed.outputs.insert("id".into(), serde_json::json!(7));
        passed
            .outputs
            .insert("tags".into(), serde_json::json!(["a", {"b": null}]));
        let mut failed = StepOutcome::not_run("Check");
        failed.status = StepStatus::Failed;
        failed.continued = true;
        failed.error = Some(StepError::Expectations {
            mismatches: vec![Mismatch {
                field: String::new(),
                what: "$.name".into(),
                expected: "\"Ann\"".into(),
                actual: "\"Bob\"".into(),
            }],
            note: None,
        });
        let report = RunReport {
            chain: "c".into(),
            file: "/tmp/c.yaml".into(),
            status: RunStatus::Failed,
            dry_run: false,
            steps: vec![passed, failed, StepOutcome::not_run("Never")],
            teardown: Vec::new(),
            output: Some(Arc::new(serde_json::json!({"x": [1, 2.5, "three"]}))),
            output_error: Some(crate::template::TemplateError {
                message: "undefined value `x`".into(),
                template: "{{ x }}".into(),
                help: None,
            }),
            started: std::time::SystemTime::UNIX_EPOCH
                + std::time::Duration::from_secs(1_700_000_000),
            elapsed: std::time::Duration::from_millis(5),
        };
        assert_eq!(
            to_json_text(&report, report.output.as_deref(), Detail::Full),
            to_json(&report).to_string()
        );
        assert_eq!(
            to_json_text(&report, None, Detail::Full),
            to_json_with(&report, None).to_string()
        );
        for detail in [Detail::NoRequests, Detail::NoHeaders] {
            let text = to_json_text(&report, None, detail);
            assert_eq!(text, to_json_detail(&report, None, detail).to_string());
            let v: Value = serde_json::from_str(&text).unwrap();
            assert_eq!(v["history_trimmed"], true);
            // The passed step loses its details, the failed one keeps them.
            assert!(v["steps"][0].get("request").is_none());
            assert!(v["steps"][0]["response"].get("body_excerpt").is_none());
            assert_eq!(
                v["steps"][0]["response"].get("headers").is_none(),
                detail == Detail::NoHeaders
            );
            assert!(v["steps"][1].get("request").is_some());
        }
        assert!(to_json(&report).get("history_trimmed").is_none());
        let full = to_json_text(&report, None, Detail::Full);
        // Every step sampled when there are few: the estimate is exact.
        let steps_text = serde_json::to_string(&Value::from(
            to_json(&report)["steps"].as_array().unwrap().clone(),
        ))
        .unwrap();
        assert_eq!(
            estimate_steps_bytes(&report, Detail::Full),
            steps_text.len() - 1
        );
        assert!(full.len() > estimate_steps_bytes(&report, Detail::Full));
    }
}
