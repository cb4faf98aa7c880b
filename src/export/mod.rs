//! A chain written for another tool: `pytopus export arazzo` makes an
//! Arazzo 1.0 document of a chain, with an OpenAPI description of each
//! connector its steps call. What has no Arazzo equivalent is refused,
//! each thing with its place in the chain: an export that quietly ran a
//! different sequence of calls would be worse than none.

mod template;

use std::collections::HashMap;

use indexmap::IndexMap;
use serde_json::{Map, Value, json};

use crate::chain::model::{Auth, Chain, Expect, Scalar, StatusPattern, StatusSpec, Step};
use crate::chain::parse::ParsedChain;
use crate::chain::spans::{join_index, join_key};
use crate::connector::Connector;
use crate::diagnostic::{Diagnostic, Diagnostics};
use crate::resolve::Resolved;
use template::{Piece, pieces};

/// An Arazzo document, and the OpenAPI descriptions it names (file name →
/// document).
#[derive(Debug)]
pub struct Exported {
    pub arazzo: Value,
    pub descriptions: Vec<(String, Value)>,
}

/// Makes the Arazzo document of `parsed`.
pub fn arazzo(parsed: &ParsedChain, resolved: &Resolved) -> Result<Exported, Diagnostics> {
    let mut x = Exporter {
        parsed,
        resolved,
        problems: Vec::new(),
        inputs: Map::new(),
        required: Vec::new(),
        outputs: HashMap::new(),
        extracted_by: HashMap::new(),
        sources: IndexMap::new(),
        step_ids: HashMap::new(),
    };
    let arazzo = x.document();
    if !x.problems.is_empty() {
        return Err(Diagnostics(x.problems));
    }
    let descriptions = x
        .sources
        .iter()
        .map(|(name, c)| (format!("{name}.openapi.json"), openapi(c)))
        .collect();
    Ok(Exported {
        arazzo,
        descriptions,
    })
}

struct Exporter<'a> {
    parsed: &'a ParsedChain,
    resolved: &'a Resolved,
    problems: Vec<Diagnostic>,
    inputs: Map<String, Value>,
    required: Vec<Value>,
    /// Each step's outputs so far: output name → runtime expression.
    outputs: HashMap<String, IndexMap<String, String>>,
    /// Which step extracts each variable.
    extracted_by: HashMap<String, String>,
    /// The connectors the steps call, by name.
    sources: IndexMap<String, std::sync::Arc<Connector>>,
    /// Chain step name → Arazzo stepId (the same).
    step_ids: HashMap<String, String>,
}

/// Step keys an Arazzo step cannot say.
const NOT_EXPORTED: &[&str] = &[
    "for_each",
    "concurrency",
    "paginate",
    "poll",
    "chain",
    "with",
    "when",
    "on_error",
    "graphql",
    "multipart",
    "body_file",
    "save_to",
    "tls",
    "needs",
    "on_success",
    "on_failure",
    "form",
];

