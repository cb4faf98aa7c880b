//! Connectors (SPEC §4): "this API, with my credentials, its rate limit and
//! its endpoints" under one name. A step with `connector:` is turned into an
//! ordinary step here, before validation, so the engine runs it like any
//! other; only `params` (rendered first) and the rate limiter are new to it.
//!
//! Where a name is looked up, first match wins: the chain's `connectors:`
//! (inline, or file paths), `connectors/` beside the chain, the user's config
//! directory (`<config>/pytopus/connectors/`), then the built-in library
//! compiled into the binary. An inline entry named like a connector found
//! further down is an overlay: its keys replace that connector's (`headers`
//! and `endpoints` are merged key by key). `PYTOPUS_<NAME>_BASE_URL` in the
//! environment replaces any `base_url`.

pub mod openapi;
pub mod ratelimit;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use indexmap::IndexMap;
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::Value;

use crate::chain::model::{Auth, DurationSpec, Retry, Scalar, Step, Tls};
use crate::chain::parse::{read_document, shape_error};
use crate::chain::spans::{SpanMap, join_key};
use crate::diagnostic::{Diagnostic, Source, suggest};
use crate::template::{self as render, Templates};
pub use ratelimit::RateLimiter;

/// A connector file (docs/connectors.md).
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(title = "pytopus connector file")]
pub struct ConnectorFile {
    /// `[a-z][a-z0-9_-]*`; chains use it in `connector:`.
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub description: Option<String>,
    /// Where the API is documented.
    #[serde(default)]
    pub docs: Option<String>,
    /// Absolute URL every endpoint path is appended to.
    #[serde(default)]
    pub base_url: Option<String>,
    /// Any `auth:` scheme a chain accepts.
    #[serde(default)]
    pub auth: Option<Auth>,
    /// Headers sent with every request.
    #[serde(default)]
    pub headers: IndexMap<String, Scalar>,
    /// Per-attempt timeout.
    #[serde(default)]
    pub timeout: Option<DurationSpec>,
    #[serde(default)]
    pub retry: Option<Retry>,
    #[serde(default)]
    pub tls: Option<Tls>,
    /// A token bucket shared by every request of the run to this connector.
    #[serde(default)]
    pub rate_limit: Option<RateLimitSpec>,
    #[serde(default)]
    pub endpoints: IndexMap<String, Endpoint>,
    /// A harmless request for `pytopus connectors test`.
    #[serde(default)]
    pub test: Option<TestRequest>,
}

/// `rate_limit: {requests: 5000, per: 1h, burst: 100}`.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RateLimitSpec {
    pub requests: u32,
    pub per: DurationSpec,
    /// Requests allowed at once after a quiet time. Default `requests`.
    #[serde(default)]
    pub burst: Option<u32>,
}

/// One named request of a connector.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Endpoint {
    #[serde(default)]
    pub description: Option<String>,
    /// Default GET.
    #[serde(default)]
    pub method: Option<String>,
    /// Appended to `base_url`; `{name}` is a required parameter.
    pub path: String,
    /// Each key is an optional parameter sent as a query parameter; a value is its default.
    #[serde(default)]
    pub query: IndexMap<String, Value>,
    #[serde(default)]
    pub headers: IndexMap<String, Scalar>,
    /// JSON body (templates reading `params.NAME`).
    #[serde(default)]
    pub body: Option<Value>,
    /// URL-encoded form body (templates reading `params.NAME`).
    #[serde(default)]
    pub form: Option<IndexMap<String, Value>>,
    /// Parameters that must be given even though they are query keys or
    /// guarded by `default(...)`.
    #[serde(default)]
    pub required: Vec<String>,
}

/// `test:` — an endpoint with parameters, or a method and path.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TestRequest {
    #[serde(default)]
    pub endpoint: Option<String>,
    #[serde(default)]
    pub params: IndexMap<String, Value>,
    #[serde(default)]
    pub method: Option<String>,
    #[serde(default)]
    pub path: Option<String>,
    #[serde(default)]
    pub query: IndexMap<String, Value>,
}

/// Where a connector was found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    /// Written in the chain's `connectors:`.
    Inline,
    /// A file named by the chain's `connectors:`, or found beside the chain
    /// or in the user's config directory.
    File(PathBuf),
    /// An inline overlay over a connector found elsewhere.
    Overlay(Box<Origin>),
    BuiltIn,
}

impl std::fmt::Display for Origin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Origin::Inline => f.write_str("chain"),
            Origin::File(p) => write!(f, "{}", p.display()),
            Origin::Overlay(under) => write!(f, "chain over {under}"),
            Origin::BuiltIn => f.write_str("built-in"),
        }
    }
}

/// A connector ready to use.
#[derive(Debug)]
pub struct Connector {
    pub name: String,
    pub origin: Origin,
    pub base_url: String,
    pub file: ConnectorFile,
    /// The document as written (after overlays), for `connectors show`.
    pub raw: Value,
}

