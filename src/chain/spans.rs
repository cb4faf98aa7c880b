//! Where each value of a chain file sits in its text.
//!
//! serde gives us the chain as data; diagnostics also need positions for
//! errors found *after* parsing (a bad template, a duplicate name). So the
//! file is read once more into a tree of positions, flattened into a map from
//! a value's path (`steps[1].url`, the same spelling `serde_path_to_error`
//! uses) to where its key and its value start.

use std::sync::Arc;

use serde::Deserialize;
use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Number, Value};

use crate::diagnostic::Loc;

/// Positions of every value (and every map key) in a chain file.
///
/// Kept as a tree shaped like the document and searched by path when a
/// diagnostic asks: building a map of every path up front cost more than
/// parsing the file (a 1000-step chain has ~4000 of them).
#[derive(Debug, Default, Clone)]
pub struct SpanMap {
    root: Option<Arc<PosNode>>,
}

/// Where one value starts, and the positions inside it.
#[derive(Debug, Clone)]
struct PosNode {
    loc: Loc,
    kids: Kids,
}

#[derive(Debug, Clone)]
enum Kids {
    Leaf,
    Seq(Vec<PosNode>),
    /// Key, where the key starts, the value's positions.
    Map(Vec<(Box<str>, Loc, PosNode)>),
}

impl PosNode {
    fn leaf(loc: Loc) -> Self {
        PosNode {
            loc,
            kids: Kids::Leaf,
        }
    }

    /// The node at `path` (relative to this one) and, when the last step was
    /// a map key, where that key starts.
    fn find(&self, path: &str) -> Option<(Option<Loc>, &PosNode)> {
        if path.is_empty() {
            return Some((None, self));
        }
        match &self.kids {
            Kids::Leaf => None,
            Kids::Seq(items) => {
                let inner = path.strip_prefix('[')?;
                let close = inner.find(']')?;
                let i: usize = inner[..close].parse().ok()?;
                let rest = &inner[close + 1..];
                let rest = rest.strip_prefix('.').unwrap_or(rest);
                items.get(i)?.find(rest)
            }
            Kids::Map(entries) => {
                // A key may itself contain `.` or `[`: try every key the path
                // starts with, so `headers.X.Y` still finds the key `X.Y`.
                entries.iter().find_map(|(key, kloc, node)| {
                    let rest = path.strip_prefix(&**key)?;
                    if rest.is_empty() {
                        return Some((Some(*kloc), node));
                    }
                    let rest = match rest.strip_prefix('.') {
                        Some(r) => r,
                        None if rest.starts_with('[') => rest,
                        None => return None,
                    };
                    node.find(rest)
                })
            }
        }
    }
}

impl SpanMap {
    fn new(root: PosNode) -> Self {
        SpanMap {
            root: Some(Arc::new(root)),
        }
    }

    fn find(&self, path: &str) -> Option<(Option<Loc>, &PosNode)> {
        self.root.as_deref()?.find(path)
    }

    /// Where the value at `path` starts.
    pub fn value(&self, path: &str) -> Option<Loc> {
        self.find(path).map(|(_, n)| n.loc)
    }

    /// The positions under `prefix`, with paths relative to it (for a
    /// document written inside another, like an inline connector).
    pub fn under(&self, prefix: &str) -> SpanMap {
        match self.find(prefix) {
            Some((_, node)) => SpanMap::new(node.clone()),
            None => SpanMap::default(),
        }
    }

    /// Where the key of the map entry at `path` starts (falls back to the value).
    pub fn key(&self, path: &str) -> Option<Loc> {
        self.find(path).map(|(k, n)| k.unwrap_or(n.loc))
    }

    /// The nearest known position at `path` or above it.
    pub fn nearest(&self, path: &str) -> Option<Loc> {
        let mut p = path;
        loop {
            if let Some(loc) = self.key(p) {
                return Some(loc);
            }
            match p.rfind(['.', '[']) {
                Some(i) => p = &p[..i],
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
    let (value, pos) = flatten(node);
    Ok((value, SpanMap::new(pos)))
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

/// Splits the read tree into the data and its positions.
fn flatten(node: YNode) -> (Value, PosNode) {
    match node.kind {
        YKind::Scalar(v) => (v, PosNode::leaf(node.loc)),
        YKind::Seq(items) => {
            let mut values = Vec::with_capacity(items.len());
            let mut kids = Vec::with_capacity(items.len());
            for item in items {
                let (v, p) = flatten(item);
                values.push(v);
                kids.push(p);
            }
            (
                Value::Array(values),
                PosNode {
                    loc: node.loc,
                    kids: Kids::Seq(kids),
                },
            )
        }
        YKind::Map(entries) => {
            let mut map = Map::new();
            let mut kids = Vec::with_capacity(entries.len());
            for (kloc, key, value) in entries {
                let (v, p) = flatten(value);
                kids.push((Box::from(key.as_str()), kloc, p));
                map.insert(key, v);
            }
            (
                Value::Object(map),
                PosNode {
                    loc: node.loc,
                    kids: Kids::Map(kids),
                },
            )
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
    };
    let pos = scanner.value()?;
    Ok((value, SpanMap::new(pos)))
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

    fn value(&mut self) -> Result<PosNode, SyntaxError> {
        self.skip_ws();
        let loc = self.loc();
        let kids = match self.peek() {
            Some('{') => {
                self.bump();
                let mut entries: Vec<(Box<str>, Loc, PosNode)> = Vec::new();
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
                            let node = self.value()?;
                            entries.push((key.into_boxed_str(), kloc, node));
                        }
                        _ => break,
                    }
                }
                Kids::Map(entries)
            }
            Some('[') => {
                self.bump();
                let mut items = Vec::new();
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
                        Some(_) => items.push(self.value()?),
                        None => break,
                    }
                }
                Kids::Seq(items)
            }
            Some('"') => {
                self.string();
                Kids::Leaf
            }
            _ => {
                while matches!(self.peek(), Some(c) if !matches!(c, ',' | '}' | ']' | ' ' | '\t' | '\n' | '\r'))
                {
                    self.bump();
                }
                Kids::Leaf
            }
        };
        Ok(PosNode { loc, kids })
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
    fn keys_with_dots_and_brackets_are_found() {
        let text = "headers:\n  a: 1\n  a.b: 2\n  x[1]: 3\nlist:\n  - [p, q]\n";
        let (_, spans) = read_yaml(text).unwrap();
        assert_eq!(spans.key("headers.a.b"), Some(Loc::new(3, 3)));
        assert_eq!(spans.value("headers.a.b"), Some(Loc::new(3, 8)));
        assert_eq!(spans.key("headers.x[1]"), Some(Loc::new(4, 3)));
        assert_eq!(spans.value("list[0][1]"), Some(Loc::new(6, 9)));
        assert_eq!(spans.value("list[1]"), None);
        assert_eq!(spans.nearest("list[0][7].z"), Some(Loc::new(6, 5)));
        let inner = spans.under("headers");
        assert_eq!(inner.key("a"), Some(Loc::new(2, 3)));
        assert_eq!(inner.value(""), Some(Loc::new(2, 3)));
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
