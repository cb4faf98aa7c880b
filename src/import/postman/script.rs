//! Test scripts read line by line: the common `pm.*` patterns found and
//! turned into effects, the rest kept as text for notes and comments.

use std::collections::{HashMap, HashSet};

use serde_json::Value;

use super::request::{self};

use super::*;

/// The lines of the scripts in `events` listening to `listen` (all of
/// them when `None`), numbered from 1.
pub(super) fn script_lines(events: &Value, listen: &str) -> Vec<(usize, String)> {
    let mut out = Vec::new();
    for ev in events.as_array().into_iter().flatten() {
        if ev.get("listen").and_then(Value::as_str) != Some(listen) {
            continue;
        }
        if ev.get("disabled") == Some(&Value::Bool(true)) {
            continue;
        }
        let exec = ev.get("script").and_then(|s| s.get("exec"));
        let text: Vec<&str> = match exec {
            Some(Value::Array(a)) => a.iter().filter_map(Value::as_str).collect(),
            Some(Value::String(s)) => vec![s.as_str()],
            _ => Vec::new(),
        };
        let mut n = 0;
        for chunk in text {
            for line in chunk.split('\n') {
                n += 1;
                out.push((n, line.trim_end_matches('\r').to_string()));
            }
        }
    }
    out
}

/// Notes and comments for the lines of scripts nothing translates:
/// pre-request scripts (`only`), or every script of a folder or the
/// collection. Blank and `//` lines are left out.
pub(super) fn script_notes(events: &Value, who: &str, only: Option<&str>) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for listen in ["prerequest", "test"] {
        if only.is_some_and(|o| o != listen) {
            continue;
        }
        let kind = if listen == "test" {
            "test script"
        } else {
            "pre-request script"
        };
        for (n, line) in script_lines(events, listen) {
            let t = line.trim();
            if t.is_empty() || t.starts_with("//") {
                continue;
            }
            out.push((
                format!("{who} ({kind}): line {n}: {t} — not translated"),
                format!("{kind} line {n}: {t}"),
            ));
        }
    }
    out
}

/// A request's test script, line by line, read.
pub(super) fn test_lines(events: &Value) -> Vec<(usize, String, Line)> {
    let mut bindings: HashSet<String> = HashSet::new();
    // Open blocks: `true` for a `pm.test(…, function () {`.
    let mut blocks: Vec<bool> = Vec::new();
    let mut out = Vec::new();
    for (n, text) in script_lines(events, "test") {
        let t = text.trim();
        let line = if t.is_empty() || t.starts_with("//") {
            Line::Nothing
        } else if t.starts_with('}') {
            match blocks.pop() {
                Some(true) if matches!(t, "});" | "})" | "}) ;") => Line::Nothing,
                _ => Line::Untranslated,
            }
        } else if blocks.iter().any(|b| !b) {
            // Inside an `if`, a loop, a callback: conditional.
            if t.ends_with('{') {
                blocks.push(false);
            }
            Line::Untranslated
        } else if let Some(opened) = test_opener(t) {
            match opened {
                Some(body) => match statements(&body, &mut bindings) {
                    Some(effects) => Line::Effects(effects),
                    None => Line::Untranslated,
                },
                None => {
                    blocks.push(true);
                    Line::Nothing
                }
            }
        } else {
            match statement(t, &mut bindings) {
                Some(Some(effect)) => Line::Effects(vec![effect]),
                Some(None) => Line::Nothing,
                None => {
                    if t.ends_with('{') {
                        blocks.push(false);
                    }
                    Line::Untranslated
                }
            }
        };
        out.push((n, text, line));
    }
    out
}

/// `pm.test("…", function () {` → `Some(None)` (a block opens);
/// `pm.test("…", () => STATEMENT);` or `…{ STATEMENT; });` on one line →
/// `Some(Some(STATEMENT))`; anything else `None`.
pub(super) fn test_opener(t: &str) -> Option<Option<String>> {
    let inner = t.strip_prefix("pm.test(")?;
    let (_, rest) = js_string(inner.trim_start())?;
    let rest = rest.trim_start().strip_prefix(',')?.trim_start();
    let rest = if let Some(r) = rest.strip_prefix("function") {
        r.trim_start()
    } else {
        rest
    };
    let rest = rest.strip_prefix("()")?.trim_start();
    let rest = rest.strip_prefix("=>").unwrap_or(rest).trim_start();
    if rest == "{" {
        return Some(None);
    }
    let body = rest
        .strip_suffix(';')
        .unwrap_or(rest)
        .trim_end()
        .strip_suffix(')')?
        .trim();
    let body = match body.strip_prefix('{') {
        Some(b) => b.strip_suffix('}')?.trim(),
        None => body,
    };
    Some(Some(body.to_string()))
}

