//! [`ParsedChain`] → [`ValidChain`]: names, references, templates and
//! JSONPaths are checked here, before anything is sent, and every problem is
//! reported with its position. After this, nothing re-checks.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use indexmap::IndexMap;
use serde_json::Value;

use super::model::{
    ApiKeyIn, Auth, Chain, GraphQl, OAuthGrant, OnError, Overlap, Paginate, Retry, RetryOn,
    SignatureScheme, StatusPattern, StatusSpec, Step, Tls, is_identifier,
};
use super::parse::ParsedChain;
use super::spans::{SpanMap, join_index, join_key};
use crate::auth::{AuthSpec, JwtSpec, OAuth2Spec, jwt};
use crate::diagnostic::{Diagnostic, Diagnostics, Loc, Source, suggest};
use crate::engine::retry::{RetryPolicy, idempotent_methods};
use crate::jsonpath::JsonPath;
use crate::template::{self as render, Templates, Tmpl};
use crate::transport::TlsSettings;

/// The default per-attempt timeout.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

/// Names a step or variable may not take: they mean something else in templates.
const RESERVED: &[&str] = &[
    "steps", "env", "item", "index", "loop", "params", "true", "false", "none", "null",
];

/// The variable `pytopus serve` sets to what started a run (a webhook's body,
/// headers and query; a schedule's time). A step may not take the name; a
/// variable may, so `pytopus run` can be given a sample trigger.
pub const TRIGGER_VAR: &str = "trigger";

/// A chain that passed validation: every template compiled, every reference known.
#[derive(Debug)]
pub struct ValidChain {
    pub name: String,
    pub id: Option<Value>,
    /// `description:`, as written.
    pub description: Option<String>,
    pub source: Arc<Source>,
    pub templates: Templates,
    /// Chain `vars`, then `--vars-file`, then `--var`.
    pub vars: IndexMap<String, Value>,
    pub steps: Vec<ValidStep>,
    pub output: Option<Tmpl>,
    /// Positions in the chain file, for errors found while running.
    pub spans: SpanMap,
    /// Names given literally to `secret(...)`, to look up before anything is sent.
    pub secret_names: Vec<String>,
    /// `parallel: auto`: steps start when the steps they depend on are done.
    pub parallel: bool,
    /// For each step, the earlier steps it depends on (sorted): the ones its
    /// templates read, directly or through an extracted variable, and its `needs:`.
    pub deps: Vec<Vec<usize>>,
    /// The steps `output` reads.
    pub output_deps: Vec<usize>,
    /// For each step, what later steps and `output` read of it: its result
    /// (by the step's name) and its `steps.<name>` metadata. The engine binds
    /// only that into the template context: for a large body, a copy saved;
    /// for every step, work saved.
    pub read_later: Vec<Reads>,
    /// `trigger:`, checked (`pytopus serve` only).
    pub trigger: Option<ValidTrigger>,
    /// `schedule:` with its `timezone:` and `overlap:` (`pytopus serve` only).
    pub schedule: Option<ValidSchedule>,
    /// The chain's variables that decide where a request goes (a URL's
    /// scheme, host or port, an OAuth2 token URL) or where a file is
    /// written (`save_to`), sorted. A `serve` caller may not set them unless
    /// `trigger.origin_vars` names them.
    pub origin_vars: Vec<String>,
}

/// `trigger:`, checked, with its defaults filled in.
#[derive(Debug)]
pub struct ValidTrigger {
    /// The shared secret (a template, rendered when `serve` starts).
    pub secret: Option<Tmpl>,
    pub signature: Option<SignatureScheme>,
    /// The signature header, lower case, for `hmac-sha256`.
    pub header: Option<String>,
    pub tolerance: Duration,
    pub max_concurrent: usize,
    pub timeout: Duration,
    /// Variables a `serve` caller may set although they decide where a
    /// request goes (see [`ValidChain::origin_vars`]).
    pub origin_vars: Vec<String>,
}

impl Default for ValidTrigger {
    fn default() -> Self {
        ValidTrigger {
            secret: None,
            signature: None,
            header: None,
            tolerance: Duration::from_secs(300),
            max_concurrent: 4,
            timeout: Duration::from_secs(300),
            origin_vars: Vec::new(),
        }
    }
}

/// `schedule:`, parsed.
#[derive(Debug, Clone)]
pub struct ValidSchedule {
    pub cron: crate::serve::schedule::Schedule,
    pub overlap: Overlap,
}

impl ValidChain {
    /// Where a step's field (`query_params.userId`) is written, else where the step starts.
    pub fn locate(&self, step: usize, field: &str) -> Option<Loc> {
        let s = self.steps.get(step)?;
        self.spans.value(&join_key(&s.path, field)).or(s.loc)
    }
}

/// One step, resolved and compiled.
#[derive(Debug)]
pub struct ValidStep {
    pub name: String,
    /// Where the step starts in the chain file.
    pub loc: Option<Loc>,
    /// The step's path in the file (`steps[2]`), for positions of its fields.
    pub path: String,
    pub method: String,
    pub url: Tmpl,
    pub query: Vec<(String, Tmpl)>,
    pub headers: Vec<(String, Tmpl)>,
    // The parts most steps do not have are boxed: a step took 1,136 bytes
    // for the whole run, most of it room for these (bench/README.md, session 8).
    pub body: Option<Box<BodySpec>>,
    pub timeout: Duration,
    /// The most response body kept in memory (`max_response_size`).
    pub body_limit: u64,
    pub retry: RetryPolicy,
    pub extract: Vec<(String, Extractor)>,
    pub expect: Expectations,
    pub save_to: Option<Tmpl>,
    pub follow_redirects: bool,
    pub tls: Option<Arc<TlsSettings>>,
    /// `auth:` of the step, else of `defaults`; `None` when neither has one.
    pub auth: Option<Arc<AuthSpec>>,
    /// Run only when this renders to something true.
    pub when: Option<Tmpl>,
    /// `on_error: continue`.
    pub continue_on_error: bool,
    /// The body is a GraphQL request: the result is `data`, `errors` fail the step.
    pub graphql: bool,
    /// `for_each`: the list to run the step over.
    pub for_each: Option<Tmpl>,
    /// How many `for_each` items run at once (≥ 1).
    pub concurrency: usize,
    pub paginate: Option<Box<Pager>>,
    /// `chain:` — another chain run as this step, with its `with:` values.
    pub sub: Option<Box<SubChain>>,
    /// `connector:` — which one, its rate limiter, and the step's `params`
    /// (rendered first; the other templates read them as `params`).
    pub connector: Option<Box<ConnectorUse>>,
}

