//! `pytopus connectors import`: an OpenAPI 3 document made into a connector
//! file (docs/connectors.md).
//!
//! # Which OpenAPI crate
//!
//! The document is read into the types of [`oas3`], not `openapiv3`:
//!
//! - `openapiv3` (2.x) models OpenAPI 3.0 only, and says so. A 3.1 document
//!   that uses a JSON Schema type list (`type: [string, 'null']`, the 3.1 way
//!   to say "nullable") fails to deserialize, reported at `paths` without
//!   more detail, and it has no `$ref` helpers beyond `ReferenceOr::as_item`.
//! - `oas3` models 3.1, the current line (released regularly; keeps map
//!   order; has `$ref` helpers). Its types also read 3.0 documents, except
//!   for a few 3.0 forms that `normalize` rewrites first: boolean
//!   `exclusiveMinimum`/`exclusiveMaximum` (3.1 made them numbers), and
//!   relative OAuth2 URLs (`oas3` types them as absolute `url::Url`), and
//!   the common slip `required: true` on a property (read as listing it in
//!   the object's `required`). 3.0's
//!   `nullable` is ignored by `oas3`, which is fine here. `Spec::validate_version`
//!   accepts only `~3.1`, so it is not called: the version is checked here
//!   (3.0 and 3.1 read; 3.2+ read as 3.1 with a warning; Swagger 2.0 refused).
//!
//! YAML is read with serde-saphyr into a `serde_json::Value`, which is
//! normalized and then deserialized into [`oas3::Spec`] through
//! `serde_path_to_error`, so an error names where the document went wrong
//! (`oas3`'s own `from_yaml` needs its `yaml-spec` feature: a second YAML
//! parser). Parts of the document the importer never reads (responses,
//! callbacks, examples, tags, contact, license, webhooks) are dropped before
//! that, so an oddity there cannot fail an import.
//!
//! `$ref`s are followed for parameters, request bodies, schemas and security
//! schemes, inside the document only (`#/components/...`), up to
//! `MAX_REF_DEPTH` links (which also stops cycles).

use std::collections::HashSet;

use oas3::spec::{
    Components, ObjectOrReference, ObjectSchema, Operation, Parameter, ParameterIn, ParameterStyle,
    Schema, SchemaType, SecurityScheme,
};
use serde_json::{Map, Value};

/// Stand-in origin for relative OAuth2 URLs, which `oas3` can only hold as
/// absolute URLs; taken off again when the `auth:` block is written.
const RELATIVE_BASE: &str = "https://relative.invalid";
/// How many `$ref` links are followed before giving up.
const MAX_REF_DEPTH: usize = 16;
/// Longest connector name made from a title.
const MAX_NAME_LEN: usize = 40;
/// The operation keys of a path item.
const METHOD_KEYS: &[&str] = &[
    "get", "put", "post", "delete", "options", "head", "patch", "trace",
];

/// The result of an import: the connector file and what the person should know.
#[derive(Debug, Clone)]
pub struct Imported {
    /// The connector file, keys in the order of docs/connectors.md.
    pub connector: Value,
    /// What could not be carried over, or needs doing by hand.
    pub warnings: Vec<String>,
}

/// Why a document could not be imported.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    /// Not parseable YAML or JSON.
    #[error("{}", syntax_message(.format, .message, *.line, *.column))]
    Syntax {
        /// `YAML` or `JSON`.
        format: &'static str,
        message: String,
        /// 1-based, when the parser knows it.
        line: Option<u64>,
        column: Option<u64>,
    },
    #[error("Swagger 2.0 is not supported; convert it to OpenAPI 3 first")]
    Swagger2,
    #[error("not an OpenAPI document: it has no `openapi` version field")]
    NotOpenApi,
    #[error("OpenAPI {0} is not supported; only OpenAPI 3.0 and 3.1 are")]
    UnsupportedVersion(String),
    /// The document does not have the shape of OpenAPI 3.
    #[error("not a valid OpenAPI document: at `{path}`: {message}")]
    Invalid { path: String, message: String },
    #[error("the document has no operations under `paths`: nothing to import")]
    NoOperations,
}

fn syntax_message(format: &str, message: &str, line: Option<u64>, column: Option<u64>) -> String {
    match (line, column) {
        (Some(l), Some(c)) => format!("invalid {format} at line {l}, column {c}: {message}"),
        (Some(l), None) => format!("invalid {format} at line {l}: {message}"),
        _ => format!("invalid {format}: {message}"),
    }
}

/// serde's message for a value that fits no variant, in OpenAPI terms.
fn shape_message(message: &str) -> String {
    match message.strip_prefix("data did not match any variant of untagged enum ") {
        Some("ObjectOrReference") => "neither a `$ref` nor the object that belongs here".into(),
        Some("Schema") => "not a valid schema".into(),
        Some(other) => format!("not a valid {other}"),
        None => message.to_string(),
    }
}

/// Reads an OpenAPI 3.0 or 3.1 document (YAML or JSON) and makes a connector
/// of it. `name_hint` is the connector's name; without it the name comes
/// from `info.title`.
pub fn import(text: &str, name_hint: Option<&str>) -> Result<Imported, ImportError> {
    let mut doc = read_document(text)?;
    let mut warnings = Vec::new();
    check_version(&mut doc, &mut warnings)?;
    let docs = doc
        .pointer("/externalDocs/url")
        .and_then(Value::as_str)
        .map(str::to_string);
    normalize(&mut doc, &mut warnings);
    let spec: oas3::Spec =
        serde_path_to_error::deserialize(doc).map_err(|e| ImportError::Invalid {
            path: e.path().to_string(),
            message: shape_message(&e.inner().to_string()),
        })?;
    let has_operations = spec
        .paths
        .iter()
        .flatten()
        .any(|(_, item)| item.methods().into_iter().next().is_some());
    if !has_operations {
        return Err(ImportError::NoOperations);
    }
    let name = connector_name(&spec.info.title, name_hint, &mut warnings);
    let importer = Importer {
        spec: &spec,
        name,
        warnings,
    };
    Ok(importer.run(docs))
}

/// The connector as a readable YAML file.
pub fn to_yaml(connector: &Value) -> String {
    match serde_saphyr::to_string(connector) {
        Ok(yaml) => yaml,
        // JSON is YAML too; serializing a `Value` is not expected to fail.
        Err(_) => serde_json::to_string_pretty(connector).unwrap_or_default() + "\n",
    }
}

// ---------------------------------------------------------------- reading

fn read_document(text: &str) -> Result<Value, ImportError> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    // JSON, whose own parser gives the better errors; a YAML flow mapping
    // (`{openapi: 3.1.0, ...}`) also starts with `{` but not with `{"`.
    let after_brace = text.trim_start().strip_prefix('{').map(str::trim_start);
    if after_brace.is_some_and(|rest| rest.starts_with('"') || rest.starts_with('}')) {
        return serde_json::from_str(text).map_err(|e| {
            let full = e.to_string();
            let message = match full.rfind(" at line ") {
                Some(i) => full[..i].to_string(),
                None => full,
            };
            ImportError::Syntax {
                format: "JSON",
                message,
                line: Some(e.line() as u64),
                column: Some(e.column() as u64),
            }
        });
    }
    read_yaml(text)
}

fn read_yaml(text: &str) -> Result<Value, ImportError> {
    let mut options = serde_saphyr::Options::default();
    // YAML 1.2 booleans only (an enum value `no` stays a string) and `007`
    // stays text, as for chain files.
    options.strict_booleans = true;
    options.leading_zero_numbers_as_strings = true;
    // Public API descriptions run to many megabytes (GitHub's, Stripe's):
    // the default budget (250,000 nodes) is meant for configuration files.
    let mut budget = serde_saphyr::Budget::default();
    budget.max_events = 50_000_000;
    budget.max_nodes = 20_000_000;
    budget.max_depth = 256;
    options.budget = Some(budget);
    serde_saphyr::from_str_with_options(text, options).map_err(|e| {
        let location = e.location().filter(|l| l.line() > 0);
        ImportError::Syntax {
            format: "YAML",
            message: yaml_message(&e.to_string()),
            line: location.as_ref().map(|l| l.line()),
            column: location.as_ref().map(|l| l.column()),
        }
    })
}

/// serde-saphyr's first line, without the position (kept apart) and the
/// source snippet it renders.
fn yaml_message(full: &str) -> String {
    let first = full.lines().next().unwrap_or("invalid YAML").trim();
    let first = first.strip_prefix("error: ").unwrap_or(first);
    // Advice meant for programmers using the library.
    let first = first
        .split(", set DuplicateKeyPolicy")
        .next()
        .unwrap_or(first);
    let first = match first.rfind(" at line ") {
        Some(i) => &first[..i],
        None => first,
    };
    match first
        .strip_prefix("line ")
        .and_then(|rest| rest.split_once(": "))
    {
        Some((pos, rest)) if pos.contains("column") => rest.to_string(),
        _ => first.to_string(),
    }
}