/// Statements separated by `;` (outside quotes and brackets), each read.
pub(super) fn statements(body: &str, bindings: &mut HashSet<String>) -> Option<Vec<Effect>> {
    let mut effects = Vec::new();
    for s in split_top(body, ';') {
        if s.trim().is_empty() {
            continue;
        }
        if let Some(e) = statement(s.trim(), bindings)? {
            effects.push(e);
        }
    }
    Some(effects)
}

/// One statement: `Some(Some(effect))`, `Some(None)` for a binding of the
/// response's JSON, `None` when not translated.
pub(super) fn statement(t: &str, bindings: &mut HashSet<String>) -> Option<Option<Effect>> {
    let t = t.trim().trim_end_matches(';').trim_end();
    // `var json = pm.response.json();`
    for kw in ["var ", "let ", "const "] {
        if let Some(rest) = t.strip_prefix(kw) {
            let (name, value) = rest.split_once('=')?;
            let name = name.trim();
            let value = value.trim();
            if is_js_ident(name)
                && matches!(
                    value,
                    "pm.response.json()"
                        | "JSON.parse(responseBody)"
                        | "JSON.parse(pm.response.text())"
                )
            {
                bindings.insert(name.to_string());
                return Some(None);
            }
            return None;
        }
    }
    if let Some(args) = call(t, "pm.response.to.have.status(") {
        let v: Value = serde_json::from_str(args.trim()).ok()?;
        return v.is_u64().then_some(Some(Effect::Status(v)));
    }
    if matches!(t, "pm.response.to.be.ok" | "pm.response.to.be.success") {
        return Some(Some(Effect::Status("2xx".into())));
    }
    if let Some(args) = call(t, "pm.response.to.have.header(") {
        let parts = split_top(args, ',');
        let (name, rest) = js_string(parts.first()?.trim())?;
        if !rest.trim().is_empty() {
            return None;
        }
        return match parts.get(1) {
            None => Some(Some(Effect::Header {
                name,
                check: Some("exists"),
                value: ExpVal::Lit(Value::Bool(true)),
            })),
            Some(v) if parts.len() == 2 => Some(Some(Effect::Header {
                name,
                check: Some("eq"),
                value: exp_value(v.trim())?,
            })),
            _ => None,
        };
    }
    for setter in [
        "pm.environment.set(",
        "pm.collectionVariables.set(",
        "pm.globals.set(",
        "pm.variables.set(",
    ] {
        if let Some(args) = call(t, setter) {
            let parts = split_top(args, ',');
            if parts.len() != 2 {
                return None;
            }
            let (var, rest) = js_string(parts[0].trim())?;
            if !rest.trim().is_empty() || var.is_empty() {
                return None;
            }
            let source = match target(parts[1].trim(), bindings)? {
                Target::Json(path) => path,
                Target::Header(h) => format!("header:{h}"),
                Target::Status => "status".into(),
                Target::Text => "body".into(),
                Target::Length(_) | Target::Time => return None,
            };
            return Some(Some(Effect::Extract { var, source }));
        }
    }
    if let Some(rest) = t.strip_prefix("tests[") {
        // `tests["…"] = responseCode.code === 200`
        let (_, rest) = js_string(rest)?;
        let rest = rest.trim_start().strip_prefix(']')?.trim_start();
        let rest = rest.strip_prefix('=')?.trim_start();
        let rest = rest.strip_prefix("responseCode.code")?.trim_start();
        let rest = rest
            .strip_prefix("===")
            .or_else(|| rest.strip_prefix("=="))?;
        let v: Value = serde_json::from_str(rest.trim()).ok()?;
        return v.is_u64().then_some(Some(Effect::Status(v)));
    }
    let inner = t.strip_prefix("pm.expect(")?;
    let close = closing(inner)?;
    let subject = target(inner[..close].trim(), bindings)?;
    let chain = &inner[close + 1..];
    let chain = chain
        .strip_prefix(".to")
        .or_else(|| chain.strip_prefix(".that"))?;
    let (check, arg) = assertion(chain)?;
    let value = match arg {
        Some(a) => Some(exp_value(a.trim())?),
        None => None,
    };
    let lit = |v: Value| Some(ExpVal::Lit(v));
    let (check, value): (&'static str, ExpVal) = match (check, value) {
        ("true", None) => ("eq", lit(Value::Bool(true))?),
        ("false", None) => ("eq", lit(Value::Bool(false))?),
        ("null", None) => ("eq", lit(Value::Null)?),
        ("exist", None) => ("exists", lit(Value::Bool(true))?),
        ("not.exist", None) => ("exists", lit(Value::Bool(false))?),
        ("type", Some(ExpVal::Lit(Value::String(ty)))) => {
            let ty = match ty.as_str() {
                "string" | "number" | "boolean" | "array" | "object" | "null" => ty,
                _ => return None,
            };
            ("type", ExpVal::Lit(Value::String(ty)))
        }
        (c, Some(v)) if c != "type" => (c, v),
        _ => return None,
    };
    let effect = match subject {
        Target::Status => match (check, value) {
            ("eq", ExpVal::Lit(v)) if v.is_u64() => Effect::Status(v),
            ("one_of", ExpVal::Lit(Value::Array(list))) if list.iter().all(Value::is_u64) => {
                Effect::Status(Value::Array(list))
            }
            _ => return None,
        },
        Target::Json(path) => Effect::Check { path, check, value },
        Target::Length(path) => match check {
            "eq" => Effect::Check {
                path,
                check: "count",
                value,
            },
            _ => return None,
        },
        Target::Header(name) => match check {
            "contains" => Effect::Header {
                name,
                check: None,
                value,
            },
            "eq" | "exists" => Effect::Header {
                name,
                check: Some(check),
                value,
            },
            _ => return None,
        },
        Target::Text => match check {
            "contains" => Effect::BodyContains(value),
            _ => return None,
        },
        Target::Time => match (check, value) {
            ("lt" | "le", ExpVal::Lit(Value::Number(n))) => {
                Effect::Duration(if check == "lt" { "lt" } else { "le" }, n.as_u64()?)
            }
            _ => return None,
        },
    };
    Some(Some(effect))
}

