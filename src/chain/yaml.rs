//! YAML text → JSON data and the position of every value, in one pass over
//! the granit parser's events (the parser under serde-saphyr).
//!
//! Built here rather than through serde: the events carry each value's
//! position, so the tree of positions comes with the data; scalars are
//! resolved by the YAML 1.2 core schema below; anchors, aliases and `<<`
//! merges are expanded once, within the limits of [`Limits`].

use std::borrow::Cow;
use std::collections::HashMap;

use granit_parser::{ErrorKind, Event, Marker, Parser, ScalarStyle, ScanError, Tag};
use serde_json::map::Entry;
use serde_json::{Map, Number, Value};

use super::spans::{Kids, PosNode, SpanMap, SyntaxError};
use crate::diagnostic::Loc;

/// The deepest a chain file may nest (maps and lists in maps and lists): far
/// beyond any chain, and far short of what would exhaust the stack.
pub const MAX_DEPTH: usize = 64;

/// The most values a chain file may hold once its aliases are expanded: a
/// chain of 100,000 steps, and far short of what an alias bomb needs.
pub const MAX_VALUES: usize = 1_000_000;

/// How large a document may grow.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Maps and lists nested in one another, the outermost included.
    pub depth: usize,
    /// Values (scalars, lists and maps) once aliases and merges are expanded;
    /// also the most values anchors may hold for later aliases.
    pub values: usize,
}

impl Limits {
    /// A chain file, a sub-chain, a connector, a `--vars-file`.
    pub const CHAIN: Limits = Limits {
        depth: MAX_DEPTH,
        values: MAX_VALUES,
    };
}

/// Reads a chain file's YAML: its data and the position of every value.
///
/// The YAML 1.2 core schema, as docs/reference.md says: `true`/`false` (in
/// three spellings) are booleans and `yes`, `no`, `on`, `off` are text;
/// `0o17` and `0x1F` are numbers and `0X1F`, `0b101`, `1_000` and `007` are
/// text; `~`, `null` and nothing are null. A key given twice is an error,
/// whatever spelling it has (`~` and `null`, `1` and `"1"`).
pub fn read_yaml(text: &str) -> Result<(Value, SpanMap), SyntaxError> {
    read_yaml_within(text, Limits::CHAIN)
}

/// [`read_yaml`] with other limits (an OpenAPI document runs to millions of
/// values).
pub fn read_yaml_within(text: &str, limits: Limits) -> Result<(Value, SpanMap), SyntaxError> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut options = granit_parser::Options::default();
    options.block_nesting_limit = options.block_nesting_limit.max(limits.depth + 1);
    let mut parser = Parser::new_from_str_with_options(text, options);
    let mut builder = Builder {
        limits,
        stack: Vec::new(),
        anchors: HashMap::new(),
        values: 0,
        anchored: 0,
        root: None,
    };
    let mut documents = 0;
    while let Some(next) = parser.next_event() {
        let (event, span) = next.map_err(scan_error)?;
        let loc = loc_of(&span.start);
        match event {
            Event::DocumentStart(..) => {
                documents += 1;
                if documents > 1 {
                    return Err(error(
                        "the file holds more than one YAML document (`---`); a chain file holds one",
                        loc,
                    ));
                }
            }
            Event::Scalar(text, style, anchor, tag) => {
                builder.scalar(text, style, anchor, tag.as_deref(), loc)?
            }
            Event::SequenceStart(_, anchor, _) => builder.open(Open::seq(loc, anchor))?,
            Event::MappingStart(_, anchor, _) => builder.open(Open::map(loc, anchor))?,
            Event::SequenceEnd | Event::MappingEnd => builder.close()?,
            Event::Alias(id) => builder.alias(id, loc)?,
            _ => {}
        }
    }
    let (value, pos) = builder
        .root
        .unwrap_or_else(|| (Value::Null, PosNode::leaf(Loc::new(1, 1))));
    Ok((value, SpanMap::new(pos)))
}

fn loc_of(m: &Marker) -> Loc {
    Loc::new(m.line(), m.col() + 1)
}

fn error(message: impl Into<String>, loc: Loc) -> SyntaxError {
    SyntaxError {
        message: message.into(),
        loc: Some(loc),
    }
}

