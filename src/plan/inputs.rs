//! A chain's declared inputs (`inputs:`): each a name with a JSON Schema
//! subset, checked wherever a caller gives values — `--var`,
//! `--vars-file`, `--data` rows, a sub-chain's `with:`, the `serve` API —
//! before anything is sent.

use std::sync::Arc;

use indexmap::IndexMap;
use serde_json::{Map, Value};

/// The schema keywords an input may use: enough to describe a function's
/// parameters, and nothing that reaches outside the chain (`$ref`).
pub const KEYWORDS: &[&str] = &[
    "type",
    "description",
    "default",
    "enum",
    "const",
    "minimum",
    "maximum",
    "exclusiveMinimum",
    "exclusiveMaximum",
    "multipleOf",
    "minLength",
    "maxLength",
    "pattern",
    "format",
    "items",
    "minItems",
    "maxItems",
    "uniqueItems",
    "properties",
    "additionalProperties",
    "examples",
    "title",
];

/// One declared input, its schema compiled.
#[derive(Clone)]
pub struct Input {
    pub name: String,
    pub description: Option<String>,
    /// A caller must give it (`required: true`; by default, when it has
    /// no `default`).
    pub required: bool,
    pub default: Option<Value>,
    /// The schema as written (without `required`), for `pytopus inputs`.
    pub schema: Value,
    validator: Arc<jsonschema::Validator>,
}

impl std::fmt::Debug for Input {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Input")
            .field("name", &self.name)
            .field("required", &self.required)
            .finish_non_exhaustive()
    }
}

impl Input {
    /// Compiles `schema` (the input's map without `required`); the error
    /// says what is wrong with the schema itself.
    pub fn new(name: &str, schema: Value, required: Option<bool>) -> Result<Input, String> {
        let validator = jsonschema::options()
            .with_pattern_options(jsonschema::PatternOptions::regex().size_limit(1 << 20))
            .should_validate_formats(true)
            .build(&schema)
            .map_err(|e| format!("the schema of input `{name}` is not valid: {e}"))?;
        let default = schema.get("default").cloned();
        if let Some(d) = &default
            && let Some(e) = validator.iter_errors(d).next()
        {
            return Err(format!(
                "the `default` of input `{name}` does not fit its schema: {}",
                describe(&e)
            ));
        }
        Ok(Input {
            name: name.to_string(),
            description: schema
                .get("description")
                .and_then(Value::as_str)
                .map(str::to_string),
            required: required.unwrap_or(default.is_none()),
            default,
            schema,
            validator: Arc::new(validator),
        })
    }

    /// The type the schema names, if one.
    fn kind(&self) -> Option<&str> {
        self.schema.get("type").and_then(Value::as_str)
    }

    /// Checks a value a caller gave, after reading text as the declared
    /// type (`"42"` from a CSV cell or `--var` is the integer 42): the
    /// problems, each naming the input.
    pub fn check(&self, value: &mut Value) -> Result<(), String> {
        self.check_as("input", value)
    }

    /// [`Self::check`], naming it as `what` (`input`, `output`).
    pub fn check_as(&self, what: &str, value: &mut Value) -> Result<(), String> {
        if let Value::String(text) = &*value
            && let Some(read) = read_as(self.kind(), text)
        {
            *value = read;
        }
        let problems: Vec<String> = self
            .validator
            .iter_errors(value)
            .take(5)
            .map(|e| describe(&e))
            .collect();
        if problems.is_empty() {
            Ok(())
        } else {
            Err(format!("{what} `{}`: {}", self.name, problems.join("; ")))
        }
    }
}

/// Text read as the declared type, when it reads as one.
fn read_as(kind: Option<&str>, text: &str) -> Option<Value> {
    let t = text.trim();
    match kind? {
        "integer" => t.parse::<i64>().ok().map(Value::from),
        "number" => t
            .parse::<f64>()
            .ok()
            .filter(|f| f.is_finite())
            .and_then(|f| serde_json::Number::from_f64(f).map(Value::Number))
            .map(|n| match t.parse::<i64>() {
                Ok(i) => Value::from(i),
                Err(_) => n,
            }),
        "boolean" => match t {
            "true" => Some(Value::Bool(true)),
            "false" => Some(Value::Bool(false)),
            _ => None,
        },
        _ => None,
    }
}

