//! `pytopus import postman`: a Postman collection (format v2.0 or v2.1),
//! and optionally an environment, in; one chain out.
//!
//! Every request becomes a step, in the collection's order; folders are
//! kept as a comment above each step (`# Users / Create user`), not as
//! sub-chains, so that every step can read every earlier one. Postman's
//! `{{name}}` becomes a chain variable, a secret, or the value a test
//! script extracted; the requests themselves go through the one
//! request-to-step builder ([`super::request::step`]), so credentials in
//! headers, forms and JSON become secrets as for `import curl`. The common
//! test-script patterns become `expect` and `extract`; every other script
//! line is listed in a note and kept as a comment beside its step.

use std::collections::{HashMap, HashSet};

use indexmap::IndexMap;
use serde_json::{Map, Value};

use super::request::{
    self, ImportError, Imported, Request, Secrets, fail, literal, literal_json, secret_base,
    secret_field, shown,
};

/// Folders nest at most this deep.
pub const MAX_DEPTH: usize = 32;

/// A variable's value may read other variables this deep.
const MAX_VAR_DEPTH: usize = 8;

/// Names a variable may not take in a chain: they mean something else in
/// templates (see `compile::RESERVED`), or name the functions the import writes.
const RESERVED_VARS: &[&str] = &[
    "steps", "env", "item", "index", "loop", "params", "true", "false", "none", "null", "secret",
    "uuid", "now", "range", "dict",
];

/// Imports a collection (its JSON text), with an environment's JSON text.
pub fn import(collection: &str, environment: Option<&str>) -> Result<Imported, ImportError> {
    let doc: Value = serde_json::from_str(collection)
        .map_err(|e| ImportError(format!("the collection is not JSON: {e}")))?;
    let env = match environment {
        Some(text) => Some(
            serde_json::from_str::<Value>(text)
                .map_err(|e| ImportError(format!("the environment is not JSON: {e}")))?,
        ),
        None => None,
    };
    let Some(root) = doc.as_object() else {
        return fail("the collection is not a Postman collection: a JSON object was expected");
    };
    check_version(root)?;
    let mut im = Importer::new();
    im.read_variables(root, env.as_ref())?;
    im.flatten(root)?;
    im.build(root)
}

/// The collection's format: v2.0 or v2.1, by `info.schema`.
fn check_version(root: &Map<String, Value>) -> Result<(), ImportError> {
    let Some(info) = root.get("info").and_then(Value::as_object) else {
        if root.contains_key("requests") || root.contains_key("order") {
            return fail(
                "this is a Postman collection v1: export it again as Collection v2.1 (in Postman: ⋯ → Export)",
            );
        }
        if root.contains_key("values") {
            return fail(
                "this is a Postman environment, not a collection: pass it with --environment",
            );
        }
        return fail("the collection is not a Postman collection: it has no `info`");
    };
    let schema = info.get("schema").and_then(Value::as_str).unwrap_or("");
    if schema.contains("/v2.0.") || schema.contains("/v2.1.") {
        Ok(())
    } else if schema.is_empty() {
        fail(
            "the collection's `info.schema` is missing: only Postman collections v2.0 and v2.1 are imported",
        )
    } else {
        fail(format!(
            "the collection's schema `{}` is not Postman collection v2.0 or v2.1: export it again as Collection v2.1",
            shown(schema)
        ))
    }
}

/// A Postman variable, as the collection or environment defines it.
struct Var {
    value: String,
    /// A credential: never written into the chain.
    secret: bool,
    /// Where it was defined, in notes: "the environment's variable `token`".
    from: String,
}

/// A request with what it inherits.
struct Entry<'a> {
    /// Folder names, outermost first, then the request's name.
    path: Vec<String>,
    request: &'a Value,
    events: Option<&'a Value>,
    /// Its auth, or the nearest folder's (`None`: the collection's).
    auth: Option<&'a Value>,
    /// Comment lines from the folders around it (their scripts).
    comments: Vec<String>,
    step: String,
}

/// A value a test compares with: written in the script, or a variable.
#[derive(Clone, Debug, PartialEq)]
enum ExpVal {
    Lit(Value),
    Var(String),
}

/// What a translated script line does to its step.
#[derive(Clone, Debug, PartialEq)]
enum Effect {
    Status(Value),
    /// A check on a JSONPath of the result (`eq` with a value: `expect.json`).
    Check {
        path: String,
        check: &'static str,
        value: ExpVal,
    },
    /// A header check (`None`: the value must contain the text).
    Header {
        name: String,
        check: Option<&'static str>,
        value: ExpVal,
    },
    BodyContains(ExpVal),
    Duration(&'static str, u64),
    Extract {
        var: String,
        source: String,
    },
}

/// One line of a script, read.
#[derive(Debug)]
enum Line {
    /// Nothing to do: blank, a comment, `pm.test(…, function () {`, `});`,
    /// `var json = pm.response.json();`.
    Nothing,
    Effects(Vec<Effect>),
    /// Not translated.
    Untranslated,
}

struct Importer<'a> {
    vars: IndexMap<String, Var>,
    entries: Vec<Entry<'a>>,
    secrets: Secrets,
    /// Postman variable name → chain variable name.
    idents: HashMap<String, String>,
    /// Variables test scripts set: name → index of the first step that does.
    set_by: HashMap<String, usize>,
    /// Secret variables read so far: name → template.
    secret_vars: HashMap<String, String>,
    /// Variables the chain reads (Postman names), for `vars:`.
    used: Vec<String>,
    /// Variables read and defined nowhere: chain inputs.
    undefined: Vec<String>,
    /// What secrets of variables and the collection's auth are named after.
    base: String,
    /// Comments for the top of the chain.
    header: Vec<String>,
    /// The steps' names, and each request's folders and name ("Users / Get").
    step_names: HashSet<String>,
    whos: Vec<String>,
    /// Comments for the step being written (what was not translated).
    pending: Vec<String>,
}

impl<'a> Importer<'a> {
    fn new() -> Self {
        Importer {
            vars: IndexMap::new(),
            entries: Vec::new(),
            secrets: Secrets::new("Postman"),
            idents: HashMap::new(),
            set_by: HashMap::new(),
            secret_vars: HashMap::new(),
            used: Vec::new(),
            undefined: Vec::new(),
            base: "api".into(),
            header: Vec::new(),
            step_names: HashSet::new(),
            whos: Vec::new(),
            pending: Vec::new(),
        }
    }

    fn note(&mut self, text: String) {
        self.secrets.notes.push(text);
    }

    /// Something of `who` not translated: a note, and a comment by its step.
    fn untranslated(&mut self, who: &str, what: String) {
        self.note(format!("{who}: {what} — not translated"));
        self.pending.push(format!("not translated: {what}"));
    }

    /// The collection's variables, then the environment's over them.
    fn read_variables(
        &mut self,
        root: &Map<String, Value>,
        env: Option<&Value>,
    ) -> Result<(), ImportError> {
        if let Some(list) = root.get("variable").and_then(Value::as_array) {
            for v in list {
                self.define(v, "the collection's", "disabled");
            }
        }
        if let Some(env) = env {
            let Some(values) = env.get("values").and_then(Value::as_array) else {
                return fail(
                    "the environment is not a Postman environment: it has no `values` list",
                );
            };
            for v in values {
                self.define(v, "the environment's", "enabled");
            }
        }
        Ok(())
    }

    /// One `{key, value, type}` entry; `switch` is `disabled` (collection)
    /// or `enabled` (environment).
    fn define(&mut self, v: &Value, whose: &str, switch: &str) {
        let Some(key) = v.get("key").and_then(Value::as_str) else {
            return;
        };
        let off = match switch {
            "enabled" => v.get("enabled") == Some(&Value::Bool(false)),
            _ => v.get("disabled") == Some(&Value::Bool(true)),
        };
        if off || key.is_empty() {
            return;
        }
        let value = match v.get("value") {
            Some(Value::String(s)) => s.clone(),
            None | Some(Value::Null) => String::new(),
            Some(other) => other.to_string(),
        };
        let secret = v.get("type").and_then(Value::as_str) == Some("secret") || secret_field(key);
        let prior_secret = self.vars.get(key).is_some_and(|p| p.secret);
        self.vars.insert(
            key.to_string(),
            Var {
                value,
                secret: secret || prior_secret,
                from: format!("{whose} variable `{key}`"),
            },
        );
    }

    /// The requests in order, with their folders' auth and scripts.
    fn flatten(&mut self, root: &'a Map<String, Value>) -> Result<(), ImportError> {
        let Some(items) = root.get("item").and_then(Value::as_array) else {
            return fail("the collection has no `item` list");
        };
        if let Some(events) = root.get("event") {
            let lines = script_notes(events, "the collection", None);
            for (note, comment) in lines {
                self.note(note);
                self.header.push(comment);
            }
        }
        let mut pending = Vec::new();
        self.walk(items, &mut Vec::new(), None, 0, &mut pending)?;
        self.header.extend(pending);
        if self.entries.is_empty() {
            return fail("the collection has no requests");
        }
        Ok(())
    }

