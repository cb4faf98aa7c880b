//! The plain log: one line per step on stderr, for pipes, files and CI logs.

use std::io::Write;

use super::{Verbosity, step_summary};
use crate::engine::{Event, Observer, StepStatus, show_duration};
use crate::secret::Redactor;

/// Writes one line per finished step (and per retry) to a writer, usually stderr.
pub struct PlainLog<W: Write> {
    out: W,
    verbosity: Verbosity,
    redactor: Redactor,
    total: usize,
}

impl<W: Write> PlainLog<W> {
    pub fn new(out: W, verbosity: Verbosity, redactor: Redactor) -> Self {
        PlainLog {
            out,
            verbosity,
            redactor,
            total: 0,
        }
    }

    fn line(&mut self, text: &str) {
        let _ = writeln!(self.out, "{}", super::shown(&self.redactor, text));
    }
}

impl<W: Write> Observer for PlainLog<W> {
    fn on_event(&mut self, event: &Event<'_>) {
        if self.verbosity == Verbosity::Quiet {
            return;
        }
        match event {
            Event::RunStarted { chain, .. } => self.total = chain.steps.len(),
            Event::Retrying {
                index,
                step,
                attempt,
                reason,
                delay,
            } => {
                let text = format!(
                    "[{}/{}] {} attempt {} failed ({reason}); retrying in {}",
                    index + 1,
                    self.total,
                    step.name,
                    attempt,
                    show_duration(*delay)
                );
                self.line(&text);
            }
            Event::Polling {
                index,
                step,
                count,
                delay,
            } => {
                let text = super::poll_line(*index, self.total, &step.name, *count, *delay);
                self.line(&text);
            }
            // Short waits are the limiter doing its job; long ones deserve a line.
            Event::RateLimited {
                index,
                step,
                connector,
                wait,
            } if *wait >= std::time::Duration::from_secs(1) => {
                let text = format!(
                    "[{}/{}] {} waits {} for the {connector} rate limit",
                    index + 1,
                    self.total,
                    step.name,
                    show_duration(*wait)
                );
                self.line(&text);
            }
            Event::StepFinished {
                index,
                step,
                outcome,
            } => {
                let mark = match outcome.status {
                    StepStatus::Passed => "ok",
                    StepStatus::DryRun => "dry",
                    StepStatus::Failed if outcome.continued => "FAIL (continued)",
                    StepStatus::Failed => "FAIL",
                    StepStatus::NotRun => "skip",
                    StepStatus::Skipped => "skip",
                };
                let url = super::shown_url(step, outcome);
                let text = format!(
                    "[{}/{}] {mark} {}{} {}",
                    index + 1,
                    self.total,
                    if outcome.teardown { "finally " } else { "" },
                    step.name,
                    step_summary(&step.method, &url, outcome)
                );
                self.line(&text);
            }
            _ => {}
        }
    }
}
