//! Reading an OpenAPI document: YAML or JSON into a value, its version
//! checked, and the 3.0 forms `oas3` cannot hold rewritten as 3.1's.

use serde_json::{Map, Value};

use super::*;

pub(super) fn read_document(text: &str) -> Result<Value, ImportError> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    // JSON, whose own parser gives the better errors; a YAML flow mapping
    // (`{openapi: 3.1.0, ...}`) also starts with `{` but not with `{"`.
    let after_brace = text.trim_start().strip_prefix('{').map(str::trim_start);
    if after_brace.is_some_and(|rest| rest.starts_with('"') || rest.starts_with('}')) {
        return serde_json::from_str(text).map_err(|e| {
            let full = e.to_string();
            let message = match full.rfind(" at line ") {
                Some(i) => full[..i].to_string(),
                None => full,
            };
            ImportError::Syntax {
                format: "JSON",
                message,
                line: Some(e.line() as u64),
                column: Some(e.column() as u64),
            }
        });
    }
    read_yaml(text)
}

/// The YAML reader of chain files, with the core schema and limits for
/// public API descriptions, which run to many megabytes (GitHub's,
/// Stripe's).
pub(super) fn read_yaml(text: &str) -> Result<Value, ImportError> {
    let limits = crate::chain::yaml::Limits {
        depth: 256,
        values: 20_000_000,
    };
    match crate::chain::yaml::read_yaml_within(text, limits) {
        Ok((value, _)) => Ok(value),
        Err(e) => Err(ImportError::Syntax {
            format: "YAML",
            message: e.message,
            line: e.loc.map(|l| l.line as u64),
            column: e.loc.map(|l| l.column as u64),
        }),
    }
}

/// Swagger 2.0 and non-OpenAPI documents are refused; 3.0 and 3.1 pass;
/// later 3.x pass with a warning.
pub(super) fn check_version(
    doc: &mut Value,
    warnings: &mut Vec<String>,
) -> Result<(), ImportError> {
    let Some(root) = doc.as_object_mut() else {
        return Err(ImportError::NotOpenApi);
    };
    if root.contains_key("swagger") {
        return Err(ImportError::Swagger2);
    }
    let version = match root.get("openapi") {
        Some(Value::String(s)) => s.trim().to_string(),
        // `openapi: 3.1` unquoted is a number in YAML.
        Some(Value::Number(n)) => n.to_string(),
        _ => return Err(ImportError::NotOpenApi),
    };
    root.insert("openapi".into(), Value::String(version.clone()));
    let mut parts = version.split('.').map(|p| p.parse::<u64>().ok());
    match (parts.next().flatten(), parts.next().flatten()) {
        (Some(3), Some(0 | 1)) => Ok(()),
        (Some(3), Some(minor)) => {
            warnings.push(format!(
                "OpenAPI {version} is newer than this importer: it is read as OpenAPI 3.1, \
                 and what 3.{minor} added is ignored"
            ));
            Ok(())
        }
        (Some(2), _) => Err(ImportError::Swagger2),
        _ => Err(ImportError::UnsupportedVersion(version)),
    }
}