    fn walk(
        &mut self,
        items: &'a [Value],
        folders: &mut Vec<String>,
        auth: Option<&'a Value>,
        depth: usize,
        pending: &mut Vec<String>,
    ) -> Result<(), ImportError> {
        if depth > MAX_DEPTH {
            return fail(format!(
                "folders nest deeper than {MAX_DEPTH} levels (at `{}`)",
                shown(&folders.join(" / "))
            ));
        }
        for (i, item) in items.iter().enumerate() {
            let name = item
                .get("name")
                .and_then(Value::as_str)
                .map(str::to_string)
                .unwrap_or_else(|| format!("Request {}", i + 1));
            let own_auth = item
                .get("auth")
                .filter(|a| a.get("type").and_then(Value::as_str) != Some("inherit"))
                .filter(|a| !a.is_null());
            if let Some(children) = item.get("item").and_then(Value::as_array) {
                folders.push(name);
                if let Some(events) = item.get("event") {
                    let who = folders.join(" / ");
                    for (note, comment) in script_notes(events, &who, None) {
                        self.note(note);
                        pending.push(comment);
                    }
                }
                self.walk(children, folders, own_auth.or(auth), depth + 1, pending)?;
                folders.pop();
                continue;
            }
            let mut path = folders.clone();
            path.push(name);
            let Some(request) = item.get("request") else {
                let who = path.join(" / ");
                self.note(format!("{who}: it has no request — not imported"));
                pending.push(format!("{who}: no request — not imported"));
                continue;
            };
            let request_auth = request
                .get("auth")
                .filter(|a| a.get("type").and_then(Value::as_str) != Some("inherit"))
                .filter(|a| !a.is_null());
            self.entries.push(Entry {
                path,
                request,
                events: item.get("event"),
                auth: request_auth.or(auth),
                comments: std::mem::take(pending),
                step: String::new(),
            });
        }
        Ok(())
    }

    fn build(mut self, root: &Map<String, Value>) -> Result<Imported, ImportError> {
        self.name_steps();
        // What each script does, read before any template is written: a
        // variable a script sets is the step's `extract`, not `vars`.
        let mut scripts: Vec<Vec<(usize, String, Line)>> = Vec::new();
        for (i, e) in self.entries.iter().enumerate() {
            let lines = e.events.map(test_lines).unwrap_or_default();
            for (_, _, line) in &lines {
                if let Line::Effects(effects) = line {
                    for effect in effects {
                        if let Effect::Extract { var, .. } = effect {
                            self.set_by.entry(var.clone()).or_insert(i);
                        }
                    }
                }
            }
            scripts.push(lines);
        }
        self.name_variables();
        self.mark_credentials(root);
        self.base = self
            .entries
            .iter()
            .find_map(|e| {
                let url = url_text(e.request).ok()?.0;
                self.resolve(&url, 0)
                    .and_then(|u| url::Url::parse(&u).ok())
                    .map(|u| secret_base(Some(&u)))
            })
            .unwrap_or_else(|| "api".into());

        let mut defaults = Map::new();
        let collection_auth = root
            .get("auth")
            .filter(|a| !a.is_null())
            .filter(|a| a.get("type").and_then(Value::as_str) != Some("noauth"));
        if let Some(a) = collection_auth {
            self.secrets.set_base(&self.base.clone());
            // Index 0: the collection's auth is every step's, the first one's too.
            if let Some(v) = self.auth(a, "the collection", 0) {
                defaults.insert("auth".into(), v);
            }
            let pending = std::mem::take(&mut self.pending);
            self.header.extend(pending);
        }

        let mut steps = Vec::new();
        let mut comments: Vec<(String, Vec<String>)> = Vec::new();
        let entries = std::mem::take(&mut self.entries);
        for ((index, entry), script) in entries.iter().enumerate().zip(scripts) {
            let who = entry.path.join(" / ");
            let mut lines = entry.comments.clone();
            lines.push(who.clone());
            match self.step(index, entry, script, &mut lines, collection_auth.is_some()) {
                Ok(step) => {
                    steps.push(step);
                    comments.push((entry.step.clone(), lines));
                }
                Err(e) => {
                    lines.append(&mut self.pending);
                    self.note(format!("{who}: {e} — not imported"));
                    lines.push(format!("not imported: {e}"));
                    self.header.extend(lines);
                }
            }
        }
        if steps.is_empty() {
            return fail("none of the collection's requests could be imported (see the notes)");
        }

        let mut chain = Map::new();
        if let Some(name) = root
            .get("info")
            .and_then(|i| i.get("name"))
            .and_then(Value::as_str)
        {
            chain.insert("name".into(), Value::String(name.to_string()));
        }
        let description = root.get("info").and_then(|i| i.get("description"));
        let description = match description {
            Some(Value::String(s)) => Some(s.clone()),
            Some(Value::Object(m)) => m.get("content").and_then(Value::as_str).map(str::to_string),
            _ => None,
        };
        if let Some(d) = description.filter(|d| !d.trim().is_empty()) {
            chain.insert("description".into(), Value::String(d));
        }
        let mut vars = Map::new();
        for name in self.used.clone() {
            if let Some(v) = self.vars.get(&name) {
                let value = Value::String(v.value.clone());
                vars.insert(self.ident(&name), value);
            }
        }
        if !vars.is_empty() {
            chain.insert("vars".into(), Value::Object(vars));
        }
        if !self.undefined.is_empty() {
            let mut inputs = Map::new();
            for name in self.undefined.clone() {
                inputs.insert(
                    self.ident(&name),
                    serde_json::json!({
                        "description": format!("Postman variable `{name}`, defined in neither the collection nor the environment"),
                    }),
                );
            }
            chain.insert("inputs".into(), Value::Object(inputs));
        }
        if !defaults.is_empty() {
            chain.insert("defaults".into(), Value::Object(defaults));
        }
        chain.insert("steps".into(), Value::Array(steps));
        let header = std::mem::take(&mut self.header);
        let masks = self.masks();
        let mut imported = request::yaml(Value::Object(chain), self.secrets)?;
        let clean = |s: &str| mask(s, &masks);
        imported.yaml = with_comments(
            &imported.yaml,
            &header.iter().map(|c| clean(c)).collect::<Vec<_>>(),
            &comments
                .into_iter()
                .map(|(s, l)| (s, l.iter().map(|c| clean(c)).collect()))
                .collect::<Vec<_>>(),
        );
        imported.notes = imported.notes.iter().map(|n| clean(n)).collect();
        Ok(imported)
    }

    /// The values script lines and notes must not show.
    fn masks(&self) -> Vec<String> {
        let mut out: Vec<String> = self
            .secrets
            .values
            .iter()
            .map(|(_, v)| v.expose().to_string())
            .chain(
                self.vars
                    .values()
                    .filter(|v| v.secret)
                    .map(|v| v.value.clone()),
            )
            .filter(|v| v.len() >= 4)
            .collect();
        out.sort_by_key(|v| std::cmp::Reverse(v.len()));
        out
    }

    /// Step names: the request's name in words run together
    /// (`Create user` → `CreateUser`); one already taken gets its folder's
    /// name before it (`Admin_CreateUser`), then a number.
    fn name_steps(&mut self) {
        let mut taken: HashSet<String> = HashSet::new();
        for e in self.entries.iter_mut() {
            let own = e.path.last().map(|n| pascal(n)).unwrap_or_default();
            let own = if own.is_empty() {
                let method = e
                    .request
                    .get("method")
                    .and_then(Value::as_str)
                    .unwrap_or("GET");
                request::step_name(method, None)
            } else if own.starts_with(|c: char| c.is_ascii_digit()) {
                format!("Step{own}")
            } else {
                own
            };
            let free = |n: &str, taken: &HashSet<String>| {
                !taken.contains(n) && !RESERVED_VARS.contains(&n)
            };
            let mut name = own.clone();
            if !free(&name, &taken) && e.path.len() >= 2 {
                let folder = pascal(&e.path[e.path.len() - 2]);
                if !folder.is_empty() {
                    name = format!("{folder}_{own}");
                }
            }
            if !free(&name, &taken) {
                let mut n = 2;
                while !free(&format!("{name}_{n}"), &taken) {
                    n += 1;
                }
                name = format!("{name}_{n}");
            }
            taken.insert(name.clone());
            e.step = name;
        }
        self.step_names = taken;
        self.whos = self.entries.iter().map(|e| e.path.join(" / ")).collect();
    }

    /// Chain names for every Postman variable the collection names: as
    /// written when it is an identifier, else with `_` for what is not
    /// (`base-url` → `base_url`), never a step's name or a reserved word.
    fn name_variables(&mut self) {
        let mut taken: HashSet<String> = self.step_names.clone();
        let mut names: Vec<String> = self.vars.keys().cloned().collect();
        let mut set: Vec<&String> = self.set_by.keys().collect();
        set.sort();
        names.extend(set.into_iter().cloned());
        for name in names {
            if self.idents.contains_key(&name) {
                continue;
            }
            let ident = fresh_ident(&name, &taken);
            taken.insert(ident.clone());
            self.idents.insert(name, ident);
        }
    }

    fn ident(&mut self, name: &str) -> String {
        if let Some(i) = self.idents.get(name) {
            return i.clone();
        }
        let mut taken: HashSet<String> = self.step_names.clone();
        taken.extend(self.idents.values().cloned());
        let ident = fresh_ident(name, &taken);
        self.idents.insert(name.to_string(), ident.clone());
        ident
    }

