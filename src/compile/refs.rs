//! What templates read: every name checked against what is defined where
//! it is read, the steps each step waits for, what later steps read of each
//! step, and the variables that decide where a request goes.

use std::collections::HashMap;

use indexmap::IndexMap;
use serde_json::Value;

use crate::auth::AuthSpec;
use crate::chain::model::Chain;
use crate::diagnostic::suggest;
use crate::plan::{Reads, TRIGGER_VAR, ValidStep};
use crate::template as render;
use crate::template::Tmpl;

/// The variables of `vars` that decide where a step's request goes or where
/// its body is written: read in a URL before its path, in an OAuth2 token or
/// device URL, in `save_to`, through the `for_each` list a URL's `item`
/// comes from, or passed to a sub-chain's variable that does so.
pub(super) fn origin_vars(steps: &[ValidStep], vars: &IndexMap<String, Value>) -> Vec<String> {
    let all_roots = |t: &Tmpl| -> Vec<String> {
        t.names()
            .into_iter()
            .map(|(n, _)| render::root_and_child(&n).0.to_string())
            .collect()
    };
    let mut roots: Vec<String> = Vec::new();
    for step in steps {
        let mut step_roots = step.url.origin_roots();
        if let Some(t) = &step.save_to {
            step_roots.extend(all_roots(t));
        }
        if let Some(auth) = &step.auth
            && let AuthSpec::OAuth2(o) = auth.as_ref()
        {
            for (field, t) in &o.fields {
                if let (&("token_url" | "device_url"), Some(t)) = (field, t) {
                    step_roots.extend(t.origin_roots());
                }
            }
        }
        if let Some(sub) = &step.sub {
            for (name, t) in &sub.with {
                if sub.chain.origin_vars.contains(name) {
                    step_roots.extend(all_roots(t));
                }
            }
        }
        if let Some(list) = &step.for_each
            && step_roots
                .iter()
                .any(|r| matches!(r.as_str(), "item" | "index" | "loop"))
        {
            step_roots.extend(all_roots(list));
        }
        roots.extend(step_roots);
    }
    roots.retain(|r| vars.contains_key(r));
    roots.sort();
    roots.dedup();
    roots
}

/// What the names templates read link: the earlier steps each step waits
/// for (`deps[steps.len()]` is `output`'s) — by name, under `steps.`, or
/// through a variable an earlier step extracts (every earlier step
/// extracting it: the last one wins, and which one is last depends on which
/// ran) — and, for each step, what the templates of later steps and
/// `output` read of it.
pub(super) struct Links<'a> {
    step_index: &'a HashMap<&'a str, usize>,
    extractors: HashMap<&'a str, Vec<usize>>,
    deps: Vec<Vec<usize>>,
    reads: Vec<Reads>,
}

impl<'a> Links<'a> {
    pub(super) fn new(chain: &'a Chain, step_index: &'a HashMap<&'a str, usize>) -> Self {
        let mut extractors: HashMap<&str, Vec<usize>> = HashMap::new();
        for (i, step) in chain.steps.iter().enumerate() {
            for name in step.extract.iter().flat_map(|e| e.keys()) {
                extractors.entry(name.as_str()).or_default().push(i);
            }
        }
        Links {
            step_index,
            extractors,
            deps: vec![Vec::new(); chain.steps.len() + 1],
            reads: vec![Reads::default(); chain.steps.len()],
        }
    }

    /// A template of step `at` reads `root.child…`.
    pub(super) fn add(&mut self, root: &str, child: Option<&str>, at: usize) {
        let Some(list) = self.deps.get_mut(at) else {
            return;
        };
        let read = |r: &mut Reads, meta: bool| {
            if meta {
                r.meta = true;
            } else {
                r.result = true;
            }
            r.last = r.last.max(at);
        };
        match (root, child) {
            ("steps", Some(c)) => {
                if let Some(&j) = self.step_index.get(c).filter(|&&j| j < at) {
                    list.push(j);
                    read(&mut self.reads[j], true);
                }
            }
            // `steps` as a whole (iterated, printed): every step before.
            ("steps", None) => {
                list.extend(0..at);
                self.reads.iter_mut().take(at).for_each(|r| read(r, true));
            }
            _ => {
                if let Some(&j) = self.step_index.get(root).filter(|&&j| j < at) {
                    list.push(j);
                    read(&mut self.reads[j], false);
                }
                if let Some(by) = self.extractors.get(root) {
                    list.extend(by.iter().filter(|&&j| j < at));
                }
            }
        }
    }

    /// The dependencies (unsorted) and the reads.
    /// `implicit_output`: the step whose result is the run's output when
    /// the chain has no `output:` (the last of `steps`).
    pub(super) fn finish(
        mut self,
        implicit_output: Option<usize>,
    ) -> (Vec<Vec<usize>>, Vec<Reads>) {
        let steps = self.reads.len();
        if let Some(last) = implicit_output.and_then(|i| self.reads.get_mut(i)) {
            last.last = steps;
        }
        (self.deps, self.reads)
    }
}

