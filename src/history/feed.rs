//! The history record written on a second thread while the run goes on.
//!
//! Serialising and compressing a long run's record took a seventh of a
//! 1000-step run, all of it after the last request (bench/README.md,
//! session 10). Here each step is handed over as it finishes and written
//! while the run waits for its next response; when the run ends only the
//! few fields around the steps are left. The text is the one
//! [`super::History::record`] writes after the run, byte for byte. Where it
//! could not be, the thread gives up and the run's end writes the record
//! as before ([`Pending::wait`] says so):
//! - a step finished out of order (`parallel: auto`), or was not reported;
//! - a secret became known after some steps were written (an OAuth2 token
//!   fetched mid-run): those steps were redacted without it;
//! - the report passed its size limit at the level of detail chosen.

use std::io::Write;
use std::sync::mpsc;
use std::thread::JoinHandle;

use super::{Gz, History, MAX_REPORT_BYTES, MAX_RESULT_BYTES, kept_output, stored_result};
use crate::engine::{Event, Observer, RunReport, StepOutcome, StepResult};
use crate::report::json::{Detail, step_bytes, write_head, write_step, write_tail};
use crate::secret::Redactor;

/// Steps sent to the thread at once: one wake-up per batch.
const BATCH: usize = 32;

/// Steps whose size chooses a long run's level of detail (as many as
/// [`crate::report::json::estimate_steps_bytes`] samples).
const SAMPLE: usize = 64;

enum Message {
    /// The run starts, with this many steps.
    Start(usize),
    Steps(Vec<StepOutcome>),
    /// The run is over: its report without its steps (those not sent yet
    /// excepted).
    Finish(Box<RunReport>),
    /// The record cannot be written here.
    GiveUp,
}

/// The observer that hands the steps over.
pub struct Feed {
    to_writer: mpsc::Sender<Message>,
    batch: Vec<StepOutcome>,
    /// The index the next finished step must have.
    next: usize,
    gave_up: bool,
}

/// The thread writing the record.
pub struct Pending(Option<JoinHandle<Option<Result<i64, String>>>>);

impl Feed {
    /// Starts the thread; it opens the database while the run starts.
    pub fn start(path: String, content_hash: String, redactor: Redactor) -> (Feed, Pending) {
        let (to_writer, from_feed) = mpsc::channel();
        let thread = std::thread::Builder::new()
            .name("history".into())
            .spawn(move || write_record(&from_feed, &path, &content_hash, redactor));
        let feed = Feed {
            to_writer,
            batch: Vec::with_capacity(BATCH),
            next: 0,
            gave_up: thread.is_err(),
        };
        (feed, Pending(thread.ok()))
    }

    fn give_up(&mut self) {
        self.gave_up = true;
        self.batch = Vec::new();
        let _ = self.to_writer.send(Message::GiveUp);
    }

    fn send_batch(&mut self) {
        if !self.batch.is_empty() {
            let batch = std::mem::replace(&mut self.batch, Vec::with_capacity(BATCH));
            let _ = self.to_writer.send(Message::Steps(batch));
        }
    }
}

impl Observer for Feed {
    fn on_event(&mut self, event: &Event<'_>) {
        if self.gave_up {
            return;
        }
        match event {
            Event::RunStarted { chain, .. } => {
                let _ = self.to_writer.send(Message::Start(chain.steps.len()));
            }
            Event::StepFinished { index, outcome, .. } => {
                if *index != self.next {
                    return self.give_up();
                }
                self.next += 1;
                self.batch.push((*outcome).clone());
                if self.batch.len() >= BATCH {
                    self.send_batch();
                }
            }
            Event::RunFinished { report } => {
                self.send_batch();
                let frame = frame(report, self.next);
                let _ = self.to_writer.send(Message::Finish(Box::new(frame)));
                self.gave_up = true;
            }
            _ => {}
        }
    }
}

/// The report without the steps before `from` (those sent already).
fn frame(report: &RunReport, from: usize) -> RunReport {
    RunReport {
        chain: report.chain.clone(),
        file: report.file.clone(),
        status: report.status,
        dry_run: report.dry_run,
        steps: report.steps.get(from..).unwrap_or_default().to_vec(),
        output: report.output.clone(),
        output_error: report.output_error.clone(),
        started: report.started,
        elapsed: report.elapsed,
    }
}

impl Pending {
    /// Waits for the record: its id, or why it failed; `None` when the
    /// thread gave up and [`super::History::record`] must write it.
    pub fn wait(self) -> Option<Result<i64, String>> {
        self.0?
            .join()
            .unwrap_or_else(|_| Some(Err("the history writer stopped unexpectedly".into())))
    }
}