    /// Variables read where a credential goes (a password, a token, an
    /// API key, a credential header) are secrets whatever their names.
    fn mark_credentials(&mut self, root: &Map<String, Value>) {
        let mut names = Vec::new();
        let mut auths: Vec<&Value> = root.get("auth").into_iter().collect();
        collect_auths(root.get("item"), &mut auths, 0);
        for a in auths {
            for (k, v) in auth_params(a) {
                if matches!(
                    k.as_str(),
                    "password"
                        | "token"
                        | "value"
                        | "clientSecret"
                        | "accessToken"
                        | "refreshToken"
                        | "secretKey"
                        | "sessionToken"
                ) && let Some(s) = v.as_str()
                {
                    names.extend(references(s));
                }
            }
        }
        for e in &self.entries {
            for (k, v) in headers(e.request) {
                if k.eq_ignore_ascii_case("authorization")
                    || k.eq_ignore_ascii_case("cookie")
                    || crate::secret::sensitive_header(&k)
                {
                    names.extend(references(&v));
                }
            }
        }
        for n in names {
            if let Some(v) = self.vars.get_mut(&n) {
                v.secret = true;
            }
        }
    }

    /// The value of Postman text with the variables' values in it, when
    /// all are known and none is a secret or extracted.
    fn resolve(&self, text: &str, depth: usize) -> Option<String> {
        if depth > MAX_VAR_DEPTH {
            return None;
        }
        let mut out = String::new();
        for piece in pieces(text) {
            match piece {
                Piece::Text(t) => out.push_str(t),
                Piece::Var(name) => {
                    let v = self.vars.get(name)?;
                    if v.secret || self.set_by.contains_key(name) {
                        return None;
                    }
                    out.push_str(&self.resolve(&v.value, depth + 1)?);
                }
            }
        }
        Some(out)
    }

    /// Postman text as a chain template, read by step `index`.
    fn tmpl(&mut self, text: &str, index: usize) -> String {
        self.tmpl_at(text, index, 0)
    }

    fn tmpl_at(&mut self, text: &str, index: usize, depth: usize) -> String {
        let mut out = String::new();
        for piece in pieces(text) {
            match piece {
                Piece::Text(t) => out.push_str(&literal(t)),
                Piece::Var(name) => out.push_str(&self.var(name, index, depth)),
            }
        }
        out
    }

    /// The template that reads Postman's `{{name}}` in step `index`.
    fn var(&mut self, name: &str, index: usize, depth: usize) -> String {
        if let Some(dynamic) = name.strip_prefix('$') {
            return match dynamic {
                "guid" | "randomUUID" => "{{ uuid() }}".into(),
                "timestamp" => "{{ now() | int }}".into(),
                "isoTimestamp" => "{{ now() | datetimeformat(format='iso') }}".into(),
                _ => {
                    let who = self
                        .whos
                        .get(index)
                        .cloned()
                        .unwrap_or_else(|| "the collection".into());
                    self.untranslated(
                        &who,
                        format!("Postman's dynamic variable `{{{{{name}}}}}` (sent as written)"),
                    );
                    literal(&format!("{{{{{name}}}}}"))
                }
            };
        }
        if let Some(&setter) = self.set_by.get(name) {
            let ident = self.ident(name);
            if index > setter {
                return format!("{{{{ {ident} }}}}");
            }
            // Read before (or by) the step whose script sets it: its
            // initial value, as Postman would send it.
            let initial = self
                .vars
                .get(name)
                .map(|v| (v.value.clone(), v.secret))
                .unwrap_or_default();
            if initial.1 && !initial.0.is_empty() {
                let s = self.secret_var(name);
                let expr = s
                    .trim_start_matches("{{")
                    .trim_end_matches("}}")
                    .trim()
                    .to_string();
                return format!("{{{{ {ident} | default({expr}) }}}}");
            }
            return format!("{{{{ {ident} | default({}) }}}}", jinja_str(&initial.0));
        }
        if self.vars.get(name).is_some_and(|v| v.secret) {
            return self.secret_var(name);
        }
        if let Some(v) = self.vars.get(name) {
            if v.value.contains("{{") && depth < MAX_VAR_DEPTH {
                // A value that reads other variables: the chain's `vars`
                // are values, not templates, so it is written in place.
                let value = v.value.clone();
                return self.tmpl_at(&value, index, depth + 1);
            }
            if !self.used.iter().any(|u| u == name) {
                self.used.push(name.to_string());
            }
            return format!("{{{{ {} }}}}", self.ident(name));
        }
        if !self.undefined.iter().any(|u| u == name) {
            self.undefined.push(name.to_string());
            let ident = self.ident(name);
            self.note(format!(
                "`{{{{{name}}}}}` is defined in neither the collection nor the environment: the chain takes it as the input `{ident}` (`--var {ident}=…`)"
            ));
        }
        format!("{{{{ {} }}}}", self.ident(name))
    }

    /// The template of a secret variable (its secret named once).
    fn secret_var(&mut self, name: &str) -> String {
        if let Some(t) = self.secret_vars.get(name) {
            return t.clone();
        }
        let (value, from) = match self.vars.get(name) {
            Some(v) => (v.value.clone(), v.from.clone()),
            None => return format!("{{{{ {} }}}}", self.ident(name)),
        };
        self.secrets.set_base(&self.base.clone());
        let t = if value.is_empty() {
            self.secrets.unknown(name, &from)
        } else {
            self.secrets.placeholder(name, &from, &value)
        };
        self.secret_vars.insert(name.to_string(), t.clone());
        t
    }

    /// A credential from Postman text: a template that reads a variable is
    /// kept, a value written in the collection becomes a secret.
    fn credential(&mut self, text: &str, index: usize, what: &str, from: &str) -> String {
        let t = self.tmpl(text, index);
        self.secrets.credential(true, what, from, &t)
    }

    /// A Postman auth block as `auth:` (`None`: not translated, noted).
    fn auth(&mut self, a: &Value, who: &str, index: usize) -> Option<Value> {
        let kind = a.get("type").and_then(Value::as_str).unwrap_or("");
        let p: HashMap<String, Value> = auth_params(a).into_iter().collect();
        let get = |k: &str| -> String {
            match p.get(k) {
                Some(Value::String(s)) => s.clone(),
                Some(Value::Null) | None => String::new(),
                Some(v) => v.to_string(),
            }
        };
        let from = |what: &str| format!("{who}'s {kind} auth {what}");
        let auth = match kind {
            "noauth" => serde_json::json!({"type": "none"}),
            "basic" => {
                let user = self.tmpl(&get("username"), index);
                let pw = self.credential(&get("password"), index, "password", &from("password"));
                serde_json::json!({"type": "basic", "username": user, "password": pw})
            }
            "bearer" => {
                let token = self.credential(&get("token"), index, "token", &from("token"));
                serde_json::json!({"type": "bearer", "token": token})
            }
            "apikey" => {
                let name = get("key");
                let name = if name.is_empty() {
                    "X-API-Key".to_string()
                } else {
                    name
                };
                let key = self.credential(&get("value"), index, &name, &from("value"));
                let place = match get("in").as_str() {
                    "query" => "query",
                    _ => "header",
                };
                serde_json::json!({"type": "api_key", "in": place, "name": name, "key": key})
            }
            "oauth2" => {
                let grant = get("grant_type");
                let grant = if grant.is_empty() {
                    "authorization_code".to_string()
                } else {
                    grant
                };
                match grant.as_str() {
                    "client_credentials" | "password_credentials" => {
                        let mut m = Map::new();
                        m.insert("type".into(), "oauth2".into());
                        let g = if grant == "client_credentials" {
                            "client_credentials"
                        } else {
                            "password"
                        };
                        m.insert("grant".into(), g.into());
                        m.insert(
                            "token_url".into(),
                            self.tmpl(&get("accessTokenUrl"), index).into(),
                        );
                        m.insert(
                            "client_id".into(),
                            self.tmpl(&get("clientId"), index).into(),
                        );
                        let secret = get("clientSecret");
                        if !secret.is_empty() {
                            let s = self.credential(
                                &secret,
                                index,
                                "client_secret",
                                &from("client secret"),
                            );
                            m.insert("client_secret".into(), s.into());
                        }
                        if g == "password" {
                            m.insert("username".into(), self.tmpl(&get("username"), index).into());
                            let pw = self.credential(
                                &get("password"),
                                index,
                                "password",
                                &from("password"),
                            );
                            m.insert("password".into(), pw.into());
                        }
                        let scope = get("scope");
                        if !scope.is_empty() {
                            m.insert("scope".into(), self.tmpl(&scope, index).into());
                        }
                        if get("client_authentication") == "body" {
                            m.insert("client_auth".into(), "body".into());
                        }
                        Value::Object(m)
                    }
                    other => {
                        let token = get("accessToken");
                        if token.is_empty() {
                            self.untranslated(
                                who,
                                format!("OAuth2 grant `{other}` (imported are client_credentials and password_credentials; for authorization_code see `pytopus auth login`)"),
                            );
                            return None;
                        }
                        self.untranslated(
                            who,
                            format!("OAuth2 grant `{other}` (the access token Postman held is sent as a bearer token)"),
                        );
                        let t =
                            self.credential(&token, index, "access_token", &from("access token"));
                        serde_json::json!({"type": "bearer", "token": t})
                    }
                }
            }
            other => {
                self.untranslated(who, format!("auth type `{}`", shown(other)));
                return None;
            }
        };
        Some(auth)
    }