/// A step that calls a connector.
#[derive(Debug)]
pub struct ConnectorUse {
    pub name: String,
    pub params: Vec<(String, Tmpl)>,
    pub limiter: Option<Arc<crate::connector::RateLimiter>>,
    /// The body is the endpoint's (not the step's own): its top-level fields
    /// that render to null are left out.
    pub endpoint_body: bool,
}

/// A chain run as a step.
#[derive(Debug)]
pub struct SubChain {
    pub chain: Arc<ValidChain>,
    pub with: Vec<(String, Tmpl)>,
}

/// `paginate:`, checked and compiled.
#[derive(Debug)]
pub struct Pager {
    pub next: NextPage,
    pub until: Option<Tmpl>,
    pub total_header: Option<String>,
    pub collect: Option<JsonPath>,
    pub max_pages: u32,
}

/// How the next page is found.
#[derive(Debug)]
pub enum NextPage {
    Link,
    Url(JsonPath),
    Cursor {
        path: JsonPath,
        param: String,
    },
    Counter {
        param: String,
        start: i64,
        step: i64,
    },
}

/// What the request body is made of.
#[derive(Debug)]
pub enum BodySpec {
    /// `body:` — a string is sent as text, anything else as JSON.
    Value(Tmpl),
    /// `form:` — urlencoded fields.
    Form(Vec<(String, Tmpl)>),
    /// `graphql:` — `{"query", "variables", "operationName"}` as JSON.
    GraphQl {
        query: String,
        variables: Option<Tmpl>,
        operation_name: Option<String>,
    },
}

/// What a JSON value is, in words: `a number`, `a map`.
fn kind_of(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "true or false",
        Value::Number(_) => "a number",
        Value::String(_) => "text",
        Value::Array(_) => "a list",
        Value::Object(_) => "a map",
    }
}

/// Where an `extract` value comes from.
#[derive(Debug, Clone)]
pub enum Extractor {
    Path(JsonPath),
    Header(String),
    Status,
    Body,
}

/// The checks `expect:` asks for.
#[derive(Debug, Default)]
pub struct Expectations {
    /// Empty means the default: any 2xx.
    pub status: Vec<StatusPattern>,
    pub json: Vec<(JsonPath, Tmpl)>,
    pub headers: Vec<(String, Tmpl)>,
    pub body_contains: Vec<Tmpl>,
}

/// Validates a parsed chain with the run's variable overrides already merged
/// (`vars` replaces the chain's own `vars`).
pub fn validate(
    parsed: ParsedChain,
    vars: IndexMap<String, Value>,
) -> Result<ValidChain, Diagnostics> {
    validate_nested(parsed, vars, Vec::new(), Vec::new())
}

