//! `chain:`: another chain run as a step, with its `with:` values.

use std::sync::Arc;
use std::time::Instant;

use super::context::Context;
use super::event::Observers;
use super::outcome::{RunStatus, StepError, StepOutcome, StepResult, StepStatus};
use super::step::StepRunner;
use super::{Cancel, RunOptions, run_with_vars};

impl StepRunner<'_> {
    /// Runs a sub-chain with the step's `with:` values; its `output` is the result.
    pub(super) async fn run_sub(
        &self,
        sub: &crate::plan::SubChain,
        ctx: &Arc<Context>,
        opts: &RunOptions,
        cancel: Cancel,
    ) -> StepOutcome {
        let clock = Instant::now();
        let mut outcome = StepOutcome::not_run(&self.step.name);
        let base = ctx.value();
        let mut vars = sub.chain.vars.clone();
        for (name, t) in &sub.with {
            match self.render_field(&format!("with.{name}"), t, &base) {
                Ok(v) => {
                    vars.insert(name.clone(), v);
                }
                Err(e) => {
                    outcome.status = StepStatus::Failed;
                    outcome.error = Some(e);
                    return outcome;
                }
            }
        }
        // The sub-chain's declared inputs: what `with:` gave, checked.
        let problems = crate::plan::inputs::check_given(&sub.chain.inputs, &mut vars, |n| {
            sub.with.iter().any(|(w, _)| w == n)
        });
        if !problems.is_empty() {
            outcome.status = StepStatus::Failed;
            outcome.error = Some(StepError::SubChain(format!(
                "{}: {}",
                sub.chain.source.name,
                problems.join("; ")
            )));
            return outcome;
        }
        // The sub-chain's own steps are not shown: the step stands for them.
        let mut quiet = Observers::default();
        // Sharding splits the top-level chain's items, not a sub-chain's.
        let opts = &RunOptions {
            shard: None,
            resume: None,
            only: None,
            ..opts.clone()
        };
        let report = Box::pin(run_with_vars(
            &sub.chain,
            &vars,
            self.client,
            &mut quiet,
            opts,
            cancel,
        ))
        .await;
        outcome.elapsed = clock.elapsed();
        outcome.attempts = report.steps.iter().map(|s| s.attempts).sum();
        if report.dry_run {
            // What the sub-chain would send, under the step's name.
            for s in &report.steps {
                let inner = s.request.iter().map(|r| (String::new(), r));
                let listed = s.dry_requests.iter().map(|(what, r)| (what.clone(), r));
                let listed: Vec<_> = if s.dry_requests.is_empty() {
                    inner.collect()
                } else {
                    listed.collect()
                };
                for (what, r) in listed {
                    outcome
                        .dry_requests
                        .push((format!(" › {}{what}", s.name), r.clone()));
                }
                let notes = s.dry_notes.iter().map(|n| format!("{}: {n}", s.name));
                outcome.dry_notes.extend(notes);
            }
        }
        outcome.status = match report.status {
            RunStatus::Passed if report.dry_run => StepStatus::DryRun,
            RunStatus::Passed => StepStatus::Passed,
            _ => StepStatus::Failed,
        };
        match report.status {
            RunStatus::Passed => {
                outcome.result = report.output.map(StepResult::from).unwrap_or_default();
            }
            RunStatus::Interrupted => outcome.error = Some(StepError::Interrupted),
            RunStatus::Failed => {
                let why = match (report.failed_step(), &report.output_error) {
                    (Some(s), _) => format!(
                        "in {}, step `{}` failed: {}",
                        report.file,
                        s.name,
                        s.error
                            .as_ref()
                            .map_or_else(|| "failed".to_string(), StepError::summary)
                    ),
                    (None, Some(e)) => {
                        format!("in {}, cannot render `output`: {}", report.file, e.message)
                    }
                    (None, None) => format!("{} failed", report.file),
                };
                outcome.error = Some(StepError::SubChain(why));
            }
        }
        outcome
    }
}
