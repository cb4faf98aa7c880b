//! Connector files as plain data, and a connector as looked up: its
//! endpoints and their parameters.

use std::path::PathBuf;

use indexmap::IndexMap;
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::Value;

use crate::chain::model::{Auth, DurationSpec, Retry, Scalar, Tls};
use crate::template::{self as render, Templates};

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