impl Exporter<'_> {
    fn chain(&self) -> &Chain {
        &self.parsed.chain
    }

    fn problem(&mut self, path: &str, msg: impl Into<String>) {
        let spans = &self.parsed.spans;
        let loc = spans.key(path).or_else(|| spans.nearest(path));
        self.problems
            .push(Diagnostic::new(msg).at(&self.parsed.source, loc));
    }

    fn document(&mut self) -> Value {
        let chain = self.chain().clone();
        let title = chain.name.clone().unwrap_or_else(|| {
            std::path::Path::new(&self.parsed.source.name)
                .file_stem()
                .and_then(|s| s.to_str())
                .unwrap_or("chain")
                .to_string()
        });
        for (key, what) in [
            ("finally", "`finally` steps"),
            ("trigger", "`trigger`"),
            ("schedule", "`schedule`"),
        ] {
            if self.parsed.spans.value(key).is_some() {
                self.problem(key, format!("{what} have no Arazzo equivalent"));
            }
        }
        for (name, value) in &chain.vars {
            let mut schema = json!({"default": value});
            if let Some(t) = json_type(value) {
                schema["type"] = json!(t);
            }
            self.inputs.insert(name.clone(), schema);
        }
        for (name, schema) in &chain.inputs {
            let mut schema = schema.clone();
            let required = schema
                .get("required")
                .and_then(Value::as_bool)
                .unwrap_or(schema.get("default").is_none());
            if let Some(o) = schema.as_object_mut() {
                o.remove("required");
            }
            if required {
                self.required.push(json!(name));
            }
            self.inputs.insert(name.clone(), schema);
        }
        let mut steps = Vec::new();
        for (i, step) in chain.steps.iter().enumerate() {
            let path = join_index("steps", i);
            self.step_ids.insert(step.name.clone(), step.name.clone());
            if let Some(s) = self.step(&chain, step, &path) {
                steps.push(s);
            }
        }
        // Outputs found while reading later steps belong to earlier ones.
        for s in &mut steps {
            let id = s["stepId"].as_str().unwrap_or_default().to_string();
            if let Some(outs) = self.outputs.get(&id).filter(|o| !o.is_empty()) {
                s["outputs"] = json!(outs);
            }
        }
        let outputs = self.workflow_outputs(&chain);
        // The outputs `output` reads were added after the steps were written.
        for s in &mut steps {
            let id = s["stepId"].as_str().unwrap_or_default().to_string();
            if let Some(outs) = self.outputs.get(&id).filter(|o| !o.is_empty()) {
                s["outputs"] = json!(outs);
            }
        }
        let mut workflow = json!({
            "workflowId": identifier(&title),
            "steps": steps,
        });
        if let Some(d) = &chain.description {
            workflow["description"] = json!(d);
        }
        if !self.inputs.is_empty() {
            let mut inputs = json!({"type": "object", "properties": self.inputs.clone()});
            if !self.required.is_empty() {
                inputs["required"] = Value::Array(self.required.clone());
            }
            workflow["inputs"] = inputs;
        }
        if let Some(o) = outputs {
            workflow["outputs"] = o;
        }
        let mut info = json!({"title": title, "version": "1.0.0"});
        if let Some(d) = &chain.description {
            info["description"] = json!(d);
        }
        let mut doc = json!({
            "arazzo": "1.0.1",
            "info": info,
            "sourceDescriptions": self.sources.keys().map(|n| json!({
                "name": n,
                "url": format!("./{n}.openapi.json"),
                "type": "openapi",
            })).collect::<Vec<_>>(),
            "workflows": [workflow],
        });
        if self.sources.is_empty() {
            // Arazzo needs one; the steps say their URLs (`x-operation`).
            doc["sourceDescriptions"] =
                json!([{"name": "none", "url": "./none.openapi.json", "type": "openapi"}]);
            self.problem(
                "steps",
                "no step calls a connector: Arazzo describes calls to operations of OpenAPI descriptions (import one with `pytopus connectors import`)",
            );
        }
        doc
    }

    fn step(&mut self, chain: &Chain, step: &Step, path: &str) -> Option<Value> {
        let spans = &self.parsed.spans;
        for key in NOT_EXPORTED {
            if spans.value(&join_key(path, key)).is_some() {
                let at = join_key(path, key);
                self.problem(&at, format!("`{key}` has no Arazzo equivalent"));
            }
        }
        let mut out = json!({"stepId": step.name});
        let mut parameters = Vec::new();
        let Some(connector_name) = step.connector.as_deref().and_then(Value::as_str) else {
            self.problem(
                path,
                format!("step `{}` calls a URL, not a connector's endpoint: only those are operations of an OpenAPI description", step.name),
            );
            return None;
        };
        let connector = match self.resolved.connectors.get(connector_name) {
            Some(Ok(c)) => std::sync::Arc::clone(c),
            _ => {
                self.problem(
                    &join_key(path, "connector"),
                    format!("the connector `{connector_name}` cannot be read: `pytopus validate` says why"),
                );
                return None;
            }
        };
        let Some(endpoint_name) = step.endpoint.as_deref().and_then(Value::as_str) else {
            self.problem(
                path,
                "a step with a connector but no `endpoint` has no operation to name",
            );
            return None;
        };
        let Some(endpoint) = connector.file.endpoints.get(endpoint_name).cloned() else {
            self.problem(
                &join_key(path, "endpoint"),
                format!("`{connector_name}` has no endpoint `{endpoint_name}`"),
            );
            return None;
        };
        self.sources.insert(
            connector_name.to_string(),
            std::sync::Arc::clone(&connector),
        );
        out["operationId"] = json!(format!(
            "$sourceDescriptions.{connector_name}.{endpoint_name}"
        ));
        // Parameters: in the path, else the query, else the body.
        let given = step
            .params
            .as_deref()
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default();
        let mut body_params = Map::new();
        for (name, value) in &given {
            let at = join_key(&join_key(path, "params"), name);
            let v = self.value(value, &at);
            if endpoint.path.contains(&format!("{{{name}}}")) {
                parameters.push(json!({"name": name, "in": "path", "value": v}));
            } else if endpoint.query.contains_key(name) {
                parameters.push(json!({"name": name, "in": "query", "value": v}));
            } else {
                body_params.insert(name.clone(), v);
            }
        }
        if let Some(body) = &endpoint.body {
            let payload = self.endpoint_body(body, &body_params, path);
            out["requestBody"] = json!({"contentType": "application/json", "payload": payload});
        } else if !body_params.is_empty() {
            let names: Vec<&String> = body_params.keys().collect();
            self.problem(
                &join_key(path, "params"),
                format!(
                    "`{}` are neither path nor query parameters of `{endpoint_name}`",
                    names
                        .iter()
                        .map(|n| n.as_str())
                        .collect::<Vec<_>>()
                        .join("`, `")
                ),
            );
        }
        for (name, value) in step.headers.iter().flat_map(|h| h.iter()) {
            let at = join_key(&join_key(path, "headers"), name);
            let v = self.value(&scalar(value), &at);
            parameters.push(json!({"name": name, "in": "header", "value": v}));
        }
        for (name, value) in step.query_params.iter().flat_map(|q| q.iter()) {
            let at = join_key(&join_key(path, "query_params"), name);
            let v = self.value(value, &at);
            parameters.push(json!({"name": name, "in": "query", "value": v}));
        }
        if step.body.is_some() {
            self.problem(
                &join_key(path, "body"),
                "a connector step's body comes from its endpoint and `params`",
            );
        }
        if !parameters.is_empty() {
            out["parameters"] = Value::Array(parameters);
        }
        if let Some(security) = self.security(
            step.auth
                .as_deref()
                .or(chain.defaults.auth.as_ref())
                .or(connector.file.auth.as_ref()),
            path,
        ) {
            out["x-security"] = security;
        }
        out["successCriteria"] = Value::Array(self.criteria(step.expect.as_deref(), path));
        for (var, source) in step.extract.iter().flat_map(|e| e.iter()) {
            let at = join_key(&join_key(path, "extract"), var);
            match extract_expression(source) {
                Some(e) => {
                    self.outputs
                        .entry(step.name.clone())
                        .or_default()
                        .insert(var.clone(), e);
                    self.extracted_by.insert(var.clone(), step.name.clone());
                }
                None => self.problem(
                    &at,
                    format!("`{source}` has no Arazzo equivalent: a step output is a status, a header, the body or a JSON pointer into it (a JSONPath of names and indexes)"),
                ),
            }
        }
        Some(out)
    }

    /// The endpoint's body with `{{ params.NAME }}` given by the step.
    fn endpoint_body(&mut self, body: &Value, params: &Map<String, Value>, path: &str) -> Value {
        match body {
            Value::String(s) => match pieces(s) {
                Some(p) => match p.as_slice() {
                    [Piece::Path(root, rest)] if root == "params" && rest.len() == 1 => {
                        params.get(&rest[0]).cloned().unwrap_or(Value::Null)
                    }
                    _ if p.iter().all(|x| matches!(x, Piece::Text(_))) => Value::String(s.clone()),
                    _ => {
                        self.problem(
                            &join_key(path, "endpoint"),
                            format!("the endpoint's body `{s}` has no Arazzo equivalent"),
                        );
                        Value::Null
                    }
                },
                None => {
                    self.problem(
                        &join_key(path, "endpoint"),
                        format!("the endpoint's body `{s}` has no Arazzo equivalent"),
                    );
                    Value::Null
                }
            },
            Value::Array(a) => Value::Array(
                a.iter()
                    .map(|v| self.endpoint_body(v, params, path))
                    .collect(),
            ),
            Value::Object(m) => Value::Object(
                m.iter()
                    .map(|(k, v)| (k.clone(), self.endpoint_body(v, params, path)))
                    .collect(),
            ),
            other => other.clone(),
        }
    }

    /// A chain value as an Arazzo value: templates as runtime expressions.
    fn value(&mut self, v: &Value, at: &str) -> Value {
        match v {
            Value::String(s) => match self.text(s, at) {
                Some(t) => Value::String(t),
                None => Value::Null,
            },
            Value::Array(a) => Value::Array(
                a.iter()
                    .enumerate()
                    .map(|(i, v)| self.value(v, &join_index(at, i)))
                    .collect(),
            ),
            Value::Object(m) => Value::Object(
                m.iter()
                    .map(|(k, v)| (k.clone(), self.value(v, &join_key(at, k))))
                    .collect(),
            ),
            other => other.clone(),
        }
    }

    /// A template string as Arazzo text: one expression, or `{$…}` pieces.
    fn text(&mut self, s: &str, at: &str) -> Option<String> {
        let Some(list) = pieces(s) else {
            self.problem(
                at,
                format!("`{s}` has no Arazzo equivalent: only names and paths (`{{{{ user_id }}}}`, `{{{{ Login.token }}}}`) and `secret('NAME')` can be written as runtime expressions"),
            );
            return None;
        };
        let mut exprs = Vec::new();
        for p in &list {
            match p {
                Piece::Text(t) => exprs.push((false, t.clone())),
                Piece::Path(root, rest) => exprs.push((true, self.expression(root, rest, at)?)),
                Piece::Secret(name) => {
                    self.inputs.insert(
                        name.clone(),
                        json!({"type": "string", "format": "password"}),
                    );
                    exprs.push((true, format!("$inputs.{name}")));
                }
            }
        }
        Some(match exprs.as_slice() {
            [(true, e)] => e.clone(),
            _ => exprs
                .iter()
                .map(|(is_expr, t)| {
                    if *is_expr {
                        format!("{{{t}}}")
                    } else {
                        t.clone()
                    }
                })
                .collect(),
        })
    }

    /// `root.rest…` as a runtime expression; a step's value read here
    /// becomes one of its outputs.
    fn expression(&mut self, root: &str, rest: &[String], at: &str) -> Option<String> {
        if root == "steps" {
            let (step, field, more) = match rest {
                [step, field, more @ ..] => (step, field.as_str(), more),
                _ => {
                    self.problem(at, "`steps.NAME` alone has no Arazzo equivalent");
                    return None;
                }
            };
            let (name, expr) = match (field, more) {
                ("status", []) => ("status".to_string(), "$statusCode".to_string()),
                ("headers", [h]) => (
                    identifier(&format!("header_{h}")),
                    format!("$response.header.{h}"),
                ),
                ("body", more) => (body_name(more), body_expression(more)),
                ("outputs", [v]) if self.extracted_by.get(v) == Some(step) => {
                    return Some(format!("$steps.{step}.outputs.{v}"));
                }
                _ => {
                    self.problem(
                        at,
                        format!("`steps.{step}.{field}` has no Arazzo equivalent"),
                    );
                    return None;
                }
            };
            return self.step_output(step, &name, expr, at);
        }
        if self.step_ids.contains_key(root) {
            return self.step_output(root, &body_name(rest), body_expression(rest), at);
        }
        if let Some(by) = self.extracted_by.get(root).cloned() {
            if !rest.is_empty() {
                self.problem(
                    at,
                    format!("a path into the extracted `{root}` has no Arazzo equivalent"),
                );
                return None;
            }
            return Some(format!("$steps.{by}.outputs.{root}"));
        }
        if self.inputs.contains_key(root) {
            let mut e = format!("$inputs.{root}");
            for r in rest {
                e.push('.');
                e.push_str(r);
            }
            return Some(e);
        }
        self.problem(
            at,
            format!("`{root}` is not a variable, an input or an earlier step of the chain"),
        );
        None
    }

    fn step_output(&mut self, step: &str, name: &str, expr: String, at: &str) -> Option<String> {
        if !self.step_ids.contains_key(step) {
            self.problem(at, format!("`{step}` is not an earlier step"));
            return None;
        }
        self.outputs
            .entry(step.to_string())
            .or_default()
            .insert(name.to_string(), expr);
        Some(format!("$steps.{step}.outputs.{name}"))
    }

    /// `expect` as success criteria: statuses and `expect.json` values.
    fn criteria(&mut self, expect: Option<&Expect>, path: &str) -> Vec<Value> {
        let mut out = Vec::new();
        let statuses = match expect.and_then(|e| e.status.as_ref()) {
            None => vec![StatusPattern::Class(2)],
            Some(StatusSpec::One(p)) => vec![*p],
            Some(StatusSpec::Many(l)) => l.clone(),
        };
        let alternatives: Vec<String> = statuses
            .iter()
            .map(|p| match p {
                StatusPattern::Code(c) => format!("$statusCode == {c}"),
                StatusPattern::Class(k) => format!(
                    "($statusCode >= {} && $statusCode < {})",
                    *k as u32 * 100,
                    (*k as u32 + 1) * 100
                ),
            })
            .collect();
        out.push(json!({"condition": alternatives.join(" || ")}));
        let Some(e) = expect else { return out };
        let epath = join_key(path, "expect");
        for (jp, want) in &e.json {
            let at = join_key(&join_key(&epath, "json"), jp);
            let (Some(pointer), Some(literal)) = (json_pointer(jp), condition_literal(want)) else {
                self.problem(&at, "only a plain JSONPath (names and indexes) equal to a literal has an Arazzo equivalent");
                continue;
            };
            out.push(json!({"condition": format!("$response.body#{pointer} == {literal}")}));
        }
        for (key, given) in [
            ("headers", !e.headers.is_empty()),
            ("assert", !e.assert.is_empty()),
            ("that", !e.that.is_empty()),
            ("duration", e.duration.is_some()),
            ("body_size", e.body_size.is_some()),
            ("schema", e.schema.is_some()),
            ("body_contains", e.body_contains.is_some()),
        ] {
            if given {
                self.problem(
                    &join_key(&epath, key),
                    format!("`expect.{key}` has no Arazzo equivalent"),
                );
            }
        }
        out
    }

    /// `auth:` as Redocly's `x-security`, its secrets as password inputs.
    fn security(&mut self, auth: Option<&Auth>, path: &str) -> Option<Value> {
        let at = join_key(path, "auth");
        let (scheme, values) = match auth? {
            Auth::None => return None,
            Auth::Bearer { token } => (
                json!({"type": "http", "scheme": "bearer"}),
                json!({"token": self.text(token, &at)?}),
            ),
            Auth::Basic { username, password } => (
                json!({"type": "http", "scheme": "basic"}),
                json!({"username": self.text(username, &at)?, "password": self.text(password, &at)?}),
            ),
            Auth::ApiKey {
                location,
                name,
                key,
            } => {
                let place = match location {
                    Some(crate::chain::model::ApiKeyIn::Query) => "query",
                    Some(crate::chain::model::ApiKeyIn::Cookie) => "cookie",
                    _ => "header",
                };
                (
                    json!({"type": "apiKey", "in": place, "name": name}),
                    json!({"apiKey": self.text(key, &at)?}),
                )
            }
            _ => {
                self.problem(
                    &at,
                    "only bearer, basic and api_key auth have an Arazzo (`x-security`) equivalent",
                );
                return None;
            }
        };
        Some(json!([{"scheme": scheme, "values": values}]))
    }

    /// The chain's `output` map as the workflow's outputs.
    fn workflow_outputs(&mut self, chain: &Chain) -> Option<Value> {
        let output = chain.output.as_ref()?;
        let Some(map) = output.as_object() else {
            self.problem(
                "output",
                "only an `output` map has an Arazzo equivalent (the workflow's outputs)",
            );
            return None;
        };
        let mut outs = Map::new();
        for (k, v) in map {
            let at = join_key("output", k);
            let Some(s) = v.as_str() else {
                self.problem(&at, "a workflow output is one runtime expression");
                continue;
            };
            if let Some(e) = self.text(s, &at) {
                if !e.starts_with('$') || e.contains('{') {
                    self.problem(
                        &at,
                        "a workflow output is one runtime expression, not text around one",
                    );
                    continue;
                }
                outs.insert(identifier(k), json!(e));
            }
        }
        Some(Value::Object(outs))
    }
}

