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
mod flow;
mod source;
mod step;
mod workflow;

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use indexmap::IndexMap;
use serde_json::{Map, Value, json};

use crate::chain::parse::ParsedChain;
use crate::chain::spans::SpanMap;
use crate::diagnostic::{Diagnostic, Diagnostics, Loc, Source};
use expr::{Names, quote};
use source::Sources;

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

/// Names a step or an output cannot take: they mean something else in
/// templates (besides the template functions).
const TAKEN: &[&str] = &[
    "steps", "env", "item", "index", "loop", "params", "response", "true", "false", "none", "null",
    "trigger",
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
            used: TAKEN
                .iter()
                .chain(crate::template::FUNCTIONS)
                .map(|s| s.to_string())
                .collect(),
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
}