/// The check a chai assertion after `.to` makes, and its argument's text.
pub(super) fn assertion(chain: &str) -> Option<(&'static str, Option<&str>)> {
    const WITH_ARG: &[(&str, &str)] = &[
        (".eql(", "eq"),
        (".equal(", "eq"),
        (".equals(", "eq"),
        (".eq(", "eq"),
        (".deep.equal(", "eq"),
        (".deep.eql(", "eq"),
        (".be.equal(", "eq"),
        (".be.eql(", "eq"),
        (".include(", "contains"),
        (".includes(", "contains"),
        (".contain(", "contains"),
        (".contains(", "contains"),
        (".have.string(", "contains"),
        (".be.oneOf(", "one_of"),
        (".be.a(", "type"),
        (".be.an(", "type"),
        (".be.above(", "gt"),
        (".be.greaterThan(", "gt"),
        (".be.below(", "lt"),
        (".be.lessThan(", "lt"),
        (".be.at.least(", "ge"),
        (".be.at.most(", "le"),
        (".have.lengthOf(", "count"),
        (".have.length(", "count"),
    ];
    const BARE: &[(&str, &str)] = &[
        (".be.true", "true"),
        (".be.false", "false"),
        (".be.null", "null"),
        (".exist", "exist"),
        (".not.exist", "not.exist"),
    ];
    for (prefix, check) in WITH_ARG {
        if let Some(arg) = chain.strip_prefix(prefix).and_then(|a| a.strip_suffix(')')) {
            if closing(arg).is_some() {
                // `.eql(a).and(…)`: more than one call.
                return None;
            }
            return Some((check, Some(arg)));
        }
    }
    BARE.iter()
        .find(|(b, _)| chain == *b)
        .map(|(_, check)| (*check, None))
}

/// What `pm.expect(…)` or a setter reads from the response.
#[derive(Debug, PartialEq)]
pub(super) enum Target {
    Json(String),
    /// `.length` of a JSON value.
    Length(String),
    Header(String),
    Status,
    Text,
    Time,
}

