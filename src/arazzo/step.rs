//! One Arazzo step as a chain step: its operation and URL, parameters,
//! request body, security, success criteria and outputs.

use std::collections::HashMap;
use std::sync::Arc;

use serde_json::{Map, Value, json};

use super::expr::{self, Place};
use super::source::Operation;
use super::{Binding, Scope, StepOutputs, Translator, identifier};
use crate::chain::spans::{join_index, join_key};

impl Translator {
    /// One Arazzo step as chain steps (one, or a workflow's); what its
    /// outputs read.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn step(
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
    pub(super) fn step_in(
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

    /// A parameter, with `reference: $components.parameters.NAME` looked up.
    pub(super) fn parameter(&mut self, p: &Value, at: &str) -> Option<Value> {
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

    pub(super) fn operation(&mut self, step: &Value, spath: &str) -> Option<Operation> {
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
    pub(super) fn url(
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
    pub(super) fn request_body(
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
    pub(super) fn security(
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
}

/// A header value: text as it is, anything else as written.
pub(super) fn scalar(v: Value) -> Value {
    match v {
        Value::String(_) | Value::Number(_) | Value::Bool(_) => v,
        other => Value::String(other.to_string()),
    }
}

/// A step output's expression as an `extract` source.
pub(super) fn extract_source(e: &str) -> Option<String> {
    match e {
        "$statusCode" => return Some("status".into()),
        "$response.body" => return Some("body".into()),
        _ => {}
    }
    if let Some(h) = e.strip_prefix("$response.header.") {
        return Some(format!("header:{h}"));
    }
    // A template's `["a"][0]` is also JSONPath's.
    let pointer = e.strip_prefix("$response.body#")?;
    expr::pointer_access(pointer).ok().map(|p| format!("${p}"))
}