/// Swagger 2.0 and non-OpenAPI documents are refused; 3.0 and 3.1 pass;
/// later 3.x pass with a warning.
fn check_version(doc: &mut Value, warnings: &mut Vec<String>) -> Result<(), ImportError> {
    let Some(root) = doc.as_object_mut() else {
        return Err(ImportError::NotOpenApi);
    };
    if root.contains_key("swagger") {
        return Err(ImportError::Swagger2);
    }
    let version = match root.get("openapi") {
        Some(Value::String(s)) => s.trim().to_string(),
        // `openapi: 3.1` unquoted is a number in YAML.
        Some(Value::Number(n)) => n.to_string(),
        _ => return Err(ImportError::NotOpenApi),
    };
    root.insert("openapi".into(), Value::String(version.clone()));
    let mut parts = version.split('.').map(|p| p.parse::<u64>().ok());
    match (parts.next().flatten(), parts.next().flatten()) {
        (Some(3), Some(0 | 1)) => Ok(()),
        (Some(3), Some(minor)) => {
            warnings.push(format!(
                "OpenAPI {version} is newer than this importer: it is read as OpenAPI 3.1, \
                 and what 3.{minor} added is ignored"
            ));
            Ok(())
        }
        (Some(2), _) => Err(ImportError::Swagger2),
        _ => Err(ImportError::UnsupportedVersion(version)),
    }
}

/// Makes the document fit `oas3`'s types: drops what the importer never
/// reads and rewrites the few 3.0 forms 3.1 changed.
fn normalize(doc: &mut Value, warnings: &mut Vec<String>) {
    let Some(root) = doc.as_object_mut() else {
        return;
    };
    if let Some(n) = root
        .get("webhooks")
        .and_then(Value::as_object)
        .map(Map::len)
        .filter(|n| *n > 0)
    {
        warnings.push(format!(
            "{n} webhook(s) not imported: a connector only makes requests"
        ));
    }
    for key in ["tags", "externalDocs", "webhooks", "x-tagGroups"] {
        root.remove(key);
    }
    if let Some(info) = root.get_mut("info").and_then(Value::as_object_mut) {
        for key in ["contact", "license", "termsOfService"] {
            info.remove(key);
        }
        for key in ["title", "version"] {
            if let Some(v) = info.get_mut(key) {
                scalar_to_string(v);
            }
        }
    }
    fix_servers(root.get_mut("servers"));
    if let Some(paths) = root.get_mut("paths").and_then(Value::as_object_mut) {
        for item in paths.values_mut().filter_map(Value::as_object_mut) {
            fix_servers(item.get_mut("servers"));
            for method in METHOD_KEYS {
                if let Some(op) = item.get_mut(*method).and_then(Value::as_object_mut) {
                    for key in ["externalDocs", "responses", "callbacks"] {
                        op.remove(key);
                    }
                    fix_servers(op.get_mut("servers"));
                }
            }
        }
    }
    if let Some(components) = root.get_mut("components").and_then(Value::as_object_mut) {
        for key in [
            "responses",
            "callbacks",
            "links",
            "examples",
            "headers",
            "pathItems",
        ] {
            components.remove(key);
        }
        if let Some(schemes) = components
            .get_mut("securitySchemes")
            .and_then(Value::as_object_mut)
        {
            for flows in schemes
                .values_mut()
                .filter_map(|s| s.get_mut("flows"))
                .filter_map(Value::as_object_mut)
            {
                for flow in flows.values_mut().filter_map(Value::as_object_mut) {
                    for key in ["authorizationUrl", "tokenUrl", "refreshUrl"] {
                        if let Some(Value::String(url)) = flow.get_mut(key)
                            && !is_absolute(url)
                        {
                            let sep = if url.starts_with('/') { "" } else { "/" };
                            *url = format!("{RELATIVE_BASE}{sep}{url}");
                        }
                    }
                }
            }
        }
    }
    fix_schemas(doc);
}

/// Server variable defaults and enums are strings in `oas3` (`port: 443`
/// in YAML is a number).
fn fix_servers(servers: Option<&mut Value>) {
    let Some(servers) = servers.and_then(Value::as_array_mut) else {
        return;
    };
    for server in servers.iter_mut() {
        if let Some(url) = server.get_mut("url") {
            scalar_to_string(url);
        }
        let Some(vars) = server.get_mut("variables").and_then(Value::as_object_mut) else {
            continue;
        };
        for var in vars.values_mut().filter_map(Value::as_object_mut) {
            if let Some(d) = var.get_mut("default") {
                scalar_to_string(d);
            }
            if let Some(Value::Array(values)) = var.get_mut("enum") {
                values.iter_mut().for_each(scalar_to_string);
            }
        }
    }
}

fn scalar_to_string(v: &mut Value) {
    match v {
        Value::Number(n) => *v = Value::String(n.to_string()),
        Value::Bool(b) => *v = Value::String(b.to_string()),
        _ => {}
    }
}

/// Schema forms `oas3` cannot read, in any object of the document:
/// - OpenAPI 3.0 (JSON Schema draft 4) `exclusiveMinimum: true` next to
///   `minimum: 5`, which 3.1 writes `exclusiveMinimum: 5`;
/// - `required: true` on a property, a common mistake for listing it in
///   the object's `required`.
fn fix_schemas(v: &mut Value) {
    match v {
        Value::Object(m) => {
            let mut required = Vec::new();
            if let Some(Value::Object(props)) = m.get_mut("properties") {
                for (key, prop) in props.iter_mut() {
                    if let Some(Value::Bool(r)) = prop.get("required") {
                        if *r {
                            required.push(Value::String(key.clone()));
                        }
                        if let Some(prop) = prop.as_object_mut() {
                            prop.remove("required");
                        }
                    }
                }
            }
            if !required.is_empty() {
                match m.get_mut("required") {
                    Some(Value::Array(list)) => list.extend(required),
                    None => {
                        m.insert("required".into(), Value::Array(required));
                    }
                    Some(_) => {}
                }
            }
            for (flag, bound) in [
                ("exclusiveMinimum", "minimum"),
                ("exclusiveMaximum", "maximum"),
            ] {
                if let Some(Value::Bool(exclusive)) = m.get(flag) {
                    let exclusive = *exclusive;
                    m.remove(flag);
                    if exclusive && let Some(n) = m.remove(bound) {
                        m.insert(flag.to_string(), n);
                    }
                }
            }
            m.values_mut().for_each(fix_schemas);
        }
        Value::Array(items) => items.iter_mut().for_each(fix_schemas),
        _ => {}
    }
}

// ---------------------------------------------------------------- names

/// `name_hint` if given (made valid if need be), else from the title.
fn connector_name(title: &str, hint: Option<&str>, warnings: &mut Vec<String>) -> String {
    if let Some(hint) = hint {
        let name = slug(hint, true);
        if name != hint {
            warnings.push(format!(
                "the name `{hint}` is not [a-z0-9_-] starting with a letter: using `{name}`"
            ));
        }
        return name;
    }
    slug(title, false)
}

/// `[a-z0-9_-]`, starting with a letter, for a connector name. Runs of
/// other characters become one `_`; `keep_dashes` keeps `-` and `_` as given.
fn slug(text: &str, keep_dashes: bool) -> String {
    let mut out = String::new();
    let mut gap = false;
    for c in text.chars() {
        if c.is_ascii_alphanumeric() || (keep_dashes && (c == '-' || c == '_')) {
            if gap && !out.is_empty() {
                out.push('_');
            }
            gap = false;
            out.push(c.to_ascii_lowercase());
        } else {
            gap = true;
        }
    }
    if out.len() > MAX_NAME_LEN {
        let cut = out[..MAX_NAME_LEN].rfind('_').unwrap_or(MAX_NAME_LEN);
        out.truncate(cut);
    }
    let out = out.trim_end_matches(['_', '-']).to_string();
    match out.chars().next() {
        None => "api".to_string(),
        Some(c) if c.is_ascii_lowercase() => out,
        Some(_) => format!("api_{out}"),
    }
}

/// `getPetByID` → `get_pet_by_id`, `create-task` → `create_task`,
/// `get /pets/{petId}` → `get_pets_pet_id`.
fn snake_case(text: &str) -> String {
    let out = snake_words(text);
    match out.chars().next() {
        Some(c) if c.is_ascii_digit() => format!("op_{out}"),
        _ => out,
    }
}