    /// The step of entry `index`; `lines` gets its comments.
    fn step(
        &mut self,
        index: usize,
        entry: &Entry<'_>,
        script: Vec<(usize, String, Line)>,
        lines: &mut Vec<String>,
        collection_auth: bool,
    ) -> Result<Value, ImportError> {
        let who = entry.path.join(" / ");
        let r = entry.request;
        let (url, resolved_pm) = url_text(r)?;
        let resolved = self.resolve(&resolved_pm, 0);
        let base = resolved
            .as_deref()
            .and_then(|u| url::Url::parse(u).ok())
            .map(|u| secret_base(Some(&u)))
            .unwrap_or_else(|| self.base.clone());
        self.secrets.set_base(&base);
        let mut req = Request {
            url: Some(self.tmpl(&url, index)),
            method: Some(
                r.get("method")
                    .and_then(Value::as_str)
                    .unwrap_or("GET")
                    .to_string(),
            ),
            templated: true,
            resolved_url: resolved,
            files_from: Some("Postman read them from its working directory".into()),
            ..Request::default()
        };
        for (k, v) in headers(r) {
            let v = self.tmpl(&v, index);
            req.headers.push((k, v));
        }
        if let Some(a) = entry.auth {
            let auth = self.auth(a, &who, index);
            match auth {
                Some(Value::Object(m))
                    if m.get("type").and_then(Value::as_str) == Some("none")
                        && !collection_auth => {}
                other => req.auth = other,
            }
            self.secrets.set_base(&base);
        }
        let mut body_file = None;
        if let Some(body) = r.get("body").filter(|b| b.is_object())
            && body.get("disabled") != Some(&Value::Bool(true))
        {
            self.body(body, index, &who, &mut req, &mut body_file);
        }
        let whose = format!("{who}'s");
        let mut step = request::step(req, Some(&entry.step), &whose, &mut self.secrets)?;
        if let Some(events) = entry.events {
            for (note, comment) in script_notes(events, &who, Some("prerequest")) {
                self.note(note);
                lines.push(comment);
            }
        }
        lines.append(&mut self.pending);
        let (expect, extract) = self.apply(index, &who, script, lines);
        if let Value::Object(m) = &mut step {
            if let Some(f) = body_file {
                m.insert("body_file".into(), Value::String(f));
            }
            if !extract.is_empty() {
                m.insert("extract".into(), Value::Object(extract));
            }
            if !expect.is_empty() {
                m.insert("expect".into(), Value::Object(expect));
            }
        }
        Ok(step)
    }

    fn body(
        &mut self,
        body: &Value,
        index: usize,
        who: &str,
        req: &mut Request,
        body_file: &mut Option<String>,
    ) {
        let mode = body.get("mode").and_then(Value::as_str).unwrap_or("");
        let has_type = req
            .headers
            .iter()
            .any(|(k, _)| k.eq_ignore_ascii_case("content-type"));
        match mode {
            "raw" => {
                let raw = body.get("raw").and_then(Value::as_str).unwrap_or("");
                if raw.is_empty() {
                    return;
                }
                let language = body
                    .get("options")
                    .and_then(|o| o.get("raw"))
                    .and_then(|o| o.get("language"))
                    .and_then(Value::as_str)
                    .unwrap_or("text");
                if !has_type {
                    let ctype = match language {
                        "json" => "application/json",
                        "xml" => "application/xml",
                        "html" => "text/html",
                        "javascript" => "application/javascript",
                        _ => "text/plain",
                    };
                    req.headers.push(("Content-Type".into(), ctype.into()));
                }
                let text = self.tmpl(raw, index);
                req.data.push((text, false));
            }
            "urlencoded" => {
                for f in body
                    .get("urlencoded")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                {
                    if f.get("disabled") == Some(&Value::Bool(true)) {
                        continue;
                    }
                    let Some(k) = f.get("key").and_then(Value::as_str) else {
                        continue;
                    };
                    let v = f.get("value").and_then(Value::as_str).unwrap_or("");
                    let v = self.tmpl(v, index);
                    req.fields.push((k.to_string(), v));
                }
            }
            "formdata" => {
                for f in body
                    .get("formdata")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                {
                    if f.get("disabled") == Some(&Value::Bool(true)) {
                        continue;
                    }
                    let Some(k) = f.get("key").and_then(Value::as_str) else {
                        continue;
                    };
                    let ctype = f
                        .get("contentType")
                        .and_then(Value::as_str)
                        .filter(|t| !t.is_empty());
                    if f.get("type").and_then(Value::as_str) == Some("file") {
                        let srcs: Vec<String> = match f.get("src") {
                            Some(Value::String(s)) if !s.is_empty() => vec![s.clone()],
                            Some(Value::Array(a)) => a
                                .iter()
                                .filter_map(Value::as_str)
                                .map(str::to_string)
                                .collect(),
                            _ => Vec::new(),
                        };
                        if srcs.is_empty() {
                            self.untranslated(
                                who,
                                format!("form-data file `{k}` (no file chosen)"),
                            );
                        }
                        for src in srcs {
                            let mut spec = format!("{k}=@{src}");
                            if let Some(t) = ctype {
                                spec.push_str(&format!(";type={t}"));
                            }
                            req.form.push(("form-data file".into(), spec, false));
                        }
                    } else {
                        let v = f.get("value").and_then(Value::as_str).unwrap_or("");
                        let v = self.tmpl(v, index);
                        match ctype {
                            None => {
                                req.form
                                    .push(("form-data field".into(), format!("{k}={v}"), true))
                            }
                            Some(t) => {
                                let quoted = v.replace('\\', "\\\\").replace('"', "\\\"");
                                req.form.push((
                                    "form-data field".into(),
                                    format!("{k}=\"{quoted}\";type={t}"),
                                    false,
                                ));
                            }
                        }
                    }
                }
            }
            "graphql" => {
                let g = body.get("graphql");
                let query = g
                    .and_then(|g| g.get("query"))
                    .and_then(Value::as_str)
                    .unwrap_or("");
                let variables = g
                    .and_then(|g| g.get("variables"))
                    .and_then(Value::as_str)
                    .unwrap_or("");
                let variables = if variables.trim().is_empty() {
                    Value::Object(Map::new())
                } else {
                    serde_json::from_str(variables)
                        .unwrap_or_else(|_| Value::String(variables.to_string()))
                };
                let doc = serde_json::json!({"query": query, "variables": variables});
                if !has_type {
                    req.headers
                        .push(("Content-Type".into(), "application/json".into()));
                }
                let text = self.tmpl(&doc.to_string(), index);
                req.data.push((text, false));
            }
            "file" => {
                match body
                    .get("file")
                    .and_then(|f| f.get("src"))
                    .and_then(Value::as_str)
                {
                    Some(src) if !src.is_empty() => *body_file = Some(src.to_string()),
                    _ => self.untranslated(who, "the file body (no file chosen)".into()),
                }
            }
            "" | "none" => {}
            other => self.untranslated(who, format!("body mode `{}`", shown(other))),
        }
    }

    /// The step's `expect` and `extract` from its test script's lines;
    /// what is not translated is noted and commented.
    fn apply(
        &mut self,
        index: usize,
        who: &str,
        script: Vec<(usize, String, Line)>,
        lines: &mut Vec<String>,
    ) -> (Map<String, Value>, Map<String, Value>) {
        let mut expect = Map::new();
        let mut extract = Map::new();
        for (n, text, line) in script {
            let ok = match line {
                Line::Nothing => true,
                Line::Untranslated => false,
                Line::Effects(effects) => {
                    let mut e2 = expect.clone();
                    let mut x2 = extract.clone();
                    let all = effects
                        .into_iter()
                        .all(|ef| self.effect(ef, index, &mut e2, &mut x2));
                    if all {
                        expect = e2;
                        extract = x2;
                    }
                    all
                }
            };
            if !ok {
                self.note(format!("{who}: line {n}: {} — not translated", text.trim()));
                lines.push(format!("test script line {n}: {}", text.trim()));
            }
        }
        (expect, extract)
    }

    fn value(&mut self, v: ExpVal, index: usize) -> Value {
        match v {
            ExpVal::Lit(v) => literal_json(v),
            ExpVal::Var(name) => Value::String(self.var(&name, index, 0)),
        }
    }