/// An OpenAPI 3.0 description of a connector: its base URL and endpoints,
/// each endpoint an operation named by its `operationId`.
fn openapi(c: &Connector) -> Value {
    let mut paths: Map<String, Value> = Map::new();
    for (name, e) in &c.file.endpoints {
        let mut parameters = Vec::new();
        let mut rest = e.path.as_str();
        while let Some(open) = rest.find('{') {
            let Some(close) = rest[open..].find('}') else {
                break;
            };
            let p = &rest[open + 1..open + close];
            parameters.push(
                json!({"name": p, "in": "path", "required": true, "schema": {"type": "string"}}),
            );
            rest = &rest[open + close + 1..];
        }
        for q in e.query.keys() {
            parameters.push(
                json!({"name": q, "in": "query", "required": e.required.contains(q), "schema": {}}),
            );
        }
        let mut op = json!({
            "operationId": name,
            "responses": {"default": {"description": "The answer"}},
        });
        if let Some(d) = &e.description {
            op["summary"] = json!(d);
        }
        if !parameters.is_empty() {
            op["parameters"] = Value::Array(parameters);
        }
        if e.body.is_some() {
            op["requestBody"] = json!({"content": {"application/json": {"schema": {}}}});
        }
        let method = e.method.as_deref().unwrap_or("GET").to_ascii_lowercase();
        let item = paths
            .entry(e.path.clone())
            .or_insert_with(|| Value::Object(Map::new()));
        item[method] = op;
    }
    let mut doc = json!({
        "openapi": "3.0.3",
        "info": {"title": c.name, "version": "1"},
        "servers": [{"url": c.base_url}],
        "paths": paths,
    });
    if let Some(d) = &c.file.description {
        doc["info"]["description"] = json!(d);
    }
    doc
}

