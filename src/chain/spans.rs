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

    /// Positions for a document made from another one (an Arazzo workflow
    /// turned into a chain): every value of `doc` gets the position
    /// `locate` gives its path, else its parent's.
    pub fn mapped(doc: &Value, locate: &dyn Fn(&str) -> Option<Loc>) -> SpanMap {
        fn node(
            v: &Value,
            path: &str,
            parent: Loc,
            locate: &dyn Fn(&str) -> Option<Loc>,
        ) -> PosNode {
            let loc = locate(path).unwrap_or(parent);
            let kids = match v {
                Value::Object(m) => Kids::Map(
                    m.iter()
                        .map(|(k, v)| {
                            let p = join_key(path, k);
                            let kid = node(v, &p, loc, locate);
                            (k.as_str().into(), kid.loc, kid)
                        })
                        .collect(),
                ),
                Value::Array(items) => Kids::Seq(
                    items
                        .iter()
                        .enumerate()
                        .map(|(i, v)| node(v, &join_index(path, i), loc, locate))
                        .collect(),
                ),
                _ => Kids::Leaf,
            };
            PosNode { loc, kids }
        }
        SpanMap::new(node(doc, "", Loc::new(1, 1), locate))
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
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<YKind, E> {
                Number::from_f64(v)
                    .map(|n| YKind::Scalar(Value::Number(n)))
                    .ok_or_else(|| {
                        E::custom("a number too large for a number; quote it to keep it as text")
                    })
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

/// The deepest a document may nest (maps and lists in maps and lists): far
/// beyond any chain, and far short of what would exhaust the stack.
pub const MAX_DEPTH: usize = 64;

/// The most values a YAML document may hold once its aliases are expanded:
/// a chain of 100,000 steps, and far short of what an alias bomb needs.
pub const MAX_VALUES: usize = 1_000_000;

/// Reads YAML into JSON data plus the position of every value, in one pass
/// of serde-saphyr (the one YAML reader: every feature, its positions, its
/// limits on aliases).
///
/// The YAML 1.2 core schema, as docs/reference.md says: `true`/`false` (in
/// three spellings) are booleans and `yes`, `no`, `on`, `off` are text;
/// `0o17` and `0x1F` are numbers and `0X1F`, `0b101`, `1_000` and `007` are
/// text; `~`, `null` and nothing are null. A key given twice is an error,
/// whatever spelling it has (`~` and `null`, `1` and `"1"`).
pub fn read_yaml(text: &str) -> Result<(Value, SpanMap), SyntaxError> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut options = serde_saphyr::Options::default();
    options.strict_booleans = true;
    options.leading_zero_numbers_as_strings = true;
    options.underscored_numbers_as_strings = true;
    options.legacy_octal_numbers = false;
    options.with_snippet = false;
    // `.inf` and `.nan` have no JSON form: they stay the text they are.
    options.non_finite_float_policy = serde_saphyr::options::NonFiniteFloatPolicy::AsString;
    let mut budget = serde_saphyr::budget::Budget::default();
    budget.max_depth = MAX_DEPTH;
    budget.max_nodes = MAX_VALUES;
    options.budget = Some(budget);
    let node: YNode = serde_saphyr::from_str_with_options(text, options).map_err(|e| {
        let loc = e.location().map(|l| loc_of(&l)).filter(|l| l.line > 0);
        SyntaxError {
            message: yaml_message(&e),
            loc,
        }
    })?;
    let lines = LineStarts::new(text);
    let (value, pos) = flatten(node, &lines)?;
    Ok((value, SpanMap::new(pos)))
}

/// Where each line of a text starts, to find a value's text by its position.
struct LineStarts<'t> {
    text: &'t str,
    starts: Vec<usize>,
}

impl<'t> LineStarts<'t> {
    fn new(text: &'t str) -> Self {
        let mut starts = vec![0];
        starts.extend(text.match_indices('\n').map(|(i, _)| i + 1));
        LineStarts { text, starts }
    }

    /// The plain scalar that starts at `loc`: up to a space, a comma, a
    /// closing bracket or brace, a comment or the end of the line.
    fn token(&self, loc: Loc) -> Option<&'t str> {
        let line = self.starts.get(loc.line.checked_sub(1)?)?;
        let rest = self.text.get(*line..)?;
        let at: usize = rest
            .chars()
            .take(loc.column.saturating_sub(1))
            .map(char::len_utf8)
            .sum();
        let rest = rest.get(at..)?;
        let end = rest
            .find([' ', '\t', ',', ']', '}', '#', '\n', '\r'])
            .unwrap_or(rest.len());
        Some(&rest[..end])
    }
}

