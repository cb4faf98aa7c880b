//! Live progress on a terminal (indicatif): one line per step with method,
//! URL, status, time and retries, updated as the step runs.

use std::collections::HashMap;
use std::time::Duration;

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressState, ProgressStyle};

use super::step_summary;
use crate::engine::{Event, Observer, StepStatus, show_duration};
use crate::secret::Redactor;

/// The terminal progress display.
pub struct Progress {
    multi: MultiProgress,
    /// The running steps' lines, by step index (several under `parallel: auto`).
    running: HashMap<usize, ProgressBar>,
    color: bool,
    redactor: Redactor,
    total: usize,
}

impl Progress {
    pub fn new(color: bool, redactor: Redactor) -> Self {
        Progress {
            multi: MultiProgress::with_draw_target(ProgressDrawTarget::stderr()),
            running: HashMap::new(),
            color,
            redactor,
            total: 0,
        }
    }

    fn paint(&self, code: &str, text: &str) -> String {
        if self.color {
            format!("\x1b[{code}m{text}\x1b[0m")
        } else {
            text.to_string()
        }
    }
}

/// Items a second, to one decimal (`2.5/s`); nothing before the first.
fn rate(state: &ProgressState, w: &mut dyn std::fmt::Write) {
    if state.pos() > 0 {
        let _ = write!(w, "{:.1}/s", state.per_sec());
    }
}

/// The time left, once an item is done to estimate it from.
fn left(state: &ProgressState, w: &mut dyn std::fmt::Write) {
    if state.pos() > 0 && state.pos() < state.len().unwrap_or(0) {
        let _ = write!(w, "ETA {}", show_duration(state.eta()));
    }
}

impl Observer for Progress {
    fn on_event(&mut self, event: &Event<'_>) {
        match event {
            Event::RunStarted { chain, .. } => self.total = chain.steps.len(),
            Event::StepStarted {
                index,
                step,
                request,
            } => {
                let bar = self.multi.add(ProgressBar::new_spinner());
                bar.set_style(
                    ProgressStyle::with_template("{spinner} {msg} [{elapsed}]")
                        .unwrap_or_else(|_| ProgressStyle::default_spinner()),
                );
                bar.set_message(super::shown(
                    &self.redactor,
                    &format!(
                        "[{}/{}] {} {} {}",
                        index + 1,
                        self.total,
                        step.name,
                        request.method,
                        request.url
                    ),
                ));
                bar.enable_steady_tick(Duration::from_millis(100));
                if let Some(old) = self.running.insert(*index, bar) {
                    old.finish_and_clear();
                    self.multi.remove(&old);
                }
            }
            Event::Retrying {
                index,
                step,
                attempt,
                reason,
                delay,
            } => {
                if let Some(bar) = self.running.get(index) {
                    bar.set_message(super::shown(
                        &self.redactor,
                        &format!(
                            "[{}/{}] {} attempt {attempt} failed ({reason}); retrying in {}",
                            index + 1,
                            self.total,
                            step.name,
                            show_duration(*delay)
                        ),
                    ));
                }
            }
            Event::StepFinished {
                index,
                step,
                outcome,
            } => {
                let (mark, code) = match outcome.status {
                    StepStatus::Passed => ("✓", "32"),
                    StepStatus::DryRun => ("·", "36"),
                    StepStatus::Failed => ("✗", "31"),
                    StepStatus::NotRun | StepStatus::Skipped => ("-", "90"),
                };
                let url = super::shown_url(step, outcome);
                let text = super::shown(
                    &self.redactor,
                    &format!(
                        "[{}/{}] {}{} {}",
                        index + 1,
                        self.total,
                        if outcome.teardown { "finally " } else { "" },
                        step.name,
                        step_summary(&step.method, &url, outcome)
                    ),
                );
                let line = format!("{} {text}", self.paint(code, mark));
                // The live area holds only the running step; a finished step
                // becomes an ordinary line above it, so long chains neither
                // redraw a growing area nor overflow the screen.
                if let Some(bar) = self.running.remove(index) {
                    bar.finish_and_clear();
                    self.multi.remove(&bar);
                }
                if self.multi.println(&line).is_err() {
                    super::to_stderr_styled(&format!("{line}\n"));
                }
            }
            Event::Polling {
                index,
                step,
                count,
                delay,
            } => {
                if let Some(bar) = self.running.get(index) {
                    bar.set_message(super::poll_line(
                        *index, self.total, &step.name, *count, *delay,
                    ));
                }
            }
            Event::RateLimited {
                index,
                step,
                connector,
                wait,
            } => {
                if let Some(bar) = self.running.get(index) {
                    bar.set_message(format!(
                        "[{}/{}] {} waiting {} for the {connector} rate limit",
                        index + 1,
                        self.total,
                        step.name,
                        show_duration(*wait)
                    ));
                }
            }
            Event::ItemsStarted { index, step, total } => {
                let bar = self
                    .running
                    .remove(index)
                    .unwrap_or_else(|| self.multi.add(ProgressBar::new(0)));
                bar.set_length(*total as u64);
                bar.set_position(0);
                bar.set_style(
                    ProgressStyle::with_template(
                        "{spinner} {msg} {bar:30} {pos}/{len} {rate} {left} [{elapsed}]",
                    )
                    .map(|s| s.with_key("rate", rate).with_key("left", left))
                    .unwrap_or_else(|_| ProgressStyle::default_bar()),
                );
                bar.set_message(format!("[{}/{}] {}", index + 1, self.total, step.name));
                bar.enable_steady_tick(Duration::from_millis(100));
                self.running.insert(*index, bar);
            }
            Event::ItemFinished { index, .. } => {
                if let Some(bar) = self.running.get(index) {
                    bar.inc(1);
                }
            }
            Event::Exchange { .. } => {}
            Event::RunFinished { .. } => {
                for (_, bar) in self.running.drain() {
                    bar.finish_and_clear();
                }
            }
        }
    }
}
