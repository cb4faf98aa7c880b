//! Steps in order with `on_success` / `on_failure`: a step may send the run
//! to another step (`goto`), stop it (`end`) or run again (`retry`). Each
//! step's outcome is its last run's; every run is an event like any other.

use std::sync::Arc;
use std::time::Duration;

use super::context::{self, Context};
use super::event::Event;
use super::outcome::{RunStatus, StepError, StepOutcome, StepStatus};
use super::{RunEnv, check, truthy};
use crate::plan::{Action, ActionKind};

/// The most steps one run may start, jumps and retries included: a `goto`
/// that always goes back would otherwise run for ever.
pub(super) const MAX_STEP_RUNS: usize = 10_000;

/// Where the run goes after a step.
enum Next {
    Step(usize),
    End,
    Retry(Duration),
}

impl RunEnv<'_> {
    pub(super) async fn in_flow(
        &self,
        ctx: &mut Arc<Context>,
        status: &mut RunStatus,
    ) -> Vec<StepOutcome> {
        let steps = &self.chain.steps[..self.chain.teardown_from];
        let mut outcomes: Vec<Option<StepOutcome>> = steps.iter().map(|_| None).collect();
        let mut retried = vec![0u32; steps.len()];
        let mut runs = 0usize;
        let mut index = 0;
        while index < steps.len() && *status == RunStatus::Passed {
            runs += 1;
            let mut outcome = if runs > MAX_STEP_RUNS {
                StepOutcome::not_run(&steps[index].name).failed(StepError::Flow(format!(
                    "the run started {MAX_STEP_RUNS} steps: the `goto` actions go round in a circle"
                )))
            } else {
                self.step(index, ctx).await
            };
            // Attempts of the runs before a `retry` count too.
            if let Some(before) = &outcomes[index]
                && retried[index] > 0
            {
                outcome.attempts += before.attempts;
            }
            let next = match self.next(index, &mut outcome, ctx, &retried) {
                Ok(n) => n,
                Err(e) => {
                    outcome = outcome.failed(e);
                    Next::Step(index + 1)
                }
            };
            // A step that runs again is not done: its failure stops nothing yet.
            if !matches!(next, Next::Retry(_)) {
                self.settle(index, &outcome, ctx, status);
            }
            outcomes[index] = Some(outcome);
            match next {
                Next::Step(j) => {
                    // Steps jumped over are skipped: later steps read them as
                    // null, as after a false `when`.
                    for k in index + 1..j {
                        if outcomes[k].is_none() {
                            let mut o = StepOutcome::not_run(&steps[k].name);
                            o.status = StepStatus::Skipped;
                            o.skipped_because = Some(format!(
                                "`{}` went on at `{}`",
                                steps[index].name, steps[j].name
                            ));
                            let mut own = RunStatus::Passed;
                            self.settle(k, &o, ctx, &mut own);
                            outcomes[k] = Some(o);
                        }
                    }
                    index = j;
                }
                Next::End => break,
                Next::Retry(delay) => {
                    retried[index] += 1;
                    let mut cancel = self.cancel.clone();
                    let waited = delay.is_zero()
                        || tokio::select! {
                            () = tokio::time::sleep(if self.client.is_replay() { Duration::ZERO } else { delay }) => true,
                            () = cancel.cancelled() => false,
                        };
                    if !waited {
                        *status = RunStatus::Interrupted;
                    }
                }
            }
        }
        // What did not run: after `end`, skipped; after a failure, not run.
        let ended = *status == RunStatus::Passed;
        outcomes
            .into_iter()
            .enumerate()
            .map(|(k, o)| {
                o.unwrap_or_else(|| {
                    let mut o = StepOutcome::not_run(&steps[k].name);
                    if ended {
                        o.status = StepStatus::Skipped;
                        o.skipped_because = Some("an `end` action stopped the run".into());
                    }
                    let mut own = RunStatus::Passed;
                    self.settle(k, &o, ctx, &mut own);
                    o
                })
            })
            .collect()
    }

    /// The first action of the step's `on_success` (it passed) or
    /// `on_failure` (it failed) whose `when` holds, as where to go next. A
    /// failure an action handles does not stop the run.
    fn next(
        &self,
        index: usize,
        outcome: &mut StepOutcome,
        ctx: &Arc<Context>,
        retried: &[u32],
    ) -> Result<Next, StepError> {
        let step = &self.chain.steps[index];
        let interrupted = matches!(outcome.error, Some(StepError::Interrupted));
        let (actions, failed) = match (&step.flow, outcome.status) {
            (Some(f), StepStatus::Passed) => (&f.on_success, false),
            (Some(f), StepStatus::Failed) if !outcome.continued && !interrupted => {
                (&f.on_failure, true)
            }
            _ => return Ok(Next::Step(index + 1)),
        };
        for (k, action) in actions.iter().enumerate() {
            if !self.holds(action, k, failed, index, outcome, ctx)? {
                continue;
            }
            return Ok(match action.kind {
                ActionKind::Goto(j) => {
                    if failed {
                        outcome.continued = true;
                    }
                    Next::Step(j)
                }
                // A failure that ends the run still fails it.
                ActionKind::End => Next::End,
                ActionKind::Retry { limit, after } => {
                    if retried[index] >= limit {
                        continue;
                    }
                    let delay = after
                        .or_else(|| {
                            outcome
                                .response
                                .as_ref()
                                .and_then(|r| r.headers.get("retry-after"))
                                .and_then(|v| {
                                    crate::plan::retry::parse_retry_after(
                                        v,
                                        std::time::SystemTime::now(),
                                    )
                                })
                        })
                        .unwrap_or_default()
                        .min(Duration::from_secs(3600));
                    self.emitter.emit(&Event::Retrying {
                        index,
                        step,
                        attempt: retried[index] + 1,
                        reason: format!(
                            "on_failure retry {} of {limit}: {}",
                            retried[index] + 1,
                            outcome
                                .error
                                .as_ref()
                                .map(|e| e.summary())
                                .unwrap_or_default()
                        ),
                        delay,
                    });
                    Next::Retry(delay)
                }
            });
        }
        Ok(Next::Step(index + 1))
    }

    /// Whether an action's `when` holds over the step's response.
    fn holds(
        &self,
        action: &Action,
        k: usize,
        failed: bool,
        index: usize,
        outcome: &StepOutcome,
        ctx: &Arc<Context>,
    ) -> Result<bool, StepError> {
        let Some(when) = &action.when else {
            return Ok(true);
        };
        let step = &self.chain.steps[index];
        let body = outcome.result.shared();
        let response = match &outcome.response {
            Some(r) => check::response_value(r.status, &r.headers, &body, &r.url, &step.method),
            // No answer came (a connection that failed): conditions over
            // the response read nothing, rather than fail to render.
            None => serde_json::json!({
                "status": null, "headers": {}, "body": null, "url": null, "method": step.method,
            }),
        };
        let scope = context::with_response(&ctx.value(), crate::template::from_json(&response));
        match self.chain.templates.render(when, &scope) {
            Ok(v) => Ok(truthy(&v)),
            Err(error) => Err(StepError::Render {
                field: format!(
                    "{}[{k}].when",
                    if failed { "on_failure" } else { "on_success" }
                ),
                error,
            }),
        }
    }
}
