//! Templates (SPEC §2): every string in a step is a minijinja template,
//! compiled once at validation and rendered just before the step runs.
//!
//! A string that is exactly one `{{ expression }}` renders to the
//! expression's native value; any other string renders to text. Values that
//! came from responses or the environment are data and never rendered again:
//! only strings from the chain file are ever compiled.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, RwLock, RwLockReadGuard};

use minijinja::{Environment, Error, ErrorKind, UndefinedBehavior, Value as MjValue};
use serde_json::Value;

/// Names that templates may call as functions; never treated as variables.
pub const FUNCTIONS: &[&str] = &[
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

/// The shared template environment.
///
/// Text templates are compiled at validation (to check them and learn the
/// names they read) and then dropped: minijinja preallocates ~12 KB per
/// compiled template, which for a 10,000-step chain was most of its memory.
/// They are compiled again when first rendered and kept until
/// [`Templates::release`], which the engine calls as each step finishes, so
/// only the running steps' templates are alive (a `for_each` step compiles
/// its templates once for all its items).
pub struct Templates {
    env: RwLock<Environment<'static>>,
    next_id: usize,
    /// Where `secret("NAME")` looks; set by whoever runs the chain.
    secrets: SecretsSlot,
    /// Variables whose values are secrets (a sub-chain's `with:` values
    /// computed from one): templates that read them are secret too.
    secret_vars: HashSet<String>,
    /// Filters and tests looked up so far, and whether the environment has them.
    known_calls: HashMap<calls::Call, bool>,
}

type SecretsSlot = Arc<std::sync::RwLock<Option<crate::secret::Secrets>>>;

impl std::fmt::Debug for Templates {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Templates")
            .field("count", &self.next_id)
            .finish()
    }
}

impl Default for Templates {
    fn default() -> Self {
        Self::new()
    }
}

impl Templates {
    pub fn new() -> Self {
        let mut env = Environment::new();
        // Undefined names are errors, never empty strings (SPEC §2).
        env.set_undefined_behavior(UndefinedBehavior::Strict);
        // Keep debug info in release builds so errors name what was undefined.
        env.set_debug(true);
        if let Ok(syntax) = minijinja::syntax::SyntaxConfig::builder()
            .keep_trailing_newline(true)
            .build()
        {
            env.set_syntax(syntax);
        }
        minijinja_contrib::add_to_environment(&mut env);
        // Python's string and dict methods (`x.startswith('a')`, `d.items()`),
        // which people who know Jinja2 reach for.
        env.set_unknown_method_callback(minijinja_contrib::pycompat::unknown_method_callback);
        env.add_filter("b64encode", b64encode);
        env.add_filter("b64decode", b64decode);
        env.add_filter("jsonpath", jsonpath_filter);
        env.add_filter("fromjson", fromjson);
        env.add_filter("path_segment", path_segment);
        env.add_test("matching", matching);
        env.add_function("uuid", || uuid::Uuid::new_v4().to_string());
        let secrets: SecretsSlot = Arc::default();
        let source = Arc::clone(&secrets);
        env.add_function("secret", move |name: &str| -> Result<String, Error> {
            let guard = source
                .read()
                .map_err(|_| Error::new(ErrorKind::InvalidOperation, "secrets poisoned"))?;
            let Some(s) = guard.as_ref() else {
                return Err(Error::new(
                    ErrorKind::InvalidOperation,
                    "secrets are not available here",
                ));
            };
            s.get(name)
                .map(|v| v.expose().to_string())
                .map_err(|e| Error::new(ErrorKind::InvalidOperation, e.to_string()))
        });
        Templates {
            env: RwLock::new(env),
            next_id: 0,
            secrets,
            secret_vars: HashSet::new(),
            known_calls: HashMap::new(),
        }
    }

    /// Lets `secret("NAME")` read from `secrets` (values are redacted as read).
    pub fn set_secrets(&self, secrets: crate::secret::Secrets) {
        if let Ok(mut slot) = self.secrets.write() {
            *slot = Some(secrets);
        }
    }

    /// Compiles one chain value: strings become templates, containers recurse.
    pub fn compile(&mut self, value: &Value) -> Result<Tmpl, TemplateError> {
        Ok(match value {
            Value::String(s) => self.compile_str(s)?,
            Value::Array(items) => Tmpl::Array(
                items
                    .iter()
                    .map(|v| self.compile(v))
                    .collect::<Result<_, _>>()?,
            ),
            Value::Object(map) => {
                let mut entries = Vec::with_capacity(map.len());
                let mut any = false;
                for (k, v) in map {
                    let t = self.compile(v)?;
                    any |= !matches!(t, Tmpl::Literal(_));
                    entries.push((k.clone(), t));
                }
                if any {
                    Tmpl::Object(entries)
                } else {
                    Tmpl::Literal(Box::new(value.clone()))
                }
            }
            other => Tmpl::Literal(Box::new(other.clone())),
        })
    }

    /// Compiles one string.
    pub fn compile_str(&mut self, s: &str) -> Result<Tmpl, TemplateError> {
        self.compile_str_with(s, true)
    }

