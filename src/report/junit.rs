//! `--junit F`: the run as JUnit XML, the test-report format CI systems
//! show (GitLab, Jenkins, GitHub Actions reporters): one `<testsuite>` per
//! chain run (per `--data` row), one `<testcase>` per step.
//!
//! A step that failed is a `<failure>`, also when `on_error: continue` let
//! the chain go on: the step did fail, and the `--report` file lists it as
//! failed too. Steps that were skipped (`when` false), not run (an earlier
//! step failed) or only rendered (`--dry-run`) are `<skipped>`.

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use quick_xml::Writer;
use quick_xml::events::{BytesDecl, BytesEnd, BytesStart, BytesText, Event as Xml};

use crate::engine::check::status_text;
use crate::engine::{Event, Observer, RunReport, StepError, StepOutcome, StepStatus};
use crate::secret::Redactor;

/// How a step shows in JUnit.
#[derive(Debug, Clone)]
enum Verdict {
    Passed,
    Failed {
        message: String,
        kind: String,
        details: String,
    },
    Skipped(String),
}

#[derive(Debug, Clone)]
struct Case {
    name: String,
    time: Duration,
    verdict: Verdict,
}

#[derive(Debug, Clone)]
struct Suite {
    /// The `--data` row, for ordering (rows finish in any order).
    row: Option<usize>,
    name: String,
    chain: String,
    started: SystemTime,
    time: Duration,
    cases: Vec<Case>,
}

/// The suites of one `pytopus run`, shared by the observers of its runs.
#[derive(Clone, Default)]
pub struct JUnit {
    suites: Arc<Mutex<Vec<Suite>>>,
}

impl JUnit {
    pub fn new() -> Self {
        Self::default()
    }

    /// An observer for one run; `row` is its `--data` row, if any.
    pub fn observer(&self, row: Option<usize>) -> JUnitObserver {
        JUnitObserver {
            junit: self.clone(),
            row,
        }
    }

    /// The XML document, every known secret redacted.
    pub fn xml(&self, redactor: &Redactor) -> String {
        let mut suites = self.suites.lock().map(|s| s.clone()).unwrap_or_default();
        suites.sort_by_key(|s| s.row);
        let text = |s: &str| xml_safe(&redactor.redact(s));
        render(&suites, &text)
    }

    /// Writes the document to `path`, whole or not at all.
    pub fn write(&self, path: &Path, redactor: &Redactor) -> std::io::Result<()> {
        crate::files::write(path, self.xml(redactor).as_bytes())
    }
}

/// Turns one run's report into a suite.
pub struct JUnitObserver {
    junit: JUnit,
    row: Option<usize>,
}

impl Observer for JUnitObserver {
    fn on_event(&mut self, event: &Event<'_>) {
        if let Event::RunFinished { report } = event {
            let suite = suite(report, self.row);
            if let Ok(mut suites) = self.junit.suites.lock() {
                suites.push(suite);
            }
        }
    }
}

fn suite(report: &RunReport, row: Option<usize>) -> Suite {
    let name = match row {
        Some(n) => format!("{} [row {n}]", report.chain),
        None => report.chain.clone(),
    };
    Suite {
        row,
        name,
        chain: report.chain.clone(),
        started: report.started,
        time: report.elapsed,
        cases: report
            .steps
            .iter()
            .chain(&report.teardown)
            .map(case)
            .collect(),
    }
}

fn case(o: &StepOutcome) -> Case {
    let verdict = match o.status {
        StepStatus::Passed => Verdict::Passed,
        StepStatus::Skipped => Verdict::Skipped(match &o.skipped_because {
            Some(why) => why.clone(),
            None => "`when` was false".into(),
        }),
        StepStatus::NotRun => Verdict::Skipped("not run: an earlier step failed".into()),
        StepStatus::DryRun => Verdict::Skipped("dry run: rendered, not sent".into()),
        StepStatus::Failed => {
            let summary = o
                .error
                .as_ref()
                .map_or_else(|| "failed".to_string(), StepError::summary);
            let mut message = match o.item {
                Some((i, n)) => format!("item {} of {n} (index {i}): {summary}", i + 1),
                None => summary,
            };
            if o.continued {
                message.push_str(" (on_error: continue)");
            }
            Verdict::Failed {
                message,
                kind: o
                    .error
                    .as_ref()
                    .map_or("failed", StepError::kind)
                    .to_string(),
                details: details(o),
            }
        }
    };
    Case {
        // Teardown is told apart from the steps it cleans up after.
        name: if o.teardown {
            format!("finally: {}", o.name)
        } else {
            o.name.clone()
        },
        time: o.elapsed,
        verdict,
    }
}

