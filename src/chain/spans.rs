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
#[derive(Debug, Clone, PartialEq)]
struct PosNode {
    loc: Loc,
    kids: Kids,
}

#[derive(Debug, Clone, PartialEq)]
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

    /// Which of `keys` the map at `path` has written in it: one walk from
    /// the root for all of them, and no path string built for each.
    pub fn has_keys<const N: usize>(&self, path: &str, keys: [&str; N]) -> [bool; N] {
        let mut found = [false; N];
        if let Some((
            _,
            PosNode {
                kids: Kids::Map(entries),
                ..
            },
        )) = self.find(path)
        {
            for (k, _, _) in entries {
                for (i, key) in keys.iter().enumerate() {
                    found[i] |= **k == **key;
                }
            }
        }
        found
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
        return key.to_string();
    }
    // Built by hand: `format!` costs several times more, and validation
    // builds a few of these for every step.
    let mut out = String::with_capacity(path.len() + 1 + key.len());
    out.push_str(path);
    out.push('.');
    out.push_str(key);
    out
}

/// Appends a sequence index to a path.
pub fn join_index(path: &str, i: usize) -> String {
    // By hand too: `write!` through the formatter cost four times more, and
    // validation builds one of these for every step.
    let mut digits = itoa::Buffer::new();
    let digits = digits.format(i);
    let mut out = String::with_capacity(path.len() + digits.len() + 2);
    out.push_str(path);
    out.push('[');
    out.push_str(digits);
    out.push(']');
    out
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
///
/// Three readers, fastest first, each answering only for what it is sure of:
/// - [`block`] reads block maps and lists with one-line scalars and flow
///   collections straight from the text (most chain files);
/// - the event reader builds plain YAML — maps, lists, untagged scalars,
///   block scalars, multi-line strings — from granit-parser's events, a
///   third of the cost of serde-saphyr's position-carrying deserializer;
/// - serde-saphyr reads the rest: anchors, tags, merge keys, numbers other
///   than plain integers, duplicate keys, several documents, syntax errors.
///
/// The results (data and positions) and error messages are serde-saphyr's
/// whichever reader ran; the tests compare them.
pub fn read_yaml(text: &str) -> Result<(Value, SpanMap), SyntaxError> {
    if let Some(read) = block::read(text).or_else(|| plain_yaml::read(text)) {
        return Ok(read);
    }
    read_yaml_full(text)
}

/// The document as [`Data`] when the block reader can read it (most chain
/// files); `None` sends the caller to [`read_yaml`].
pub fn read_yaml_data(text: &str) -> Option<(Data<'_>, SpanMap)> {
    block::read_data(text)
}

/// Reads YAML through serde-saphyr (every feature, its error messages).
fn read_yaml_full(text: &str) -> Result<(Value, SpanMap), SyntaxError> {
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

mod block;
mod data;

pub use data::Data;

mod plain_yaml {
    //! The second path of [`super::read_yaml`], for plain YAML the block
    //! reader leaves: `None` means "let serde-saphyr read it", never "this
    //! is wrong".

    use granit_parser::{Event, Parser, ScalarStyle, Span};
    use serde_json::{Map, Value};

    use super::{Kids, Loc, PosNode, SpanMap};

    fn loc(span: &Span) -> Loc {
        Loc::new(span.start.line(), span.start.col() + 1)
    }

    /// A container being filled.
    enum Open {
        Seq {
            loc: Loc,
            values: Vec<Value>,
            kids: Vec<PosNode>,
        },
        Map {
            loc: Loc,
            values: Map<String, Value>,
            kids: Vec<(Box<str>, Loc, PosNode)>,
            /// The key read, waiting for its value.
            key: Option<(String, Loc)>,
        },
    }

    pub(super) fn read(text: &str) -> Option<(Value, SpanMap)> {
        let mut stack: Vec<Open> = Vec::new();
        let mut root: Option<(Value, PosNode)> = None;
        let mut documents = 0;
        for event in Parser::new_from_str(text) {
            let (event, span) = event.ok()?;
            let done: (Value, PosNode) = match event {
                Event::StreamStart | Event::StreamEnd | Event::DocumentEnd => continue,
                Event::DocumentStart(..) => {
                    documents += 1;
                    if documents > 1 {
                        return None;
                    }
                    continue;
                }
                Event::MappingStart(_, 0, None) => {
                    stack.push(Open::Map {
                        loc: loc(&span),
                        values: Map::new(),
                        kids: Vec::new(),
                        key: None,
                    });
                    continue;
                }
                Event::SequenceStart(_, 0, None) => {
                    stack.push(Open::Seq {
                        loc: loc(&span),
                        values: Vec::new(),
                        kids: Vec::new(),
                    });
                    continue;
                }
                Event::MappingEnd => match stack.pop()? {
                    Open::Map {
                        loc,
                        values,
                        kids,
                        key: None,
                    } => (
                        Value::Object(values),
                        PosNode {
                            loc,
                            kids: Kids::Map(kids),
                        },
                    ),
                    _ => return None,
                },
                Event::SequenceEnd => match stack.pop()? {
                    Open::Seq { loc, values, kids } => (
                        Value::Array(values),
                        PosNode {
                            loc,
                            kids: Kids::Seq(kids),
                        },
                    ),
                    _ => return None,
                },
                Event::Scalar(text, style, 0, None) => {
                    let value = scalar(&text, style)?;
                    let at = loc(&span);
                    // A scalar in key position becomes the pending key.
                    if let Some(Open::Map {
                        key: key @ None, ..
                    }) = stack.last_mut()
                    {
                        let name = match value {
                            Value::String(s) if s == "<<" && style == ScalarStyle::Plain => {
                                return None; // a merge key
                            }
                            Value::String(s) => s,
                            Value::Null => "null".to_string(),
                            other => other.to_string(),
                        };
                        *key = Some((name, at));
                        continue;
                    }
                    (value, PosNode::leaf(at))
                }
                // Anchors, aliases, tags: serde-saphyr's business.
                _ => return None,
            };
            let (value, pos) = done;
            match stack.last_mut() {
                None => {
                    if root.is_some() {
                        return None;
                    }
                    root = Some((value, pos));
                }
                Some(Open::Seq { values, kids, .. }) => {
                    values.push(value);
                    kids.push(pos);
                }
                Some(Open::Map {
                    values, kids, key, ..
                }) => {
                    // A map or list as a key has no pending key here.
                    let (name, kloc) = key.take()?;
                    if values.contains_key(&name) {
                        return None; // a duplicate key: serde-saphyr words the error
                    }
                    kids.push((Box::from(name.as_str()), kloc, pos));
                    values.insert(name, value);
                }
            }
        }
        if !stack.is_empty() {
            return None;
        }
        let (value, pos) = root?;
        Some((value, SpanMap::new(pos)))
    }

    /// An untagged scalar under YAML 1.2's core schema as pytopus configures
    /// serde-saphyr (`yes`/`no` stay text, `007` stays text); `None` for
    /// spellings left to serde-saphyr (floats, hex, octal, `+1`, `.inf`…).
    pub(super) fn scalar(text: &str, style: ScalarStyle) -> Option<Value> {
        if style != ScalarStyle::Plain {
            return Some(Value::String(text.to_string()));
        }
        match text {
            "" | "~" | "null" | "Null" | "NULL" => return Some(Value::Null),
            "true" | "True" | "TRUE" => return Some(Value::Bool(true)),
            "false" | "False" | "FALSE" => return Some(Value::Bool(false)),
            _ => {}
        }
        let bytes = text.as_bytes();
        let first = bytes[0];
        if first.is_ascii_whitespace() || bytes[bytes.len() - 1].is_ascii_whitespace() {
            return None;
        }
        if !(first.is_ascii_digit() || matches!(first, b'-' | b'+' | b'.')) {
            return Some(Value::String(text.to_string()));
        }
        // Plain decimal integers; every other number-like spelling goes the long way.
        let (negative, digits) = match text.strip_prefix('-') {
            Some(d) => (true, d),
            None => (false, text),
        };
        let canonical = !digits.is_empty()
            && digits.len() <= 18
            && digits.bytes().all(|b| b.is_ascii_digit())
            && (digits == "0" || !digits.starts_with('0'));
        if !canonical || (negative && digits == "0") {
            return None;
        }
        let n: i64 = digits.parse().ok()?;
        Some(if negative {
            Value::from(-n)
        } else {
            Value::from(n as u64)
        })
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

/// Every YAML file under `examples/`, `tests/` and `docs/`, by path; with
/// `doc_blocks`, also the YAML code blocks of the Markdown files there. The
/// readers' tests compare themselves on all of them.
#[cfg(test)]
pub(crate) fn repository_yaml(doc_blocks: bool) -> Vec<(String, String)> {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut docs = Vec::new();
    let mut dirs = vec![root.join("examples"), root.join("tests"), root.join("docs")];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
            let path = entry.path();
            let name = path.display().to_string();
            if path.is_dir() {
                dirs.push(path);
            } else if name.ends_with(".yaml") || name.ends_with(".yml") {
                docs.push((name, std::fs::read_to_string(&path).unwrap()));
            } else if doc_blocks && name.ends_with(".md") {
                let text = std::fs::read_to_string(&path).unwrap();
                for (i, block) in text.split("```yaml\n").skip(1).enumerate() {
                    let body = block.split("```").next().unwrap_or_default();
                    docs.push((format!("{name} block {i}"), body.to_string()));
                }
            }
        }
    }
    docs
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
    fn paths_are_joined_like_serde_path_to_error_writes_them() {
        assert_eq!(join_index("steps", 0), "steps[0]");
        assert_eq!(join_index("steps", 1234), "steps[1234]");
        assert_eq!(join_index("", usize::MAX), format!("[{}]", usize::MAX));
        assert_eq!(join_key(&join_index("steps", 7), "url"), "steps[7].url");
        assert_eq!(join_key("", "vars"), "vars");
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

    /// Every YAML file in the repository, and some odd documents, read the
    /// same through the event reader as through serde-saphyr.
    #[test]
    fn plain_yaml_reader_agrees_with_serde_saphyr() {
        let mut docs: Vec<(String, String)> = [
            "a: 1\nb: -2\nc: 0\nd: 007\ne: 1.5\nf: .inf\ng: 0x1F\nh: +3\ni: -0\n",
            "k: ~\nl:\nm: null\nn: NULL\no: 'null'\np: \"true\"\nq: True\nr: yes\ns: off\n",
            "list: [1, two, {x: 3}]\nmap: {a: [], b: {}}\n",
            "text: |\n  line one\n  line two\nfolded: >\n  a\n  b\n",
            "200: ok\ntrue: yes\n~: none\n",
            "a: &x {k: 1}\nb: *x\n",
            "base: &b {k: 1}\nderived:\n  <<: *b\n  j: 2\n",
            "t: !!str 12\nu: !custom v\n",
            "dup: 1\ndup: 2\n",
            "--- \na: 1\n--- \nb: 2\n",
            "? [complex]\n: key\n",
            "# only a comment\n",
            "",
            "a: [unclosed\n",
            "big: 123456789012345678901234567890\nneg: -9223372036854775808\n",
            "url: http://h/x?a=1#frag  # comment\nq: \"{{ x }}\"\n",
            "\u{feff}name: bom\n",
        ]
        .iter()
        .map(|d| ("inline".to_string(), d.to_string()))
        .collect();
        docs.extend(repository_yaml(false));
        assert!(docs.len() > 40, "found only {} documents", docs.len());
        let mut fast_paths = 0;
        for (name, text) in &docs {
            let full = read_yaml_full(text);
            if let Some((value, spans)) = plain_yaml::read(text) {
                fast_paths += 1;
                let (v2, s2) = full.unwrap_or_else(|e| panic!("{name}: {e:?}"));
                assert_eq!(value, v2, "{name}");
                assert_eq!(spans.root, s2.root, "{name}");
            }
        }
        assert!(fast_paths > 30, "fast path taken {fast_paths} times");
        // What must go the long way.
        for d in [
            "a: &x {k: 1}\nb: *x\n",
            "t: !!str 12\n",
            "dup: 1\ndup: 2\n",
            "e: 1.5\n",
            "base: {k: 1}\nd:\n  <<: {j: 2}\n",
            "a: [unclosed\n",
        ] {
            assert!(plain_yaml::read(d).is_none(), "{d}");
        }
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