    /// Every filter and test `s` names exists: minijinja would only find
    /// out while rendering, after earlier steps were sent.
    fn check_calls(&mut self, s: &str) -> Result<(), TemplateError> {
        if !s.contains('|') && !s.contains(" is ") {
            return Ok(());
        }
        for call in calls::calls(s) {
            if self.has(&call) {
                continue;
            }
            let (what, name, names) = match &call {
                calls::Call::Filter(n) => ("filter", n, calls::FILTER_NAMES),
                calls::Call::Test(n) => ("test", n, calls::TEST_NAMES),
            };
            let message = format!("unknown {what} `{name}`");
            let known: Vec<&str> = names
                .iter()
                .copied()
                .filter(|c| {
                    let c = c.to_string();
                    self.has(&match &call {
                        calls::Call::Filter(_) => calls::Call::Filter(c),
                        calls::Call::Test(_) => calls::Call::Test(c),
                    })
                })
                .collect();
            let help = crate::diagnostic::suggest(name, known.iter().copied())
                .map(|best| format!("did you mean `{best}`?"));
            return Err(TemplateError {
                message,
                template: s.to_string(),
                help,
            });
        }
        Ok(())
    }

    /// Whether the environment has this filter or test: applied to `none`,
    /// it fails with anything but "unknown filter/test".
    fn has(&mut self, call: &calls::Call) -> bool {
        if let Some(known) = self.known_calls.get(call) {
            return *known;
        }
        let env = self.env.get_mut().unwrap_or_else(|p| p.into_inner());
        let (probe, unknown) = match call {
            calls::Call::Filter(n) => (format!("{{{{ none | {n} }}}}"), ErrorKind::UnknownFilter),
            calls::Call::Test(n) => (format!("{{{{ none is {n} }}}}"), ErrorKind::UnknownTest),
        };
        let known = match env.render_str(&probe, ()) {
            Ok(_) => true,
            Err(e) => e.kind() != unknown,
        };
        self.known_calls.insert(call.clone(), known);
        known
    }

    /// `simple: false` always goes through minijinja (tests compare the two).
    fn compile_str_with(&mut self, s: &str, simple: bool) -> Result<Tmpl, TemplateError> {
        if find_open(s, b"{%#").is_none() {
            return Ok(Tmpl::Literal(Box::new(Value::String(s.to_string()))));
        }
        if let Some(expr) = single_expression(s) {
            if let Some(path) = simple_path(expr).filter(|_| simple) {
                let names = vec![path.to_string()];
                return Ok(Tmpl::Native(Arc::new(NativeExpr {
                    secret: self.bears_secret(s, &names),
                    source: s.to_string(),
                    expr: expr.to_string(),
                    names,
                    is_path: true,
                })));
            }
            self.check_calls(s)?;
            let compiled = self
                .env
                .get_mut()
                .unwrap_or_else(|p| p.into_inner())
                .compile_expression(expr)
                .map_err(|e| TemplateError::from_minijinja(&e, s))?;
            let names: Vec<String> = compiled.undeclared_variables(true).into_iter().collect();
            return Ok(Tmpl::Native(Arc::new(NativeExpr {
                secret: self.bears_secret(s, &names),
                source: s.to_string(),
                expr: expr.to_string(),
                names,
                is_path: false,
            })));
        }
        let id = self.next_id;
        self.next_id += 1;
        if let Some((pieces, names)) = simple_pieces(s).filter(|_| simple) {
            return Ok(Tmpl::Text(Arc::new(TextTemplate {
                id,
                secret: self.bears_secret(s, &names),
                source: s.to_string(),
                names,
                pieces: Some(pieces),
            })));
        }
        self.check_calls(s)?;
        let env = self.env.get_mut().unwrap_or_else(|p| p.into_inner());
        let names: Vec<String> = env
            .template_from_str(s)
            .map_err(|e| TemplateError::from_minijinja(&e, s))?
            .undeclared_variables(true)
            .into_iter()
            .collect();
        Ok(Tmpl::Text(Arc::new(TextTemplate {
            id,
            secret: self.bears_secret(s, &names),
            source: s.to_string(),
            names,
            pieces: None,
        })))
    }

    /// Renders a compiled value against `ctx`.
    pub fn render(&self, t: &Tmpl, ctx: &MjValue) -> Result<Value, TemplateError> {
        match t {
            Tmpl::Literal(v) => Ok((**v).clone()),
            Tmpl::Text(t) => self.render_text(t, ctx).map(Value::String),
            Tmpl::Native(n) => {
                let v = self.render_native(n, ctx)?;
                if n.secret {
                    self.taint_value(&v);
                }
                Ok(v)
            }
            Tmpl::Array(items) => items
                .iter()
                .map(|i| self.render(i, ctx))
                .collect::<Result<Vec<_>, _>>()
                .map(Value::Array),
            Tmpl::Object(entries) => {
                let mut map = serde_json::Map::with_capacity(entries.len());
                for (k, v) in entries {
                    map.insert(k.clone(), self.render(v, ctx)?);
                }
                Ok(Value::Object(map))
            }
        }
    }