    /// Adds one effect; `false` when the step has a different one already.
    fn effect(
        &mut self,
        effect: Effect,
        index: usize,
        expect: &mut Map<String, Value>,
        extract: &mut Map<String, Value>,
    ) -> bool {
        fn put(map: &mut Map<String, Value>, key: &str, v: Value) -> bool {
            match map.get(key) {
                Some(old) => *old == v,
                None => {
                    map.insert(key.to_string(), v);
                    true
                }
            }
        }
        fn sub<'m>(
            map: &'m mut Map<String, Value>,
            key: &str,
        ) -> Option<&'m mut Map<String, Value>> {
            map.entry(key.to_string())
                .or_insert_with(|| Value::Object(Map::new()))
                .as_object_mut()
        }
        match effect {
            Effect::Status(v) => put(expect, "status", v),
            Effect::Check { path, check, value } => {
                let v = self.value(value, index);
                if check == "eq" {
                    sub(expect, "json").is_some_and(|m| put(m, &path, v))
                } else {
                    sub(expect, "assert")
                        .and_then(|m| sub(m, &path))
                        .is_some_and(|m| put(m, check, v))
                }
            }
            Effect::Header { name, check, value } => {
                let v = self.value(value, index);
                let Some(headers) = sub(expect, "headers") else {
                    return false;
                };
                match check {
                    None => put(headers, &name, v),
                    Some(c) => match headers
                        .entry(name)
                        .or_insert_with(|| Value::Object(Map::new()))
                    {
                        Value::Object(m) => put(m, c, v),
                        _ => false,
                    },
                }
            }
            Effect::BodyContains(v) => {
                let v = self.value(v, index);
                match expect
                    .entry("body_contains")
                    .or_insert_with(|| Value::Array(Vec::new()))
                {
                    Value::Array(list) => {
                        if !list.contains(&v) {
                            list.push(v);
                        }
                        true
                    }
                    _ => false,
                }
            }
            Effect::Duration(bound, ms) => sub(expect, "duration")
                .is_some_and(|m| put(m, bound, Value::String(format!("{ms}ms")))),
            Effect::Extract { var, source } => {
                let ident = self.ident(&var);
                put(extract, &ident, Value::String(source))
            }
        }
    }
}

/// Every `auth` in the items, at most [`MAX_DEPTH`] folders deep.
fn collect_auths<'v>(items: Option<&'v Value>, out: &mut Vec<&'v Value>, depth: usize) {
    if depth > MAX_DEPTH {
        return;
    }
    for item in items.and_then(Value::as_array).into_iter().flatten() {
        out.extend(item.get("auth"));
        out.extend(item.get("request").and_then(|r| r.get("auth")));
        collect_auths(item.get("item"), out, depth + 1);
    }
}

/// An auth block's parameters: v2.1 lists `{key, value}`, v2.0 has a map.
fn auth_params(a: &Value) -> Vec<(String, Value)> {
    let kind = a.get("type").and_then(Value::as_str).unwrap_or("");
    match a.get(kind) {
        Some(Value::Array(list)) => list
            .iter()
            .filter_map(|p| {
                let k = p.get("key")?.as_str()?;
                Some((
                    k.to_string(),
                    p.get("value").cloned().unwrap_or(Value::Null),
                ))
            })
            .collect(),
        Some(Value::Object(m)) => m.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
        _ => Vec::new(),
    }
}

/// The request's enabled headers (a list of `{key, value}`, or text).
fn headers(r: &Value) -> Vec<(String, String)> {
    match r.get("header") {
        Some(Value::Array(list)) => list
            .iter()
            .filter(|h| h.get("disabled") != Some(&Value::Bool(true)))
            .filter_map(|h| {
                let k = h.get("key")?.as_str()?;
                if k.is_empty() {
                    return None;
                }
                let v = h.get("value").and_then(Value::as_str).unwrap_or("");
                Some((k.to_string(), v.to_string()))
            })
            .collect(),
        Some(Value::String(text)) => text
            .lines()
            .filter(|l| !l.trim_start().starts_with("//"))
            .filter_map(|l| {
                let (k, v) = l.split_once(':')?;
                Some((k.trim().to_string(), v.trim().to_string()))
            })
            .filter(|(k, _)| !k.is_empty())
            .collect(),
        _ => Vec::new(),
    }
}

/// The request's URL as Postman text (with `{{var}}`): the URL itself
/// (its text, or built from its parts), the path variables (`:id`) put
/// in, the enabled query parameters after `?`. Twice: the second for
/// resolving (the same text).
fn url_text(r: &Value) -> Result<(String, String), ImportError> {
    let url = match r {
        Value::String(s) => return Ok((s.clone(), s.clone())),
        _ => r.get("url"),
    };
    let text = match url {
        None | Some(Value::Null) => return fail("the request has no URL"),
        Some(Value::String(s)) => s.clone(),
        Some(Value::Object(u)) => {
            let raw = u.get("raw").and_then(Value::as_str);
            let (base, raw_query) = match raw {
                Some(raw) => {
                    let raw = raw.split('#').next().unwrap_or(raw);
                    match raw.split_once('?') {
                        Some((b, q)) => (b.to_string(), Some(q.to_string())),
                        None => (raw.to_string(), None),
                    }
                }
                None => {
                    let mut b = String::new();
                    if let Some(p) = u.get("protocol").and_then(Value::as_str) {
                        b.push_str(p);
                        b.push_str("://");
                    }
                    match u.get("host") {
                        Some(Value::Array(parts)) => b.push_str(
                            &parts
                                .iter()
                                .filter_map(Value::as_str)
                                .collect::<Vec<_>>()
                                .join("."),
                        ),
                        Some(Value::String(h)) => b.push_str(h),
                        _ => return fail("the request's URL has neither `raw` nor `host`"),
                    }
                    if let Some(port) = u.get("port") {
                        match port {
                            Value::String(p) => b.push_str(&format!(":{p}")),
                            Value::Number(p) => b.push_str(&format!(":{p}")),
                            _ => {}
                        }
                    }
                    match u.get("path") {
                        Some(Value::Array(parts)) => {
                            for p in parts {
                                let seg = match p {
                                    Value::String(s) => s.as_str(),
                                    Value::Object(o) => {
                                        o.get("value").and_then(Value::as_str).unwrap_or("")
                                    }
                                    _ => "",
                                };
                                b.push('/');
                                b.push_str(seg);
                            }
                        }
                        Some(Value::String(p)) => {
                            if !p.starts_with('/') {
                                b.push('/');
                            }
                            b.push_str(p);
                        }
                        _ => {}
                    }
                    (b, None)
                }
            };
            // Path variables: `/users/:id` with `{key: id, value: 42}`.
            let mut base = base;
            if let Some(vars) = u.get("variable").and_then(Value::as_array) {
                let (scheme, rest) = match base.find("://") {
                    Some(i) => base.split_at(i + 3),
                    None => ("", base.as_str()),
                };
                let replaced: Vec<String> = rest
                    .split('/')
                    .map(|seg| {
                        let value = seg.strip_prefix(':').and_then(|key| {
                            vars.iter()
                                .find(|v| v.get("key").and_then(Value::as_str) == Some(key))
                                .and_then(|v| v.get("value"))
                                .and_then(|v| match v {
                                    Value::String(s) if !s.is_empty() => Some(s.clone()),
                                    Value::Number(n) => Some(n.to_string()),
                                    _ => None,
                                })
                        });
                        value.unwrap_or_else(|| seg.to_string())
                    })
                    .collect();
                base = format!("{scheme}{}", replaced.join("/"));
            }
            let query = match u.get("query").and_then(Value::as_array) {
                Some(params) => {
                    let enabled: Vec<String> = params
                        .iter()
                        .filter(|p| p.get("disabled") != Some(&Value::Bool(true)))
                        .filter_map(|p| {
                            let k = p.get("key").and_then(Value::as_str).unwrap_or("");
                            match p.get("value").and_then(Value::as_str) {
                                Some(v) => Some(format!("{k}={v}")),
                                None if !k.is_empty() => Some(k.to_string()),
                                None => None,
                            }
                        })
                        .collect();
                    (!enabled.is_empty()).then(|| enabled.join("&"))
                }
                None => raw_query,
            };
            match query {
                Some(q) => format!("{base}?{q}"),
                None => base,
            }
        }
        Some(_) => return fail("the request's `url` is neither text nor an object"),
    };
    if text.trim().is_empty() {
        return fail("the request has no URL");
    }
    Ok((text.clone(), text))
}

/// A piece of Postman text: as written, or `{{name}}`.
enum Piece<'t> {
    Text(&'t str),
    Var(&'t str),
}

/// Postman text cut at its `{{name}}`s (a name has no braces or line
/// breaks, and at most 200 characters; anything else stays text).
fn pieces(text: &str) -> Vec<Piece<'_>> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(open) = rest.find("{{") {
        let after = &rest[open + 2..];
        let Some(close) = after.find("}}") else { break };
        let name = &after[..close];
        if name.is_empty() || name.len() > 200 || name.contains(['{', '}', '\n', '\r']) {
            out.push(Piece::Text(&rest[..open + 2]));
            rest = after;
            continue;
        }
        if open > 0 {
            out.push(Piece::Text(&rest[..open]));
        }
        out.push(Piece::Var(name));
        rest = &after[close + 2..];
    }
    if !rest.is_empty() {
        out.push(Piece::Text(rest));
    }
    out
}

/// The variable names Postman text reads.
fn references(text: &str) -> Vec<String> {
    pieces(text)
        .into_iter()
        .filter_map(|p| match p {
            Piece::Var(n) => Some(n.to_string()),
            Piece::Text(_) => None,
        })
        .collect()
}

/// Words run together, each capitalised: `create new-user` → `CreateNewUser`.
fn pascal(text: &str) -> String {
    let mut out = String::new();
    for word in text.split(|c: char| !c.is_ascii_alphanumeric()) {
        let mut cs = word.chars();
        if let Some(first) = cs.next() {
            out.push(first.to_ascii_uppercase());
            out.extend(cs);
        }
    }
    out
}