fn scan_error(e: ScanError) -> SyntaxError {
    let message = match e.kind() {
        ErrorKind::UnknownAnchor => "alias references unknown anchor".to_string(),
        _ => {
            let info = e.info();
            info.lines().next().unwrap_or("invalid YAML").to_string()
        }
    };
    let loc = loc_of(e.marker());
    SyntaxError {
        message,
        loc: (loc.line > 0).then_some(loc),
    }
}

fn too_large(loc: Loc) -> SyntaxError {
    error(
        "the document is too large once its aliases (`*name`) are expanded",
        loc,
    )
}

/// A list or map whose end has not been read yet.
struct Open {
    loc: Loc,
    anchor: usize,
    /// The most maps and lists nested inside it so far.
    height: usize,
    body: Body,
}

enum Body {
    Seq(Vec<Value>, Vec<PosNode>),
    Map(OpenMap),
}

struct OpenMap {
    map: Map<String, Value>,
    kids: Vec<(Box<str>, Loc, PosNode)>,
    /// The key read, waiting for its value.
    key: Option<Key>,
    /// Entries of `<<` merges, in order; a key written in the map itself, or
    /// in an earlier merge, wins.
    merged: Vec<(String, Loc, Value, PosNode)>,
}

enum Key {
    Text(String, Loc),
    /// `<<`: the value's entries are merged in.
    Merge,
}

impl Open {
    fn seq(loc: Loc, anchor: usize) -> Open {
        Open {
            loc,
            anchor,
            height: 0,
            body: Body::Seq(Vec::new(), Vec::new()),
        }
    }

    fn map(loc: Loc, anchor: usize) -> Open {
        Open {
            loc,
            anchor,
            height: 0,
            body: Body::Map(OpenMap {
                map: Map::new(),
                kids: Vec::new(),
                key: None,
                merged: Vec::new(),
            }),
        }
    }

    fn awaits_key(&self) -> bool {
        matches!(&self.body, Body::Map(m) if m.key.is_none())
    }

    /// The finished value, its positions and its height.
    fn finish(self) -> (Value, PosNode, usize) {
        let (value, kids) = match self.body {
            Body::Seq(values, kids) => (Value::Array(values), Kids::Seq(kids)),
            Body::Map(mut m) => {
                for (key, kloc, value, pos) in m.merged {
                    if let Entry::Vacant(slot) = m.map.entry(key.as_str()) {
                        m.kids.push((key.into_boxed_str(), kloc, pos));
                        slot.insert(value);
                    }
                }
                (Value::Object(m.map), Kids::Map(m.kids))
            }
        };
        let pos = PosNode {
            loc: self.loc,
            kids,
        };
        (value, pos, self.height + 1)
    }
}

/// A value an anchor (`&name`) names, for the aliases (`*name`) after it.
struct Anchored {
    value: Value,
    /// Values in it, lists and maps included.
    size: usize,
    height: usize,
}

struct Builder {
    limits: Limits,
    stack: Vec<Open>,
    anchors: HashMap<usize, Anchored>,
    /// Values read or copied from an anchor so far.
    values: usize,
    /// Values copied into `anchors` so far.
    anchored: usize,
    root: Option<(Value, PosNode)>,
}

impl Builder {
    fn count(&mut self, n: usize, loc: Loc) -> Result<(), SyntaxError> {
        self.values += n;
        if self.values > self.limits.values {
            return Err(too_large(loc));
        }
        Ok(())
    }

    fn scalar(
        &mut self,
        text: Cow<str>,
        style: ScalarStyle,
        anchor: usize,
        tag: Option<&Tag>,
        loc: Loc,
    ) -> Result<(), SyntaxError> {
        let value = resolve(text, style, tag).map_err(|m| error(m, loc))?;
        self.count(1, loc)?;
        if anchor != 0 {
            self.remember(anchor, &value, 1, 0, loc)?;
        }
        if self.stack.last().is_some_and(Open::awaits_key) {
            let merge = style == ScalarStyle::Plain && tag.is_none() && value == "<<";
            return self.key(value, merge, loc);
        }
        self.place(value, PosNode::leaf(loc), 0, loc)
    }