impl Connector {
    /// The auth scheme's name as written in `type:`.
    pub fn auth_kind(&self) -> &str {
        self.raw
            .get("auth")
            .and_then(|a| a.get("type"))
            .and_then(Value::as_str)
            .unwrap_or("none")
    }

    /// The names its templates pass to `secret(...)`.
    pub fn secret_names(&self) -> Vec<String> {
        let mut names = Vec::new();
        crate::template::collect_secret_names(&self.raw, &mut names);
        names.sort();
        names.dedup();
        names
    }
}

/// How a parameter reaches the request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ParamKind {
    Path,
    Query,
    /// Read by a body, form or header template.
    Template,
}

/// One parameter an endpoint takes.
#[derive(Debug, Clone, PartialEq)]
pub struct Param {
    pub name: String,
    pub kind: ParamKind,
    pub required: bool,
    pub default: Option<Value>,
}

impl std::fmt::Display for Param {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let kind = match self.kind {
            ParamKind::Path => "path",
            ParamKind::Query => "query",
            ParamKind::Template => "body",
        };
        let need = if self.required {
            "required"
        } else {
            "optional"
        };
        write!(f, "{} ({kind}, {need}", self.name)?;
        if let Some(d) = &self.default {
            write!(f, ", default {d}")?;
        }
        f.write_str(")")
    }
}

impl Endpoint {
    /// The `{name}` placeholders of the path, in order.
    pub fn path_params(&self) -> Vec<String> {
        let mut out = Vec::new();
        let mut rest = self.path.as_str();
        while let Some(open) = rest.find('{') {
            let after = &rest[open + 1..];
            let Some(close) = after.find('}') else { break };
            let name = &after[..close];
            if !out.iter().any(|n| n == name) {
                out.push(name.to_string());
            }
            rest = &after[close + 1..];
        }
        out
    }

    /// Every parameter the endpoint takes: path placeholders, query keys, and
    /// the `params.NAME` its templates read.
    pub fn parameters(&self) -> Vec<Param> {
        let mut out: Vec<Param> = self
            .path_params()
            .into_iter()
            .map(|name| Param {
                name,
                kind: ParamKind::Path,
                required: true,
                default: None,
            })
            .collect();
        for (name, default) in &self.query {
            if out.iter().any(|p| &p.name == name) {
                continue;
            }
            out.push(Param {
                name: name.clone(),
                kind: ParamKind::Query,
                required: self.required.contains(name),
                default: (!default.is_null()).then(|| default.clone()),
            });
        }
        let mut templates = Templates::new();
        let mut values: Vec<Value> = self.body.iter().cloned().collect();
        if let Some(form) = &self.form {
            values.push(Value::Object(form.clone().into_iter().collect()));
        }
        values.extend(self.headers.values().map(|s| Value::String(s.0.clone())));
        for value in &values {
            let Ok(t) = templates.compile(value) else {
                continue;
            };
            for (name, template) in t.names() {
                let (root, child) = render::root_and_child(&name);
                let Some(child) = child.filter(|_| root == "params") else {
                    continue;
                };
                let guarded = render::is_guarded(&template, "params");
                let required = !guarded || self.required.iter().any(|r| r == child);
                match out.iter_mut().find(|p| p.name == child) {
                    Some(p) => p.required |= required && p.kind == ParamKind::Template,
                    None => out.push(Param {
                        name: child.to_string(),
                        kind: ParamKind::Template,
                        required,
                        default: None,
                    }),
                }
            }
        }
        out
    }
}

/// The built-in library: every file of `connectors/`, compiled in.
pub const BUILT_IN: &[(&str, &str)] = &[
    ("github", include_str!("../../connectors/github.yaml")),
    ("gitlab", include_str!("../../connectors/gitlab.yaml")),
    (
        "google-drive",
        include_str!("../../connectors/google-drive.yaml"),
    ),
    (
        "google-sheets",
        include_str!("../../connectors/google-sheets.yaml"),
    ),
    ("httpbin", include_str!("../../connectors/httpbin.yaml")),
    ("jira", include_str!("../../connectors/jira.yaml")),
    (
        "jsonplaceholder",
        include_str!("../../connectors/jsonplaceholder.yaml"),
    ),
    ("notion", include_str!("../../connectors/notion.yaml")),
    ("openai", include_str!("../../connectors/openai.yaml")),
    ("slack", include_str!("../../connectors/slack.yaml")),
    ("stripe", include_str!("../../connectors/stripe.yaml")),
    ("x", include_str!("../../connectors/x.yaml")),
];

/// The environment variable that replaces a connector's `base_url`.
pub fn base_url_var(name: &str) -> String {
    let upper: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_uppercase()
            } else {
                '_'
            }
        })
        .collect();
    format!("PYTOPUS_{upper}_BASE_URL")
}