/// Snake case, without care for what the result starts with.
fn snake_words(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::new();
    for (i, &c) in chars.iter().enumerate() {
        if !c.is_ascii_alphanumeric() {
            if !out.is_empty() && !out.ends_with('_') {
                out.push('_');
            }
            continue;
        }
        if c.is_ascii_uppercase() && i > 0 {
            let prev = chars[i - 1];
            let next_lower = chars.get(i + 1).is_some_and(char::is_ascii_lowercase);
            let boundary = prev.is_ascii_lowercase()
                || prev.is_ascii_digit()
                || (prev.is_ascii_uppercase() && next_lower);
            if boundary && !out.is_empty() && !out.ends_with('_') {
                out.push('_');
            }
        }
        out.push(c.to_ascii_lowercase());
    }
    out.trim_end_matches('_').to_string()
}

/// The name a template reads a value as: `params.NAME`. The name itself
/// when it is an identifier, else snake case (`due-date` → `due_date`).
fn param_ident(name: &str) -> String {
    let mut chars = name.chars();
    let ident = chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_');
    if ident {
        return name.to_string();
    }
    let s = snake_words(name);
    match s.chars().next() {
        None => "value".to_string(),
        Some(c) if c.is_ascii_digit() => format!("p_{s}"),
        Some(_) => s,
    }
}

/// `base`, or `base_2`, `base_3`, … whichever is free; marks it taken.
fn unique(base: &str, taken: &mut HashSet<String>) -> String {
    if taken.insert(base.to_string()) {
        return base.to_string();
    }
    let mut n = 2;
    loop {
        let candidate = format!("{base}_{n}");
        if taken.insert(candidate.clone()) {
            return candidate;
        }
        n += 1;
    }
}

fn template(expr: &str) -> Value {
    Value::String(format!("{{{{ {expr} }}}}"))
}

fn secret(name: &str) -> Value {
    template(&format!("secret('{name}')"))
}

/// A literal value where a template is expected: text that looks like a
/// template is wrapped in `{% raw %}`.
fn literal(v: Value) -> Value {
    match v {
        Value::String(s) if s.contains("{{") || s.contains("{%") || s.contains("{#") => {
            Value::String(format!("{{% raw %}}{s}{{% endraw %}}"))
        }
        other => other,
    }
}

// ---------------------------------------------------------------- URLs

/// `scheme://…`.
fn is_absolute(url: &str) -> bool {
    url.split_once("://").is_some_and(|(scheme, _)| {
        let mut chars = scheme.chars();
        chars.next().is_some_and(|c| c.is_ascii_alphabetic())
            && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
    })
}

/// `relative` resolved against the absolute `base`.
fn join_url(base: &str, relative: &str) -> String {
    if relative.starts_with('/') {
        let after_scheme = base.find("://").map_or(0, |i| i + 3);
        let origin_end = base[after_scheme..]
            .find('/')
            .map_or(base.len(), |i| after_scheme + i);
        format!("{}{relative}", &base[..origin_end])
    } else {
        format!("{}/{relative}", base.trim_end_matches('/'))
    }
}

// ---------------------------------------------------------------- the import

struct Importer<'a> {
    spec: &'a oas3::Spec,
    name: String,
    warnings: Vec<String>,
}

/// An endpoint's parameters that a step must give.
struct Required {
    count: usize,
}

/// The security scheme chosen for `auth:`.
struct ChosenAuth {
    name: String,
    /// An API key's location and name: a header or query parameter of that
    /// name is the key, which `auth` sends.
    api_key: Option<(ParameterIn, String)>,
}

impl<'a> Importer<'a> {
    fn run(mut self, docs: Option<String>) -> Imported {
        let mut connector = Map::new();
        connector.insert("name".into(), Value::String(self.name.clone()));
        connector.insert(
            "description".into(),
            Value::String(self.spec.info.title.trim().to_string()),
        );
        if let Some(docs) = docs {
            connector.insert("docs".into(), Value::String(docs));
        }
        let base_url = self.base_url();
        connector.insert("base_url".into(), Value::String(base_url.clone()));
        let (auth, chosen) = self.auth(&base_url).unzip();
        if let Some(auth) = auth {
            connector.insert("auth".into(), auth);
        }
        let (endpoints, test) = self.endpoints(chosen.as_ref());
        connector.insert("endpoints".into(), Value::Object(endpoints));
        match test {
            Some(endpoint) => {
                let mut t = Map::new();
                t.insert("endpoint".into(), Value::String(endpoint));
                connector.insert("test".into(), Value::Object(t));
            }
            None => self.warnings.push(
                "no GET endpoint without required parameters: no `test:`; add one by hand"
                    .to_string(),
            ),
        }
        Imported {
            connector: Value::Object(connector),
            warnings: self.warnings,
        }
    }

    fn warn(&mut self, message: String) {
        self.warnings.push(message);
    }

    // ------------------------------------------------------------ $ref

    /// Follows `$ref: '#/components/<kind>/<name>'` links to the object.
    fn follow<T>(
        &self,
        mut item: &'a ObjectOrReference<T>,
        kind: &str,
        lookup: impl Fn(&'a Components, &str) -> Option<&'a ObjectOrReference<T>>,
    ) -> Result<&'a T, String> {
        for _ in 0..MAX_REF_DEPTH {
            match item {
                ObjectOrReference::Object(t) => return Ok(t),
                ObjectOrReference::Ref { ref_path, .. } => {
                    let name = ref_name(ref_path, kind).ok_or_else(|| {
                        format!("`$ref: {ref_path}` is not under `#/components/{kind}/` of this document")
                    })?;
                    item = self
                        .spec
                        .components
                        .as_ref()
                        .and_then(|c| lookup(c, &name))
                        .ok_or_else(|| format!("`$ref: {ref_path}` points to nothing"))?;
                }
            }
        }
        Err(format!("`$ref`s more than {MAX_REF_DEPTH} deep (a cycle?)"))
    }

