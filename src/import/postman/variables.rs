//! Postman's variables in a step: resolved, made templates, inputs or
//! secrets, and the values that are credentials.

use serde_json::{Map, Value};

use super::request::literal;

use super::*;

impl Importer<'_> {
    /// Variables read where a credential goes (a password, a token, an
    /// API key, a credential header) are secrets whatever their names.
    pub(super) fn mark_credentials(&mut self, root: &Map<String, Value>) {
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
    pub(super) fn resolve(&self, text: &str, depth: usize) -> Option<String> {
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
    pub(super) fn tmpl(&mut self, text: &str, index: usize) -> String {
        self.tmpl_at(text, index, 0)
    }

    pub(super) fn tmpl_at(&mut self, text: &str, index: usize, depth: usize) -> String {
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
    pub(super) fn var(&mut self, name: &str, index: usize, depth: usize) -> String {
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
    pub(super) fn secret_var(&mut self, name: &str) -> String {
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
    pub(super) fn credential(
        &mut self,
        text: &str,
        index: usize,
        what: &str,
        from: &str,
    ) -> String {
        let t = self.tmpl(text, index);
        self.secrets.credential(true, what, from, &t)
    }
}
