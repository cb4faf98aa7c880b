//! Arazzo runtime expressions (`$inputs.id`, `$steps.login.outputs.token`,
//! `$response.body#/items/0`, `{$…}` inside text) and simple conditions
//! (`$statusCode == 200 && $response.body#/ok`) as minijinja.

/// What an expression may read where it is written.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) enum Place {
    /// A request's parameters and body: before the response.
    Request,
    /// Criteria, actions' criteria, step outputs: the response is there.
    Response,
}

/// Turns the names of an expression into template expressions.
pub(super) trait Names {
    /// `$inputs.NAME`.
    fn input(&self, name: &str) -> Result<String, String>;
    /// `$steps.STEP.outputs.NAME`.
    fn step_output(&self, step: &str, name: &str) -> Result<String, String>;
    /// `$workflows.ID.outputs.NAME` / `$workflows.ID.inputs.NAME`.
    fn workflow(&self, id: &str, part: &str, name: &str) -> Result<String, String>;
    /// `$sourceDescriptions.NAME.url`.
    fn source_url(&self, name: &str) -> Result<String, String>;
}

/// Where one expression ends in `text` (which starts with `$`): names,
/// dots, dashes, and a JSON pointer after `#`.
pub(super) fn expression_end(text: &str) -> usize {
    let bytes = text.as_bytes();
    let mut i = 1;
    let mut in_pointer = false;
    while i < bytes.len() {
        let c = bytes[i];
        let ok = c.is_ascii_alphanumeric()
            || matches!(c, b'_' | b'.' | b'-')
            || (c == b'#' && !in_pointer)
            || (in_pointer && matches!(c, b'/' | b'~' | b'%' | b'+' | b'@' | b'$' | b':'));
        if !ok {
            break;
        }
        if c == b'#' {
            in_pointer = true;
        }
        i += 1;
    }
    // A sentence's full stop is not part of the name.
    while i > 1 && bytes[i - 1] == b'.' {
        i -= 1;
    }
    i
}

/// One runtime expression (the whole of `text`) as a template expression.
pub(super) fn expression(text: &str, place: Place, names: &dyn Names) -> Result<String, String> {
    let (head, pointer) = match text.split_once('#') {
        Some((h, p)) => (h, Some(p)),
        None => (text, None),
    };
    let parts: Vec<&str> = head.split('.').collect();
    let response_only = |what: &str| -> Result<(), String> {
        if place == Place::Response {
            Ok(())
        } else {
            Err(format!(
                "`{text}` reads the response, which a request cannot: {what} is only known after it is sent"
            ))
        }
    };
    let (base, rest): (String, &[&str]) = match parts.as_slice() {
        ["$statusCode"] => {
            response_only("the status")?;
            ("response.status".into(), &[])
        }
        ["$url"] => {
            response_only("the final URL")?;
            ("response.url".into(), &[])
        }
        ["$method"] => {
            response_only("the method")?;
            ("response.method".into(), &[])
        }
        ["$response", "header", name @ ..] if !name.is_empty() => {
            response_only("a header")?;
            let name = name.join(".").to_ascii_lowercase();
            (format!("response.headers[{}]", quote(&name)), &[])
        }
        ["$response", "body", rest @ ..] => {
            response_only("the body")?;
            ("response.body".into(), rest)
        }
        ["$inputs", name, rest @ ..] => (names.input(name)?, rest),
        ["$steps", step, "outputs", name, rest @ ..] => (names.step_output(step, name)?, rest),
        [
            "$workflows",
            id,
            part @ ("outputs" | "inputs"),
            name,
            rest @ ..,
        ] => (names.workflow(id, part, name)?, rest),
        ["$sourceDescriptions", name, "url"] => (names.source_url(name)?, &[]),
        ["$request", ..] => {
            return Err(format!(
                "`{text}`: pytopus does not support `$request` expressions; use the value the request was given"
            ));
        }
        _ => {
            return Err(format!(
                "`{text}` is not a runtime expression pytopus supports ($inputs, $steps.ID.outputs, $workflows.ID.outputs, $statusCode, $response.header.NAME, $response.body#/pointer, $url, $method, $sourceDescriptions.NAME.url)"
            ));
        }
    };
    let mut out = format!("({base})");
    for part in rest {
        out.push_str(&format!("[{}]", quote(part)));
    }
    if let Some(p) = pointer {
        out.push_str(&pointer_access(p)?);
    }
    Ok(out)
}

/// `/a/0/b~1c` as `['a'][0]['b/c']`.
pub(super) fn pointer_access(pointer: &str) -> Result<String, String> {
    if pointer.is_empty() {
        return Ok(String::new());
    }
    let Some(rest) = pointer.strip_prefix('/') else {
        return Err(format!(
            "`#{pointer}` is not a JSON pointer (it starts with `/`)"
        ));
    };
    let mut out = String::new();
    for token in rest.split('/') {
        let token = token.replace("~1", "/").replace("~0", "~");
        if !token.is_empty() && token.len() < 10 && token.bytes().all(|b| b.is_ascii_digit()) {
            out.push_str(&format!("[{token}]"));
        } else {
            out.push_str(&format!("[{}]", quote(&token)));
        }
    }
    Ok(out)
}