/// Validates a chain that `stack` (the files including it, outermost first)
/// runs as a sub-chain.
/// `secret_vars`: the variables a parent chain passes secrets in (see
/// `template::taint`).
fn validate_nested(
    parsed: ParsedChain,
    vars: IndexMap<String, Value>,
    stack: Vec<(std::path::PathBuf, String)>,
    secret_vars: Vec<String>,
) -> Result<ValidChain, Diagnostics> {
    let mut templates = Templates::new();
    templates.set_secret_vars(secret_vars);
    let mut v = Validator {
        stack,
        source: Arc::clone(&parsed.source),
        spans: &parsed.spans,
        diags: Vec::new(),
        templates,
        refs: Vec::new(),
        secret_names: Vec::new(),
        paging: Default::default(),
        with_params: Default::default(),
    };
    let chain = parsed.chain;
    let steps_key = if parsed.spans.value("steps").is_some() {
        "steps"
    } else {
        "api_chain"
    };

    v.unsupported(&chain);
    let (trigger, schedule) = v.triggers(&chain);
    if chain.steps.is_empty() {
        v.error(steps_key, "the chain has no steps", None);
    }

    // Names first: references are checked against them.
    let mut step_index: HashMap<&str, usize> = HashMap::with_capacity(chain.steps.len());
    for (i, step) in chain.steps.iter().enumerate() {
        // Built only for a message: most chains have none.
        let path = || join_key(&join_index(steps_key, i), "name");
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
            let first_loc = parsed
                .spans
                .value(&join_key(&join_index(steps_key, first), "name"));
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
        step_index: &step_index,
        vars: &vars,
        default_auth: &default_auth,
    };
    let library = v.library(&chain);
    let mut steps = Vec::with_capacity(chain.steps.len());
    for (i, step) in chain.steps.iter().enumerate() {
        let base = join_index(steps_key, i);
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
            Some(c) => v.connector_step(&chain, step, c, library.as_ref(), i, &base, &known),
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
            if let Err((msg, hint)) = scope.check(name, *at) {
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
    let (mut deps, read_later) = links.finish(chain.output.is_none());
    for (i, step) in chain.steps.iter().enumerate() {
        for (k, need) in step.needs.iter().enumerate() {
            let path = join_index(&join_key(&join_index(steps_key, i), "needs"), k);
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
    Ok(ValidChain {
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
        origin_vars,
    })
}

/// The variables of `vars` that decide where a step's request goes or where
/// its body is written: read in a URL before its path, in an OAuth2 token or
/// device URL, in `save_to`, through the `for_each` list a URL's `item`
/// comes from, or passed to a sub-chain's variable that does so.
fn origin_vars(steps: &[ValidStep], vars: &IndexMap<String, Value>) -> Vec<String> {
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

/// What a step's later readers read of it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Reads {
    /// The result, by the step's name (`GetUser.id`).
    pub result: bool,
    /// `steps.<name>` (`steps.GetUser.status`), or `steps` as a whole.
    pub meta: bool,
    /// The last step whose templates read either (the number of steps for
    /// `output`, which reads the last step's result when it has no
    /// template); 0 when none does. After it, only the history needs the
    /// result.
    pub last: usize,
}

/// What the names templates read link: the earlier steps each step waits
/// for (`deps[steps.len()]` is `output`'s) — by name, under `steps.`, or
/// through a variable an earlier step extracts (every earlier step
/// extracting it: the last one wins, and which one is last depends on which
/// ran) — and, for each step, what the templates of later steps and
/// `output` read of it.
struct Links<'a> {
    step_index: &'a HashMap<&'a str, usize>,
    extractors: HashMap<&'a str, Vec<usize>>,
    deps: Vec<Vec<usize>>,
    reads: Vec<Reads>,
}

impl<'a> Links<'a> {
    fn new(chain: &'a Chain, step_index: &'a HashMap<&'a str, usize>) -> Self {
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
    fn add(&mut self, root: &str, child: Option<&str>, at: usize) {
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
    fn finish(mut self, implicit_output: bool) -> (Vec<Vec<usize>>, Vec<Reads>) {
        let steps = self.reads.len();
        if implicit_output && let Some(last) = self.reads.last_mut() {
            last.last = steps;
        }
        (self.deps, self.reads)
    }
}

/// What a step is validated against: the step names, the variables, and the
/// compiled `defaults.auth`.
#[derive(Clone, Copy)]
struct Known<'a> {
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
    source: Arc<Source>,
    spans: &'a SpanMap,
    diags: Vec<Diagnostic>,
    templates: Templates,
    refs: Vec<TemplateRefs>,
    secret_names: Vec<String>,
    /// Steps with `paginate`: their `until` may read `page` and `pages`.
    paging: std::collections::HashSet<usize>,
    /// Steps with `connector`: their templates may read `params`.
    with_params: std::collections::HashSet<usize>,
}

impl Validator<'_> {
    /// The connectors this chain can use, when it uses any (errors in its
    /// `connectors:` are reported here).
    fn library(&mut self, chain: &Chain) -> Option<crate::connector::Library> {
        if chain.connectors.is_none() && chain.steps.iter().all(|s| s.connector.is_none()) {
            return None;
        }
        match crate::connector::Library::for_chain(
            chain.connectors.as_ref(),
            &chain_dir(&self.source.name),
            &self.source,
            self.spans,
        ) {
            Ok(lib) => Some(lib),
            Err(errors) => {
                self.diags.extend(errors);
                None
            }
        }
    }

    /// A step with `connector:`: expanded into the plain step it stands for,
    /// then validated like one, with its `params` compiled.
    #[allow(clippy::too_many_arguments)]
    fn connector_step(
        &mut self,
        chain: &Chain,
        step: &Step,
        name: &Value,
        library: Option<&crate::connector::Library>,
        i: usize,
        base: &str,
        known: &Known<'_>,
    ) -> Option<ValidStep> {
        let key = join_key(base, "connector");
        let Some(name) = name.as_str() else {
            self.error_value(&key, "`connector` must be a connector's name", None);
            return None;
        };
        let library = library?;
        let connector = match library.get(name) {
            Ok(c) => c,
            Err(errors) => {
                for d in errors {
                    // "No such connector" has no place of its own: the step's key is it.
                    if d.source.is_none() {
                        let mut d = d;
                        d.loc = self.spans.value(&key);
                        d.source = Some(Arc::clone(&self.source));
                        self.diags.push(d);
                    } else {
                        self.diags.push(d);
                    }
                }
                return None;
            }
        };
        let (expanded, params) = match crate::connector::expand_step(step, &connector) {
            Ok(x) => x,
            Err(problems) => {
                for p in problems {
                    let at = join_key(base, &p.key);
                    // A parameter's name is the mistake, not its value.
                    if self.spans.value(&at).is_some() && !p.key.starts_with("params.") {
                        self.error_value(&at, p.message, p.hint);
                    } else {
                        self.error(&at, p.message, p.hint);
                    }
                }
                return None;
            }
        };
        self.with_params.insert(i);
        let params_base = join_key(base, "params");
        let compiled: Vec<(String, Tmpl)> = params
            .iter()
            .filter_map(|(k, v)| Some((k.clone(), self.compile(&join_key(&params_base, k), v, i)?)))
            .collect();
        let mut valid = self.step(chain, &expanded, i, base, known)?;
        valid.connector = Some(Box::new(ConnectorUse {
            name: connector.name.clone(),
            params: compiled,
            limiter: crate::connector::limiter(&connector),
            endpoint_body: step.body.is_none() && expanded.body.is_some(),
        }));
        Some(valid)
    }

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
        collect_secret_names(value, &mut self.secret_names);
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
                self.error_value(&inner, format!("{} in `{}`", e.message, e.template), None);
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
                self.error_value(path, format!("{} in `{}`", e.message, e.template), None);
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

    fn unsupported(&mut self, chain: &Chain) {
        let later = |what: &str| -> String {
            format!(
                "help: this version of pytopus does not run {what} yet (see docs/reference.md, \"Not built yet\")"
            )
        };
        let steps_key = if self.spans.value("steps").is_some() {
            "steps"
        } else {
            "api_chain"
        };
        for (i, s) in chain.steps.iter().enumerate() {
            let fields: [(&str, bool); 1] = [("multipart", s.multipart.is_some())];
            for (key, present) in fields {
                if present {
                    self.error(
                        &join_key(&join_index(steps_key, i), key),
                        format!("`{key}` is not supported by this version of pytopus"),
                        Some(later(&format!("`{key}`"))),
                    );
                }
            }
        }
    }

    /// `trigger:`, `schedule:`, `timezone:` and `overlap:`.
    fn triggers(&mut self, chain: &Chain) -> (Option<ValidTrigger>, Option<ValidSchedule>) {
        let trigger = chain.trigger.as_ref().map(|t| {
            let mut out = ValidTrigger::default();
            if let Some(secret) = &t.secret {
                // Read by `serve` when it starts, not by a run: `pytopus run`
                // must not ask for the webhook's secret.
                let before = self.secret_names.len();
                out.secret = self.compile_text("trigger.secret", secret, 0);
                self.secret_names.truncate(before);
            }
            out.signature = t.signature;
            match (t.signature, &t.secret) {
                (Some(_), None) => self.error(
                    "trigger.signature",
                    "`trigger.signature` needs `trigger.secret`, the key the sender signs with",
                    Some("help: add `secret: \"{{ secret('NAME') }}\"` and store it with `pytopus auth set NAME`".into()),
                ),
                (None, Some(_)) => self.error(
                    "trigger.secret",
                    "`trigger.secret` needs `trigger.signature`: say how requests are signed",
                    Some("help: `signature:` is `github`, `stripe`, `slack` or `hmac-sha256`".into()),
                ),
                _ => {}
            }
            match (t.signature, &t.header) {
                (Some(SignatureScheme::HmacSha256), None) => self.error(
                    "trigger.signature",
                    "`signature: hmac-sha256` needs `header`, the request header holding the signature",
                    None,
                ),
                (Some(SignatureScheme::HmacSha256), Some(h)) => {
                    if reqwest_free_header_name_ok(h).is_err() {
                        self.error_value("trigger.header", format!("`{h}` is not a valid header name"), None);
                    }
                    out.header = Some(h.to_ascii_lowercase());
                }
                (_, Some(_)) => self.error(
                    "trigger.header",
                    "`trigger.header` is only for `signature: hmac-sha256`",
                    Some("help: the other schemes have their own headers".into()),
                ),
                (_, None) => {}
            }
            if let Some(d) = t.tolerance {
                out.tolerance = d.0;
            }
            out.origin_vars = t.origin_vars.clone();
            if let Some(d) = t.timeout {
                if d.0.is_zero() {
                    self.error_value("trigger.timeout", "`trigger.timeout` must be more than 0", None);
                }
                out.timeout = d.0;
            }
            match t.max_concurrent {
                Some(0) => self.error_value(
                    "trigger.max_concurrent",
                    "`max_concurrent` must be at least 1",
                    None,
                ),
                Some(n) => out.max_concurrent = n as usize,
                None => {}
            }
            out
        });

        let tz = match &chain.timezone {
            None => None,
            Some(name) => match crate::serve::schedule::parse_timezone(name) {
                Ok(tz) => Some(tz),
                Err(msg) => {
                    let hint = crate::serve::schedule::suggest_timezone(name)
                        .map(|b| format!("help: did you mean `{b}`?"))
                        .or_else(|| Some("help: write an IANA time zone name such as `Europe/Paris` or `UTC`".into()));
                    self.error_value("timezone", msg, hint);
                    None
                }
            },
        };
        let schedule = match &chain.schedule {
            None => {
                for key in ["timezone", "overlap"] {
                    if self.spans.key(key).is_some() {
                        self.error(
                            key,
                            format!("`{key}` is only used with `schedule`"),
                            Some("help: add `schedule: \"*/15 * * * *\"` or remove it".into()),
                        );
                    }
                }
                None
            }
            Some(expr) => match crate::serve::schedule::Schedule::parse(expr, tz) {
                Ok(cron) => Some(ValidSchedule {
                    cron,
                    overlap: chain.overlap.unwrap_or_default(),
                }),
                Err(msg) => {
                    self.error_value(
                        "schedule",
                        format!("`{expr}` is not a valid cron expression: {msg}"),
                        Some("help: five fields: minute hour day-of-month month day-of-week, e.g. `*/15 * * * *`".into()),
                    );
                    None
                }
            },
        };
        (trigger, schedule)
    }

    fn step(
        &mut self,
        chain: &Chain,
        step: &Step,
        i: usize,
        base: &str,
        known: &Known<'_>,
    ) -> Option<ValidStep> {
        let Known {
            step_index,
            vars,
            default_auth,
        } = *known;
        let errors_before = self.diags.len();

        // A GraphQL request is a POST unless the step says otherwise.
        let default_method = if step.graphql.is_some() {
            "POST"
        } else {
            "GET"
        };
        let method = step
            .method
            .as_deref()
            .unwrap_or(default_method)
            .to_ascii_uppercase();
        if method.is_empty()
            || !method
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
        {
            self.error_value(
                &join_key(base, "method"),
                format!("`{method}` is not a valid HTTP method"),
                None,
            );
        }

        let sub = match &step.chain {
            Some(file) => self.sub_chain(file, step, base, i),
            None => {
                if step.with.is_some() {
                    self.error(
                        &join_key(base, "with"),
                        "`with` gives variables to a sub-chain: add `chain:`",
                        None,
                    );
                }
                None
            }
        };
        let url = match &step.url {
            Some(u) => {
                let t = self.compile_text(&join_key(base, "url"), u, i);
                if let Some(Tmpl::Literal(lit)) = &t
                    && let Value::String(lit) = &**lit
                {
                    match url::Url::parse(lit) {
                        Err(e) => self.error_value(
                            &join_key(base, "url"),
                            format!("`{lit}` is not a valid URL: {e}"),
                            Some(
                                "help: URLs must be absolute, like https://api.example.com/users"
                                    .into(),
                            ),
                        ),
                        Ok(u) if !matches!(u.scheme(), "http" | "https") => self.error_value(
                            &join_key(base, "url"),
                            format!("`{}:` URLs cannot be sent: only http and https", u.scheme()),
                            None,
                        ),
                        Ok(_) => {}
                    }
                }
                t
            }
            // A sub-chain step sends nothing itself.
            None if step.chain.is_some() => {
                Some(Tmpl::Literal(Box::new(Value::String(String::new()))))
            }
            None => {
                self.error(base, format!("step `{}` has no `url`", step.name), None);
                None
            }
        };
        if step.chain.is_some()
            && (step.url.is_some() || step.body.is_some() || step.graphql.is_some())
        {
            self.error(
                &join_key(base, "chain"),
                "a step with `chain` runs that chain: it cannot also have `url`, `body` or `graphql`",
                None,
            );
        }

        // Defaults first, the step's own values win (header names case-insensitively).
        let mut query = if chain.defaults.query_params.is_empty() {
            Vec::new()
        } else {
            self.compile_map(
                &self.written("defaults", &["query_params", "query"]),
                &chain.defaults.query_params,
                i,
            )
        };
        if let Some(q) = &step.query_params {
            let query_key = self.written(base, &["query_params", "query"]);
            let own = self.compile_map(&query_key, q, i);
            query.retain(|(k, _)| !own.iter().any(|(o, _)| o == k));
            query.extend(own);
        }
        let mut headers = self.compile_map("defaults.headers", &chain.defaults.headers, i);
        self.one_header_each("defaults.headers", &headers);
        if let Some(h) = &step.headers {
            let own = self.compile_map(&join_key(base, "headers"), h, i);
            self.one_header_each(&join_key(base, "headers"), &own);
            headers.retain(|(k, _)| !own.iter().any(|(o, _)| o.eq_ignore_ascii_case(k)));
            headers.extend(own);
        }
        for (name, _) in &headers {
            if reqwest_free_header_name_ok(name).is_err() {
                self.error(
                    &join_key(&join_key(base, "headers"), name),
                    format!("`{name}` is not a valid header name"),
                    None,
                );
            }
        }

        let body = match (&step.body, &step.form) {
            (Some(_), Some(_)) => {
                self.error(
                    &join_key(base, "form"),
                    "a step cannot have both `body` and `form`",
                    None,
                );
                None
            }
            (Some(b), None) => self
                .compile(&join_key(base, "body"), b, i)
                .map(BodySpec::Value),
            (None, Some(f)) => Some(BodySpec::Form(self.compile_map(
                &join_key(base, "form"),
                f,
                i,
            ))),
            (None, None) => None,
        };
        let body = match &step.graphql {
            None => body,
            Some(_) if body.is_some() => {
                self.error(
                    &join_key(base, "graphql"),
                    "a step with `graphql` sends the query as its body, so it cannot have `body` or `form`",
                    None,
                );
                None
            }
            Some(g) => self.graphql(g, &join_key(base, "graphql"), i),
        };
        let when = step
            .when
            .as_ref()
            .and_then(|w| self.compile(&join_key(base, "when"), w, i));
        let paginate = step
            .paginate
            .as_ref()
            .and_then(|p| self.paginate(p, &join_key(base, "paginate"), i));
        if step.paginate.is_some() && step.save_to.is_some() {
            self.error(
                &join_key(base, "paginate"),
                "`paginate` collects pages in memory, so it cannot go with `save_to`",
                None,
            );
        }
        let for_each = step
            .for_each
            .as_ref()
            .and_then(|l| self.compile(&join_key(base, "for_each"), l, i));
        if let Some(Tmpl::Literal(lit)) = &for_each
            && !lit.is_array()
        {
            self.error_value(
                &join_key(base, "for_each"),
                format!("`for_each` needs a list, not {}", kind_of(lit)),
                Some(
                    "help: a list (`[1, 2, 3]`) or a template that gives one (`\"{{ Users }}\"`)"
                        .into(),
                ),
            );
        }
        if step.concurrency == Some(0) {
            self.error_value(
                &join_key(base, "concurrency"),
                "`concurrency` must be at least 1",
                None,
            );
        }
        if step.concurrency.is_some() && step.for_each.is_none() {
            self.error(
                &join_key(base, "concurrency"),
                "`concurrency` applies to `for_each` steps only",
                Some("help: add `for_each:` or remove `concurrency`".into()),
            );
        }

        let timeout = step
            .timeout
            .or(chain.defaults.timeout)
            .map(|d| d.0)
            .unwrap_or(DEFAULT_TIMEOUT);
        if timeout.is_zero() {
            self.error_value(
                &join_key(base, "timeout"),
                "a timeout must be longer than zero",
                None,
            );
        }

        let body_limit = step
            .max_response_size
            .or(chain.defaults.max_response_size)
            .map_or(crate::transport::DEFAULT_BODY_LIMIT, |s| s.0);

        let retry = self.retry_policy(chain.defaults.retry.as_ref(), step.retry.as_deref(), base);

        let mut extract = Vec::new();
        for (name, spec) in step.extract.iter().flat_map(|m| m.iter()) {
            let path = join_key(&join_key(base, "extract"), name);
            if !is_identifier(name) || RESERVED.contains(&name.as_str()) || name == TRIGGER_VAR {
                self.error(&path, format!("`{name}` cannot be a variable name"), None);
                continue;
            }
            if vars.contains_key(name) {
                self.error(
                    &path,
                    format!("`{name}` is both a variable and extracted here"),
                    Some("help: rename one of them; the extracted value would silently replace the variable".into()),
                );
                continue;
            }
            if step_index.contains_key(name.as_str()) {
                self.error(
                    &path,
                    format!("`{name}` is already a step name"),
                    Some("help: choose another variable name".into()),
                );
                continue;
            }
            match parse_extractor(spec) {
                Ok(x) => extract.push((name.clone(), x)),
                Err(msg) => self.error_value(&path, msg, None),
            }
        }

        let mut expect = Expectations::default();
        if let Some(e) = &step.expect {
            let epath = join_key(base, "expect");
            expect.status = match &e.status {
                None => Vec::new(),
                Some(StatusSpec::One(p)) => vec![*p],
                Some(StatusSpec::Many(list)) => list.clone(),
            };
            for (jp, want) in &e.json {
                let p = join_key(&join_key(&epath, "json"), jp);
                match JsonPath::compile(jp) {
                    Ok(compiled) => {
                        if let Some(t) = self.compile(&p, want, i) {
                            expect.json.push((compiled, t));
                        }
                    }
                    Err(msg) => self.error(&p, msg, None),
                }
            }
            expect.headers = self.compile_map(&join_key(&epath, "headers"), &e.headers, i);
            if let Some(bc) = &e.body_contains {
                let texts = bc.clone().into_vec();
                for (k, text) in texts.iter().enumerate() {
                    let p = if texts.len() == 1 && matches!(bc, super::model::OneOrMany::One(_)) {
                        join_key(&epath, "body_contains")
                    } else {
                        join_index(&join_key(&epath, "body_contains"), k)
                    };
                    if let Some(t) = self.compile_text(&p, text, i) {
                        expect.body_contains.push(t);
                    }
                }
            }
        }

        let tls = self.tls(chain.defaults.tls.as_ref(), step.tls.as_deref(), base);
        let auth = match &step.auth {
            Some(a) => self.auth(a, &join_key(base, "auth"), i).map(Arc::new),
            None => default_auth.clone(),
        };
        let save_to = step
            .save_to
            .as_ref()
            .and_then(|s| self.compile_text(&join_key(base, "save_to"), s, i));
        if step.save_to.is_some() {
            let reads_body = extract
                .iter()
                .any(|(_, x)| matches!(x, Extractor::Path(_) | Extractor::Body))
                || !expect.json.is_empty()
                || !expect.body_contains.is_empty();
            if reads_body {
                self.error(
                    &join_key(base, "save_to"),
                    "`save_to` writes the body to a file, so no JSONPath `extract`, `expect.json` or `expect.body_contains` can read it",
                    Some("help: extract headers or the status instead, or drop `save_to` to keep the body in memory".into()),
                );
            }
        }

        if self.diags.len() > errors_before {
            return None;
        }
        Some(ValidStep {
            name: step.name.clone(),
            loc: self.spans.value(base),
            path: base.to_string(),
            method,
            url: url?,
            query,
            headers,
            body: body.map(Box::new),
            timeout,
            body_limit,
            retry,
            extract,
            expect,
            save_to,
            follow_redirects: step.follow_redirects.unwrap_or(true),
            tls,
            auth,
            when,
            continue_on_error: step.on_error == Some(OnError::Continue),
            graphql: step.graphql.is_some(),
            for_each,
            concurrency: step.concurrency.unwrap_or(1).max(1) as usize,
            paginate: paginate.map(Box::new),
            sub: sub.map(Box::new),
            connector: None,
        })
    }

    /// Headers that differ only in case are one header: a map that names
    /// one twice is an error.
    fn one_header_each(&mut self, path: &str, headers: &[(String, Tmpl)]) {
        for (i, (name, _)) in headers.iter().enumerate() {
            if let Some((first, _)) = headers[..i]
                .iter()
                .find(|(other, _)| other.eq_ignore_ascii_case(name))
            {
                self.error(
                    &join_key(path, name),
                    format!("header `{name}` is given twice (also as `{first}`): header names are case-insensitive"),
                    Some("help: keep one of them".into()),
                );
            }
        }
    }

    /// `chain: file` → the sub-chain, validated with the `with:` names as its
    /// variables; a file that includes itself, directly or not, is refused.
    fn sub_chain(&mut self, file: &str, step: &Step, base: &str, at: usize) -> Option<SubChain> {
        let path = chain_dir(&self.source.name).join(file);
        let here = std::fs::canonicalize(&self.source.name)
            .unwrap_or_else(|_| self.source.name.clone().into());
        // One read: the file's canonical path (for cycles) and its text.
        let read = std::fs::canonicalize(&path)
            .and_then(|t| std::fs::read_to_string(&t).map(|text| (t, text)));
        let (target, text) = match read {
            Ok(x) => x,
            Err(e) => {
                self.error_value(
                    &join_key(base, "chain"),
                    format!("cannot read sub-chain {}: {e}", path.display()),
                    None,
                );
                return None;
            }
        };
        if target == here || self.stack.iter().any(|(p, _)| *p == target) {
            let mut cycle: Vec<String> = self.stack.iter().map(|(_, n)| n.clone()).collect();
            cycle.push(self.source.name.clone());
            cycle.push(path.display().to_string());
            self.error_value(
                &join_key(base, "chain"),
                format!(
                    "sub-chains include each other in a cycle: {}",
                    cycle.join(" → ")
                ),
                None,
            );
            return None;
        }
        let with = match &step.with {
            Some(w) => self.compile_map(&join_key(base, "with"), w, at),
            None => Vec::new(),
        };
        let source = Arc::new(Source {
            name: path.display().to_string(),
            text,
        });
        let parsed = match super::parse::parse(source) {
            Ok(p) => p,
            Err(d) => {
                self.diags.push(d);
                return None;
            }
        };
        // The sub-chain's own vars, then the names `with` sets (values come at run time).
        let mut vars = parsed.chain.vars.clone();
        for (name, _) in &with {
            vars.entry(name.clone()).or_insert(Value::Null);
        }
        let mut stack = self.stack.clone();
        stack.push((here, self.source.name.clone()));
        let secret_vars = with
            .iter()
            .filter(|(_, t)| t.bears_secret())
            .map(|(name, _)| name.clone())
            .collect();
        match validate_nested(parsed, vars, stack, secret_vars) {
            Ok(chain) => Some(SubChain {
                chain: Arc::new(chain),
                with,
            }),
            Err(Diagnostics(list)) => {
                self.error_value(
                    &join_key(base, "chain"),
                    format!("sub-chain {} is invalid", path.display()),
                    None,
                );
                self.diags.extend(list);
                None
            }
        }
    }

    /// `paginate:` → a [`Pager`]: exactly one way to find the next page.
    fn paginate(&mut self, p: &Paginate, path: &str, at: usize) -> Option<Pager> {
        let ways = [
            p.link == Some(true),
            p.next_url.is_some(),
            p.cursor.is_some(),
            p.page_param.is_some(),
        ];
        if ways.iter().filter(|w| **w).count() != 1 {
            self.error(
                path,
                "`paginate` needs exactly one of `link: true`, `next_url`, `cursor` and `page_param`",
                None,
            );
            return None;
        }
        let jsonpath = |v: &mut Self, field: &str, text: &str| match JsonPath::compile(text) {
            Ok(j) => Some(j),
            Err(e) => {
                v.error_value(&join_key(path, field), e, None);
                None
            }
        };
        let next = if p.link == Some(true) {
            NextPage::Link
        } else if let Some(u) = &p.next_url {
            NextPage::Url(jsonpath(self, "next_url", u)?)
        } else if let Some(c) = &p.cursor {
            NextPage::Cursor {
                path: jsonpath(self, "cursor", c)?,
                param: p.cursor_param.clone().unwrap_or_else(|| "cursor".into()),
            }
        } else {
            NextPage::Counter {
                param: p.page_param.clone().unwrap_or_default(),
                start: p.start.unwrap_or(1),
                step: p.step.unwrap_or(1),
            }
        };
        let collect = match &p.collect {
            Some(c) => Some(jsonpath(self, "collect", c)?),
            None => None,
        };
        if p.max_pages == Some(0) {
            self.error_value(
                &join_key(path, "max_pages"),
                "`max_pages` must be at least 1",
                None,
            );
        }
        self.paging.insert(at);
        let until = match &p.until {
            Some(u) => Some(self.compile(&join_key(path, "until"), u, at)?),
            None => None,
        };
        Some(Pager {
            next,
            until,
            total_header: p.total_header.clone(),
            collect,
            max_pages: p.max_pages.unwrap_or(100).max(1),
        })
    }

    /// `graphql:` → the request body; the query comes inline or from a file.
    fn graphql(&mut self, g: &GraphQl, path: &str, at: usize) -> Option<BodySpec> {
        let query = match (&g.query, &g.query_file) {
            (Some(q), None) => q.clone(),
            (None, Some(f)) => {
                let file = chain_dir(&self.source.name).join(f);
                match std::fs::read_to_string(&file) {
                    Ok(q) => q,
                    Err(e) => {
                        self.error_value(
                            &join_key(path, "query_file"),
                            format!("cannot read {}: {e}", file.display()),
                            None,
                        );
                        return None;
                    }
                }
            }
            _ => {
                self.error(
                    path,
                    "`graphql` needs exactly one of `query` and `query_file`",
                    None,
                );
                return None;
            }
        };
        let variables = match &g.variables {
            Some(v) => Some(self.compile(&join_key(path, "variables"), v, at)?),
            None => None,
        };
        Some(BodySpec::GraphQl {
            query,
            variables,
            operation_name: g.operation_name.clone(),
        })
    }

    /// Compiles an `auth:` block at `path`, checking what each scheme needs.
    fn auth(&mut self, a: &Auth, path: &str, at: usize) -> Option<AuthSpec> {
        let errors_before = self.diags.len();
        let text = |v: &mut Self, field: &str, value: &str| {
            v.compile(
                &join_key(path, field),
                &Value::String(value.to_string()),
                at,
            )
        };
        let spec = match a {
            Auth::None => AuthSpec::None,
            Auth::Basic { username, password } => AuthSpec::Basic {
                username: text(self, "username", username)?,
                password: text(self, "password", password)?,
            },
            Auth::Bearer { token } => AuthSpec::Bearer {
                token: text(self, "token", token)?,
            },
            Auth::ApiKey {
                location,
                name,
                key,
            } => {
                let location = location.unwrap_or(ApiKeyIn::Header);
                if location == ApiKeyIn::Header && reqwest_free_header_name_ok(name).is_err() {
                    self.error_value(
                        &join_key(path, "name"),
                        format!("`{name}` is not a valid header name"),
                        None,
                    );
                }
                AuthSpec::ApiKey {
                    location,
                    name: name.clone(),
                    key: text(self, "key", key)?,
                }
            }
            Auth::Headers { headers } => {
                AuthSpec::Headers(self.compile_map(&join_key(path, "headers"), headers, at))
            }
            Auth::Jwt {
                token,
                algorithm,
                secret,
                private_key,
                claims,
                expires_in,
                header,
            } => {
                let alg = match algorithm {
                    Some(name) => match jwt::Alg::parse(name) {
                        Some(a) => Some(a),
                        None => {
                            self.error_value(
                                &join_key(path, "algorithm"),
                                format!("`{name}` is not a supported JWT algorithm"),
                                Some("help: use HS256, RS256 or ES256".into()),
                            );
                            None
                        }
                    },
                    None => None,
                };
                let key = match (alg, secret, private_key) {
                    (Some(jwt::Alg::Hs256), Some(s), _) => text(self, "secret", s),
                    (Some(_), _, Some(k)) => {
                        let pem = self.pem_or_path(k, &join_key(path, "private_key"));
                        pem.and_then(|p| text(self, "private_key", &p))
                    }
                    (Some(jwt::Alg::Hs256), None, _) => {
                        self.error(path, "an HS256 JWT needs `secret`", None);
                        None
                    }
                    (Some(_), _, None) => {
                        self.error(
                            path,
                            "an RS256 or ES256 JWT needs `private_key` (PEM text or a file)",
                            None,
                        );
                        None
                    }
                    (None, _, _) => None,
                };
                if token.is_none() && alg.is_none() && self.diags.len() == errors_before {
                    self.error(
                        path,
                        "a JWT needs `token`, or `algorithm` with `secret` or `private_key`",
                        None,
                    );
                }
                let claims_value = Value::Object(claims.clone().into_iter().collect());
                AuthSpec::Jwt(JwtSpec {
                    token: token.as_ref().and_then(|t| text(self, "token", t)),
                    algorithm: alg,
                    key,
                    claims: self.compile(&join_key(path, "claims"), &claims_value, at)?,
                    expires_in: expires_in.map_or(Duration::from_secs(300), |d| d.0),
                    header: header.clone().unwrap_or_else(|| "Authorization".into()),
                })
            }
            Auth::Oauth2 {
                grant,
                token_url,
                client_id,
                client_secret,
                scope,
                audience,
                client_auth,
                refresh_token,
                username,
                password,
                authorize_url: _,
                device_url,
            } => {
                let grant_name = match grant {
                    OAuthGrant::ClientCredentials => "client_credentials",
                    OAuthGrant::RefreshToken => "refresh_token",
                    OAuthGrant::AuthorizationCode => "authorization_code",
                    OAuthGrant::DeviceCode => "device_code",
                    OAuthGrant::Password => "password",
                };
                let need = |v: &mut Self, what: &str, present: bool| {
                    if !present {
                        v.error(
                            path,
                            format!("the `{grant_name}` grant needs `{what}`"),
                            None,
                        );
                    }
                };
                match grant {
                    OAuthGrant::Password => {
                        need(self, "username", username.is_some());
                        need(self, "password", password.is_some());
                    }
                    OAuthGrant::RefreshToken | OAuthGrant::AuthorizationCode => {
                        need(self, "refresh_token", refresh_token.is_some());
                    }
                    OAuthGrant::DeviceCode => need(self, "device_url", device_url.is_some()),
                    OAuthGrant::ClientCredentials => {}
                }
                let opt = |v: &mut Self, field: &'static str, value: &Option<String>| {
                    (field, value.as_ref().and_then(|x| text(v, field, x)))
                };
                let fields = vec![
                    opt(self, "token_url", &Some(token_url.clone())),
                    opt(self, "client_id", &Some(client_id.clone())),
                    opt(self, "client_secret", client_secret),
                    opt(self, "scope", scope),
                    opt(self, "audience", audience),
                    opt(self, "refresh_token", refresh_token),
                    opt(self, "username", username),
                    opt(self, "password", password),
                    opt(self, "device_url", device_url),
                ];
                AuthSpec::OAuth2(OAuth2Spec {
                    grant: (*grant).into(),
                    client_auth: (*client_auth).into(),
                    fields,
                })
            }
        };
        (self.diags.len() == errors_before).then_some(spec)
    }

    /// A PEM key given inline, or read from a file relative to the chain.
    fn pem_or_path(&mut self, value: &str, path: &str) -> Option<String> {
        if value.contains("-----BEGIN") || value.contains("{{") {
            return Some(value.to_string());
        }
        let file = chain_dir(&self.source.name).join(value);
        match std::fs::read_to_string(&file) {
            Ok(pem) => Some(pem),
            Err(e) => {
                self.error_value(
                    path,
                    format!("cannot read the key file {}: {e}", file.display()),
                    None,
                );
                None
            }
        }
    }

    /// `defaults.tls` and the step's `tls`, field by field, with paths made
    /// relative to the chain file and checked to exist.
    fn tls(
        &mut self,
        defaults: Option<&Tls>,
        own: Option<&Tls>,
        base: &str,
    ) -> Option<Arc<TlsSettings>> {
        if defaults.is_none() && own.is_none() {
            return None;
        }
        let pick = |f: fn(&Tls) -> Option<String>| own.and_then(f).or_else(|| defaults.and_then(f));
        let dir = chain_dir(&self.source.name);
        let mut path_of = |field: &str, value: Option<String>| -> Option<std::path::PathBuf> {
            let v = value?;
            let p = dir.join(&v);
            if !p.is_file() {
                let at = if own.is_some_and(|t| tls_field(t, field).is_some()) {
                    join_key(&join_key(base, "tls"), field)
                } else {
                    join_key("defaults.tls", field)
                };
                self.error_value(
                    &at,
                    format!("`{field}`: no such file {}", p.display()),
                    None,
                );
            }
            Some(p)
        };
        let settings = TlsSettings {
            client_cert: path_of("client_cert", pick(|t| t.client_cert.clone())),
            client_key: path_of("client_key", pick(|t| t.client_key.clone())),
            ca_cert: path_of("ca_cert", pick(|t| t.ca_cert.clone())),
            verify: own
                .and_then(|t| t.verify)
                .or_else(|| defaults.and_then(|t| t.verify))
                .unwrap_or(true),
        };
        if settings.client_key.is_some() && settings.client_cert.is_none() {
            self.error(
                &join_key(base, "tls"),
                "`client_key` needs `client_cert` (the certificate it belongs to)",
                None,
            );
        }
        Some(Arc::new(settings))
    }

    fn retry_policy(
        &mut self,
        defaults: Option<&Retry>,
        own: Option<&Retry>,
        base: &str,
    ) -> RetryPolicy {
        let d = RetryPolicy::default();
        fn pick<T>(
            own: Option<&Retry>,
            defaults: Option<&Retry>,
            f: fn(&Retry) -> Option<T>,
        ) -> Option<T> {
            own.and_then(f).or_else(|| defaults.and_then(f))
        }
        let attempts: Option<u32> = pick(own, defaults, |r| r.attempts);
        let attempts = attempts.unwrap_or(d.attempts);
        if attempts == 0 {
            self.error_value(
                &join_key(&join_key(base, "retry"), "attempts"),
                "`attempts` counts the first try too, so it must be at least 1",
                None,
            );
        }
        let factor: Option<f64> = pick(own, defaults, |r| r.factor);
        let factor = factor.unwrap_or(d.factor);
        if !(factor.is_finite() && factor >= 1.0) {
            self.error_value(
                &join_key(&join_key(base, "retry"), "factor"),
                "`factor` must be a number of at least 1",
                None,
            );
        }
        let on: Option<Vec<RetryOn>> = own
            .and_then(|r| r.on.clone())
            .or_else(|| defaults.and_then(|r| r.on.clone()));
        // A `retry:` written on the step itself is the chain asking: any method may be retried.
        // Written: upper case, and `any` (or an empty list) is no limit.
        let written = |m: &Vec<String>| -> Option<Arc<[String]>> {
            if m.is_empty() || m.iter().any(|x| x.eq_ignore_ascii_case("any") || x == "*") {
                None
            } else {
                Some(m.iter().map(|x| x.to_ascii_uppercase()).collect())
            }
        };
        let methods = match (
            own,
            own.and_then(|r| r.methods.as_ref()),
            defaults.and_then(|r| r.methods.as_ref()),
        ) {
            (_, Some(m), _) => written(m),
            (Some(_), None, _) => None,
            (None, None, Some(m)) => written(m),
            (None, None, None) => Some(idempotent_methods()),
        };
        RetryPolicy {
            attempts: attempts.max(1),
            backoff: pick(own, defaults, |r| r.backoff).map_or(d.backoff, |x| x.0),
            max_backoff: pick(own, defaults, |r| r.max_backoff).map_or(d.max_backoff, |x| x.0),
            factor,
            jitter: pick(own, defaults, |r| r.jitter).unwrap_or(d.jitter),
            on: on.unwrap_or(d.on),
            methods,
        }
    }
}

pub(crate) fn collect_secret_names(value: &Value, out: &mut Vec<String>) {
    match value {
        Value::String(s) if s.contains("secret") => out.extend(render::secret_names(s)),
        Value::Array(items) => items.iter().for_each(|v| collect_secret_names(v, out)),
        Value::Object(map) => map.values().for_each(|v| collect_secret_names(v, out)),
        _ => {}
    }
}

/// The directory relative paths in a chain are resolved against.
fn chain_dir(source_name: &str) -> std::path::PathBuf {
    if source_name.starts_with('<') {
        return std::path::PathBuf::new();
    }
    std::path::Path::new(source_name)
        .parent()
        .map(std::path::Path::to_path_buf)
        .unwrap_or_default()
}

fn tls_field<'a>(t: &'a Tls, field: &str) -> Option<&'a String> {
    match field {
        "client_cert" => t.client_cert.as_ref(),
        "client_key" => t.client_key.as_ref(),
        "ca_cert" => t.ca_cert.as_ref(),
        _ => None,
    }
}