/// What templates may read at a given step.
pub(super) struct Scope<'a> {
    /// Steps with `for_each`: their templates may read `item` and `index`.
    pub(super) loops: std::collections::HashSet<usize>,
    /// Steps with `paginate`: their `until` may read `page` and `pages`.
    pub(super) paging: std::collections::HashSet<usize>,
    /// Steps with `connector`: they may read `params`.
    pub(super) with_params: std::collections::HashSet<usize>,
    pub(super) steps: &'a HashMap<&'a str, usize>,
    pub(super) vars: &'a IndexMap<String, Value>,
    pub(super) extracted_by: &'a HashMap<String, usize>,
    pub(super) step_names: Vec<&'a str>,
    /// Where the `finally` steps start.
    pub(super) teardown_from: usize,
    /// The chain has `trigger:` or `schedule:`: templates may read `trigger`.
    pub(super) triggered: bool,
    /// "Did you mean" is looked for this many more times: it compares the
    /// name with every name defined, and only the first problems are shown
    /// (a file with 20,000 of them took a minute to check).
    pub(super) suggestions_left: std::cell::Cell<usize>,
}

impl Scope<'_> {
    /// Checks one name read by a template that runs at step `at`
    /// (`at` = number of steps for `output`, which runs after all of them).
    pub(super) fn check(&self, name: &str, at: usize) -> Result<(), (String, Option<String>)> {
        let (root, child) = render::root_and_child(name);
        if root == "env" || render::FUNCTIONS.contains(&root) {
            return Ok(());
        }
        if root == "steps" {
            return match child {
                None => Ok(()),
                Some(c) => self.check_step(c, at, &format!("steps.{c}")),
            };
        }
        if self.steps.contains_key(root) {
            return self.check_step(root, at, root);
        }
        if self.vars.contains_key(root) {
            return Ok(());
        }
        if root == TRIGGER_VAR {
            if self.triggered {
                return Ok(());
            }
            return Err((
                "`trigger` is only defined in a chain with `trigger:` or `schedule:`".into(),
                Some(
                    "help: add `trigger: {}` to run the chain from a webhook with `pytopus serve`"
                        .into(),
                ),
            ));
        }
        if let Some(&by) = self.extracted_by.get(root) {
            if by < at {
                return Ok(());
            }
            let who = self.step_names[by];
            return Err(if by == at {
                (
                    format!(
                        "`{root}` is extracted by this same step `{who}`, so it is not defined yet"
                    ),
                    Some("help: extracted values are available to the steps after it".into()),
                )
            } else {
                (
                    format!("`{root}` is extracted by step `{who}`, which runs later"),
                    None,
                )
            });
        }
        if (root == "page" || root == "pages") && self.paging.contains(&at) {
            return Ok(());
        }
        if root == "params" && self.with_params.contains(&at) {
            return Ok(());
        }
        if root == "item" || root == "index" {
            if self.loops.contains(&at) {
                return Ok(());
            }
            return Err((
                format!("`{root}` is only defined in a step with `for_each`"),
                None,
            ));
        }
        let known = self
            .steps
            .iter()
            .filter(|(_, i)| **i < at)
            .map(|(n, _)| *n)
            .chain(self.vars.keys().map(String::as_str))
            .chain(
                self.extracted_by
                    .iter()
                    .filter(|(_, i)| **i < at)
                    .map(|(n, _)| n.as_str()),
            );
        let left = self.suggestions_left.get();
        self.suggestions_left.set(left.saturating_sub(1));
        let best = if left > 0 { suggest(root, known) } else { None };
        let hint = match best {
            Some(best) => Some(format!("help: did you mean `{best}`?")),
            None => Some(format!(
                "help: define it under `vars:` or pass it with `--var {root}=VALUE`"
            )),
        };
        Err((format!("`{root}` is not defined"), hint))
    }

    pub(super) fn check_step(
        &self,
        step: &str,
        at: usize,
        shown: &str,
    ) -> Result<(), (String, Option<String>)> {
        match self.steps.get(step) {
            Some(&j) if j < at => Ok(()),
            Some(&j) if j >= self.teardown_from && at <= self.teardown_from => Err((
                format!(
                    "`{shown}` refers to `{step}`, a `finally` step, which runs after every step and `output`"
                ),
                Some("help: `finally` steps may read the steps, not the other way round".into()),
            )),
            Some(&j) if j == at => Err((
                format!(
                    "`{shown}` refers to the step it is in; a step can only use the results of steps before it"
                ),
                None,
            )),
            Some(&j) => Err((
                format!(
                    "`{shown}` refers to step {} (`{step}`), which runs later",
                    j + 1
                ),
                Some("help: a step can only use the results of steps before it".into()),
            )),
            None => {
                let before = self.steps.iter().filter(|(_, i)| **i < at).map(|(n, _)| *n);
                let hint = suggest(step, before).map(|b| format!("help: did you mean `{b}`?"));
                Err((format!("there is no step named `{step}`"), hint))
            }
        }
    }
}