/// A chain variable name for Postman's `name`, not in `taken`.
fn fresh_ident(name: &str, taken: &HashSet<String>) -> String {
    let mut ident: String = name
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect();
    if ident.is_empty() || ident.chars().all(|c| c == '_') {
        ident = "var".into();
    }
    if ident.starts_with(|c: char| c.is_ascii_digit()) {
        ident.insert_str(0, "v_");
    }
    if RESERVED_VARS.contains(&ident.as_str()) {
        ident.push_str("_var");
    }
    if taken.contains(&ident) {
        let mut n = 2;
        while taken.contains(&format!("{ident}_{n}")) {
            n += 1;
        }
        ident = format!("{ident}_{n}");
    }
    ident
}

/// The lines of the scripts in `events` listening to `listen` (all of
/// them when `None`), numbered from 1.
fn script_lines(events: &Value, listen: &str) -> Vec<(usize, String)> {
    let mut out = Vec::new();
    for ev in events.as_array().into_iter().flatten() {
        if ev.get("listen").and_then(Value::as_str) != Some(listen) {
            continue;
        }
        if ev.get("disabled") == Some(&Value::Bool(true)) {
            continue;
        }
        let exec = ev.get("script").and_then(|s| s.get("exec"));
        let text: Vec<&str> = match exec {
            Some(Value::Array(a)) => a.iter().filter_map(Value::as_str).collect(),
            Some(Value::String(s)) => vec![s.as_str()],
            _ => Vec::new(),
        };
        let mut n = 0;
        for chunk in text {
            for line in chunk.split('\n') {
                n += 1;
                out.push((n, line.trim_end_matches('\r').to_string()));
            }
        }
    }
    out
}

/// Notes and comments for the lines of scripts nothing translates:
/// pre-request scripts (`only`), or every script of a folder or the
/// collection. Blank and `//` lines are left out.
fn script_notes(events: &Value, who: &str, only: Option<&str>) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for listen in ["prerequest", "test"] {
        if only.is_some_and(|o| o != listen) {
            continue;
        }
        let kind = if listen == "test" {
            "test script"
        } else {
            "pre-request script"
        };
        for (n, line) in script_lines(events, listen) {
            let t = line.trim();
            if t.is_empty() || t.starts_with("//") {
                continue;
            }
            out.push((
                format!("{who} ({kind}): line {n}: {t} — not translated"),
                format!("{kind} line {n}: {t}"),
            ));
        }
    }
    out
}

/// A request's test script, line by line, read.
fn test_lines(events: &Value) -> Vec<(usize, String, Line)> {
    let mut bindings: HashSet<String> = HashSet::new();
    // Open blocks: `true` for a `pm.test(…, function () {`.
    let mut blocks: Vec<bool> = Vec::new();
    let mut out = Vec::new();
    for (n, text) in script_lines(events, "test") {
        let t = text.trim();
        let line = if t.is_empty() || t.starts_with("//") {
            Line::Nothing
        } else if t.starts_with('}') {
            match blocks.pop() {
                Some(true) if matches!(t, "});" | "})" | "}) ;") => Line::Nothing,
                _ => Line::Untranslated,
            }
        } else if blocks.iter().any(|b| !b) {
            // Inside an `if`, a loop, a callback: conditional.
            if t.ends_with('{') {
                blocks.push(false);
            }
            Line::Untranslated
        } else if let Some(opened) = test_opener(t) {
            match opened {
                Some(body) => match statements(&body, &mut bindings) {
                    Some(effects) => Line::Effects(effects),
                    None => Line::Untranslated,
                },
                None => {
                    blocks.push(true);
                    Line::Nothing
                }
            }
        } else {
            match statement(t, &mut bindings) {
                Some(Some(effect)) => Line::Effects(vec![effect]),
                Some(None) => Line::Nothing,
                None => {
                    if t.ends_with('{') {
                        blocks.push(false);
                    }
                    Line::Untranslated
                }
            }
        };
        out.push((n, text, line));
    }
    out
}

/// `pm.test("…", function () {` → `Some(None)` (a block opens);
/// `pm.test("…", () => STATEMENT);` or `…{ STATEMENT; });` on one line →
/// `Some(Some(STATEMENT))`; anything else `None`.
fn test_opener(t: &str) -> Option<Option<String>> {
    let inner = t.strip_prefix("pm.test(")?;
    let (_, rest) = js_string(inner.trim_start())?;
    let rest = rest.trim_start().strip_prefix(',')?.trim_start();
    let rest = if let Some(r) = rest.strip_prefix("function") {
        r.trim_start()
    } else {
        rest
    };
    let rest = rest.strip_prefix("()")?.trim_start();
    let rest = rest.strip_prefix("=>").unwrap_or(rest).trim_start();
    if rest == "{" {
        return Some(None);
    }
    let body = rest
        .strip_suffix(';')
        .unwrap_or(rest)
        .trim_end()
        .strip_suffix(')')?
        .trim();
    let body = match body.strip_prefix('{') {
        Some(b) => b.strip_suffix('}')?.trim(),
        None => body,
    };
    Some(Some(body.to_string()))
}

/// Statements separated by `;` (outside quotes and brackets), each read.
fn statements(body: &str, bindings: &mut HashSet<String>) -> Option<Vec<Effect>> {
    let mut effects = Vec::new();
    for s in split_top(body, ';') {
        if s.trim().is_empty() {
            continue;
        }
        if let Some(e) = statement(s.trim(), bindings)? {
            effects.push(e);
        }
    }
    Some(effects)
}

/// One statement: `Some(Some(effect))`, `Some(None)` for a binding of the
/// response's JSON, `None` when not translated.
fn statement(t: &str, bindings: &mut HashSet<String>) -> Option<Option<Effect>> {
    let t = t.trim().trim_end_matches(';').trim_end();
    // `var json = pm.response.json();`
    for kw in ["var ", "let ", "const "] {
        if let Some(rest) = t.strip_prefix(kw) {
            let (name, value) = rest.split_once('=')?;
            let name = name.trim();
            let value = value.trim();
            if is_js_ident(name)
                && matches!(
                    value,
                    "pm.response.json()"
                        | "JSON.parse(responseBody)"
                        | "JSON.parse(pm.response.text())"
                )
            {
                bindings.insert(name.to_string());
                return Some(None);
            }
            return None;
        }
    }
    if let Some(args) = call(t, "pm.response.to.have.status(") {
        let v: Value = serde_json::from_str(args.trim()).ok()?;
        return v.is_u64().then_some(Some(Effect::Status(v)));
    }
    if matches!(t, "pm.response.to.be.ok" | "pm.response.to.be.success") {
        return Some(Some(Effect::Status("2xx".into())));
    }
    if let Some(args) = call(t, "pm.response.to.have.header(") {
        let parts = split_top(args, ',');
        let (name, rest) = js_string(parts.first()?.trim())?;
        if !rest.trim().is_empty() {
            return None;
        }
        return match parts.get(1) {
            None => Some(Some(Effect::Header {
                name,
                check: Some("exists"),
                value: ExpVal::Lit(Value::Bool(true)),
            })),
            Some(v) if parts.len() == 2 => Some(Some(Effect::Header {
                name,
                check: Some("eq"),
                value: exp_value(v.trim())?,
            })),
            _ => None,
        };
    }
    for setter in [
        "pm.environment.set(",
        "pm.collectionVariables.set(",
        "pm.globals.set(",
        "pm.variables.set(",
    ] {
        if let Some(args) = call(t, setter) {
            let parts = split_top(args, ',');
            if parts.len() != 2 {
                return None;
            }
            let (var, rest) = js_string(parts[0].trim())?;
            if !rest.trim().is_empty() || var.is_empty() {
                return None;
            }
            let source = match target(parts[1].trim(), bindings)? {
                Target::Json(path) => path,
                Target::Header(h) => format!("header:{h}"),
                Target::Status => "status".into(),
                Target::Text => "body".into(),
                Target::Length(_) | Target::Time => return None,
            };
            return Some(Some(Effect::Extract { var, source }));
        }
    }
    if let Some(rest) = t.strip_prefix("tests[") {
        // `tests["…"] = responseCode.code === 200`
        let (_, rest) = js_string(rest)?;
        let rest = rest.trim_start().strip_prefix(']')?.trim_start();
        let rest = rest.strip_prefix('=')?.trim_start();
        let rest = rest.strip_prefix("responseCode.code")?.trim_start();
        let rest = rest
            .strip_prefix("===")
            .or_else(|| rest.strip_prefix("=="))?;
        let v: Value = serde_json::from_str(rest.trim()).ok()?;
        return v.is_u64().then_some(Some(Effect::Status(v)));
    }
    let inner = t.strip_prefix("pm.expect(")?;
    let close = closing(inner)?;
    let subject = target(inner[..close].trim(), bindings)?;
    let chain = &inner[close + 1..];
    let chain = chain
        .strip_prefix(".to")
        .or_else(|| chain.strip_prefix(".that"))?;
    let (check, arg) = assertion(chain)?;
    let value = match arg {
        Some(a) => Some(exp_value(a.trim())?),
        None => None,
    };
    let lit = |v: Value| Some(ExpVal::Lit(v));
    let (check, value): (&'static str, ExpVal) = match (check, value) {
        ("true", None) => ("eq", lit(Value::Bool(true))?),
        ("false", None) => ("eq", lit(Value::Bool(false))?),
        ("null", None) => ("eq", lit(Value::Null)?),
        ("exist", None) => ("exists", lit(Value::Bool(true))?),
        ("not.exist", None) => ("exists", lit(Value::Bool(false))?),
        ("type", Some(ExpVal::Lit(Value::String(ty)))) => {
            let ty = match ty.as_str() {
                "string" | "number" | "boolean" | "array" | "object" | "null" => ty,
                _ => return None,
            };
            ("type", ExpVal::Lit(Value::String(ty)))
        }
        (c, Some(v)) if c != "type" => (c, v),
        _ => return None,
    };
    let effect = match subject {
        Target::Status => match (check, value) {
            ("eq", ExpVal::Lit(v)) if v.is_u64() => Effect::Status(v),
            ("one_of", ExpVal::Lit(Value::Array(list))) if list.iter().all(Value::is_u64) => {
                Effect::Status(Value::Array(list))
            }
            _ => return None,
        },
        Target::Json(path) => Effect::Check { path, check, value },
        Target::Length(path) => match check {
            "eq" => Effect::Check {
                path,
                check: "count",
                value,
            },
            _ => return None,
        },
        Target::Header(name) => match check {
            "contains" => Effect::Header {
                name,
                check: None,
                value,
            },
            "eq" | "exists" => Effect::Header {
                name,
                check: Some(check),
                value,
            },
            _ => return None,
        },
        Target::Text => match check {
            "contains" => Effect::BodyContains(value),
            _ => return None,
        },
        Target::Time => match (check, value) {
            ("lt" | "le", ExpVal::Lit(Value::Number(n))) => {
                Effect::Duration(if check == "lt" { "lt" } else { "le" }, n.as_u64()?)
            }
            _ => return None,
        },
    };
    Some(Some(effect))
}