/// Whether `name` is a valid connector name.
pub fn valid_name(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_lowercase())
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-')
}

/// `<config>/pytopus/connectors`, the user's own connectors.
pub fn user_dir() -> Option<PathBuf> {
    directories::ProjectDirs::from("", "", "pytopus").map(|d| d.config_dir().join("connectors"))
}

/// A connector document as read: its value and where its keys are.
#[derive(Debug, Clone)]
struct Document {
    value: Value,
    spans: SpanMap,
    source: Arc<Source>,
    origin: Origin,
}

/// Reads and shape-checks a connector document.
fn read(source: Arc<Source>, origin: Origin) -> Result<Document, Diagnostic> {
    let (value, spans) = read_document(&source)?;
    if !value.is_object() {
        return Err(Diagnostic::new("a connector file must be a map")
            .at(&source, spans.value(""))
            .note("help: see docs/connectors.md"));
    }
    serde_path_to_error::deserialize::<_, ConnectorFile>(&value)
        .map_err(|e| shape_error(&source, &spans, &value, e, "the connector"))?;
    Ok(Document {
        value,
        spans,
        source,
        origin,
    })
}

fn read_file(path: &Path, origin: Origin) -> Result<Document, Diagnostic> {
    let text = crate::files::read_text(Some(path), crate::files::MAX_INPUT).map_err(|e| {
        Diagnostic::new(format!(
            "cannot read connector file {}: {e}",
            path.display()
        ))
    })?;
    let source = Arc::new(Source {
        name: path.display().to_string(),
        text,
    });
    read(source, origin)
}

fn built_in(name: &str) -> Option<Document> {
    let (file, text) = BUILT_IN.iter().find(|(n, _)| *n == name)?;
    let source = Arc::new(Source {
        name: format!("<built-in connectors/{file}.yaml>"),
        text: (*text).to_string(),
    });
    // The built-ins are checked by tests; a broken one is a bug, not input.
    read(source, Origin::BuiltIn).ok()
}

/// Every place connectors are looked up for one chain.
#[derive(Debug)]
pub struct Library {
    /// From the chain's `connectors:`, by name.
    chain: IndexMap<String, Document>,
    /// `connectors/` beside the chain.
    beside: Option<PathBuf>,
    user: Option<PathBuf>,
    cache: Mutex<HashMap<String, Arc<Connector>>>,
}