/// A plain scalar the YAML 1.2 core schema reads as a number:
/// `[-+]?[0-9]+`, `0o[0-7]+`, `0x[0-9a-fA-F]+`, or a decimal float with an
/// optional exponent. (serde-saphyr also takes `0b101` and `0X1F`, which the
/// core schema leaves as text.)
fn core_number(token: &str) -> bool {
    let digits = |s: &str, f: fn(char) -> bool| !s.is_empty() && s.chars().all(f);
    if let Some(oct) = token.strip_prefix("0o") {
        return digits(oct, |c| c.is_digit(8));
    }
    if let Some(hex) = token.strip_prefix("0x") {
        return digits(hex, |c| c.is_ascii_hexdigit());
    }
    let unsigned = token.strip_prefix(['-', '+']).unwrap_or(token);
    let (mantissa, exponent) = match unsigned.find(['e', 'E']) {
        Some(i) => (&unsigned[..i], Some(&unsigned[i + 1..])),
        None => (unsigned, None),
    };
    let mantissa_ok = match mantissa.split_once('.') {
        None => digits(mantissa, |c| c.is_ascii_digit()),
        Some((whole, frac)) => {
            (whole.is_empty() || digits(whole, |c| c.is_ascii_digit()))
                && (frac.is_empty() || digits(frac, |c| c.is_ascii_digit()))
                && !(whole.is_empty() && frac.is_empty())
        }
    };
    let exponent_ok = exponent.is_none_or(|e| {
        let e = e.strip_prefix(['-', '+']).unwrap_or(e);
        digits(e, |c| c.is_ascii_digit())
    });
    mantissa_ok && exponent_ok
}

/// What went wrong, in words for the person who wrote the file: the
/// library's words where they already are, ours where they are meant for
/// programmers ("use from_str_multiple", "budget breached: Nodes { … }").
fn yaml_message(e: &serde_saphyr::Error) -> String {
    use serde_saphyr::Error as E;
    use serde_saphyr::budget::BudgetBreach as B;
    match e.without_snippet() {
        E::MultipleDocuments { .. } => {
            "the file holds more than one YAML document (`---`); a chain file holds one".into()
        }
        E::Budget {
            breach: B::Depth { .. },
            ..
        } => format!("values are nested deeper than {MAX_DEPTH} levels"),
        E::Budget { .. }
        | E::AliasReplayLimitExceeded { .. }
        | E::AliasExpansionLimitExceeded { .. }
        | E::AliasReplayStackDepthExceeded { .. }
        | E::AliasReplayCounterOverflow { .. } => {
            "the document is too large once its aliases (`*name`) are expanded".into()
        }
        E::RecursiveReferencesRequireWeakTypes { .. } => {
            "an alias (`*name`) refers to a value that contains it".into()
        }
        E::DuplicateMappingKey { key: Some(k), .. } => format!("duplicate key `{k}`"),
        E::DuplicateMappingKey { key: None, .. } => "a key is given twice".into(),
        E::AliasError { error, .. } => yaml_message(error),
        other => {
            let text = other.to_string();
            let first = text.lines().next().unwrap_or("invalid YAML").trim();
            // A trailing " at line X, column Y": the diagnostic shows the position.
            let first = first.rfind(" at line ").map_or(first, |i| &first[..i]);
            let first = first.trim_start_matches("error: ");
            match first
                .strip_prefix("line ")
                .and_then(|rest| rest.split_once(": "))
            {
                Some((pos, rest)) if pos.contains("column") => rest.to_string(),
                _ => first.to_string(),
            }
        }
    }
}