    fn render_native(&self, n: &NativeExpr, ctx: &MjValue) -> Result<Value, TemplateError> {
        {
            {
                // A plain `{{ a.b }}`: look it up without compiling anything.
                // Anything but a found value (an undefined name, say) goes
                // the long way, so errors read exactly as minijinja words them.
                if let Some(v) = n.is_path.then(|| lookup(ctx, &n.names[0])).flatten() {
                    return to_json(&v).map_err(|e| TemplateError::from_minijinja(&e, &n.source));
                }
                let env = self.env();
                let expr = env
                    .compile_expression(&n.expr)
                    .map_err(|e| TemplateError::from_minijinja(&e, &n.source))?;
                let v = expr
                    .eval(ctx.clone())
                    .map_err(|e| TemplateError::from_minijinja(&e, &n.source))?;
                // A bare lookup of a missing name evaluates to `undefined`
                // rather than failing; strict mode means it is an error here too.
                if v.is_undefined() {
                    return Err(TemplateError {
                        message: format!("undefined value `{}`", n.expr.trim()),
                        template: n.source.clone(),
                        help: None,
                    });
                }
                to_json(&v).map_err(|e| TemplateError::from_minijinja(&e, &n.source))
            }
        }
    }

    /// Renders for `--dry-run`: a string that cannot be rendered without a
    /// response (`{{ Posts | length }}`) stays as written; the rest renders.
    pub fn render_dry(&self, t: &Tmpl, ctx: &MjValue) -> Value {
        match t {
            Tmpl::Array(items) => {
                Value::Array(items.iter().map(|i| self.render_dry(i, ctx)).collect())
            }
            Tmpl::Object(entries) => Value::Object(
                entries
                    .iter()
                    .map(|(k, v)| (k.clone(), self.render_dry(v, ctx)))
                    .collect(),
            ),
            leaf => self
                .render(leaf, ctx)
                .unwrap_or_else(|e| Value::String(e.template)),
        }
    }

    /// Renders to text: native values are written as text (JSON for containers).
    pub fn render_string(&self, t: &Tmpl, ctx: &MjValue) -> Result<String, TemplateError> {
        match t {
            Tmpl::Text(t) => self.render_text(t, ctx),
            other => Ok(value_to_text(&self.render(other, ctx)?)),
        }
    }

    fn render_text(&self, t: &TextTemplate, ctx: &MjValue) -> Result<String, TemplateError> {
        let text = self.render_text_plain(t, ctx)?;
        if t.secret {
            self.taint_text(&t.source, &text, ctx);
        }
        Ok(text)
    }

    fn render_text_plain(&self, t: &TextTemplate, ctx: &MjValue) -> Result<String, TemplateError> {
        if let Some(text) = t.pieces.as_deref().and_then(|p| render_pieces(t, p, ctx)) {
            return Ok(text);
        }
        let fail = |e: Error| TemplateError::from_minijinja(&e, &t.source);
        let name = t.name();
        {
            let env = self.env();
            match env.get_template(&name) {
                Ok(tmpl) => return tmpl.render(ctx.clone()).map_err(fail),
                Err(e) if e.kind() == ErrorKind::TemplateNotFound => {}
                Err(e) => return Err(fail(e)),
            }
        }
        // First render since the last release: compile it again (it compiled
        // at validation, so this does not fail on syntax). Two items of a
        // `for_each` may both get here; the second add replaces the first.
        self.env
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .add_template_owned(name.clone(), t.source.clone())
            .map_err(fail)?;
        let env = self.env();
        let tmpl = env.get_template(&name).map_err(fail)?;
        tmpl.render(ctx.clone()).map_err(fail)
    }

    /// Drops the compiled text templates; they compile again on their next
    /// render. Called when a step finishes.
    pub fn release(&self) {
        self.env
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .clear_templates();
    }

    fn env(&self) -> RwLockReadGuard<'_, Environment<'static>> {
        self.env.read().unwrap_or_else(|p| p.into_inner())
    }
}

/// A JSON value as the text a URL, header or query parameter should carry.
pub fn value_to_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

/// `{{ expr }}` and nothing else → `Some("expr")`.
fn single_expression(s: &str) -> Option<&str> {
    let inner = s.strip_prefix("{{")?.strip_suffix("}}")?;
    if inner.contains("{{") || inner.contains("}}") || inner.contains("{%") || inner.contains("{#")
    {
        return None;
    }
    let inner = inner.strip_prefix('-').unwrap_or(inner);
    let inner = inner.strip_suffix('-').unwrap_or(inner);
    (!inner.trim().is_empty()).then_some(inner)
}

/// A compiled chain value.
#[derive(Debug, Clone)]
pub enum Tmpl {
    /// No template syntax: used as written. Boxed: a `Value` takes 72 bytes,
    /// which every template in a step would otherwise take too.
    Literal(Box<Value>),
    /// A string with template syntax that renders to text.
    Text(Arc<TextTemplate>),
    /// Exactly one `{{ expression }}`: renders to the expression's value.
    Native(Arc<NativeExpr>),
    Array(Vec<Tmpl>),
    Object(Vec<(String, Tmpl)>),
}

#[derive(Debug)]
pub struct TextTemplate {
    /// Names it in the minijinja environment (`t<id>`), when it needs one.
    id: usize,
    source: String,
    names: Vec<String>,
    /// Set when the template is only text and `{{ a.b }}` lookups.
    pieces: Option<Vec<Piece>>,
    /// It reads a secret: what it renders is one too (see taint.rs).
    secret: bool,
}

impl TextTemplate {
    fn name(&self) -> String {
        format!("t{}", self.id)
    }
}

