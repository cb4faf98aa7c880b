//! `on_success` and `on_failure`: where the run goes after a step. Targets
//! are steps of `steps` (not `finally`), and only a chain that runs its
//! steps in order can jump.

use super::{Known, Validator};
use crate::chain::model::{Chain, FlowAction, Parallel, Step};
use crate::chain::spans::{join_index, join_key};
use crate::diagnostic::suggest;
use crate::plan::{Action, ActionKind, Flow};

impl Validator<'_> {
    /// The step's actions, compiled; `None` when it has none.
    pub(super) fn step_actions(
        &mut self,
        chain: &Chain,
        step: &Step,
        i: usize,
        base: &str,
        known: &Known<'_>,
        teardown_from: usize,
    ) -> Option<Flow> {
        if step.on_success.is_none() && step.on_failure.is_none() {
            return None;
        }
        let mut flow = Flow::default();
        for (key, list, out) in [
            ("on_success", &step.on_success, &mut flow.on_success),
            ("on_failure", &step.on_failure, &mut flow.on_failure),
        ] {
            let Some(list) = list else { continue };
            let path = join_key(base, key);
            if i >= teardown_from {
                self.error(
                    &path,
                    format!("a `finally` step cannot have `{key}`"),
                    Some("help: `finally` steps all run, in order, whatever happens".into()),
                );
                continue;
            }
            if chain.parallel == Some(Parallel::Auto) {
                self.error(
                    &path,
                    format!("`{key}` needs the steps to run in order"),
                    Some("help: remove `parallel: auto`, or the jumps".into()),
                );
                continue;
            }
            for (k, action) in list.iter().enumerate() {
                let at = join_index(&path, k);
                if let Some(a) = self.action(action, key, &at, i, known, teardown_from) {
                    out.push(a);
                }
            }
        }
        Some(flow)
    }

    fn action(
        &mut self,
        action: &FlowAction,
        key: &str,
        path: &str,
        i: usize,
        known: &Known<'_>,
        teardown_from: usize,
    ) -> Option<Action> {
        let given = [
            action.goto.is_some(),
            action.end.is_some(),
            action.retry.is_some(),
        ];
        if given.iter().filter(|g| **g).count() != 1 {
            self.error(
                path,
                "an action is one of `goto: STEP`, `end: true` and `retry: {limit, after}`",
                None,
            );
            return None;
        }
        let kind = if let Some(target) = &action.goto {
            let at = join_key(path, "goto");
            match known.step_index.get(target.as_str()) {
                Some(&j) if j < teardown_from => ActionKind::Goto(j),
                Some(_) => {
                    self.error_value(
                        &at,
                        format!("`goto: {target}` names a `finally` step"),
                        Some("help: `finally` steps run at the end anyway".into()),
                    );
                    return None;
                }
                None => {
                    let names = known
                        .step_index
                        .iter()
                        .filter(|(_, j)| **j < teardown_from)
                        .map(|(n, _)| *n);
                    let hint = suggest(target, names).map(|b| format!("help: did you mean `{b}`?"));
                    self.error_value(&at, format!("there is no step named `{target}`"), hint);
                    return None;
                }
            }
        } else if let Some(end) = action.end {
            if !end {
                self.error_value(
                    &join_key(path, "end"),
                    "`end: false` does nothing",
                    Some("help: write `end: true`, or leave the action out".into()),
                );
                return None;
            }
            ActionKind::End
        } else {
            let retry = action.retry.as_ref()?;
            if key != "on_failure" {
                self.error(
                    &join_key(path, "retry"),
                    "`retry` is an `on_failure` action",
                    None,
                );
                return None;
            }
            let limit = retry.limit.unwrap_or(1);
            if limit == 0 || limit > 1000 {
                self.error_value(
                    &join_key(&join_key(path, "retry"), "limit"),
                    "`retry.limit` is from 1 to 1000",
                    None,
                );
                return None;
            }
            ActionKind::Retry {
                limit,
                after: retry.after.map(|d| d.0),
            }
        };
        let when = match &action.when {
            Some(w) => Some(self.compile(&join_key(path, "when"), w, i)?),
            None => None,
        };
        Some(Action { kind, when })
    }
}
