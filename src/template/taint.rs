//! Redaction by taint: a value a template computed from a secret is itself
//! a secret. `{{ secret('t') | b64encode }}`, `{{ env.GITHUB_TOKEN | upper }}`
//! and a sub-chain's `{{ token }}` (given `with: {token: "{{ secret('t') }}"}`)
//! all render to text the redactor never saw; so whatever such a template
//! renders is told to the redactor as it is rendered, before anything can
//! write it.
//!
//! A template "bears a secret" when it calls `secret(…)`, reads an
//! environment variable named like one (`PYTOPUS_SECRET_*`, `*_TOKEN`,
//! `*_SECRET`, `*_PASSWORD`, `*_KEY`…), or reads a variable whose value is a
//! secret. Of a text template, only what its secret-bearing `{{ … }}` blocks
//! print is secret (`https://api.test/?key={{ secret('k') }}` redacts to
//! `https://api.test/?key=***`), unless `{% … %}` blocks make the parts
//! impossible to tell apart: then all of it is.

use minijinja::Value as MjValue;
use serde_json::Value;

use super::{Templates, find_open, root_and_child};

/// Words that make an environment variable's value a secret by its name.
const SECRET_WORDS: &[&str] = &[
    "TOKEN",
    "SECRET",
    "PASSWORD",
    "PASSWD",
    "PASS",
    "KEY",
    "APIKEY",
    "CREDENTIAL",
    "CREDENTIALS",
    "AUTH",
    "COOKIE",
    "SESSION",
    "PRIVATE",
];

/// An environment variable whose value is a secret by its name:
/// `PYTOPUS_SECRET_*`, or one with a word of [`SECRET_WORDS`] among its
/// `_`-separated parts (`GITHUB_TOKEN`, `AWS_SECRET_ACCESS_KEY`, `DB_PASSWORD`).
pub fn secret_env_name(name: &str) -> bool {
    let upper = name.to_ascii_uppercase();
    upper.starts_with("PYTOPUS_SECRET_")
        || upper
            .split(['_', '-', '.'])
            .any(|part| SECRET_WORDS.contains(&part))
}

impl Templates {
    /// Variables whose values are secrets; templates compiled after this
    /// that read them bear a secret.
    pub fn set_secret_vars(&mut self, names: impl IntoIterator<Item = String>) {
        self.secret_vars.extend(names);
    }

    /// Whether a template (its text and the names it reads) bears a secret.
    pub(super) fn bears_secret(&self, source: &str, names: &[String]) -> bool {
        source.contains("secret(")
            || names.iter().any(|n| {
                let (root, child) = root_and_child(n);
                (root == "env" && child.is_some_and(secret_env_name))
                    || self.secret_vars.contains(root)
            })
    }

    /// Tells the redactor a secret value, when there is one to tell.
    fn taint(&self, text: &str) {
        if text.is_empty() {
            return;
        }
        if let Ok(slot) = self.secrets.read()
            && let Some(secrets) = slot.as_ref()
        {
            secrets.redactor().add(text);
        }
    }

    /// Every string (and number, as text) of a rendered value is secret.
    pub(super) fn taint_value(&self, v: &Value) {
        match v {
            Value::String(s) => self.taint(s),
            Value::Number(n) => self.taint(&n.to_string()),
            Value::Array(items) => items.iter().for_each(|i| self.taint_value(i)),
            Value::Object(map) => map.values().for_each(|i| self.taint_value(i)),
            Value::Null | Value::Bool(_) => {}
        }
    }

    /// What a secret-bearing text template printed from its secrets.
    pub(super) fn taint_text(&self, source: &str, rendered: &str, ctx: &MjValue) {
        let Some(blocks) = expression_blocks(source) else {
            return self.taint(rendered);
        };
        for expr in blocks {
            let names = self
                .env()
                .compile_expression(expr)
                .map(|e| e.undeclared_variables(true).into_iter().collect::<Vec<_>>());
            let Ok(names) = names else {
                return self.taint(rendered);
            };
            if !self.bears_secret(expr, &names) {
                continue;
            }
            let printed = self
                .env()
                .compile_expression(expr)
                .and_then(|e| e.eval(ctx.clone()))
                .map(|v| v.to_string());
            match printed {
                Ok(text) => self.taint(&text),
                // It rendered as part of the whole; alone it cannot: keep
                // all of it secret rather than guess.
                Err(_) => return self.taint(rendered),
            }
        }
    }
}