#[derive(Debug)]
pub struct NativeExpr {
    source: String,
    expr: String,
    names: Vec<String>,
    /// The expression is a plain lookup like `a.b.c` (its one name).
    is_path: bool,
    /// It reads a secret: what it renders is one too (see taint.rs).
    secret: bool,
}

mod calls;
mod functions;
mod json;
mod names;
mod simple;
mod taint;

pub use functions::{EnvVars, Placeholder};
use functions::{b64decode, b64encode, fromjson, jsonpath_filter, matching, path_segment};
pub use json::{from_json, from_shared_json, to_json};
pub use names::{
    collect_secret_names, function_names, is_called, is_guarded, root_and_child, secret_names,
};
use names::{has_word, origin_blocks};
use simple::{Piece, find_open, lookup, render_pieces, simple_path, simple_pieces};
pub use taint::secret_env_name;

/// The names one template string reads, with its text: shared with the
/// compiled template rather than copied (validation keeps them for every
/// string of every step until the references are checked).
#[derive(Debug, Clone)]
pub enum StringNames {
    Text(Arc<TextTemplate>),
    Native(Arc<NativeExpr>),
}

impl StringNames {
    pub fn names(&self) -> &[String] {
        match self {
            StringNames::Text(t) => &t.names,
            StringNames::Native(n) => &n.names,
        }
    }

    pub fn source(&self) -> &str {
        match self {
            StringNames::Text(t) => &t.source,
            StringNames::Native(n) => &n.source,
        }
    }
}

impl Tmpl {
    /// For a template compiled from one string: the names it reads, if any
    /// (the same as [`Tmpl::names`], without copying them).
    pub fn string_names(&self) -> Option<StringNames> {
        match self {
            Tmpl::Text(t) if !t.names.is_empty() => Some(StringNames::Text(Arc::clone(t))),
            Tmpl::Native(n) if !n.names.is_empty() => Some(StringNames::Native(Arc::clone(n))),
            _ => None,
        }
    }

    /// Every variable path the value's templates read (`GetUser.id`,
    /// `steps.A.status`), each with the template text that reads it.
    pub fn names(&self) -> Vec<(String, String)> {
        let mut out = Vec::new();
        self.collect_names(&mut out);
        out
    }

    fn collect_names(&self, out: &mut Vec<(String, String)>) {
        match self {
            Tmpl::Literal(_) => {}
            Tmpl::Text(t) => out.extend(t.names.iter().map(|n| (n.clone(), t.source.clone()))),
            Tmpl::Native(n) => out.extend(n.names.iter().map(|x| (x.clone(), n.source.clone()))),
            Tmpl::Array(items) => items.iter().for_each(|i| i.collect_names(out)),
            Tmpl::Object(entries) => entries.iter().for_each(|(_, v)| v.collect_names(out)),
        }
    }

    pub fn is_literal(&self) -> bool {
        matches!(self, Tmpl::Literal(_))
    }

    /// Some part of it reads a secret, so what it renders is one.
    pub fn bears_secret(&self) -> bool {
        match self {
            Tmpl::Literal(_) => false,
            Tmpl::Text(t) => t.secret,
            Tmpl::Native(n) => n.secret,
            Tmpl::Array(items) => items.iter().any(Tmpl::bears_secret),
            Tmpl::Object(entries) => entries.iter().any(|(_, v)| v.bears_secret()),
        }
    }

    /// For a URL template: the roots of the names that can change where the
    /// request goes — its scheme, host or port — sorted. `https://api.x/{{ id }}`
    /// has none; `{{ base }}/x`, `https://{{ tenant }}.x/` and
    /// `https://api.x{{ path }}` (which `@evil.example` would redirect) each
    /// have one. Conservative: a name in a block before the path starts
    /// counts, whatever the block does with it.
    pub fn origin_roots(&self) -> Vec<String> {
        let mut roots: Vec<String> = match self {
            Tmpl::Literal(_) => Vec::new(),
            Tmpl::Text(t) => {
                let blocks = origin_blocks(&t.source);
                t.names
                    .iter()
                    .map(|n| root_and_child(n).0)
                    .filter(|root| blocks.iter().any(|b| has_word(b, root)))
                    .map(str::to_string)
                    .collect()
            }
            _ => self
                .names()
                .into_iter()
                .map(|(n, _)| root_and_child(&n).0.to_string())
                .collect(),
        };
        roots.sort();
        roots.dedup();
        roots
    }
}

/// A template that failed to compile or render, as plain data.
#[derive(Debug, Clone, PartialEq)]
pub struct TemplateError {
    /// What went wrong, e.g. "undefined value `GetUser.idd`".
    pub message: String,
    /// The template text as written in the chain file.
    pub template: String,
    /// What to do about it (`did you mean `int`?`), when there is something.
    pub help: Option<String>,
}

impl TemplateError {
    fn from_minijinja(e: &Error, template: &str) -> Self {
        let mut message = match e.kind() {
            ErrorKind::UndefinedError => "undefined value".to_string(),
            ErrorKind::SyntaxError => "template syntax error".to_string(),
            _ => e.kind().to_string(),
        };
        if let Some(detail) = e.detail() {
            message.push_str(": ");
            message.push_str(detail);
        }
        if e.kind() == ErrorKind::UndefinedError
            && let Some(name) = undefined_name(e, template)
        {
            message = format!("undefined value `{name}`");
        }
        TemplateError {
            message,
            template: template.to_string(),
            help: None,
        }
    }
}