/// The body of a `<failure>`: what was expected and what came, the request
/// and the response, as the terminal shows them.
fn details(o: &StepOutcome) -> String {
    let mut lines = Vec::new();
    if let Some(StepError::Expectations { mismatches, note }) = &o.error {
        for m in mismatches {
            lines.push(format!(
                "{}: expected {}, got {}",
                m.what, m.expected, m.actual
            ));
        }
        lines.extend(note.clone());
    }
    if let Some(StepError::Transport { error, note }) = &o.error {
        lines.push(error.to_string());
        lines.extend(note.clone());
    }
    if let Some(r) = &o.request {
        let attempts = if o.attempts > 1 {
            format!(" ({} attempts)", o.attempts)
        } else {
            String::new()
        };
        lines.push(format!("request: {} {}{attempts}", r.method, r.url));
    }
    if let Some(r) = &o.response {
        lines.push(format!(
            "response: {} ({} bytes)",
            status_text(r.status),
            r.body_len
        ));
        if !r.body_excerpt.trim().is_empty() {
            lines.push(r.body_excerpt.clone());
        }
    }
    lines.join("\n")
}

fn seconds(d: Duration) -> String {
    format!("{:.3}", d.as_secs_f64())
}

/// The document. `text` redacts and cleans every string from the run.
fn render(suites: &[Suite], text: &dyn Fn(&str) -> String) -> String {
    let count =
        |s: &Suite, f: fn(&Verdict) -> bool| s.cases.iter().filter(|c| f(&c.verdict)).count();
    let failed = |v: &Verdict| matches!(v, Verdict::Failed { .. });
    let skipped = |v: &Verdict| matches!(v, Verdict::Skipped(_));
    let tests: usize = suites.iter().map(|s| s.cases.len()).sum();
    let failures: usize = suites.iter().map(|s| count(s, failed)).sum();
    let skips: usize = suites.iter().map(|s| count(s, skipped)).sum();
    let time: Duration = suites.iter().map(|s| s.time).sum();

    let mut w = Writer::new_with_indent(Vec::new(), b' ', 2);
    // Writing to a Vec does not fail.
    let _ = w.write_event(Xml::Decl(BytesDecl::new("1.0", Some("UTF-8"), None)));
    let root = BytesStart::new("testsuites").with_attributes([
        ("name", "pytopus"),
        ("tests", tests.to_string().as_str()),
        ("failures", failures.to_string().as_str()),
        ("errors", "0"),
        ("skipped", skips.to_string().as_str()),
        ("time", seconds(time).as_str()),
    ]);
    let _ = w.write_event(Xml::Start(root));
    for (id, s) in suites.iter().enumerate() {
        let timestamp = humantime::format_rfc3339_seconds(s.started).to_string();
        let name = text(&s.name);
        let suite = BytesStart::new("testsuite").with_attributes([
            ("name", name.as_str()),
            ("id", id.to_string().as_str()),
            ("tests", s.cases.len().to_string().as_str()),
            ("failures", count(s, failed).to_string().as_str()),
            ("errors", "0"),
            ("skipped", count(s, skipped).to_string().as_str()),
            ("time", seconds(s.time).as_str()),
            ("timestamp", timestamp.as_str()),
        ]);
        let _ = w.write_event(Xml::Start(suite));
        let classname = text(&s.chain);
        for c in &s.cases {
            let name = text(&c.name);
            let case = BytesStart::new("testcase").with_attributes([
                ("classname", classname.as_str()),
                ("name", name.as_str()),
                ("time", seconds(c.time).as_str()),
            ]);
            match &c.verdict {
                Verdict::Passed => {
                    let _ = w.write_event(Xml::Empty(case));
                }
                Verdict::Skipped(why) => {
                    let _ = w.write_event(Xml::Start(case));
                    let why = text(why);
                    let skip =
                        BytesStart::new("skipped").with_attributes([("message", why.as_str())]);
                    let _ = w.write_event(Xml::Empty(skip));
                    let _ = w.write_event(Xml::End(BytesEnd::new("testcase")));
                }
                Verdict::Failed {
                    message,
                    kind,
                    details,
                } => {
                    let _ = w.write_event(Xml::Start(case));
                    // An attribute's line breaks would be read back as spaces.
                    let message = text(message).replace(['\n', '\r'], " ");
                    let failure = BytesStart::new("failure")
                        .with_attributes([("message", message.as_str()), ("type", kind.as_str())]);
                    let details = text(details);
                    if details.is_empty() {
                        let _ = w.write_event(Xml::Empty(failure));
                    } else {
                        let _ = w.write_event(Xml::Start(failure));
                        let _ = w.write_event(Xml::Text(BytesText::new(&details)));
                        let _ = w.write_event(Xml::End(BytesEnd::new("failure")));
                    }
                    let _ = w.write_event(Xml::End(BytesEnd::new("testcase")));
                }
            }
        }
        let _ = w.write_event(Xml::End(BytesEnd::new("testsuite")));
    }
    let _ = w.write_event(Xml::End(BytesEnd::new("testsuites")));
    let mut out = String::from_utf8_lossy(&w.into_inner()).into_owned();
    out.push('\n');
    out
}

