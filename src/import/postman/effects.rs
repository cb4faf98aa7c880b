//! What a test script's translated lines do to a step: `expect`
//! entries and `extract`s.

use serde_json::{Map, Value};

use super::request::literal_json;

use super::*;

impl Importer<'_> {
    /// The step's `expect` and `extract` from its test script's lines;
    /// what is not translated is noted and commented.
    pub(super) fn apply(
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

    pub(super) fn value(&mut self, v: ExpVal, index: usize) -> Value {
        match v {
            ExpVal::Lit(v) => literal_json(v),
            ExpVal::Var(name) => Value::String(self.var(&name, index, 0)),
        }
    }

    /// Adds one effect; `false` when the step has a different one already.
    pub(super) fn effect(
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
