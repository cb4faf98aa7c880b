//! [`ParsedChain`] → [`ValidChain`]: names, references, templates and
//! JSONPaths are checked here, before anything is sent, and every problem is
//! reported with its position. After this, nothing re-checks.

mod actions;
mod auth;
mod connector;
mod expect;
mod inputs;
mod notify;
mod refs;
mod retry;
mod step;
mod triggers;
mod upload;

use refs::{Links, Scope, origin_vars};
use step::{find_string_path, reqwest_free_header_name_ok};

use std::collections::HashMap;
use std::sync::Arc;

use indexmap::IndexMap;
use serde_json::Value;

use crate::auth::AuthSpec;
use crate::chain::model::is_identifier;
use crate::chain::parse::ParsedChain;
use crate::chain::spans::{SpanMap, join_index, join_key};
use crate::diagnostic::{Diagnostic, Diagnostics, Source, suggest};
use crate::plan::{TRIGGER_VAR, ValidChain};
use crate::resolve::{Resolved, chain_dir};
use crate::template::{self as render, Templates, Tmpl};

/// Names a step or variable may not take: they mean something else in templates.
const RESERVED: &[&str] = &[
    "steps", "env", "item", "index", "loop", "params", "true", "false", "none", "null",
];

/// Validates a parsed chain with the run's variable overrides already merged
/// (`vars` replaces the chain's own `vars`).
pub fn validate(
    parsed: ParsedChain,
    vars: IndexMap<String, Value>,
) -> Result<ValidChain, Diagnostics> {
    let resolved = crate::resolve::resolve(&parsed);
    compile(parsed, &resolved, vars)
}

/// Builds the plan of `parsed` from what [`crate::resolve`] read for it;
/// reads no file.
pub fn compile(
    parsed: ParsedChain,
    resolved: &Resolved,
    vars: IndexMap<String, Value>,
) -> Result<ValidChain, Diagnostics> {
    validate_nested(parsed, resolved, vars, Vec::new(), Vec::new())
}