/// The expressions of the `{{ … }}` blocks of `source`, or `None` when it
/// has `{% … %}` blocks (whose output cannot be told apart).
fn expression_blocks(source: &str) -> Option<Vec<&str>> {
    let mut out = Vec::new();
    let mut rest = source;
    while let Some(open) = find_open(rest, b"{%#") {
        let kind = rest.as_bytes()[open + 1];
        let close = match kind {
            b'{' => "}}",
            b'#' => "#}",
            _ => return None,
        };
        let after = &rest[open + 2..];
        let end = after.find(close)?;
        if kind == b'{' {
            let inner = &after[..end];
            let inner = inner.strip_prefix(['-', '+']).unwrap_or(inner);
            let inner = inner.strip_suffix(['-', '+']).unwrap_or(inner);
            out.push(inner);
        }
        rest = &after[end + 2..];
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::secret::{MemoryStore, Redactor, Secret, SecretStore, Secrets};
    use std::sync::Arc;

    fn templates_with(secret: &str) -> (Templates, Redactor) {
        let redactor = Redactor::default();
        let store = Arc::new(MemoryStore::default());
        store.set("tok", &Secret::new(secret)).unwrap();
        let t = Templates::new();
        t.set_secrets(Secrets::new(
            move || Ok(store.clone() as Arc<dyn SecretStore>),
            redactor.clone(),
        ));
        (t, redactor)
    }

    #[test]
    fn env_names_that_hold_secrets() {
        for yes in [
            "PYTOPUS_SECRET_X",
            "GITHUB_TOKEN",
            "AWS_SECRET_ACCESS_KEY",
            "DB_PASSWORD",
            "api_key",
            "OPENAI_API_KEY",
            "SESSION_COOKIE",
        ] {
            assert!(secret_env_name(yes), "{yes}");
        }
        for no in [
            "HOME",
            "PATH",
            "BASE_URL",
            "KEYBOARD",
            "TOKENIZER_MODEL",
            "USER",
        ] {
            assert!(!secret_env_name(no), "{no}");
        }
    }

    #[test]
    fn what_a_secret_turns_into_is_a_secret() {
        let (mut t, redactor) = templates_with("s3cr3t-value");
        let ctx = crate::template::from_json(&serde_json::json!({"user": "ann"}));
        for (source, rendered_secret) in [
            ("{{ secret('tok') | b64encode }}", "czNjcjN0LXZhbHVl"),
            ("{{ secret('tok') | upper }}", "S3CR3T-VALUE"),
            (
                "{{ (user ~ ':' ~ secret('tok')) | b64encode }}",
                "YW5uOnMzY3IzdC12YWx1ZQ==",
            ),
            (
                "Basic {{ (user ~ ':' ~ secret('tok')) | b64encode }}",
                "YW5uOnMzY3IzdC12YWx1ZQ==",
            ),
            ("{{ secret('tok') | replace('-', '~') }}!", "s3cr3t~value"),
        ] {
            let tmpl = t.compile_str(source).unwrap();
            let out = t.render_string(&tmpl, &ctx).unwrap();
            assert!(out.contains(rendered_secret), "{source}: {out}");
            let shown = redactor.redact(&out);
            assert!(!shown.contains(rendered_secret), "{source}: {shown}");
        }
        // Only the secret part of a text template is secret.
        let tmpl = t
            .compile_str("https://api.test/{{ user }}?key={{ secret('tok') | urlencode }}")
            .unwrap();
        let out = t.render_string(&tmpl, &ctx).unwrap();
        assert_eq!(redactor.redact(&out), "https://api.test/ann?key=***");
        // With `{% %}` the parts cannot be told apart: all of it is secret.
        let tmpl = t
            .compile_str("{% if user %}{{ secret('tok') | lower }}-{{ user }}{% endif %}")
            .unwrap();
        let out = t.render_string(&tmpl, &ctx).unwrap();
        assert_eq!(redactor.redact(&out), "***");
    }

    #[test]
    fn secret_vars_and_env_names_taint_what_reads_them() {
        let (mut t, redactor) = templates_with("unused-secret");
        t.set_secret_vars(["token".to_string()]);
        let ctx = crate::template::from_json(&serde_json::json!({"token": "with-passed-value"}));
        let tmpl = t.compile_str("{{ token | b64encode }}").unwrap();
        let out = t.render_string(&tmpl, &ctx).unwrap();
        assert_eq!(redactor.redact(&out), "***");
    }
}