/// Splits the read tree into the data and its positions. Keys are text in
/// a chain, so two keys with the same text (`~` and `null`, `1` and `"1"`)
/// are one key given twice: an error at the second.
fn flatten(node: YNode, lines: &LineStarts) -> Result<(Value, PosNode), SyntaxError> {
    Ok(match node.kind {
        // A number serde-saphyr read that the core schema does not (`0b101`),
        // or one too large for a number (`1e99999`, read as `.inf`): the
        // text it was written as.
        // So is a whole number too large for 64 bits (read as an inexact float).
        YKind::Scalar(Value::Number(n)) => match lines.token(node.loc) {
            Some(t) if !core_number(t) || (n.is_f64() && !t.contains(['.', 'e', 'E'])) => {
                (Value::String(t.to_string()), PosNode::leaf(node.loc))
            }
            _ => (Value::Number(n), PosNode::leaf(node.loc)),
        },
        YKind::Scalar(Value::String(s)) if matches!(s.as_str(), ".inf" | "-.inf" | ".nan") => {
            match lines.token(node.loc) {
                Some(t) if core_number(t) => {
                    (Value::String(t.to_string()), PosNode::leaf(node.loc))
                }
                _ => (Value::String(s), PosNode::leaf(node.loc)),
            }
        }
        YKind::Scalar(v) => (v, PosNode::leaf(node.loc)),
        YKind::Seq(items) => {
            let mut values = Vec::with_capacity(items.len());
            let mut kids = Vec::with_capacity(items.len());
            for item in items {
                let (v, p) = flatten(item, lines)?;
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
            let mut kids: Vec<(Box<str>, Loc, PosNode)> = Vec::with_capacity(entries.len());
            for (kloc, key, value) in entries {
                if let Some((_, first, _)) = kids.iter().find(|(k, _, _)| **k == *key) {
                    return Err(SyntaxError {
                        message: format!(
                            "duplicate key `{key}` (first at line {}, column {})",
                            first.line, first.column
                        ),
                        loc: Some(kloc),
                    });
                }
                let (v, p) = flatten(value, lines)?;
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
    })
}

// ---------------------------------------------------------------- JSON

/// Reads JSON into data plus positions. serde_json checks the syntax (and
/// reports its errors); a small scanner then walks the text, which is known
/// to be valid, to note where each value starts and to refuse duplicate keys.
pub fn read_json(text: &str) -> Result<(Value, SpanMap), SyntaxError> {
    // A byte-order mark is no part of the document (editors on Windows add one).
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
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

    #[test]
    fn yaml_reads_the_core_schema() {
        let (value, _) = read_yaml(
            "a: 0b101\nb: 1_000\nc: 0X1F\nd: 0x1F\ne: 0o17\nf: 007\ng: yes\nh: on\ni: .inf\nj: 1.5e3\nk: ~\nl: null\nm:\nn: 12\no: -3\np: TRUE\nq: .NaN\n",
        )
        .unwrap();
        assert_eq!(
            value,
            serde_json::json!({
                "a": "0b101", "b": "1_000", "c": "0X1F", "d": 31, "e": 15, "f": "007",
                "g": "yes", "h": "on", "i": ".inf", "j": 1500.0, "k": null, "l": null,
                "m": null, "n": 12, "o": -3, "p": true, "q": ".nan"
            })
        );
    }

    #[test]
    fn every_spelling_of_a_key_given_twice_is_an_error() {
        for (doc, key) in [
            ("{null: a, ~: b}", "null"),
            ("{1: a, \"1\": b}", "1"),
            ("a: 1\nb: 2\na: 3\n", "a"),
            ("x:\n  k: 1\n  'k': 2\n", "k"),
        ] {
            let err = read_yaml(doc).unwrap_err();
            assert!(
                err.message.starts_with(&format!("duplicate key `{key}`")),
                "{doc}: {}",
                err.message
            );
            assert!(err.loc.is_some(), "{doc}");
        }
        let err = read_yaml("a: 1\nb: 2\na: 3\n").unwrap_err();
        assert_eq!(err.loc, Some(Loc::new(3, 1)));
        let err = read_yaml("k: 1\n'k': 2\n").unwrap_err();
        assert_eq!(err.loc, Some(Loc::new(2, 1)));
    }

    #[test]
    fn library_wording_stays_out_of_messages() {
        let nested = format!("a: {}{}", "[".repeat(200), "]".repeat(200));
        let mut bomb = String::from("a: &a [x, x, x, x, x, x, x, x, x]\n");
        for (i, name) in ["b", "c", "d", "e", "f", "g"].iter().enumerate() {
            let prev = ["a", "b", "c", "d", "e", "f"][i];
            bomb.push_str(&format!(
                "{name}: &{name} [{}]\n",
                vec![format!("*{prev}"); 9].join(", ")
            ));
        }
        for (doc, says) in [
            (
                "a: 1\n---\nb: 2\n".to_string(),
                "more than one YAML document",
            ),
            (nested, "nested deeper than 64 levels"),
            (bomb, "too large once its aliases"),
        ] {
            let err = read_yaml(&doc).unwrap_err();
            assert!(err.message.contains(says), "{says}: {}", err.message);
            for word in [
                "from_str",
                "budget",
                "Nodes {",
                "weak",
                "non-finite",
                "policy",
            ] {
                assert!(!err.message.contains(word), "{word} in {}", err.message);
            }
        }
        // A number too large for one is the text it was written as.
        let (v, _) = read_yaml("a: 1e99999\nb: 99999999999999999999999\n").unwrap();
        assert_eq!(
            v,
            serde_json::json!({"a": "1e99999", "b": "99999999999999999999999"})
        );
        // A byte-order mark is read past, in YAML and in JSON.
        assert!(read_yaml("\u{feff}a: 1\n").is_ok());
        assert!(read_json("\u{feff}{\"a\": 1}").is_ok());
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