/// Validates a chain that `stack` (the files including it, outermost first)
/// runs as a sub-chain.
/// `secret_vars`: the variables a parent chain passes secrets in (see
/// `template::taint`).
fn validate_nested(
    parsed: ParsedChain,
    resolved: &Resolved,
    vars: IndexMap<String, Value>,
    stack: Vec<(std::path::PathBuf, String)>,
    secret_vars: Vec<String>,
) -> Result<ValidChain, Diagnostics> {
    let mut templates = Templates::new();
    templates.set_secret_vars(secret_vars);
    let mut v = Validator {
        stack,
        resolved,
        source: Arc::clone(&parsed.source),
        spans: &parsed.spans,
        diags: Vec::new(),
        templates,
        refs: Vec::new(),
        secret_names: Vec::new(),
        paging: Default::default(),
        polling: Default::default(),
        with_params: Default::default(),
    };
    let mut chain = parsed.chain;
    let steps_key = if parsed.spans.value("steps").is_some() {
        "steps"
    } else {
        "api_chain"
    };
    // `finally` steps are compiled as steps after the others (they may read
    // any of them, and none may read them), at their own place in the file.
    let teardown_from = chain.steps.len();
    let teardown = std::mem::take(&mut chain.finally);
    chain.steps.extend(teardown);
    let step_key = |i: usize| -> String {
        if i < teardown_from {
            join_index(steps_key, i)
        } else {
            join_index("finally", i - teardown_from)
        }
    };

    let mut vars = vars;
    let declared = v.declared(&chain, &mut vars);
    let (trigger, schedule) = v.triggers(&chain);
    let notify = v.notify(&chain);
    if teardown_from == 0 {
        v.error(steps_key, "the chain has no steps", None);
    }

    // Names first: references are checked against them.
    let mut step_index: HashMap<&str, usize> = HashMap::with_capacity(chain.steps.len());
    for (i, step) in chain.steps.iter().enumerate() {
        // Built only for a message: most chains have none.
        let path = || join_key(&step_key(i), "name");
        if !is_identifier(&step.name) {
            v.error_value(
                &path(),
                format!("`{}` is not a valid step name", step.name),
                Some("help: step names look like identifiers: letters, digits and `_`, not starting with a digit".into()),
            );
        } else if RESERVED.contains(&step.name.as_str())
            || step.name == TRIGGER_VAR
            || render::FUNCTIONS.contains(&step.name.as_str())
        {
            v.error_value(
                &path(),
                format!("`{}` is reserved and cannot name a step", step.name),
                None,
            );
        } else if let Some(&first) = step_index.get(step.name.as_str()) {
            let first_loc = parsed.spans.value(&join_key(&step_key(first), "name"));
            v.error_value(
                &path(),
                format!("duplicate step name `{}`", step.name),
                first_loc.map(|l| {
                    format!(
                        "note: step {} already uses this name at line {}",
                        first + 1,
                        l.line
                    )
                }),
            );
        } else if chain.vars.contains_key(&step.name) || vars.contains_key(&step.name) {
            v.error_value(
                &path(),
                format!("step name `{}` is also a variable name", step.name),
                Some("help: rename one of them; templates could not tell them apart".into()),
            );
        } else {
            step_index.insert(&step.name, i);
        }
    }
    for name in vars.keys() {
        if !is_identifier(name) || RESERVED.contains(&name.as_str()) {
            v.error(
                &join_key("vars", name),
                format!("`{name}` cannot be a variable name"),
                Some("help: variable names look like identifiers and cannot be `steps`, `env`, `item` or `index`".into()),
            );
        }
    }

    // Which step extracts each variable (the first one does, for reference checks).
    let mut extracted_by: HashMap<String, usize> = HashMap::new();
    for (i, step) in chain.steps.iter().enumerate() {
        for name in step.extract.iter().flat_map(|e| e.keys()) {
            extracted_by.entry(name.clone()).or_insert(i);
        }
    }

    // `defaults.auth` is compiled once and shared by the steps that use it.
    let default_auth = chain
        .defaults
        .auth
        .as_ref()
        .and_then(|a| v.auth(a, "defaults.auth", 0))
        .map(Arc::new);
    let known = Known {
        teardown_from,
        step_index: &step_index,
        vars: &vars,
        default_auth: &default_auth,
    };
    let library = v.library(&chain);
    let mut steps = Vec::with_capacity(chain.steps.len());
    for (i, step) in chain.steps.iter().enumerate() {
        let base = step_key(i);
        let valid = match &step.connector {
            None => {
                let keys = ["endpoint", "params"];
                let written = v.spans.has_keys(&base, keys);
                for (key, _) in keys.into_iter().zip(written).filter(|(_, w)| *w) {
                    v.error(
                        &join_key(&base, key),
                        format!("`{key}` needs `connector:`"),
                        Some("help: name the connector the endpoint belongs to, e.g. `connector: github`".into()),
                    );
                }
                v.step(&chain, step, i, &base, &known)
            }
            Some(c) => v.connector_step(&chain, step, c, library, i, &base, &known),
        };
        if let Some(s) = valid {
            steps.push(s);
        }
    }
    let output = chain
        .output
        .as_ref()
        .and_then(|o| v.compile("output", o, chain.steps.len()));

    let scope = Scope {
        teardown_from,
        paging: v.paging.clone(),
        with_params: v.with_params.clone(),
        loops: chain
            .steps
            .iter()
            .enumerate()
            .filter(|(_, s)| s.for_each.is_some())
            .map(|(i, _)| i)
            .collect(),
        steps: &step_index,
        vars: &vars,
        extracted_by: &extracted_by,
        step_names: chain.steps.iter().map(|s| s.name.as_str()).collect(),
        triggered: chain.trigger.is_some() || chain.schedule.is_some(),
        suggestions_left: std::cell::Cell::new(crate::diagnostic::SHOWN),
    };
    let refs = std::mem::take(&mut v.refs);
    // Every name a template reads, looked at once for its three uses: what
    // each step waits for, what later steps read of each step, and whether
    // the name is defined where it is read. On a long chain the names are
    // cold by now, and three passes over them cost three cache misses a name
    // (bench/README.md, session 13).
    let mut links = Links::new(&chain, &step_index);
    let mut undefined = Vec::new();
    let mut reported = std::collections::HashSet::new();
    for (path, at, names) in &refs {
        for (name, template) in names.pairs() {
            let (root, child) = render::root_and_child(name);
            links.add(root, child, *at);
            // `poll.until` reads the response it is polling.
            if path.ends_with(".poll.until")
                && v.polling.contains(at)
                && (root == "poll" || chain.steps.get(*at).is_some_and(|s| s.name == root))
            {
                continue;
            }
            // `expect.that` and the actions' `when` read the response.
            if root == "response"
                && (path.contains(".expect.that")
                    || path.contains(".on_success[")
                    || path.contains(".on_failure["))
            {
                continue;
            }
            // `output` is rendered before the `finally` steps run.
            let check_at = if *at == chain.steps.len() {
                teardown_from
            } else {
                *at
            };
            if let Err((mut msg, mut hint)) = scope.check(name, check_at) {
                // `nosuch(1)`: a function, not a variable.
                if child.is_none() && render::is_called(template, root) {
                    msg = format!("unknown function `{root}`");
                    hint = Some(match suggest(root, render::FUNCTIONS.iter().copied()) {
                        Some(best) => format!("help: did you mean `{best}`?"),
                        None => format!(
                            "help: the functions are {}",
                            render::FUNCTIONS
                                .iter()
                                .map(|f| format!("`{f}`"))
                                .collect::<Vec<_>>()
                                .join(", ")
                        ),
                    });
                }
                // `x | default(…)` and `x is defined` make `x` optional.
                let optional = !scope.steps.contains_key(root)
                    && root != "steps"
                    && render::is_guarded(template, root);
                if !optional && reported.insert((path.as_str(), msg.clone())) {
                    undefined.push((path, msg, hint));
                }
            }
        }
    }
    let (mut deps, read_later) = links.finish(
        chain
            .output
            .is_none()
            .then(|| teardown_from.saturating_sub(1)),
    );
    for (i, step) in chain.steps.iter().enumerate() {
        for (k, need) in step.needs.iter().enumerate() {
            let path = join_index(&join_key(&step_key(i), "needs"), k);
            match step_index.get(need.as_str()) {
                Some(&j) if j < i => deps[i].push(j),
                Some(_) => v.error_value(
                    &path,
                    format!("`needs: {need}` names a step that does not run before this one"),
                    Some("help: a step can only wait for the steps before it".into()),
                ),
                None => {
                    let before = step_index.iter().filter(|(_, j)| **j < i).map(|(n, _)| *n);
                    let hint = suggest(need, before).map(|b| format!("help: did you mean `{b}`?"));
                    v.error_value(&path, format!("there is no step named `{need}`"), hint);
                }
            }
        }
    }
    for list in &mut deps {
        list.sort_unstable();
        list.dedup();
    }
    let output_deps = deps.pop().unwrap_or_default();
    for (path, msg, hint) in undefined {
        v.error_value(path, msg, hint);
    }

    if !v.diags.is_empty() {
        return Err(Diagnostics(v.diags));
    }
    // What each step reads (or `needs`), before the order writes add: a
    // `finally` step is skipped when one of those did not pass, and a part
    // of a chain (`--from`) needs their results.
    let reads: Vec<Vec<usize>> = deps.clone();
    // Writes keep their place: `parallel: auto` must not move a DELETE
    // before the POST it followed, which no template reference shows.
    crate::plan::graph::order_writes(&steps, &mut deps);
    let origin_vars = origin_vars(&steps, &vars);
    if let Some(t) = &trigger {
        for (i, name) in t.origin_vars.iter().enumerate() {
            if !vars.contains_key(name) {
                let hint = suggest(name, vars.keys().map(String::as_str))
                    .map(|b| format!("help: did you mean `{b}`?"));
                v.error_value(
                    &join_index("trigger.origin_vars", i),
                    format!("`{name}` is not a variable of this chain"),
                    hint,
                );
            }
        }
        if !v.diags.is_empty() {
            return Err(Diagnostics(v.diags));
        }
    }
    let mut secret_names = v.secret_names;
    secret_names.sort();
    secret_names.dedup();
    let templates = v.templates;
    let flow = steps.iter().any(|s| s.flow.is_some());
    Ok(ValidChain {
        flow,
        inputs: declared.inputs,
        missing_inputs: declared.missing,
        outputs: declared.outputs,
        teardown_from,
        reads,
        name: chain
            .name
            .clone()
            .unwrap_or_else(|| parsed.source.name.clone()),
        id: chain.id.clone(),
        description: chain.description.clone(),
        source: parsed.source,
        templates,
        vars,
        steps,
        output,
        spans: parsed.spans,
        secret_names,
        parallel: chain.parallel == Some(crate::chain::model::Parallel::Auto),
        deps,
        output_deps,
        read_later,
        trigger,
        schedule,
        notify,
        origin_vars,
    })
}