    fn open(&mut self, open: Open) -> Result<(), SyntaxError> {
        if self.stack.last().is_some_and(Open::awaits_key) {
            return Err(error(
                "map keys must be plain values, not lists or maps",
                open.loc,
            ));
        }
        if self.stack.len() >= self.limits.depth {
            return Err(error(
                format!("values are nested deeper than {} levels", self.limits.depth),
                open.loc,
            ));
        }
        self.count(1, open.loc)?;
        self.stack.push(open);
        Ok(())
    }

    fn close(&mut self) -> Result<(), SyntaxError> {
        let Some(open) = self.stack.pop() else {
            return Ok(());
        };
        let (anchor, loc) = (open.anchor, open.loc);
        let (value, pos, height) = open.finish();
        if anchor != 0 {
            let size = size_of(&value);
            self.remember(anchor, &value, size, height, loc)?;
        }
        self.place(value, pos, height, loc)
    }

    fn remember(
        &mut self,
        id: usize,
        value: &Value,
        size: usize,
        height: usize,
        loc: Loc,
    ) -> Result<(), SyntaxError> {
        self.anchored += size;
        if self.anchored > self.limits.values {
            return Err(too_large(loc));
        }
        let anchored = Anchored {
            value: value.clone(),
            size,
            height,
        };
        self.anchors.insert(id, anchored);
        Ok(())
    }

    fn alias(&mut self, id: usize, loc: Loc) -> Result<(), SyntaxError> {
        if self.stack.iter().any(|open| open.anchor == id) {
            return Err(error(
                "an alias (`*name`) refers to a value that contains it",
                loc,
            ));
        }
        let Some(anchored) = self.anchors.get(&id) else {
            return Err(error("alias references unknown anchor", loc));
        };
        let (size, height) = (anchored.size, anchored.height);
        if self.stack.len() + height > self.limits.depth {
            return Err(error(
                format!("values are nested deeper than {} levels", self.limits.depth),
                loc,
            ));
        }
        self.count(size, loc)?;
        let value = self.anchors[&id].value.clone();
        if self.stack.last().is_some_and(Open::awaits_key) {
            if !matches!(value, Value::Array(_) | Value::Object(_)) {
                return self.key(value, false, loc);
            }
            return Err(error(
                "map keys must be plain values, not lists or maps",
                loc,
            ));
        }
        // Every value copied from the anchor is where the alias is.
        let pos = positions_at(&value, loc);
        self.place(value, pos, height, loc)
    }

    /// A map key: text, whatever scalar it was written as.
    fn key(&mut self, value: Value, merge: bool, loc: Loc) -> Result<(), SyntaxError> {
        let key = if merge {
            Key::Merge
        } else {
            let text = match value {
                Value::String(s) => s,
                Value::Null => "null".to_string(),
                other => other.to_string(),
            };
            Key::Text(text, loc)
        };
        if let Some(Open {
            body: Body::Map(m), ..
        }) = self.stack.last_mut()
        {
            m.key = Some(key);
        }
        Ok(())
    }

    /// Puts a finished value where it belongs: the root, the end of a list,
    /// or under the key just read.
    fn place(
        &mut self,
        value: Value,
        pos: PosNode,
        height: usize,
        loc: Loc,
    ) -> Result<(), SyntaxError> {
        let Some(parent) = self.stack.last_mut() else {
            self.root = Some((value, pos));
            return Ok(());
        };
        parent.height = parent.height.max(height);
        match &mut parent.body {
            Body::Seq(values, kids) => {
                values.push(value);
                kids.push(pos);
            }
            Body::Map(m) => match m.key.take() {
                Some(Key::Text(key, kloc)) => match m.map.entry(key.as_str()) {
                    Entry::Occupied(_) => {
                        let first = m
                            .kids
                            .iter()
                            .find(|(k, _, _)| **k == *key)
                            .map_or(kloc, |(_, l, _)| *l);
                        return Err(error(
                            format!(
                                "duplicate key `{key}` (first at line {}, column {})",
                                first.line, first.column
                            ),
                            kloc,
                        ));
                    }
                    Entry::Vacant(slot) => {
                        slot.insert(value);
                        m.kids.push((key.into_boxed_str(), kloc, pos));
                    }
                },
                Some(Key::Merge) => merge_into(&mut m.merged, value, pos, loc)?,
                None => {}
            },
        }
        Ok(())
    }
}

