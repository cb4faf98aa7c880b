//! Workflows: the order they run in, each one's steps and inputs, and a
//! step that runs another workflow in its place.

use std::collections::HashMap;
use std::sync::Arc;

use indexmap::IndexMap;
use serde_json::Value;

use super::expr::{self, Place};
use super::{Binding, Run, Scope, StepOutputs, Translator, identifier, workflow_ids};
use crate::chain::spans::{join_index, join_key};
use crate::diagnostic::Diagnostic;

impl Translator {
    /// The workflows to run, each after the ones it depends on.
    pub(super) fn order(&mut self, workflows: &[Value], only: Option<&str>) -> Option<Vec<Run>> {
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

    pub(super) fn visit(
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
    pub(super) fn workflow(
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
    pub(super) fn fresh(&mut self, name: &str, workflow: &str) -> String {
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
    pub(super) fn declare_inputs(&mut self, wf: &Value, wpath: &str) {
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

    /// A step that runs another workflow: that workflow's steps, here.
    pub(super) fn call_workflow(
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
    pub(super) fn given(
        &mut self,
        step: &Value,
        spath: &str,
        scope: &Scope<'_>,
    ) -> HashMap<String, String> {
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
    pub(super) fn called(
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
}