fn reqwest_free_header_name_ok(name: &str) -> Result<(), ()> {
    let ok = !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b));
    if ok { Ok(()) } else { Err(()) }
}

/// `"$.a.b"`, `"header:Name"`, `"status"` or `"body"`.
fn parse_extractor(spec: &str) -> Result<Extractor, String> {
    let s = spec.trim();
    if s.starts_with('$') {
        return JsonPath::compile(s).map(Extractor::Path);
    }
    if let Some(h) = s
        .strip_prefix("header:")
        .or_else(|| s.strip_prefix("headers."))
    {
        let h = h.trim();
        if !h.is_empty() && reqwest_free_header_name_ok(h).is_ok() {
            return Ok(Extractor::Header(h.to_ascii_lowercase()));
        }
        return Err(format!("`{h}` is not a valid header name"));
    }
    match s {
        "status" => Ok(Extractor::Status),
        "body" => Ok(Extractor::Body),
        _ => Err(format!(
            "`{spec}` is not something to extract: write a JSONPath (`$.id`), `header:Name`, `status` or `body`"
        )),
    }
}

/// The path of the string `needle` inside `value` (for error positions).
fn find_string_path(value: &Value, needle: &str, path: &str) -> Option<String> {
    match value {
        Value::String(s) if s == needle => Some(path.to_string()),
        Value::Array(items) => items
            .iter()
            .enumerate()
            .find_map(|(i, v)| find_string_path(v, needle, &join_index(path, i))),
        Value::Object(map) => map
            .iter()
            .find_map(|(k, v)| find_string_path(v, needle, &join_key(path, k))),
        _ => None,
    }
}

