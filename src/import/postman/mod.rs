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
    self, ImportError, Imported, Secrets, fail, secret_base, secret_field, shown,
};

mod effects;
mod script;
mod step;
mod text;
mod variables;

use script::*;
use text::*;

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
