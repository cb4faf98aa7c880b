//! `inputs:` and `outputs:`: each declaration's schema checked and
//! compiled; the values callers gave checked against them.

use indexmap::IndexMap;
use serde_json::Value;

use super::Validator;
use crate::chain::model::Chain;
use crate::chain::spans::join_key;
use crate::plan::inputs::{Input, KEYWORDS};

/// What `inputs:` and `outputs:` compile to.
pub(super) struct Declared {
    pub(super) inputs: Vec<Input>,
    pub(super) missing: Vec<String>,
    pub(super) outputs: Vec<Input>,
}

impl Validator<'_> {
    /// Compiles `inputs:` and `outputs:`, checks the values `vars` holds for
    /// inputs (a caller gave them: a chain's own `vars:` may not name an
    /// input), and fills in defaults. A required input with no value is
    /// recorded as missing and set to `null`, so templates still check.
    pub(super) fn declared(
        &mut self,
        chain: &Chain,
        vars: &mut IndexMap<String, Value>,
    ) -> Declared {
        let mut inputs = Vec::new();
        let mut missing = Vec::new();
        for (name, spec) in &chain.inputs {
            let at = join_key("inputs", name);
            if chain.vars.contains_key(name) {
                self.error(
                    &join_key("vars", name),
                    format!("`{name}` is an input and a variable"),
                    Some(
                        "help: give the input a `default:` instead of a value under `vars:`".into(),
                    ),
                );
                continue;
            }
            let Some(input) = self.declaration(&at, name, spec, true) else {
                continue;
            };
            match vars.get_mut(name) {
                Some(value) => {
                    if let Err(e) = input.check(value) {
                        self.error(&at, e, Some("note: the value came from `--var`, `--vars-file`, a `--data` row or a sub-chain's `with:`".into()));
                    }
                }
                None => {
                    if input.required {
                        missing.push(name.clone());
                    }
                    vars.insert(name.clone(), input.default.clone().unwrap_or(Value::Null));
                }
            }
            inputs.push(input);
        }
        let mut outputs = Vec::new();
        for (name, spec) in &chain.outputs {
            if let Some(o) = self.declaration(&join_key("outputs", name), name, spec, false) {
                outputs.push(o);
            }
        }
        if !outputs.is_empty() {
            match &chain.output {
                Some(Value::Object(map)) => {
                    for o in &outputs {
                        if !map.contains_key(&o.name) {
                            self.error(
                                "output",
                                format!("`output` has no `{}`, which `outputs:` declares", o.name),
                                None,
                            );
                        }
                    }
                }
                _ => self.error(
                    "outputs",
                    "`outputs:` declares keys: `output` must be a map that has them",
                    None,
                ),
            }
        }
        Declared {
            inputs,
            missing,
            outputs,
        }
    }

    /// One declaration: a map of schema keywords (and, for an input,
    /// `required`), compiled.
    fn declaration(&mut self, at: &str, name: &str, spec: &Value, input: bool) -> Option<Input> {
        if !crate::chain::model::is_identifier(name)
            || super::RESERVED.contains(&name)
            || name == crate::plan::TRIGGER_VAR
        {
            self.error(
                at,
                format!("`{name}` cannot name an input or an output"),
                Some("help: names look like identifiers and cannot be `steps`, `env`, `item`, `index` or `trigger`".into()),
            );
            return None;
        }
        let Value::Object(map) = spec else {
            self.error_value(
                at,
                format!("`{name}` must be a map (`type:`, `description:`, `default:`…)"),
                None,
            );
            return None;
        };
        let mut schema = map.clone();
        let required = match schema.remove("required") {
            None => None,
            Some(Value::Bool(b)) if input => Some(b),
            Some(_) => {
                self.error_value(
                    &join_key(at, "required"),
                    if input {
                        "`required` is `true` or `false`"
                    } else {
                        "an output has no `required`"
                    },
                    None,
                );
                return None;
            }
        };
        for key in schema.keys() {
            if !KEYWORDS.contains(&key.as_str()) {
                let hint = crate::diagnostic::suggest(key, KEYWORDS.iter().copied())
                    .map(|b| format!("help: did you mean `{b}`?"));
                self.error(&join_key(at, key), format!("unknown key `{key}`"), hint);
                return None;
            }
        }
        match Input::new(name, Value::Object(schema), required) {
            Ok(i) => Some(i),
            Err(e) => {
                self.error_value(at, e, None);
                None
            }
        }
    }
}