/// What templates may read at a given step.
struct Scope<'a> {
    /// Steps with `for_each`: their templates may read `item` and `index`.
    loops: std::collections::HashSet<usize>,
    /// Steps with `paginate`: their `until` may read `page` and `pages`.
    paging: std::collections::HashSet<usize>,
    /// Steps with `connector`: they may read `params`.
    with_params: std::collections::HashSet<usize>,
    steps: &'a HashMap<&'a str, usize>,
    vars: &'a IndexMap<String, Value>,
    extracted_by: &'a HashMap<String, usize>,
    step_names: Vec<&'a str>,
    /// The chain has `trigger:` or `schedule:`: templates may read `trigger`.
    triggered: bool,
    /// "Did you mean" is looked for this many more times: it compares the
    /// name with every name defined, and only the first problems are shown
    /// (a file with 20,000 of them took a minute to check).
    suggestions_left: std::cell::Cell<usize>,
}

impl Scope<'_> {
    /// Checks one name read by a template that runs at step `at`
    /// (`at` = number of steps for `output`, which runs after all of them).
    fn check(&self, name: &str, at: usize) -> Result<(), (String, Option<String>)> {
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

    fn check_step(
        &self,
        step: &str,
        at: usize,
        shown: &str,
    ) -> Result<(), (String, Option<String>)> {
        match self.steps.get(step) {
            Some(&j) if j < at => Ok(()),
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