    /// The schema object behind `$ref`s; `None` for boolean schemas and
    /// references that lead nowhere.
    fn schema(&self, mut schema: &'a Schema) -> Option<&'a ObjectSchema> {
        for _ in 0..MAX_REF_DEPTH {
            match schema {
                Schema::Boolean(_) => return None,
                Schema::Object(o) => match o.as_ref() {
                    ObjectOrReference::Object(s) => return Some(s),
                    ObjectOrReference::Ref { ref_path, .. } => {
                        let name = ref_name(ref_path, "schemas")?;
                        schema = self.spec.components.as_ref()?.schemas.get(&name)?;
                    }
                },
            }
        }
        None
    }

    // ------------------------------------------------------------ base_url

    fn base_url(&mut self) -> String {
        let servers = &self.spec.servers;
        let Some(first) = servers.first() else {
            self.warn(format!(
                "the document lists no `servers`: base_url is `/`; set it with {} or in the chain",
                self.env_var()
            ));
            return "/".to_string();
        };
        let mut url = first.url.trim().to_string();
        for (var, def) in first.variables.iter() {
            url = url.replace(&format!("{{{var}}}"), &def.default);
        }
        if url.contains('{') {
            self.warn(format!(
                "base_url `{url}` has a server variable with no default: edit it"
            ));
        }
        if servers.len() > 1 {
            let others: Vec<&str> = servers[1..].iter().map(|s| s.url.as_str()).collect();
            self.warn(format!(
                "the document lists {} servers: base_url is the first; the others are {}",
                servers.len(),
                others.join(", ")
            ));
        }
        let trimmed = url.trim_end_matches('/');
        let url = if trimmed.is_empty() { "/" } else { trimmed }.to_string();
        if !is_absolute(&url) {
            self.warn(format!(
                "base_url is relative ({url}): set it with {} or in the chain",
                self.env_var()
            ));
        }
        url
    }

    fn env_var(&self) -> String {
        format!(
            "PYTOPUS_{}_BASE_URL",
            self.name.to_ascii_uppercase().replace('-', "_")
        )
    }

    // ------------------------------------------------------------ auth

    /// Every operation, in document order: `(path, METHOD, operation)`.
    fn operations(&self) -> Vec<(&'a str, String, &'a Operation)> {
        let mut ops = Vec::new();
        for (path, item) in self.spec.paths.iter().flatten() {
            for (method, op) in item.methods() {
                ops.push((path.as_str(), method.as_str().to_string(), op));
            }
        }
        ops
    }

    /// The connector's `auth:` from the security scheme the document uses
    /// first (global `security`, then operations', then declared order),
    /// skipping schemes a CLI cannot use.
    fn auth(&mut self, base_url: &str) -> Option<(Value, ChosenAuth)> {
        let spec = self.spec;
        let ops = self.operations();
        // Scheme names in order of use; `true` = named by a requirement.
        let mut order: Vec<(&'a str, bool)> = Vec::new();
        let push = |name: &'a str, used: bool, order: &mut Vec<(&'a str, bool)>| {
            if !order.iter().any(|(n, _)| *n == name) {
                order.push((name, used));
            }
        };
        let global = spec.security.iter();
        let per_op = ops.iter().flat_map(|(_, _, op)| op.security.iter());
        let all_requirements: Vec<_> = global.chain(per_op).collect();
        for req in &all_requirements {
            for name in req.0.keys() {
                push(name.as_str(), true, &mut order);
            }
        }
        let schemes = spec.components.as_ref().map(|c| &c.security_schemes);
        for name in schemes.into_iter().flat_map(|s| s.keys()) {
            push(name.as_str(), false, &mut order);
        }
        if order.is_empty() {
            return None;
        }

        let mut skipped: Vec<String> = Vec::new();
        let mut chosen: Option<(usize, Value, ChosenAuth)> = None;
        for (i, (name, used)) in order.iter().enumerate() {
            let Some(item) = schemes.and_then(|s| s.get(*name)) else {
                self.warn(format!(
                    "`security` names `{name}`, which `components.securitySchemes` does not define"
                ));
                continue;
            };
            let scheme =
                match self.follow(item, "securitySchemes", |c, n| c.security_schemes.get(n)) {
                    Ok(s) => s,
                    Err(e) => {
                        skipped.push(format!("`{name}`: {e}"));
                        continue;
                    }
                };
            // Scopes the requirements ask of this scheme, in order.
            let mut scopes: Vec<&str> = Vec::new();
            for req in &all_requirements {
                for scope in req.0.get(*name).into_iter().flatten() {
                    if !scopes.contains(&scope.as_str()) {
                        scopes.push(scope);
                    }
                }
            }
            match self.map_scheme(name, scheme, &scopes, base_url) {
                Ok((auth, chosen_auth)) => {
                    if !used {
                        self.warn(format!(
                            "no `security` requirement names a scheme this importer can use: \
                             `auth` uses `{name}`, declared in `components.securitySchemes`"
                        ));
                    }
                    chosen = Some((i, auth, chosen_auth));
                    break;
                }
                Err(reason) => skipped.push(format!("`{name}` ({reason})")),
            }
        }

        let Some((index, auth, chosen_auth)) = chosen else {
            for s in skipped {
                self.warn(format!("security scheme {s} cannot be used by pytopus"));
            }
            self.warn(
                "no security scheme could be made into `auth:`: the connector has none; \
                 add one by hand"
                    .to_string(),
            );
            return None;
        };
        let chosen_name = chosen_auth.name.clone();
        for s in skipped {
            self.warn(format!(
                "security scheme {s} cannot be used by pytopus: `auth` uses `{chosen_name}` instead"
            ));
        }
        for (name, used) in &order[index + 1..] {
            if *used {
                self.warn(format!(
                    "security scheme `{name}` is not imported (a connector has one `auth`): \
                     endpoints that need it need `auth:` in their step"
                ));
            }
        }
        if all_requirements
            .iter()
            .any(|r| r.0.len() > 1 && r.0.contains_key(&chosen_name))
        {
            self.warn(format!(
                "a `security` requirement needs `{chosen_name}` together with other schemes; \
                 only `{chosen_name}` is in `auth`"
            ));
        }
        Some((auth, chosen_auth))
    }

    /// One security scheme as an `auth:` block, or why it cannot be one.
    fn map_scheme(
        &mut self,
        scheme_name: &str,
        scheme: &'a SecurityScheme,
        scopes: &[&str],
        base_url: &str,
    ) -> Result<(Value, ChosenAuth), String> {
        let name = self.name.clone();
        let mut auth = Map::new();
        let mut put = |k: &str, v: Value| {
            auth.insert(k.to_string(), v);
        };
        let mut api_key = None;
        match scheme {
            SecurityScheme::ApiKey {
                name: key_name,
                location,
                ..
            } => {
                let location = location.to_ascii_lowercase();
                if !matches!(location.as_str(), "header" | "query" | "cookie") {
                    return Err(format!("an API key in `{location}`"));
                }
                let slot = match location.as_str() {
                    "header" => ParameterIn::Header,
                    "query" => ParameterIn::Query,
                    _ => ParameterIn::Cookie,
                };
                api_key = Some((slot, key_name.clone()));
                put("type", "api_key".into());
                put("in", location.into());
                put("name", key_name.as_str().into());
                put("key", secret(&format!("{name}_key")));
            }
            SecurityScheme::Http {
                scheme: http_scheme,
                ..
            } => match http_scheme.to_ascii_lowercase().as_str() {
                "basic" => {
                    put("type", "basic".into());
                    put("username", secret(&format!("{name}_username")));
                    put("password", secret(&format!("{name}_password")));
                }
                "bearer" => {
                    put("type", "bearer".into());
                    put("token", secret(&format!("{name}_token")));
                }
                other => return Err(format!("HTTP `{other}` authentication")),
            },
            SecurityScheme::OAuth2 { flows, .. } => {
                let mut offered = Vec::new();
                if flows.client_credentials.is_some() {
                    offered.push("clientCredentials");
                }
                if flows.authorization_code.is_some() {
                    offered.push("authorizationCode");
                }
                if flows.password.is_some() {
                    offered.push("password");
                }
                let scope_of = |declared: &oas3::Map<String, String>| -> Option<String> {
                    let list: Vec<&str> = if scopes.is_empty() {
                        declared.keys().map(String::as_str).collect()
                    } else {
                        scopes.to_vec()
                    };
                    (!list.is_empty()).then(|| list.join(" "))
                };
                put("type", "oauth2".into());
                if let Some(flow) = &flows.client_credentials {
                    put("grant", "client_credentials".into());
                    let url = self.flow_url(flow.token_url.as_str(), base_url, "tokenUrl");
                    put("token_url", url.into());
                    put("client_id", secret(&format!("{name}_client_id")));
                    put("client_secret", secret(&format!("{name}_client_secret")));
                    if let Some(s) = scope_of(&flow.scopes) {
                        put("scope", s.into());
                    }
                } else if let Some(flow) = &flows.authorization_code {
                    put("grant", "authorization_code".into());
                    let url = self.flow_url(flow.token_url.as_str(), base_url, "tokenUrl");
                    put("token_url", url.into());
                    put("client_id", secret(&format!("{name}_client_id")));
                    if let Some(s) = scope_of(&flow.scopes) {
                        put("scope", s.into());
                    }
                    put("refresh_token", secret(&name));
                    let url = self.flow_url(
                        flow.authorization_url.as_str(),
                        base_url,
                        "authorizationUrl",
                    );
                    put("authorize_url", url.into());
                    self.warn(format!(
                        "auth: run `pytopus auth login {name}` once to store the refresh token; \
                         add `client_secret` if your OAuth app has one"
                    ));
                } else if let Some(flow) = &flows.password {
                    put("grant", "password".into());
                    let url = self.flow_url(flow.token_url.as_str(), base_url, "tokenUrl");
                    put("token_url", url.into());
                    put("client_id", secret(&format!("{name}_client_id")));
                    if let Some(s) = scope_of(&flow.scopes) {
                        put("scope", s.into());
                    }
                    put("username", secret(&format!("{name}_username")));
                    put("password", secret(&format!("{name}_password")));
                    self.warn("auth: add `client_secret` if your OAuth app has one".to_string());
                } else if flows.implicit.is_some() {
                    return Err(
                        "OAuth2 implicit flow, which hands the token to a browser page, \
                         not to a command-line client"
                            .to_string(),
                    );
                } else {
                    return Err("OAuth2 without flows".to_string());
                }
                if offered.len() > 1 {
                    self.warn(format!(
                        "security scheme `{scheme_name}` offers the OAuth2 flows {}: `auth` uses the first",
                        offered.join(", ")
                    ));
                }
            }
            SecurityScheme::OpenIdConnect {
                open_id_connect_url,
                ..
            } => {
                return Err(format!(
                    "OpenID Connect: look up the token endpoint in {open_id_connect_url} \
                     and write an `oauth2` auth by hand"
                ));
            }
            SecurityScheme::MutualTls { .. } => {
                return Err(
                    "mutual TLS: give the client certificate with `tls:` in the chain".to_string(),
                );
            }
        }
        Ok((
            Value::Object(auth),
            ChosenAuth {
                name: scheme_name.to_string(),
                api_key,
            },
        ))
    }

    /// A flow URL as written: relative ones (held under [`RELATIVE_BASE`])
    /// resolved against an absolute base_url, or kept with a warning.
    fn flow_url(&mut self, url: &str, base_url: &str, field: &str) -> String {
        let Some(relative) = url.strip_prefix(RELATIVE_BASE) else {
            return url.to_string();
        };
        if is_absolute(base_url) {
            return join_url(base_url, relative);
        }
        self.warn(format!(
            "auth: the OAuth2 `{field}` is relative ({relative}): make it a full URL"
        ));
        relative.to_string()
    }

    // ------------------------------------------------------------ endpoints

    /// The endpoints, and the name of the first GET one that needs no
    /// parameters (for `test:`).
    fn endpoints(&mut self, auth: Option<&ChosenAuth>) -> (Map<String, Value>, Option<String>) {
        let mut endpoints = Map::new();
        let mut taken = HashSet::new();
        let mut test = None;
        for (path, item) in self.spec.paths.iter().flatten() {
            if let Some(r) = &item.reference {
                self.warn(format!(
                    "path `{path}` is a `$ref` ({r}): its operations are not imported"
                ));
                continue;
            }
            for (method, op) in item.methods() {
                let method = method.as_str().to_string();
                let derived = snake_case(&format!("{} {path}", method.to_ascii_lowercase()));
                let base = op
                    .operation_id
                    .as_deref()
                    .map(snake_case)
                    .filter(|s| !s.is_empty())
                    .unwrap_or(derived);
                let name = unique(&base, &mut taken);
                if name != base {
                    self.warn(format!(
                        "{method} {path}: the name `{base}` is taken: the endpoint is `{name}`"
                    ));
                }
                if !item.servers.is_empty() || !op.servers.is_empty() {
                    self.warn(format!(
                        "{name}: the document gives it its own server; the connector's base_url is used"
                    ));
                }
                let (endpoint, required) =
                    self.endpoint(&name, &method, path, &item.parameters, op, auth);
                if test.is_none() && method == "GET" && required.count == 0 {
                    test = Some(name.clone());
                }
                endpoints.insert(name, Value::Object(endpoint));
            }
        }
        (endpoints, test)
    }

    fn endpoint(
        &mut self,
        name: &str,
        method: &str,
        path: &str,
        path_params: &'a [ObjectOrReference<Parameter>],
        op: &'a Operation,
        auth: Option<&ChosenAuth>,
    ) -> (Map<String, Value>, Required) {
        let mut required = Required {
            count: path.matches('{').count(),
        };
        let params = self.parameters(name, path_params, &op.parameters);

        let mut query = Map::new();
        let mut required_query = Vec::new();
        let mut headers = Map::new();
        for p in params {
            let is_key = auth
                .and_then(|a| a.api_key.as_ref())
                .is_some_and(|(at, key)| {
                    *at == p.location
                        && if p.location == ParameterIn::Header {
                            key.eq_ignore_ascii_case(&p.name)
                        } else {
                            *key == p.name
                        }
                });
            if is_key {
                // The API key itself: `auth` sends it.
                continue;
            }
            match p.location {
                ParameterIn::Path => {}
                ParameterIn::Query => {
                    let schema = p.schema.as_ref().and_then(|s| self.schema(s));
                    let default = schema.and_then(|s| s.default.clone());
                    if p.required == Some(true) && default.is_none() {
                        required_query.push(p.name.as_str());
                        required.count += 1;
                    }
                    if let Some(s) = schema {
                        self.query_style_warning(name, p, s);
                    }
                    query.insert(p.name.clone(), default.map_or(Value::Null, literal));
                }
                ParameterIn::Header => {
                    let lower = p.name.to_ascii_lowercase();
                    // OpenAPI: these three are ignored as parameters.
                    if matches!(lower.as_str(), "accept" | "content-type" | "authorization") {
                        continue;
                    }
                    let simple = p
                        .schema
                        .as_ref()
                        .and_then(|s| self.schema(s))
                        .and_then(|s| s.schema_type.as_ref())
                        .is_none_or(|t| !t.contains(SchemaType::Object) && !t.contains(SchemaType::Array));
                    if p.required == Some(true) && simple {
                        let ident = param_ident(&p.name);
                        headers.insert(p.name.clone(), template(&format!("params.{ident}")));
                        required.count += 1;
                    } else {
                        let what = if simple { "optional" } else { "structured" };
                        self.warn(format!(
                            "{name}: {what} header parameter `{}` not imported; \
                             give it under `headers:` in the step",
                            p.name
                        ));
                    }
                }
                ParameterIn::Cookie => self.warn(format!(
                    "{name}: cookie parameter `{}` not imported; give it as a `Cookie` header in the step",
                    p.name
                )),
            }
        }

        let body = match &op.request_body {
            Some(rb) => self.body(name, rb, &mut required),
            None => None,
        };

        let mut description = op
            .summary
            .as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_string)
            .or_else(|| op.description.as_deref().and_then(short_description));
        if op.deprecated == Some(true) {
            description = Some(match description {
                Some(d) => format!("{d} (deprecated)"),
                None => "Deprecated".to_string(),
            });
        }
        if !required_query.is_empty() {
            let list = required_query.join(", ");
            description = Some(match description {
                Some(d) => format!("{d} (required query parameters: {list})"),
                None => format!("Required query parameters: {list}"),
            });
        }

        let mut endpoint = Map::new();
        if let Some(d) = description {
            endpoint.insert("description".into(), Value::String(d));
        }
        endpoint.insert("method".into(), Value::String(method.to_string()));
        endpoint.insert("path".into(), Value::String(path.to_string()));
        if !query.is_empty() {
            endpoint.insert("query".into(), Value::Object(query));
        }
        if !headers.is_empty() {
            endpoint.insert("headers".into(), Value::Object(headers));
        }
        if let Some(body) = body {
            endpoint.insert("body".into(), body);
        }
        (endpoint, required)
    }