/// `text` with the characters XML 1.0 cannot hold, even escaped (most
/// control characters, lone surrogates cannot occur in a `str`, U+FFFE and
/// U+FFFF), replaced by U+FFFD: a response body can contain anything.
fn xml_safe(text: &str) -> String {
    text.chars()
        .map(|c| match c {
            '\t' | '\n' | '\r' => c,
            '\u{0}'..='\u{1f}' | '\u{fffe}' | '\u{ffff}' => '\u{fffd}',
            c => c,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn characters_xml_cannot_hold_are_replaced() {
        assert_eq!(xml_safe("a\u{1}b\tc\n\u{ffff}"), "a\u{fffd}b\tc\n\u{fffd}");
        assert_eq!(xml_safe("plain <&> text"), "plain <&> text");
    }

    #[test]
    fn markup_in_names_and_messages_is_escaped() {
        let suites = [Suite {
            row: None,
            name: "a<b>&\"c'".into(),
            chain: "a<b>&\"c'".into(),
            started: SystemTime::UNIX_EPOCH,
            time: Duration::from_millis(1500),
            cases: vec![
                Case {
                    name: "Step\"1".into(),
                    time: Duration::from_millis(12),
                    verdict: Verdict::Failed {
                        message: "expected <b>\nand \"more\"".into(),
                        kind: "expectation".into(),
                        details: "body: </failure><x>&amp;".into(),
                    },
                },
                Case {
                    name: "Later".into(),
                    time: Duration::ZERO,
                    verdict: Verdict::Skipped("not run".into()),
                },
            ],
        }];
        let xml = render(&suites, &|s| xml_safe(s));
        assert!(
            xml.contains(r#"<testsuite name="a&lt;b&gt;&amp;&quot;c&apos;" id="0" tests="2" failures="1" errors="0" skipped="1" time="1.500" timestamp="1970-01-01T00:00:00Z">"#),
            "{xml}"
        );
        assert!(
            xml.contains(r#"<failure message="expected &lt;b&gt; and &quot;more&quot;" type="expectation">body: &lt;/failure&gt;&lt;x&gt;&amp;amp;</failure>"#),
            "{xml}"
        );
        assert!(xml.contains(r#"<testcase classname="a&lt;b&gt;&amp;&quot;c&apos;" name="Step&quot;1" time="0.012">"#), "{xml}");
        assert!(xml.starts_with("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites name=\"pytopus\" tests=\"2\" failures=\"1\" errors=\"0\" skipped=\"1\" time=\"1.500\">"), "{xml}");
    }
}
