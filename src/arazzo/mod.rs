//! Arazzo workflow files (1.0, and the synchronous parts of 1.1) read as a
//! chain: each step becomes a chain step, runtime expressions become
//! templates, `successCriteria` become `expect.that`, `onSuccess` and
//! `onFailure` become the step's `on_success` / `on_failure` actions. The
//! chain then goes through the same compile and engine as any other, so
//! every output (report, JUnit, HAR, metrics, history, tapes) works, and
//! every problem points at the Arazzo file.
//!
//! Workflows run one after another in `dependsOn` order; a step that runs
//! another workflow has that workflow's steps in its place, its inputs
//! given by the step's parameters.

mod expr;
mod source;

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use indexmap::IndexMap;
use serde_json::{Map, Value, json};

use crate::chain::parse::ParsedChain;
use crate::chain::spans::{SpanMap, join_index, join_key};
use crate::diagnostic::{Diagnostic, Diagnostics, Loc, Source};
use expr::{Names, Place, quote};
use source::{Operation, Sources};

/// Whether a document is an Arazzo file (it says which version it is).
pub fn is_arazzo(doc: &Value) -> bool {
    doc.get("arazzo").is_some_and(Value::is_string)
}

/// Reads a chain file, or an Arazzo file as the chain that runs
/// `workflow` (every workflow without it).
pub fn parse_any(source: Arc<Source>, workflow: Option<&str>) -> Result<ParsedChain, Diagnostics> {
    if source.text.trim().is_empty() {
        return Ok(crate::chain::parse::parse(source)?);
    }
    let (value, spans) = crate::chain::parse::read_document(&source)?;
    if is_arazzo(&value) {
        return translate(source, value, spans, workflow);
    }
    if let Some(w) = workflow {
        return Err(Diagnostic::new(format!(
            "--workflow {w}: {} is a chain, not an Arazzo file",
            source.name
        ))
        .into());
    }
    Ok(crate::chain::parse::from_document(source, value, spans)?)
}

/// The workflow ids of an Arazzo document, in order.
pub fn workflow_ids(doc: &Value) -> Vec<String> {
    doc.get("workflows")
        .and_then(Value::as_array)
        .map(|w| {
            w.iter()
                .filter_map(|w| w.get("workflowId").and_then(Value::as_str))
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default()
}

/// The chain an Arazzo document runs: `workflow` and the workflows it
/// depends on, or every workflow.
pub fn translate(
    source: Arc<Source>,
    doc: Value,
    spans: SpanMap,
    workflow: Option<&str>,
) -> Result<ParsedChain, Diagnostics> {
    let mut t = Translator::new(Arc::clone(&source), Arc::new(doc), spans.clone());
    let chain = t.chain(workflow);
    if !t.errors.is_empty() {
        // A workflow run by several steps is read once for each: its
        // problems are said once.
        let mut seen = HashSet::new();
        t.errors
            .retain(|d| seen.insert((d.loc.map(|l| (l.line, l.column)), d.message.clone())));
        return Err(Diagnostics(t.errors));
    }
    let chain = chain.ok_or_else(|| Diagnostics(vec![Diagnostic::new("nothing to run")]))?;
    let origins = t.origins;
    let locate = |path: &str| -> Option<Loc> {
        let from = origins.get(path)?;
        spans.key(from).or_else(|| spans.nearest(from))
    };
    let mapped = SpanMap::mapped(&chain, &locate);
    crate::chain::parse::from_document(source, chain, mapped).map_err(|d| {
        // A chain this module wrote does not fit the chain format: a bug,
        // said as such rather than blamed on the file.
        Diagnostics(vec![d.note(
            "note: this is pytopus's translation of the Arazzo file; please report it",
        )])
    })
}

/// How a workflow's `$inputs` are read.
enum Binding {
    /// Inputs of the chain (a workflow run by itself).
    Chain,
    /// Given by the step that runs the workflow: input name → template expression.
    Given(HashMap<String, String>),
}

/// What `$steps.ID.outputs.NAME` reads in the workflow being translated.
enum StepOutputs {
    /// Extracted by the chain step: output name → `steps.S.outputs.V`.
    Extracted(HashMap<String, String>),
    /// A step that ran a workflow: that workflow's outputs as expressions.
    Workflow(IndexMap<String, String>),
    /// A step that could not be read: its problems are said already.
    Failed,
}

/// The expression names of one workflow being translated.
struct Scope<'s> {
    binding: &'s Binding,
    /// Inputs that are secrets (`format: password`).
    secrets: &'s HashSet<String>,
    steps: &'s HashMap<String, StepOutputs>,
    /// Outputs of the workflows translated so far.
    workflows: &'s HashMap<String, IndexMap<String, String>>,
    sources: &'s Sources,
}

impl Names for Scope<'_> {
    fn input(&self, name: &str) -> Result<String, String> {
        match self.binding {
            // An input the calling step does not give is null, as in JSON.
            Binding::Given(given) => Ok(given.get(name).cloned().unwrap_or_else(|| "none".into())),
            Binding::Chain if self.secrets.contains(name) => {
                Ok(format!("secret({})", quote(&secret_name(name))))
            }
            Binding::Chain => Ok(identifier(name)),
        }
    }

    fn step_output(&self, step: &str, name: &str) -> Result<String, String> {
        match self.steps.get(step) {
            None => Err(format!(
                "`$steps.{step}`: no step `{step}` runs before this in the workflow"
            )),
            // Said already, at the step or output that could not be read.
            Some(StepOutputs::Failed) => Err(String::new()),
            Some(StepOutputs::Extracted(outs)) if outs.get(name).is_some_and(String::is_empty) => {
                Err(String::new())
            }
            Some(StepOutputs::Extracted(outs)) => outs
                .get(name)
                .cloned()
                .ok_or_else(|| format!("`$steps.{step}.outputs.{name}`: step `{step}` has no output `{name}`")),
            Some(StepOutputs::Workflow(outs)) if outs.get(name).is_some_and(String::is_empty) => {
                Err(String::new())
            }
            Some(StepOutputs::Workflow(outs)) => outs
                .get(name)
                .cloned()
                .ok_or_else(|| format!("`$steps.{step}.outputs.{name}`: the workflow step `{step}` runs has no output `{name}`")),
        }
    }

    fn workflow(&self, id: &str, part: &str, name: &str) -> Result<String, String> {
        if part == "inputs" {
            return self.input(name);
        }
        let outs = self.workflows.get(id).ok_or_else(|| {
            format!("`$workflows.{id}`: workflow `{id}` has not run before this one (add it to `dependsOn`)")
        })?;
        if outs.get(name).is_some_and(String::is_empty) {
            return Err(String::new());
        }
        outs.get(name).cloned().ok_or_else(|| {
            format!("`$workflows.{id}.outputs.{name}`: workflow `{id}` has no output `{name}`")
        })
    }

    fn source_url(&self, name: &str) -> Result<String, String> {
        self.sources
            .url(name)
            .map(quote)
            .ok_or_else(|| format!("there is no source description `{name}`"))
    }
}

/// A `goto` or `end` whose chain step is known only once a whole workflow
/// is translated.
struct Pending {
    /// The chain step, and which list and entry of its actions.
    step: usize,
    list: &'static str,
    entry: usize,
    target: Target,
}