    /// Path-level parameters, overridden by the operation's of the same name
    /// and location.
    fn parameters(
        &mut self,
        endpoint: &str,
        path_level: &'a [ObjectOrReference<Parameter>],
        op_level: &'a [ObjectOrReference<Parameter>],
    ) -> Vec<&'a Parameter> {
        let mut out: Vec<&'a Parameter> = Vec::new();
        for item in path_level.iter().chain(op_level) {
            let p = match self.follow(item, "parameters", |c, n| c.parameters.get(n)) {
                Ok(p) => p,
                Err(e) => {
                    self.warn(format!("{endpoint}: a parameter is skipped: {e}"));
                    continue;
                }
            };
            match out
                .iter_mut()
                .find(|q| q.name == p.name && q.location == p.location)
            {
                Some(slot) => *slot = p,
                None => out.push(p),
            }
        }
        out
    }

    fn query_style_warning(&mut self, endpoint: &str, p: &Parameter, schema: &ObjectSchema) {
        let Some(types) = &schema.schema_type else {
            return;
        };
        if types.contains(SchemaType::Object) || p.style == Some(ParameterStyle::DeepObject) {
            self.warn(format!(
                "{endpoint}: query parameter `{}` is an object: pytopus sends it as one value; \
                 give its fields as query entries in the step if the API wants them apart",
                p.name
            ));
        } else if types.contains(SchemaType::Array) && p.explode == Some(false) {
            self.warn(format!(
                "{endpoint}: query parameter `{}` wants its values comma-separated \
                 (explode: false): pass them joined, e.g. \"a,b\"",
                p.name
            ));
        }
    }

    /// The `body:` template of a JSON request body: one parameter per
    /// top-level property of an object schema, else one `body` parameter.
    fn body(
        &mut self,
        endpoint: &str,
        rb: &'a ObjectOrReference<oas3::spec::RequestBody>,
        required: &mut Required,
    ) -> Option<Value> {
        let rb = match self.follow(rb, "requestBodies", |c, n| c.request_bodies.get(n)) {
            Ok(rb) => rb,
            Err(e) => {
                self.warn(format!("{endpoint}: the request body is not imported: {e}"));
                return None;
            }
        };
        let Some((_, media)) = rb.content.iter().find(|(ct, _)| is_json(ct)) else {
            let types: Vec<&str> = rb.content.keys().map(String::as_str).collect();
            if !types.is_empty() {
                self.warn(format!(
                    "{endpoint}: the request body ({}) is not JSON: not imported; \
                     give the step a `body:`, `form:` or `multipart:`",
                    types.join(", ")
                ));
            }
            return None;
        };
        // Not an object with properties: the whole body is one parameter.
        let whole = |required: &mut Required| {
            required.count += 1;
            Some(template("params.body"))
        };
        let Some(schema) = media.schema.as_ref().and_then(|s| self.schema(s)) else {
            return whole(required);
        };
        let mut props: Vec<(&'a str, &'a Schema)> = Vec::new();
        let mut needed: HashSet<&'a str> = HashSet::new();
        self.properties(schema, &mut props, &mut needed, 0);
        if props.is_empty() {
            return whole(required);
        }
        let mut body = Map::new();
        let mut idents = HashSet::new();
        for (key, prop) in props {
            if body.contains_key(key) {
                continue;
            }
            if self.schema(prop).and_then(|s| s.read_only) == Some(true) {
                continue;
            }
            let ident = unique(&param_ident(key), &mut idents);
            let value = if needed.contains(key) {
                required.count += 1;
                template(&format!("params.{ident}"))
            } else {
                let default = self
                    .schema(prop)
                    .and_then(|s| s.default.as_ref())
                    .and_then(jinja_literal)
                    .unwrap_or_else(|| "none".to_string());
                template(&format!("params.{ident} | default({default})"))
            };
            body.insert(key.to_string(), value);
        }
        Some(Value::Object(body))
    }

    /// Top-level properties of an object schema, its `allOf` parts included.
    fn properties(
        &self,
        schema: &'a ObjectSchema,
        props: &mut Vec<(&'a str, &'a Schema)>,
        needed: &mut HashSet<&'a str>,
        depth: usize,
    ) {
        if depth > 4 {
            return;
        }
        props.extend(schema.properties.iter().map(|(k, v)| (k.as_str(), v)));
        needed.extend(schema.required.iter().map(String::as_str));
        for part in &schema.all_of {
            if let Some(part) = self.schema(part) {
                self.properties(part, props, needed, depth + 1);
            }
        }
    }
}