/// A validation error in words: where (inside the value) and what.
fn describe(e: &jsonschema::ValidationError<'_>) -> String {
    let at = e.instance_path().to_string();
    let text = e.to_string();
    if at.is_empty() {
        text
    } else {
        format!("at `{at}`: {text}")
    }
}

/// Checks the values callers gave (`given`: their names) against the
/// inputs, reading text as the declared type, and says which required
/// inputs are missing. `vars` holds the values; those given are replaced
/// by what they read as.
pub fn check_given(
    inputs: &[Input],
    vars: &mut IndexMap<String, Value>,
    given: impl Fn(&str) -> bool,
) -> Vec<String> {
    let mut problems = Vec::new();
    for input in inputs {
        if !given(&input.name) {
            if input.required {
                problems.push(format!(
                    "input `{}` is required{}",
                    input.name,
                    input
                        .description
                        .as_deref()
                        .map(|d| format!(" ({d})"))
                        .unwrap_or_default()
                ));
            }
            continue;
        }
        if let Some(v) = vars.get_mut(&input.name)
            && let Err(e) = input.check(v)
        {
            problems.push(e);
        }
    }
    problems
}

/// The JSON Schema of the inputs as one object, for tools (`pytopus inputs
/// --format json-schema`, an MCP tool's `inputSchema`).
pub fn json_schema(inputs: &[Input], title: &str) -> Value {
    let mut properties = Map::new();
    let mut required = Vec::new();
    for i in inputs {
        properties.insert(i.name.clone(), i.schema.clone());
        if i.required {
            required.push(Value::String(i.name.clone()));
        }
    }
    serde_json::json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": title,
        "type": "object",
        "properties": properties,
        "required": required,
        "additionalProperties": false,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn input(schema: Value) -> Input {
        Input::new("n", schema, None).unwrap()
    }

    #[test]
    fn text_reads_as_the_declared_type_and_is_checked() {
        let i = input(json!({"type": "integer", "minimum": 1}));
        let mut v = json!("42");
        i.check(&mut v).unwrap();
        assert_eq!(v, json!(42));
        let mut bad = json!("abc");
        let e = i.check(&mut bad).unwrap_err();
        assert!(e.starts_with("input `n`: "), "{e}");
        assert!(e.contains("\"abc\""), "{e}");
        let mut low = json!(0);
        assert!(i.check(&mut low).unwrap_err().contains("minimum"));
        let b = input(json!({"type": "boolean"}));
        let mut t = json!("true");
        b.check(&mut t).unwrap();
        assert_eq!(t, json!(true));
    }

    #[test]
    fn required_without_a_default_and_bad_defaults() {
        let with_default =
            input(json!({"type": "string", "default": "dev", "enum": ["dev", "prod"]}));
        assert!(!with_default.required, "a default makes an input optional");
        let mut vars = IndexMap::new();
        assert!(check_given(std::slice::from_ref(&with_default), &mut vars, |_| false).is_empty());
        let needed = input(json!({"type": "string", "description": "who"}));
        let problems = check_given(&[needed], &mut vars, |_| false);
        assert_eq!(problems, ["input `n` is required (who)"]);
        let e = Input::new(
            "e",
            json!({"type": "string", "enum": ["a"], "default": "b"}),
            None,
        )
        .unwrap_err();
        assert!(e.contains("`default` of input `e`"), "{e}");
        let e = Input::new("p", json!({"type": "string", "pattern": "("}), None).unwrap_err();
        assert!(e.contains("schema of input `p` is not valid"), "{e}");
    }

    #[test]
    fn the_schema_of_all_inputs_lists_the_required_ones() {
        let a = Input::new("a", json!({"type": "integer"}), None).unwrap();
        let b = Input::new("b", json!({"type": "string", "default": "x"}), None).unwrap();
        let s = json_schema(&[a, b], "t");
        assert_eq!(s["required"], json!(["a"]));
        assert_eq!(s["properties"]["b"]["default"], json!("x"));
        assert_eq!(s["additionalProperties"], json!(false));
    }
}