enum Target {
    /// A step of the same workflow, by its Arazzo id.
    Step {
        block: usize,
        id: String,
        at: String,
    },
    /// The end of a workflow: the next one goes on.
    EndOf(usize),
}

struct Translator {
    /// The document being read: the file run, or another Arazzo file it
    /// names in `sourceDescriptions` while one of its workflows is read.
    source: Arc<Source>,
    doc: Arc<Value>,
    spans: SpanMap,
    /// How the file run names the document being read (`None`: it is that
    /// file), and the step of the file run that led there.
    within: Option<(String, String)>,
    /// Other Arazzo files read so far, by their name in the file run.
    others: HashMap<String, Arc<Other>>,
    errors: Vec<Diagnostic>,
    sources: Arc<Sources>,
    steps: Vec<Value>,
    /// Chain path → Arazzo path, for positions.
    origins: HashMap<String, String>,
    used: HashSet<String>,
    inputs: Map<String, Value>,
    secrets: HashSet<String>,
    /// Outputs of each workflow translated, as template expressions.
    workflow_outputs: HashMap<String, IndexMap<String, String>>,
    /// Each block (a workflow's run): its steps' chain names by Arazzo id,
    /// and where it ends in the chain.
    blocks: Vec<(HashMap<String, String>, usize)>,
    pending: Vec<Pending>,
    /// Workflows being inlined, to refuse a workflow that runs itself.
    running: Vec<String>,
}

/// Another Arazzo file a `sourceDescriptions` entry names, read.
struct Other {
    source: Arc<Source>,
    doc: Arc<Value>,
    spans: SpanMap,
    sources: Arc<Sources>,
}

/// The document being read before [`Translator::enter`].
struct Saved {
    source: Arc<Source>,
    doc: Arc<Value>,
    spans: SpanMap,
    sources: Arc<Sources>,
    within: Option<(String, String)>,
}

/// A workflow to run: of the file run, or of another Arazzo file.
enum Run {
    Here(usize),
    There {
        name: String,
        id: String,
        at: String,
    },
}

/// An Arazzo step's chain name from its id.
fn identifier(id: &str) -> String {
    let mut s: String = id
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect();
    if s.is_empty() || s.starts_with(|c: char| c.is_ascii_digit()) {
        s.insert(0, '_');
    }
    s
}

/// The secret a `format: password` input is read from.
fn secret_name(input: &str) -> String {
    identifier(input)
}

const TAKEN: &[&str] = &[
    "steps",
    "env",
    "item",
    "index",
    "loop",
    "params",
    "response",
    "true",
    "false",
    "none",
    "null",
    "trigger",
    "now",
    "uuid",
    "range",
    "dict",
    "namespace",
    "debug",
    "cycler",
    "joiner",
    "secret",
];

impl Translator {
    fn new(source: Arc<Source>, doc: Arc<Value>, spans: SpanMap) -> Self {
        Translator {
            source,
            doc,
            spans,
            within: None,
            others: HashMap::new(),
            errors: Vec::new(),
            sources: Arc::default(),
            steps: Vec::new(),
            origins: HashMap::new(),
            used: TAKEN.iter().map(|s| s.to_string()).collect(),
            inputs: Map::new(),
            secrets: HashSet::new(),
            workflow_outputs: HashMap::new(),
            blocks: Vec::new(),
            pending: Vec::new(),
            running: Vec::new(),
        }
    }

    /// An error at `path`; an empty message is a consequence of one said
    /// already, and is not said again.
    /// Where a chain path came from in the file run: `arazzo_path` there,
    /// or, in another Arazzo file, the step of the file run that led there.
    fn origin(&mut self, chain_path: impl Into<String>, arazzo_path: impl Into<String>) {
        let from = match &self.within {
            Some((_, call)) => call.clone(),
            None => arazzo_path.into(),
        };
        self.origins.insert(chain_path.into(), from);
    }

    /// The key of workflow `id` of the document being read.
    fn wkey(&self, id: &str) -> String {
        match &self.within {
            Some((name, _)) => format!("$sourceDescriptions.{name}.{id}"),
            None => id.to_string(),
        }
    }

    /// Reads another Arazzo file named in `sourceDescriptions` from now
    /// on, until [`Self::leave`]; `at` is where it is named.
    fn enter(&mut self, name: &str, at: &str) -> Option<Saved> {
        let other = match self.others.get(name) {
            Some(o) => Arc::clone(o),
            None => {
                let Some((source, doc, spans)) = self.sources.arazzo(name) else {
                    let known = self.sources.url(name).is_some();
                    self.error(
                        at,
                        if known {
                            format!("the source description `{name}` is not an Arazzo file")
                        } else {
                            format!("there is no source description `{name}`")
                        },
                    );
                    return None;
                };
                let dir = std::path::Path::new(&source.name)
                    .parent()
                    .map(std::path::Path::to_path_buf)
                    .unwrap_or_default();
                let mut problems = Vec::new();
                let sources = Sources::read(&doc, &dir, &source::fetch, &mut |path, msg| {
                    problems.push((path.to_string(), msg))
                });
                for (path, msg) in problems {
                    let loc = spans.key(&path).or_else(|| spans.nearest(&path));
                    self.errors.push(Diagnostic::new(msg).at(&source, loc));
                }
                let other = Arc::new(Other {
                    source,
                    doc: Arc::new(doc),
                    spans,
                    sources: Arc::new(sources),
                });
                self.others.insert(name.to_string(), Arc::clone(&other));
                other
            }
        };
        let call = match &self.within {
            Some((_, call)) => call.clone(),
            None => at.to_string(),
        };
        let saved = Saved {
            source: std::mem::replace(&mut self.source, Arc::clone(&other.source)),
            doc: std::mem::replace(&mut self.doc, Arc::clone(&other.doc)),
            spans: std::mem::replace(&mut self.spans, other.spans.clone()),
            sources: std::mem::replace(&mut self.sources, Arc::clone(&other.sources)),
            within: self.within.replace((name.to_string(), call)),
        };
        Some(saved)
    }

    fn leave(&mut self, saved: Saved) {
        self.source = saved.source;
        self.doc = saved.doc;
        self.spans = saved.spans;
        self.sources = saved.sources;
        self.within = saved.within;
    }

    fn error(&mut self, path: &str, msg: impl Into<String>) {
        let msg = msg.into();
        if msg.is_empty() {
            return;
        }
        let loc = self.spans.key(path).or_else(|| self.spans.nearest(path));
        self.errors.push(Diagnostic::new(msg).at(&self.source, loc));
    }

    fn unsupported(&mut self, path: &str, what: &str) {
        self.error(
            path,
            format!("{what} is not supported by pytopus's Arazzo runner"),
        );
    }