/// What a step is validated against: the step names, the variables, and the
/// compiled `defaults.auth`.
#[derive(Clone, Copy)]
struct Known<'a> {
    /// Where the `finally` steps start.
    teardown_from: usize,
    step_index: &'a HashMap<&'a str, usize>,
    vars: &'a IndexMap<String, Value>,
    default_auth: &'a Option<Arc<AuthSpec>>,
}

/// The names one string's templates read: (path of the string, step index it
/// runs at, (name, template text) pairs).
type TemplateRefs = (String, usize, RefNames);

/// The names a template reads, each with the template text reading it.
enum RefNames {
    /// One string's, shared with its compiled template (the common case).
    Shared(render::StringNames),
    Listed(Vec<(String, String)>),
}

impl RefNames {
    fn pairs(&self) -> impl Iterator<Item = (&str, &str)> {
        let (shared, listed) = match self {
            RefNames::Shared(s) => (Some(s), &[][..]),
            RefNames::Listed(l) => (None, l.as_slice()),
        };
        shared
            .into_iter()
            .flat_map(|s| s.names().iter().map(move |n| (n.as_str(), s.source())))
            .chain(listed.iter().map(|(n, t)| (n.as_str(), t.as_str())))
    }
}

struct Validator<'a> {
    /// The chain files that include this one (to refuse cycles): canonical
    /// path, and the name to show.
    stack: Vec<(std::path::PathBuf, String)>,
    /// The files the chain needs, read before.
    resolved: &'a Resolved,
    source: Arc<Source>,
    spans: &'a SpanMap,
    diags: Vec<Diagnostic>,
    templates: Templates,
    refs: Vec<TemplateRefs>,
    secret_names: Vec<String>,
    /// Steps with `paginate`: their `until` may read `page` and `pages`.
    paging: std::collections::HashSet<usize>,
    /// Steps with `poll`: its `until` may read the step's own name and `poll`.
    polling: std::collections::HashSet<usize>,
    /// Steps with `connector`: their templates may read `params`.
    with_params: std::collections::HashSet<usize>,
}