impl Library {
    /// The library for a chain file: `connectors` is its `connectors:` value,
    /// `dir` the chain's directory. Errors point into the chain or the files it names.
    pub fn for_chain(
        connectors: Option<&Value>,
        dir: &Path,
        chain_source: &Arc<Source>,
        chain_spans: &SpanMap,
    ) -> Result<Library, Vec<Diagnostic>> {
        let mut lib = Library {
            chain: IndexMap::new(),
            beside: Some(dir.join("connectors")),
            user: user_dir(),
            cache: Mutex::new(HashMap::new()),
        };
        let mut errors = Vec::new();
        let entries: Vec<(String, Option<String>, &Value)> = match connectors {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::Array(items)) => items
                .iter()
                .enumerate()
                .map(|(i, v)| (crate::chain::spans::join_index("connectors", i), None, v))
                .collect(),
            Some(Value::Object(map)) => map
                .iter()
                .map(|(k, v)| (join_key("connectors", k), Some(k.clone()), v))
                .collect(),
            Some(_) => {
                errors.push(
                    Diagnostic::new(
                        "`connectors` must be a list of files, or a map of names to files or definitions",
                    )
                    .at(chain_source, chain_spans.value("connectors")),
                );
                return Err(errors);
            }
        };
        for (path, key, value) in entries {
            let doc = match value {
                Value::String(file) => {
                    let p = dir.join(file);
                    read_file(&p, Origin::File(p.clone())).map_err(|d| {
                        // A file that cannot be read: point at where the chain names it.
                        if d.source.is_none() {
                            d.at(chain_source, chain_spans.value(&path))
                        } else {
                            d
                        }
                    })
                }
                Value::Object(_) => {
                    // An inline definition: a document of its own, written
                    // inside the chain.
                    let spans = chain_spans.under(&path);
                    match serde_path_to_error::deserialize::<_, ConnectorFile>(value) {
                        Ok(_) => Ok(Document {
                            value: value.clone(),
                            spans,
                            source: Arc::clone(chain_source),
                            origin: Origin::Inline,
                        }),
                        Err(e) => Err(shape_error(
                            chain_source,
                            &spans,
                            value,
                            e,
                            &format!("`{path}`"),
                        )),
                    }
                }
                _ => Err(Diagnostic::new(format!(
                    "`{path}` must be a file path or a connector definition"
                ))
                .at(chain_source, chain_spans.value(&path))),
            };
            let doc = match doc {
                Ok(d) => d,
                Err(d) => {
                    errors.push(d);
                    continue;
                }
            };
            let name = key.or_else(|| {
                doc.value
                    .get("name")
                    .and_then(Value::as_str)
                    .map(str::to_string)
            });
            match name {
                Some(n) => {
                    lib.chain.insert(n, doc);
                }
                None => errors.push(
                    Diagnostic::new("this connector has no `name`")
                        .at(&doc.source, doc.spans.value(""))
                        .note("help: give it `name:`, or list it under a name in `connectors:`"),
                ),
            }
        }
        if errors.is_empty() {
            Ok(lib)
        } else {
            Err(errors)
        }
    }

    /// A library without a chain: `./connectors`, the user's, the built-ins.
    pub fn standalone() -> Library {
        Library {
            chain: IndexMap::new(),
            beside: Some(PathBuf::from("connectors")),
            user: user_dir(),
            cache: Mutex::new(HashMap::new()),
        }
    }

    /// The directories searched for `<name>.yaml|.yml|.json`, in order.
    fn dirs(&self) -> impl Iterator<Item = &PathBuf> {
        self.beside.iter().chain(self.user.iter())
    }

    /// The first connector document named `name` below the chain's own entries.
    fn find_below_chain(&self, name: &str) -> Result<Option<Document>, Diagnostic> {
        for dir in self.dirs() {
            for ext in ["yaml", "yml", "json"] {
                let p = dir.join(format!("{name}.{ext}"));
                if p.is_file() {
                    return read_file(&p, Origin::File(p.clone())).map(Some);
                }
            }
        }
        Ok(built_in(name))
    }

    /// Finds, merges and checks the connector `name`.
    pub fn get(&self, name: &str) -> Result<Arc<Connector>, Vec<Diagnostic>> {
        if let Some(c) = self.cache.lock().ok().and_then(|c| c.get(name).cloned()) {
            return Ok(c);
        }
        let doc = match self.chain.get(name) {
            Some(own) if own.origin == Origin::Inline => {
                match self.find_below_chain(name).map_err(|d| vec![d])? {
                    Some(base) => Document {
                        value: overlay(&base.value, &own.value),
                        // Errors in the merged document are most likely the
                        // overlay's; both are checked on their own first.
                        origin: Origin::Overlay(Box::new(base.origin)),
                        ..own.clone()
                    },
                    None => own.clone(),
                }
            }
            Some(own) => own.clone(),
            None => match self.find_below_chain(name).map_err(|d| vec![d])? {
                Some(d) => d,
                None => return Err(vec![self.unknown(name)]),
            },
        };
        let connector = Arc::new(check(name, &doc)?);
        if let Ok(mut c) = self.cache.lock() {
            c.insert(name.to_string(), Arc::clone(&connector));
        }
        Ok(connector)
    }

    fn unknown(&self, name: &str) -> Diagnostic {
        let names = self.names();
        let mut d = Diagnostic::new(format!("there is no connector named `{name}`"));
        match suggest(name, names.iter().map(String::as_str)) {
            Some(best) => d = d.note(format!("help: did you mean `{best}`?")),
            None => d = d.note(format!("help: known connectors: {}", names.join(", "))),
        }
        d
    }

    /// Every connector name this library can find, first the chain's.
    pub fn names(&self) -> Vec<String> {
        let mut names: Vec<String> = self.chain.keys().cloned().collect();
        for dir in self.dirs() {
            let Ok(entries) = std::fs::read_dir(dir) else {
                continue;
            };
            let mut found: Vec<String> = entries
                .filter_map(Result::ok)
                .filter_map(|e| {
                    let p = e.path();
                    let ext = p.extension()?.to_str()?;
                    if !matches!(ext, "yaml" | "yml" | "json") {
                        return None;
                    }
                    Some(p.file_stem()?.to_str()?.to_string())
                })
                .collect();
            found.sort();
            names.extend(found);
        }
        names.extend(BUILT_IN.iter().map(|(n, _)| n.to_string()));
        let mut seen = std::collections::HashSet::new();
        names.retain(|n| seen.insert(n.clone()));
        names
    }
}

/// `base` with `over`'s keys; `headers` and `endpoints` merged key by key.
fn overlay(base: &Value, over: &Value) -> Value {
    let (Value::Object(b), Value::Object(o)) = (base, over) else {
        return over.clone();
    };
    let mut out = b.clone();
    for (k, v) in o {
        match (k.as_str(), out.get_mut(k), v) {
            ("headers" | "endpoints", Some(Value::Object(mine)), Value::Object(theirs)) => {
                for (hk, hv) in theirs {
                    mine.insert(hk.clone(), hv.clone());
                }
            }
            _ => {
                out.insert(k.clone(), v.clone());
            }
        }
    }
    Value::Object(out)
}