/// A minijinja string literal.
pub(super) fn quote(s: &str) -> String {
    serde_json::Value::String(s.to_string()).to_string()
}

/// A value written in the Arazzo file (a parameter's, a payload's) as a
/// chain value: a whole expression renders to its value, `{$…}` inside text
/// is replaced, other text is kept as written.
pub(super) fn value(
    v: &serde_json::Value,
    place: Place,
    names: &dyn Names,
) -> Result<serde_json::Value, String> {
    use serde_json::Value;
    Ok(match v {
        Value::String(s) => Value::String(text(s, place, names)?),
        Value::Array(items) => Value::Array(
            items
                .iter()
                .map(|i| value(i, place, names))
                .collect::<Result<_, _>>()?,
        ),
        Value::Object(m) => Value::Object(
            m.iter()
                .map(|(k, v)| Ok((k.clone(), value(v, place, names)?)))
                .collect::<Result<_, String>>()?,
        ),
        other => other.clone(),
    })
}

/// A string of the Arazzo file as a chain template.
pub(super) fn text(s: &str, place: Place, names: &dyn Names) -> Result<String, String> {
    if s.starts_with('$') && expression_end(s) == s.len() && s.len() > 1 {
        return Ok(format!("{{{{ {} }}}}", expression(s, place, names)?));
    }
    if !s.contains("{$") {
        return Ok(literal(s));
    }
    let mut out = String::new();
    let mut rest = s;
    while let Some(at) = rest.find("{$") {
        out.push_str(&literal(&rest[..at]));
        let inner = &rest[at + 1..];
        let end = expression_end(inner);
        if !inner[end..].starts_with('}') {
            return Err(format!(
                "`{{{}` in `{s}` is not closed by `}}` right after the expression",
                &inner[..end]
            ));
        }
        out.push_str(&format!(
            "{{{{ {} }}}}",
            expression(&inner[..end], place, names)?
        ));
        rest = &inner[end + 1..];
    }
    out.push_str(&literal(rest));
    Ok(out)
}