impl Validator<'_> {
    /// An error pointing at the key at `path`.
    fn error(&mut self, path: &str, msg: impl Into<String>, hint: Option<String>) {
        let mut d = Diagnostic::new(msg).at(
            &self.source,
            self.spans.key(path).or_else(|| self.spans.nearest(path)),
        );
        if let Some(h) = hint {
            d = d.note(h);
        }
        self.diags.push(d);
    }

    /// An error pointing at the value at `path`.
    fn error_value(&mut self, path: &str, msg: impl Into<String>, hint: Option<String>) {
        let loc = self.spans.value(path).or_else(|| self.spans.nearest(path));
        let mut d = Diagnostic::new(msg).at(&self.source, loc);
        if let Some(h) = hint {
            d = d.note(h);
        }
        self.diags.push(d);
    }

    /// The path of `key` under `base` as written in the file (aliases included).
    fn written(&self, base: &str, keys: &[&str]) -> String {
        keys.iter()
            .map(|k| join_key(base, k))
            .find(|p| self.spans.key(p).is_some())
            .unwrap_or_else(|| join_key(base, keys[0]))
    }

    fn compile(&mut self, path: &str, value: &Value, at: usize) -> Option<Tmpl> {
        if let Value::String(s) = value {
            return self.compile_text(path, s, at);
        }
        render::collect_secret_names(value, &mut self.secret_names);
        match self.templates.compile(value) {
            Ok(t) => {
                // One entry per string, so errors point at the string itself.
                let mut by_string: Vec<(String, Vec<(String, String)>)> = Vec::new();
                for (name, template) in t.names() {
                    let at_path = find_string_path(value, &template, path)
                        .unwrap_or_else(|| path.to_string());
                    match by_string.iter_mut().find(|(p, _)| *p == at_path) {
                        Some((_, list)) => list.push((name, template)),
                        None => by_string.push((at_path, vec![(name, template)])),
                    }
                }
                for (p, names) in by_string {
                    self.refs.push((p, at, RefNames::Listed(names)));
                }
                Some(t)
            }
            Err(e) => {
                // Find the exact string that failed, for the position.
                let inner =
                    find_string_path(value, &e.template, path).unwrap_or_else(|| path.to_string());
                let help = e.help.map(|h| format!("help: {h}"));
                self.error_value(&inner, format!("{} in `{}`", e.message, e.template), help);
                None
            }
        }
    }

    /// [`Self::compile`] for one string (no `Value` built around it).
    fn compile_text(&mut self, path: &str, s: &str, at: usize) -> Option<Tmpl> {
        if s.contains("secret") {
            self.secret_names.extend(render::secret_names(s));
        }
        match self.templates.compile_str(s) {
            Ok(t) => {
                if let Some(names) = t.string_names() {
                    self.refs
                        .push((path.to_string(), at, RefNames::Shared(names)));
                }
                Some(t)
            }
            Err(e) => {
                let help = e.help.map(|h| format!("help: {h}"));
                self.error_value(path, format!("{} in `{}`", e.message, e.template), help);
                None
            }
        }
    }

    fn compile_map<V: Clone + Into<Value>>(
        &mut self,
        base: &str,
        map: &IndexMap<String, V>,
        at: usize,
    ) -> Vec<(String, Tmpl)> {
        map.iter()
            .filter_map(|(k, val)| {
                let t = self.compile(&join_key(base, k), &val.clone().into(), at)?;
                Some((k.clone(), t))
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parsed(name: &str, text: &str) -> ParsedChain {
        crate::chain::parse(Arc::new(Source {
            name: name.into(),
            text: text.into(),
        }))
        .unwrap()
    }

    /// Compiling reads what resolving read, not the disk: a query file that
    /// exists only in the resolved files compiles, and one that could not
    /// be read is reported where the chain names it.
    #[test]
    fn compiles_from_what_was_resolved() {
        let chain = parsed(
            "/nowhere/c.yaml",
            "steps:\n  - name: Q\n    url: http://x.test/graphql\n    graphql: {query_file: q.graphql}\n",
        );
        let mut resolved = Resolved::default();
        resolved.texts.insert(
            "/nowhere/q.graphql".into(),
            Ok("query { me { id } }".into()),
        );
        let plan = compile(chain.clone(), &resolved, IndexMap::new()).unwrap();
        let Some(crate::plan::BodySpec::GraphQl { query, .. }) = plan.steps[0].body.as_deref()
        else {
            panic!("a GraphQL body");
        };
        assert_eq!(query, "query { me { id } }");

        resolved
            .texts
            .insert("/nowhere/q.graphql".into(), Err("permission denied".into()));
        let errors = compile(chain, &resolved, IndexMap::new()).unwrap_err();
        let text = errors.render(false);
        assert!(
            text.contains("cannot read /nowhere/q.graphql: permission denied"),
            "{text}"
        );
        assert!(text.contains("c.yaml:4"), "{text}");
    }

    #[test]
    fn a_sub_chain_that_includes_itself_is_refused() {
        let outer = parsed("/x/a.yaml", "steps:\n  - {name: S, chain: a.yaml}\n");
        let mut resolved = Resolved {
            here: "/x/a.yaml".into(),
            ..Resolved::default()
        };
        resolved.sub_chains.insert(
            "/x/a.yaml".into(),
            Ok(crate::resolve::SubChainFile {
                canonical: "/x/a.yaml".into(),
                parsed: Ok(outer.clone()),
                resolved: None,
            }),
        );
        let text = compile(outer, &resolved, IndexMap::new())
            .unwrap_err()
            .render(false);
        assert!(
            text.contains("sub-chains include each other in a cycle"),
            "{text}"
        );
    }
}