/// The thread: opens the database, writes the steps as they come, and
/// stores the record when the run ends.
fn write_record(
    from_feed: &mpsc::Receiver<Message>,
    path: &str,
    content_hash: &str,
    redactor: Redactor,
) -> Option<Result<i64, String>> {
    let history = match History::open() {
        Ok(h) => h,
        Err(e) => return Some(Err(e)),
    };
    let mut columns = Columns::new(redactor);
    let frame = loop {
        match from_feed.recv() {
            Ok(Message::Start(steps)) => columns.total = steps,
            Ok(Message::Steps(steps)) => {
                for step in steps {
                    columns.add(step);
                }
            }
            Ok(Message::Finish(frame)) => break frame,
            Ok(Message::GiveUp) | Err(_) => return None,
        }
    };
    let (report, results) = columns.finish(&frame)?;
    Some(history.insert(&frame, path, content_hash, report, results))
}

/// The report's steps and the results, as they are written.
struct Columns {
    redactor: Redactor,
    /// The number of secrets known when the first step was written.
    secrets: Option<usize>,
    /// The run's number of steps.
    total: usize,
    /// A long run's first steps, until they choose the level of detail.
    sample: Vec<StepOutcome>,
    detail: Option<Detail>,
    steps: Gz,
    results: Gz,
    written: usize,
    /// The last step written: its result, and whether it was kept.
    last: Option<(StepResult, bool)>,
    one: Vec<u8>,
    failed: bool,
}

impl Columns {
    fn new(redactor: Redactor) -> Columns {
        let mut results = Gz::new();
        let _ = results.write_all(b"[");
        Columns {
            redactor,
            secrets: None,
            total: 0,
            sample: Vec::new(),
            detail: None,
            steps: Gz::new(),
            results,
            written: 0,
            last: None,
            one: Vec::with_capacity(4096),
            failed: false,
        }
    }

    fn add(&mut self, step: StepOutcome) {
        if self.failed {
            return;
        }
        if self.detail.is_none() {
            if self.total > SAMPLE && self.sample.len() < SAMPLE {
                self.sample.push(step);
                if self.sample.len() == SAMPLE {
                    self.choose_detail();
                }
                return;
            }
            self.choose_detail();
        }
        self.write(step);
    }

    /// The level [`super::report_column`] would choose: the first whose
    /// estimated size fits the limit (a short run is written whole, and
    /// gives up at the limit).
    fn choose_detail(&mut self) {
        let levels = [Detail::Full, Detail::NoRequests, Detail::NoHeaders];
        let detail = if self.total > SAMPLE && !self.sample.is_empty() {
            let n = self.sample.len();
            *levels
                .iter()
                .find(|&&d| {
                    d == Detail::NoHeaders
                        || self.sample.iter().map(|s| step_bytes(s, d)).sum::<usize>() * self.total
                            / n
                            <= MAX_REPORT_BYTES
                })
                .unwrap_or(&Detail::NoHeaders)
        } else {
            Detail::Full
        };
        self.detail = Some(detail);
        if detail != Detail::NoHeaders {
            self.steps = Gz::limited(MAX_REPORT_BYTES);
        }
        let _ = self.steps.write_all(b"[");
        for step in std::mem::take(&mut self.sample) {
            self.write(step);
        }
    }

    fn write(&mut self, mut step: StepOutcome) {
        if self.failed {
            return;
        }
        self.secrets.get_or_insert_with(|| self.redactor.len());
        let detail = self.detail.unwrap_or(Detail::Full);
        let comma: &[u8] = if self.written > 0 { b"," } else { b"" };
        // What the run does to a result no later step reads, done here.
        if let Some(text) = step.text.take() {
            step.result.compact(MAX_RESULT_BYTES, Some(text));
        }
        self.one.clear();
        self.one.extend_from_slice(comma);
        let kept = stored_result(&mut self.one, &step.result, &self.redactor);
        let _ = self.results.write_all(&self.one);
        let written = self
            .steps
            .write_all(comma)
            .map_err(serde_json::Error::io)
            .and_then(|()| write_step(&mut self.steps, &step, detail, &self.redactor));
        if written.is_err() {
            // Only the limit fails a write into memory.
            self.failed = true;
        }
        self.written += 1;
        self.last = Some((step.result, kept));
    }