/// A scalar schema default as a template literal: `3`, `true`, `'open'`.
fn jinja_literal(v: &Value) -> Option<String> {
    match v {
        Value::Bool(b) => Some(b.to_string()),
        Value::Number(n) => Some(n.to_string()),
        Value::String(s) => Some(format!(
            "'{}'",
            s.replace('\\', "\\\\").replace('\'', "\\'")
        )),
        _ => None,
    }
}

/// An operation's `description` made short: its first paragraph on one
/// line, cut to its first sentence when long.
fn short_description(text: &str) -> Option<String> {
    const LONG: usize = 160;
    let paragraph: Vec<&str> = text
        .lines()
        .map(str::trim)
        .skip_while(|l| l.is_empty())
        .take_while(|l| !l.is_empty())
        .collect();
    let mut line = paragraph.join(" ");
    if line.is_empty() {
        return None;
    }
    if line.chars().count() > LONG {
        if let Some(end) = line.find(". ").filter(|i| *i < LONG) {
            line.truncate(end + 1);
        } else {
            let cut: String = line.chars().take(LONG).collect();
            let cut = cut.rfind(' ').map_or(cut.as_str(), |i| &cut[..i]);
            line = format!("{cut}…");
        }
    }
    Some(line)
}

/// `application/json`, `application/problem+json`, `application/json; charset=utf-8`.
fn is_json(content_type: &str) -> bool {
    let essence = content_type
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    essence == "application/json" || essence.ends_with("+json") || essence == "text/json"
}