pub(super) fn target(expr: &str, bindings: &HashSet<String>) -> Option<Target> {
    match expr {
        "pm.response.code" | "responseCode.code" | "pm.response.status" => {
            return Some(Target::Status);
        }
        "pm.response.text()" | "responseBody" => return Some(Target::Text),
        "pm.response.responseTime" | "responseTime" => return Some(Target::Time),
        _ => {}
    }
    for getter in ["pm.response.headers.get(", "postman.getResponseHeader("] {
        if let Some(arg) = call(expr, getter) {
            let (name, rest) = js_string(arg.trim())?;
            return rest.trim().is_empty().then_some(Target::Header(name));
        }
    }
    let rest = ["pm.response.json()", "JSON.parse(responseBody)"]
        .iter()
        .find_map(|root| expr.strip_prefix(root))
        .or_else(|| {
            let end = expr
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == '$'))
                .unwrap_or(expr.len());
            bindings.contains(&expr[..end]).then(|| &expr[end..])
        })?;
    let mut path = String::from("$");
    let mut rest = rest;
    let mut length = false;
    while !rest.is_empty() {
        if length {
            return None;
        }
        if let Some(r) = rest.strip_prefix('.') {
            let end = r
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == '$'))
                .unwrap_or(r.len());
            let name = &r[..end];
            if name.is_empty() {
                return None;
            }
            if name == "length" {
                length = true;
            } else if is_js_ident(name) && !name.contains('$') {
                path.push('.');
                path.push_str(name);
            } else {
                path.push_str(&format!("['{name}']"));
            }
            rest = &r[end..];
        } else if let Some(r) = rest.strip_prefix('[') {
            let close = r.find(']')?;
            let inside = r[..close].trim();
            if let Ok(n) = inside.parse::<u64>() {
                path.push_str(&format!("[{n}]"));
            } else {
                let (key, tail) = js_string(inside)?;
                if !tail.is_empty() {
                    return None;
                }
                let escaped = key.replace('\\', "\\\\").replace('\'', "\\'");
                path.push_str(&format!("['{escaped}']"));
            }
            rest = &r[close + 1..];
        } else {
            return None;
        }
    }
    Some(if length {
        Target::Length(path)
    } else {
        Target::Json(path)
    })
}

/// A value a test compares with: JSON, a JS string in `'…'`, or a
/// variable (`pm.environment.get("x")`).
pub(super) fn exp_value(text: &str) -> Option<ExpVal> {
    for getter in [
        "pm.environment.get(",
        "pm.collectionVariables.get(",
        "pm.globals.get(",
        "pm.variables.get(",
    ] {
        if let Some(arg) = call(text, getter) {
            let (name, rest) = js_string(arg.trim())?;
            return rest.trim().is_empty().then_some(ExpVal::Var(name));
        }
    }
    if let Some((s, rest)) = js_string(text) {
        return rest
            .trim()
            .is_empty()
            .then_some(ExpVal::Lit(Value::String(s)));
    }
    if let Ok(v) = serde_json::from_str::<Value>(text) {
        return Some(ExpVal::Lit(v));
    }
    // `[200, 201]`, `['a', 'b']`: a list of such values.
    let inner = text.strip_prefix('[')?.strip_suffix(']')?;
    let mut list = Vec::new();
    for item in split_top(inner, ',') {
        match exp_value(item.trim())? {
            ExpVal::Lit(v) => list.push(v),
            ExpVal::Var(_) => return None,
        }
    }
    Some(ExpVal::Lit(Value::Array(list)))
}

/// The arguments' text of `t` when it is exactly a call of `prefix…)`.
pub(super) fn call<'t>(t: &'t str, prefix: &str) -> Option<&'t str> {
    let inner = t.strip_prefix(prefix)?;
    let close = closing(inner)?;
    inner[close + 1..]
        .trim()
        .is_empty()
        .then(|| &inner[..close])
}

/// Where a scan of JavaScript text is: inside a `"…"`, `'…'` or `` `…` ``
/// string (after a `\` or not), or outside.
#[derive(Default)]
pub(super) struct Quotes {
    quote: Option<char>,
    escaped: bool,
}

impl Quotes {
    /// Takes the next character: whether it is part of a string (its
    /// opening and closing quotes included).
    pub(super) fn inside(&mut self, c: char) -> bool {
        match self.quote {
            Some(q) => {
                if self.escaped {
                    self.escaped = false;
                } else if c == '\\' {
                    self.escaped = true;
                } else if c == q {
                    self.quote = None;
                }
                true
            }
            None if matches!(c, '"' | '\'' | '`') => {
                self.quote = Some(c);
                true
            }
            None => false,
        }
    }
}

/// Where the `)` closing an open `(` is in `text` (after that `(`),
/// skipping quoted text and nested brackets.
pub(super) fn closing(text: &str) -> Option<usize> {
    let mut depth = 0usize;
    let mut quotes = Quotes::default();
    for (i, c) in text.char_indices() {
        if quotes.inside(c) {
            continue;
        }
        match c {
            '(' | '[' | '{' => depth += 1,
            ')' if depth == 0 => return Some(i),
            ')' | ']' | '}' => depth = depth.checked_sub(1)?,
            _ => {}
        }
    }
    None
}