    /// The whole chain, or `None` after errors.
    fn chain(&mut self, only: Option<&str>) -> Option<Value> {
        let version = self.doc.get("arazzo").and_then(Value::as_str).unwrap_or("");
        if !(version.starts_with("1.0.") || version.starts_with("1.1.")) {
            self.error(
                "arazzo",
                format!("Arazzo {version} is not supported: pytopus runs 1.0.x and 1.1.x"),
            );
            return None;
        }
        let workflows = match self.doc.get("workflows").and_then(Value::as_array) {
            Some(w) if !w.is_empty() => w.clone(),
            _ => {
                self.error(
                    "workflows",
                    "an Arazzo file needs `workflows`, with at least one",
                );
                return None;
            }
        };
        let dir = std::path::Path::new(&self.source.name)
            .parent()
            .map(std::path::Path::to_path_buf)
            .unwrap_or_default();
        let mut problems = Vec::new();
        self.sources = Arc::new(Sources::read(
            &self.doc,
            &dir,
            &source::fetch,
            &mut |path, msg| problems.push((path.to_string(), msg)),
        ));
        for (path, msg) in problems {
            self.error(&path, msg);
        }
        let order = self.order(&workflows, only)?;
        let mut outputs = Map::new();
        let mut shown = 0;
        for run in &order {
            let w = match run {
                Run::Here(w) => *w,
                Run::There { name, id, at } => {
                    // A workflow of another file this one depends on: it
                    // runs first; its outputs are not this file's.
                    let saved = self.enter(name, at)?;
                    let found = workflow_ids(&self.doc).iter().position(|i| i == id);
                    let outs = match found {
                        Some(w) => self.workflow(w, &Binding::Chain, None),
                        None => {
                            let at = at.clone();
                            self.leave(saved);
                            self.error(
                                &at,
                                format!("the Arazzo file `{name}` has no workflow `{id}`"),
                            );
                            return None;
                        }
                    };
                    let key = self.wkey(id);
                    self.leave(saved);
                    self.workflow_outputs.insert(key, outs?);
                    continue;
                }
            };
            shown += 1;
            let id = workflows[w]["workflowId"]
                .as_str()
                .unwrap_or_default()
                .to_string();
            let outs = self.workflow(w, &Binding::Chain, None)?;
            if !outs.is_empty() {
                let rendered: Map<String, Value> = outs
                    .iter()
                    .map(|(k, e)| (k.clone(), Value::String(format!("{{{{ {e} }}}}"))))
                    .collect();
                outputs.insert(id.clone(), Value::Object(rendered));
            }
            self.workflow_outputs.insert(id, outs);
        }
        self.resolve_pending();
        if !self.errors.is_empty() {
            return None;
        }
        let title = self
            .doc
            .pointer("/info/title")
            .and_then(Value::as_str)
            .unwrap_or("arazzo");
        let mut chain = json!({
            "name": match only { Some(w) => format!("{title} › {w}"), None => title.to_string() },
            "defaults": {"retry": {"attempts": 1}},
            "steps": std::mem::take(&mut self.steps),
        });
        if let Some(d) = self
            .doc
            .pointer("/info/description")
            .or_else(|| self.doc.pointer("/info/summary"))
        {
            chain["description"] = d.clone();
        }
        if !self.inputs.is_empty() {
            chain["inputs"] = Value::Object(std::mem::take(&mut self.inputs));
        }
        let out = if let Some(w) = only {
            outputs.remove(w)
        } else if shown == 1 {
            outputs.into_iter().next().map(|(_, v)| v)
        } else {
            (!outputs.is_empty()).then_some(Value::Object(outputs))
        };
        if let Some(o) = out {
            chain["output"] = o;
        }
        Some(chain)
    }

    /// The workflows to run, each after the ones it depends on.
    fn order(&mut self, workflows: &[Value], only: Option<&str>) -> Option<Vec<Run>> {
        let ids: Vec<&str> = workflows
            .iter()
            .map(|w| w.get("workflowId").and_then(Value::as_str).unwrap_or(""))
            .collect();
        let wanted: Vec<usize> = match only {
            Some(id) => match ids.iter().position(|w| *w == id) {
                Some(i) => vec![i],
                None => {
                    self.errors.push(
                        Diagnostic::new(format!(
                            "there is no workflow `{id}`; the workflows are {}",
                            ids.iter()
                                .map(|i| format!("`{i}`"))
                                .collect::<Vec<_>>()
                                .join(", ")
                        ))
                        .at(&self.source, self.spans.key("workflows")),
                    );
                    return None;
                }
            },
            None => (0..workflows.len()).collect(),
        };
        let mut order = Vec::new();
        let mut state = vec![0u8; workflows.len()];
        for w in wanted {
            self.visit(w, workflows, &ids, &mut state, &mut order);
        }
        self.errors.is_empty().then_some(order)
    }

    fn visit(
        &mut self,
        w: usize,
        workflows: &[Value],
        ids: &[&str],
        state: &mut [u8],
        order: &mut Vec<Run>,
    ) {
        match state[w] {
            2 => return,
            1 => {
                let path = join_key(&join_index("workflows", w), "dependsOn");
                self.error(
                    &path,
                    format!(
                        "workflow `{}` depends on itself, through `dependsOn`",
                        ids[w]
                    ),
                );
                return;
            }
            _ => {}
        }
        state[w] = 1;
        let deps = workflows[w]
            .get("dependsOn")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        for (k, d) in deps.iter().enumerate() {
            let path = join_index(&join_key(&join_index("workflows", w), "dependsOn"), k);
            let Some(d) = d.as_str() else {
                self.error(&path, "`dependsOn` lists workflow ids");
                continue;
            };
            match ids.iter().position(|i| *i == d) {
                Some(j) => self.visit(j, workflows, ids, state, order),
                None if d.starts_with("$sourceDescriptions.") => {
                    match d["$sourceDescriptions.".len()..].split_once('.') {
                        Some((name, id)) => {
                            let run = Run::There {
                                name: name.to_string(),
                                id: id.to_string(),
                                at: path.clone(),
                            };
                            let seen = order.iter().any(|r| matches!(r, Run::There { name: n, id: i, .. } if n == name && i == id));
                            if !seen {
                                order.push(run);
                            }
                        }
                        None => {
                            self.error(&path, format!("`{d}` names no workflow after the source"))
                        }
                    }
                }
                None => self.error(&path, format!("there is no workflow `{d}`")),
            }
        }
        state[w] = 2;
        order.push(Run::Here(w));
    }