/// A value written in the Arazzo file as one template expression: what a
/// workflow's input is given, a path parameter.
pub(super) fn value_expr(
    v: &serde_json::Value,
    place: Place,
    names: &dyn Names,
) -> Result<String, String> {
    use serde_json::Value;
    Ok(match v {
        Value::Null => "none".into(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::String(s) => text_expr(s, place, names)?,
        Value::Array(items) => format!(
            "[{}]",
            items
                .iter()
                .map(|i| value_expr(i, place, names))
                .collect::<Result<Vec<_>, _>>()?
                .join(", ")
        ),
        Value::Object(m) => format!(
            "{{{}}}",
            m.iter()
                .map(|(k, v)| Ok(format!("{}: {}", quote(k), value_expr(v, place, names)?)))
                .collect::<Result<Vec<_>, String>>()?
                .join(", ")
        ),
    })
}

/// A string of the Arazzo file as one template expression: an expression
/// as itself, text with `{$…}` in it as the pieces joined.
fn text_expr(s: &str, place: Place, names: &dyn Names) -> Result<String, String> {
    if s.starts_with('$') && expression_end(s) == s.len() && s.len() > 1 {
        return expression(s, place, names);
    }
    let mut pieces = Vec::new();
    let mut rest = s;
    while let Some(at) = rest.find("{$") {
        if at > 0 {
            pieces.push(quote(&rest[..at]));
        }
        let inner = &rest[at + 1..];
        let end = expression_end(inner);
        if !inner[end..].starts_with('}') {
            return Err(format!(
                "`{{{}` in `{s}` is not closed by `}}` right after the expression",
                &inner[..end]
            ));
        }
        pieces.push(format!(
            "({} | string)",
            expression(&inner[..end], place, names)?
        ));
        rest = &inner[end + 1..];
    }
    if !rest.is_empty() || pieces.is_empty() {
        pieces.push(quote(rest));
    }
    Ok(pieces.join(" ~ "))
}

/// Text that templates must not read as template syntax.
fn literal(s: &str) -> String {
    if s.contains("{{") || s.contains("{%") || s.contains("{#") {
        format!("{{{{ {} }}}}", quote(s))
    } else {
        s.to_string()
    }
}

/// An Arazzo simple condition (`$statusCode == 200 && $response.body#/ok`)
/// as a template expression.
pub(super) fn condition(cond: &str, place: Place, names: &dyn Names) -> Result<String, String> {
    let mut out = String::new();
    let b = cond.as_bytes();
    let mut i = 0;
    let mut operands = 0;
    while i < b.len() {
        let c = b[i];
        let rest = &cond[i..];
        if c.is_ascii_whitespace() {
            i += 1;
            continue;
        }
        let (piece, len): (String, usize) = if c == b'$' {
            let end = expression_end(rest);
            operands += 1;
            (expression(&rest[..end], place, names)?, end)
        } else if c == b'\'' || c == b'"' {
            let close = rest[1..]
                .find(c as char)
                .ok_or_else(|| format!("a text in `{cond}` is not closed"))?;
            operands += 1;
            (quote(&rest[1..1 + close]), close + 2)
        } else if c.is_ascii_digit() || (c == b'-' && b.get(i + 1).is_some_and(u8::is_ascii_digit))
        {
            let end = rest[1..]
                .find(|ch: char| !(ch.is_ascii_digit() || ch == '.' || ch == 'e' || ch == 'E'))
                .map_or(rest.len(), |e| e + 1);
            operands += 1;
            (rest[..end].to_string(), end)
        } else if let Some(op) = ["==", "!=", "<=", ">=", "&&", "||"]
            .into_iter()
            .find(|op| rest.starts_with(op))
        {
            let t = match op {
                "&&" => "and",
                "||" => "or",
                other => other,
            };
            (t.to_string(), 2)
        } else if matches!(c, b'<' | b'>' | b'(' | b')') {
            ((c as char).to_string(), 1)
        } else if c == b'!' {
            ("not".to_string(), 1)
        } else if let Some(word) = ["true", "false", "null"].into_iter().find(|w| {
            rest.starts_with(w)
                && !rest[w.len()..].starts_with(|ch: char| ch.is_ascii_alphanumeric())
        }) {
            operands += 1;
            (
                if word == "null" { "none" } else { word }.to_string(),
                word.len(),
            )
        } else {
            return Err(format!(
                "cannot read the condition `{cond}` at `{}`",
                rest.chars().take(12).collect::<String>()
            ));
        };
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(&piece);
        i += len;
    }
    if operands == 0 {
        return Err(format!("the condition `{cond}` compares nothing"));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Plain;
    impl Names for Plain {
        fn input(&self, name: &str) -> Result<String, String> {
            Ok(name.to_string())
        }
        fn step_output(&self, step: &str, name: &str) -> Result<String, String> {
            Ok(format!("steps.{step}.outputs.{name}"))
        }
        fn workflow(&self, id: &str, part: &str, name: &str) -> Result<String, String> {
            Ok(format!("{id}_{part}_{name}"))
        }
        fn source_url(&self, name: &str) -> Result<String, String> {
            Ok(quote(&format!("{name}.yaml")))
        }
    }

    #[test]
    fn expressions_become_template_expressions() {
        let r = |t: &str| expression(t, Place::Response, &Plain).unwrap();
        assert_eq!(r("$statusCode"), "(response.status)");
        assert_eq!(
            r("$response.header.X-Rate"),
            "(response.headers[\"x-rate\"])"
        );
        assert_eq!(
            r("$response.body#/items/0/a~1b"),
            "(response.body)[\"items\"][0][\"a/b\"]"
        );
        assert_eq!(r("$inputs.user"), "(user)");
        assert_eq!(
            r("$steps.login.outputs.token"),
            "(steps.login.outputs.token)"
        );
        assert!(expression("$statusCode", Place::Request, &Plain).is_err());
        assert!(expression("$request.body", Place::Response, &Plain).is_err());
        assert!(expression("$nonsense", Place::Response, &Plain).is_err());
    }

    #[test]
    fn embedded_expressions_and_literal_braces() {
        let t = |s: &str| text(s, Place::Request, &Plain).unwrap();
        assert_eq!(t("$inputs.id"), "{{ (id) }}");
        assert_eq!(t("Bearer {$inputs.token}"), "Bearer {{ (token) }}");
        assert_eq!(t("plain"), "plain");
        assert_eq!(t("a {{ b }}"), "{{ \"a {{ b }}\" }}");
        assert!(text("x {$inputs.id", Place::Request, &Plain).is_err());
    }

    #[test]
    fn conditions_become_template_expressions() {
        let c = |s: &str| condition(s, Place::Response, &Plain).unwrap();
        assert_eq!(c("$statusCode == 200"), "(response.status) == 200");
        assert_eq!(
            c("$statusCode == 200 && $response.body#/status == 'ok'"),
            "(response.status) == 200 and (response.body)[\"status\"] == \"ok\""
        );
        assert_eq!(
            c("!($statusCode >= 400)"),
            "not ( (response.status) >= 400 )"
        );
        assert_eq!(
            c("$response.body#/next == null"),
            "(response.body)[\"next\"] == none"
        );
        assert!(condition("$statusCode = 200", Place::Response, &Plain).is_err());
        assert!(condition("&&", Place::Response, &Plain).is_err());
    }
}