/// A name as an Arazzo id: letters, digits, `_` and `-`.
fn identifier(name: &str) -> String {
    let s: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '-'
            }
        })
        .collect();
    let s = s.trim_matches('-').to_string();
    if s.is_empty() { "workflow".into() } else { s }
}

fn json_type(v: &Value) -> Option<&'static str> {
    Some(match v {
        Value::String(_) => "string",
        Value::Bool(_) => "boolean",
        Value::Number(n) if n.is_i64() || n.is_u64() => "integer",
        Value::Number(_) => "number",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
        Value::Null => return None,
    })
}

fn scalar(s: &Scalar) -> Value {
    Value::from(s.clone())
}

/// The name of the output that reads a path into a step's body.
fn body_name(rest: &[String]) -> String {
    if rest.is_empty() {
        "body".into()
    } else {
        rest.iter()
            .map(|r| {
                r.chars()
                    .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
                    .collect::<String>()
            })
            .collect::<Vec<_>>()
            .join("_")
    }
}

fn body_expression(rest: &[String]) -> String {
    if rest.is_empty() {
        return "$response.body".into();
    }
    let mut e = "$response.body#".to_string();
    for r in rest {
        e.push('/');
        e.push_str(&r.replace('~', "~0").replace('/', "~1"));
    }
    e
}

/// An `extract` source as a runtime expression.
fn extract_expression(source: &str) -> Option<String> {
    match source {
        "status" => return Some("$statusCode".into()),
        "body" => return Some("$response.body".into()),
        _ => {}
    }
    if let Some(h) = source.strip_prefix("header:") {
        return Some(format!("$response.header.{}", h.trim()));
    }
    json_pointer(source).map(|p| {
        if p.is_empty() {
            "$response.body".into()
        } else {
            format!("$response.body#{p}")
        }
    })
}

/// A singular JSONPath (`$.a[0].b`, `$['a b']`) as a JSON pointer.
fn json_pointer(path: &str) -> Option<String> {
    let parsed = crate::jsonpath::JsonPath::compile(path).ok()?;
    let segments = parsed.singular_segments()?;
    Some(
        segments
            .iter()
            .map(|s| format!("/{}", s.replace('~', "~0").replace('/', "~1")))
            .collect(),
    )
}

/// A value as a literal of an Arazzo condition.
fn condition_literal(v: &Value) -> Option<String> {
    Some(match v {
        Value::Null => "null".into(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::String(s) if !s.contains("{{") && !s.contains('\'') => format!("'{s}'"),
        _ => return None,
    })
}