/// The entries a `<<` merge brings: a map's, or those of each map in a list.
fn merge_into(
    merged: &mut Vec<(String, Loc, Value, PosNode)>,
    value: Value,
    pos: PosNode,
    loc: Loc,
) -> Result<(), SyntaxError> {
    let refused = || {
        error(
            "a `<<` merge takes a map, or a list of maps, whose keys it adds",
            loc,
        )
    };
    match (value, pos.kids) {
        (Value::Object(map), Kids::Map(kids)) => {
            for ((key, value), (_, kloc, pos)) in map.into_iter().zip(kids) {
                merged.push((key, kloc, value, pos));
            }
            Ok(())
        }
        (Value::Array(items), Kids::Seq(kids)) => {
            if !items.iter().all(Value::is_object) {
                return Err(refused());
            }
            for (item, pos) in items.into_iter().zip(kids) {
                merge_into(merged, item, pos, loc)?;
            }
            Ok(())
        }
        _ => Err(refused()),
    }
}

/// Values in `v`, itself included.
fn size_of(v: &Value) -> usize {
    match v {
        Value::Array(items) => 1 + items.iter().map(size_of).sum::<usize>(),
        Value::Object(map) => 1 + map.values().map(size_of).sum::<usize>(),
        _ => 1,
    }
}

/// Positions for a value copied from an anchor: all at the alias.
fn positions_at(v: &Value, loc: Loc) -> PosNode {
    let kids = match v {
        Value::Array(items) => Kids::Seq(items.iter().map(|v| positions_at(v, loc)).collect()),
        Value::Object(map) => Kids::Map(
            map.iter()
                .map(|(k, v)| (Box::from(k.as_str()), loc, positions_at(v, loc)))
                .collect(),
        ),
        _ => Kids::Leaf,
    };
    PosNode { loc, kids }
}

// ---------------------------------------------------------------- scalars

/// A scalar's value: quoted and block scalars are text; a plain one is read
/// by the core schema; a core tag (`!!str`, `!!int`, …) says what it is.
/// Other tags are read past.
fn resolve(text: Cow<str>, style: ScalarStyle, tag: Option<&Tag>) -> Result<Value, String> {
    let tagged = |what: &str| format!("`{text}` is tagged `!!{what}` but is not {what}");
    match tag.and_then(Tag::core_suffix) {
        Some("str") => Ok(Value::String(text.into_owned())),
        Some("null") => match text.as_ref() {
            "" | "~" | "null" | "Null" | "NULL" => Ok(Value::Null),
            _ => Err(tagged("null")),
        },
        Some("bool") => boolean(&text)
            .map(Value::Bool)
            .ok_or_else(|| format!("`{text}` is tagged `!!bool` but is not `true` or `false`")),
        Some("int") => match number(&text) {
            Some(n @ Value::Number(_)) if !text.contains(['.', 'e', 'E']) || is_radix(&text) => {
                Ok(n)
            }
            _ => Err(format!(
                "`{text}` is tagged `!!int` but is not a whole number"
            )),
        },
        Some("float") => match number(&text) {
            Some(Value::Number(n)) => Ok(n
                .as_f64()
                .and_then(Number::from_f64)
                .map_or(Value::Number(n), Value::Number)),
            // `.inf`, `.nan` and numbers too large: no JSON number holds them.
            Some(text) => Ok(text),
            None if non_finite(&text) => Ok(Value::String(text.into_owned())),
            None => Err(format!("`{text}` is tagged `!!float` but is not a number")),
        },
        _ if style != ScalarStyle::Plain => Ok(Value::String(text.into_owned())),
        _ => Ok(plain(text)),
    }
}

/// A plain (unquoted) scalar by the core schema.
fn plain(text: Cow<str>) -> Value {
    match text.as_ref() {
        "" | "~" | "null" | "Null" | "NULL" => return Value::Null,
        _ => {}
    }
    if let Some(b) = boolean(&text) {
        return Value::Bool(b);
    }
    match number(&text) {
        Some(v) => v,
        None => Value::String(text.into_owned()),
    }
}

fn boolean(text: &str) -> Option<bool> {
    match text {
        "true" | "True" | "TRUE" => Some(true),
        "false" | "False" | "FALSE" => Some(false),
        _ => None,
    }
}