impl std::fmt::Display for TemplateError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} in `{}`", self.message, self.template)
    }
}

/// The expression an undefined-value error points at, read from the span
/// minijinja's debug info gives (this is what `set_debug(true)` buys us).
fn undefined_name(e: &Error, template: &str) -> Option<String> {
    let range = e.range()?;
    let text = match single_expression(template) {
        // Expressions are compiled on their own: the range is inside the expression.
        Some(expr) => expr,
        None => template,
    };
    // minijinja points at the failing part (`.idd` of `GetUser.idd`); widen
    // the span back to the start of the whole variable path.
    let is_path =
        |c: char| c.is_alphanumeric() || matches!(c, '_' | '.' | '[' | ']' | '\'' | '"' | '-');
    let start = text
        .get(..range.start)?
        .char_indices()
        .rev()
        .take_while(|(_, c)| is_path(*c))
        .last()
        .map_or(range.start, |(i, _)| i);
    // In `x | string` minijinja points at the filter; the undefined value is `x`.
    let before = text.get(..start)?.trim_end();
    if let Some(piped) = before.strip_suffix('|') {
        let piped = piped.trim_end();
        let from = piped
            .char_indices()
            .rev()
            .take_while(|(_, c)| is_path(*c))
            .last()
            .map_or(piped.len(), |(i, _)| i);
        let found = &piped[from..];
        if !found.is_empty() {
            return Some(found.to_string());
        }
    }
    let found = text.get(start..range.end)?.trim();
    (!found.is_empty()).then(|| found.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn ctx(v: Value) -> MjValue {
        from_json(&v)
    }

    #[test]
    fn every_suggested_filter_and_test_exists_and_typos_do_not() {
        let mut t = Templates::new();
        for f in calls::FILTER_NAMES {
            assert!(t.has(&calls::Call::Filter(f.to_string())), "filter {f}");
        }
        for x in calls::TEST_NAMES {
            assert!(t.has(&calls::Call::Test(x.to_string())), "test {x}");
        }
        assert!(!t.has(&calls::Call::Filter("intt".into())));
        assert!(!t.has(&calls::Call::Test("evenn".into())));
        let e = t.compile_str("{{ a | lenght }}").unwrap_err();
        assert_eq!(e.message, "unknown filter `lenght`");
        assert_eq!(e.help.as_deref(), Some("did you mean `length`?"));
        assert!(
            t.compile_str("x {{ a | length }} {{ b is defined }}")
                .is_ok()
        );
    }

    #[test]
    fn origin_roots_are_the_names_before_the_path() {
        let roots = |s: &str| {
            let mut t = Templates::new();
            t.compile_str(s).unwrap().origin_roots()
        };
        assert!(roots("https://api.example.com/users/{{ id }}").is_empty());
        assert!(roots("https://api.example.com?q={{ q }}").is_empty());
        assert!(roots("https://api.example.com#{{ q }}").is_empty());
        assert!(roots("https://api.example.com/{{ a }}{{ b.c }}").is_empty());
        assert!(roots("https://api.example.com/x").is_empty());
        assert_eq!(roots("{{ base }}/users/{{ id }}"), ["base"]);
        assert_eq!(roots("{{ target }}"), ["target"]);
        assert_eq!(roots("{{ target | trim }}"), ["target"]);
        assert_eq!(
            roots("https://{{ tenant }}.example.com/{{ id }}"),
            ["tenant"]
        );
        assert_eq!(roots("https://api.example.com{{ path }}"), ["path"]);
        assert_eq!(roots("https://api.example.com:{{ port }}/x"), ["port"]);
        assert_eq!(roots("{{ scheme }}://api.example.com/{{ id }}"), ["scheme"]);
        assert_eq!(
            roots("{% if prod %}https://api.x{% else %}{{ stage.url }}{% endif %}/v1/{{ id }}"),
            ["prod", "stage"]
        );
        assert_eq!(roots("{{ GetUser.links.self }}"), ["GetUser"]);
        assert!(roots("https://a.example{# {{ x }} #}/{{ y }}").is_empty());
        assert_eq!(roots("https://a.example\\{{ x }}"), Vec::<String>::new());
    }

    #[test]
    fn json_becomes_the_values_serde_would_make() {
        let data = json!({
            "s": "text", "short": "a", "n": 7, "neg": -3, "big": u64::MAX, "f": 1.5,
            "whole": 2.0, "t": true, "nil": null, "list": [1, "two", [3], {"four": 4}],
            "map": {"z": 1, "a": {"deep": [null]}}, "empty": {}, "none": [],
        });
        let direct = from_json(&data);
        let via_serde = MjValue::from(minijinja::value::Serde(&data));
        assert_eq!(direct, via_serde);
        assert_eq!(format!("{direct:?}"), format!("{via_serde:?}"));
        assert_eq!(direct.to_string(), via_serde.to_string());
        for key in [
            "s", "n", "neg", "big", "f", "whole", "t", "nil", "list", "map",
        ] {
            let (a, b) = (
                direct.get_attr(key).unwrap(),
                via_serde.get_attr(key).unwrap(),
            );
            assert_eq!(a.kind(), b.kind(), "{key}");
            assert_eq!(to_json(&a).unwrap(), to_json(&b).unwrap(), "{key}");
        }
        assert_eq!(to_json(&direct).unwrap(), data);
    }

    #[test]
    fn a_variable_path_splits_into_root_and_first_child() {
        assert_eq!(root_and_child("a"), ("a", None));
        assert_eq!(root_and_child("a.b"), ("a", Some("b")));
        assert_eq!(root_and_child("steps.A.status"), ("steps", Some("A")));
        assert_eq!(root_and_child("a."), ("a", Some("")));
        assert_eq!(root_and_child(""), ("", None));
    }

    /// A shared step result reads, prints, iterates and compares exactly as
    /// the converted value does, through every way templates reach it.
    #[test]
    fn shared_results_read_like_converted_ones() {
        let data = json!({
            "s": "text", "n": 7, "f": 1.5, "t": true, "nil": null,
            "list": [3, "two", [1], {"k": "v"}], "map": {"z": 1, "a": {"deep": [null, 2]}},
            "empty": {}, "none": [],
        });
        let shared = from_shared_json(Arc::new(data.clone()));
        let direct = from_json(&data);
        assert_eq!(shared, direct);
        assert_eq!(format!("{shared:?}"), format!("{direct:?}"));
        assert_eq!(shared.to_string(), direct.to_string());
        assert_eq!(to_json(&shared).unwrap(), data);
        let list = from_shared_json(Arc::new(json!([1, {"a": [2]}])));
        assert_eq!(
            list.to_string(),
            from_json(&json!([1, {"a": [2]}])).to_string()
        );
        let templates = [
            "{{ r.s }} {{ r.n + 1 }} {{ r.f }} {{ r.t }} {{ r.nil }}",
            "{{ r.list }} {{ r.map }} {{ r.empty }} {{ r.none }} {{ r }}",
            "{{ r.list[0] }} {{ r.list[-1].k }} {{ r.list[2][0] }} {{ r.map.a.deep[1] }}",
            "{{ r['map']['z'] }} {{ r.list[1:] }} {{ r.list | length }} {{ r | length }}",
            "{% for k in r.map %}{{ k }};{% endfor %}{% for x in r.list %}{{ x }},{% endfor %}",
            "{% for k, v in r.map | items %}{{ k }}={{ v }};{% endfor %}",
            "{% for k, v in r.map.items() %}{{ k }}={{ v }};{% endfor %}{{ r.map.keys() | list }}",
            "{{ r.map | dictsort }} {{ r | tojson }} {{ r.list | tojson }}",
            "{{ r.empty is mapping }} {{ r.list is sequence }} {{ r.none | first is undefined }}",
            "{{ 'z' in r.map }} {{ 3 in r.list }} {{ r.map.a == {'deep': [none, 2]} }}",
            "{{ r.list == [3, 'two', [1], {'k': 'v'}] }} {{ r.map.a.deep == [none, 2] }}",
            "{% if r.empty %}full{% else %}empty{% endif %} {% if r.map %}full{% endif %}",
            "{{ r.missing is undefined }} {{ r.list[9] is undefined }} {{ r.map.get('z') }}",
            "{{ r.list | reverse | list }} {{ r.map | list }} {{ r.none | join(',') }}",
            "{{ r.missing }}",
            "{{ r.map.a.deep.nope }}",
            "{{ r.s.more }}",
        ];
        let scope = |r: MjValue| MjValue::from(std::collections::BTreeMap::from([("r", r)]));
        let (a, b) = (scope(shared), scope(direct));
        for t in templates {
            let mut env = Templates::new();
            let compiled = env.compile_str(t).unwrap();
            assert_eq!(
                env.render_string(&compiled, &a),
                env.render_string(&compiled, &b),
                "{t}"
            );
        }
    }

    #[test]
    fn simple_templates_render_exactly_as_minijinja_does() {
        let data = json!({
            "base": "http://h",
            "s0": {"next": "/s/1.json", "n": 7, "f": 1.0, "big": 1.5e300, "ok": true,
                   "nil": null, "list": [1, 2], "map": {"a": 1}, "u": "ü<&>"},
            "steps": {"A": {"status": 200}},
        });
        let templates = [
            "{{ base }}{{ s0.next }}",
            "{{base}}/x?n={{ s0.n }}&f={{ s0.f }}&b={{ s0.big }}",
            "ok={{ s0.ok }} nil={{ s0.nil }} u={{ s0.u }}",
            "{{ s0.list }} and {{ s0.map }}",
            "{{ steps.A.status }}",
            "a }} b {{ s0.n }} }}",
            "line\n{{ s0.n }}\n",
            // Errors must read the same.
            "{{ s0.missing }}",
            "{{ nothing.here }}",
            "x{{ s0.nil.deeper }}",
            "{{ s0.n.deeper }}",
            // Not simple: minijinja does these either way.
            "{{ s0.n | string }}",
            "{{- s0.n }}",
            "{{ s0['n'] }}",
            "{% if true %}{{ s0.n }}{% endif %}",
            "{{ true }}",
            "{{ none }}",
            "{{ s0.n }}{# note #}",
        ];
        let c = ctx(data);
        for t in templates {
            let mut fast = Templates::new();
            let mut slow = Templates::new();
            let f = fast.compile_str_with(t, true).unwrap();
            let s = slow.compile_str_with(t, false).unwrap();
            assert_eq!(f.names().len(), s.names().len(), "{t}");
            let mut fnames = f.names();
            let mut snames = s.names();
            fnames.sort();
            snames.sort();
            assert_eq!(fnames, snames, "names of {t}");
            assert_eq!(fast.render(&f, &c), slow.render(&s, &c), "{t}");
            assert_eq!(
                fast.render_string(&f, &c),
                slow.render_string(&s, &c),
                "{t}"
            );
        }
        // The fast path was taken where it should be.
        let mut t = Templates::new();
        assert!(
            matches!(t.compile_str("{{ a }}x{{ b.c }}").unwrap(), Tmpl::Text(ref x) if x.pieces.is_some())
        );
        assert!(matches!(t.compile_str("{{ a.b }}").unwrap(), Tmpl::Native(ref x) if x.is_path));
        assert!(
            matches!(t.compile_str("{{ a | e }}x").unwrap(), Tmpl::Text(ref x) if x.pieces.is_none())
        );
    }

    /// Every template string of the repository — examples, test chains,
    /// the docs' YAML blocks — reads the same names and renders the same
    /// (value or error) through the fast path and through minijinja alone,
    /// with its names bound and with them missing.
    #[test]
    fn every_template_of_the_repository_renders_the_same_both_ways() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        let mut texts = Vec::new();
        let mut dirs = vec![
            root.join("examples"),
            root.join("tests/chains"),
            root.join("docs"),
        ];
        while let Some(dir) = dirs.pop() {
            for entry in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
                let path = entry.path();
                let name = path.display().to_string();
                if path.is_dir() {
                    dirs.push(path);
                } else if name.ends_with(".yaml") || name.ends_with(".yml") {
                    texts.push(std::fs::read_to_string(&path).unwrap());
                } else if name.ends_with(".md") {
                    let md = std::fs::read_to_string(&path).unwrap();
                    for block in md.split("```yaml\n").skip(1) {
                        texts.push(block.split("```").next().unwrap_or("").to_string());
                    }
                }
            }
        }
        let mut templates = std::collections::BTreeSet::new();
        for text in &texts {
            for line in text.lines() {
                // Every quoted or plain value holding `{{`.
                for piece in line.split(['"', '\'']).filter(|p| p.contains("{{")) {
                    let piece = piece.trim().trim_start_matches(|c: char| {
                        c != '{' && !c.is_alphanumeric() && c != '/' && c != 'h'
                    });
                    templates.insert(piece.trim().to_string());
                }
            }
        }
        assert!(templates.len() > 80, "found {} templates", templates.len());
        let mut compared = 0;
        for t in &templates {
            let mut fast = Templates::new();
            let mut slow = Templates::new();
            let (Ok(f), Ok(s)) = (
                fast.compile_str_with(t, true),
                slow.compile_str_with(t, false),
            ) else {
                continue;
            };
            let mut fnames = f.names();
            let mut snames = s.names();
            fnames.sort();
            snames.sort();
            assert_eq!(fnames, snames, "names of {t}");
            // Every name bound (to text, so lookups and filters both work),
            // then nothing bound.
            let mut bound = serde_json::Map::new();
            for (name, _) in &fnames {
                let mut at = &mut bound;
                let segs: Vec<&str> = name.split('.').collect();
                for (i, seg) in segs.iter().enumerate() {
                    if i + 1 == segs.len() {
                        at.entry(seg.to_string()).or_insert(json!("v1"));
                    } else {
                        let next = at.entry(seg.to_string()).or_insert(json!({}));
                        if !next.is_object() {
                            *next = json!({});
                        }
                        at = next.as_object_mut().unwrap();
                    }
                }
            }
            // `now()` and `uuid()` differ from call to call: those only
            // succeed or fail alike.
            let varies = t.contains("now(") || t.contains("uuid(");
            for c in [ctx(Value::Object(bound)), ctx(json!({}))] {
                let (a, b) = (fast.render(&f, &c), slow.render(&s, &c));
                if varies {
                    assert_eq!(a.is_ok(), b.is_ok(), "{t}");
                } else {
                    assert_eq!(a, b, "{t}");
                }
            }
            compared += 1;
        }
        assert!(compared > 80, "compared {compared}");
    }

    #[test]
    fn text_templates_render_again_after_release() {
        let mut t = Templates::new();
        let a = t.compile(&json!("/users/{{ id | string }}")).unwrap();
        let b = t.compile(&json!("{{ id }}-{{ id | int }}")).unwrap();
        let simple = t.compile(&json!("/users/{{ id }}")).unwrap();
        // Validation keeps none of them compiled.
        assert_eq!(t.env().templates().count(), 0);
        let c = ctx(json!({"id": 7}));
        assert_eq!(t.render(&a, &c).unwrap(), json!("/users/7"));
        assert_eq!(t.render(&b, &c).unwrap(), json!("7-7"));
        assert_eq!(t.render(&simple, &c).unwrap(), json!("/users/7"));
        // Plain lookups are never compiled.
        assert_eq!(t.env().templates().count(), 2);
        t.release();
        assert_eq!(t.env().templates().count(), 0);
        let c = ctx(json!({"id": 8}));
        assert_eq!(t.render(&a, &c).unwrap(), json!("/users/8"));
        let err = t.render(&a, &ctx(json!({}))).unwrap_err();
        assert_eq!(err.message, "undefined value `id`");
    }

    #[test]
    fn single_expressions_render_native_values() {
        let mut t = Templates::new();
        let c = ctx(json!({"GetUser": {"id": 1, "tags": ["a"]}}));
        let tm = t.compile(&json!("{{ GetUser.id }}")).unwrap();
        assert_eq!(t.render(&tm, &c).unwrap(), json!(1));
        let tm = t.compile(&json!("{{ GetUser.tags }}")).unwrap();
        assert_eq!(t.render(&tm, &c).unwrap(), json!(["a"]));
        let tm = t.compile(&json!("id={{ GetUser.id }}")).unwrap();
        assert_eq!(t.render(&tm, &c).unwrap(), json!("id=1"));
        let tm = t
            .compile(&json!({"nested": ["{{ GetUser.id + 1 }}"]}))
            .unwrap();
        assert_eq!(t.render(&tm, &c).unwrap(), json!({"nested": [2]}));
    }

    #[test]
    fn undefined_names_are_errors_that_name_the_value() {
        let mut t = Templates::new();
        let c = ctx(json!({"GetUser": {"id": 1}}));
        let tm = t.compile(&json!("/x/{{ GetUser.idd }}")).unwrap();
        let e = t.render(&tm, &c).unwrap_err();
        assert_eq!(e.message, "undefined value `GetUser.idd`");
        let tm = t.compile(&json!("{{ GetUser.a.b }}")).unwrap();
        assert_eq!(
            t.render(&tm, &c).unwrap_err().message,
            "undefined value `GetUser.a.b`"
        );
        let tm = t.compile(&json!("x{{ GetUser['a'] }}")).unwrap();
        assert_eq!(
            t.render(&tm, &c).unwrap_err().message,
            "undefined value `GetUser['a']`"
        );
        let tm = t.compile(&json!("{{ nope }}")).unwrap();
        assert_eq!(
            t.render(&tm, &c).unwrap_err().message,
            "undefined value `nope`"
        );
    }

    #[test]
    fn filters() {
        let mut t = Templates::new();
        let c = ctx(json!({"u": {"a": [{"b": 5}]}, "s": "a b&c"}));
        let r = |t: &mut Templates, s: &str| {
            let tm = t.compile(&json!(s)).unwrap();
            t.render(&tm, &c).unwrap()
        };
        assert_eq!(r(&mut t, "{{ u | jsonpath('$.a[0].b') }}"), json!(5));
        assert_eq!(
            r(&mut t, "{{ 'user:pw' | b64encode }}"),
            json!("dXNlcjpwdw==")
        );
        assert_eq!(
            r(&mut t, "{{ 'dXNlcjpwdw==' | b64decode }}"),
            json!("user:pw")
        );
        assert_eq!(r(&mut t, "{{ s | urlencode }}"), json!("a%20b%26c"));
        assert_eq!(
            r(&mut t, "{{ u | tojson }}"),
            json!("{\"a\": [{\"b\": 5}]}")
        );
        assert_eq!(r(&mut t, "{{ missing | default('d') }}"), json!("d"));
        assert_eq!(r(&mut t, "{{ '{\"k\": 2}' | fromjson }}"), json!({"k": 2}));
        assert_eq!(r(&mut t, "{{ uuid() | length }}"), json!(36));
        assert!(r(&mut t, "{{ now() }}").is_number());
    }

    #[test]
    fn syntax_errors_are_reported_at_compile_time() {
        let mut t = Templates::new();
        let e = t.compile(&json!("{{ a | }}")).unwrap_err();
        assert!(e.message.starts_with("template syntax error"), "{e:?}");
        assert!(t.compile(&json!("x {% if %}")).is_err());
    }

    #[test]
    fn names_are_collected_for_validation() {
        let mut t = Templates::new();
        let tm = t
            .compile(&json!({"a": "{{ GetUser.id }}", "b": "x{{ steps.A.status }}{{ now() }}"}))
            .unwrap();
        let names: Vec<String> = tm.names().into_iter().map(|(n, _)| n).collect();
        assert!(names.contains(&"GetUser.id".to_string()), "{names:?}");
        assert!(names.contains(&"steps.A.status".to_string()), "{names:?}");
    }

    #[test]
    fn guards_make_variables_optional() {
        assert!(is_guarded("{{ page | default(1) }}", "page"));
        assert!(is_guarded("{{ page|d(1) }}", "page"));
        assert!(is_guarded("{{ cfg.a['b'] | default('x') }}", "cfg"));
        assert!(is_guarded(
            "{% if page is defined %}{{ page }}{% endif %}",
            "page"
        ));
        assert!(is_guarded(
            "{% if page is not defined %}1{% endif %}",
            "page"
        ));
        assert!(!is_guarded("{{ page }}", "page"));
        assert!(!is_guarded("{{ pages | default(1) }}", "page"));
        assert!(!is_guarded("{{ page | upper }}", "page"));
    }
}
