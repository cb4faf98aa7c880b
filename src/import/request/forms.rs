//! Form bodies: curl's `-F` values as `multipart:`, URL-encoded bodies as
//! `form:` when pytopus would send the same bytes.

use serde_json::{Map, Value};

use super::*;

/// The `-F` options as a `multipart:` map: a part per option, in order,
/// one name given twice a list. curl's forms read: `name=text`,
/// `name=@file` (uploaded), with `;type=` and `;filename=` after the value,
/// and a value in double quotes holding `;` or `"` (`\\"`); `--form-string`
/// takes its value as written. `name=<file` (a field read from a file) and
/// `;headers=` are errors naming the option: import does not read files,
/// and a part's own headers have no place in `multipart:`.
pub(super) fn multipart(
    form: &[(String, String, bool)],
    whose: &str,
    templated: bool,
    files_from: &str,
    secrets: &mut Secrets,
) -> Result<Value, ImportError> {
    let mut parts: Vec<(String, Value)> = Vec::new();
    let mut files = false;
    for (flag, text, as_written) in form {
        let whole = || format!("`{flag} {}`", shown(text));
        let Some((name, content)) = text.split_once('=') else {
            return fail(format!("{} is not `name=value`", whole()));
        };
        if name.is_empty() {
            return fail(format!("{} has no part name before `=`", whole()));
        }
        let (value, params) = if *as_written {
            (content.to_string(), Vec::new())
        } else {
            form_value(content).map_err(|why| ImportError(format!("{}: {why}", whole())))?
        };
        let mut content_type = None;
        let mut filename = None;
        for (key, v) in params {
            match key.as_str() {
                "type" => content_type = Some(v),
                "filename" => filename = Some(v),
                other => {
                    return fail(format!(
                        "{}: `;{other}=` is not imported (a part's own headers or encoding have no place in `multipart:`)",
                        whole()
                    ));
                }
            }
        }
        let file = (!as_written).then(|| value.strip_prefix('@')).flatten();
        if !as_written && value.starts_with('<') {
            return fail(format!(
                "{} reads the field's text from the file `{}`: import does not read files; put the text in the command",
                whole(),
                shown(&value[1..])
            ));
        }
        let part = if let Some(path) = file {
            if path.is_empty() {
                return fail(format!("{} names no file after `@`", whole()));
            }
            files = true;
            if content_type.is_none() && filename.is_none() {
                Value::String(format!("@{path}"))
            } else {
                let mut m = Map::new();
                m.insert("file".into(), Value::String(path.to_string()));
                if let Some(f) = filename {
                    m.insert("filename".into(), Value::String(as_template(templated, &f)));
                }
                if let Some(t) = content_type {
                    m.insert(
                        "content_type".into(),
                        Value::String(as_template(templated, &t)),
                    );
                }
                Value::Object(m)
            }
        } else {
            let text = if secret_field(name) && !value.is_empty() {
                secrets.credential(
                    templated,
                    name,
                    &format!("{whose} form field `{name}`"),
                    &value,
                )
            } else {
                as_template(templated, &value)
            };
            if content_type.is_none() && filename.is_none() {
                // `@` starts a file in `multipart:`; `@@` stands for a text `@`.
                Value::String(if text.starts_with('@') {
                    format!("@{text}")
                } else {
                    text
                })
            } else {
                let mut m = Map::new();
                m.insert("value".into(), Value::String(text));
                if let Some(f) = filename {
                    m.insert("filename".into(), Value::String(as_template(templated, &f)));
                }
                if let Some(t) = content_type {
                    m.insert(
                        "content_type".into(),
                        Value::String(as_template(templated, &t)),
                    );
                }
                Value::Object(m)
            }
        };
        match parts.iter_mut().find(|(n, _)| n == name) {
            Some((_, Value::Array(list))) => list.push(part),
            Some((_, first)) => *first = Value::Array(vec![first.take(), part]),
            None => parts.push((name.to_string(), part)),
        }
    }
    if files {
        secrets.notes.push(
            format!("the files to upload are read relative to the chain file's directory ({files_from}): save the chain beside them or fix the paths"),
        );
    }
    Ok(Value::Object(parts.into_iter().collect()))
}