/// `text` split at `sep` outside quotes and brackets.
pub(super) fn split_top(text: &str, sep: char) -> Vec<&str> {
    let mut out = Vec::new();
    let mut depth = 0i32;
    let mut quotes = Quotes::default();
    let mut start = 0;
    for (i, c) in text.char_indices() {
        if quotes.inside(c) {
            continue;
        }
        match c {
            '(' | '[' | '{' => depth += 1,
            ')' | ']' | '}' => depth -= 1,
            c if c == sep && depth == 0 => {
                out.push(&text[start..i]);
                start = i + c.len_utf8();
            }
            _ => {}
        }
    }
    out.push(&text[start..]);
    out
}

/// A JS string at the start of `text` (`"…"`, `'…'`, or `` `…` `` without
/// `${`): its value, and the text after it.
pub(super) fn js_string(text: &str) -> Option<(String, &str)> {
    let mut chars = text.char_indices();
    let (_, q) = chars.next()?;
    if !matches!(q, '"' | '\'' | '`') {
        return None;
    }
    let mut out = String::new();
    while let Some((i, c)) = chars.next() {
        match c {
            '\\' => {
                let (_, e) = chars.next()?;
                out.push(match e {
                    'n' => '\n',
                    't' => '\t',
                    'r' => '\r',
                    '0' => '\0',
                    'u' | 'x' => return None,
                    other => other,
                });
            }
            '$' if q == '`' && text[i..].starts_with("${") => return None,
            c if c == q => return Some((out, &text[i + 1..])),
            c => out.push(c),
        }
    }
    None
}

/// A template string literal of `text`: `'…'`.
pub(super) fn jinja_str(text: &str) -> String {
    format!("'{}'", text.replace('\\', "\\\\").replace('\'', "\\'"))
}

pub(super) fn is_js_ident(name: &str) -> bool {
    name.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_' || c == '$')
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '$')
}

/// `text` with each of `values` written `***`, and text that looks like
/// a credential in quotes (a JWT, a long random token) too.
pub(super) fn mask(text: &str, values: &[String]) -> String {
    let mut out = text.to_string();
    for v in values {
        out = out.replace(v.as_str(), "***");
    }
    // Quoted words that look like tokens.
    let mut result = String::with_capacity(out.len());
    let mut rest = out.as_str();
    while let Some(i) = rest.find(['"', '\'']) {
        let q = rest[i..].chars().next().unwrap_or('"');
        result.push_str(&rest[..=i]);
        let after = &rest[i + 1..];
        match after.find(q) {
            Some(end) => {
                let word = &after[..end];
                if request::session_cookie("", word) {
                    result.push_str("***");
                } else {
                    result.push_str(word);
                }
                result.push(q);
                rest = &after[end + 1..];
            }
            None => {
                rest = after;
            }
        }
    }
    result.push_str(rest);
    result
}

/// One line of comment text: no line breaks or other control characters.
pub(super) fn comment_text(text: &str) -> String {
    text.chars()
        .map(|c| {
            if c.is_control() || matches!(c, '\u{2028}' | '\u{2029}' | '\u{85}' | '\u{feff}') {
                ' '
            } else {
                c
            }
        })
        .collect::<String>()
        .trim_end()
        .to_string()
}

/// The YAML with `header` as comments at the top, and each step's
/// comment lines above its `- name:` in the top-level `steps:` list.
/// serde_saphyr writes no comments; this only inserts whole `#` lines
/// between the document's lines, so what the YAML says is unchanged.
pub(crate) fn with_comments(
    yaml: &str,
    header: &[String],
    steps: &[(String, Vec<String>)],
) -> String {
    let mut out = String::with_capacity(yaml.len() * 2);
    for h in header {
        out.push_str(&format!("# {}\n", comment_text(h)));
    }
    let by_name: HashMap<&str, &Vec<String>> = steps.iter().map(|(n, l)| (n.as_str(), l)).collect();
    let mut in_steps = false;
    let mut done: HashSet<&str> = HashSet::new();
    for line in yaml.lines() {
        if !line.starts_with([' ', '-', '#']) && !line.is_empty() {
            in_steps = line == "steps:";
        }
        if in_steps && let Some(name) = line.strip_prefix("- name: ") {
            let name = name.trim().trim_matches(|c| c == '\'' || c == '"');
            if let Some((&key, lines)) = by_name.get_key_value(name)
                && done.insert(key)
            {
                for l in lines.iter() {
                    out.push_str(&format!("# {}\n", comment_text(l)));
                }
            }
        }
        out.push_str(line);
        out.push('\n');
    }
    out
}