    /// The report and results columns, or `None` when they cannot be the
    /// record.
    fn finish(mut self, frame: &RunReport) -> Option<(Vec<u8>, Vec<u8>)> {
        for step in frame.steps.iter().cloned() {
            self.add(step);
        }
        if self.detail.is_none() {
            self.choose_detail();
        }
        let unchanged = self.secrets.is_none_or(|n| n == self.redactor.len());
        if self.failed || !unchanged || self.written != self.total {
            return None;
        }
        let _ = self.results.write_all(b"]");
        let _ = self.steps.write_all(b"]");
        let (last, last_kept) = match &self.last {
            Some((r, kept)) => (Some(r), *kept),
            None => (None, false),
        };
        let output = kept_output(frame.output.as_deref(), last, last_kept);
        let detail = self.detail.unwrap_or(Detail::Full);
        let mut head = Gz::new();
        let mut tail = Gz::new();
        let framed = write_head(&mut head, frame, &self.redactor).and_then(|()| {
            write_tail(
                &mut tail,
                output,
                frame.output_error.as_ref(),
                detail,
                &self.redactor,
            )
        });
        if framed.is_err() {
            return None;
        }
        // Three gzip members, read back as one text.
        let mut report = head.finish();
        report.extend_from_slice(&self.steps.finish());
        report.extend_from_slice(&tail.finish());
        Some((report, self.results.finish()))
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use serde_json::{Value, json};

    use super::*;
    use crate::history::record_texts;
    use crate::history::tests::{report_of, unzip};

    /// A run of `steps` passed steps (and a failed one) whose results are
    /// JSON, every other one with the body's text kept, and whose output is
    /// the last result.
    fn run_of(steps: usize) -> RunReport {
        let mut report = report_of(steps);
        for (i, o) in report.steps.iter_mut().enumerate() {
            o.result = StepResult::from(json!({"i": i, "next": format!("/s/{}", i + 1)}));
            if i % 2 == 0 {
                o.text = Some(format!("{{ \"i\": {i}, \"next\": \"/s/{}\" }}", i + 1).into());
            }
        }
        report.output = report.steps.last().map(|o| o.result.shared());
        report
    }

    /// The columns written step by step, as the thread does.
    fn streamed(report: &RunReport, redactor: &Redactor) -> Option<(Vec<u8>, Vec<u8>)> {
        let mut columns = Columns::new(redactor.clone());
        columns.total = report.steps.len();
        for step in &report.steps {
            columns.add(step.clone());
        }
        columns.finish(&frame(report, report.steps.len()))
    }

    fn texts(columns: (Vec<u8>, Vec<u8>)) -> (String, Value) {
        let results = serde_json::from_str(&unzip(&columns.1)).unwrap();
        (unzip(&columns.0), results)
    }

    #[test]
    fn the_streamed_record_is_the_one_written_after_the_run() {
        let secret = Redactor::default();
        secret.add("/s/17");
        // Short runs (written whole), long ones (the level chosen from the
        // first steps), and one long enough to be trimmed.
        for steps in [3, 20, 100, 12_000] {
            for redactor in [&Redactor::default(), &secret] {
                let report = run_of(steps);
                let after = texts(record_texts(&report, redactor));
                let during = texts(streamed(&report, redactor).expect("streamed"));
                assert_eq!(during.0, after.0, "{steps} steps");
                assert_eq!(during.1, after.1, "{steps} steps");
                let stored: Value = serde_json::from_str(&during.0).unwrap();
                assert_eq!(stored["steps"].as_array().unwrap().len(), steps + 1);
                assert_eq!(stored["history_trimmed"].is_null(), steps < 1000);
                assert_eq!(during.1[2]["next"], "/s/3");
                if !redactor.is_empty() && steps > 17 {
                    assert_eq!(during.1[16]["next"], "***");
                    assert!(!during.0.contains("/s/17"));
                }
            }
        }
    }

    #[test]
    fn the_thread_gives_up_when_it_cannot_write_the_same_record() {
        let report = run_of(20);
        // A secret learnt after some steps were written.
        let redactor = Redactor::default();
        let mut columns = Columns::new(redactor.clone());
        columns.total = report.steps.len();
        for (i, step) in report.steps.iter().enumerate() {
            if i == 5 {
                redactor.add("token-from-oauth");
            }
            columns.add(step.clone());
        }
        assert!(
            columns
                .finish(&frame(&report, report.steps.len()))
                .is_none()
        );
        // A secret learnt before the first step was written is fine.
        let redactor = Redactor::default();
        redactor.add("token-from-oauth");
        assert!(streamed(&report, &redactor).is_some());
        // Steps missing.
        let mut columns = Columns::new(Redactor::default());
        columns.total = report.steps.len() + 1;
        for step in &report.steps {
            columns.add(step.clone());
        }
        assert!(
            columns
                .finish(&frame(&report, report.steps.len()))
                .is_none()
        );
    }

    #[test]
    fn an_output_that_is_not_the_last_result_is_measured_and_kept() {
        let mut report = run_of(20);
        report.output = Some(Arc::new(json!({"made": "by the output template"})));
        let (text, _) = texts(streamed(&report, &Redactor::default()).unwrap());
        let stored: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(stored["output"]["made"], "by the output template");
        report.output = Some(Arc::new(Value::String("x".repeat(MAX_RESULT_BYTES))));
        let (text, _) = texts(streamed(&report, &Redactor::default()).unwrap());
        let stored: Value = serde_json::from_str(&text).unwrap();
        assert!(stored["output"].is_null());
    }
}