/// A `-F` value after `name=`: the value (unquoted), and the `;key=value`
/// parameters after it, keys lowercased.
pub(super) fn form_value(content: &str) -> Result<(String, Vec<(String, String)>), String> {
    let (value, mut rest) = if let Some(quoted) = content.strip_prefix('"') {
        let mut value = String::new();
        let mut chars = quoted.char_indices();
        let end = loop {
            match chars.next() {
                None => return Err("the value's opening `\"` is never closed".into()),
                Some((i, '"')) => break i + 1,
                Some((_, '\\')) => match chars.next() {
                    Some((_, c)) => value.push(c),
                    None => return Err("the value ends in `\\`".into()),
                },
                Some((_, c)) => value.push(c),
            }
        };
        (value, &quoted[end..])
    } else {
        let end = param_start(content).unwrap_or(content.len());
        (content[..end].to_string(), &content[end..])
    };
    let mut params = Vec::new();
    while !rest.is_empty() {
        let Some(after) = rest.strip_prefix(';') else {
            return Err(format!(
                "`{}` after the quoted value is not `;key=value`",
                shown(rest)
            ));
        };
        let after = after.trim_start();
        let Some((key, tail)) = after.split_once('=') else {
            return Err(format!("`;{}` is not `;key=value`", shown(after)));
        };
        let (v, next) = match tail.strip_prefix('"') {
            Some(q) => match q.find('"') {
                Some(i) => (q[..i].to_string(), &q[i + 1..]),
                None => return Err(format!("`;{key}=` opens a `\"` it never closes")),
            },
            None => {
                let end = param_start(tail).unwrap_or(tail.len());
                (tail[..end].to_string(), &tail[end..])
            }
        };
        params.push((key.trim().to_ascii_lowercase(), v));
        rest = next;
    }
    Ok((value, params))
}

/// Where the first `;type=`, `;filename=`, `;headers=` or `;encoder=` of a
/// `-F` value starts: a `;` before anything else is part of the value.
pub(super) fn param_start(text: &str) -> Option<usize> {
    text.match_indices(';').map(|(i, _)| i).find(|&i| {
        let after = text[i + 1..].trim_start().to_ascii_lowercase();
        ["type=", "filename=", "headers=", "encoder="]
            .iter()
            .any(|k| after.starts_with(k))
    })
}

/// The fields of a form body, when pytopus's `form:` would send the same
/// bytes (same encoding, same order); else `None` and the body stays text.
pub(super) fn form_fields(text: &str) -> Option<indexmap::IndexMap<String, Vec<String>>> {
    if text.is_empty() {
        return None;
    }
    let mut fields: indexmap::IndexMap<String, Vec<String>> = indexmap::IndexMap::new();
    for (k, v) in url::form_urlencoded::parse(text.as_bytes()) {
        fields
            .entry(k.into_owned())
            .or_default()
            .push(v.into_owned());
    }
    let mut ser = url::form_urlencoded::Serializer::new(String::new());
    for (k, values) in &fields {
        for v in values {
            ser.append_pair(k, v);
        }
    }
    (ser.finish() == text).then_some(fields)
}

/// A form's fields as `form:` (a field given twice: a list), credential
/// fields as secrets.
pub(super) fn form_map(
    fields: indexmap::IndexMap<String, Vec<String>>,
    whose: &str,
    templated: bool,
    secrets: &mut Secrets,
) -> Value {
    let mut map = Map::new();
    for (k, values) in fields {
        let mut values: Vec<Value> = values
            .into_iter()
            .map(|v| {
                if secret_field(&k) && !v.is_empty() {
                    Value::String(secrets.credential(
                        templated,
                        &k,
                        &format!("{whose} form field `{k}`"),
                        &v,
                    ))
                } else {
                    Value::String(as_template(templated, &v))
                }
            })
            .collect();
        let v = if values.len() == 1 {
            values.remove(0)
        } else {
            Value::Array(values)
        };
        map.insert(k, v);
    }
    Value::Object(map)
}
