//! `for_each:`: the step once per item, `concurrency` at a time, results in
//! the items' order.

use std::sync::Arc;
use std::time::Instant;

use serde_json::Value;

use super::context::Context;
use super::event::{Emitter, Event};
use super::outcome::{StepError, StepOutcome, StepResult, StepStatus};
use super::step::StepRunner;
use super::{Cancel, check, context};
use crate::template as render;

impl StepRunner<'_> {
    /// Runs the step once per item of its `for_each` list, at most
    /// `concurrency` at a time; results are kept in the list's order.
    pub(super) async fn run_each(
        &self,
        list: &render::Tmpl,
        ctx: &Arc<Context>,
        emitter: &Emitter<'_>,
        cancel: &Cancel,
    ) -> StepOutcome {
        use futures_util::StreamExt;
        let clock = Instant::now();
        let step = self.step;
        let mut outcome = StepOutcome::not_run(&step.name);
        let base = ctx.value();
        let rendered = self.templates.render(list, &base);
        // A dry run sent nothing, so a list that comes from a response is
        // not known: one request stands for every item.
        if self.dry_run && !matches!(rendered, Ok(Value::Array(_) | Value::Object(_))) {
            let of = list.string_names().map_or_else(
                || "the list".to_string(),
                |n| format!("`{}`", n.source().trim()),
            );
            outcome.dry_notes.push(format!(
                "one request per item of {of}; how many comes from a response, unknown in a dry run"
            ));
            let item = render::Placeholder("item".into());
            let scope = context::with_item(&base, minijinja::Value::from_object(item), 0);
            let mut one = self.run(scope, emitter, cancel.clone(), Some(0)).await;
            outcome.status = one.status;
            outcome.error = one.error.take();
            if let Some(r) = one.request.take() {
                outcome.dry_requests.push((" [<item>]".into(), r.clone()));
                outcome.request = Some(r);
            }
            outcome.elapsed = clock.elapsed();
            return outcome;
        }
        let items: Vec<Value> = match rendered {
            Ok(Value::Array(items)) => items,
            // An object: its entries, as {key, value}.
            Ok(Value::Object(map)) => map
                .into_iter()
                .map(|(k, v)| serde_json::json!({"key": k, "value": v}))
                .collect(),
            Ok(other) => {
                outcome.status = StepStatus::Failed;
                outcome.error = Some(StepError::Request(format!(
                    "`for_each` must give a list or a map, not {}",
                    check::show(&other)
                )));
                return outcome;
            }
            Err(error) => {
                outcome.status = StepStatus::Failed;
                outcome.error = Some(StepError::Render {
                    field: "for_each".into(),
                    error,
                });
                return outcome;
            }
        };
        // `--shard K/N`: this machine's share of the items; `index` keeps
        // each item's position in the whole list.
        let items: Vec<(usize, Value)> = items
            .into_iter()
            .enumerate()
            .filter(|(i, _)| self.shard.is_none_or(|(k, n)| i % n == k - 1))
            .collect();
        let total = items.len();
        outcome.items = Some(total);
        emitter.emit(&Event::ItemsStarted {
            index: self.index,
            step,
            total,
        });
        let runs = futures_util::stream::iter(items)
            .map(|(i, item)| {
                let scope = context::with_item(&base, render::from_json(&item), i);
                let cancel = cancel.clone();
                // Boxed: the outcome is a large value that the ordered
                // stream would otherwise copy several times on its way out.
                async move {
                    let one = self.run(scope, emitter, cancel, Some(i)).await;
                    (i, Box::new(one))
                }
            })
            .buffered(step.concurrency.max(1));
        let mut runs = std::pin::pin!(runs);
        let mut results = Vec::with_capacity(total);
        let mut outputs: indexmap::IndexMap<String, Vec<Value>> = step
            .extract
            .iter()
            .map(|(n, _)| (n.clone(), Vec::with_capacity(total)))
            .collect();
        let mut status = if self.dry_run {
            StepStatus::DryRun
        } else {
            StepStatus::Passed
        };
        while let Some((i, mut one)) = runs.next().await {
            emitter.emit(&Event::ItemFinished {
                index: self.index,
                step,
                item: i,
                outcome: &one,
            });
            outcome.attempts += one.attempts;
            if self.dry_run
                && let Some(r) = &one.request
            {
                outcome.dry_requests.push((format!(" [{i}]"), r.clone()));
            }
            // The step's request and response are its last item's: moved, not copied.
            if one.request.is_some() {
                outcome.request = one.request.take();
            }
            let status_code = one.response.as_ref().map(|r| r.status);
            if one.response.is_some() {
                outcome.response = one.response.take();
            }
            if one.status == StepStatus::Failed {
                let interrupted = matches!(one.error, Some(StepError::Interrupted));
                if step.continue_on_error && !interrupted {
                    // The error takes the item's place; the others go on.
                    let e = one.error.as_ref();
                    results.push(serde_json::json!({"error": {
                        "kind": e.map(StepError::kind),
                        "message": e.map(StepError::summary),
                        "status": status_code,
                    }}));
                    outputs.values_mut().for_each(|v| v.push(Value::Null));
                    continue;
                }
                status = StepStatus::Failed;
                outcome.error = one.error.map(|e| match e {
                    StepError::Request(m) => StepError::Request(format!("item {i}: {m}")),
                    other => other,
                });
                outcome.item = Some((i, total));
                outcome.attempts = one.attempts;
                break;
            }
            let one = *one;
            results.push(one.result.into_value());
            for (name, v) in one.outputs {
                if let Some(list) = outputs.get_mut(&name) {
                    list.push(v);
                }
            }
        }
        outcome.status = status;
        outcome.result = StepResult::from(Value::Array(results));
        outcome.outputs = outputs
            .into_iter()
            .map(|(k, v)| (k, Value::Array(v)))
            .collect();
        outcome.elapsed = clock.elapsed();
        outcome
    }
}