/// The check a chai assertion after `.to` makes, and its argument's text.
fn assertion(chain: &str) -> Option<(&'static str, Option<&str>)> {
    const WITH_ARG: &[(&str, &str)] = &[
        (".eql(", "eq"),
        (".equal(", "eq"),
        (".equals(", "eq"),
        (".eq(", "eq"),
        (".deep.equal(", "eq"),
        (".deep.eql(", "eq"),
        (".be.equal(", "eq"),
        (".be.eql(", "eq"),
        (".include(", "contains"),
        (".includes(", "contains"),
        (".contain(", "contains"),
        (".contains(", "contains"),
        (".have.string(", "contains"),
        (".be.oneOf(", "one_of"),
        (".be.a(", "type"),
        (".be.an(", "type"),
        (".be.above(", "gt"),
        (".be.greaterThan(", "gt"),
        (".be.below(", "lt"),
        (".be.lessThan(", "lt"),
        (".be.at.least(", "ge"),
        (".be.at.most(", "le"),
        (".have.lengthOf(", "count"),
        (".have.length(", "count"),
    ];
    const BARE: &[(&str, &str)] = &[
        (".be.true", "true"),
        (".be.false", "false"),
        (".be.null", "null"),
        (".exist", "exist"),
        (".not.exist", "not.exist"),
    ];
    for (prefix, check) in WITH_ARG {
        if let Some(arg) = chain.strip_prefix(prefix).and_then(|a| a.strip_suffix(')')) {
            if closing(arg).is_some() {
                // `.eql(a).and(…)`: more than one call.
                return None;
            }
            return Some((check, Some(arg)));
        }
    }
    BARE.iter()
        .find(|(b, _)| chain == *b)
        .map(|(_, check)| (*check, None))
}

/// What `pm.expect(…)` or a setter reads from the response.
#[derive(Debug, PartialEq)]
enum Target {
    Json(String),
    /// `.length` of a JSON value.
    Length(String),
    Header(String),
    Status,
    Text,
    Time,
}

fn target(expr: &str, bindings: &HashSet<String>) -> Option<Target> {
    match expr {
        "pm.response.code" | "responseCode.code" | "pm.response.status" => {
            return Some(Target::Status);
        }
        "pm.response.text()" | "responseBody" => return Some(Target::Text),
        "pm.response.responseTime" | "responseTime" => return Some(Target::Time),
        _ => {}
    }
    for getter in ["pm.response.headers.get(", "postman.getResponseHeader("] {
        if let Some(arg) = call(expr, getter) {
            let (name, rest) = js_string(arg.trim())?;
            return rest.trim().is_empty().then_some(Target::Header(name));
        }
    }
    let rest = ["pm.response.json()", "JSON.parse(responseBody)"]
        .iter()
        .find_map(|root| expr.strip_prefix(root))
        .or_else(|| {
            let end = expr
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == '$'))
                .unwrap_or(expr.len());
            bindings.contains(&expr[..end]).then(|| &expr[end..])
        })?;
    let mut path = String::from("$");
    let mut rest = rest;
    let mut length = false;
    while !rest.is_empty() {
        if length {
            return None;
        }
        if let Some(r) = rest.strip_prefix('.') {
            let end = r
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == '$'))
                .unwrap_or(r.len());
            let name = &r[..end];
            if name.is_empty() {
                return None;
            }
            if name == "length" {
                length = true;
            } else if is_js_ident(name) && !name.contains('$') {
                path.push('.');
                path.push_str(name);
            } else {
                path.push_str(&format!("['{name}']"));
            }
            rest = &r[end..];
        } else if let Some(r) = rest.strip_prefix('[') {
            let close = r.find(']')?;
            let inside = r[..close].trim();
            if let Ok(n) = inside.parse::<u64>() {
                path.push_str(&format!("[{n}]"));
            } else {
                let (key, tail) = js_string(inside)?;
                if !tail.is_empty() {
                    return None;
                }
                let escaped = key.replace('\\', "\\\\").replace('\'', "\\'");
                path.push_str(&format!("['{escaped}']"));
            }
            rest = &r[close + 1..];
        } else {
            return None;
        }
    }
    Some(if length {
        Target::Length(path)
    } else {
        Target::Json(path)
    })
}

/// A value a test compares with: JSON, a JS string in `'…'`, or a
/// variable (`pm.environment.get("x")`).
fn exp_value(text: &str) -> Option<ExpVal> {
    for getter in [
        "pm.environment.get(",
        "pm.collectionVariables.get(",
        "pm.globals.get(",
        "pm.variables.get(",
    ] {
        if let Some(arg) = call(text, getter) {
            let (name, rest) = js_string(arg.trim())?;
            return rest.trim().is_empty().then_some(ExpVal::Var(name));
        }
    }
    if let Some((s, rest)) = js_string(text) {
        return rest
            .trim()
            .is_empty()
            .then_some(ExpVal::Lit(Value::String(s)));
    }
    if let Ok(v) = serde_json::from_str::<Value>(text) {
        return Some(ExpVal::Lit(v));
    }
    // `[200, 201]`, `['a', 'b']`: a list of such values.
    let inner = text.strip_prefix('[')?.strip_suffix(']')?;
    let mut list = Vec::new();
    for item in split_top(inner, ',') {
        match exp_value(item.trim())? {
            ExpVal::Lit(v) => list.push(v),
            ExpVal::Var(_) => return None,
        }
    }
    Some(ExpVal::Lit(Value::Array(list)))
}

/// The arguments' text of `t` when it is exactly a call of `prefix…)`.
fn call<'t>(t: &'t str, prefix: &str) -> Option<&'t str> {
    let inner = t.strip_prefix(prefix)?;
    let close = closing(inner)?;
    inner[close + 1..]
        .trim()
        .is_empty()
        .then(|| &inner[..close])
}

/// Where the `)` closing an open `(` is in `text` (after that `(`),
/// skipping quoted text and nested brackets.
fn closing(text: &str) -> Option<usize> {
    let mut depth = 0usize;
    let mut quote: Option<char> = None;
    let mut escaped = false;
    for (i, c) in text.char_indices() {
        if let Some(q) = quote {
            if escaped {
                escaped = false;
            } else if c == '\\' {
                escaped = true;
            } else if c == q {
                quote = None;
            }
            continue;
        }
        match c {
            '"' | '\'' | '`' => quote = Some(c),
            '(' | '[' | '{' => depth += 1,
            ')' if depth == 0 => return Some(i),
            ')' | ']' | '}' => depth = depth.checked_sub(1)?,
            _ => {}
        }
    }
    None
}

/// `text` split at `sep` outside quotes and brackets.
fn split_top(text: &str, sep: char) -> Vec<&str> {
    let mut out = Vec::new();
    let mut depth = 0i32;
    let mut quote: Option<char> = None;
    let mut escaped = false;
    let mut start = 0;
    for (i, c) in text.char_indices() {
        if let Some(q) = quote {
            if escaped {
                escaped = false;
            } else if c == '\\' {
                escaped = true;
            } else if c == q {
                quote = None;
            }
            continue;
        }
        match c {
            '"' | '\'' | '`' => quote = Some(c),
            '(' | '[' | '{' => depth += 1,
            ')' | ']' | '}' => depth -= 1,
            c if c == sep && depth == 0 => {
                out.push(&text[start..i]);
                start = i + c.len_utf8();
            }
            _ => {}
        }
    }
    out.push(&text[start..]);
    out
}

