//! Where each value of a chain file sits in its text.
//!
//! serde gives us the chain as data; diagnostics also need positions for
//! errors found *after* parsing (a bad template, a duplicate name). So the
//! file is read once more into a tree of positions, flattened into a map from
//! a value's path (`steps[1].url`, the same spelling `serde_path_to_error`
//! uses) to where its key and its value start.

use std::collections::HashMap;

use serde::Deserialize;
use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Number, Value};

use crate::diagnostic::Loc;

/// Positions of every value (and every map key) in a chain file.
#[derive(Debug, Default, Clone)]
pub struct SpanMap {
    values: HashMap<String, Loc>,
    keys: HashMap<String, Loc>,
}

impl SpanMap {
    /// Where the value at `path` starts.
    pub fn value(&self, path: &str) -> Option<Loc> {
        self.values.get(path).copied()
    }

    /// Where the key of the map entry at `path` starts (falls back to the value).
    /// The positions under `prefix`, with paths relative to it (for a
    /// document written inside another, like an inline connector).
    pub fn under(&self, prefix: &str) -> SpanMap {
        let strip = |m: &HashMap<String, Loc>| -> HashMap<String, Loc> {
            m.iter()
                .filter_map(|(k, v)| {
                    let rest = k.strip_prefix(prefix)?;
                    let rest = if rest.is_empty() {
                        ""
                    } else {
                        rest.strip_prefix('.')
                            .or_else(|| rest.starts_with('[').then_some(rest))?
                    };
                    Some((rest.to_string(), *v))
                })
                .collect()
        };
        SpanMap {
            values: strip(&self.values),
            keys: strip(&self.keys),
        }
    }

    pub fn key(&self, path: &str) -> Option<Loc> {
        self.keys.get(path).copied().or_else(|| self.value(path))
    }

    /// The nearest known position at `path` or above it.
    pub fn nearest(&self, path: &str) -> Option<Loc> {
        let mut p = path.to_string();
        loop {
            if let Some(loc) = self.key(&p) {
                return Some(loc);
            }
            match p.rfind(['.', '[']) {
                Some(i) => p.truncate(i),
                None => return self.value(""),
            }
        }
    }
}

/// Appends a map key to a path: `steps[0]` + `url` → `steps[0].url`.
pub fn join_key(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_string()
    } else {
        format!("{path}.{key}")
    }
}

/// Appends a sequence index to a path.
pub fn join_index(path: &str, i: usize) -> String {
    format!("{path}[{i}]")
}

// ---------------------------------------------------------------- YAML

/// A YAML node with its position, read through serde-saphyr's `Spanned`.
struct YNode {
    loc: Loc,
    kind: YKind,
}

enum YKind {
    Scalar(Value),
    Seq(Vec<YNode>),
    Map(Vec<(Loc, String, YNode)>),
}

fn loc_of(l: &serde_saphyr::Location) -> Loc {
    Loc::new(l.line() as usize, l.column() as usize)
}

impl<'de> Deserialize<'de> for YNode {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = serde_saphyr::Spanned::<YKind>::deserialize(d)?;
        Ok(YNode {
            loc: loc_of(&s.referenced),
            kind: s.value,
        })
    }
}

/// A map key, whatever scalar it was written as, as text.
struct YKey(String);

impl<'de> Deserialize<'de> for YKey {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        match YKind::deserialize(d)? {
            YKind::Scalar(Value::String(s)) => Ok(YKey(s)),
            YKind::Scalar(Value::Null) => Ok(YKey("null".into())),
            YKind::Scalar(v) => Ok(YKey(v.to_string())),
            _ => Err(de::Error::custom(
                "map keys must be plain values, not lists or maps",
            )),
        }
    }
}

