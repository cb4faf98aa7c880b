//! `expect:` compiled: statuses, equal values, checks on values and
//! headers (their shape and patterns checked now, their templates
//! compiled), bounds, and the JSON Schema a body must match.

use serde_json::Value;

use super::{Validator, chain_dir};
use crate::chain::expect::Checks;
use crate::chain::model::{StatusSpec, Step};
use crate::chain::spans::{join_index, join_key};
use crate::jsonpath::JsonPath;
use crate::plan::{BodySchema, Expectations, HeaderCheck};
use crate::template::Tmpl;

const CHECKS_HELP: &str = "help: checks are eq, ne, lt, le, gt, ge, contains, starts_with, ends_with, matches, exists, type, one_of, count, is_empty, every, some, not; e.g. `{gt: 0}` or `{count: {ge: 1}}`";

impl Validator<'_> {
    /// `expect:`: statuses, JSONPath values, headers, body text.
    pub(super) fn step_expect(&mut self, step: &Step, i: usize, base: &str) -> Expectations {
        let mut expect = Expectations::default();
        let Some(e) = &step.expect else {
            return expect;
        };
        let epath = join_key(base, "expect");
        expect.status = match &e.status {
            None => Vec::new(),
            Some(StatusSpec::One(p)) => vec![*p],
            Some(StatusSpec::Many(list)) => list.clone(),
        };
        for (jp, want) in &e.json {
            let p = join_key(&join_key(&epath, "json"), jp);
            match JsonPath::compile(jp) {
                Ok(compiled) => {
                    if let Some(t) = self.compile(&p, want, i) {
                        expect.json.push((compiled, t));
                    }
                }
                Err(msg) => self.error(&p, msg, None),
            }
        }
        for (name, want) in &e.headers {
            let p = join_key(&join_key(&epath, "headers"), name);
            let check = match want {
                Value::Object(_) => self.checks(&p, want, i).map(HeaderCheck::Checks),
                Value::String(_) | Value::Number(_) | Value::Bool(_) => {
                    self.compile(&p, want, i).map(HeaderCheck::Contains)
                }
                _ => {
                    self.error_value(
                        &p,
                        format!("`expect.headers.{name}` is neither text the value must contain nor a map of checks"),
                        Some("help: e.g. `json`, or `{matches: \"^application/json\"}`, or `{exists: false}`".into()),
                    );
                    None
                }
            };
            if let Some(c) = check {
                expect.headers.push((name.clone(), c));
            }
        }
        for (jp, want) in &e.assert {
            let p = join_key(&join_key(&epath, "assert"), jp);
            let path = match JsonPath::compile(jp) {
                Ok(compiled) => Some(compiled),
                Err(msg) => {
                    self.error(&p, msg, None);
                    None
                }
            };
            if let (Some(path), Some(t)) = (path, self.checks(&p, want, i)) {
                expect.asserts.push((path, t));
            }
        }
        if let Some(d) = &e.duration {
            if d.is_empty() {
                self.error_value(
                    &join_key(&epath, "duration"),
                    "`expect.duration` gives no bound",
                    Some("help: e.g. `{lt: 500ms}`; bounds are lt, le, gt, ge".into()),
                );
            }
            expect.duration = *d;
        }
        if let Some(b) = &e.body_size {
            if b.is_empty() {
                self.error_value(
                    &join_key(&epath, "body_size"),
                    "`expect.body_size` gives no bound",
                    Some("help: e.g. `{le: 1MiB}`; bounds are lt, le, gt, ge".into()),
                );
            }
            expect.body_size = *b;
        }
        if let Some(schema) = &e.schema {
            expect.schema = self.body_schema(&join_key(&epath, "schema"), schema);
        }
        if let Some(bc) = &e.body_contains {
            let texts = bc.clone().into_vec();
            for (k, text) in texts.iter().enumerate() {
                let p = if texts.len() == 1 && matches!(bc, crate::chain::model::OneOrMany::One(_))
                {
                    join_key(&epath, "body_contains")
                } else {
                    join_index(&join_key(&epath, "body_contains"), k)
                };
                if let Some(t) = self.compile_text(&p, text, i) {
                    expect.body_contains.push(t);
                }
            }
        }
        for (k, cond) in e.that.iter().enumerate() {
            let p = join_index(&join_key(&epath, "that"), k);
            if let Some(t) = self.compile_text(&p, cond, i) {
                expect.that.push((cond.clone(), t));
            }
        }
        expect
    }

    /// A map of checks (`expect.assert`, a header's): its shape checked now,
    /// its templates compiled, its patterns tried when they are not templates.
    fn checks(&mut self, path: &str, value: &Value, i: usize) -> Option<Tmpl> {
        let checks: Checks = match serde_json::from_value(value.clone()) {
            Ok(c) => c,
            Err(e) => {
                self.error_value(
                    path,
                    format!("not a map of checks: {e}"),
                    Some(CHECKS_HELP.into()),
                );
                return None;
            }
        };
        if checks.is_empty() {
            self.error_value(path, "no check given", Some(CHECKS_HELP.into()));
            return None;
        }
        let mut ok = true;
        for pattern in checks.patterns() {
            if pattern.contains("{{") || pattern.contains("{%") {
                continue;
            }
            if let Err(e) = crate::chain::expect::regex(pattern) {
                self.error_value(path, e, None);
                ok = false;
            }
        }
        let t = self.compile(path, value, i)?;
        ok.then_some(t)
    }

    /// `expect.schema`: a file beside the chain (JSON, or YAML by its
    /// extension), or the schema itself.
    fn body_schema(&mut self, path: &str, schema: &Value) -> Option<BodySchema> {
        let (source, value) = match schema {
            Value::String(file) => {
                let full = chain_dir(&self.source.name).join(file);
                let text = match self.resolved.text(&full) {
                    Ok(t) => t,
                    Err(e) => {
                        self.error_value(
                            path,
                            format!("cannot read {}: {e}", full.display()),
                            None,
                        );
                        return None;
                    }
                };
                let yaml = full.extension().and_then(|x| x.to_str()).is_some_and(|x| {
                    x.eq_ignore_ascii_case("yaml") || x.eq_ignore_ascii_case("yml")
                });
                let parsed = if yaml {
                    crate::chain::yaml::read_yaml(text)
                        .map(|(v, _)| v)
                        .map_err(|e| e.message)
                } else {
                    serde_json::from_str::<Value>(text).map_err(|e| e.to_string())
                };
                match parsed {
                    Ok(v) => (full.display().to_string(), v),
                    Err(e) => {
                        self.error_value(
                            path,
                            format!(
                                "{} is not {}: {e}",
                                full.display(),
                                if yaml { "YAML" } else { "JSON" }
                            ),
                            None,
                        );
                        return None;
                    }
                }
            }
            Value::Object(_) | Value::Bool(_) => ("`expect.schema`".to_string(), schema.clone()),
            _ => {
                self.error_value(
                    path,
                    "`expect.schema` is a file name or a JSON Schema (a map)",
                    None,
                );
                return None;
            }
        };
        match BodySchema::new(source.clone(), &value) {
            Ok(s) => Some(s),
            Err(e) => {
                self.error_value(path, format!("{source}: {e}"), None);
                None
            }
        }
    }
}