/// Checks a connector document beyond its shape: name, URL, endpoints,
/// templates, rate limit and test request.
fn check(name: &str, doc: &Document) -> Result<Connector, Vec<Diagnostic>> {
    let at = |key: &str| doc.spans.value(key).or_else(|| doc.spans.nearest(key));
    let mut errors = Vec::new();
    let mut err = |key: &str, msg: String, hint: Option<String>| {
        let mut d = Diagnostic::new(msg).at(&doc.source, at(key));
        if let Some(h) = hint {
            d = d.note(h);
        }
        errors.push(d);
    };
    let file: ConnectorFile = match serde_json::from_value(doc.value.clone()) {
        Ok(f) => f,
        Err(e) => {
            err("", format!("invalid connector `{name}`: {e}"), None);
            return Err(errors);
        }
    };
    if !valid_name(name) {
        err(
            "name",
            format!("`{name}` is not a valid connector name"),
            Some("help: connector names are lowercase letters, digits, `_` and `-`, starting with a letter".into()),
        );
    }
    if let Some(n) = &file.name
        && n != name
        && doc.origin != Origin::Inline
        && !matches!(doc.origin, Origin::Overlay(_))
    {
        err(
            "name",
            format!("this file is looked up as `{name}` but its `name` is `{n}`"),
            Some(format!(
                "help: rename the file to `{n}.yaml` or the `name` to `{name}`"
            )),
        );
    }
    let base_url = match std::env::var(base_url_var(name))
        .ok()
        .filter(|v| !v.is_empty())
    {
        Some(v) => v,
        None => match &file.base_url {
            Some(u) => u.clone(),
            None => {
                err(
                    "base_url",
                    format!("connector `{name}` has no `base_url`"),
                    Some(format!(
                        "help: set `base_url:`, or {} in the environment",
                        base_url_var(name)
                    )),
                );
                String::new()
            }
        },
    };
    if !base_url.is_empty() {
        match url::Url::parse(&base_url) {
            Ok(u) if matches!(u.scheme(), "http" | "https") => {}
            _ => err(
                "base_url",
                format!("`{base_url}` is not an absolute http(s) URL"),
                Some("help: e.g. `base_url: https://api.example.com`".into()),
            ),
        }
    }
    if let Some(r) = &file.rate_limit {
        if r.requests == 0 {
            err(
                "rate_limit.requests",
                "`rate_limit.requests` must be at least 1".into(),
                None,
            );
        }
        if r.per.0.is_zero() {
            err(
                "rate_limit.per",
                "`rate_limit.per` must be longer than 0".into(),
                None,
            );
        }
        if r.burst == Some(0) {
            err(
                "rate_limit.burst",
                "`rate_limit.burst` must be at least 1".into(),
                None,
            );
        }
    }
    let mut templates = Templates::new();
    for (ename, e) in &file.endpoints {
        let key = join_key("endpoints", ename);
        if !crate::chain::model::is_identifier(ename) {
            err(
                &key,
                format!("`{ename}` is not a valid endpoint name"),
                Some("help: endpoint names look like `get_repo`: letters, digits and `_`".into()),
            );
        }
        if !e.path.starts_with('/') {
            err(
                &join_key(&key, "path"),
                format!("the path `{}` must start with `/`", e.path),
                None,
            );
        }
        for p in e.path_params() {
            if !crate::chain::model::is_identifier(&p) {
                err(
                    &join_key(&key, "path"),
                    format!("`{{{p}}}` in `{}` is not a parameter name", e.path),
                    Some("help: placeholders look like `{owner}`".into()),
                );
            }
        }
        if e.body.is_some() && e.form.is_some() {
            err(
                &key,
                format!("endpoint `{ename}` has both `body` and `form`"),
                None,
            );
        }
        let mut values: Vec<(String, Value)> = Vec::new();
        if let Some(b) = &e.body {
            values.push((join_key(&key, "body"), b.clone()));
        }
        if let Some(f) = &e.form {
            values.push((
                join_key(&key, "form"),
                Value::Object(f.clone().into_iter().collect()),
            ));
        }
        for (h, v) in &e.headers {
            values.push((
                join_key(&join_key(&key, "headers"), h),
                Value::String(v.0.clone()),
            ));
        }
        for (q, v) in &e.query {
            values.push((join_key(&join_key(&key, "query"), q), v.clone()));
        }
        for (path, v) in values {
            if let Err(e) = templates.compile(&v) {
                err(&path, format!("{} in `{}`", e.message, e.template), None);
            }
        }
        let params: Vec<String> = e.parameters().into_iter().map(|p| p.name).collect();
        for r in &e.required {
            if !params.contains(r) {
                err(
                    &join_key(&key, "required"),
                    format!("`required` names `{r}`, which endpoint `{ename}` does not take"),
                    Some(format!("help: its parameters are {}", params.join(", "))),
                );
            }
        }
    }
    for (h, v) in &file.headers {
        if let Err(e) = templates.compile(&Value::String(v.0.clone())) {
            err(
                &join_key("headers", h),
                format!("{} in `{}`", e.message, e.template),
                None,
            );
        }
    }
    if let Some(t) = &file.test {
        match (&t.endpoint, &t.path) {
            (Some(e), None) => {
                if !file.endpoints.contains_key(e) {
                    err(
                        "test.endpoint",
                        format!("`test` names endpoint `{e}`, which `{name}` does not have"),
                        suggest(e, file.endpoints.keys().map(String::as_str))
                            .map(|b| format!("help: did you mean `{b}`?")),
                    );
                }
            }
            (None, Some(p)) if p.starts_with('/') => {}
            (None, Some(p)) => err(
                "test.path",
                format!("the path `{p}` must start with `/`"),
                None,
            ),
            _ => err(
                "test",
                "`test` needs either `endpoint` or `path`".into(),
                None,
            ),
        }
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    Ok(Connector {
        name: name.to_string(),
        origin: doc.origin.clone(),
        base_url: base_url.trim_end_matches('/').to_string(),
        file,
        raw: doc.value.clone(),
    })
}

/// Checks a connector file's text as `connectors import` wrote it.
pub fn check_text(name: &str, source: Arc<Source>) -> Result<Connector, Vec<Diagnostic>> {
    let origin = Origin::File(PathBuf::from(&source.name));
    let doc = read(source, origin).map_err(|d| vec![d])?;
    check(name, &doc)
}

/// What went wrong turning a connector step into a plain one: the step key
/// to point at, the message and a hint.
#[derive(Debug)]
pub struct StepProblem {
    pub key: String,
    pub message: String,
    pub hint: Option<String>,
}

/// A step with `connector:` as the plain step it stands for. Parameters stay
/// in the returned list (rendered first at run time, as `params`).
pub fn expand_step(
    step: &Step,
    connector: &Connector,
) -> Result<(Step, IndexMap<String, Value>), Vec<StepProblem>> {
    let cname = &connector.name;
    let file = &connector.file;
    let mut problems = Vec::new();
    let params: IndexMap<String, Value> = match step.params.as_deref() {
        None | Some(Value::Null) => IndexMap::new(),
        Some(Value::Object(m)) => m.clone().into_iter().collect(),
        Some(_) => {
            problems.push(StepProblem {
                key: "params".into(),
                message: "`params` must be a map of parameter names to values".into(),
                hint: None,
            });
            return Err(problems);
        }
    };
    let endpoint_name = match step.endpoint.as_deref() {
        None => None,
        Some(Value::String(s)) => Some(s.as_str()),
        Some(_) => {
            problems.push(StepProblem {
                key: "endpoint".into(),
                message: "`endpoint` must be the name of one of the connector's endpoints".into(),
                hint: None,
            });
            return Err(problems);
        }
    };
    let mut out = step.clone();
    let (endpoint, path) = match (endpoint_name, &step.url) {
        (Some(_), Some(_)) => {
            problems.push(StepProblem {
                key: "url".into(),
                message: "a step has either `endpoint` or `url`, not both".into(),
                hint: None,
            });
            return Err(problems);
        }
        (Some(e), None) => match file.endpoints.get(e) {
            Some(ep) => (Some(ep), url_template(&ep.path)),
            None => {
                let names: Vec<&str> = file.endpoints.keys().map(String::as_str).collect();
                let hint = match suggest(e, names.iter().copied()) {
                    Some(b) => format!("help: did you mean `{b}`?"),
                    None if names.is_empty() => {
                        format!("help: connector `{cname}` has no endpoints; use `url: /path`")
                    }
                    None => format!("help: its endpoints are {}", names.join(", ")),
                };
                problems.push(StepProblem {
                    key: "endpoint".into(),
                    message: format!("connector `{cname}` has no endpoint `{e}`"),
                    hint: Some(hint),
                });
                return Err(problems);
            }
        },
        (None, Some(u)) if u.starts_with('/') => (None, u.clone()),
        (None, Some(_)) => {
            problems.push(StepProblem {
                key: "url".into(),
                message: format!(
                    "with `connector: {cname}`, `url` must be a path such as `/users` (it is appended to {})",
                    connector.base_url
                ),
                hint: Some("help: the connector's credentials are only sent to its own base_url; drop `connector:` to call another host".into()),
            });
            return Err(problems);
        }
        (None, None) => {
            problems.push(StepProblem {
                key: "connector".into(),
                message: format!(
                    "a step with `connector: {cname}` needs `endpoint:` or `url: /path`"
                ),
                hint: Some(endpoint_hint(file)),
            });
            return Err(problems);
        }
    };

    // Parameters given against the ones the endpoint takes.
    match endpoint {
        Some(ep) => {
            let takes = ep.parameters();
            let ename = endpoint_name.unwrap_or_default();
            let listing = || {
                if takes.is_empty() {
                    "help: it takes no parameters".to_string()
                } else {
                    format!(
                        "help: it takes {}",
                        takes
                            .iter()
                            .map(Param::to_string)
                            .collect::<Vec<_>>()
                            .join(", ")
                    )
                }
            };
            for given in params.keys() {
                if !takes.iter().any(|p| &p.name == given) {
                    let hint = suggest(given, takes.iter().map(|p| p.name.as_str()))
                        .map(|b| format!("help: did you mean `{b}`?"))
                        .unwrap_or_else(listing);
                    problems.push(StepProblem {
                        key: join_key("params", given),
                        message: format!(
                            "endpoint `{ename}` of connector `{cname}` has no parameter `{given}`"
                        ),
                        hint: Some(hint),
                    });
                }
            }
            let missing: Vec<&str> = takes
                .iter()
                .filter(|p| p.required && !params.contains_key(&p.name))
                .map(|p| p.name.as_str())
                .collect();
            if !missing.is_empty() {
                let list = missing
                    .iter()
                    .map(|m| format!("`{m}`"))
                    .collect::<Vec<_>>()
                    .join(", ");
                problems.push(StepProblem {
                    key: if step.params.is_some() {
                        "params".into()
                    } else {
                        "endpoint".into()
                    },
                    message: format!(
                        "endpoint `{ename}` of connector `{cname}` needs {list}"
                    ),
                    hint: Some(listing()),
                });
            }
        }
        None if !params.is_empty() => problems.push(StepProblem {
            key: "params".into(),
            message: "`params` needs `endpoint:`; with `url:` write the values into the URL or `query_params`".into(),
            hint: None,
        }),
        None => {}
    }
    if !problems.is_empty() {
        return Err(problems);
    }

    out.url = Some(format!("{}{path}", connector.base_url));
    out.method = step
        .method
        .clone()
        .or_else(|| endpoint.and_then(|e| e.method.clone()));
    // Query: the endpoint's keys the step gave a parameter for, or their
    // defaults; then the step's own `query_params` over them.
    let mut query: IndexMap<String, Value> = IndexMap::new();
    if let Some(ep) = endpoint {
        for (k, default) in &ep.query {
            if params.contains_key(k) && !ep.path_params().contains(k) {
                query.insert(k.clone(), Value::String(format!("{{{{ params.{k} }}}}")));
            } else if !default.is_null() {
                query.insert(k.clone(), default.clone());
            }
        }
    }
    if let Some(own) = &step.query_params {
        for (k, v) in own.iter() {
            query.insert(k.clone(), v.clone());
        }
    }
    out.query_params = (!query.is_empty()).then(|| Box::new(query));
    // Headers: connector, endpoint, step; later names win case-insensitively.
    let mut headers: IndexMap<String, Scalar> = IndexMap::new();
    let layers = [
        Some(&file.headers),
        endpoint.map(|e| &e.headers),
        step.headers.as_deref(),
    ];
    for layer in layers.into_iter().flatten() {
        for (k, v) in layer {
            headers.retain(|have, _| !have.eq_ignore_ascii_case(k));
            headers.insert(k.clone(), v.clone());
        }
    }
    out.headers = (!headers.is_empty()).then(|| Box::new(headers));
    if step.body.is_none()
        && step.form.is_none()
        && step.graphql.is_none()
        && step.multipart.is_none()
        && step.body_file.is_none()
    {
        out.body = endpoint.and_then(|e| e.body.clone()).map(Box::new);
        out.form = endpoint.and_then(|e| e.form.clone()).map(Box::new);
    }
    out.auth = step
        .auth
        .clone()
        .or_else(|| file.auth.clone().map(Box::new));
    out.timeout = step.timeout.or(file.timeout);
    out.retry = step
        .retry
        .clone()
        .or_else(|| file.retry.clone().map(Box::new));
    out.tls = step.tls.clone().or_else(|| file.tls.clone().map(Box::new));
    out.connector = None;
    out.endpoint = None;
    out.params = None;
    Ok((out, params))
}

fn endpoint_hint(file: &ConnectorFile) -> String {
    let names: Vec<&str> = file.endpoints.keys().map(String::as_str).collect();
    if names.is_empty() {
        "help: this connector has no endpoints; use `url: /path`".into()
    } else {
        format!("help: its endpoints are {}", names.join(", "))
    }
}

/// A path with `{name}` placeholders as a URL template: each placeholder is
/// the parameter, percent-encoded as one path segment.
fn url_template(path: &str) -> String {
    let mut out = String::with_capacity(path.len() + 16);
    let mut rest = path;
    while let Some(open) = rest.find('{') {
        let after = &rest[open + 1..];
        let Some(close) = after.find('}') else {
            break;
        };
        out.push_str(&rest[..open]);
        out.push_str(&format!(
            "{{{{ params.{} | path_segment }}}}",
            &after[..close]
        ));
        rest = &after[close + 1..];
    }
    out.push_str(rest);
    out
}

/// The rate limiter of a connector, shared by every run in this process
/// (data-driven rows, sub-chains and served runs draw from one bucket).
pub fn limiter(connector: &Connector) -> Option<Arc<RateLimiter>> {
    static LIMITERS: Mutex<Vec<(String, Arc<RateLimiter>)>> = Mutex::new(Vec::new());
    let spec = connector.file.rate_limit.as_ref()?;
    let key = format!(
        "{}|{}|{}|{}|{}",
        connector.name,
        connector.base_url,
        spec.requests,
        spec.per.0.as_nanos(),
        spec.burst.unwrap_or(0)
    );
    let mut all = LIMITERS.lock().ok()?;
    if let Some((_, l)) = all.iter().find(|(k, _)| *k == key) {
        return Some(Arc::clone(l));
    }
    let l = Arc::new(RateLimiter::new(
        connector.name.clone(),
        spec.requests,
        spec.per.0,
        spec.burst,
    ));
    all.push((key, Arc::clone(&l)));
    Some(l)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn endpoint(v: Value) -> Endpoint {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn parameters_come_from_path_query_and_templates() {
        let e = endpoint(json!({
            "path": "/repos/{owner}/{repo}/issues",
            "query": {"state": "open", "per_page": null},
            "body": {"title": "{{ params.title }}", "body": "{{ params.body | default('') }}"},
            "required": ["per_page"]
        }));
        let shown: Vec<String> = e.parameters().iter().map(Param::to_string).collect();
        assert_eq!(
            shown,
            [
                "owner (path, required)",
                "repo (path, required)",
                "state (query, optional, default \"open\")",
                "per_page (query, required)",
                "title (body, required)",
                "body (body, optional)",
            ]
        );
    }

    #[test]
    fn placeholders_become_path_segment_templates() {
        assert_eq!(
            url_template("/repos/{owner}/{repo}"),
            "/repos/{{ params.owner | path_segment }}/{{ params.repo | path_segment }}"
        );
        assert_eq!(url_template("/plain"), "/plain");
    }

    #[test]
    fn overlays_merge_headers_and_endpoints_and_replace_the_rest() {
        let base = json!({"name": "a", "base_url": "https://a", "headers": {"X": "1", "Y": "2"},
                          "endpoints": {"e": {"path": "/e"}}});
        let over = json!({"base_url": "http://127.0.0.1:9", "headers": {"Y": "3"},
                          "endpoints": {"f": {"path": "/f"}}});
        let m = overlay(&base, &over);
        assert_eq!(m["base_url"], "http://127.0.0.1:9");
        assert_eq!(m["headers"], json!({"X": "1", "Y": "3"}));
        assert_eq!(
            m["endpoints"]
                .as_object()
                .unwrap()
                .keys()
                .collect::<Vec<_>>(),
            ["e", "f"]
        );
    }

    #[test]
    fn the_built_in_list_is_the_connectors_directory() {
        let mut on_disk: Vec<String> =
            std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/connectors"))
                .unwrap()
                .filter_map(|e| {
                    let p = e.ok()?.path();
                    (p.extension()? == "yaml").then(|| p.file_stem()?.to_str().map(String::from))?
                })
                .collect();
        on_disk.sort();
        let built_in: Vec<String> = BUILT_IN.iter().map(|(n, _)| n.to_string()).collect();
        assert_eq!(built_in, on_disk);
    }

    #[test]
    fn every_built_in_connector_checks_and_names_itself() {
        for (name, _) in BUILT_IN {
            let doc = built_in(name).unwrap_or_else(|| panic!("{name} does not parse"));
            let c = check(name, &doc).unwrap_or_else(|e| panic!("{name}: {e:?}"));
            assert_eq!(c.file.name.as_deref(), Some(*name));
            assert!(c.base_url.starts_with("https://"), "{name}: {}", c.base_url);
            assert!(
                c.file.description.is_some() && c.file.docs.is_some(),
                "{name}"
            );
            for (ename, e) in &c.file.endpoints {
                assert!(e.description.is_some(), "{name}.{ename} has a description");
            }
        }
    }

    #[test]
    fn env_names_for_base_urls() {
        assert_eq!(
            base_url_var("google-sheets"),
            "PYTOPUS_GOOGLE_SHEETS_BASE_URL"
        );
        assert!(valid_name("google-sheets") && valid_name("x") && !valid_name("X"));
        assert!(!valid_name("9a") && !valid_name(""));
    }
}