/// `#/components/<kind>/<name>` → `<name>` (JSON Pointer escapes undone).
fn ref_name(path: &str, kind: &str) -> Option<String> {
    let name = path
        .strip_prefix("#/components/")?
        .strip_prefix(kind)?
        .strip_prefix('/')?;
    Some(name.replace("~1", "/").replace("~0", "~"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const PETSTORE: &str = include_str!("../../tests/fixtures/openapi/petstore.yaml");
    const TASKS_31: &str = include_str!("../../tests/fixtures/openapi/tasks-3.1.yaml");
    const SWAGGER_2: &str = include_str!("../../tests/fixtures/openapi/swagger-2.0.yaml");

    fn ok(text: &str) -> Imported {
        import(text, None).unwrap_or_else(|e| panic!("import failed: {e}"))
    }

    fn has_warning(imported: &Imported, needle: &str) -> bool {
        imported.warnings.iter().any(|w| w.contains(needle))
    }

    /// A small 3.0 document around one security scheme.
    fn with_scheme(scheme: Value, servers: &str) -> String {
        let doc = json!({
            "openapi": "3.0.3",
            "info": {"title": "Acme", "version": "1"},
            "servers": [{"url": servers}],
            "security": [{"main": ["read", "write"]}],
            "paths": {"/things": {"get": {"operationId": "listThings",
                "responses": {"200": {"description": "OK"}}}}},
            "components": {"securitySchemes": {"main": scheme}},
        });
        serde_json::to_string_pretty(&doc).unwrap()
    }

    #[test]
    fn petstore_keys_in_the_documented_order() {
        let c = ok(PETSTORE).connector;
        let keys: Vec<&str> = c.as_object().unwrap().keys().map(String::as_str).collect();
        assert_eq!(
            keys,
            [
                "name",
                "description",
                "docs",
                "base_url",
                "auth",
                "endpoints",
                "test"
            ]
        );
        assert_eq!(c["name"], "swagger_petstore_openapi_3_0");
        assert_eq!(c["description"], "Swagger Petstore - OpenAPI 3.0");
        assert_eq!(c["docs"], "https://swagger.io");
        assert_eq!(c["base_url"], "/api/v3");
    }

    #[test]
    fn petstore_endpoints() {
        let imported = ok(PETSTORE);
        let endpoints = imported.connector["endpoints"].as_object().unwrap();
        assert_eq!(endpoints.len(), 19);
        let names: Vec<&str> = endpoints.keys().map(String::as_str).collect();
        assert_eq!(
            &names[..5],
            [
                "update_pet",
                "add_pet",
                "find_pets_by_status",
                "find_pets_by_tags",
                "get_pet_by_id"
            ]
        );
        assert_eq!(
            endpoints["get_pet_by_id"],
            json!({"description": "Find pet by ID.", "method": "GET", "path": "/pet/{petId}"})
        );
        assert_eq!(
            endpoints["find_pets_by_status"],
            json!({
                "description": "Finds Pets by status.",
                "method": "GET",
                "path": "/pet/findByStatus",
                "query": {"status": "available"},
            })
        );
        assert_eq!(
            endpoints["find_pets_by_tags"]["query"],
            json!({"tags": null})
        );
        assert_eq!(
            endpoints["update_pet_with_form"]["query"],
            json!({"name": null, "status": null})
        );
        assert_eq!(endpoints["delete_pet"]["method"], "DELETE");
        assert_eq!(endpoints["login_user"]["path"], "/user/login");
        // The body of addPet, from `$ref: '#/components/schemas/Pet'`.
        assert_eq!(
            endpoints["add_pet"],
            json!({
                "description": "Add a new pet to the store.",
                "method": "POST",
                "path": "/pet",
                "body": {
                    "id": "{{ params.id | default(none) }}",
                    "name": "{{ params.name }}",
                    "category": "{{ params.category | default(none) }}",
                    "photoUrls": "{{ params.photoUrls }}",
                    "tags": "{{ params.tags | default(none) }}",
                    "status": "{{ params.status | default(none) }}",
                },
            })
        );
        // An array body is one parameter.
        assert_eq!(
            endpoints["create_users_with_list_input"]["body"],
            "{{ params.body }}"
        );
        // application/octet-stream only: no body, a warning.
        assert!(endpoints["upload_file"].get("body").is_none());
        assert!(has_warning(
            &imported,
            "upload_file: the request body (application/octet-stream) is not JSON"
        ));
        // deletePet's `api_key` header is the auth's key: no warning for it.
        assert!(!has_warning(&imported, "`api_key` not imported"));
        assert_eq!(
            imported.connector["test"],
            json!({"endpoint": "find_pets_by_status"})
        );
    }

    #[test]
    fn petstore_auth_falls_back_from_implicit_oauth2_to_the_api_key() {
        let imported = import(PETSTORE, Some("petstore")).unwrap();
        assert_eq!(
            imported.connector["auth"],
            json!({
                "type": "api_key",
                "in": "header",
                "name": "api_key",
                "key": "{{ secret('petstore_key') }}",
            })
        );
        assert!(has_warning(
            &imported,
            "security scheme `petstore_auth` (OAuth2 implicit flow"
        ));
        assert!(has_warning(&imported, "`auth` uses `api_key` instead"));
        assert!(imported.warnings.contains(
            &"base_url is relative (/api/v3): set it with PYTOPUS_PETSTORE_BASE_URL or in the chain"
                .to_string()
        ));
    }

    #[test]
    fn names() {
        assert_eq!(
            ok(PETSTORE).connector["name"],
            "swagger_petstore_openapi_3_0"
        );
        let hinted = import(PETSTORE, Some("pets")).unwrap();
        assert_eq!(hinted.connector["name"], "pets");
        assert!(hinted.warnings.iter().all(|w| !w.contains("the name")));
        let fixed = import(PETSTORE, Some("My Pets!")).unwrap();
        assert_eq!(fixed.connector["name"], "my_pets");
        assert!(has_warning(&fixed, "the name `My Pets!` is not [a-z0-9_-]"));
        assert_eq!(
            import(PETSTORE, Some("pet-store")).unwrap().connector["name"],
            "pet-store"
        );

        assert_eq!(slug("GitHub v3 REST API", false), "github_v3_rest_api");
        assert_eq!(slug("  --Stripe-- ", false), "stripe");
        assert_eq!(slug("123 Go", false), "api_123_go");
        assert_eq!(slug("日本語", false), "api");
        assert_eq!(slug(&"word ".repeat(20), false).len(), 39);

        assert_eq!(snake_case("getPetById"), "get_pet_by_id");
        assert_eq!(snake_case("getHTTPResponseCode"), "get_http_response_code");
        assert_eq!(snake_case("create-task"), "create_task");
        assert_eq!(snake_case("repos/list-for-org"), "repos_list_for_org");
        assert_eq!(snake_case("v2GetUser"), "v2_get_user");
        assert_eq!(snake_case("get /pets/{petId}"), "get_pets_pet_id");
        assert_eq!(snake_case("2fa.enable"), "op_2fa_enable");

        assert_eq!(param_ident("photoUrls"), "photoUrls");
        assert_eq!(param_ident("due-date"), "due_date");
        assert_eq!(param_ident("X-Request-ID"), "x_request_id");
        assert_eq!(param_ident("$top"), "top");
        assert_eq!(param_ident("1st"), "p_1st");
    }

    #[test]
    fn missing_operation_ids_and_collisions() {
        let imported = ok(TASKS_31);
        let endpoints = imported.connector["endpoints"].as_object().unwrap();
        // GET /tasks/{taskId} has no operationId; the DELETE's operationId
        // makes the same name.
        assert_eq!(endpoints["get_tasks_task_id"]["method"], "GET");
        assert_eq!(endpoints["get_tasks_task_id_2"]["method"], "DELETE");
        assert!(
            imported.warnings.contains(
                &"DELETE /tasks/{taskId}: the name `get_tasks_task_id` is taken: \
              the endpoint is `get_tasks_task_id_2`"
                    .to_string()
            )
        );
        assert_eq!(endpoints["create_task"]["path"], "/tasks");
    }

    #[test]
    fn openapi_3_1_document() {
        let imported = ok(TASKS_31);
        let c = &imported.connector;
        assert_eq!(c["name"], "tasks_api_v2");
        // Server variables filled in, trailing slash dropped.
        assert_eq!(c["base_url"], "https://eu.tasks.example.com/v2");
        assert!(has_warning(
            &imported,
            "the others are https://sandbox.tasks.example.com/v2"
        ));
        assert_eq!(
            c["auth"],
            json!({"type": "bearer", "token": "{{ secret('tasks_api_v2_token') }}"})
        );
        // basicAuth is declared but used by nothing: no warning about it.
        assert!(!has_warning(&imported, "basicAuth"));
        let e = &c["endpoints"];
        assert_eq!(
            e["list_tasks"],
            json!({
                "description": "List tasks (required query parameters: due_before)",
                "method": "GET",
                "path": "/tasks",
                "query": {"limit": 20, "status": null, "due_before": null},
            })
        );
        assert_eq!(
            e["create_task"]["headers"],
            json!({"Idempotency-Key": "{{ params.idempotency_key }}"})
        );
        assert!(has_warning(
            &imported,
            "create_task: optional header parameter `X-Trace` not imported"
        ));
        // `$ref` request body; `due-date` is not an identifier; a default.
        assert_eq!(
            e["create_task"]["body"],
            json!({
                "title": "{{ params.title }}",
                "due-date": "{{ params.due_date | default(none) }}",
                "priority": "{{ params.priority | default(3) }}",
            })
        );
        // allOf parts are merged.
        assert_eq!(e["replace_task"]["body"]["done"], "{{ params.done }}");
        assert_eq!(e["replace_task"]["body"]["title"], "{{ params.title }}");
        assert_eq!(e["set_tags"]["body"], "{{ params.body }}");
        assert_eq!(
            e["get_tasks_task_id_2"]["description"],
            "Deletes the task. Its operationId collides with the name made for the GET above, on purpose."
        );
        assert!(has_warning(&imported, "1 webhook(s) not imported"));
        // list_tasks needs due_before, get_tasks_task_id needs taskId.
        assert_eq!(c["test"], json!({"endpoint": "health"}));
    }

    #[test]
    fn swagger_2_is_refused() {
        let err = import(SWAGGER_2, None).unwrap_err();
        assert!(matches!(err, ImportError::Swagger2));
        assert_eq!(
            err.to_string(),
            "Swagger 2.0 is not supported; convert it to OpenAPI 3 first"
        );
        let json = r#"{"swagger": "2.0", "info": {"title": "x", "version": "1"}, "paths": {}}"#;
        assert!(matches!(import(json, None), Err(ImportError::Swagger2)));
        // A YAML flow mapping starts with `{` too.
        let flow = "{swagger: '2.0', info: {title: x, version: '1'}, paths: {}}";
        assert!(matches!(import(flow, None), Err(ImportError::Swagger2)));
    }

    #[test]
    fn invalid_yaml_names_line_and_column() {
        let err = import("openapi: 3.0.0\ninfo:\n  title: x\n version: 1\n", None).unwrap_err();
        let ImportError::Syntax {
            format,
            line,
            column,
            ..
        } = &err
        else {
            panic!("not a syntax error: {err}");
        };
        assert_eq!(*format, "YAML");
        assert_eq!(*line, Some(4));
        assert!(column.is_some());
        let text = err.to_string();
        assert!(
            text.starts_with("invalid YAML at line 4, column "),
            "{text}"
        );
        assert!(!text.contains('\n'), "{text}");
    }

    #[test]
    fn invalid_json_names_line_and_column() {
        let err = import("{\n  \"openapi\": \"3.1.0\",\n  \"info\": }\n", None).unwrap_err();
        assert_eq!(
            err.to_string(),
            "invalid JSON at line 3, column 11: expected value"
        );
    }

    #[test]
    fn json_documents_are_read() {
        let yaml: Value = serde_saphyr::from_str(PETSTORE).unwrap();
        let json = serde_json::to_string(&yaml).unwrap();
        assert_eq!(ok(&json).connector, ok(PETSTORE).connector);
    }

    #[test]
    fn not_openapi_and_other_versions() {
        assert!(matches!(
            import("title: hello\n", None),
            Err(ImportError::NotOpenApi)
        ));
        assert!(matches!(
            import("- a\n- b\n", None),
            Err(ImportError::NotOpenApi)
        ));
        assert!(matches!(import("", None), Err(ImportError::NotOpenApi)));
        let v4 = "openapi: 4.0.0\ninfo: {title: x, version: '1'}\npaths: {}\n";
        let err = import(v4, None).unwrap_err();
        assert_eq!(
            err.to_string(),
            "OpenAPI 4.0.0 is not supported; only OpenAPI 3.0 and 3.1 are"
        );
        let v32 = "openapi: 3.2.0\ninfo: {title: x, version: 1.0}\n\
                   paths: {/a: {get: {responses: {200: {description: ok}}}}}\n";
        let imported = ok(v32);
        assert_eq!(imported.connector["endpoints"]["get_a"]["path"], "/a");
        assert!(has_warning(&imported, "it is read as OpenAPI 3.1"));
        // Unquoted `openapi: 3.1` is a number in YAML.
        let num = "openapi: 3.1\ninfo: {title: x, version: 2}\npaths: {/a: {get: {}}}\n";
        assert_eq!(ok(num).connector["endpoints"]["get_a"]["method"], "GET");
    }

    #[test]
    fn no_operations_and_bad_shapes() {
        let empty = "openapi: 3.1.0\ninfo: {title: x, version: '1'}\npaths: {}\n";
        assert!(matches!(
            import(empty, None),
            Err(ImportError::NoOperations)
        ));
        let bad = "openapi: 3.0.0\ninfo: {title: x, version: '1'}\n\
                   paths: {/a: {get: {parameters: [{name: q, in: body}]}}}\n";
        let err = import(bad, None).unwrap_err();
        let ImportError::Invalid { path, .. } = &err else {
            panic!("not Invalid: {err}");
        };
        assert!(path.starts_with("paths./a.get.parameters"), "{path}");
        assert!(
            err.to_string()
                .starts_with("not a valid OpenAPI document: at `paths./a.get")
        );
    }

    #[test]
    fn openapi_3_0_forms_are_accepted() {
        // Boolean exclusiveMinimum (3.0) in a schema, a relative tokenUrl,
        // and client credentials.
        let doc = r#"
openapi: 3.0.3
info: {title: Acme Billing, version: 1.0}
servers:
  - url: https://api.acme.test/billing/
security:
  - cc: [invoices:read]
paths:
  /invoices:
    get:
      operationId: listInvoices
      parameters:
        - name: min_total
          in: query
          schema: {type: number, minimum: 0, exclusiveMinimum: true, nullable: true}
        - name: filter
          in: query
          schema: {type: object}
          style: deepObject
        - name: ids
          in: query
          explode: false
          schema: {type: array, items: {type: string}}
        - name: note
          in: query
          schema: {type: string, default: "{{ not a template }}"}
    post:
      operationId: createInvoice
      requestBody:
        content:
          application/json; charset=utf-8:
            schema:
              type: object
              properties:
                id: {type: string, readOnly: true}
                total: {type: number, required: true}
                currency: {type: string, default: EUR}
components:
  securitySchemes:
    cc:
      type: oauth2
      flows:
        clientCredentials:
          tokenUrl: /oauth/token
          scopes: {invoices:read: read, invoices:write: write}
        authorizationCode:
          authorizationUrl: /oauth/authorize
          tokenUrl: /oauth/token
          scopes: {}
"#;
        let imported = import(doc, Some("acme")).unwrap();
        assert_eq!(
            imported.connector["auth"],
            json!({
                "type": "oauth2",
                "grant": "client_credentials",
                "token_url": "https://api.acme.test/oauth/token",
                "client_id": "{{ secret('acme_client_id') }}",
                "client_secret": "{{ secret('acme_client_secret') }}",
                "scope": "invoices:read",
            })
        );
        assert!(has_warning(
            &imported,
            "offers the OAuth2 flows clientCredentials, authorizationCode: `auth` uses the first"
        ));
        let e = &imported.connector["endpoints"]["list_invoices"];
        assert_eq!(e["query"]["min_total"], Value::Null);
        assert_eq!(
            e["query"]["note"],
            "{% raw %}{{ not a template }}{% endraw %}"
        );
        assert!(has_warning(
            &imported,
            "query parameter `filter` is an object"
        ));
        assert!(has_warning(
            &imported,
            "query parameter `ids` wants its values comma-separated"
        ));
        assert_eq!(
            imported.connector["base_url"],
            "https://api.acme.test/billing"
        );
        // readOnly left out; `required: true` on a property understood.
        assert_eq!(
            imported.connector["endpoints"]["create_invoice"]["body"],
            json!({
                "total": "{{ params.total }}",
                "currency": "{{ params.currency | default('EUR') }}",
            })
        );
    }

    #[test]
    fn a_query_api_key_is_not_also_a_parameter() {
        let doc = json!({
            "openapi": "3.0.0",
            "info": {"title": "Weather", "version": "1"},
            "servers": [{"url": "https://w.test/data/2.5"}],
            "security": [{"appid": []}],
            "paths": {"/weather": {"get": {"operationId": "current", "parameters": [
                {"name": "q", "in": "query", "required": true, "schema": {"type": "string"}},
                {"name": "appid", "in": "query", "required": true, "schema": {"type": "string"}},
            ]}}},
            "components": {"securitySchemes": {
                "appid": {"type": "apiKey", "in": "query", "name": "appid"}}},
        });
        let imported = ok(&doc.to_string());
        let c = &imported.connector;
        assert_eq!(c["endpoints"]["current"]["query"], json!({"q": null}));
        assert_eq!(
            c["endpoints"]["current"]["description"],
            "Required query parameters: q"
        );
        assert_eq!(c["auth"]["in"], "query");
        assert!(c.get("test").is_none());
        assert!(has_warning(
            &imported,
            "no GET endpoint without required parameters"
        ));
    }

    #[test]
    fn auth_schemes() {
        let auth_of = |scheme: Value, server: &str| {
            let imported = import(&with_scheme(scheme, server), None).unwrap();
            (imported.connector.get("auth").cloned(), imported.warnings)
        };
        let (auth, _) = auth_of(json!({"type": "http", "scheme": "Basic"}), "https://a.test");
        assert_eq!(
            auth.unwrap(),
            json!({
                "type": "basic",
                "username": "{{ secret('acme_username') }}",
                "password": "{{ secret('acme_password') }}",
            })
        );
        let (auth, _) = auth_of(
            json!({"type": "apiKey", "in": "query", "name": "apikey"}),
            "https://a.test",
        );
        assert_eq!(
            auth.unwrap(),
            json!({"type": "api_key", "in": "query", "name": "apikey",
                   "key": "{{ secret('acme_key') }}"})
        );
        let (auth, warnings) = auth_of(
            json!({"type": "oauth2", "flows": {"authorizationCode": {
                "authorizationUrl": "https://id.acme.test/authorize",
                "tokenUrl": "https://id.acme.test/token",
                "scopes": {"read": "", "write": "", "admin": ""}}}}),
            "https://a.test",
        );
        assert_eq!(
            auth.unwrap(),
            json!({
                "type": "oauth2",
                "grant": "authorization_code",
                "token_url": "https://id.acme.test/token",
                "client_id": "{{ secret('acme_client_id') }}",
                "scope": "read write",
                "refresh_token": "{{ secret('acme') }}",
                "authorize_url": "https://id.acme.test/authorize",
            })
        );
        assert!(
            warnings
                .iter()
                .any(|w| w.contains("pytopus auth login acme"))
        );
        let (auth, warnings) = auth_of(
            json!({"type": "oauth2", "flows": {"password": {
                "tokenUrl": "token", "scopes": {}}}}),
            "/v1",
        );
        let auth = auth.unwrap();
        assert_eq!(auth["grant"], "password");
        assert_eq!(auth["token_url"], "/token");
        assert_eq!(auth["username"], "{{ secret('acme_username') }}");
        assert!(
            warnings
                .iter()
                .any(|w| w.contains("`tokenUrl` is relative (/token)"))
        );
        let (auth, warnings) = auth_of(
            json!({"type": "openIdConnect",
                   "openIdConnectUrl": "https://id.acme.test/.well-known/openid-configuration"}),
            "https://a.test",
        );
        assert!(auth.is_none());
        assert!(warnings.iter().any(|w| w.contains("OpenID Connect")));
        assert!(
            warnings
                .iter()
                .any(|w| w.contains("the connector has none"))
        );
        let (auth, warnings) = auth_of(
            json!({"type": "http", "scheme": "digest"}),
            "https://a.test",
        );
        assert!(auth.is_none());
        assert!(
            warnings
                .iter()
                .any(|w| w.contains("HTTP `digest` authentication"))
        );
    }

    #[test]
    fn several_schemes_the_global_one_wins() {
        let doc = json!({
            "openapi": "3.1.0",
            "info": {"title": "Multi", "version": "1"},
            "servers": [{"url": "https://m.test"}],
            "security": [{"key": []}],
            "paths": {"/a": {"get": {"security": [{"basic": []}]}},
                      "/b": {"get": {"security": [{"key": [], "other": []}]}}},
            "components": {"securitySchemes": {
                "basic": {"type": "http", "scheme": "basic"},
                "key": {"type": "apiKey", "in": "header", "name": "X-Key"},
                "other": {"type": "apiKey", "in": "header", "name": "X-Other"},
            }},
        });
        let imported = ok(&doc.to_string());
        assert_eq!(imported.connector["auth"]["name"], "X-Key");
        assert!(has_warning(
            &imported,
            "security scheme `basic` is not imported"
        ));
        assert!(has_warning(
            &imported,
            "security scheme `other` is not imported"
        ));
        assert!(has_warning(
            &imported,
            "needs `key` together with other schemes"
        ));
    }

    #[test]
    fn yaml_output_reads_back() {
        for doc in [PETSTORE, TASKS_31] {
            let connector = ok(doc).connector;
            let yaml = to_yaml(&connector);
            let back: Value = serde_saphyr::from_str(&yaml).unwrap();
            assert_eq!(back, connector);
        }
        let tricky = json!({"name": "x", "base_url": "/", "endpoints": {"e": {"path": "/", "query": {
            "a": "true", "b": "1.0", "c": "null", "d": "", "e": "- x", "f": "a: b", "g": "#c",
            "h": "two\nlines", "i": "yes", "j": "0123", "k": "{{ params.k }}", "l": 1.5,
            "m": [1, "2"], "n": {}}}}});
        let back: Value = serde_saphyr::from_str(&to_yaml(&tricky)).unwrap();
        assert_eq!(back, tricky);
        let yaml = to_yaml(&ok(PETSTORE).connector);
        assert!(
            yaml.starts_with("name: swagger_petstore_openapi_3_0\n"),
            "{yaml}"
        );
        assert!(yaml.contains("\n  get_pet_by_id:\n    description: Find pet by ID.\n    method: GET\n    path: /pet/{petId}\n"), "{yaml}");
    }
}