impl<'de> Deserialize<'de> for YKind {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = YKind;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("any YAML value")
            }
            fn visit_bool<E>(self, v: bool) -> Result<YKind, E> {
                Ok(YKind::Scalar(Value::Bool(v)))
            }
            fn visit_i64<E>(self, v: i64) -> Result<YKind, E> {
                Ok(YKind::Scalar(Value::from(v)))
            }
            fn visit_u64<E>(self, v: u64) -> Result<YKind, E> {
                Ok(YKind::Scalar(Value::from(v)))
            }
            fn visit_i128<E: de::Error>(self, v: i128) -> Result<YKind, E> {
                Ok(YKind::Scalar(Value::String(v.to_string())))
            }
            fn visit_u128<E: de::Error>(self, v: u128) -> Result<YKind, E> {
                Ok(YKind::Scalar(Value::String(v.to_string())))
            }
            fn visit_f64<E>(self, v: f64) -> Result<YKind, E> {
                Ok(YKind::Scalar(
                    Number::from_f64(v).map_or(Value::Null, Value::Number),
                ))
            }
            fn visit_str<E>(self, v: &str) -> Result<YKind, E> {
                Ok(YKind::Scalar(Value::String(v.to_string())))
            }
            fn visit_string<E>(self, v: String) -> Result<YKind, E> {
                Ok(YKind::Scalar(Value::String(v)))
            }
            fn visit_unit<E>(self) -> Result<YKind, E> {
                Ok(YKind::Scalar(Value::Null))
            }
            fn visit_none<E>(self) -> Result<YKind, E> {
                Ok(YKind::Scalar(Value::Null))
            }
            fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<YKind, D::Error> {
                YKind::deserialize(d)
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<YKind, A::Error> {
                let mut items = Vec::new();
                while let Some(item) = seq.next_element::<YNode>()? {
                    items.push(item);
                }
                Ok(YKind::Seq(items))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<YKind, A::Error> {
                let mut entries = Vec::new();
                while let Some(key) = map.next_key::<serde_saphyr::Spanned<YKey>>()? {
                    let value = map.next_value::<YNode>()?;
                    entries.push((loc_of(&key.referenced), key.value.0, value));
                }
                Ok(YKind::Map(entries))
            }
        }
        d.deserialize_any(V)
    }
}

/// A YAML syntax error with its position.
#[derive(Debug)]
pub struct SyntaxError {
    pub message: String,
    pub loc: Option<Loc>,
}

/// Reads YAML into JSON data plus the position of every value.
pub fn read_yaml(text: &str) -> Result<(Value, SpanMap), SyntaxError> {
    // YAML 1.2 Core booleans only: `n`, `no`, `on` and `yes` stay strings (the
    // "Norway problem"), and `007` stays the text it looks like.
    let mut options = serde_saphyr::Options::default();
    options.strict_booleans = true;
    options.leading_zero_numbers_as_strings = true;
    let node: YNode = serde_saphyr::from_str_with_options(text, options).map_err(|e| {
        let loc = e.location().map(|l| loc_of(&l)).filter(|l| l.line > 0);
        SyntaxError {
            message: yaml_message(&e),
            loc,
        }
    })?;
    let mut spans = SpanMap::default();
    let value = flatten(node, String::new(), &mut spans);
    Ok((value, spans))
}

/// serde-saphyr's message without the snippet it renders itself (we render our own).
fn yaml_message(e: &serde_saphyr::Error) -> String {
    let text = e.to_string();
    let first = text.lines().next().unwrap_or("invalid YAML").trim();
    // Drop a trailing " at line X, column Y": the diagnostic shows the position.
    let first = match first.rfind(" at line ") {
        Some(i) => &first[..i],
        None => first,
    };
    let first = first.trim_start_matches("error: ");
    // Advice meant for Rust programmers using the library, not chain authors.
    let first = first
        .split(", set DuplicateKeyPolicy")
        .next()
        .unwrap_or(first)
        .trim_end();
    // "line 5 column 4: …": the diagnostic shows the position itself.
    match first
        .strip_prefix("line ")
        .and_then(|rest| rest.split_once(": "))
    {
        Some((pos, rest)) if pos.contains("column") => rest.to_string(),
        _ => first.to_string(),
    }
}

fn flatten(node: YNode, path: String, spans: &mut SpanMap) -> Value {
    spans.values.insert(path.clone(), node.loc);
    match node.kind {
        YKind::Scalar(v) => v,
        YKind::Seq(items) => Value::Array(
            items
                .into_iter()
                .enumerate()
                .map(|(i, item)| flatten(item, join_index(&path, i), spans))
                .collect(),
        ),
        YKind::Map(entries) => {
            let mut map = Map::new();
            for (kloc, key, value) in entries {
                let p = join_key(&path, &key);
                spans.keys.insert(p.clone(), kloc);
                let v = flatten(value, p, spans);
                map.insert(key, v);
            }
            Value::Object(map)
        }
    }
}

// ---------------------------------------------------------------- JSON

/// Reads JSON into data plus positions. serde_json checks the syntax (and
/// reports its errors); a small scanner then walks the text, which is known
/// to be valid, to note where each value starts and to refuse duplicate keys.
pub fn read_json(text: &str) -> Result<(Value, SpanMap), SyntaxError> {
    let value: Value = serde_json::from_str(text).map_err(|e| SyntaxError {
        message: json_message(&e),
        loc: (e.line() > 0).then(|| Loc::new(e.line(), e.column().max(1))),
    })?;
    let mut scanner = JsonScanner {
        text,
        pos: 0,
        line: 1,
        col: 1,
        spans: SpanMap::default(),
    };
    scanner.value(String::new())?;
    Ok((value, scanner.spans))
}

fn json_message(e: &serde_json::Error) -> String {
    let text = e.to_string();
    match text.rfind(" at line ") {
        Some(i) => text[..i].to_string(),
        None => text,
    }
}