/// A JS string at the start of `text` (`"…"`, `'…'`, or `` `…` `` without
/// `${`): its value, and the text after it.
fn js_string(text: &str) -> Option<(String, &str)> {
    let mut chars = text.char_indices();
    let (_, q) = chars.next()?;
    if !matches!(q, '"' | '\'' | '`') {
        return None;
    }
    let mut out = String::new();
    while let Some((i, c)) = chars.next() {
        match c {
            '\\' => {
                let (_, e) = chars.next()?;
                out.push(match e {
                    'n' => '\n',
                    't' => '\t',
                    'r' => '\r',
                    '0' => '\0',
                    'u' | 'x' => return None,
                    other => other,
                });
            }
            '$' if q == '`' && text[i..].starts_with("${") => return None,
            c if c == q => return Some((out, &text[i + 1..])),
            c => out.push(c),
        }
    }
    None
}

/// A template string literal of `text`: `'…'`.
fn jinja_str(text: &str) -> String {
    format!("'{}'", text.replace('\\', "\\\\").replace('\'', "\\'"))
}

fn is_js_ident(name: &str) -> bool {
    name.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_' || c == '$')
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '$')
}

/// `text` with each of `values` written `***`, and text that looks like
/// a credential in quotes (a JWT, a long random token) too.
fn mask(text: &str, values: &[String]) -> String {
    let mut out = text.to_string();
    for v in values {
        out = out.replace(v.as_str(), "***");
    }
    // Quoted words that look like tokens.
    let mut result = String::with_capacity(out.len());
    let mut rest = out.as_str();
    while let Some(i) = rest.find(['"', '\'']) {
        let q = rest[i..].chars().next().unwrap_or('"');
        result.push_str(&rest[..=i]);
        let after = &rest[i + 1..];
        match after.find(q) {
            Some(end) => {
                let word = &after[..end];
                if request::session_cookie("", word) {
                    result.push_str("***");
                } else {
                    result.push_str(word);
                }
                result.push(q);
                rest = &after[end + 1..];
            }
            None => {
                rest = after;
            }
        }
    }
    result.push_str(rest);
    result
}

/// One line of comment text: no line breaks or other control characters.
fn comment_text(text: &str) -> String {
    text.chars()
        .map(|c| {
            if c.is_control() || matches!(c, '\u{2028}' | '\u{2029}' | '\u{85}' | '\u{feff}') {
                ' '
            } else {
                c
            }
        })
        .collect::<String>()
        .trim_end()
        .to_string()
}

/// The YAML with `header` as comments at the top, and each step's
/// comment lines above its `- name:` in the top-level `steps:` list.
/// serde_saphyr writes no comments; this only inserts whole `#` lines
/// between the document's lines, so what the YAML says is unchanged.
pub(crate) fn with_comments(
    yaml: &str,
    header: &[String],
    steps: &[(String, Vec<String>)],
) -> String {
    let mut out = String::with_capacity(yaml.len() * 2);
    for h in header {
        out.push_str(&format!("# {}\n", comment_text(h)));
    }
    let by_name: HashMap<&str, &Vec<String>> = steps.iter().map(|(n, l)| (n.as_str(), l)).collect();
    let mut in_steps = false;
    let mut done: HashSet<&str> = HashSet::new();
    for line in yaml.lines() {
        if !line.starts_with([' ', '-', '#']) && !line.is_empty() {
            in_steps = line == "steps:";
        }
        if in_steps && let Some(name) = line.strip_prefix("- name: ") {
            let name = name.trim().trim_matches(|c| c == '\'' || c == '"');
            if let Some((&key, lines)) = by_name.get_key_value(name)
                && done.insert(key)
            {
                for l in lines.iter() {
                    out.push_str(&format!("# {}\n", comment_text(l)));
                }
            }
        }
        out.push_str(line);
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(t: &str) -> Option<Option<Effect>> {
        let mut b: HashSet<String> = ["json".to_string()].into();
        statement(t, &mut b)
    }

    #[test]
    fn script_statements() {
        assert_eq!(
            read("pm.response.to.have.status(201);"),
            Some(Some(Effect::Status(201.into())))
        );
        assert_eq!(
            read("pm.expect(json.user['first-name']).to.eql('Ada');"),
            Some(Some(Effect::Check {
                path: "$.user['first-name']".into(),
                check: "eq",
                value: ExpVal::Lit("Ada".into())
            }))
        );
        assert_eq!(
            read("pm.expect(pm.response.json().items.length).to.equal(2)"),
            Some(Some(Effect::Check {
                path: "$.items".into(),
                check: "count",
                value: ExpVal::Lit(2.into())
            }))
        );
        assert_eq!(
            read("pm.environment.set(\"token\", json.data[0].access_token);"),
            Some(Some(Effect::Extract {
                var: "token".into(),
                source: "$.data[0].access_token".into()
            }))
        );
        assert_eq!(
            read("pm.expect(pm.response.headers.get('Content-Type')).to.include('json')"),
            Some(Some(Effect::Header {
                name: "Content-Type".into(),
                check: None,
                value: ExpVal::Lit("json".into())
            }))
        );
        assert_eq!(
            read("pm.expect(json.id).to.eql(pm.environment.get(\"userId\"))"),
            Some(Some(Effect::Check {
                path: "$.id".into(),
                check: "eq",
                value: ExpVal::Var("userId".into())
            }))
        );
        // Not translated: other variables, calls after the assertion,
        // values set from elsewhere than the response, templates in `${}`.
        assert_eq!(read("pm.expect(other.id).to.eql(1)"), None);
        assert_eq!(
            read("pm.expect(json.id).to.eql(1).and.to.be.a('number')"),
            None
        );
        assert_eq!(read("pm.environment.set('t', 'abc')"), None);
        assert_eq!(read("pm.expect(json.a).to.eql(`x${y}`)"), None);
        assert_eq!(read("console.log(json)"), None);
        assert_eq!(
            read("tests[\"ok\"] = responseCode.code === 200;"),
            Some(Some(Effect::Status(200.into())))
        );
    }

    #[test]
    fn test_blocks_and_conditions() {
        let events = serde_json::json!([{"listen": "test", "script": {"exec": [
            "pm.test(\"ok\", function () {",
            "    pm.response.to.have.status(200);",
            "});",
            "if (pm.response.code === 200) {",
            "    pm.environment.set('t', pm.response.json().t);",
            "}",
            "pm.test('one', () => pm.response.to.have.status(200));",
            "// a comment",
        ]}}]);
        let lines = test_lines(&events);
        let kinds: Vec<&str> = lines
            .iter()
            .map(|(_, _, l)| match l {
                Line::Nothing => "nothing",
                Line::Effects(_) => "effects",
                Line::Untranslated => "untranslated",
            })
            .collect();
        assert_eq!(
            kinds,
            [
                "nothing",
                "effects",
                "nothing",
                "untranslated",
                "untranslated",
                "untranslated",
                "effects",
                "nothing"
            ]
        );
    }

    #[test]
    fn variable_names_and_pieces() {
        let taken: HashSet<String> = ["Login".to_string(), "base_url".to_string()].into();
        assert_eq!(fresh_ident("base-url", &taken), "base_url_2");
        assert_eq!(fresh_ident("1st key", &HashSet::new()), "v_1st_key");
        assert_eq!(fresh_ident("env", &HashSet::new()), "env_var");
        assert_eq!(fresh_ident("Login", &taken), "Login_2");
        let p: Vec<String> = pieces("a {{x}} {{ {{y}} {{}}")
            .into_iter()
            .map(|p| match p {
                Piece::Text(t) => format!("T({t})"),
                Piece::Var(v) => format!("V({v})"),
            })
            .collect();
        assert_eq!(
            p,
            ["T(a )", "V(x)", "T( {{)", "T( )", "V(y)", "T( {{)", "T(}})"]
        );
    }

    #[test]
    fn comments_go_above_their_steps_and_change_nothing() {
        let yaml = "name: x\nsteps:\n- name: A\n  url: http://a/\n  body:\n  - name: A\n- name: B\n  url: http://b/\n";
        let out = with_comments(
            yaml,
            &["top\nline".into()],
            &[
                (
                    "A".into(),
                    vec!["Folder / A".into(), "line 2: x\u{2028}y".into()],
                ),
                ("B".into(), vec!["B".into()]),
            ],
        );
        assert_eq!(
            out,
            "# top line\nname: x\nsteps:\n# Folder / A\n# line 2: x y\n- name: A\n  url: http://a/\n  body:\n  - name: A\n# B\n- name: B\n  url: http://b/\n"
        );
        let a: serde_json::Value = serde_saphyr::from_str(yaml).unwrap();
        let b: serde_json::Value = serde_saphyr::from_str(&out).unwrap();
        assert_eq!(a, b);
    }

    #[test]
    fn masks_known_values_and_token_like_quotes() {
        let m = mask(
            "pm.environment.set('k', 'eyJhbGciOi.x.y'); let p = \"hunter22\"; 'short'",
            &["hunter22".into()],
        );
        assert_eq!(
            m,
            "pm.environment.set('k', '***'); let p = \"***\"; 'short'"
        );
    }
}