    /// Translates workflow `w` into chain steps appended to the chain;
    /// returns its outputs as template expressions.
    fn workflow(
        &mut self,
        w: usize,
        binding: &Binding,
        prefix: Option<&str>,
    ) -> Option<IndexMap<String, String>> {
        let wpath = join_index("workflows", w);
        let wf = self.doc["workflows"][w].clone();
        let id = wf["workflowId"].as_str().unwrap_or_default().to_string();
        if id.is_empty() {
            self.error(&wpath, "a workflow needs a `workflowId`");
            return None;
        }
        let key = self.wkey(&id);
        if self.running.contains(&key) {
            self.error(&wpath, format!("workflow `{id}` runs itself"));
            return None;
        }
        self.running.push(key);
        if matches!(binding, Binding::Chain) {
            self.declare_inputs(&wf, &wpath);
        }
        let steps = wf["steps"].as_array().cloned().unwrap_or_default();
        if steps.is_empty() {
            self.error(
                &join_key(&wpath, "steps"),
                format!("workflow `{id}` has no steps"),
            );
        }
        // Names first: `goto` may name a later step.
        let block = self.blocks.len();
        let mut names = HashMap::new();
        for (k, step) in steps.iter().enumerate() {
            let sid = step["stepId"].as_str().unwrap_or_default();
            if sid.is_empty() {
                self.error(
                    &join_index(&join_key(&wpath, "steps"), k),
                    "a step needs a `stepId`",
                );
                continue;
            }
            if names.contains_key(sid) {
                self.error(
                    &join_key(&join_index(&join_key(&wpath, "steps"), k), "stepId"),
                    format!("two steps of workflow `{id}` are called `{sid}`"),
                );
            }
            let name = self.fresh(&identifier(sid), prefix.unwrap_or(&id));
            names.insert(sid.to_string(), name);
        }
        self.blocks.push((names.clone(), 0));
        let mut outputs: HashMap<String, StepOutputs> = HashMap::new();
        for (k, step) in steps.iter().enumerate() {
            let spath = join_index(&join_key(&wpath, "steps"), k);
            let sid = step["stepId"].as_str().unwrap_or_default().to_string();
            let Some(name) = names.get(&sid).cloned() else {
                continue;
            };
            let outs = self.step(&wf, &wpath, step, &spath, &name, block, binding, &outputs);
            outputs.insert(sid, outs.unwrap_or(StepOutputs::Failed));
        }
        self.blocks[block].1 = self.steps.len();
        let secrets = self.secrets.clone();
        let sources = Arc::clone(&self.sources);
        let scope = Scope {
            binding,
            secrets: &secrets,
            steps: &outputs,
            workflows: &self.workflow_outputs,
            sources: &sources,
        };
        let mut result = IndexMap::new();
        let mut problems = Vec::new();
        if let Some(outs) = wf.get("outputs").and_then(Value::as_object) {
            for (name, e) in outs {
                let at = join_key(&join_key(&wpath, "outputs"), name);
                match e
                    .as_str()
                    .map(|s| expr::expression(s, Place::Request, &scope))
                {
                    Some(Ok(t)) => {
                        result.insert(name.clone(), t);
                    }
                    Some(Err(msg)) => {
                        if msg.is_empty() {
                            result.insert(name.clone(), String::new());
                        }
                        problems.push((at, msg));
                    }
                    None => problems.push((at, "an output is a runtime expression".to_string())),
                }
            }
        }
        for (at, msg) in problems {
            self.error(&at, msg);
        }
        self.running.pop();
        Some(result)
    }

    /// A chain name not taken yet: `name`, else `WORKFLOW_name`, else numbered.
    fn fresh(&mut self, name: &str, workflow: &str) -> String {
        let mut candidate = name.to_string();
        if self.used.contains(&candidate) {
            candidate = format!("{}_{name}", identifier(workflow));
        }
        let mut n = 2;
        let base = candidate.clone();
        while self.used.contains(&candidate) {
            candidate = format!("{base}_{n}");
            n += 1;
        }
        self.used.insert(candidate.clone());
        candidate
    }