struct JsonScanner<'a> {
    text: &'a str,
    pos: usize,
    line: usize,
    col: usize,
    spans: SpanMap,
}

impl JsonScanner<'_> {
    fn peek(&self) -> Option<char> {
        self.text[self.pos..].chars().next()
    }

    fn bump(&mut self) -> Option<char> {
        let c = self.peek()?;
        self.pos += c.len_utf8();
        if c == '\n' {
            self.line += 1;
            self.col = 1;
        } else {
            self.col += 1;
        }
        Some(c)
    }

    fn skip_ws(&mut self) {
        while matches!(self.peek(), Some(' ' | '\t' | '\n' | '\r' | '\u{feff}')) {
            self.bump();
        }
    }

    fn loc(&self) -> Loc {
        Loc::new(self.line, self.col)
    }

    /// Skips a string token and returns its decoded text.
    fn string(&mut self) -> String {
        let start = self.pos;
        self.bump(); // opening quote
        while let Some(c) = self.bump() {
            match c {
                '\\' => {
                    self.bump();
                }
                '"' => break,
                _ => {}
            }
        }
        serde_json::from_str(&self.text[start..self.pos]).unwrap_or_default()
    }

    fn value(&mut self, path: String) -> Result<(), SyntaxError> {
        self.skip_ws();
        self.spans.values.insert(path.clone(), self.loc());
        match self.peek() {
            Some('{') => {
                self.bump();
                let mut seen = std::collections::HashSet::new();
                loop {
                    self.skip_ws();
                    match self.peek() {
                        Some('}') => {
                            self.bump();
                            break;
                        }
                        Some(',') => {
                            self.bump();
                        }
                        Some('"') => {
                            let kloc = self.loc();
                            let key = self.string();
                            if !seen.insert(key.clone()) {
                                return Err(SyntaxError {
                                    message: format!("duplicate key `{key}`"),
                                    loc: Some(kloc),
                                });
                            }
                            self.skip_ws();
                            self.bump(); // ':'
                            let p = join_key(&path, &key);
                            self.spans.keys.insert(p.clone(), kloc);
                            self.value(p)?;
                        }
                        _ => break,
                    }
                }
            }
            Some('[') => {
                self.bump();
                let mut i = 0;
                loop {
                    self.skip_ws();
                    match self.peek() {
                        Some(']') => {
                            self.bump();
                            break;
                        }
                        Some(',') => {
                            self.bump();
                        }
                        Some(_) => {
                            self.value(join_index(&path, i))?;
                            i += 1;
                        }
                        None => break,
                    }
                }
            }
            Some('"') => {
                self.string();
            }
            _ => {
                while matches!(self.peek(), Some(c) if !matches!(c, ',' | '}' | ']' | ' ' | '\t' | '\n' | '\r'))
                {
                    self.bump();
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_positions_match_paths() {
        let text = "{\n  \"steps\": [\n    {\"name\": \"A\", \"url\": \"http://x\"}\n  ]\n}";
        let (value, spans) = read_json(text).unwrap();
        assert_eq!(value["steps"][0]["url"], "http://x");
        assert_eq!(spans.key("steps[0].url"), Some(Loc::new(3, 19)));
        assert_eq!(spans.value("steps[0].url"), Some(Loc::new(3, 26)));
        assert_eq!(spans.value("steps[0]"), Some(Loc::new(3, 5)));
    }

    #[test]
    fn json_duplicate_keys_are_refused() {
        let err = read_json("{\"a\": 1,\n \"a\": 2}").unwrap_err();
        assert_eq!(err.message, "duplicate key `a`");
        assert_eq!(err.loc, Some(Loc::new(2, 2)));
    }

    #[test]
    fn yaml_positions_match_paths() {
        let text = "name: x\nsteps:\n  - name: A\n    url: http://x\n";
        let (value, spans) = read_yaml(text).unwrap();
        assert_eq!(value["steps"][0]["name"], "A");
        assert_eq!(spans.key("steps[0].url"), Some(Loc::new(4, 5)));
        assert_eq!(spans.value("steps[0].url"), Some(Loc::new(4, 10)));
        assert_eq!(spans.nearest("steps[0].url.nothing"), Some(Loc::new(4, 5)));
    }

    #[test]
    fn yaml_uses_core_schema_booleans() {
        let (value, _) = read_yaml("n: no\ny: yes\non: true\nzip: 01234\nx: 12\n").unwrap();
        assert_eq!(
            value,
            serde_json::json!({"n": "no", "y": "yes", "on": true, "zip": "01234", "x": 12})
        );
    }

    #[test]
    fn yaml_syntax_errors_have_positions() {
        let err = read_yaml("steps:\n  - name: A\n   url: [unclosed\n").unwrap_err();
        assert!(err.loc.is_some(), "{err:?}");
    }
}