/// Makes the document fit `oas3`'s types: drops what the importer never
/// reads and rewrites the few 3.0 forms 3.1 changed.
pub(super) fn normalize(doc: &mut Value, warnings: &mut Vec<String>) {
    let Some(root) = doc.as_object_mut() else {
        return;
    };
    if let Some(n) = root
        .get("webhooks")
        .and_then(Value::as_object)
        .map(Map::len)
        .filter(|n| *n > 0)
    {
        warnings.push(format!(
            "{n} webhook(s) not imported: a connector only makes requests"
        ));
    }
    for key in ["tags", "externalDocs", "webhooks", "x-tagGroups"] {
        root.remove(key);
    }
    if let Some(info) = root.get_mut("info").and_then(Value::as_object_mut) {
        for key in ["contact", "license", "termsOfService"] {
            info.remove(key);
        }
        for key in ["title", "version"] {
            if let Some(v) = info.get_mut(key) {
                scalar_to_string(v);
            }
        }
    }
    fix_servers(root.get_mut("servers"));
    if let Some(paths) = root.get_mut("paths").and_then(Value::as_object_mut) {
        for item in paths.values_mut().filter_map(Value::as_object_mut) {
            fix_servers(item.get_mut("servers"));
            for method in METHOD_KEYS {
                if let Some(op) = item.get_mut(*method).and_then(Value::as_object_mut) {
                    for key in ["externalDocs", "responses", "callbacks"] {
                        op.remove(key);
                    }
                    fix_servers(op.get_mut("servers"));
                }
            }
        }
    }
    if let Some(components) = root.get_mut("components").and_then(Value::as_object_mut) {
        for key in [
            "responses",
            "callbacks",
            "links",
            "examples",
            "headers",
            "pathItems",
        ] {
            components.remove(key);
        }
        if let Some(schemes) = components
            .get_mut("securitySchemes")
            .and_then(Value::as_object_mut)
        {
            for flows in schemes
                .values_mut()
                .filter_map(|s| s.get_mut("flows"))
                .filter_map(Value::as_object_mut)
            {
                for flow in flows.values_mut().filter_map(Value::as_object_mut) {
                    for key in ["authorizationUrl", "tokenUrl", "refreshUrl"] {
                        if let Some(Value::String(url)) = flow.get_mut(key)
                            && !is_absolute(url)
                        {
                            let sep = if url.starts_with('/') { "" } else { "/" };
                            *url = format!("{RELATIVE_BASE}{sep}{url}");
                        }
                    }
                }
            }
        }
    }
    fix_schemas(doc);
}

/// Server variable defaults and enums are strings in `oas3` (`port: 443`
/// in YAML is a number).
pub(super) fn fix_servers(servers: Option<&mut Value>) {
    let Some(servers) = servers.and_then(Value::as_array_mut) else {
        return;
    };
    for server in servers.iter_mut() {
        if let Some(url) = server.get_mut("url") {
            scalar_to_string(url);
        }
        let Some(vars) = server.get_mut("variables").and_then(Value::as_object_mut) else {
            continue;
        };
        for var in vars.values_mut().filter_map(Value::as_object_mut) {
            if let Some(d) = var.get_mut("default") {
                scalar_to_string(d);
            }
            if let Some(Value::Array(values)) = var.get_mut("enum") {
                values.iter_mut().for_each(scalar_to_string);
            }
        }
    }
}

pub(super) fn scalar_to_string(v: &mut Value) {
    match v {
        Value::Number(n) => *v = Value::String(n.to_string()),
        Value::Bool(b) => *v = Value::String(b.to_string()),
        _ => {}
    }
}

/// Schema forms `oas3` cannot read, in any object of the document:
/// - OpenAPI 3.0 (JSON Schema draft 4) `exclusiveMinimum: true` next to
///   `minimum: 5`, which 3.1 writes `exclusiveMinimum: 5`;
/// - `required: true` on a property, a common mistake for listing it in
///   the object's `required`.
pub(super) fn fix_schemas(v: &mut Value) {
    match v {
        Value::Object(m) => {
            let mut required = Vec::new();
            if let Some(Value::Object(props)) = m.get_mut("properties") {
                for (key, prop) in props.iter_mut() {
                    if let Some(Value::Bool(r)) = prop.get("required") {
                        if *r {
                            required.push(Value::String(key.clone()));
                        }
                        if let Some(prop) = prop.as_object_mut() {
                            prop.remove("required");
                        }
                    }
                }
            }
            if !required.is_empty() {
                match m.get_mut("required") {
                    Some(Value::Array(list)) => list.extend(required),
                    None => {
                        m.insert("required".into(), Value::Array(required));
                    }
                    Some(_) => {}
                }
            }
            for (flag, bound) in [
                ("exclusiveMinimum", "minimum"),
                ("exclusiveMaximum", "maximum"),
            ] {
                if let Some(Value::Bool(exclusive)) = m.get(flag) {
                    let exclusive = *exclusive;
                    m.remove(flag);
                    if exclusive && let Some(n) = m.remove(bound) {
                        m.insert(flag.to_string(), n);
                    }
                }
            }
            m.values_mut().for_each(fix_schemas);
        }
        Value::Array(items) => items.iter_mut().for_each(fix_schemas),
        _ => {}
    }
}

// ---------------------------------------------------------------- names