    /// A workflow's `inputs` schema as chain inputs; `format: password`
    /// inputs are read from pytopus's secrets instead.
    fn declare_inputs(&mut self, wf: &Value, wpath: &str) {
        let Some(mut schema) = wf.get("inputs").cloned() else {
            return;
        };
        let mut ipath = join_key(wpath, "inputs");
        if let Some(r) = schema.get("$ref").and_then(Value::as_str) {
            match r
                .strip_prefix("#/components/inputs/")
                .and_then(|n| self.doc.pointer(&format!("/components/inputs/{n}")))
            {
                Some(found) => {
                    ipath = format!("components.inputs.{}", &r["#/components/inputs/".len()..]);
                    schema = found.clone();
                }
                None => {
                    self.error(
                        &join_key(&ipath, "$ref"),
                        format!("`{r}` is not under `components.inputs`"),
                    );
                    return;
                }
            }
        }
        let required: Vec<&str> = schema
            .get("required")
            .and_then(Value::as_array)
            .map(|r| r.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        let Some(props) = schema.get("properties").and_then(Value::as_object) else {
            return;
        };
        for (name, prop) in props {
            let at = join_key(&join_key(&ipath, "properties"), name);
            let mut prop = prop.as_object().cloned().unwrap_or_default();
            if let Some(r) = prop.get("$ref").and_then(Value::as_str).map(str::to_string) {
                match r
                    .strip_prefix("#/components/inputs/")
                    .and_then(|n| self.doc.pointer(&format!("/components/inputs/{n}")))
                    .and_then(Value::as_object)
                {
                    Some(found) => prop = found.clone(),
                    None => {
                        self.error(
                            &join_key(&at, "$ref"),
                            format!("`{r}` is not under `components.inputs`"),
                        );
                        continue;
                    }
                }
            }
            if prop.get("format").and_then(Value::as_str) == Some("password") {
                self.secrets.insert(name.clone());
                continue;
            }
            let chain_name = identifier(name);
            if self.inputs.contains_key(&chain_name) {
                continue;
            }
            if !required.contains(&name.as_str()) && !prop.contains_key("default") {
                prop.insert("required".into(), Value::Bool(false));
            }
            self.used.insert(chain_name.clone());
            self.origin(join_key("inputs", &chain_name), at);
            self.inputs.insert(chain_name, Value::Object(prop));
        }
    }

    /// One Arazzo step as chain steps (one, or a workflow's); what its
    /// outputs read.
    #[allow(clippy::too_many_arguments)]
    fn step(
        &mut self,
        wf: &Value,
        wpath: &str,
        step: &Value,
        spath: &str,
        name: &str,
        block: usize,
        binding: &Binding,
        before: &HashMap<String, StepOutputs>,
    ) -> Option<StepOutputs> {
        let secrets = self.secrets.clone();
        let workflows = self.workflow_outputs.clone();
        let sources = Arc::clone(&self.sources);
        let scope = Scope {
            binding,
            secrets: &secrets,
            steps: before,
            workflows: &workflows,
            sources: &sources,
        };
        self.step_in(wf, wpath, step, spath, name, block, &scope)
    }

    #[allow(clippy::too_many_arguments)]
    fn step_in(
        &mut self,
        wf: &Value,
        wpath: &str,
        step: &Value,
        spath: &str,
        name: &str,
        block: usize,
        scope: &Scope<'_>,
    ) -> Option<StepOutputs> {
        for key in ["x-expect", "x-assert"] {
            if step.get(key).is_some() {
                self.unsupported(&join_key(spath, key), &format!("`{key}`"));
            }
        }
        if let Some(target) = step.get("workflowId").and_then(Value::as_str) {
            return self.call_workflow(target, step, spath, scope);
        }
        let index = self.steps.len();
        let chain_path = join_index("steps", index);
        self.origin(chain_path.clone(), spath.to_string());
        let op = self.operation(step, spath)?;
        let mut out = Map::new();
        out.insert("name".into(), json!(name));
        if let Some(d) = step.get("description").and_then(Value::as_str) {
            let _ = d;
        }
        out.insert("method".into(), json!(op.method.to_ascii_uppercase()));
        // Parameters: the workflow's, then the step's (same name and place: the step's).
        let mut params: Vec<(String, Value, String)> = Vec::new();
        for (list_path, list) in [
            (join_key(wpath, "parameters"), wf.get("parameters")),
            (join_key(spath, "parameters"), step.get("parameters")),
        ] {
            for (k, p) in list
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .enumerate()
            {
                let at = join_index(&list_path, k);
                let Some(p) = self.parameter(p, &at) else {
                    continue;
                };
                params.retain(|(_, q, _)| !(q["name"] == p["name"] && q["in"] == p["in"]));
                params.push((at, p, String::new()));
            }
        }
        let mut path_values: HashMap<String, String> = HashMap::new();
        let mut query = Map::new();
        let mut headers = Map::new();
        let mut cookies = Vec::new();
        for (at, p, _) in &params {
            let pname = p["name"].as_str().unwrap_or_default().to_string();
            let vpath = join_key(at, "value");
            let place = p["in"].as_str().unwrap_or("");
            let value = match expr::value(&p["value"], Place::Request, scope) {
                Ok(v) => v,
                Err(msg) => {
                    if place == "path" {
                        path_values.insert(pname, String::new());
                    }
                    self.error(&vpath, msg);
                    continue;
                }
            };
            match place {
                "path" => match expr::value_expr(&p["value"], Place::Request, scope) {
                    Ok(e) => {
                        path_values.insert(pname, e);
                    }
                    Err(msg) => {
                        path_values.insert(pname, String::new());
                        self.error(&vpath, msg);
                    }
                },
                "query" => {
                    self.origin(join_key(&join_key(&chain_path, "query_params"), &pname), vpath);
                    query.insert(pname, value);
                }
                "header" => {
                    self.origin(join_key(&join_key(&chain_path, "headers"), &pname), vpath);
                    headers.insert(pname, scalar(value));
                }
                "cookie" => match value {
                    Value::String(s) => cookies.push(format!("{pname}={s}")),
                    other => cookies.push(format!("{pname}={other}")),
                },
                "" => self.error(
                    &join_key(at, "name"),
                    format!("parameter `{pname}` needs `in` (path, query, header or cookie) on an operation step"),
                ),
                other => self.error(
                    &join_key(at, "in"),
                    format!("`in: {other}`: a parameter is in path, query, header or cookie"),
                ),
            }
        }
        if !cookies.is_empty() {
            headers.insert("Cookie".into(), Value::String(cookies.join("; ")));
        }
        // The URL: the server, the path with its parameters.
        // Without a URL the step cannot run, but the rest of it is still
        // read, so every problem is said at once.
        let url = self.url(&op, &path_values, spath);
        let failed = url.is_none();
        let url = url.unwrap_or_default();
        self.origin(join_key(&chain_path, "url"), op.at.clone());
        out.insert("url".into(), json!(url));
        if !query.is_empty() {
            out.insert("query_params".into(), Value::Object(query));
        }
        if let Some(body) = step.get("requestBody") {
            self.request_body(
                body,
                &join_key(spath, "requestBody"),
                &chain_path,
                &mut out,
                &mut headers,
                scope,
            );
        }
        if !headers.is_empty() {
            out.insert("headers".into(), Value::Object(headers));
        }
        if let Some(auth) = self.security(step, spath, &op, scope) {
            out.insert("auth".into(), auth);
        }
        // Success: every criterion; without any, whatever the answer.
        let mut expect = json!({"status": ["1xx", "2xx", "3xx", "4xx", "5xx"]});
        if let Some(criteria) = step.get("successCriteria").and_then(Value::as_array) {
            let mut that = Vec::new();
            for (k, c) in criteria.iter().enumerate() {
                let at = join_index(&join_key(spath, "successCriteria"), k);
                if let Some(e) = self.criterion(c, &at, scope) {
                    self.origin(
                        join_index(
                            &join_key(&join_key(&chain_path, "expect"), "that"),
                            that.len(),
                        ),
                        at,
                    );
                    that.push(Value::String(format!("{{{{ {e} }}}}")));
                }
            }
            if !that.is_empty() {
                expect["that"] = Value::Array(that);
            }
        }
        out.insert("expect".into(), expect);
        // Outputs: extracted from the response.
        let mut extracted = HashMap::new();
        let mut extract = Map::new();
        if let Some(outs) = step.get("outputs").and_then(Value::as_object) {
            for (oname, e) in outs {
                let at = join_key(&join_key(spath, "outputs"), oname);
                let Some(source) = e.as_str().and_then(extract_source) else {
                    extracted.insert(oname.clone(), String::new());
                    self.error(
                        &at,
                        format!(
                            "step output `{oname}`: pytopus reads a step's outputs from its response: `$statusCode`, `$response.header.NAME`, `$response.body` or `$response.body#/pointer`"
                        ),
                    );
                    continue;
                };
                let var = self.fresh(&format!("{name}_{}", identifier(oname)), name);
                self.origin(join_key(&join_key(&chain_path, "extract"), &var), at);
                extract.insert(var.clone(), Value::String(source));
                extracted.insert(oname.clone(), format!("steps.{name}.outputs.{var}"));
            }
        }
        if !extract.is_empty() {
            out.insert("extract".into(), Value::Object(extract));
        }
        self.steps.push(Value::Object(out));
        // Actions: the step's, then the workflow's.
        for (list, key, wkey) in [
            ("on_success", "onSuccess", "successActions"),
            ("on_failure", "onFailure", "failureActions"),
        ] {
            let mut actions = Vec::new();
            let own = step
                .get(key)
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default();
            let shared = wf
                .get(wkey)
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default();
            let own_at = join_key(spath, key);
            let shared_at = join_key(wpath, wkey);
            for (k, a) in own
                .iter()
                .enumerate()
                .map(|(k, a)| (join_index(&own_at, k), a))
                .chain(
                    shared
                        .iter()
                        .enumerate()
                        .map(|(k, a)| (join_index(&shared_at, k), a)),
                )
            {
                if let Some(action) = self.action(a, &k, list, index, actions.len(), block, scope) {
                    self.origin(join_index(&join_key(&chain_path, list), actions.len()), k);
                    actions.push(action);
                }
            }
            if !actions.is_empty() {
                self.steps[index][list] = Value::Array(actions);
            }
        }
        if failed {
            return None;
        }
        Some(StepOutputs::Extracted(extracted))
    }

    /// A step that runs another workflow: that workflow's steps, here.
    fn call_workflow(
        &mut self,
        target: &str,
        step: &Value,
        spath: &str,
        scope: &Scope<'_>,
    ) -> Option<StepOutputs> {
        let at = join_key(spath, "workflowId");
        if let Some(rest) = target.strip_prefix("$sourceDescriptions.") {
            let Some((name, id)) = rest.split_once('.') else {
                self.error(
                    &at,
                    format!("`{target}` names no workflow after the source"),
                );
                return None;
            };
            let (name, id) = (name.to_string(), id.to_string());
            let given = self.given(step, spath, scope);
            let saved = self.enter(&name, &at)?;
            let found = workflow_ids(&self.doc).iter().position(|i| *i == id);
            let first = self.steps.len();
            let outs = match found {
                Some(w) => self.workflow(w, &Binding::Given(given), step["stepId"].as_str()),
                None => None,
            };
            self.leave(saved);
            if found.is_none() {
                self.error(
                    &at,
                    format!("the Arazzo file `{name}` has no workflow `{id}`"),
                );
            }
            return self.called(step, spath, &id, first, outs?, scope);
        }
        let Some(w) = workflow_ids(&self.doc).iter().position(|i| i == target) else {
            self.error(&at, format!("there is no workflow `{target}`"));
            return None;
        };
        for key in ["requestBody", "onSuccess", "onFailure"] {
            if step.get(key).is_some() {
                self.unsupported(
                    &join_key(spath, key),
                    &format!("`{key}` on a step that runs a workflow"),
                );
            }
        }
        let given = self.given(step, spath, scope);
        let sid = step["stepId"].as_str().unwrap_or_default();
        let first = self.steps.len();
        let outs = self.workflow(w, &Binding::Given(given), Some(sid))?;
        self.called(step, spath, target, first, outs, scope)
    }

    /// The inputs a step that runs a workflow gives it: its parameters, as
    /// template expressions.
    fn given(&mut self, step: &Value, spath: &str, scope: &Scope<'_>) -> HashMap<String, String> {
        let mut given = HashMap::new();
        for (k, p) in step
            .get("parameters")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .enumerate()
        {
            let ppath = join_index(&join_key(spath, "parameters"), k);
            let Some(p) = self.parameter(p, &ppath) else {
                continue;
            };
            let pname = p["name"].as_str().unwrap_or_default().to_string();
            match expr::value_expr(&p["value"], Place::Request, scope) {
                Ok(e) => {
                    given.insert(pname, e);
                }
                Err(msg) => self.error(&join_key(&ppath, "value"), msg),
            }
        }
        given
    }

    /// What a step that ran a workflow checks and gives: its criteria on
    /// the workflow's last response, its outputs from the workflow's.
    fn called(
        &mut self,
        step: &Value,
        spath: &str,
        target: &str,
        first: usize,
        outs: IndexMap<String, String>,
        scope: &Scope<'_>,
    ) -> Option<StepOutputs> {
        // Its criteria are checked on the workflow's last response.
        if let Some(criteria) = step.get("successCriteria").and_then(Value::as_array)
            && self.steps.len() > first
        {
            let last = self.steps.len() - 1;
            for (k, c) in criteria.iter().enumerate() {
                let at = join_index(&join_key(spath, "successCriteria"), k);
                if let Some(e) = self.criterion(c, &at, scope) {
                    let that = &mut self.steps[last]["expect"]["that"];
                    if !that.is_array() {
                        *that = Value::Array(Vec::new());
                    }
                    let Value::Array(list) = that else { continue };
                    list.push(Value::String(format!("{{{{ {e} }}}}")));
                    let k = list.len() - 1;
                    self.origin(
                        join_index(
                            &join_key(&join_key(&join_index("steps", last), "expect"), "that"),
                            k,
                        ),
                        at,
                    );
                }
            }
        }
        // Its outputs: `$outputs.NAME` is the workflow's output NAME.
        let mut mine = IndexMap::new();
        if let Some(o) = step.get("outputs").and_then(Value::as_object) {
            for (name, e) in o {
                let at = join_key(&join_key(spath, "outputs"), name);
                match e
                    .as_str()
                    .and_then(|e| e.strip_prefix("$outputs."))
                    .and_then(|n| outs.get(n))
                {
                    Some(found) => {
                        mine.insert(name.clone(), found.clone());
                    }
                    None => {
                        mine.insert(name.clone(), String::new());
                        self.error(
                        &at,
                        format!(
                            "the output `{name}` of a step that runs workflow `{target}` is `$outputs.NAME`, NAME one of the workflow's outputs ({})",
                            outs.keys().map(|k| format!("`{k}`")).collect::<Vec<_>>().join(", ")
                        ),
                    );
                    }
                }
            }
        }
        // Without outputs of its own, the workflow's are read through it.
        Some(StepOutputs::Workflow(if step.get("outputs").is_some() {
            mine
        } else {
            outs
        }))
    }

    /// A parameter, with `reference: $components.parameters.NAME` looked up.
    fn parameter(&mut self, p: &Value, at: &str) -> Option<Value> {
        if let Some(r) = p.get("reference").and_then(Value::as_str) {
            let Some(name) = r.strip_prefix("$components.parameters.") else {
                self.error(
                    &join_key(at, "reference"),
                    format!("`{r}` is not a `$components.parameters` entry"),
                );
                return None;
            };
            let Some(mut found) = self
                .doc
                .pointer(&format!("/components/parameters/{name}"))
                .cloned()
            else {
                self.error(
                    &join_key(at, "reference"),
                    format!("there is no `components.parameters.{name}`"),
                );
                return None;
            };
            if let Some(v) = p.get("value") {
                found["value"] = v.clone();
            }
            return Some(found);
        }
        if p.get("name").and_then(Value::as_str).is_none() || p.get("value").is_none() {
            self.error(at, "a parameter needs `name` and `value`");
            return None;
        }
        Some(p.clone())
    }

    fn operation(&mut self, step: &Value, spath: &str) -> Option<Operation> {
        let found = if let Some(id) = step.get("operationId").and_then(Value::as_str) {
            self.sources
                .by_id(id)
                .map_err(|m| (join_key(spath, "operationId"), m))
        } else if let Some(p) = step.get("operationPath").and_then(Value::as_str) {
            self.sources
                .by_path(p)
                .map_err(|m| (join_key(spath, "operationPath"), m))
        } else if let Some(x) = step.get("x-operation") {
            let url = x.get("url").and_then(Value::as_str);
            let method = x.get("method").and_then(Value::as_str).unwrap_or("get");
            match url {
                Some(u) => Ok(Operation {
                    method: method.to_string(),
                    server: None,
                    path: u.to_string(),
                    security: Vec::new(),
                    source: None,
                    at: join_key(spath, "x-operation"),
                }),
                None => Err((
                    join_key(spath, "x-operation"),
                    "`x-operation` needs `url`".to_string(),
                )),
            }
        } else {
            Err((
                spath.to_string(),
                "a step needs `operationId`, `operationPath`, `workflowId` or `x-operation`"
                    .to_string(),
            ))
        };
        match found {
            Ok(mut op) => {
                if op.at.is_empty() {
                    op.at = join_key(
                        spath,
                        if step.get("operationId").is_some() {
                            "operationId"
                        } else {
                            "operationPath"
                        },
                    );
                }
                Some(op)
            }
            Err((at, msg)) => {
                self.error(&at, msg);
                None
            }
        }
    }

    /// The operation's URL as a template: its server (an input, so a test
    /// can point it elsewhere) and its path with the path parameters.
    fn url(
        &mut self,
        op: &Operation,
        values: &HashMap<String, String>,
        spath: &str,
    ) -> Option<String> {
        let mut path = String::new();
        let mut rest = op.path.as_str();
        while let Some(open) = rest.find('{') {
            path.push_str(&rest[..open]);
            let Some(close) = rest[open..].find('}') else {
                break;
            };
            let pname = &rest[open + 1..open + close];
            match values.get(pname) {
                // Its value could not be read: said already.
                Some(e) if e.is_empty() => return None,
                Some(e) => path.push_str(&format!("{{{{ ({e}) | path_segment }}}}")),
                None => {
                    self.error(
                        &join_key(spath, "parameters"),
                        format!(
                            "the path `{}` needs `{pname}`: add a parameter with `in: path`",
                            op.path
                        ),
                    );
                    return None;
                }
            }
            rest = &rest[open + close + 1..];
        }
        path.push_str(rest);
        let Some(server) = &op.server else {
            return Some(path);
        };
        let input = format!("server_{}", identifier(&server.source));
        if !self.inputs.contains_key(&input) {
            let mut schema = json!({
                "type": "string",
                "description": format!("The base URL of `{}` (its first server)", server.source),
            });
            if let Some(u) = &server.url {
                schema["default"] = json!(u);
            }
            self.used.insert(input.clone());
            self.inputs.insert(input.clone(), schema);
        }
        Some(format!("{{{{ {input} }}}}{path}"))
    }

    /// `requestBody`: JSON, form, multipart or text, with `replacements`.
    fn request_body(
        &mut self,
        body: &Value,
        at: &str,
        chain_path: &str,
        out: &mut Map<String, Value>,
        headers: &mut Map<String, Value>,
        scope: &Scope<'_>,
    ) {
        let content_type = body.get("contentType").and_then(Value::as_str);
        let mut payload = match body.get("payload") {
            Some(p) => match expr::value(p, Place::Request, scope) {
                Ok(v) => v,
                Err(msg) => {
                    self.error(&join_key(at, "payload"), msg);
                    return;
                }
            },
            None => Value::Null,
        };
        for (k, r) in body
            .get("replacements")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .enumerate()
        {
            let rpath = join_index(&join_key(at, "replacements"), k);
            let target = r.get("target").and_then(Value::as_str).unwrap_or("");
            let value = match r
                .get("value")
                .map(|v| expr::value(v, Place::Request, scope))
            {
                Some(Ok(v)) => v,
                Some(Err(msg)) => {
                    self.error(&join_key(&rpath, "value"), msg);
                    continue;
                }
                None => {
                    self.error(&rpath, "a replacement needs `target` and `value`");
                    continue;
                }
            };
            if !target.starts_with('/') {
                self.unsupported(
                    &join_key(&rpath, "target"),
                    "a replacement target that is not a JSON pointer (XPath)",
                );
                continue;
            }
            match payload.pointer_mut(target) {
                Some(slot) => *slot = value,
                None => self.error(
                    &join_key(&rpath, "target"),
                    format!("`{target}` is not in the payload"),
                ),
            }
        }
        self.origin(join_key(chain_path, "body"), join_key(at, "payload"));
        let ct = content_type
            .unwrap_or("application/json")
            .to_ascii_lowercase();
        if ct.starts_with("application/x-www-form-urlencoded") && payload.is_object() {
            self.origin(join_key(chain_path, "form"), join_key(at, "payload"));
            out.insert("form".into(), payload);
        } else if ct.starts_with("multipart/form-data") && payload.is_object() {
            self.origin(join_key(chain_path, "multipart"), join_key(at, "payload"));
            out.insert("multipart".into(), payload);
        } else {
            if let Some(ct) = content_type {
                headers.insert("Content-Type".into(), json!(ct));
            } else if payload.is_string() {
                headers.insert("Content-Type".into(), json!("application/json"));
            }
            out.insert("body".into(), payload);
        }
    }

    /// Redocly's `x-security` (else the operation's own security, when its
    /// scheme needs no value) as the step's `auth`.
    fn security(
        &mut self,
        step: &Value,
        spath: &str,
        op: &Operation,
        scope: &Scope<'_>,
    ) -> Option<Value> {
        let list = step.get("x-security").and_then(Value::as_array)?;
        let at = join_key(spath, "x-security");
        if list.len() > 1 {
            self.unsupported(&join_index(&at, 1), "more than one `x-security` entry");
        }
        let entry = list.first()?;
        let eat = join_index(&at, 0);
        let scheme = match (
            entry.get("scheme"),
            entry.get("schemeName").and_then(Value::as_str),
        ) {
            (Some(s), _) => s.clone(),
            (None, Some(name)) => match self.sources.scheme(op.source.as_deref(), name) {
                Some(s) => s,
                None => {
                    self.error(
                        &join_key(&eat, "schemeName"),
                        format!("there is no security scheme `{name}` in the source description"),
                    );
                    return None;
                }
            },
            _ => {
                self.error(&eat, "an `x-security` entry needs `scheme` or `schemeName`");
                return None;
            }
        };
        let values = entry.get("values").cloned().unwrap_or(Value::Null);
        let mut value = |key: &str| -> Option<String> {
            let v = values.get(key)?;
            match expr::value(v, Place::Request, scope) {
                Ok(Value::String(s)) => Some(s),
                Ok(other) => Some(other.to_string()),
                Err(msg) => {
                    self.error(&join_key(&join_key(&eat, "values"), key), msg);
                    None
                }
            }
        };
        let kind = scheme.get("type").and_then(Value::as_str).unwrap_or("");
        let http = scheme
            .get("scheme")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_ascii_lowercase();
        let auth = match (kind, http.as_str()) {
            ("http", "bearer") => json!({"type": "bearer", "token": value("token")?}),
            ("http", "basic") => {
                json!({"type": "basic", "username": value("username")?, "password": value("password")?})
            }
            ("apiKey", _) => json!({
                "type": "api_key",
                "in": scheme.get("in").and_then(Value::as_str).unwrap_or("header"),
                "name": scheme.get("name").and_then(Value::as_str).unwrap_or("X-API-Key"),
                "key": value("apiKey").or_else(|| value("value"))?,
            }),
            ("oauth2", _) => {
                let flows = scheme.get("flows");
                let Some(cc) = flows.and_then(|f| f.get("clientCredentials")) else {
                    self.unsupported(&eat, "an OAuth2 scheme without a `clientCredentials` flow");
                    return None;
                };
                let mut a = json!({
                    "type": "oauth2",
                    "grant": "client_credentials",
                    "token_url": cc.get("tokenUrl").and_then(Value::as_str).unwrap_or(""),
                    "client_id": value("clientId")?,
                    "client_secret": value("clientSecret")?,
                });
                if let Some(s) = values.get("scopes") {
                    let scopes = match s {
                        Value::Array(a) => a
                            .iter()
                            .filter_map(Value::as_str)
                            .collect::<Vec<_>>()
                            .join(" "),
                        Value::String(s) => s.clone(),
                        _ => String::new(),
                    };
                    a["scope"] = json!(scopes);
                }
                a
            }
            _ => {
                self.unsupported(&eat, &format!("the security scheme `{kind}` `{http}`"));
                return None;
            }
        };
        Some(auth)
    }

    /// One criterion as a template expression.
    fn criterion(&mut self, c: &Value, at: &str, scope: &Scope<'_>) -> Option<String> {
        let Some(cond) = c.get("condition").and_then(Value::as_str) else {
            self.error(at, "a criterion needs a `condition`");
            return None;
        };
        let kind = match c.get("type") {
            None => "simple",
            Some(Value::String(s)) => s.as_str(),
            Some(Value::Object(o)) => o.get("type").and_then(Value::as_str).unwrap_or(""),
            Some(_) => "",
        };
        let context = match c.get("context").and_then(Value::as_str) {
            Some(ctx) => match expr::expression(ctx, Place::Response, scope) {
                Ok(e) => Some(e),
                Err(msg) => {
                    self.error(&join_key(at, "context"), msg);
                    return None;
                }
            },
            None => None,
        };
        let cpath = join_key(at, "condition");
        let result = match (kind, &context) {
            ("simple", _) => expr::condition(cond, Place::Response, scope),
            ("regex", Some(ctx)) => match crate::chain::expect::regex(cond) {
                Ok(_) => Ok(format!("({ctx}) is matching({})", quote(cond))),
                Err(e) => Err(e),
            },
            ("jsonpath", Some(ctx)) => match crate::jsonpath::JsonPath::compile(cond) {
                // As in the specification's example (`$[?count(@.pets) > 0]`
                // on a body that is a map), the filter looks at the context
                // itself: the query runs over a list holding it.
                Ok(_) => Ok(format!("([{ctx}] | jsonpath({}))", quote(cond))),
                Err(e) => Err(e),
            },
            ("regex" | "jsonpath", None) => Err(format!("a `{kind}` criterion needs a `context`")),
            ("xpath", _) => {
                self.unsupported(&join_key(at, "type"), "an XPath criterion");
                return None;
            }
            (other, _) => Err(format!(
                "`type: {other}`: a criterion is simple, regex or jsonpath"
            )),
        };
        match result {
            Ok(e) => Some(e),
            Err(msg) => {
                self.error(&cpath, msg);
                None
            }
        }
    }

    /// One success or failure action as a chain action.
    #[allow(clippy::too_many_arguments)]
    fn action(
        &mut self,
        a: &Value,
        at: &str,
        list: &'static str,
        index: usize,
        entry: usize,
        block: usize,
        scope: &Scope<'_>,
    ) -> Option<Value> {
        let mut a = a.clone();
        let mut at = at.to_string();
        if let Some(r) = a
            .get("reference")
            .and_then(Value::as_str)
            .map(str::to_string)
        {
            let kind = if list == "on_success" {
                "successActions"
            } else {
                "failureActions"
            };
            let Some(name) = r.strip_prefix(&format!("$components.{kind}.")) else {
                self.error(
                    &join_key(&at, "reference"),
                    format!("`{r}` is not a `$components.{kind}` entry"),
                );
                return None;
            };
            match self.doc.pointer(&format!("/components/{kind}/{name}")) {
                Some(found) => {
                    a = found.clone();
                    at = format!("components.{kind}.{name}");
                }
                None => {
                    self.error(
                        &join_key(&at, "reference"),
                        format!("there is no `components.{kind}.{name}`"),
                    );
                    return None;
                }
            }
        }
        let kind = a.get("type").and_then(Value::as_str).unwrap_or("");
        let mut out = match kind {
            "end" if list == "on_success" => {
                self.pending.push(Pending {
                    step: index,
                    list,
                    entry,
                    target: Target::EndOf(block),
                });
                json!({"end": true})
            }
            "end" => json!({"end": true}),
            "goto" => {
                if a.get("workflowId").is_some() {
                    self.unsupported(&join_key(&at, "workflowId"), "`goto` to a workflow");
                    return None;
                }
                let Some(id) = a.get("stepId").and_then(Value::as_str) else {
                    self.error(&at, "a `goto` action needs `stepId`");
                    return None;
                };
                self.pending.push(Pending {
                    step: index,
                    list,
                    entry,
                    target: Target::Step {
                        block,
                        id: id.to_string(),
                        at: join_key(&at, "stepId"),
                    },
                });
                json!({"goto": ""})
            }
            "retry" if list == "on_failure" => {
                // Arazzo 1.0's schema has a retry name its step: this one.
                let this = self.steps[index]["name"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string();
                let names_other = a
                    .get("stepId")
                    .and_then(Value::as_str)
                    .is_some_and(|id| self.blocks[block].0.get(id) != Some(&this));
                if names_other || a.get("workflowId").is_some() {
                    self.unsupported(&at, "`retry` that runs another step or workflow first");
                    return None;
                }
                if a.get("retryLimit").and_then(Value::as_u64) == Some(0) {
                    // Never retries: nothing to do.
                    return None;
                }
                let mut r =
                    json!({"limit": a.get("retryLimit").and_then(Value::as_u64).unwrap_or(1)});
                if let Some(after) = a.get("retryAfter").and_then(Value::as_f64) {
                    r["after"] = json!(after);
                }
                json!({"retry": r})
            }
            "retry" => {
                self.error(&join_key(&at, "type"), "`retry` is a failure action");
                return None;
            }
            other => {
                self.error(
                    &join_key(&at, "type"),
                    format!("`type: {other}`: an action is end, goto or retry"),
                );
                return None;
            }
        };
        let mut when = Vec::new();
        for (k, c) in a
            .get("criteria")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .enumerate()
        {
            let cat = join_index(&join_key(&at, "criteria"), k);
            when.push(self.criterion(c, &cat, scope)?);
        }
        if !when.is_empty() {
            out["when"] = Value::String(format!(
                "{{{{ {} }}}}",
                when.iter()
                    .map(|w| format!("({w})"))
                    .collect::<Vec<_>>()
                    .join(" and ")
            ));
        }
        Some(out)
    }

    /// Points each `goto` and success `end` at its chain step.
    fn resolve_pending(&mut self) {
        let total = self.steps.len();
        for p in std::mem::take(&mut self.pending) {
            let target = match &p.target {
                Target::Step { block, id, at } => match self.blocks[*block].0.get(id) {
                    Some(name) => Some(name.clone()),
                    None => {
                        let at = at.clone();
                        self.error(&at, format!("there is no step `{id}` in this workflow"));
                        continue;
                    }
                },
                Target::EndOf(block) => {
                    let end = self.blocks[*block].1;
                    (end < total)
                        .then(|| self.steps[end]["name"].as_str().unwrap_or("").to_string())
                }
            };
            let slot = &mut self.steps[p.step][p.list][p.entry];
            let when = slot.get("when").cloned();
            *slot = match target {
                Some(name) => json!({"goto": name}),
                None => json!({"end": true}),
            };
            if let Some(w) = when {
                slot["when"] = w;
            }
        }
    }
}

/// A header value: text as it is, anything else as written.
fn scalar(v: Value) -> Value {
    match v {
        Value::String(_) | Value::Number(_) | Value::Bool(_) => v,
        other => Value::String(other.to_string()),
    }
}

/// A step output's expression as an `extract` source.
fn extract_source(e: &str) -> Option<String> {
    match e {
        "$statusCode" => return Some("status".into()),
        "$response.body" => return Some("body".into()),
        _ => {}
    }
    if let Some(h) = e.strip_prefix("$response.header.") {
        return Some(format!("header:{h}"));
    }
    let pointer = e.strip_prefix("$response.body#")?;
    let mut path = "$".to_string();
    for token in pointer.strip_prefix('/')?.split('/') {
        let token = token.replace("~1", "/").replace("~0", "~");
        if !token.is_empty() && token.len() < 10 && token.bytes().all(|b| b.is_ascii_digit()) {
            path.push_str(&format!("[{token}]"));
        } else {
            path.push_str(&format!("[{}]", quote(&token)));
        }
    }
    Some(path)
}
