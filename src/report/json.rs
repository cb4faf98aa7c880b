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

/// The same JSON as [`to_json_detail`], written straight to `w`: no `Value`
/// tree is built, copied or freed. The history uses it when no secret is
/// known (with secrets, the `Value` path redacts string by string).
///
/// Written here rather than by serde_json's serializer, whose string
/// escaping looks at one byte at a time: a 1000-step report is a megabyte
/// of strings (body excerpts, headers, URLs), and their escaping was 10 M
/// instructions of a 1000-step run (bench/README.md, session 10). The text
/// is serde_json's, byte for byte (tested against the `Value` path).
pub fn write_json(
    w: impl std::io::Write,
    report: &RunReport,
    output: Option<&Value>,
    detail: Detail,
    // Steps whose body excerpt is left out (the history's results give it back).
    no_excerpt: &[bool],
) -> serde_json::Result<()> {
    let view = ReportView::new(report, output, detail);
    let mut out = Out(w);
    out.raw(b"{\"chain\":")?;
    out.str(view.chain)?;
    out.raw(b",\"file\":")?;
    out.str(view.file)?;
    out.raw(b",\"status\":")?;
    out.str(view.status)?;
    out.raw(if view.dry_run {
        b",\"dry_run\":true,\"started_at\":"
    } else {
        b",\"dry_run\":false,\"started_at\":"
    })?;
    out.str(&view.started_at)?;
    out.raw(b",\"duration_ms\":")?;
    out.num(view.duration_ms)?;
    out.raw(b",\"steps\":[")?;
    for (i, step) in report.steps.iter().enumerate() {
        if i > 0 {
            out.raw(b",")?;
        }
        let mut view = StepView::new(step, detail);
        if no_excerpt.get(i).copied().unwrap_or(false)
            && let Some(r) = &mut view.response
        {
            r.body_excerpt = None;
        }
        out.step(&view)?;
    }
    out.raw(b"],\"output\":")?;
    out.value(&view.output)?;
    out.raw(b",\"output_error\":")?;
    match &view.output_error {
        None => out.raw(b"null")?,
        Some(e) => {
            out.raw(b"{\"message\":")?;
            out.str(e.message)?;
            out.raw(b",\"template\":")?;
            out.str(e.template)?;
            out.raw(b"}")?;
        }
    }
    if view.history_trimmed.is_some() {
        out.raw(b",\"history_trimmed\":true")?;
    }
    out.raw(b"}")
}

/// A high bit for each byte of `x` that JSON escapes (a quote, a backslash
/// or a byte below 0x20). The lowest one set is always exact; those above it may not be,
/// so callers only trust the first.
fn escapes(x: u64) -> u64 {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let zero = |x: u64| x.wrapping_sub(ONES) & !x & HIGH;
    let control = x.wrapping_sub(ONES * 0x20) & !x & HIGH;
    control | zero(x ^ (ONES * u64::from(b'"'))) | zero(x ^ (ONES * u64::from(b'\\')))
}

/// Whether any byte of `bytes` needs an escape in a JSON string.
fn needs_escape(bytes: &[u8]) -> bool {
    let mut words = bytes.chunks_exact(8);
    for w in &mut words {
        if escapes(u64::from_le_bytes(w.try_into().unwrap_or_default())) != 0 {
            return true;
        }
    }
    words
        .remainder()
        .iter()
        .any(|&b| b < 0x20 || b == b'"' || b == b'\\')
}

/// Compact JSON text, as serde_json writes it.
struct Out<W>(W);

impl<W: std::io::Write> Out<W> {
    fn raw(&mut self, text: &[u8]) -> serde_json::Result<()> {
        self.0.write_all(text).map_err(serde_json::Error::io)
    }

    fn num(&mut self, n: impl itoa::Integer) -> serde_json::Result<()> {
        self.raw(itoa::Buffer::new().format(n).as_bytes())
    }

    fn value<T: serde::Serialize + ?Sized>(&mut self, v: &T) -> serde_json::Result<()> {
        serde_json::to_writer(&mut self.0, v)
    }

