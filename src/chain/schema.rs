//! The JSON Schema of chain files, for editors and the YAML language
//! server (`pytopus schema`).

use serde_json::Value;

use super::model::Chain;

/// The JSON Schema of chain files, for editors (`pytopus schema`).
///
/// schemars describes serde's canonical names only, so the aliases the
/// parser accepts (`api_chain`, `query`) are added here; otherwise an editor
/// would flag the seed chain, which uses `api_chain`, as invalid.
pub fn json_schema() -> Value {
    let mut schema = serde_json::to_value(schemars::schema_for!(Chain)).unwrap_or_default();
    let alias = |obj: &mut Value, canonical: &str, alias: &str| {
        if let Some(props) = obj.get_mut("properties").and_then(Value::as_object_mut)
            && let Some(p) = props.get(canonical).cloned()
        {
            let mut p = p;
            if let Some(o) = p.as_object_mut() {
                o.insert(
                    "description".into(),
                    Value::String(format!("Alias of `{canonical}`.")),
                );
            }
            props.insert(alias.to_string(), p);
        }
    };
    alias(&mut schema, "steps", "api_chain");
    if let Some(o) = schema.as_object_mut() {
        o.remove("required");
        o.insert(
            "oneOf".into(),
            serde_json::json!([{"required": ["steps"]}, {"required": ["api_chain"]}]),
        );
    }
    for def in ["Step", "Defaults"] {
        if let Some(d) = schema.pointer_mut(&format!("/$defs/{def}")) {
            alias(d, "query_params", "query");
        }
    }
    schema
}