fn non_finite(text: &str) -> bool {
    let unsigned = text.strip_prefix(['-', '+']).unwrap_or(text);
    matches!(unsigned, ".inf" | ".Inf" | ".INF") || matches!(text, ".nan" | ".NaN" | ".NAN")
}

fn is_radix(text: &str) -> bool {
    text.starts_with("0o") || text.starts_with("0x")
}

/// The number a core-schema number is; the text it was written as when no
/// JSON number holds it (a whole number beyond 64 bits, `1e99999`, `007`);
/// `None` when the text is not a core-schema number.
fn number(text: &str) -> Option<Value> {
    let all = |s: &str, f: fn(&u8) -> bool| !s.is_empty() && s.as_bytes().iter().all(f);
    let as_text = || Some(Value::String(text.to_string()));
    if let Some(oct) = text.strip_prefix("0o") {
        if !all(oct, |b| (b'0'..=b'7').contains(b)) {
            return None;
        }
        return u64::from_str_radix(oct, 8).map_or_else(|_| as_text(), |n| Some(n.into()));
    }
    if let Some(hex) = text.strip_prefix("0x") {
        if !all(hex, u8::is_ascii_hexdigit) {
            return None;
        }
        return u64::from_str_radix(hex, 16).map_or_else(|_| as_text(), |n| Some(n.into()));
    }
    let (sign, unsigned) = match text.as_bytes().first() {
        Some(b'-') => (true, &text[1..]),
        Some(b'+') => (false, &text[1..]),
        _ => (false, text),
    };
    if all(unsigned, u8::is_ascii_digit) {
        // `007` is text, as it is in YAML 1.2's JSON schema and to people.
        if unsigned.len() > 1 && unsigned.starts_with('0') {
            return as_text();
        }
        let n: Option<Value> = if sign {
            text.parse::<i64>().ok().map(Value::from)
        } else {
            unsigned.parse::<u64>().ok().map(Value::from)
        };
        return n.or_else(as_text);
    }
    let (mantissa, exponent) = match unsigned.find(['e', 'E']) {
        Some(i) => (&unsigned[..i], Some(&unsigned[i + 1..])),
        None => (unsigned, None),
    };
    let mantissa_ok = match mantissa.split_once('.') {
        None => all(mantissa, u8::is_ascii_digit),
        Some((whole, frac)) => {
            (whole.is_empty() || all(whole, u8::is_ascii_digit))
                && (frac.is_empty() || all(frac, u8::is_ascii_digit))
                && !(whole.is_empty() && frac.is_empty())
        }
    };
    let exponent_ok = exponent.is_none_or(|e| {
        let e = e.strip_prefix(['-', '+']).unwrap_or(e);
        all(e, u8::is_ascii_digit)
    });
    if !(mantissa_ok && exponent_ok) {
        return None;
    }
    match text.parse::<f64>().ok().and_then(Number::from_f64) {
        Some(n) => Some(Value::Number(n)),
        None => as_text(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
                "m": null, "n": 12, "o": -3, "p": true, "q": ".NaN"
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
        assert!(crate::chain::spans::read_json("\u{feff}{\"a\": 1}").is_ok());
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

    #[test]
    fn aliases_copy_whole_values_and_point_at_the_alias() {
        let text = "a: &m {k: 1, l: [x]}\nb: *m\nc: &s [1, &n 2]\nd: *s\ne: *n\nf: &m 9\ng: *m\n";
        let (value, spans) = read_yaml(text).unwrap();
        assert_eq!(
            value,
            serde_json::json!({
                "a": {"k": 1, "l": ["x"]}, "b": {"k": 1, "l": ["x"]},
                "c": [1, 2], "d": [1, 2], "e": 2, "f": 9, "g": 9
            })
        );
        // What an alias copies is where the alias is, to the last value.
        assert_eq!(spans.value("b.l[0]"), Some(Loc::new(2, 4)));
        assert_eq!(spans.key("b.k"), Some(Loc::new(2, 4)));
        assert_eq!(spans.value("a.l[0]"), Some(Loc::new(1, 18)));
        let err = read_yaml("a: &x [1, *x]\n").unwrap_err();
        assert_eq!(
            err.message,
            "an alias (`*name`) refers to a value that contains it"
        );
        let err = read_yaml("a: *nowhere\n").unwrap_err();
        assert_eq!(err.message, "alias references unknown anchor");
        assert_eq!(err.loc, Some(Loc::new(1, 4)));
    }

    #[test]
    fn merges_add_the_keys_the_map_does_not_write() {
        let text = "base: &b {u: 1, v: 2}\nx:\n  <<: *b\n  u: 9\ny:\n  u: 8\n  <<: [{v: 3, w: 4}, *b]\nz:\n  \"<<\": 1\n";
        let (value, spans) = read_yaml(text).unwrap();
        assert_eq!(
            value,
            serde_json::json!({
                "base": {"u": 1, "v": 2},
                "x": {"u": 9, "v": 2},
                "y": {"u": 8, "v": 3, "w": 4},
                "z": {"<<": 1}
            })
        );
        assert_eq!(spans.key("x.u"), Some(Loc::new(4, 3)));
        assert_eq!(spans.value("x.v"), Some(Loc::new(3, 7)));
        for bad in ["a:\n  <<: 5\n", "a:\n  <<: [{b: 1}, 2]\n"] {
            let err = read_yaml(bad).unwrap_err();
            assert!(
                err.message.contains("`<<` merge takes a map"),
                "{bad}: {err:?}"
            );
            assert_eq!(err.loc, Some(Loc::new(2, 7)), "{bad}");
        }
        // A key written twice in the map itself is still an error.
        let err = read_yaml("b: &b {a: 1}\nx:\n  a: 2\n  <<: *b\n  a: 3\n").unwrap_err();
        assert_eq!(err.message, "duplicate key `a` (first at line 3, column 3)");
    }

    #[test]
    fn core_tags_say_what_a_scalar_is_and_others_are_read_past() {
        let (value, _) = read_yaml(
            "a: !!str 12\nb: !!int \"12\"\nc: !!float 5\nd: !!bool \"true\"\ne: !!null ''\nf: !custom 7\ng: !!str\nh: !<tag:yaml.org,2002:str> 5\ni: !!int 0x1F\n",
        )
        .unwrap();
        assert_eq!(
            value,
            serde_json::json!({
                "a": "12", "b": 12, "c": 5.0, "d": true, "e": null, "f": 7, "g": "",
                "h": "5", "i": 31
            })
        );
        for (doc, says) in [
            (
                "a: !!int abc\n",
                "`abc` is tagged `!!int` but is not a whole number",
            ),
            (
                "a: !!int 1.5\n",
                "`1.5` is tagged `!!int` but is not a whole number",
            ),
            (
                "a: !!float x\n",
                "`x` is tagged `!!float` but is not a number",
            ),
            (
                "a: !!bool yes\n",
                "`yes` is tagged `!!bool` but is not `true` or `false`",
            ),
            ("a: !!null x\n", "`x` is tagged `!!null` but is not null"),
        ] {
            let err = read_yaml(doc).unwrap_err();
            assert_eq!(err.message, says, "{doc}");
            // At the value, after its tag.
            let at = doc.trim_end().rfind(' ').unwrap() + 2;
            assert_eq!(err.loc, Some(Loc::new(1, at)), "{doc}");
        }
    }

    #[test]
    fn aliases_cannot_nest_a_document_past_the_limits() {
        // Each line nests the one before a little deeper: written, no line
        // passes 64 levels; expanded, the last would.
        let mut text = String::from("a0: &a0 [x]\n");
        for i in 1..40 {
            text.push_str(&format!("a{i}: &a{i} [[[*a{}]]]\n", i - 1));
        }
        let err = read_yaml(&text).unwrap_err();
        assert_eq!(err.message, "values are nested deeper than 64 levels");
        // Within the limits the same shape reads.
        let (value, _) = read_yaml("a: &a [x]\nb: &b [[*a]]\nc: [*b, *b]\n").unwrap();
        assert_eq!(value["c"], serde_json::json!([[[["x"]]], [[["x"]]]]));
        // A map key may be an alias of text, not of a list.
        let (value, _) = read_yaml("k: &k name\n*k : 1\n").unwrap();
        assert_eq!(value["name"], 1);
        let err = read_yaml("l: &l [1]\n? *l\n: 2\n").unwrap_err();
        assert_eq!(
            err.message,
            "map keys must be plain values, not lists or maps"
        );
    }
}