    fn pairs<'p>(
        &mut self,
        pairs: impl Iterator<Item = (&'p str, &'p str)>,
    ) -> serde_json::Result<()> {
        self.raw(b"[")?;
        for (i, (k, v)) in pairs.enumerate() {
            self.raw(if i == 0 { b"[" } else { b",[" })?;
            self.str(k)?;
            self.raw(b",")?;
            self.str(v)?;
            self.raw(b"]")?;
        }
        self.raw(b"]")
    }

    /// A JSON string: `"` and `\` escaped, control characters as `\n`,
    /// `\t`… or `\u00XX`, everything else as it is. The text is gathered
    /// in a buffer on the stack, eight bytes at a time: each word is copied
    /// whole, and only the bytes before the first one needing an escape
    /// are kept, so JSON bodies (a quote every few bytes) cost no call per
    /// quote.
    fn str(&mut self, s: &str) -> serde_json::Result<()> {
        /// The buffer is written out past this; above it there is room
        /// for a word, the longest escape and the closing quote.
        const FILL: usize = 256;
        let bytes = s.as_bytes();
        // Most strings of a report (names, URLs, header names and values)
        // need no escape: checked a word at a time and written as they are,
        // without the buffer's setup and the copy into it.
        if !needs_escape(bytes) {
            self.raw(b"\"")?;
            self.raw(bytes)?;
            return self.raw(b"\"");
        }
        let mut buf = [0u8; FILL + 8 + 6 + 1];
        buf[0] = b'"';
        let (mut n, mut i) = (1, 0);
        while i < bytes.len() {
            if n > FILL {
                self.raw(&buf[..n])?;
                n = 0;
            }
            // The next eight bytes; at the end, the string's last eight
            // shifted down past those already written (strings shorter
            // than a word go byte by byte).
            let word = match bytes.get(i..i + 8) {
                Some(w) => Some((w, 0)),
                None => bytes
                    .len()
                    .checked_sub(8)
                    .map(|from| (&bytes[from..], 8 - (bytes.len() - i))),
            };
            if let Some((word, skip)) = word {
                let x = u64::from_le_bytes(word.try_into().unwrap_or_default()) >> (8 * skip);
                let real = 8 - skip;
                let hits = escapes(x) & (u64::MAX >> (8 * skip));
                buf[n..n + 8].copy_from_slice(&x.to_le_bytes());
                if hits == 0 {
                    n += real;
                    i += real;
                    continue;
                }
                let k = (hits.trailing_zeros() / 8) as usize;
                n += k;
                i += k;
            }
            let b = bytes[i];
            i += 1;
            let short: &[u8; 2] = match b {
                b'"' => b"\\\"",
                b'\\' => b"\\\\",
                b'\n' => b"\\n",
                b'\t' => b"\\t",
                b'\r' => b"\\r",
                0x08 => b"\\b",
                0x0c => b"\\f",
                0..0x20 => {
                    const HEX: &[u8; 16] = b"0123456789abcdef";
                    buf[n..n + 6].copy_from_slice(&[
                        b'\\',
                        b'u',
                        b'0',
                        b'0',
                        HEX[usize::from(b >> 4)],
                        HEX[usize::from(b & 15)],
                    ]);
                    n += 6;
                    continue;
                }
                _ => {
                    buf[n] = b;
                    n += 1;
                    continue;
                }
            };
            buf[n..n + 2].copy_from_slice(short);
            n += 2;
        }
        buf[n] = b'"';
        self.raw(&buf[..n + 1])
    }

    fn step(&mut self, step: &StepView<'_>) -> serde_json::Result<()> {
        self.raw(b"{\"name\":")?;
        self.str(step.name)?;
        self.raw(b",\"status\":")?;
        self.str(step.status)?;
        self.raw(b",\"attempts\":")?;
        self.num(step.attempts)?;
        self.raw(b",\"elapsed_ms\":")?;
        self.num(step.elapsed_ms)?;
        match &step.request {
            None => {}
            Some(None) => self.raw(b",\"request\":null")?,
            Some(Some(r)) => {
                self.raw(b",\"request\":{\"method\":")?;
                self.str(r.method)?;
                self.raw(b",\"url\":")?;
                self.str(r.url)?;
                self.raw(b",\"headers\":")?;
                self.pairs(r.headers.iter().map(|(k, v)| (k.as_str(), v.as_str())))?;
                self.raw(b",\"body\":")?;
                match &r.body {
                    Some(b) => self.str(b)?,
                    None => self.raw(b"null")?,
                }
                self.raw(b"}")?;
            }
        }
        match &step.response {
            None => self.raw(b",\"response\":null")?,
            Some(r) => {
                self.raw(b",\"response\":{\"status\":")?;
                self.num(r.status)?;
                self.raw(b",\"url\":")?;
                self.str(r.url)?;
                if let Some(h) = r.headers {
                    self.raw(b",\"headers\":")?;
                    self.pairs(h.entries())?;
                }
                self.raw(b",\"body_bytes\":")?;
                self.num(r.body_bytes)?;
                if let Some(e) = r.body_excerpt {
                    self.raw(b",\"body_excerpt\":")?;
                    self.str(e)?;
                }
                self.raw(b"}")?;
            }
        }
        self.raw(b",\"outputs\":")?;
        if step.outputs.is_empty() {
            self.raw(b"{}")?;
        } else {
            self.value(step.outputs)?;
        }
        self.raw(b",\"error\":")?;
        self.value(&step.error)?;
        self.raw(if step.continued {
            b",\"continued\":true}"
        } else {
            b",\"continued\":false}"
        })
    }
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
    headers: &'a [(String, String)],
    body: Option<std::borrow::Cow<'a, str>>,
}

#[derive(serde::Serialize)]
struct ResponseView<'a> {
    status: u16,
    url: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    headers: Option<&'a crate::transport::Headers>,
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

/// The steps, each viewed as it is written: a 1000-step report does not
/// hold 1000 views at once (260 KB at the history's peak).
struct StepsView<'a> {
    steps: &'a [StepOutcome],
    detail: Detail,
}

impl serde::Serialize for StepsView<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.steps.iter().map(|o| StepView::new(o, self.detail)))
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
                    headers: &r.headers,
                    body: r.body.as_ref().map(|b| String::from_utf8_lossy(b)),
                })
            }),
            response: o.response.as_ref().map(|r| ResponseView {
                status: r.status,
                url: &r.url,
                headers: (detail != Detail::NoHeaders).then_some(&r.headers),
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

    /// Strings are escaped as serde_json escapes them: every ASCII
    /// character at every position of strings around the 8-byte words the
    /// escaping reads, and text beyond ASCII. Each length is tried with
    /// nothing to escape (written as it is) and with one escape (through
    /// the buffer).
    #[test]
    fn strings_are_escaped_like_serde_json() {
        let mut cases: Vec<String> = Vec::new();
        for len in 0..20 {
            for at in 0..len.max(1) {
                for c in (0u8..0x80)
                    .map(char::from)
                    .chain(['é', '€', '😀', '\u{2028}'])
                {
                    let mut text: String = "abcdefghijklmnopqrstuvwxyz"[..len].into();
                    if len > 0 {
                        text.replace_range(at..at + 1, c.encode_utf8(&mut [0; 4]));
                    }
                    cases.push(text);
                }
            }
        }
        cases.push("{\"id\": 7,\n\t\"path\": \"C:\\\\x\"}\r\n\u{0}\u{1f}\u{7f}".into());
        cases.push("\"".repeat(17));
        cases.push("\u{1}".repeat(9));
        // Longer than the buffer the text is gathered in, whatever its
        // escapes: written out in several pieces.
        for unit in [
            "a",
            "\"",
            "\u{1}",
            "é",
            "ab\"cd\\efgh\n",
            "{\"id\": 1, \"tags\": [\"x\"]}\n",
        ] {
            for count in [37, 255, 256, 257, 1000] {
                cases.push(unit.repeat(count));
                cases.push(format!("x{}", unit.repeat(count)));
            }
        }
        for text in cases {
            let mut out = Out(Vec::new());
            out.str(&text).unwrap();
            assert_eq!(
                String::from_utf8(out.0).unwrap(),
                serde_json::to_string(&text).unwrap(),
                "{text:?}"
            );
        }
    }

    /// The history's fast path writes what `to_json` would, byte for byte.
    #[test]
    fn the_text_writer_agrees_with_the_value_builder() {
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
            body: Some(b"{\"a\":\n1}\xff".to_vec()),
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
            output: Some(Arc::new(serde_json::json!({"x": [1, 2.5, "three"]}))),
            output_error: Some(crate::template::TemplateError {
                message: "undefined value `x`".into(),
                template: "{{ x }}".into(),
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
